"""Shaped arm against unshaped arm, by the rule the sweeps write down before they run.

The replication sweeps (``agents/sweeps/shaping_replication.yml``,
``agents/sweeps/penalty_veto.yml``) fix what counts before any run starts:

* **better**: the arm's mean evaluation is above the baseline's mean, and at least
  two thirds of the arm's seeds are above the baseline's mean (2 of 3, 4 of 6);
* **at least as good**: the arm's mean is not below the baseline's mean by more
  than the baseline seeds' standard deviation (sample std, n - 1);
* otherwise **worse**.

Arm runs flagged ``inert`` (``agents/health.py``: their shaping never paid) are named in a
warning: they were unshaped in effect, whatever the verdict says.

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


def runs(spec: str) -> dict[int, dict[str, str]]:
    """``{seed: results row}`` of the evaluated runs ``CSV:GAME:ALGO`` names."""
    try:
        path, game, algo = spec.rsplit(":", 2)
    except ValueError:
        raise SystemExit(f"error: {spec!r} is not CSV:GAME:ALGO") from None
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise SystemExit(f"error: cannot read {path}: {err}") from None
    out = {int(r["seed"]): r for r in rows
           if r.get("game") == game and r.get("algo") == algo
           and r.get("final_score") not in ("", None)}
    if not out:
        raise SystemExit(f"error: {path} has no evaluated {game} runs of {algo}")
    return out


def scores(rows: dict[int, dict[str, str]]) -> dict[int, float]:
    """``{seed: final_score}`` of ``{seed: results row}``."""
    return {seed: float(r["final_score"]) for seed, r in rows.items()}


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


def _pool(specs: list[str]) -> dict[int, dict[str, str]]:
    pooled: dict[int, dict[str, str]] = {}
    for spec in specs:
        for seed, row in runs(spec).items():
            if seed in pooled:  # one seed run twice would count twice
                raise SystemExit(f"error: seed {seed} appears twice ({spec})")
            pooled[seed] = row
    return pooled


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/verdict.py",
                                description=__doc__.split("\n")[0])
    p.add_argument("--base", action="append", required=True, metavar="CSV:GAME:ALGO",
                   help="the baseline's runs (repeat to pool sweeps)")
    p.add_argument("--arm", action="append", required=True, metavar="CSV:GAME:ALGO",
                   help="the compared arm's runs (repeat to pool sweeps)")
    args = p.parse_args(argv)
    base_rows, arm_rows = _pool(args.base), _pool(args.arm)
    base, arm = scores(base_rows), scores(arm_rows)
    if len(base) < 2:
        p.error("the baseline needs at least 2 seeds (its standard deviation is the margin)")
    v = verdict(list(base.values()), list(arm.values()))
    fmt = lambda d: ", ".join(f"s{k} {v:g}" for k, v in sorted(d.items()))  # noqa: E731
    print(f"baseline: {fmt(base)}; mean {v['base_mean']:.1f} +- {v['base_std']:.1f}")
    print(f"arm:      {fmt(arm)}; mean {v['arm_mean']:.1f} +- {v['arm_std']:.1f}; "
          f"{v['arm_above']} of {v['arm_n']} seeds above the baseline mean")
    print(f"verdict: {v['verdict']}")
    # A shaped run whose shaping never paid (agents.health's ``inert``) is unshaped in
    # effect: its score says nothing about shaping (Kangaroo's positive arm).
    inert = sorted(seed for seed, r in arm_rows.items()
                   if "inert" in (r.get("flags") or "").split(";"))
    if inert:
        print(f"warning: arm seed(s) {', '.join(map(str, inert))} of {len(arm)} paid no shaping "
              "at all (flagged inert): those runs were unshaped in effect")
    return 0


if __name__ == "__main__":
    sys.exit(main())
