"""Skiing's default agent for one hour alone on this machine: does it reach the human score?

Issue 28's moonshot is the human score, -4,337, within one hour on 2 cores.  ``run``
measures how fast ``python -m agents.train Skiing`` (the default recipe: PPO on objects,
the manual's gate reward) trains alone here with a short probe, gives the run the steps
that ``--minutes`` of that speed allow (58 by default: start-up and the final evaluation
take the rest of the hour), and trains it.  Nothing else should run on the machine
meanwhile.  The plan (speed, steps) is written before training, so that a rerun after
Ctrl-C resumes the same run from its latest checkpoint instead of starting another.

``summarize`` reads run directories: the last 100 training episodes; when (the step, and
the minutes of training from ``progress.csv``) the mean of 100 training episodes first
reached Read and Reward's -9,000, SCoBots' -6,530 and the human -4,337; and the final
evaluation (mean, median, episodes that ran to the game's clock).

Usage::

    python benchmarks/skiing_hour.py run --seed 0 --out runs/skiing_hour
    python benchmarks/skiing_hour.py summarize runs/skiing_hour/Skiing-ppo-default-s*
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.runlogs import EPISODES, PROGRESS, has_log, open_log  # noqa: E402

#: Scores whose first crossing ``summarize`` reports (name, score).
THRESHOLDS = (("R&R -9,000", -9000.0), ("SCoBots -6,530", -6530.0), ("human -4,337", -4336.9))
#: Training episodes per rolling mean.
WINDOW = 100
#: Skiing ends an episode after 4,500 agent steps of game time; a skier that stands still
#: ends there (``envs.games``).
CLOCK_STEPS = 4_400


def _train(args: list[str], log: Path) -> None:
    cmd = [sys.executable, "-m", "agents.train", "Skiing", *args, "--no-progress"]
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        code = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
    if code != 0:
        raise SystemExit(f"agents.train exited with {code}; see {log}")


def _machine() -> str:
    """What RESULTS.md needs to know about the machine a number came from."""
    import torch

    return (f"{platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, NumPy {np.__version__}, torch {torch.__version__}")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def run(seed: int, out: Path, minutes: float, probe_steps: int, eval_episodes: int) -> Path:
    """Probe the speed, then train the default for ``minutes`` of it; returns the run dir."""
    out.mkdir(parents=True, exist_ok=True)
    run_dir = out / f"Skiing-ppo-default-s{seed}"
    plan_file = out / f"plan-s{seed}.json"
    log = out / f"run-s{seed}.log"
    if plan_file.exists():
        plan = json.loads(plan_file.read_text())
        print(f"resuming the plan in {plan_file}: {plan['steps']:,} steps")
    else:
        probe = out / f"probe-s{seed}"
        if probe.exists():
            import shutil

            shutil.rmtree(probe)
        # A different seed than the run's, so that the probe is no part of the result.
        _train(["--steps", str(probe_steps), "--eval-episodes", "0", "--seed", str(seed + 1000),
                "--out", str(probe)], log)
        rate = json.loads((probe / "summary.json").read_text())["steps_per_s"]
        plan = {"seed": seed, "probe_steps": probe_steps, "steps_per_s": rate,
                "minutes": minutes, "steps": int(rate * minutes * 60),
                "machine": _machine(),
                "date": time.strftime("%Y-%m-%d")}
        _write_json(plan_file, plan)
        print(f"probe: {rate:,.0f} steps/s alone; {minutes:g} minutes: {plan['steps']:,} steps")
    start = time.time()
    if (run_dir / "summary.json").exists():
        print(f"{run_dir} is finished")
        return run_dir
    if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").iterdir()):
        _train(["--resume", str(run_dir), "--steps", str(plan["steps"])], log)
    else:
        _train(["--seed", str(seed), "--steps", str(plan["steps"]),
                "--eval-episodes", str(eval_episodes), "--out", str(run_dir)], log)
    plan["run_wall_s"] = plan.get("run_wall_s", 0.0) + round(time.time() - start, 1)
    _write_json(plan_file, plan)
    return run_dir


def training_clock(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Steps and seconds of training so far, from ``progress.csv``.

    A resumed run's clock (SB3's ``time/time_elapsed``) restarts at 0 and its steps at the
    checkpoint's; the time before the restart is carried over whole, the work redone after
    the checkpoint included (the hour is wall clock), and the rows the resumed run redoes
    are dropped so that steps keep rising.
    """
    with open_log(run_dir, PROGRESS) as f:
        rows = [r for r in csv.DictReader(f) if r.get("time/time_elapsed")]
    points: list[tuple[float, float]] = []
    offset = last = 0.0
    for r in rows:
        step, elapsed = float(r["time/total_timesteps"]), float(r["time/time_elapsed"])
        if points and elapsed < last:
            offset = points[-1][1]
            points = [p for p in points if p[0] < step]
        points.append((step, offset + elapsed))
        last = elapsed
    if not points:
        raise SystemExit(f"{run_dir}/progress.csv has no time/time_elapsed rows")
    steps, seconds = zip(*points)
    return np.array(steps), np.array(seconds)


def training_curve(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The mean of each :data:`WINDOW` training episodes, and the step at each window's end."""
    with open_log(run_dir, EPISODES) as f:
        episodes = [(int(r["step"]), float(r["score"])) for r in csv.DictReader(f)]
    if len(episodes) < WINDOW:
        raise SystemExit(f"{run_dir}: only {len(episodes)} training episodes")
    steps = np.array([s for s, _ in episodes][WINDOW - 1:])
    return steps, np.convolve([v for _, v in episodes], np.ones(WINDOW) / WINDOW, mode="valid")


def summarize_run(run_dir: Path) -> dict:
    """One finished (or running) run: training, thresholds and evaluation."""
    ends, rolling = training_curve(run_dir)
    steps, elapsed = training_clock(run_dir)
    out: dict = {"run": run_dir.name, "episodes": len(rolling) + WINDOW - 1,
                 "steps": int(ends[-1]), "train_last100": float(rolling[-1]),
                 "train_best100": float(rolling.max())}
    for name, score in THRESHOLDS:
        hit = np.flatnonzero(rolling >= score)
        if hit.size:
            step = int(ends[hit[0]])
            out[name] = {"step": step, "minutes": float(np.interp(step, steps, elapsed)) / 60}
        else:
            out[name] = None
    summary = run_dir / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        ev = s["eval"]
        out["train_minutes"] = s["wall_time_s"] / 60
        out["eval_mean"] = ev["mean"]
        out["eval_median"] = float(statistics.median(ev["scores"]))
        out["eval_at_clock"] = sum(n >= CLOCK_STEPS for n in ev["lengths"])
        out["eval_episodes"] = ev["episodes"]
    return out


def summarize(run_dirs: list[Path]) -> str:
    """A markdown table, one row per run, and the mean over runs."""
    rows = [summarize_run(d) for d in run_dirs]
    head = ["run", "steps", "train min", "train, last 100"]
    head += [f"first {n} (step, min)" for n, _ in THRESHOLDS]
    head += ["eval mean", "eval median", "eval at the clock"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(hit):
        return "–" if hit is None else f"{hit['step'] / 1e6:.2f}M, {hit['minutes']:.0f}"

    for r in rows:
        lines.append("| " + " | ".join([
            r["run"], f"{r['steps']:,}", f"{r.get('train_minutes', float('nan')):.1f}",
            f"{r['train_last100']:,.0f}", *[cell(r[n]) for n, _ in THRESHOLDS],
            f"{r['eval_mean']:,.0f}" if "eval_mean" in r else "–",
            f"{r['eval_median']:,.0f}" if "eval_median" in r else "–",
            f"{r['eval_at_clock']} of {r['eval_episodes']}" if "eval_mean" in r else "–"]) + " |")
    done = [r for r in rows if "eval_mean" in r]
    if len(done) > 1:
        ev = [r["eval_mean"] for r in done]
        tr = [r["train_last100"] for r in done]
        lines.append(f"\nmean over {len(done)} runs: eval {statistics.mean(ev):,.0f} ± "
                     f"{statistics.stdev(ev):,.0f}, training (last 100) "
                     f"{statistics.mean(tr):,.0f} ± {statistics.stdev(tr):,.0f}")
    return "\n".join(lines)


def plot(run_dirs: list[Path], path: Path) -> None:
    """The mean of 100 training episodes against minutes of training, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for run_dir in run_dirs:
        ends, rolling = training_curve(run_dir)
        minutes = np.interp(ends, *training_clock(run_dir)) / 60
        ax.plot(minutes, rolling, label=run_dir.name, lw=1)
    for name, score in THRESHOLDS:
        ax.axhline(score, ls="--", lw=0.8, color="grey")
        ax.text(0, score, f" {name}", va="bottom", fontsize=7, color="grey")
    ax.set_xlabel("minutes of training (alone on the machine)")
    ax.set_ylabel(f"game score, mean of {WINDOW} training episodes")
    ax.set_ylim(-30_000, -3_000)
    ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/skiing_hour.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="probe the speed, then train the default for an hour's steps")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", type=Path, default=Path("runs/skiing_hour"))
    r.add_argument("--minutes", type=float, default=58.0,
                   help="training time to plan for (default 58 of the hour)")
    r.add_argument("--probe-steps", type=int, default=100_000)
    r.add_argument("--eval-episodes", type=int, default=20)
    s = sub.add_parser("summarize", help="thresholds and evaluation of run directories")
    s.add_argument("run_dirs", type=Path, nargs="+")
    s.add_argument("--plot", type=Path, help="also draw the training curves into this PNG")
    args = p.parse_args(argv)
    if args.command == "run":
        # A zero or negative budget would train nothing and report it as a result.
        if args.minutes <= 0 or args.probe_steps <= 0:
            p.error("--minutes and --probe-steps must be positive")
        run(args.seed, args.out, args.minutes, args.probe_steps, args.eval_episodes)
        return 0
    missing = [d for d in args.run_dirs if not has_log(d, EPISODES)]
    if missing:
        p.error(f"not run directories (no episodes.csv): {', '.join(map(str, missing))}")
    print(summarize(args.run_dirs))
    if args.plot:
        plot(args.run_dirs, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
