"""Does every agent learn on object observations?  Each run of a sweep against random play.

Reads a finished sweep's ``results.csv`` (e.g. ``agents/sweeps/object_agents.yml``:
every agent's ``objects`` preset on Skiing, a short CPU run each) and plays a
uniformly random policy on the same environment (the fast path, the game's ALE v5
settings, its full episode length) for ``--random-episodes`` episodes.  Prints one
row per run: its evaluation score, the mean of its last 100 training episodes, and
whether the evaluation beats random play by more than two standard errors of both
means.

Usage::

    python -m agents.sweep agents/sweeps/object_agents.yml --workers 2
    python benchmarks/object_agents.py sweeps/object_agents
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def random_play(game: str, episodes: int, seed: int) -> list[float]:
    """Game scores of a uniformly random policy, ``episodes`` full episodes."""
    from agents.environments import EnvSettings, make_vec, resolve_target

    target = resolve_target(game)
    n = min(8, episodes)
    venv = make_vec(target, EnvSettings(backend="envpool"), n, seed, track_objects=False)
    rng = np.random.default_rng(seed)
    scores: list[float] = []
    venv.reset()
    try:
        while len(scores) < episodes:
            _, _, dones, infos = venv.step(rng.integers(venv.action_space.n, size=n))
            scores += [float(infos[i]["episode"]["r"]) for i in np.flatnonzero(dones)]
    finally:
        venv.close()
    return scores[:episodes]


def _sem(values: list[float]) -> float:
    return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.inf


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweep_dir", type=Path, help="a finished sweep (its results.csv)")
    p.add_argument("--random-episodes", type=int, default=40)
    p.add_argument("--seed", type=int, default=4242)
    p.add_argument("--json", type=Path, help="also write the table here")
    args = p.parse_args()
    path = args.sweep_dir / "results.csv"
    # Nothing to compare without finished runs.
    if not path.is_file():
        p.error(f"{path} not found: run the sweep first")
    with open(path, newline="") as f:
        runs = list(csv.DictReader(f))
    if not runs:
        p.error(f"{path} has no finished runs")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    games = sorted({r["game"] for r in runs})
    rand = {g: random_play(g, args.random_episodes, args.seed) for g in games}
    print(f"{args.sweep_dir}, {platform.node()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d')}")
    for g, s in rand.items():
        print(f"random play on {g}: {np.mean(s):.0f} +- {np.std(s):.0f} ({len(s)} episodes)")
    print("| game | agent | steps | eval (mode) | train, last 100 episodes | steps/s | beats random |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for r in runs:
        summary = json.loads((args.sweep_dir / r["run_dir"] / "summary.json").read_text())
        ev = summary["eval"] or {}
        scores = ev.get("scores", [])
        base = rand[r["game"]]
        margin = 2 * math.hypot(_sem(scores), _sem(base)) if scores else math.inf
        beats = bool(scores) and bool(np.mean(scores) - np.mean(base) > margin)
        mode = "greedy" if ev.get("deterministic") else "sampled"
        rows.append({"game": r["game"], "agent": r["algo"], "steps": summary["steps"],
                     "eval_mean": ev.get("mean"), "eval_std": ev.get("std"), "eval_mode": mode,
                     "train_last100": summary["train_score_last100"],
                     "steps_per_s": summary["steps_per_s"], "beats_random": beats,
                     "random_mean": float(np.mean(base))})
        print(f"| {r['game']} | {r['algo']} | {summary['steps']:,} | {ev.get('mean', math.nan):.0f} "
              f"+- {ev.get('std', math.nan):.0f} ({mode}) | {summary['train_score_last100']:.0f} | "
              f"{summary['steps_per_s']:.0f} | {'yes' if beats else 'NO'} |")
    if args.json:
        args.json.write_text(json.dumps({"random": rand, "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
