"""Sweeps: a tiny real sweep, killed and rerun; the Ray backend with a retried run; bad configs."""

import csv
import functools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import load_script

from agents.report import main as report_main
from agents.sweep import SweepConfigError, main, parse_config

ROOT = Path(__file__).resolve().parents[1]
TINY = yaml.safe_load((ROOT / "agents" / "sweeps" / "tiny.yml").read_text())


def summaries(sweep_dir: Path) -> dict[str, float]:
    return {p.parent.name: p.stat().st_mtime_ns for p in sweep_dir.glob("runs/*/summary.json")}


def check_results_and_report(sweep_dir: Path, cfg: dict) -> list[dict]:
    """Every run of the sweep config ``cfg`` has its row, the report is written; the rows."""
    with open(sweep_dir / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    runs = parse_config(cfg).runs()
    assert len(rows) == len(runs)
    assert {(r["game"], r["shaping"], r["seed"]) for r in rows} == {
        (s.game, s.shaping, str(s.seed)) for s in runs}
    assert all(int(r["steps"]) >= 200 and float(r["steps_per_s"]) > 0 for r in rows)
    assert report_main([str(sweep_dir)]) == 0
    out = sweep_dir / "report"
    for png in ["curves.png", *(f"curves_{g}.png" for g in cfg["games"])]:
        assert (out / png).stat().st_size > 5000
    md = (out / "report.md").read_text()
    for game in cfg["games"]:
        for shaping in cfg["shaping"]:
            assert f"| {game} | a2c | {shaping} | {len(cfg['seeds'])} |" in md
    assert "Agent57" in md  # published references for context
    return rows


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
    check_results_and_report(sweep_dir, TINY)
    assert "-17098.1" in (sweep_dir / "report" / "report.md").read_text()  # Skiing's references
    # A third invocation has nothing to do.
    assert main([str(config), "--dir", str(sweep_dir)]) == 0 and summaries(sweep_dir) == after


@pytest.mark.slow
def test_ray_sweep_retries_a_failed_run(tmp_path):
    """Two unshaped Pong runs as Ray tasks (the backend's cost is Ray's start and one
    process per run, so the sweep is as small as a retry allows); one is killed after
    its first checkpoint and must be retried, resume there and finish."""
    pytest.importorskip("ray")
    cfg = dict(TINY, games=["Pong"], shaping=["none"],
               overrides=[{"match": {"seed": 0}, "steps": 1500}])
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
    killed_at = int((victim / "checkpoints" / "LATEST").read_text().strip().split("_")[1])
    # The worker's training process dies (as on a lost node): Ray must retry the run.
    subprocess.run(["pkill", "-KILL", "-f", f"agents.train .*{victim}"], check=True)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    log = (sweep_dir / "logs" / "Pong-a2c-none-s0.log").read_text()
    assert log.count("\n=== ") == 2 and "resume" in log, log[-2000:]
    resumed = re.search(r"resuming \S+ from step ([\d,]+)", log)
    assert resumed and killed_at <= int(resumed[1].replace(",", "")) < 1500, log[-2000:]
    steps = {r["seed"]: int(r["steps"]) for r in check_results_and_report(sweep_dir, cfg)}
    assert steps["0"] >= 1500 > steps["1"]


@pytest.mark.parametrize("change, message", [
    ({"games": ["Skiingg"]}, "Did you mean: Skiing"),
    ({"algos": ["dqn"]}, "unknown algorithm 'dqn'"),
    ({"steps": -5}, "steps must be a whole number >= 1"),
    ({"seeds": None}, "missing key 'seeds'"),
    ({"shaping": ["magic"]}, "shaping must be manual or none"),
    ({"games": ["CartPole-v1"]}, "manual shaping needs an Atari game"),
    ({"train": {"n_env": 2}}, "unknown agents.train option 'n_env'"),
    ({"train": {"n_envs": "two"}}, "train.n_envs must be of type int"),
    ({"train": {"shaping_mode": "pot"}}, "train.shaping_mode must be one of bonus, positive,"),
    ({"train": {"env_backend": "ale"}}, "train.env_backend must be one of auto, envpool"),
    ({"overrides": [{"match": {"level": 1}}]}, "match may only name"),
    ({"train": {"eval_mode": "best"}}, "train.eval_mode must be one of auto, greedy, sampled"),
    ({"train": {"eval_mode": "sampled"}, "overrides": [{"train": {"eval_deterministic": True}}]},
     "eval_deterministic and eval_mode are both set"),
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
    arms = sum(len(a.get("shaping", spec["shaping"])) if isinstance(a, dict) else len(spec["shaping"])
               for a in spec["algos"])
    assert len(listed) == len(spec["games"]) * arms * len(spec["seeds"])
    # The GPU-window sweeps name the fast path: no silent fallback to the per-frame backend,
    # whose rate their splits were not planned for.
    if config.stem in ("skiing_paper", "games", "algorithms"):
        assert spec["train"]["env_backend"] == "envpool"
    assert not (tmp_path / "sweep").exists()


def test_named_variants_and_only(tmp_path, capsys):
    """An algorithm variant is a run of its own (name, options, results column); --only
    picks the runs one machine can finish."""
    from agents.sweep import select

    cfg = parse_config(dict(TINY, algos=["a2c", {"name": "a2c_hl", "algo": "a2c",
                                                 "train": {"value_head": "hl_gauss"}}],
                            overrides=[{"match": {"algo": "a2c_hl"}, "steps": 300}]))
    runs = {r.name: r for r in cfg.runs()}
    assert len(runs) == 16 and "Skiing-a2c_hl-manual-s1" in runs
    hl, plain = runs["Pong-a2c_hl-none-s0"], runs["Pong-a2c-none-s0"]
    cmd = hl.command(tmp_path / "r")
    assert cmd[cmd.index("--algo") + 1] == "a2c" and cmd[cmd.index("--value-head") + 1] == "hl_gauss"
    assert cmd[cmd.index("--steps") + 1] == "300" and "--value-head" not in plain.command(tmp_path)
    picked = select(cfg.runs(), ["algo=a2c_hl", "game=Pong", "seed=0,1"])
    assert sorted(r.name for r in picked) == ["Pong-a2c_hl-manual-s0", "Pong-a2c_hl-manual-s1",
                                              "Pong-a2c_hl-none-s0", "Pong-a2c_hl-none-s1"]
    for bad, message in [(["seed=7"], "no run has 7"), (["level=1"], "KEY=VALUE"),
                         (["seed"], "KEY=VALUE")]:
        with pytest.raises(SweepConfigError, match=message):
            select(cfg.runs(), bad)
    config = tmp_path / "v.yml"
    config.write_text(yaml.safe_dump(dict(TINY, algos=["a2c", {"name": "a2c_hl", "algo": "a2c"}])))
    assert main([str(config), "--dir", str(tmp_path / "s"), "--dry-run", "--only", "algo=a2c_hl",
                 "--only", "shaping=none"]) == 0
    out = capsys.readouterr().out
    assert "4 runs (--only: 4 of 16)" in out and out.count(" new ") == 4
    for algos, message in [([{"name": "x y", "algo": "a2c"}], "letters, digits"),
                           ([{"name": "v", "algo": "dqn"}], "unknown algorithm 'dqn'"),
                           ([{"name": "a2c", "algo": "ppo"}, "a2c"], "lists a name twice"),
                           ([{"name": "v", "algo": "a2c", "train": {"value_hed": "x"}}],
                            "unknown agents.train option 'value_hed'")]:
        with pytest.raises(SweepConfigError, match=message):
            parse_config(dict(TINY, algos=algos))


def test_shaping_mode_reaches_manual_runs_only(tmp_path):
    """One train section serves both arms: --shaping-mode goes to the manual runs; the
    none runs (where agents.train would reject it) get nothing."""
    cfg = parse_config(dict(TINY, train=dict(TINY["train"], shaping_mode="potential",
                                              normalize_by="game")))
    runs = {r.name: r for r in cfg.runs()}
    manual = runs["Skiing-a2c-manual-s0"].command(tmp_path / "m")
    assert manual[manual.index("--shaping-mode") + 1] == "potential"
    assert manual[manual.index("--normalize-by") + 1] == "game"
    unshaped = runs["Skiing-a2c-none-s0"].command(tmp_path / "n")
    assert "--shaping-mode" not in unshaped and "--normalize-by" not in unshaped
    # The sweep's config alone decides: no game's measured defaults fill what it leaves out.
    assert "--no-game-defaults" in manual and "--no-game-defaults" in unshaped
    # A variant limited to manual shaping: no duplicate of the unshaped baseline.
    pot = {"name": "a2c_pot", "algo": "a2c", "shaping": ["manual"],
           "train": {"shaping_mode": "potential"}}
    names = [r.name for r in parse_config(dict(TINY, algos=["a2c", pot])).runs()]
    assert len(names) == 12 and "Pong-a2c_pot-manual-s1" in names
    assert not [n for n in names if n.startswith("Pong-a2c_pot-none")]
    with pytest.raises(SweepConfigError, match="not within the sweep's"):
        parse_config(dict(TINY, algos=[dict(pot, shaping=["potential"])]))


def fake_run(sweep_dir: Path, name: str, scores, step: int = 1000) -> dict:
    """A finished Skiing run made of ``episodes.csv`` (one episode per ``step`` steps); a
    shaped one is paid +1 an episode (its episodes are healthy)."""
    run_dir = sweep_dir / "runs" / name
    run_dir.mkdir(parents=True)
    game, algo, shaping, seed = name.split("-")
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"game": "Skiing", "shaping": shaping,
                                                         "env": {"frame_skip": 4}}))
    aux = int(shaping == "manual")
    lines = ["step,env,score,length,aux_return,contacts,paid"]
    lines += [f"{step * (i + 1)},0,{s},100,{aux},{{}},{{}}" for i, s in enumerate(scores)]
    (run_dir / "episodes.csv").write_text("\n".join(lines) + "\n")
    return {"game": game, "algo": algo, "shaping": shaping, "seed": seed[1:],
            "steps": step * len(scores), "frames": 4 * step * len(scores),
            "final_score": scores[-1], "final_score_std": 0, "best_score": max(scores),
            "human_normalized": "", "flags": "", "wall_time_s": 1, "steps_per_s": 1,
            "run_dir": f"runs/{name}"}


def test_report_gives_frames_to_reach_reference_scores(tmp_path):
    import numpy as np

    from agents.report import threshold_rows

    sweep = tmp_path / "sweep"
    ramp0 = list(np.linspace(-17000, -8000, 200))   # passes DQN and Read and Reward
    ramp1 = list(np.linspace(-17000, -12000, 200))  # passes DQN only
    flat = [-17000.0] * 200
    flat[50] = -1000.0  # one lucky episode is not "reaching" human level
    rows = [fake_run(sweep, "Skiing-a2c-manual-s0", ramp0),
            fake_run(sweep, "Skiing-a2c-manual-s1", ramp1),
            fake_run(sweep, "Skiing-a2c-none-s0", flat),
            fake_run(sweep, "Skiing-a2c-none-s1", flat)]
    rows[1]["flags"] = "stall;farming"  # as collect_results writes a flagged run's
    with open(sweep / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    def first(scores, target, window=10):  # by hand: first full window with mean >= target
        for i in range(window - 1, len(scores)):
            if np.mean(scores[i - window + 1:i + 1]) >= target:
                return 4 * 1000 * (i + 1)
        return None

    reached = {(r["shaping"], r["seed"], r["threshold"]): r["frames"]
               for r in threshold_rows(rows, sweep, window=10)}
    assert reached[("manual", "0", "DQN (200M frames)")] == first(ramp0, -13062.3)
    assert reached[("manual", "1", "DQN (200M frames)")] == first(ramp1, -13062.3)
    assert reached[("manual", "0", "Read and Reward")] == first(ramp0, -9000)
    assert reached[("manual", "1", "Read and Reward")] is None
    assert reached[("none", "0", "random")] == 40_000  # the first full window
    assert reached[("none", "0", "human")] is None and first(flat, -4336.9, window=1)

    assert report_main([str(sweep), "--window", "10"]) == 0
    md = (sweep / "report" / "report.md").read_text()
    dqn = [first(ramp0, -13062.3) / 1e6, first(ramp1, -13062.3) / 1e6]
    row = next(line for line in md.splitlines() if line.startswith("| a2c | manual |"))
    cells = [c.strip() for c in row.split("|")[3:-1]]  # random, DQN, R&R, human
    assert cells[1] == f"{np.mean(dqn):.2f}M ± {np.std(dqn, ddof=1):.2f}M (2/2)"
    assert cells[2] == f"{first(ramp0, -9000) / 1e6:.2f}M (1/2)"
    assert cells[3] == "not reached (0/2)"
    assert "| DQN (200M frames) (-13062.3) | Read and Reward (-9000) | human (-4336.9) |" in md
    with open(sweep / "report" / "frames_to_threshold.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 4 * 4
    flagged = md[md.index("## Flagged runs"):md.index("## Every run")]
    # Today's checks of its episodes find nothing: the recorded flags follow.
    assert "- Skiing a2c manual seed 1: none (at training: stall, farming)" in flagged
    # The score each arm holds at given frames: its seeds' last 10 episodes by then.
    assert report_main([str(sweep), "--window", "10", "--at", "400000", "8e5", "2e6"]) == 0
    md = (sweep / "report" / "report.md").read_text()
    section = md[md.index("## Score at given frames"):md.index("## Flagged runs")]
    at = next(line for line in section.splitlines() if line.startswith("| Skiing | a2c | manual |"))
    held = [np.mean(ramp0[90:100]), np.mean(ramp1[90:100])]  # episode 100 ends at 400k frames
    assert at.split("|")[4].strip() == f"{np.mean(held):,.0f} ± {np.std(held, ddof=1):,.0f} (2/2)"
    last = [np.mean(ramp0[-10:]), np.mean(ramp1[-10:])]  # a run's last frame counts
    assert at.split("|")[5].strip() == f"{np.mean(last):,.0f} ± {np.std(last, ddof=1):,.0f} (2/2)"
    assert at.split("|")[6].strip() == "– (0/2)"  # the runs stopped at 800k frames
    assert flagged.count("\n- ") == 1


def test_report_flags_are_todays_checks_of_each_runs_episodes(tmp_path, capsys):
    """A flag mended or added since a run trained shows as today's, the recorded one after
    it; a run whose config cannot be read keeps its record, with a warning."""
    sweep = tmp_path / "sweep"
    rows = [fake_run(sweep, "Skiing-a2c-none-s0", [-17000.0] * 120),
            fake_run(sweep, "Skiing-a2c-none-s1", [-17000.0] * 60 + [-29000.0] * 60),
            fake_run(sweep, "Skiing-a2c-none-s2", [-17000.0] * 120)]
    rows[0]["flags"] = rows[2]["flags"] = "stall"
    # Seed 1's last 60 episodes run to the time limit (4,500 steps at 18,000 frames) while
    # its score falls: a stall that training did not record.
    run = sweep / "runs/Skiing-a2c-none-s1"
    lines = (run / "episodes.csv").read_text().splitlines()
    lines[61:] = [line.replace(",100,0,", ",4500,0,") for line in lines[61:]]
    (run / "episodes.csv").write_text("\n".join(lines) + "\n")
    (run / "config.yaml").write_text(yaml.safe_dump(
        {"game": "Skiing", "shaping": "none", "env": {"frame_skip": 4, "max_episode_frames": 18000}}))
    (sweep / "runs/Skiing-a2c-none-s2/config.yaml").write_text("game: [")  # corrupt
    with open(sweep / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert report_main([str(sweep), "--window", "10"]) == 0
    captured = capsys.readouterr()
    assert "2 run(s) flagged differently" in captured.out
    assert "Skiing-a2c-none-s2: flags as recorded" in captured.err
    md = (sweep / "report" / "report.md").read_text()
    flagged = md[md.index("## Flagged runs"):md.index("## Every run")]
    assert "- Skiing a2c none seed 0: none (at training: stall)" in flagged
    assert "- Skiing a2c none seed 1: stall (at training: none)" in flagged
    assert "- Skiing a2c none seed 2: stall\n" in flagged
    every = md[md.index("## Every run"):]
    assert "| – (at training: stall) |" in every and "| stall (at training: none) |" in every


def test_concurrent_local_runs_get_cores_of_their_own():
    import os

    from agents.sweep import _core_sets

    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        pytest.skip("needs 2 cores to give two runs one each")
    free = _core_sets(len(cores), 1)
    sets = [free.get() for _ in range(len(cores))]
    assert sets == [[c] for c in cores]  # disjoint, one each
    assert _core_sets(len(cores) + 1, 1) is None  # more runs than cores: they share, unbound
    # One worker: left unbound, so that two one-worker sweeps side by side do not share core 0.
    assert _core_sets(1, len(cores)) is None and _core_sets(1, 1) is None


def test_results_and_report_say_how_each_final_score_was_played(tmp_path):
    """Greedy or sampled evaluation, or (without evaluation) the training episodes."""
    from agents.sweep import collect_results, write_results

    cfg = parse_config({"games": ["Pong"], "shaping": ["none"], "seeds": [0, 1, 2],
                        "steps": 100})
    sweep = tmp_path / "sweep"
    evals = [{"deterministic": True}, {"deterministic": False}, None]
    for spec, ev in zip(cfg.runs(), evals):
        run_dir = sweep / "runs" / spec.name
        run_dir.mkdir(parents=True)
        if ev is not None:
            ev.update(mean=-20.0, std=1.0, human_normalized=None)
        (run_dir / "summary.json").write_text(json.dumps({
            "game": "Pong", "shaping": "none", "seed": spec.seed, "steps": 100, "frames": 400,
            "train_score_last100": -21.0, "eval": ev, "wall_time_s": 1, "steps_per_s": 100}))
    rows = collect_results(cfg, sweep)
    assert [r["final_score_mode"] for r in rows] == ["greedy", "sampled", "training"]
    write_results(rows, sweep / "results.csv")
    assert report_main([str(sweep)]) == 0
    md = (sweep / "report" / "report.md").read_text()
    assert "| Pong | a2c | none | 3 | 400 | -20.3 ± 0.6 | greedy/sampled/training |" in md
    assert [line.split(" | ")[5] for line in md.splitlines() if line.startswith("| Pong a2c")] \
        == ["greedy", "sampled", "training"]


def test_export_keeps_what_the_report_needs_and_no_checkpoints(tmp_path):
    """benchmarks/export_sweep.py: the copy redraws the same report; checkpoints stay home."""
    export_sweep = load_script("benchmarks/export_sweep.py")
    sweep = tmp_path / "sweep"
    rows = [fake_run(sweep, "Skiing-a2c-manual-s0", [-17000.0 + 50 * k for k in range(40)]),
            fake_run(sweep, "Skiing-a2c-none-s0", [-17000.0] * 40)]
    (sweep / "runs" / "Skiing-a2c-none-s0" / "checkpoints").mkdir()
    (sweep / "runs" / "Skiing-a2c-none-s0" / "checkpoints" / "model.zip").write_bytes(b"x")
    with open(sweep / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert export_sweep.main([str(sweep), str(tmp_path / "out")]) == 0
    assert not list((tmp_path / "out").rglob("checkpoints"))
    assert report_main([str(sweep), "--window", "10"]) == 0
    assert report_main([str(tmp_path / "out"), "--window", "10"]) == 0
    assert (tmp_path / "out" / "report" / "report.md").read_text() == \
        (sweep / "report" / "report.md").read_text().replace("sweep", "out", 1)


def test_ctrl_c_ends_a_sweep_with_a_message_and_its_table(tmp_path, capsys, monkeypatch):
    """Ctrl-C mid-sweep: exit 130, no traceback, results.csv of the finished runs kept."""
    import agents.sweep as sweep

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "run_local", interrupted)
    cfg_file = tmp_path / "tiny.yml"
    cfg_file.write_text(yaml.safe_dump(TINY))
    assert main([str(cfg_file), "--dir", str(tmp_path / "s")]) == 130
    err = capsys.readouterr().err
    assert "interrupted: 0/" in err and "rerun the same command" in err
    assert (tmp_path / "s" / "results.csv").exists()


def test_verdict_applies_the_rule_written_down_before_the_runs(tmp_path):
    """benchmarks/verdict.py: better / at least as good / worse, pooled seeds, clear errors."""
    verdict = load_script("benchmarks/verdict.py")
    assert verdict.verdict([-87.0, -88.0, -86.0], [-80.0, -83.0, -90.0])["verdict"] == "better"
    # Above the mean, but only 1 of 3 seeds above it: not "better".
    assert verdict.verdict([10.0, 20.0, 30.0], [19.0, 19.0, 50.0])["verdict"] == "at least as good"
    assert verdict.verdict([10.0, 20.0, 30.0], [10.5, 10.5, 10.5])["verdict"] == "at least as good"
    assert verdict.verdict([10.0, 20.0, 30.0], [9.0, 9.0, 9.0])["verdict"] == "worse"
    rows = ["game,algo,seed,final_score"] + [f"Pong,ppo,{s},{v}" for s, v in [(0, -15), (1, -14)]]
    rows += [f"Pong,ppo_bonus,{s},{v}" for s, v in [(0, -12), (1, -13)]]
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("\n".join(rows) + "\n")
    b.write_text("game,algo,seed,final_score\nPong,ppo,2,-16\nPong,ppo_bonus,2,\n")
    run = functools.partial(subprocess.run, capture_output=True, text=True, cwd=ROOT)
    script = [sys.executable, "benchmarks/verdict.py"]
    done = run([*script, "--base", f"{a}:Pong:ppo", "--base", f"{b}:Pong:ppo",
                "--arm", f"{a}:Pong:ppo_bonus"])
    assert done.returncode == 0, done.stderr
    assert "s0 -15, s1 -14, s2 -16; mean -15.0" in done.stdout and "verdict: better" in done.stdout
    assert "inert" not in done.stdout
    # An arm whose shaping paid nothing is named: its verdict is about unshaped runs.
    c = tmp_path / "c.csv"
    c.write_text("game,algo,seed,final_score,flags\nPong,ppo_positive,0,-12,inert\n"
                 "Pong,ppo_positive,1,-11,farming;inert\nPong,ppo_positive,2,-13,farming\n")
    done = run([*script, "--base", f"{a}:Pong:ppo", "--arm", f"{c}:Pong:ppo_positive"])
    assert done.returncode == 0 and "warning: arm seed(s) 0, 1 of 3 paid no shaping" in done.stdout
    done = run([*script, "--base", f"{a}:Pong:ppo", "--base", f"{a}:Pong:ppo",
                "--arm", f"{a}:Pong:ppo_bonus"])
    assert done.returncode == 1 and "seed 0 appears twice" in done.stderr
    done = run([*script, "--base", f"{b}:Pong:ppo", "--arm", f"{a}:Pong:ppo_bonus"])
    assert done.returncode == 2 and "at least 2 seeds" in done.stderr
    done = run([*script, "--base", f"{tmp_path / 'nope.csv'}:Pong:ppo", "--arm", f"{a}:Pong:x"])
    assert done.returncode == 1 and "cannot read" in done.stderr
