"""Does every algorithm learn CartPole?  One ``agents.train`` run per arm, classic presets.

The budgets are the learning tests' (``tests/test_*.py``): a working agent
clearly beats random play (about 22) within them.  Prints the evaluation mean
(10 episodes; ``--eval-mode``: sampled actions by default, as the run trains, whatever
the algorithm's default; the learning tests play their algorithm's default, ``auto``)
and the wall time of each run.

Usage::

    python benchmarks/cartpole_learning.py                    # every arm, seed 0
    python benchmarks/cartpole_learning.py --arms dsac pg_mean --seeds 0 1 2
    python benchmarks/cartpole_learning.py --arms dsac --seeds 0 1 2 --eval-mode auto \\
        --eval-episodes 5                                     # as tests/test_dsac.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

#: arm -> (algo, extra agents.train flags, hyperparameter fields (via --config), steps)
ARMS: dict[str, tuple[str, list[str], dict[str, object], int]] = {
    "a2c": ("a2c", [], {}, 40_000),
    "ppo": ("ppo", [], {}, 40_000),
    "a2c_hl_gauss": ("a2c", ["--value-head", "hl_gauss"], {}, 40_000),
    "ppo_hl_gauss": ("ppo", ["--value-head", "hl_gauss"], {}, 40_000),
    "pg": ("pg", [], {}, 40_000),
    "pg_mean": ("pg", [], {"baseline": "mean"}, 40_000),
    "pg_none": ("pg", [], {"baseline": "none"}, 40_000),
    "dlac": ("dlac", [], {}, 40_000),
    "dsac": ("dsac", [], {}, 4_000),
    "qrdqn": ("qrdqn", [], {}, 20_000),
}


def run(arm: str, seed: int, episodes: int, mode: str, tmp: Path, threads: int) -> dict:
    algo, flags, fields, steps = ARMS[arm]
    args = list(flags)
    if fields:  # hyperparameter fields go through a --config file
        cfg = tmp / f"{arm}.yml"
        cfg.write_text(yaml.safe_dump(fields))
        args += ["--config", str(cfg)]
    out = tmp / f"{arm}-{seed}"
    cmd = [sys.executable, "-m", "agents.train", "CartPole-v1", "--algo", algo, "--shaping", "none",
           "--steps", str(steps), "--seed", str(seed), "--vec-env", "dummy", "--device", "cpu",
           "--no-progress", "--eval-episodes", str(episodes), "--eval-mode", mode,
           "--out", str(out), *args]
    # Tiny MLPs gain nothing from intra-op threads; on a shared machine two OpenMP
    # threads per run can make PPO several times slower (28 steps/s measured here).
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    s = json.loads((out / "summary.json").read_text())
    return {"arm": arm, "seed": seed, "steps": s["steps"], "eval_mode": s["eval_mode"],
            "eval_mean": s["eval"]["mean"], "eval_std": s["eval"]["std"],
            "wall_s": s["wall_time_s"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--eval-mode", default="sampled", choices=["sampled", "greedy", "auto"],
                   help="evaluation actions (auto: each algorithm's default, as in the tests)")
    p.add_argument("--threads", type=int, default=1, help="torch/OpenMP threads per run")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arm in args.arms:
            for seed in args.seeds:
                row = run(arm, seed, args.eval_episodes, args.eval_mode, Path(tmp), args.threads)
                rows.append(row)
                print(f"{arm:<13} seed {seed}: {row['steps']:>6} steps, {row['eval_mode']} eval "
                      f"{row['eval_mean']:6.1f} +- {row['eval_std']:5.1f}, {row['wall_s']:.0f} s",
                      flush=True)
                if args.json:  # after every run: a cut-short session keeps what it measured
                    args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
