"""Algorithm registry: ``--algo`` name -> Stable-Baselines3 algorithm class.

Each name has a config dataclass in :mod:`agents.algorithms.config` and presets in
``agents/algorithms/configs/<name>.yml``.  A config with ``value_head: hl_gauss`` selects
the HL-Gauss variant of the algorithm (:mod:`agents.algorithms.hlgauss`).
"""

from __future__ import annotations

from typing import Any

from sb3_contrib import QRDQN
from stable_baselines3 import A2C, PPO

from agents.algorithms.dlac import DLAC
from agents.algorithms.dsac import DSAC
from agents.algorithms.hlgauss import HLGaussA2C, HLGaussPPO
from agents.algorithms.pg import PG

ALGOS: dict[str, type] = {"a2c": A2C, "ppo": PPO, "pg": PG, "dlac": DLAC, "qrdqn": QRDQN,
                          "dsac": DSAC}
HL_GAUSS: dict[str, type] = {"a2c": HLGaussA2C, "ppo": HLGaussPPO}


def algorithm_class(name: str, hparams: Any) -> type:
    """The class that trains ``name`` with these hyperparameters."""
    if getattr(hparams, "value_head", "scalar") == "hl_gauss":
        return HL_GAUSS[name]
    return ALGOS[name]
