"""Shaped arm against unshaped arm, by the rule the sweeps write down before they run.

The replication sweeps (``agents/sweeps/shaping_replication.yml``,
``agents/sweeps/penalty_veto.yml``) fix what counts before any run starts:

* **better**: the arm's mean evaluation is above the baseline's mean, and at least
  two thirds of the arm's seeds are above the baseline's mean (2 of 3, 4 of 6);
* **at least as good**: the arm's mean is not below the baseline's mean by more
  than the baseline seeds' standard deviation (sample std, n - 1);
* otherwise **worse**.

Each side is read from exported sweep results (``results.csv`` of
``benchmarks/export_sweep.py``, its ``final_score`` column), as ``CSV:GAME:ALGO``;
give a side several times to pool seeds from several sweeps.

Usage::

    python benchmarks/verdict.py \\
        --base benchmarks/shaping_games/results.csv:Kangaroo:ppo \\
        --base benchmarks/shaping_replication/results.csv:Kangaroo:ppo \\
        --arm benchmarks/penalty_veto/results.csv:Kangaroo:ppo_bonus_once_veto
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys


def scores(spec: str) -> dict[int, float]:
    """``{seed: final_score}`` of the runs ``CSV:GAME:ALGO`` names."""
    try:
        path, game, algo = spec.rsplit(":", 2)
    except ValueError:
        raise SystemExit(f"error: {spec!r} is not CSV:GAME:ALGO") from None
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise SystemExit(f"error: cannot read {path}: {err}") from None
    out = {}
    for r in rows:
        if r.get("game") == game and r.get("algo") == algo and r.get("final_score") not in ("", None):
            out[int(r["seed"])] = float(r["final_score"])
    if not out:
        raise SystemExit(f"error: {path} has no evaluated {game} runs of {algo}")
    return out


def verdict(base: list[float], arm: list[float]) -> dict:
    """The rule above; needs at least 2 baseline seeds (a standard deviation)."""
    if len(base) < 2 or not arm:
        raise ValueError("verdict needs >= 2 baseline seeds and >= 1 arm seed")
    b_mean, b_std = statistics.mean(base), statistics.stdev(base)
    a_mean = statistics.mean(arm)
    above = sum(s > b_mean for s in arm)
    if a_mean > b_mean and above >= math.ceil(2 * len(arm) / 3):
        word = "better"
    elif a_mean >= b_mean - b_std:
        word = "at least as good"
    else:
        word = "worse"
    return {"base_mean": b_mean, "base_std": b_std, "arm_mean": a_mean,
            "arm_std": statistics.stdev(arm) if len(arm) > 1 else 0.0,
            "arm_above": above, "arm_n": len(arm), "verdict": word}


def _pool(specs: list[str]) -> dict[int, float]:
    pooled: dict[int, float] = {}
    for spec in specs:
        for seed, s in scores(spec).items():
            if seed in pooled:  # one seed run twice would count twice
                raise SystemExit(f"error: seed {seed} appears twice ({spec})")
            pooled[seed] = s
    return pooled


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/verdict.py",
                                description=__doc__.split("\n")[0])
    p.add_argument("--base", action="append", required=True, metavar="CSV:GAME:ALGO",
                   help="the baseline's runs (repeat to pool sweeps)")
    p.add_argument("--arm", action="append", required=True, metavar="CSV:GAME:ALGO",
                   help="the compared arm's runs (repeat to pool sweeps)")
    args = p.parse_args(argv)
    base, arm = _pool(args.base), _pool(args.arm)
    if len(base) < 2:
        p.error("the baseline needs at least 2 seeds (its standard deviation is the margin)")
    v = verdict(list(base.values()), list(arm.values()))
    fmt = lambda d: ", ".join(f"s{k} {v:g}" for k, v in sorted(d.items()))  # noqa: E731
    print(f"baseline: {fmt(base)}; mean {v['base_mean']:.1f} +- {v['base_std']:.1f}")
    print(f"arm:      {fmt(arm)}; mean {v['arm_mean']:.1f} +- {v['arm_std']:.1f}; "
          f"{v['arm_above']} of {v['arm_n']} seeds above the baseline mean")
    print(f"verdict: {v['verdict']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
