"""Sweeps: a tiny real sweep, killed and rerun; the Ray backend with a retried run; bad configs."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agents.report import main as report_main
from agents.sweep import SweepConfigError, main, parse_config

ROOT = Path(__file__).resolve().parents[1]
TINY = yaml.safe_load((ROOT / "agents" / "sweeps" / "tiny.yml").read_text())


def summaries(sweep_dir: Path) -> dict[str, float]:
    return {p.parent.name: p.stat().st_mtime_ns for p in sweep_dir.glob("runs/*/summary.json")}


def check_results_and_report(sweep_dir: Path) -> None:
    with open(sweep_dir / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    assert {(r["game"], r["shaping"], r["seed"]) for r in rows} == {
        (g, s, str(k)) for g in ("Skiing", "Pong") for s in ("manual", "none") for k in (0, 1)}
    assert all(int(r["steps"]) >= 200 and float(r["steps_per_s"]) > 0 for r in rows)
    assert report_main([str(sweep_dir)]) == 0
    out = sweep_dir / "report"
    for png in ("curves.png", "curves_Skiing.png", "curves_Pong.png"):
        assert (out / png).stat().st_size > 5000
    md = (out / "report.md").read_text()
    assert "| Skiing | a2c | manual | 2 |" in md and "| Pong | a2c | none | 2 |" in md
    assert "Agent57" in md and "-17098.1" in md  # published references for context


@pytest.mark.slow
def test_local_sweep_survives_a_kill_and_never_redoes_finished_runs(tmp_path):
    config = tmp_path / "tiny.yml"
    config.write_text(yaml.safe_dump(TINY))
    sweep_dir = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-m", "agents.sweep", str(config), "--dir",
                             str(sweep_dir), "--workers", "2"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while len(summaries(sweep_dir)) < 2:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert time.time() < deadline, "sweep too slow"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its training processes, mid-flight
    proc.wait(timeout=30)
    finished = summaries(sweep_dir)
    assert 2 <= len(finished) < 8
    assert main([str(config), "--dir", str(sweep_dir), "--workers", "2"]) == 0
    after = summaries(sweep_dir)
    assert len(after) == 8
    assert all(after[name] == mtime for name, mtime in finished.items()), "finished run redone"
    check_results_and_report(sweep_dir)
    # A third invocation has nothing to do.
    assert main([str(config), "--dir", str(sweep_dir)]) == 0 and summaries(sweep_dir) == after


@pytest.mark.slow
def test_ray_sweep_retries_a_failed_run(tmp_path):
    pytest.importorskip("ray")
    cfg = dict(TINY, overrides=[{"match": {"game": "Pong", "shaping": "none", "seed": 0},
                                 "steps": 3000}])
    config = tmp_path / "tiny.yml"
    config.write_text(yaml.safe_dump(cfg))
    sweep_dir = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-m", "agents.sweep", str(config), "--dir",
                             str(sweep_dir), "--backend", "ray", "--retries", "2"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    victim = sweep_dir / "runs" / "Pong-a2c-none-s0"
    deadline = time.time() + 300
    while not (victim / "checkpoints" / "LATEST").exists():
        assert proc.poll() is None and time.time() < deadline, proc.stdout.read()[-3000:]
        time.sleep(0.2)
    # The worker's training process dies (as on a lost node): Ray must retry the run.
    subprocess.run(["pkill", "-KILL", "-f", f"agents.train .*{victim}"], check=True)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    log = (sweep_dir / "logs" / "Pong-a2c-none-s0.log").read_text()
    assert log.count("\n=== ") == 2 and "resume" in log, log[-2000:]
    check_results_and_report(sweep_dir)


@pytest.mark.parametrize("change, message", [
    ({"games": ["Skiingg"]}, "Did you mean: Skiing"),
    ({"algos": ["dqn"]}, "unknown algorithm 'dqn'"),
    ({"steps": -5}, "steps must be a whole number >= 1"),
    ({"seeds": None}, "missing key 'seeds'"),
    ({"shaping": ["magic"]}, "shaping must be manual or none"),
    ({"games": ["CartPole-v1"]}, "manual shaping needs an Atari game"),
    ({"train": {"n_env": 2}}, "unknown agents.train option 'n_env'"),
    ({"train": {"n_envs": "two"}}, "train.n_envs must be of type int"),
    ({"overrides": [{"match": {"level": 1}}]}, "match may only name"),
    ({"epochs": 3}, "unknown key(s) epochs"),
])
def test_bad_config_is_rejected_before_anything_starts(tmp_path, capsys, change, message):
    cfg = {k: v for k, v in dict(TINY, **change).items() if v is not None}
    with pytest.raises(SweepConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(cfg)
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(cfg))
    assert main([str(path), "--dir", str(tmp_path / "sweep")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


def test_report_without_results_is_a_clear_error(tmp_path, capsys):
    assert report_main([str(tmp_path)]) == 2
    assert "run `python -m agents.sweep`" in capsys.readouterr().err


@pytest.mark.parametrize("config", sorted((Path(__file__).parents[1] / "agents" / "sweeps").glob("*.yml")),
                         ids=lambda p: p.stem)
def test_shipped_sweeps_are_valid(tmp_path, capsys, config):
    spec = yaml.safe_load(config.read_text())
    assert main([str(config), "--dir", str(tmp_path / "sweep"), "--dry-run"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if " new " in line]
    assert len(listed) == (len(spec["games"]) * len(spec["algos"]) * len(spec["shaping"])
                           * len(spec["seeds"]))
    assert not (tmp_path / "sweep").exists()
