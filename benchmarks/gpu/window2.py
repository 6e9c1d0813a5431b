"""GPU window 2: the object-centric shaping ablation at scale.

The shaping ablation's Skiing arms (``agents/sweeps/shaping_ablation.yml``: PPO on
object slots, rewards clipped to their sign; no shaping, and the manual's table
paid as ``bonus``, ``positive``, ``positive_first``, ``proximity`` and the gate at 4x),
5 seeds each, 30 runs side by side on 16 cores, every run the same number of steps (as many as a
calibration says fit in the window, evaluation included).

Usage (on the GPU machine, see benchmarks/gpu/README.md; here for a dry run)::

    python benchmarks/gpu/window2.py --out $OUT
    python benchmarks/gpu/window2.py --dry-run --out /tmp/w2
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from windowkit import ROOT, Stage, Sweep, Window, main

SEEDS = 5
#: The ablation's arms this window trains: the five ways of paying the table and the 4x
#: gate.  The CPU screening arms (the gate at 15x, a constant learning rate) stay on CPU:
#: every arm more divides the window's steps among more runs.
ARMS = ("ppo_positive", "ppo", "ppo_bonus", "ppo_positive_first", "ppo_proximity", "ppo_gate4")


def ablation_config(path: Path = ROOT / "agents" / "sweeps" / "shaping_ablation.yml") -> dict:
    """The shipped ablation's :data:`ARMS` and settings, at ``SEEDS`` seeds, on the GPU."""
    cfg = yaml.safe_load(path.read_text())
    cfg.pop("steps")  # set by the window's calibration
    names = [a["name"] if isinstance(a, dict) else a for a in cfg["algos"]]
    missing = sorted(set(ARMS) - set(names))
    if missing:  # a renamed arm must not drop out of the window unnoticed
        raise ValueError(f"{path} has no arm {', '.join(missing)}")
    cfg["algos"] = [a for a, n in zip(cfg["algos"], names, strict=True) if n in ARMS]
    cfg["name"] = "shaping_ablation_gpu"
    cfg["seeds"] = list(range(SEEDS))
    cfg["train"] = dict(cfg["train"], device="cuda", eval_episodes=8, save_every=10**9)
    cfg["resources"] = {"cpus": 1, "gpus": 0}
    return cfg


CONFIG = ablation_config()
N_RUNS = SEEDS * len(CONFIG["algos"])

WINDOW = Window(
    number=2,
    title=f"shaping ablation on Skiing's object slots, {len(CONFIG['algos'])} arms x {SEEDS} "
          "seeds",
    stages=[Stage("shaping_ablation", [Sweep(CONFIG, workers=N_RUNS, group=())])],
)

if __name__ == "__main__":
    sys.exit(main(WINDOW))
