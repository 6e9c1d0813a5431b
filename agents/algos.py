"""Algorithm registry: ``--algo`` name -> Stable-Baselines3 algorithm class.

Each name has a config dataclass in :mod:`agents.config` and presets in
``agents/configs/<name>.yml``.
"""

from __future__ import annotations

from stable_baselines3 import A2C

ALGOS: dict[str, type] = {"a2c": A2C}
