"""Plots and a Markdown report of a sweep: ``python -m agents.report SWEEP_DIR``.

Writes into ``SWEEP_DIR/report/`` (or ``--out``):

* ``curves.png``: game score vs emulator frames, one panel per game, one line
  per (algorithm, shaping) with the mean over seeds and a 95% confidence band
  (t-interval of the seed means; seeds are the independent samples);
* ``curves_<game>.png``: the same panel alone, per game;
* ``report.md``: the aggregated table (final score mean +- std over seeds and how
  it was played: greedy or sampled evaluation actions, or training episodes;
  human-normalised score, frames, steps/s), the frames each arm needs to reach
  reference scores (random, DQN, human and per-game extras such as Read and
  Reward's Skiing score; mean and spread over the seeds that reach them), every
  run, the runs flagged by the health checks (today's checks of each run's
  episodes, :mod:`agents.health`, with the flags its training recorded where they
  differ), and the published reference scores for context;
* ``frames_to_threshold.csv``: the frames-to-threshold of every run;
* in ``report.md``, the score each arm holds at given frame counts (``--at``, by
  default 4M and 10M frames: the Skiing goals' budgets), as the mean over seeds of
  each run's last ``--window`` training episodes by then.

An arm *reaches* a score at the first frame where the mean game score of its
last ``--window`` finished training episodes is at least that score (a single
lucky episode does not count).

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

from agents.cli import HelpFormatter
from agents.runlogs import EPISODES, CorruptLog, has_log, open_log

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


def episodes(run_dir: Path, frame_skip: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame (at its end) and game score of every finished training episode, in order
    (``episodes.csv``, or the ``episodes.csv.gz`` of an exported run)."""
    if not has_log(run_dir, EPISODES):
        return np.zeros(0), np.zeros(0)
    with open_log(run_dir, EPISODES) as f:
        eps = [(int(r["step"]) * frame_skip, float(r["score"])) for r in csv.DictReader(f)]
    if not eps:
        return np.zeros(0), np.zeros(0)
    frames, scores = np.array(eps, dtype=float).T
    return frames, scores


def curve(run_dir: Path, edges: np.ndarray, frame_skip: int) -> np.ndarray:
    """Mean training game score per frame bin (NaN where no episode ended)."""
    out = np.full(len(edges) - 1, np.nan)
    frames, scores = episodes(run_dir, frame_skip)
    if not len(frames):
        return out
    idx = np.clip(np.searchsorted(edges, frames, side="left") - 1, 0, len(edges) - 2)
    for b in range(len(edges) - 1):
        sel = scores[idx == b]
        if len(sel):
            out[b] = sel.mean()
    return out


def thresholds(game: str) -> list[tuple[str, float]]:
    """Scores to reach for ``game``, lowest first: random, DQN, per-game extras, human.

    Example:
        >>> [label for label, _ in thresholds("Skiing")]
        ['random', 'DQN (200M frames)', 'Read and Reward', 'human']
    """
    from agents.scores import published, reference_scores

    ref = reference_scores()
    out = []
    if game in ref["random"]:
        out.append(("random", float(ref["random"][game])))
    for p in published(game):
        if p["agent"] == "DQN":
            frames = f" ({p['frames'] / 1e6:.0f}M frames)" if p.get("frames") else ""
            out.append((f"DQN{frames}", float(p["score"])))
    out += [(t["label"], float(t["score"])) for t in ref.get("thresholds", {}).get(game, [])]
    if game in ref["human"]:
        out.append(("human", float(ref["human"][game])))
    return sorted(out, key=lambda t: t[1])


def frames_to_reach(frames: np.ndarray, scores: np.ndarray, threshold: float,
                    window: int) -> float | None:
    """First frame at which the mean of the last ``window`` episode scores is >= ``threshold``.

    ``None`` if that never happens (or fewer than ``window`` episodes finished).

    Example:
        >>> frames_to_reach(np.array([10, 20, 30, 40]), np.array([0, 4, 0, 9]), 4.0, 2)
        40.0
        >>> frames_to_reach(np.array([10, 20]), np.array([5, 5]), 4.0, 3) is None
        True
    """
    if len(scores) < window:
        return None
    means = np.convolve(scores, np.ones(window) / window, mode="valid")
    hit = np.flatnonzero(means >= threshold)
    return float(frames[window - 1 + hit[0]]) if len(hit) else None


def score_at(frames: np.ndarray, scores: np.ndarray, at: float, window: int,
             run_frames: float) -> float | None:
    """Mean score of the last ``window`` episodes that ended by frame ``at``.

    ``None`` if the run stopped before ``at`` (``run_frames``: its score there is
    unknown) or fewer than ``window`` episodes ended by then.

    Example:
        >>> score_at(np.array([10, 20, 30, 40]), np.array([0, 4, 8, 9]), 30, 2, 40)
        6.0
        >>> score_at(np.array([10, 20]), np.array([5, 5]), 30, 2, 20) is None
        True
    """
    done = frames <= at
    if run_frames < at or done.sum() < window:
        return None
    return float(scores[done][-window:].mean())


def score_at_markdown(rows: list[dict[str, Any]], sweep_dir: Path, at: list[float],
                      window: int) -> list[str]:
    """The score-at-frames section: one row per arm, one column per frame count."""
    if not at or not rows:
        return []
    lines = ["## Score at given frames", "",
             f"The mean game score of each run's last {window} training episodes by that "
             "frame: mean ± std over the seeds that got there, and how many did.", "",
             "| game | algo | shaping | " + " | ".join(_frames(a) for a in at) + " |",
             "|---|---|---|" + "---|" * len(at)]
    for game, algo, shaping in dict.fromkeys((r["game"], r["algo"], r["shaping"]) for r in rows):
        runs = [r for r in rows if (r["game"], r["algo"], r["shaping"]) == (game, algo, shaping)]
        series = []
        for r in runs:
            run_dir = sweep_dir / r["run_dir"]
            series.append((*episodes(run_dir, _frame_skip(run_dir)), float(r["frames"])))
        cells = [_seed_cell([v for f, s, n in series
                             if (v := score_at(f, s, a, window, n)) is not None],
                            len(runs), "{:,.0f}".format, "–") for a in at]
        lines.append(f"| {game} | {algo} | {shaping} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def threshold_rows(rows: list[dict[str, Any]], sweep_dir: Path, window: int) -> list[dict]:
    """Frames-to-threshold of every run: game, algo, shaping, seed, threshold, score, frames."""
    out = []
    for r in rows:
        run_dir = sweep_dir / r["run_dir"]
        frames, scores = episodes(run_dir, _frame_skip(run_dir))
        for label, score in thresholds(r["game"]):
            out.append({"game": r["game"], "algo": r["algo"], "shaping": r["shaping"],
                        "seed": r["seed"], "threshold": label, "score": score,
                        "frames": frames_to_reach(frames, scores, score, window),
                        "run_frames": int(r["frames"])})
    return out


def _frames(value: float) -> str:
    return f"{value / 1e6:.2f}M"


def _seed_cell(values: list[float], runs: int, fmt, missing: str) -> str:
    """``mean ± std (k/n)`` over the ``k`` of ``n`` seeds that have a value, or
    ``missing (0/n)``.

    Example:
        >>> _seed_cell([2e6, 4e6], 3, _frames, "not reached")
        '3.00M ± 1.41M (2/3)'
        >>> _seed_cell([], 2, _frames, "not reached")
        'not reached (0/2)'
    """
    if not values:
        return f"{missing} (0/{runs})"
    spread = f" ± {fmt(float(np.std(values, ddof=1)))}" if len(values) > 1 else ""
    return f"{fmt(float(np.mean(values)))}{spread} ({len(values)}/{runs})"


def threshold_markdown(reached: list[dict], window: int) -> list[str]:
    """The frames-to-threshold section: one row per arm, one column per threshold."""
    if not reached:
        return []
    lines = ["## Frames to reach a score", "",
             f"The first frame at which the mean score of an arm's last {window} training "
             "episodes reaches the score: mean ± std over the seeds that reach it, and how many "
             "do.", ""]
    for game in dict.fromkeys(t["game"] for t in reached):
        mine = [t for t in reached if t["game"] == game]
        labels = list(dict.fromkeys((t["threshold"], t["score"]) for t in mine))
        lines += [f"**{game}**", "",
                  "| algo | shaping | " + " | ".join(f"{lab} ({score:g})" for lab, score in labels)
                  + " |", "|---|---|" + "---|" * len(labels)]
        for algo, shaping in dict.fromkeys((t["algo"], t["shaping"]) for t in mine):
            cells = []
            for label, _ in labels:
                runs = [t for t in mine if (t["algo"], t["shaping"], t["threshold"]) ==
                        (algo, shaping, label)]
                cells.append(_seed_cell([t["frames"] for t in runs if t["frames"] is not None],
                                        len(runs), _frames, "not reached"))
            lines.append(f"| {algo} | {shaping} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def write_threshold_csv(reached: list[dict], path: Path) -> None:
    import io

    from reward_shaping.table import atomic_write_text

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["game", "algo", "shaping", "seed", "threshold",
                                             "score", "frames", "run_frames"])
    writer.writeheader()
    writer.writerows(reached)
    atomic_write_text(path, buf.getvalue())


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
                # One seed has no band (t95 of 0 degrees of freedom times a 0 std).
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


def recheck_flags(rows: list[dict[str, Any]], sweep_dir: Path) -> int:
    """Replace each run's recorded health flags by today's checks of its episodes.

    ``results.csv`` keeps the flags a run's training raised (its ``summary.json``); a check
    mended since (:mod:`agents.health`) would otherwise leave a stale flag in every report
    drawn from it.  Runs whose ``config.yaml`` or ``episodes.csv`` is missing, or cannot be
    read, keep what was recorded.  A changed row keeps the old value as ``recorded_flags``.
    Returns how many rows changed.
    """
    from agents.health import check_run, flags_field
    from agents.runs import TrainError

    changed = 0
    for r in rows:
        run_dir = sweep_dir / r["run_dir"]
        if not ((run_dir / "config.yaml").exists() and has_log(run_dir, EPISODES)):
            continue
        try:
            report = check_run(run_dir)
        except (TrainError, OSError, ValueError, KeyError) as err:
            print(f"warning: {run_dir}: flags as recorded, the run cannot be checked again: "
                  f"{err}", file=sys.stderr)
            continue
        today = flags_field(report)
        recorded = r.get("flags") or ""
        if today != recorded:
            r["recorded_flags"], r["flags"] = recorded, today
            changed += 1
    return changed


def _flags(row: dict[str, Any], none: str) -> str:
    """A row's flags for the report, with those its training recorded where they differ.

    Example:
        >>> _flags({"flags": "", "recorded_flags": "farming"}, "–")
        '– (at training: farming)'
    """
    text = (row.get("flags") or none).replace(";", ", ")
    if "recorded_flags" in row:
        text += f" (at training: {(row['recorded_flags'] or 'none').replace(';', ', ')})"
    return text


def _fmt(value: Any, digits: int = 1) -> str:
    if value in (None, "", "None"):
        return "–"
    return f"{float(value):.{digits}f}"


def _played(rows: list[dict[str, Any]]) -> str:
    """The final scores' modes (``results.csv``'s ``final_score_mode``) of these runs:
    one, several joined by ``/``, or ``–`` for results written before the column existed.

    Example:
        >>> _played([{"final_score_mode": "greedy"}, {"final_score_mode": "sampled"}, {}])
        'greedy/sampled/–'
    """
    return "/".join(dict.fromkeys(r.get("final_score_mode") or "–" for r in rows))


def markdown(rows: list[dict[str, Any]], images: list[Path], out: Path, name: str,
             reached: list[dict] | None = None, window: int = 100,
             at_section: list[str] | None = None) -> str:
    from agents.scores import published, reference_scores

    lines = [f"# Sweep report: {name}", "",
             f"{len(rows)} finished runs. Scores are game scores (never the shaped return): "
             "*final* is the run's evaluation mean (or, without evaluation, its last 100 "
             "training episodes), *best* the best binned training mean. *Played* says how "
             "the final score's actions were chosen: *greedy* (the policy's most likely "
             "action) or *sampled* evaluation actions, or *training* (the training episodes, "
             "exploration included).", ""]
    lines += [f"![learning curves]({images[0].name})", ""]
    lines += ["## Summary (mean ± std over seeds)", "",
              "| game | algo | shaping | seeds | frames | final score | played | best score | "
              "HNS | steps/s |",
              "|---|---|---|---|---|---|---|---|---|---|"]
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
            f"| {final.mean():.1f} ± {std:.1f} | {_played(g)} "
            f"| {_fmt(np.mean(best) if best else None)} "
            f"| {_fmt(np.mean(hns) if hns else None, 3)} | {sps:.0f} |")
    lines += ["", "HNS: human-normalised score (score − random) / (human − random), only for "
              "full-length evaluation episodes of games with reference scores.", ""]
    lines += threshold_markdown(reached or [], window)
    lines += at_section or []
    flagged = [r for r in rows if r.get("flags") or r.get("recorded_flags")]
    lines += ["## Flagged runs", ""]
    if flagged:
        lines += ["Runs whose training episodes showed a stall (episodes running to the time "
                  "limit while the score fell), reward hacking (auxiliary return up, score down), "
                  "farming (one object paid again and again) or shaping that never paid "
                  "(`inert`: unshaped in effect); details and thresholds in each "
                  "run's summary.json (`health`, see agents/health.py). Flags are today's "
                  "checks of each run's episodes; where training recorded others, they "
                  "follow.", ""]
        lines += [f"- {r['game']} {r['algo']} {r['shaping']} seed {r['seed']}: "
                  f"{_flags(r, 'none')}" for r in flagged]
    else:
        lines.append("None: no run stalled, hacked the auxiliary reward or farmed an event "
                     "(agents/health.py).")
    lines += ["", "## Every run", "",
              "| run | seed | steps | final | ± | played | best | flags | wall s |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['game']} {r['algo']} {r['shaping']} | {r['seed']} | "
                     f"{int(r['steps']):,} | {_fmt(r['final_score'])} | "
                     f"{_fmt(r['final_score_std'])} | {_played([r])} | {_fmt(r['best_score'])} | "
                     f"{_flags(r, '–')} | "
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
                                description="Learning-curve plots and a Markdown report of a sweep.",
                                formatter_class=HelpFormatter)
    p.add_argument("sweep_dir", type=Path)
    p.add_argument("--out", type=Path, help="output folder (default SWEEP_DIR/report)")
    p.add_argument("--bins", type=int, default=20, help="frame bins of the curves")
    p.add_argument("--window", type=int, default=100,
                   help="training episodes averaged when deciding that a score is reached")
    p.add_argument("--at", type=float, nargs="*", default=[4e6, 1e7],
                   help="frame counts at which to report each arm's score (none: skip)")
    args = p.parse_args(argv)
    if any(a <= 0 for a in args.at):
        p.error("--at frame counts must be > 0")
    if args.bins < 2:
        p.error("--bins must be >= 2")
    if args.window < 1:
        p.error("--window must be >= 1")
    try:
        rows = read_results(args.sweep_dir)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    changed = recheck_flags(rows, args.sweep_dir)
    out = args.out or args.sweep_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    try:
        images = plot(rows, args.sweep_dir, out, args.bins)
        reached = threshold_rows(rows, args.sweep_dir, args.window)
        score_at = score_at_markdown(rows, args.sweep_dir, args.at, args.window)
    except CorruptLog as err:
        # Drawn without that run, the report would quietly compare the wrong seeds.
        print(f"error: {err}", file=sys.stderr)
        return 2
    write_threshold_csv(reached, out / "frames_to_threshold.csv")
    markdown(rows, images, out, args.sweep_dir.name, reached, args.window, score_at)
    if changed:
        print(f"{changed} run(s) flagged differently by today's checks than at training "
              "(both in the report)")
    print(f"wrote {out / 'report.md'}, {out / 'frames_to_threshold.csv'} and {len(images)} "
          "plot(s): " + ", ".join(i.name for i in images))
    return 0


if __name__ == "__main__":
    sys.exit(main())
