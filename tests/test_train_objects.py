"""Training on object observations (--obs objects) and the explicit reward processing."""

import json

import pytest
import yaml

from agents import evaluate
from agents.algorithms.config import PRESETS, load_config
from agents.algorithms.registry import ALGOS
from agents.train import _new_config, _parse, main

TINY = ["--no-game-defaults", "--n-envs", "2", "--max-episode-frames", "120", "--no-progress",
        "--device", "cpu", "--obs", "objects", "--save-every", "40"]
# Short rollouts and a small, early replay: every algorithm updates within a few dozen steps.
TINY_HP = {
    "ppo": "objects:\n  n_steps: 16\n  batch_size: 32\n",
    "pg": "objects:\n  n_steps: 16\n",
    **dict.fromkeys(["qrdqn", "dsac"], "objects:\n  learning_starts: 32\n  batch_size: 8\n"
                    "  buffer_size: 1000\n"),
}


def test_every_algorithm_has_an_object_preset_with_an_mlp():
    assert "objects" in PRESETS
    for algo in ALGOS:
        hp = load_config(algo, "objects")
        assert hp.policy == "MlpPolicy" and hp.net_arch, algo


@pytest.mark.parametrize("algo", [*sorted(ALGOS), "a2c_hl_gauss"])
def test_every_algorithm_trains_on_objects(tmp_path, algo, capsys):
    pytest.importorskip("envpool")
    name, extra = (algo, []) if algo in ALGOS else ("a2c", ["--value-head", "hl_gauss"])
    out = tmp_path / algo
    args = [*TINY, "--env-backend", "envpool", "--eval-episodes", "1", *extra]
    if name in TINY_HP:
        (tmp_path / "hp.yml").write_text(TINY_HP[name])
        args += ["--config", str(tmp_path / "hp.yml")]
    assert main(["Skiing", "--algo", name, "--steps", "64", "--out", str(out), *args]) == 0
    printed = capsys.readouterr().out
    assert "observations: objects" in printed and "reward processing: normalize" in printed
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["env"]["obs"] == "objects" and cfg["hparams"]["policy"] == "MlpPolicy"
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["obs"], summary["obs_stack"], summary["reward_processing"]) == (
        "objects", 1, "normalize")
    assert summary["eval"]["lengths"] == [30]
    if algo != "a2c":
        return
    # Resuming keeps the run's observations; asking for others is refused.
    assert main(["--resume", str(out), "--steps", "100", "--obs", "objects"]) == 0
    assert main(["--resume", str(out), "--steps", "120", "--obs", "pixels"]) == 2
    assert "trains with --obs objects; it cannot resume with --obs pixels" in \
        capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["steps"] >= 100
    # agents.evaluate plays on the run's observations, and says so when asked for others.
    gif = tmp_path / "ski.gif"
    assert evaluate.main([str(out), "--episodes", "1", "--n-envs", "1", "--gif", str(gif),
                          "--gif-steps", "20"]) == 0
    assert "objects observations" in capsys.readouterr().out and gif.stat().st_size > 0
    assert evaluate.main([str(out), "--episodes", "1", "--obs", "pixels"]) == 2
    assert "trained on --obs objects" in capsys.readouterr().err


def test_object_runs_on_the_gymnasium_backend_with_a_stack(tmp_path):
    out = tmp_path / "gym"
    assert main(["Pong", "--steps", "32", "--out", str(out), *TINY, "--env-backend", "gymnasium",
                 "--vec-env", "dummy", "--obs-stack", "2", "--eval-episodes", "0"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["env_backend"], summary["obs_stack"], summary["reward_processing"]) == (
        "gymnasium", 2, "sign")


def _config(*argv):
    cfg, _ = _new_config(_parse(list(argv)))
    return cfg


def test_reward_processing_is_resolved_recorded_and_checked(tmp_path):
    out = ["--out", str(tmp_path / "x")]
    # The generic default (Skiing's own measured defaults clip: agents/game_defaults.py).
    assert _config("Skiing", "--no-game-defaults", *out).reward_processing == "normalize"
    ski = _config("Skiing", "--reward-processing", "sign", *out)
    assert ski.reward_processing == "sign" and ski.env.clip_reward is True
    assert _config("Skiing", "--reward-processing", "raw", *out).env.clip_reward is False
    breakout = _config("Breakout", *out)
    assert breakout.reward_processing == "sign" and breakout.env.clip_reward is True
    assert _config("Breakout", "--reward-processing", "normalize", *out).env.clip_reward is False
    assert _config("CartPole-v1", "--shaping", "none", *out).reward_processing == "raw"
    hp = tmp_path / "hp.yml"
    hp.write_text("normalize_reward: true\n")
    assert _config("Breakout", "--config", str(hp), *out).reward_processing == "normalize"
    from agents.runs import TrainError

    with pytest.raises(TrainError, match="contradicts"):
        _config("Breakout", "--config", str(hp), "--reward-processing", "sign", *out)
    with pytest.raises(TrainError, match="--normalize-by game needs --reward-processing"):
        _config("Skiing", "--normalize-by", "game", "--reward-processing", "sign", *out)


def test_runs_recorded_before_reward_processing_existed_keep_their_rewards():
    from agents.environments import resolve_target
    from agents.runs import RunConfig, reward_processing_of

    old = RunConfig.from_dict({"game": "Skiing", "env": {"frame_skip": 4}})
    assert old.reward_processing is None
    assert reward_processing_of(old, resolve_target("Skiing"), None) == "normalize"
    assert reward_processing_of(RunConfig(game="Pong"), resolve_target("Pong"), None) == "sign"
    assert reward_processing_of(RunConfig(game="Pong"), resolve_target("Pong"), True) == \
        "sign+normalize"


def test_bad_object_options_give_clear_errors(tmp_path, capsys):
    def err(*argv):
        assert main([*argv, "--out", str(tmp_path / "x")]) == 2
        return capsys.readouterr().err

    assert "--obs objects needs an Atari game with an object detector" in \
        err("CartPole-v1", "--shaping", "none", "--obs", "objects")
    assert "--obs-stack needs --obs objects" in err("Breakout", "--obs-stack", "2")
    assert "--obs-stack must be >= 1" in err("Breakout", "--obs", "objects", "--obs-stack", "0")
    hp = tmp_path / "cnn.yml"
    hp.write_text("objects:\n  policy: CnnPolicy\n")
    assert "needs policy: MlpPolicy" in err("Breakout", "--obs", "objects", "--config", str(hp))
    assert not (tmp_path / "x").exists()


def test_skiing_trains_with_its_measured_defaults(tmp_path):
    """A bare ``agents.train Skiing`` takes the shaping ablation's best arm; each flag the user
    gives replaces only its own default; --no-game-defaults (what sweeps pass) and games
    without measured defaults keep the generic ones."""
    out = ["--out", str(tmp_path / "x")]
    ski = _config("Skiing", *out)
    assert (ski.algo, ski.env.obs, ski.reward_processing, ski.shaping_mode, ski.aux_scale,
            ski.steps) == ("ppo", "objects", "sign", "positive", 4.0, 2_500_000)
    assert _config("Skiing", "--aux-scale", "1", *out).aux_scale == 1.0
    assert ski.env.clip_reward is True and ski.hparams["policy"] == "MlpPolicy"
    # Skiing's PPO on objects holds its step size and clip range for the first 40% of the
    # run, then anneals them; the preset (what --no-game-defaults, another observation or
    # the user's --config gets) anneals them from the first step.
    assert (ski.hparams["lr_schedule"], ski.hparams["anneal_after"]) == ("linear", 0.4)
    for argv in (["--no-game-defaults", "--algo", "ppo", "--obs", "objects"],
                 ["--obs", "pixels"]):
        assert _config("Skiing", *argv, *out).hparams["anneal_after"] == 0.0, argv
    own = tmp_path / "own.yml"
    own.write_text("n_epochs: 3\n")
    hp = _config("Skiing", "--config", str(own), *out).hparams
    assert (hp["anneal_after"], hp["n_epochs"]) == (0.0, 3)
    assert _config("Skiing", "--n-envs", "4", *out).hparams["anneal_after"] == 0.4
    mixed = _config("Skiing", "--algo", "a2c", "--obs", "pixels", "--steps", "1000", *out)
    assert (mixed.algo, mixed.env.obs, mixed.reward_processing, mixed.shaping_mode,
            mixed.steps) == ("a2c", "pixels", "sign", "positive", 1000)
    assert _config("Skiing", "--shaping-mode", "proximity", *out).shaping_mode == "proximity"
    assert _config("Skiing", "--reward-processing", "raw", *out).reward_processing == "raw"
    # Nothing is shaped without the manual: the mode stays the generic one (no error).
    unshaped = _config("Skiing", "--shaping", "none", *out)
    assert (unshaped.shaping_mode, unshaped.aux_scale) == ("bonus", 1.0)
    generic = _config("Skiing", "--no-game-defaults", *out)
    assert (generic.algo, generic.env.obs, generic.reward_processing, generic.shaping_mode,
            generic.aux_scale, generic.steps) == ("a2c", "pixels", "normalize", "bonus", 1.0, 10_000_000)
    breakout = _config("Breakout", *out)
    assert (breakout.algo, breakout.env.obs, breakout.shaping_mode) == ("a2c", "pixels", "bonus")


@pytest.mark.parametrize("game, mode", [("Pong", "bonus"), ("FishingDerby", "positive")])
def test_pong_and_fishing_derby_train_with_their_measured_defaults(tmp_path, game, mode):
    """The recipes that were better on six seeds (agents/game_defaults.py); flags win."""
    out = ["--out", str(tmp_path / "x")]
    cfg = _config(game, *out)
    assert (cfg.algo, cfg.env.obs, cfg.reward_processing, cfg.shaping_mode, cfg.aux_scale,
            cfg.steps, cfg.pay_cap, cfg.penalty_veto) == \
        ("ppo", "objects", "sign", mode, 1.0, 1_000_000, 0, 0)
    assert _config(game, "--shaping-mode", "proximity", *out).shaping_mode == "proximity"
    assert _config(game, "--steps", "64", *out).steps == 64
    generic = _config(game, "--no-game-defaults", *out)
    assert (generic.algo, generic.env.obs, generic.shaping_mode) == ("a2c", "pixels", "bonus")


def test_kangaroo_trains_with_its_measured_defaults(tmp_path):
    """Kangaroo's recipe includes the shaping's cap and veto; they follow the shaping (none
    unshaped, no veto under a mode that pays no contact) and yield to the user's flags."""
    out = ["--out", str(tmp_path / "x")]
    roo = _config("Kangaroo", *out)
    assert (roo.algo, roo.env.obs, roo.reward_processing, roo.shaping_mode, roo.aux_scale,
            roo.steps, roo.pay_cap, roo.penalty_veto) == \
        ("ppo", "objects", "sign", "bonus", 1.0, 1_000_000, 1, 8)
    assert _config("Kangaroo", "--penalty-veto", "3", *out).penalty_veto == 3
    assert _config("Kangaroo", "--pay-cap", "0", *out).pay_cap == 0
    unshaped = _config("Kangaroo", "--shaping", "none", *out)
    assert (unshaped.algo, unshaped.pay_cap, unshaped.penalty_veto) == ("ppo", 0, 0)
    potential = _config("Kangaroo", "--shaping-mode", "proximity", *out)
    assert (potential.shaping_mode, potential.penalty_veto) == ("proximity", 0)
    contact = _config("Kangaroo", "--shaping-mode", "proximity_contact", *out)
    assert contact.penalty_veto == 8  # this mode pays penalties per contact: the veto stays
    generic = _config("Kangaroo", "--no-game-defaults", *out)
    assert (generic.algo, generic.pay_cap, generic.penalty_veto) == ("a2c", 0, 0)


def test_freeway_trains_with_its_measured_defaults(tmp_path):
    """Freeway's recipe pays its place (the far sidewalk) as a potential without the cars."""
    out = ["--out", str(tmp_path / "x")]
    road = _config("Freeway", *out)
    assert (road.algo, road.env.obs, road.reward_processing, road.shaping_mode, road.steps,
            road.pay_cap, road.penalty_veto) == \
        ("ppo", "objects", "sign", "proximity_positive", 1_000_000, 0, 0)
    assert _config("Freeway", "--no-game-defaults", *out).shaping_mode == "bonus"


def test_bare_freeway_run_pays_its_place(tmp_path, capsys):
    """A bare run takes the recipe and trains with it: the place is paid (no note that the
    mode ignores it), the cars are not."""
    pytest.importorskip("envpool")
    out = tmp_path / "road"
    assert main(["Freeway", "--steps", "256", "--n-envs", "2", "--eval-episodes", "0",
                 "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Freeway defaults" in printed and "shaping mode proximity_positive" in printed
    assert "Sidewalk +5" in printed and "is a place" not in printed
    assert json.loads((out / "summary.json").read_text())["shaping_mode"] == "proximity_positive"


def test_bare_skiing_run_says_which_defaults_it_took(tmp_path, capsys):
    """The README's Quickstart command, shortened as CI runs it: PPO on objects, clipped,
    paid Gate:pass only; the run says so and records it."""
    pytest.importorskip("envpool")
    out = tmp_path / "ski"
    assert main(["Skiing", "--steps", "256", "--n-envs", "2", "--eval-episodes", "1",
                 "--max-episode-frames", "400", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Skiing defaults" in printed and "shaping mode positive" in printed
    assert "aux scale 4.0" in printed and "anneal_after 0.4" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["algo"], summary["obs"], summary["reward_processing"],
            summary["shaping_mode"]) == ("ppo", "objects", "sign", "positive")
    assert yaml.safe_load((out / "config.yaml").read_text())["algo"] == "ppo"
    assert summary["health"]["eval_stall"] is None


def test_a_run_whose_evaluation_stands_still_is_flagged(tmp_path, capsys, monkeypatch):
    """The final evaluation goes through the health checks: a skier standing still at the
    clock in 2 of 2 episodes is flagged in the summary and the log (evaluation replaced by
    one that stood still; a tiny run cannot learn to)."""
    pytest.importorskip("envpool")
    import agents.scores

    def stood_still(model, target, settings, episodes, **kw):
        limit = settings.max_episode_frames // settings.frame_skip
        return {"episodes": episodes, "scores": [-29_970.0] * episodes,
                "lengths": [limit] * episodes, "mean": -29_970.0, "std": 0.0,
                "human_normalized": None}

    monkeypatch.setattr(agents.scores, "evaluate_model", stood_still)
    out = tmp_path / "ski"
    assert main(["Skiing", "--steps", "256", "--n-envs", "2", "--eval-episodes", "2",
                 "--max-episode-frames", "400", "--no-progress", "--out", str(out)]) == 0
    assert "warning: eval_stall: 2 of 2 evaluation episodes" in capsys.readouterr().out
    flag = json.loads((out / "summary.json").read_text())["health"]["eval_stall"]
    assert flag["episodes"] == 2 and flag["step"] >= 256
