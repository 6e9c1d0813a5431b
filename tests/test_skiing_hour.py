"""benchmarks/skiing_hour.py: the hour's plan, resuming it, and the summary of runs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "skiing_hour.py"


@pytest.fixture(scope="module")
def hour():
    return load_script("benchmarks/skiing_hour.py")


def fake_run(run_dir: Path, scores: list[float], lengths: list[int] | None = None,
             evaluation: list[float] | None = None, eval_lengths: list[int] | None = None) -> Path:
    """A run directory as agents.train writes it: episodes, progress (1,000 steps a
    second of training) and, when ``evaluation`` is given, a summary."""
    run_dir.mkdir(parents=True)
    lengths = lengths or [1_000] * len(scores)
    with open(run_dir / "episodes.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "env", "score", "length", "aux_return"])
        for k, (s, n) in enumerate(zip(scores, lengths)):
            w.writerow([(k + 1) * 1_000, 0, s, n, 0.0])
    with open(run_dir / "progress.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time/total_timesteps", "time/time_elapsed"])
        for step in range(0, (len(scores) + 1) * 1_000, 10_000):
            w.writerow([step, step / 1_000])
    if evaluation is not None:
        (run_dir / "summary.json").write_text(json.dumps({
            "wall_time_s": len(scores), "steps": len(scores) * 1_000,
            "eval": {"episodes": len(evaluation), "scores": evaluation,
                     "lengths": eval_lengths or [1_000] * len(evaluation),
                     "mean": sum(evaluation) / len(evaluation)}}))
    return run_dir


def test_summary_finds_each_threshold_when_the_rolling_mean_first_reaches_it(hour, tmp_path):
    # 200 episodes at -10,000, then 200 at -5,000, then 200 at -4,000.
    scores = [-10_000.0] * 200 + [-5_000.0] * 200 + [-4_000.0] * 200
    run = fake_run(tmp_path / "s0", scores, evaluation=[-4_000.0] * 18 + [-30_000.0] * 2,
                   eval_lengths=[1_000] * 18 + [4_500] * 2)
    r = hour.summarize_run(run)
    # The mean of 100 reaches -9,000 once 20 of the 100 are at -5,000: episode 220.
    assert r["R&R -9,000"] == {"step": 220_000, "minutes": pytest.approx(220_000 / 1_000 / 60)}
    # -6,530: 70 of 100 at -5,000 (-6,500): episode 270.
    assert r["SCoBots -6,530"]["step"] == 270_000
    # -4,336.9: 67 of 100 at -4,000 with 33 at -5,000 (-4,330): episode 467.
    assert r["human -4,337"]["step"] == 467_000
    assert r["train_last100"] == -4_000.0 and r["eval_at_clock"] == 2
    assert r["eval_mean"] == pytest.approx(-6_600.0) and r["eval_median"] == -4_000.0
    never = hour.summarize_run(fake_run(tmp_path / "s1", [-10_000.0] * 150))
    assert never["R&R -9,000"] is None and "eval_mean" not in never
    table = hour.summarize([run, tmp_path / "s1"])
    assert "| s0 | 600,000 |" in table and "0.47M, 8" in table


def test_the_training_clock_carries_over_a_resume(hour, tmp_path):
    """Killed at 25,000 steps (25 s in) after a checkpoint at 20,000, resumed: the clock
    restarts at 0, and the time lost counts (the hour is wall clock)."""
    run = tmp_path / "run"
    run.mkdir()
    rows = [(0, 0), (10_000, 10), (20_000, 20), (25_000, 25), (20_000, 0), (30_000, 10)]
    (run / "progress.csv").write_text("time/total_timesteps,time/time_elapsed\n"
                                      + "".join(f"{a},{b}\n" for a, b in rows))
    steps, seconds = hour.training_clock(run)
    assert steps.tolist() == [0, 10_000, 20_000, 30_000]
    assert seconds.tolist() == [0, 10, 25, 35]


def test_run_plans_from_the_probe_and_a_rerun_resumes_the_same_steps(hour, tmp_path, monkeypatch):
    calls = []

    def train(args, log):
        calls.append(args)
        out = Path(args[args.index("--out") + 1]) if "--out" in args else None
        if "--eval-episodes" in args and args[args.index("--eval-episodes") + 1] == "0":
            out.mkdir(parents=True)
            (out / "summary.json").write_text(json.dumps({"steps_per_s": 2_000.0}))
        elif "--resume" in args:
            (Path(args[args.index("--resume") + 1]) / "summary.json").write_text("{}")
        else:
            (out / "checkpoints").mkdir(parents=True)
            (out / "checkpoints" / "model_1000.zip").write_bytes(b"x")
            raise KeyboardInterrupt  # Ctrl-C mid-training

    monkeypatch.setattr(hour, "_train", train)
    with pytest.raises(KeyboardInterrupt):
        hour.run(3, tmp_path, minutes=2.0, probe_steps=500, eval_episodes=5)
    plan = json.loads((tmp_path / "plan-s3.json").read_text())
    assert plan["steps"] == 240_000 and plan["steps_per_s"] == 2_000.0
    assert calls[0][calls[0].index("--seed") + 1] == "1003"  # the probe is not the run
    assert calls[1][:4] == ["--seed", "3", "--steps", "240000"]
    # The rerun probes nothing and resumes the run with the planned steps.
    hour.run(3, tmp_path, minutes=30.0, probe_steps=500, eval_episodes=5)
    assert calls[2] == ["--resume", str(tmp_path / "Skiing-ppo-default-s3"), "--steps", "240000"]
    assert len(calls) == 3


def test_cli_summarizes_and_rejects_what_is_not_a_run(tmp_path):
    run = fake_run(tmp_path / "Skiing-ppo-default-s0", [-8_000.0] * 120, evaluation=[-7_000.0] * 3)
    done = subprocess.run([sys.executable, str(SCRIPT), "summarize", str(run), "--plot",
                           str(tmp_path / "curve.png")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "curve.png").stat().st_size > 1_000
    assert "| Skiing-ppo-default-s0 | 120,000 |" in done.stdout and "-7,000" in done.stdout
    bad = subprocess.run([sys.executable, str(SCRIPT), "summarize", str(tmp_path / "nothing")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no episodes.csv" in bad.stderr
    zero = subprocess.run([sys.executable, str(SCRIPT), "run", "--minutes", "0"],
                          capture_output=True, text=True, timeout=120)
    assert zero.returncode == 2 and "must be positive" in zero.stderr
