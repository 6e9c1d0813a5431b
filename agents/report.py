"""Plots and a Markdown report of a sweep: ``python -m agents.report SWEEP_DIR``.

Writes into ``SWEEP_DIR/report/`` (or ``--out``):

* ``curves.png``: game score vs emulator frames, one panel per game, one line
  per (algorithm, shaping) with the mean over seeds and a 95% confidence band
  (t-interval of the seed means; seeds are the independent samples);
* ``curves_<game>.png``: the same panel alone, per game;
* ``report.md``: the aggregated table (final score mean +- std over seeds,
  human-normalised score, frames, steps/s), every run, and the published
  reference scores for context (random, human and agents, with frames).

Training curves come from each run's ``episodes.csv`` (the game score of every
finished training episode, never the shaped return), binned on a common frame
grid.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

# Two-sided 95% Student t quantiles by degrees of freedom (1..30); normal beyond.
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t95(n: int) -> float:
    """Half-width multiplier of a 95% t-interval for ``n`` samples (``inf`` below 2)."""
    if n < 2:
        return math.inf
    return _T95[n - 2] if n - 1 <= len(_T95) else 1.96


def read_results(sweep_dir: Path) -> list[dict[str, Any]]:
    path = sweep_dir / "results.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `python -m agents.sweep` on this sweep first")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise FileNotFoundError(f"{path} has no finished runs yet")
    return rows


def curve(run_dir: Path, edges: np.ndarray, frame_skip: int) -> np.ndarray:
    """Mean training game score per frame bin (NaN where no episode ended)."""
    out = np.full(len(edges) - 1, np.nan)
    path = run_dir / "episodes.csv"
    if not path.exists():
        return out
    with open(path, newline="") as f:
        eps = [(int(r["step"]) * frame_skip, float(r["score"])) for r in csv.DictReader(f)]
    if not eps:
        return out
    frames, scores = np.array(eps, dtype=float).T
    idx = np.clip(np.searchsorted(edges, frames, side="left") - 1, 0, len(edges) - 2)
    for b in range(len(edges) - 1):
        sel = scores[idx == b]
        if len(sel):
            out[b] = sel.mean()
    return out


def _frame_skip(run_dir: Path) -> int:
    from agents.environments import resolve_target
    from agents.runs import TrainError, read_run_config

    try:
        cfg = read_run_config(run_dir)
    except TrainError:
        return 4  # the Atari default; summaries of such runs still plot
    return cfg.env.frame_skip if resolve_target(cfg.game).atari else 1


def plot(rows: list[dict[str, Any]], sweep_dir: Path, out: Path, bins: int) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    games = list(dict.fromkeys(r["game"] for r in rows))
    groups = list(dict.fromkeys((r["algo"], r["shaping"]) for r in rows))
    written = []
    fig, axes = plt.subplots(1, len(games), figsize=(5.5 * len(games), 4), squeeze=False)
    panels = {}
    for game, ax in zip(games, axes[0]):
        runs = [r for r in rows if r["game"] == game]
        max_frames = max(int(r["frames"]) for r in runs)
        edges = np.linspace(0, max_frames, bins + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        series = {}
        for algo, shaping in groups:
            mine = [r for r in runs if (r["algo"], r["shaping"]) == (algo, shaping)]
            if not mine:
                continue
            curves = np.array([curve(sweep_dir / r["run_dir"], edges,
                                     _frame_skip(sweep_dir / r["run_dir"])) for r in mine])
            n = np.sum(~np.isnan(curves), axis=0)
            with np.errstate(invalid="ignore"), _quiet():
                mean = np.nanmean(curves, axis=0)
                std = np.nanstd(curves, axis=0, ddof=1) if len(mine) > 1 else np.zeros_like(mean)
            half = np.array([t95(k) for k in n]) * std / np.sqrt(np.maximum(n, 1))
            half[~np.isfinite(half)] = np.nan
            series[(algo, shaping)] = (mean, half, len(mine))
        panels[game] = (centres, series)
        _draw(ax, game, centres, series)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)
    plt.close(fig)
    written.append(out / "curves.png")
    for game, (centres, series) in panels.items():
        fig, ax = plt.subplots(figsize=(6, 4))
        _draw(ax, game, centres, series)
        fig.tight_layout()
        path = out / f"curves_{game.replace('/', '_')}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


class _quiet:
    """Silence NumPy's all-NaN-slice warnings (empty bins are expected)."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)


def _draw(ax, game: str, centres: np.ndarray, series: dict) -> None:
    for (algo, shaping), (mean, half, n) in series.items():
        ok = ~np.isnan(mean)
        style = "-" if shaping == "manual" else "--"
        line, = ax.plot(centres[ok], mean[ok], style, marker=".",
                        label=f"{algo} {shaping} ({n} seed{'s' if n > 1 else ''})")
        band = ok & ~np.isnan(half)
        if band.any():
            ax.fill_between(centres[band], (mean - half)[band], (mean + half)[band],
                            color=line.get_color(), alpha=0.2)
    from matplotlib.ticker import EngFormatter

    ax.xaxis.set_major_formatter(EngFormatter())
    ax.set_title(game)
    ax.set_xlabel("emulator frames")
    ax.set_ylabel("training game score")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _fmt(value: Any, digits: int = 1) -> str:
    if value in (None, "", "None"):
        return "–"
    return f"{float(value):.{digits}f}"


def markdown(rows: list[dict[str, Any]], images: list[Path], out: Path, name: str) -> str:
    from agents.scores import published, reference_scores

    lines = [f"# Sweep report: {name}", "",
             f"{len(rows)} finished runs. Scores are game scores (never the shaped return): "
             "*final* is the run's evaluation mean (or, without evaluation, its last 100 "
             "training episodes), *best* the best binned training mean.", ""]
    lines += [f"![learning curves]({images[0].name})", ""]
    lines += ["## Summary (mean ± std over seeds)", "",
              "| game | algo | shaping | seeds | frames | final score | best score | HNS | steps/s |",
              "|---|---|---|---|---|---|---|---|---|"]
    keys = list(dict.fromkeys((r["game"], r["algo"], r["shaping"]) for r in rows))
    for game, algo, shaping in keys:
        g = [r for r in rows if (r["game"], r["algo"], r["shaping"]) == (game, algo, shaping)]
        final = np.array([float(r["final_score"]) for r in g])
        best = [float(r["best_score"]) for r in g if r["best_score"] not in ("", None)]
        hns = [float(r["human_normalized"]) for r in g if r["human_normalized"] not in ("", None)]
        sps = np.mean([float(r["steps_per_s"]) for r in g])
        std = final.std(ddof=1) if len(final) > 1 else 0.0
        lines.append(
            f"| {game} | {algo} | {shaping} | {len(g)} | {int(np.mean([int(r['frames']) for r in g])):,} "
            f"| {final.mean():.1f} ± {std:.1f} | {_fmt(np.mean(best) if best else None)} "
            f"| {_fmt(np.mean(hns) if hns else None, 3)} | {sps:.0f} |")
    lines += ["", "HNS: human-normalised score (score − random) / (human − random), only for "
              "full-length evaluation episodes of games with reference scores.", ""]
    lines += ["## Every run", "", "| run | seed | steps | final | ± | best | wall s |",
              "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['game']} {r['algo']} {r['shaping']} | {r['seed']} | "
                     f"{int(r['steps']):,} | {_fmt(r['final_score'])} | "
                     f"{_fmt(r['final_score_std'])} | {_fmt(r['best_score'])} | "
                     f"{_fmt(r['wall_time_s'], 0)} |")
    ref = reference_scores()
    lines += ["", "## Published reference scores", "",
              "| game | agent | score | frames |", "|---|---|---|---|"]
    for game in dict.fromkeys(r["game"] for r in rows):
        if game in ref["random"]:
            lines.append(f"| {game} | random | {ref['random'][game]} | – |")
            lines.append(f"| {game} | human | {ref['human'][game]} | – |")
        for p in published(game):
            frames = f"{p['frames']:,}" if p.get("frames") else "–"
            lines.append(f"| {game} | {p['agent']} | {p['score']} | {frames} |")
    lines += ["", f"Sources: {ref['_about']}", ""]
    text = "\n".join(lines)
    from reward_shaping.table import atomic_write_text

    atomic_write_text(out / "report.md", text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    p = argparse.ArgumentParser(prog="python -m agents.report",
                                description="Learning-curve plots and a Markdown report of a sweep.")
    p.add_argument("sweep_dir", type=Path)
    p.add_argument("--out", type=Path, help="output folder (default SWEEP_DIR/report)")
    p.add_argument("--bins", type=int, default=20, help="frame bins of the curves")
    args = p.parse_args(argv)
    if args.bins < 2:
        p.error("--bins must be >= 2")
    try:
        rows = read_results(args.sweep_dir)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = args.out or args.sweep_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    images = plot(rows, args.sweep_dir, out, args.bins)
    markdown(rows, images, out, args.sweep_dir.name)
    print(f"wrote {out / 'report.md'} and {len(images)} plot(s): "
          + ", ".join(i.name for i in images))
    return 0


if __name__ == "__main__":
    sys.exit(main())
