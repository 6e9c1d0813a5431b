"""Training end to end: real short runs, checkpoints, resume after SIGKILL, Ctrl-C, bad input."""

import csv
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agents.algorithms.config import ConfigError, load_config
from agents.algorithms.registry import ALGOS
from agents.runs import RunConfig
from agents.train import main

ROOT = Path(__file__).resolve().parents[1]


def _paid_reward(run_dir: Path, episode: dict) -> float:
    """The auxiliary return an episodes.csv row should have: paid events x the run's table."""
    objects = json.loads((run_dir / "reward_table.json").read_text())["objects"]
    return sum(objects[key]["reward"] * n for key, n in json.loads(episode["paid"]).items())
# --no-game-defaults: these tests train the generic Skiing run (A2C on pixels); the
# game's measured defaults have their own test.
TINY_ATARI = ["--no-game-defaults", "--n-envs", "2", "--max-episode-frames", "1200", "--vec-env", "dummy",
              "--no-progress", "--device", "cpu"]
# Short rollouts and a small, early replay: every algorithm updates within a few dozen steps.
TINY_HP = {
    "ppo": "atari:\n  n_steps: 16\n  batch_size: 32\n",
    "pg": "atari:\n  n_steps: 16\n",
    **dict.fromkeys(["qrdqn", "dsac"], "atari:\n  learning_starts: 32\n  batch_size: 8\n"
                    "  buffer_size: 1000\n  optimize_memory_usage: false\n"),
}
TINY_CARTPOLE = ["--shaping", "none", "--n-envs", "2", "--vec-env", "dummy", "--no-progress",
                 "--device", "cpu", "--eval-episodes", "0"]


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def train_cli(*args, timeout=300, **kw):
    return subprocess.Popen([sys.executable, "-m", "agents.train", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.slow
def test_skiing_manual_run_end_to_end(tmp_path):
    out = tmp_path / "ski"
    proc = train_cli("Skiing", "--steps", "1500", "--save-every", "500", "--eval-episodes", "2",
                     "--out", str(out), *TINY_ATARI)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert "reward table" in stdout and "Tree -5" in stdout and "final score over 2 episodes" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["game"] == "Skiing" and summary["shaping"] == "manual"
    assert summary["steps"] >= 1500 and summary["frames"] == 4 * summary["steps"]
    assert summary["eval"]["episodes"] == 2 and len(summary["eval"]["scores"]) == 2
    assert all(s < 0 for s in summary["eval"]["scores"])  # Skiing scores are negative times
    # Truncated (1200-frame) episodes are not comparable with published scores.
    assert summary["eval"]["human_normalized"] is None
    assert len(summary["reward_table_sha256"]) == 64
    episodes = rows(out / "episodes.csv")
    assert len(episodes) >= 4
    assert any(float(e["aux_return"]) < 0 for e in episodes), "contacts must pay"
    assert all(float(e["aux_return"]) == _paid_reward(out, e) for e in episodes)
    progress = rows(out / "progress.csv")
    assert "shaping/aux_return_mean" in progress[-1] and "detector/contacts_per_episode" in progress[-1]
    assert any(p["rollout/ep_rew_mean"] for p in progress)
    assert list((out / "tb").glob("events.out.tfevents.*"))
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["hparams"]["n_envs"] == 2 and cfg["hparams"]["vf_coef"] == 0.25
    assert json.loads((out / "reward_table.json").read_text())["objects"]["Tree"]["reward"] == -5
    ckpts = sorted(p.name for p in (out / "checkpoints").glob("step_*"))
    assert ckpts[-1] == f"step_{summary['steps']:012d}"

    # evaluate CLI: scores, and a GIF with the detected contacts marked
    gif = tmp_path / "ski.gif"
    ev = subprocess.run([sys.executable, "-m", "agents.evaluate", str(out), "--episodes", "1",
                         "--n-envs", "1", "--gif", str(gif), "--gif-steps", "120",
                         "--gif-every", "10", "--json", str(tmp_path / "ev.json")],
                        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert ev.returncode == 0, ev.stderr[-3000:]
    assert "episode   1: score" in ev.stdout and gif.stat().st_size > 1000
    assert json.loads((tmp_path / "ev.json").read_text())["gif"]["steps"] == 120


@pytest.mark.slow
def test_pong_unshaped_run_has_zero_aux(tmp_path):
    out = tmp_path / "pong"
    code = main(["Pong", "--shaping", "none", "--steps", "1000", "--save-every", "1000",
                 "--eval-episodes", "0", "--out", str(out), *TINY_ATARI])
    assert code == 0
    episodes = rows(out / "episodes.csv")
    assert episodes and all(float(e["aux_return"]) == 0 for e in episodes)
    assert all(e["contacts"] == "{}" for e in episodes)  # no detector without shaping
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reward_table_sha256"] is None and summary["eval"] is None
    assert not (out / "reward_table.json").exists()


def wait_for_checkpoint(run_dir: Path, min_step: int, proc, timeout=120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        steps = [int(p.name.split("_")[1]) for p in (run_dir / "checkpoints").glob("step_*")]
        if steps and max(steps) >= min_step:
            return
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.2)
    raise AssertionError("no checkpoint in time")


def test_resume_after_sigkill_continues_without_loss_or_duplicates(tmp_path):
    out = tmp_path / "cp"
    # Huge target so that the run is still going when it is killed.
    proc = train_cli("CartPole-v1", "--steps", "1000000", "--save-every", "1000",
                     "--out", str(out), *TINY_CARTPOLE)
    wait_for_checkpoint(out, 3000, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    latest = (out / "checkpoints" / "LATEST").read_text().strip()
    ckpt_step = int(latest.split("_")[1])
    code = main(["--resume", str(out), "--steps", "8000"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert 8000 <= summary["steps"] < 8000 + 20
    progress = [int(r["time/total_timesteps"]) for r in rows(out / "progress.csv")]
    assert progress == sorted(set(progress)), "progress rows duplicated or out of order"
    assert progress[-1] >= 8000 - 20
    eps = [int(r["step"]) for r in rows(out / "episodes.csv")]
    assert eps == sorted(eps) and eps[-1] > ckpt_step
    state = json.loads((out / "checkpoints" / f"step_{summary['steps']:012d}" / "state.json").read_text())
    assert state["resumes"] == 1 and state["num_timesteps"] == summary["steps"]
    # Episode counter and episode log agree across the kill: nothing lost, nothing twice.
    assert state["episodes"] == len(eps) == summary["train_episodes"]
    assert len(list((out / "tb").glob("events.out.tfevents.*"))) == 2


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path):
    out = tmp_path / "cc"
    proc = train_cli("CartPole-v1", "--steps", "1000000", "--save-every", "100000",
                     "--out", str(out), *TINY_CARTPOLE)
    deadline = time.time() + 120
    while not (out / "progress.csv").exists() or os.path.getsize(out / "progress.csv") < 200:
        assert time.time() < deadline and proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    assert "resume with: python -m agents.train --resume" in stdout
    assert "Traceback" not in stderr
    assert (out / "checkpoints" / "LATEST").exists() and not (out / "summary.json").exists()


def test_same_seed_same_training(tmp_path):
    scores = []
    for name in ("a", "b"):
        assert main(["CartPole-v1", "--steps", "2000", "--seed", "3", "--out",
                     str(tmp_path / name), *TINY_CARTPOLE]) == 0
        scores.append([(r["step"], r["score"]) for r in rows(tmp_path / name / "episodes.csv")])
    assert scores[0] == scores[1] and len(scores[0]) > 20


@pytest.mark.parametrize("algo", ["a2c", "ppo"])
def test_cartpole_learns(tmp_path, algo, train_cartpole):
    """The zoo's CartPole presets must clearly beat random play (~22) within 40k steps."""
    evaluation = train_cartpole(tmp_path / "learn", algo, 40000)
    assert evaluation["mean"] > 100, evaluation


def test_bad_input_gives_clear_errors(tmp_path, capsys):
    def err(*argv):
        assert main(list(argv)) == 2
        return capsys.readouterr().err

    assert "Did you mean: Skiing" in err("Skiingg", "--out", str(tmp_path / "x"))
    assert "unknown algorithm 'dqn'" in err("Skiing", "--algo", "dqn", "--out", str(tmp_path / "x"))
    assert "use --shaping none" in err("CartPole-v1", "--out", str(tmp_path / "x"))
    assert "--steps must be a whole number" in err("Pong", "--steps", "-5")
    assert "--pay-cap must be a whole number >= 0" in err("Pong", "--pay-cap", "-1")
    assert "--pay-cap 1 needs --shaping manual" in err("Pong", "--shaping", "none", "--pay-cap", "1",
                                                       "--out", str(tmp_path / "x"))
    assert "--penalty-veto must be a whole number >= 0" in err("Pong", "--penalty-veto", "-1")
    assert "--penalty-veto 3 needs --shaping manual" in err(
        "Pong", "--shaping", "none", "--penalty-veto", "3", "--out", str(tmp_path / "x"))
    assert "--penalty-veto applies to the modes that pay events" in err(
        "Pong", "--shaping-mode", "proximity", "--penalty-veto", "3", "--out", str(tmp_path / "x"))
    assert "--penalty-veto applies to the modes that pay events" in err(
        "Pong", "--shaping-mode", "proximity_positive", "--penalty-veto", "3",
        "--out", str(tmp_path / "x"))
    assert "not a run directory" in err("--resume", str(tmp_path / "missing"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.yaml").write_text("game: [unclosed\n")
    assert "corrupt" in err("--resume", str(bad))
    (bad / "config.yaml").write_text(yaml.safe_dump({"game": "CartPole-v1", "shaping": "none"}))
    assert "no checkpoints/ directory" in err("--resume", str(bad))
    import torch

    if not torch.cuda.is_available():
        assert "no CUDA GPU" in err("CartPole-v1", "--shaping", "none", "--device", "cuda",
                                    "--out", str(tmp_path / "y"))
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_corrupt_checkpoint_falls_back_then_fails_clearly(tmp_path, capsys):
    out = tmp_path / "cp"
    assert main(["CartPole-v1", "--steps", "600", "--save-every", "200", "--out", str(out),
                 *TINY_CARTPOLE]) == 0
    ckpts = sorted((out / "checkpoints").glob("step_*"))
    assert len(ckpts) == 3
    (ckpts[-1] / "model.zip").write_bytes(b"not a zip")
    from agents.checkpoint import find_checkpoint

    assert find_checkpoint(out).path == ckpts[-2]
    for c in ckpts[:-1]:
        (c / "state.pkl").write_bytes(b"\x00garbage")
    assert main(["--resume", str(out), "--steps", "1000"]) == 2
    assert "no usable checkpoint" in capsys.readouterr().err


def test_hyperparameter_files(tmp_path):
    cfg = load_config("a2c", "classic")
    assert cfg.policy == "MlpPolicy" and cfg.n_envs == 8 and cfg.ent_coef == 0.0
    user = tmp_path / "hp.yml"
    user.write_text("learning_rate: 0.001\natari:\n  n_envs: 4\n")
    cfg = load_config("a2c", "atari", user)
    assert (cfg.learning_rate, cfg.n_envs, cfg.n_steps) == (0.001, 4, 5)
    user.write_text("learning_rat: 0.001\n")
    with pytest.raises(ConfigError, match="unknown A2CConfig field.*learning_rat"):
        load_config("a2c", "atari", user)
    user.write_text("gamma: 1.5\n")
    with pytest.raises(ConfigError, match="gamma must be in"):
        load_config("a2c", "atari", user)


def test_schedules_hold_then_anneal():
    """anneal_after keeps PPO's learning rate and clip range at their start values for that
    fraction of the run, then decays both to 0; the shipped sweep file holds 40%."""
    hold = Path(__file__).resolve().parents[1] / "agents/sweeps/hparams/ppo_hold_anneal.yml"
    cfg = load_config("ppo", "objects", hold)
    assert cfg.anneal_after == 0.4
    kw = cfg.sb3_kwargs()
    for key, start in (("learning_rate", cfg.learning_rate), ("clip_range", cfg.clip_range)):
        sched = pickle.loads(pickle.dumps(kw[key]))  # checkpoints pickle it
        # progress_remaining: 1 at the start, 0 at the end of the run.
        assert sched(1.0) == sched(0.61) == start
        assert sched(0.3) == pytest.approx(start / 2) and sched(0.0) == 0.0
    plain = load_config("ppo", "objects").sb3_kwargs()["learning_rate"]
    assert plain(0.5) == pytest.approx(cfg.learning_rate / 2)  # the preset decays from step 0
    for bad in (-0.1, 1.0):
        cfg.anneal_after = bad
        with pytest.raises(ConfigError, match="anneal_after must be in"):
            cfg.validate()


@pytest.mark.slow
def test_skiing_missed_gate_penalty_reaches_the_agent_unclipped(tmp_path):
    """Skiing pays its missed-gate penalty (500 per gate) in the last step of an episode;
    reward normalisation must scale it, not clip it (else 5 and 20 missed gates look alike)."""
    import numpy as np

    from agents.runs import RunConfig
    from agents.train import Run

    run = Run(RunConfig(game="Skiing", shaping="none", hparams={"n_envs": 1}), tmp_path,
              resume=False, progress=False)
    run.env_seed = 0
    venv, norm = run.build_env(run._hparams(), None)
    venv.reset()
    rng = np.random.default_rng(0)
    for _ in range(5000):  # a random skier reaches the bottom after about 1,300 steps
        _, reward, done, _ = venv.step(rng.integers(3, size=1))
        if done[0]:
            break
    venv.close()
    assert done[0]
    raw = norm.get_original_reward()[0]
    assert raw <= -2500  # at least 5 missed gates
    assert reward[0] == pytest.approx(raw / np.sqrt(norm.ret_rms.var + norm.epsilon), rel=1e-5)
    assert reward[0] < -10


@pytest.mark.parametrize("algo", sorted(ALGOS))
def test_every_algorithm_trains_on_the_fast_path(tmp_path, algo):
    pytest.importorskip("envpool")
    out = tmp_path / algo
    args = [*TINY_ATARI, "--max-episode-frames", "120", "--env-backend", "envpool",
            "--eval-episodes", "1", "--save-every", "40"]
    if algo in TINY_HP:
        (tmp_path / "hp.yml").write_text(TINY_HP[algo])
        args += ["--config", str(tmp_path / "hp.yml")]
    assert main(["Skiing", "--algo", algo, "--steps", "64", "--out", str(out), *args]) == 0
    if algo == "a2c":  # resuming restarts the envpool environments
        assert main(["--resume", str(out), "--steps", "100"]) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["env"]["backend"] == "envpool"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["env_backend"] == "envpool" and summary["algo"] == algo
    assert summary["steps"] >= 64 and summary["frames"] == 4 * summary["steps"]
    assert summary["eval"]["lengths"] == [30] and summary["eval"]["scores"][0] < -30
    episodes = rows(out / "episodes.csv")
    # 30-step episodes: the game score (minus elapsed time), the table's reward per event.
    assert episodes and all(int(e["length"]) == 30 and float(e["score"]) < -30 for e in episodes)
    assert all(float(e["aux_return"]) == _paid_reward(out, e) for e in episodes)


def test_backend_choice_is_recorded_and_old_runs_stay_on_theirs(tmp_path, capsys):
    assert RunConfig.from_dict({"game": "Skiing", "env": {"frame_skip": 4}}).env.backend == \
        "gymnasium"  # config.yaml written before the field existed
    assert main(["CartPole-v1", "--env-backend", "envpool", "--out", str(tmp_path / "x"),
                 *TINY_CARTPOLE]) == 2
    assert "Atari games only" in capsys.readouterr().err
    out = tmp_path / "cp"
    assert main(["CartPole-v1", "--steps", "64", "--out", str(out), *TINY_CARTPOLE]) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["env"]["backend"] == "gymnasium"


def test_reader_choice_reads_the_table_and_is_recorded(tmp_path, capsys):
    pytest.importorskip("envpool")
    from agents.environments import resolve_target
    from agents.runs import DEFAULT_READER
    from agents.train import _validate
    from reward_shaping.reasoning import DEFAULT_BACKEND

    assert DEFAULT_READER == DEFAULT_BACKEND == "consensus"
    # Shaped runs recorded before the field read with consequence; unshaped ones read nothing
    # and must still pass the "--reader needs --shaping manual" check when resumed.
    assert RunConfig.from_dict({"game": "Skiing"}).reader == "consequence"
    old = RunConfig.from_dict({"game": "Skiing", "shaping": "none", "steps": 100})
    assert old.reader == DEFAULT_READER
    _validate(old, resolve_target("Skiing"))
    assert main(["Skiing", "--shaping", "none", "--reader", "embedding",
                 "--out", str(tmp_path / "x")]) == 2
    assert "--reader embedding needs --shaping manual" in capsys.readouterr().err
    out = tmp_path / "ski"
    assert main(["Skiing", "--reader", "consequence", "--steps", "32", "--out", str(out),
                 *TINY_ATARI, "--max-episode-frames", "120", "--env-backend", "envpool",
                 "--eval-episodes", "0"]) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["reader"] == "consequence"
    table = json.loads((out / "reward_table.json").read_text())
    assert table["backend"] == "consequence" and table["objects"]["Gate:pass"]["reward"] == 5


def test_life_penalty_is_validated_recorded_and_paid(tmp_path, capsys):
    pytest.importorskip("envpool")
    assert main(["Kangaroo", "--life-penalty", "-1", "--out", str(tmp_path / "x")]) == 2
    assert "--life-penalty must be a number >= 0" in capsys.readouterr().err
    assert main(["CartPole-v1", "--shaping", "none", "--life-penalty", "5",
                 "--out", str(tmp_path / "y")]) == 2
    assert "has no lives" in capsys.readouterr().err
    out = tmp_path / "k"
    assert main(["Kangaroo", "--shaping", "none", "--life-penalty", "5", "--steps", "32",
                 "--out", str(out), *TINY_ATARI, "--env-backend", "envpool",
                 "--eval-episodes", "0"]) == 0
    assert "-5 per life lost" in capsys.readouterr().out
    assert yaml.safe_load((out / "config.yaml").read_text())["life_penalty"] == 5.0


def test_a_place_is_paid_only_by_proximity_and_training_says_so(tmp_path, capsys):
    pytest.importorskip("envpool")
    args = ["--steps", "32", *TINY_ATARI, "--env-backend", "envpool", "--eval-episodes", "0"]
    assert main(["Freeway", "--out", str(tmp_path / "b"), *args]) == 0
    out = capsys.readouterr().out
    assert "Sidewalk +5" in out and "Sidewalk is a place, paid only by the proximity modes" in out
    assert main(["Freeway", "--shaping-mode", "proximity", "--out", str(tmp_path / "p"), *args]) == 0
    out = capsys.readouterr().out
    assert "Sidewalk +5" in out and "is a place" not in out


def test_evaluation_mode_defaults_per_algorithm():
    """Greedy for the value-based and max-entropy agents; the actor-critics sample on Atari
    games and act greedily elsewhere, as rl-baselines3-zoo evaluates them.  Every algorithm
    has its mode on record here, so a new one needs a decision."""
    from agents.environments import resolve_target
    from agents.runs import default_eval_mode

    on_atari = {"a2c": "sampled", "ppo": "sampled", "pg": "sampled", "dlac": "sampled",
                "qrdqn": "greedy", "dsac": "greedy"}
    assert set(on_atari) == set(ALGOS)
    for algo, mode in on_atari.items():
        assert default_eval_mode(algo, resolve_target("Skiing")) == mode
        assert default_eval_mode(algo, resolve_target("CartPole-v1")) == "greedy"


def test_evaluation_mode_is_resolved_recorded_and_replayed(tmp_path):
    """The resolved mode is in config.yaml and summary.json; agents.evaluate plays the run's
    mode unless told otherwise; a run recorded before the field existed resumes with its
    algorithm's default, and --eval-mode on resume changes the mode."""
    from agents.evaluate import main as evaluate_main

    out = tmp_path / "dsac"
    assert main(["CartPole-v1", "--algo", "dsac", "--steps", "64", "--out", str(out),
                 *TINY_CARTPOLE, "--eval-episodes", "1"]) == 0

    def recorded() -> tuple[str, str, bool]:
        summary = json.loads((out / "summary.json").read_text())
        return (yaml.safe_load((out / "config.yaml").read_text()).get("eval_mode"),
                summary["eval_mode"], summary["eval"]["deterministic"])

    assert recorded() == ("greedy", "greedy", True)
    for flags, deterministic in (([], True), (["--stochastic"], False)):
        assert evaluate_main([str(out), "--episodes", "1", "--n-envs", "1", "--json",
                              str(tmp_path / "ev.json"), *flags]) == 0
        assert json.loads((tmp_path / "ev.json").read_text())["deterministic"] is deterministic
    # config.yaml as runs wrote it before eval_mode: false was every algorithm's default.
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    cfg["eval_deterministic"] = cfg.pop("eval_mode") != "greedy"
    (out / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert RunConfig.from_dict(cfg).eval_mode is None
    assert main(["--resume", str(out), "--steps", "80"]) == 0
    assert recorded() == ("greedy", "greedy", True)
    assert "eval_deterministic" not in yaml.safe_load((out / "config.yaml").read_text())
    assert main(["--resume", str(out), "--eval-mode", "sampled"]) == 0  # evaluates only
    assert recorded() == ("sampled", "sampled", False)
