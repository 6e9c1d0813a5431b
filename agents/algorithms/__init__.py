"""The learning algorithms: their classes, typed configs and presets.

* :mod:`agents.algorithms.registry`: ``--algo`` name -> algorithm class;
* :mod:`agents.algorithms.config`: one config dataclass per algorithm, presets in
  ``agents/algorithms/configs/<algo>.yml``;
* :mod:`agents.algorithms.pg`, :mod:`~agents.algorithms.dlac`,
  :mod:`~agents.algorithms.dsac`, :mod:`~agents.algorithms.hlgauss`: the
  algorithms the suite adds to SB3's A2C and PPO and sb3-contrib's QR-DQN.

Nothing here knows about run directories, checkpoints or command lines; the
CLIs in :mod:`agents` sit on top of it.
"""
