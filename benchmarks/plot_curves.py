"""Game score vs frames from run directories' ``episodes.csv`` (one line per run).

An exported run's ``episodes.csv.gz`` is read the same way.

Usage::

    python benchmarks/plot_curves.py runs/Skiing-a2c-manual runs/Skiing-a2c-none \
        --out skiing.png --bin 100000 --frame-skip 4

Also prints the binned means as a Markdown table (frames, mean game score and
auxiliary return per run), so the numbers behind the picture are on record.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.runlogs import EPISODES, open_log  # noqa: E402


def binned(run: Path, bin_steps: int) -> dict[int, tuple[float, float, int]]:
    """End step of bin -> (mean score, mean aux return, episodes) of episodes ending in it."""
    with open_log(run, EPISODES) as f:
        eps = list(csv.DictReader(f))
    out: dict[int, list] = {}
    for e in eps:
        b = (int(e["step"]) - 1) // bin_steps + 1
        out.setdefault(b * bin_steps, []).append((float(e["score"]), float(e["aux_return"])))
    return {k: (float(np.mean([s for s, _ in v])), float(np.mean([a for _, a in v])), len(v))
            for k, v in sorted(out.items())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--bin", type=int, default=100_000, help="bin width in agent steps")
    p.add_argument("--frame-skip", type=int, default=4)
    p.add_argument("--title", default="")
    args = p.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    tables = {}
    for run in args.runs:
        data = binned(run, args.bin)
        tables[run.name] = data
        frames = [k * args.frame_skip / 1e6 for k in data]
        ax.plot(frames, [v[0] for v in data.values()], marker="o", label=run.name)
    ax.set_xlabel("emulator frames (millions)")
    ax.set_ylabel(f"game score (mean of episodes per {args.bin:,} steps)")
    ax.set_title(args.title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    names = list(tables)
    print("| frames (M) | " + " | ".join(f"{n} score | {n} aux | n" for n in names) + " |")
    print("|---" * (1 + 3 * len(names)) + "|")
    keys = sorted({k for t in tables.values() for k in t})
    for k in keys:
        cells = []
        for n in names:
            v = tables[n].get(k)
            cells += [f"{v[0]:.0f}", f"{v[1]:.1f}", str(v[2])] if v else ["", "", ""]
        print(f"| {k * args.frame_skip / 1e6:.1f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
