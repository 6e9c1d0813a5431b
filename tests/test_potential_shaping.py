"""Potential-based shaping (``mode="potential"``): telescoping, terminal potential, all forms."""

import json

import gymnasium as gym
import numpy as np
import pytest
from conftest import SCRIPT, TABLE, Scripted

from envs.atari import make_env
from reward_shaping.wrappers import (
    GameScaleNormalize,
    ManualReward,
    ManualRewardVecEnv,
    ManualRewardVector,
    reward_lookup,
)

GAMMA = 0.9
SKIING = {"Tree": -5.0, "Mogul": -5.0, "Flag": -5.0, "Gate": {"pass": 5.0, "miss": -5.0}}


def discounted(rewards, gamma=GAMMA) -> float:
    return float(sum(gamma ** t * r for t, r in enumerate(rewards)))


def check_episode(auxes, events, ends_terminal, gamma, lookup) -> None:
    """Every step pays gamma * Phi(s') - Phi(s), with Phi the table reward of the events so
    far (computed here from the paying events, not by the wrapper) and Phi(terminal) = 0;
    the discounted sum telescopes to gamma^T Phi(s_T) - Phi(s_0)."""
    paid = [sum(lookup[e.key] for e in step_events) for step_events in events]
    phi = np.concatenate([[0.0], np.cumsum(paid)])
    if ends_terminal:
        phi[-1] = 0.0
    T = len(auxes)
    assert np.allclose(auxes, gamma * phi[1:] - phi[:-1])
    assert discounted(auxes, gamma) == pytest.approx(gamma ** T * phi[T] - phi[0], abs=1e-9)


@pytest.mark.parametrize("truncate", [False, True])
def test_potential_shaping_telescopes(truncate):
    env = ManualReward(Scripted(SCRIPT, truncate), TABLE, mode="potential", gamma=GAMMA)
    lookup = reward_lookup(TABLE)
    for _ in range(2):  # a second episode starts again from potential 0
        env.reset(seed=0)
        steps = [env.step(0) for _ in SCRIPT]
        infos = [s[4] for s in steps]
        auxes = [i["aux_reward"] for i in infos]
        assert [s[1] for s in steps] == pytest.approx([-1.0 + a for a in auxes])
        check_episode(auxes, [i["aux_events"] for i in infos], not truncate, GAMMA, lookup)
        events = sum(lookup[e.key] for i in infos for e in i["aux_events"])
        end = infos[-1]["shaping"]
        assert end["event_return"] == pytest.approx(events) and events == 5 - 5 + 10 - 5 + 5
        assert end["aux_return"] == pytest.approx(sum(auxes))
        if truncate:
            # A time limit is not a terminal state: its potential stays.
            assert infos[-1]["potential"] == pytest.approx(events)
        else:
            # Ng et al.: the optimal policy is kept because every terminated episode's
            # shaped discounted return is its game return.
            assert infos[-1]["potential"] == 0.0
            shaped = discounted([s[1] for s in steps])
            assert shaped == pytest.approx(discounted([-1.0] * len(SCRIPT)), abs=1e-9)
    # The additive bonus does not have that property (so the check above can fail).
    bonus = ManualReward(Scripted(SCRIPT), TABLE)
    bonus.reset(seed=0)
    assert discounted([bonus.step(0)[4]["aux_reward"] for _ in SCRIPT]) > 1.0


def test_bonus_and_potential_pay_the_same_events_in_every_form():
    """The bonus is ``event_reward``; the potential's ``aux_reward`` differs from it by
    ``-(1 - gamma) * Phi(s')`` on non-terminal steps."""
    env = ManualReward(Scripted(SCRIPT[:3] * 3), TABLE, mode="potential", gamma=GAMMA)
    env.reset(seed=0)
    for _ in range(8):
        info = env.step(0)[4]
        assert info["aux_reward"] == pytest.approx(
            info["event_reward"] - (1 - GAMMA) * info["potential"])


def test_bad_mode_and_gamma_are_rejected():
    with pytest.raises(ValueError, match="mode must be one of"):
        ManualReward(Scripted(SCRIPT), TABLE, mode="shaped")
    with pytest.raises(ValueError, match="gamma"):
        ManualReward(Scripted(SCRIPT), TABLE, mode="potential", gamma=1.5)


def _split_episodes(infos_per_step, dones_per_step, n):
    """Per env: list of (aux list, events list, info of the last step) per finished episode."""
    out = [[] for _ in range(n)]
    cur = [([], []) for _ in range(n)]
    for infos, dones in zip(infos_per_step, dones_per_step):
        for i in range(n):
            cur[i][0].append(infos[i]["aux_reward"])
            cur[i][1].append(infos[i]["aux_events"])
            if dones[i]:
                out[i].append((*cur[i], infos[i]))
                cur[i] = ([], [])
    return out


BACKENDS = ["gymnasium", pytest.param("envpool", marks=pytest.mark.skipif(
    not __import__("envs.fast.envpool_vec", fromlist=["x"]).envpool_available(),
    reason="envpool is not installed"))]


@pytest.mark.parametrize("backend", BACKENDS)
def test_vecenv_form_telescopes_on_real_skiing(backend):
    """SB3 VecEnv form on both env backends: 150-step Skiing episodes end at the time
    limit (truncated: the last potential stays), events pay, the sum telescopes."""
    from agents.environments import EnvSettings, make_vec, resolve_target

    settings = EnvSettings(max_episode_frames=600, backend=backend)
    venv = make_vec(resolve_target("Skiing"), settings, 2, 3, track_objects=True, vec_env="dummy")
    venv = ManualRewardVecEnv(venv, SKIING, mode="potential", gamma=GAMMA)
    venv.reset()
    infos, dones = [], []
    rng = np.random.default_rng(0)
    for _ in range(330):
        _, rewards, done, info = venv.step(rng.integers(0, 3, size=2))
        assert np.allclose(rewards, [x["game_reward"] + x["aux_reward"] for x in info])
        infos.append(info)
        dones.append(done)
    venv.close()
    lookup = reward_lookup(SKIING)
    episodes = [e for per_env in _split_episodes(infos, dones, 2) for e in per_env]
    assert len(episodes) >= 4
    assert sum(abs(e[2]["shaping"]["event_return"]) for e in episodes) > 0, "no event paid"
    for auxes, events, last in episodes:
        assert last["TimeLimit.truncated"]
        check_episode(auxes, events, False, GAMMA, lookup)
        assert last["potential"] == pytest.approx(last["shaping"]["event_return"])


def test_gymnasium_vector_form_telescopes_across_autoresets():
    env = gym.vector.SyncVectorEnv([lambda: Scripted(SCRIPT), lambda: Scripted(SCRIPT[:5], True)])
    env = ManualRewardVector(env, TABLE, mode="potential", gamma=GAMMA)
    env.reset(seed=0)
    lookup = reward_lookup(TABLE)
    steps = [env.step(np.zeros(2, np.int64)) for _ in range(2 * len(SCRIPT) + 1)]
    for i, (length, terminal) in enumerate([(len(SCRIPT), True), (5, False)]):
        # Next-step autoreset: the step after an episode's end is a reset step paying 0.
        auxes = [s[4]["aux_reward"][i] for s in steps]
        events = [s[4]["aux_events"][i] for s in steps]
        check_episode(auxes[:length], events[:length], terminal, GAMMA, lookup)
        assert auxes[length] == 0.0
        check_episode(auxes[length + 1:2 * length + 1], events[length + 1:2 * length + 1],
                      terminal, GAMMA, lookup)


def test_single_env_wrapper_keeps_the_game_score_on_skiing():
    """Monitor inside the shaping: the episode statistic is the game score, while the
    shaped rewards carry the potential's differences."""
    env = ManualReward(make_env("Skiing", max_episode_frames=1200), SKIING, mode="potential",
                       gamma=GAMMA)
    env.reset(seed=0)
    game, shaped, done, t = [], [], False, 0
    while not done:
        _, r, term, trunc, info = env.step(t % 3)  # zigzag: into moguls, flags and trees
        t += 1
        game.append(info["game_reward"])
        shaped.append(r)
        done = term or trunc
    assert trunc and info["episode"]["r"] == pytest.approx(sum(game))
    assert info["shaping"]["event_return"] < 0, "the test needs paid events"
    assert info["potential"] == pytest.approx(info["shaping"]["event_return"])
    assert sum(shaped) - sum(game) == pytest.approx(info["shaping"]["aux_return"])


@pytest.mark.slow
def test_train_with_potential_shaping(tmp_path):
    """agents.train --shaping-mode potential end to end: recorded in config.yaml (so a
    resumed run shapes the same way) and summary.json, logged under shaping/."""
    from agents.runs import read_run_config
    from agents.train import main

    out = tmp_path / "pot"
    assert main(["Skiing", "--shaping-mode", "potential", "--steps", "200", "--out", str(out),
                 "--n-envs", "2", "--vec-env", "dummy", "--device", "cpu", "--no-progress",
                 "--eval-episodes", "1", "--max-episode-frames", "400", "--no-game-defaults"]) == 0
    assert read_run_config(out).shaping_mode == "potential"
    header = (out / "progress.csv").read_text().splitlines()[0].split(",")
    assert {"shaping/potential_mean", "shaping/event_return_mean"} <= set(header)
    assert json.loads((out / "summary.json").read_text())["shaping_mode"] == "potential"


def test_train_builds_the_potential_wrapper_with_the_agents_gamma(tmp_path):
    """The flag reaches the wrapper with the algorithm's discount; without manual
    shaping it is an error that writes nothing."""
    from agents.train import Run, _new_config, _parse, main
    from reward_shaping.wrappers import find_shaper

    # --no-game-defaults: the generic run (Skiing's own defaults clip rewards to their sign,
    # which --normalize-by game refuses).
    cfg, run_dir = _new_config(_parse(["Skiing", "--no-game-defaults", "--shaping-mode", "potential",
                                       "--n-envs", "2", "--normalize-by", "game", "--vec-env", "dummy",
                                       "--out", str(tmp_path / "r")]))
    run = Run(cfg, run_dir, resume=False, progress=False)
    run.env_seed = 0
    hp = run._hparams()
    hp.gamma = 0.97
    venv, norm = run.build_env(hp, SKIING)
    shaper = find_shaper(venv)
    assert (shaper.mode, shaper.gamma) == ("potential", 0.97)
    assert isinstance(norm, GameScaleNormalize) and norm.gamma == 0.97
    venv.close()
    for flag, value in (("--shaping-mode", "potential"), ("--normalize-by", "game")):
        assert main(["Skiing", "--shaping", "none", flag, value, "--steps", "10",
                     "--out", str(tmp_path / "bad")]) == 2
        assert not (tmp_path / "bad").exists()


def test_game_scale_normalize_divides_by_the_game_returns_std(tmp_path):
    """Strong shaping leaves the normaliser's statistics as in an unshaped run; a
    checkpoint's normaliser (how agents.train resumes) comes back as the same kind."""
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    def vec():
        return DummyVecEnv([lambda: Monitor(Scripted(SCRIPT)) for _ in range(2)])

    kw = {"norm_obs": False, "gamma": GAMMA, "clip_reward": float("inf")}
    plain = VecNormalize(vec(), **kw)
    shaped = GameScaleNormalize(ManualRewardVecEnv(vec(), TABLE, scale=50, mode="potential",
                                                   gamma=GAMMA), **kw)
    usual = VecNormalize(ManualRewardVecEnv(vec(), TABLE, scale=50, mode="potential",
                                            gamma=GAMMA), **kw)
    for env in (plain, shaped, usual):
        env.reset()
    for _ in range(3 * len(SCRIPT)):
        action = np.zeros(2, np.int64)
        plain.step(action)
        usual.step(action)
        _, rewards, _, infos = shaped.step(action)
        assert shaped.ret_rms.var == pytest.approx(plain.ret_rms.var)
        std = np.sqrt(plain.ret_rms.var + plain.epsilon)
        expected = [(i["game_reward"] + i["aux_reward"]) / std for i in infos]
        assert np.allclose(rewards, expected, rtol=1e-5)
    assert usual.ret_rms.var > 100 * plain.ret_rms.var  # what plain VecNormalize would do
    shaped.save(str(tmp_path / "norm.pkl"))
    loaded = VecNormalize.load(str(tmp_path / "norm.pkl"), shaped.venv)
    assert isinstance(loaded, GameScaleNormalize) and loaded.ret_rms.var == shaped.ret_rms.var
    with pytest.raises(TypeError, match="must wrap a ManualRewardVecEnv"):
        bad = GameScaleNormalize(vec(), **kw)
        bad.reset()
        bad.step(np.zeros(2, np.int64))
