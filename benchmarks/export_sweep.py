"""Copy what a sweep's results rest on, and nothing heavier, into a folder to commit.

For every finished run in ``SWEEP_DIR/results.csv``: ``config.yaml``, ``summary.json``,
``reward_table.json``, and the logs ``episodes.csv`` and ``progress.csv`` gzip-compressed
(``episodes.csv.gz``, ``progress.csv.gz``: a tenth of their size; every reader in the
project opens either form, :mod:`agents.runlogs`), but no checkpoints and no TensorBoard
files; plus ``results.csv``, ``sweep.yaml`` and the report folder.
``python -m agents.report DEST`` then redraws the curves and tables from the copy.
Runs still training are left out (they are not in ``results.csv``).

Why compressed: what the repo tracks travels to a GPU machine with every device call,
64 MiB at most with the bundle (``benchmarks/gpu/README.md``); plain logs had grown to
39.5 MB of it.  The compression is reproducible (no time stamp in the header), so exporting
the same sweep twice changes no file.

Usage::

    python benchmarks/export_sweep.py sweeps/shaping_ablation benchmarks/shaping_ablation
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.runlogs import EPISODES, GZ, PROGRESS, compress_log, log_path  # noqa: E402

#: Copied as they are.
RUN_FILES = ("config.yaml", "summary.json", "reward_table.json")
#: Copied gzip-compressed (``NAME.gz``); an exported run's compressed copy is copied as is.
RUN_LOGS = (EPISODES, PROGRESS)
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
        for name in RUN_LOGS:
            src = log_path(sweep_dir / run, name)
            if src is None:
                continue
            packed = dest / run / (name + GZ)
            if src.name.endswith(GZ):
                shutil.copy2(src, packed)
            else:
                compress_log(src, packed)
            # A plain copy left by an earlier export would shadow the new one.
            (dest / run / name).unlink(missing_ok=True)
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
