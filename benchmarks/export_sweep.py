"""Copy what a sweep's results rest on, and nothing heavier, into a folder to commit.

For every finished run in ``SWEEP_DIR/results.csv``: ``config.yaml``, ``summary.json``,
``episodes.csv``, ``progress.csv`` and ``reward_table.json`` (no checkpoints, no
TensorBoard files), plus ``results.csv``, ``sweep.yaml`` and the report folder.
``python -m agents.report DEST`` then redraws the curves and tables from the copy.
Runs still training are left out (they are not in ``results.csv``).

Usage::

    python benchmarks/export_sweep.py sweeps/shaping_ablation benchmarks/shaping_ablation
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

RUN_FILES = ("config.yaml", "summary.json", "episodes.csv", "progress.csv", "reward_table.json")
SWEEP_FILES = ("results.csv", "sweep.yaml")


def export(sweep_dir: Path, dest: Path) -> list[str]:
    """Copy the shareable files of ``sweep_dir``'s finished runs to ``dest``; returns the runs."""
    results = sweep_dir / "results.csv"
    if not results.exists():
        raise SystemExit(f"error: {results} not found (run the sweep first)")
    with open(results, newline="") as f:
        runs = [r["run_dir"] for r in csv.DictReader(f)]
    for run in runs:
        (dest / run).mkdir(parents=True, exist_ok=True)
        for name in RUN_FILES:
            if (sweep_dir / run / name).exists():
                shutil.copy2(sweep_dir / run / name, dest / run / name)
    for name in SWEEP_FILES:
        if (sweep_dir / name).exists():
            shutil.copy2(sweep_dir / name, dest / name)
    if (sweep_dir / "report").is_dir():
        shutil.copytree(sweep_dir / "report", dest / "report", dirs_exist_ok=True)
    return runs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweep_dir", type=Path)
    p.add_argument("dest", type=Path)
    args = p.parse_args(argv)
    if args.dest.resolve() == args.sweep_dir.resolve():
        p.error("dest must differ from sweep_dir")
    runs = export(args.sweep_dir, args.dest)
    print(f"copied {len(runs)} runs to {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
