"""Manual-reward wrappers on real games: honest game score, auxiliary reward, vector forms."""

import warnings

import gymnasium as gym
import numpy as np
import pytest

from envs.atari import make_env
from reward_shaping.wrappers import (
    ManualReward,
    ManualRewardVecEnv,
    ManualRewardVector,
    find_shaper,
    reward_lookup,
    shape,
)

SKIING = {"Tree": -5.0, "Mogul": -5.0, "Flag": -5.0}
STEPS = 400  # Skiing on NOOP runs into moguls/flags well within this
SHORT = {"max_episode_frames": 1200}  # 300 agent steps: episodes end inside the test


def play(env, actions, seed=0):
    """Step through ``actions`` (restarting finished episodes); rewards, infos, episode stats."""
    env.reset(seed=seed)
    rewards, infos, episodes = [], [], []
    for a in actions:
        _, r, term, trunc, info = env.step(a)
        rewards.append(float(r))
        infos.append(info)
        if term or trunc:
            episodes.append(info["episode"])
            env.reset()
    return rewards, infos, episodes


def test_episode_stats_are_the_unshaped_game_score():
    actions = [0, 1, 2] * (STEPS // 3)
    plain_r, _, plain_eps = play(make_env("Skiing", **SHORT), actions)
    shaped = ManualReward(make_env("Skiing", **SHORT), SKIING)
    shaped_r, infos, shaped_eps = play(shaped, actions)
    assert plain_eps, "the test needs finished episodes"
    assert [e["r"] for e in shaped_eps] == [e["r"] for e in plain_eps]
    assert [e["l"] for e in shaped_eps] == [e["l"] for e in plain_eps]
    aux = np.array([i["aux_reward"] for i in infos])
    game = np.array([i["game_reward"] for i in infos])
    assert np.allclose(game, plain_r)
    assert np.allclose(np.array(shaped_r), game + aux)
    # Skiing on these actions hits moguls/flags/trees: the auxiliary reward pays.
    assert (aux < 0).sum() >= 2 and set(np.unique(aux)) <= {0.0, -5.0, -10.0, -15.0}
    paying = [e for i in infos for e in i["aux_events"]]
    assert len(paying) == int(round(-aux.sum() / 5)) and {e.category for e in paying} <= set(SKIING)
    ends = [i["shaping"] for i in infos if "shaping" in i]
    assert len(ends) == len(plain_eps)
    assert sum(d["aux_return"] for d in ends) == pytest.approx(aux[: max(
        k for k, i in enumerate(infos) if "shaping" in i) + 1].sum())


def test_aux_reward_is_not_clipped_with_the_game_reward():
    env = ManualReward(make_env("Pong", clip_reward=True), {"Ball": 5.0, "Enemy": 0.0})
    env.reset(seed=0)
    for _ in range(300):
        _, r, _, _, info = env.step(env.action_space.sample())
        assert r == pytest.approx(np.sign(info["game_reward"]) + info["aux_reward"])


def test_no_table_means_no_wrapper_and_scale_overrides_anneal():
    env = make_env("Skiing")
    assert shape(env, None) is env and find_shaper(env) is None
    shaped = shape(env, SKIING, scale=2.0, overrides={"Flag": 1.0}, anneal_steps=10,
                   final_weight=0.5)
    shaper = find_shaper(shaped)
    assert shaper.rewards == {"Tree": -5.0, "Mogul": -5.0, "Flag": 1.0}
    assert shaper.weight == 2.0
    shaper.timesteps = 5
    assert shaper.weight == pytest.approx(1.5)
    shaper.timesteps = 50
    assert shaper.weight == pytest.approx(1.0)


def test_bad_arguments_are_rejected():
    from reward_shaping.table import build_reward_table

    env = make_env("Skiing")
    with pytest.raises(ValueError, match="scale"):
        ManualReward(env, SKIING, scale=-1)
    with pytest.raises(ValueError, match="finite"):
        ManualReward(env, {"Tree": float("nan")})
    with pytest.raises(ValueError, match="final_weight"):
        ManualReward(env, SKIING, anneal_steps=10, final_weight=2.0)
    with pytest.raises(TypeError):
        reward_lookup(["Tree"])
    table = build_reward_table("Skiing")
    with pytest.raises(ValueError, match="'Yeti', which is not in the Skiing table"):
        reward_lookup(table, {"Yeti": 1.0})
    untracked = ManualReward(make_env("Skiing", track_objects=False), SKIING)
    untracked.reset(seed=0)
    with pytest.raises(KeyError, match="interaction detector"):
        untracked.step(0)


def test_passes_gymnasium_env_checker():
    from gymnasium.utils.env_checker import check_env

    env = ManualReward(make_env("Skiing"), SKIING)
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=UserWarning)
        # check_env always notes that a wrapped env is not its unwrapped self; any
        # other warning (spaces, determinism, info types) fails the test.
        warnings.filterwarnings("ignore", message=".*different from the unwrapped version")
        check_env(env, skip_render_check=True)


def test_vector_forms_match_the_single_env_form():
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    actions = np.array([[0, 2]] * 250)
    singles = []
    for i in range(2):
        env = ManualReward(make_env("Skiing", **SHORT), SKIING)
        env.reset(seed=10 + i)
        singles.append([env.step(int(a))[1] for a in actions[:, i]])
    expected = np.array(singles).T

    sb3 = ManualRewardVecEnv(
        DummyVecEnv([lambda: make_env("Skiing", record_stats=Monitor, **SHORT)] * 2), SKIING)
    sb3.seed(10)
    sb3.reset()
    got = np.array([sb3.step(a)[1] for a in actions])
    assert np.allclose(got, expected) and (got < -5).any()

    gvec = ManualRewardVector(
        gym.vector.SyncVectorEnv([lambda: make_env("Skiing", **SHORT)] * 2), SKIING)
    gvec.reset(seed=[10, 11])
    out = [gvec.step(a) for a in actions]
    got = np.array([o[1] for o in out])
    assert np.allclose(got, expected)
    assert np.allclose(got, [o[4]["game_reward"] + o[4]["aux_reward"] for o in out])


def test_events_pay_by_kind_and_overrides_can_name_a_kind():
    from envs.interactions import InteractionEvent
    from reward_shaping.wrappers import _Shaper

    def ev(cat, kind="touch"):
        return InteractionEvent(0, 0, cat, 1, (0, 0, 1, 1), (0, 0, 1, 1), kind)

    table = {"Tree": -5.0, "Gate": {"pass": 5.0, "miss": -5.0}}
    assert reward_lookup(table) == {"Tree": -5.0, "Gate:pass": 5.0, "Gate:miss": -5.0}
    assert reward_lookup(table, {"Gate": {"miss": -1}})["Gate:miss"] == -1.0
    assert reward_lookup(table, {"Gate:pass": 2})["Gate:pass"] == 2.0
    with pytest.raises(ValueError, match="unknown event kind 'through'"):
        reward_lookup(table, {"Gate": {"through": 1}})
    shaper = _Shaper(table, 1, 1.0, None, 0, 1.0)
    aux, event, paid = shaper.apply(0, [ev("Gate", "pass"), ev("Gate", "pass"), ev("Gate", "miss"),
                                        ev("Tree"), ev("Gate")])  # a plain "Gate" touch: 0
    assert aux == event == 5 + 5 - 5 - 5 and len(paid) == 4
    totals = shaper.end_episode(0)
    assert totals["contacts"] == {"Gate:pass": 2, "Gate:miss": 1, "Tree": 1, "Gate": 1}
    assert totals["paid"] == {"Gate:pass": 2, "Gate:miss": 1, "Tree": 1}


# -- the life-loss control ---------------------------------------------------------------------


class _Lives:
    """A VecEnv stand-in whose two envs report scripted lives, dones and rewards."""

    num_envs = 2
    observation_space = gym.spaces.Box(0, 1, (1,))
    action_space = gym.spaces.Discrete(2)
    render_mode = None

    def __init__(self, script):
        self.script = script  # per step: (lives, dones, rewards)
        self.t = 0

    def reset(self):
        return np.zeros((2, 1))

    def step_async(self, actions):
        pass

    def step_wait(self):
        lives, dones, rewards = self.script[self.t]
        self.t += 1
        infos = [{"lives": n} for n in lives]
        return np.zeros((2, 1)), np.array(rewards, np.float32), np.array(dones), infos


def test_life_loss_penalty_pays_each_life_lost_and_never_across_an_episode_end():
    from reward_shaping.wrappers import LifeLossPenalty

    venv = LifeLossPenalty(_Lives([
        ((3, 3), (False, False), (1.0, 0.0)),   # first step: lives become known
        ((2, 3), (False, False), (0.0, 1.0)),   # env 0 loses one
        ((0, 3), (True, False), (0.0, 0.0)),    # env 0 loses two at game over
        ((3, 1), (False, False), (0.0, 0.0)),   # env 0's new episode; env 1 loses two
    ]), penalty=5)
    venv.reset()
    got = []
    for _ in range(4):
        _, rewards, _, infos = venv.step_wait()
        got.append((rewards.tolist(), [i["life_penalty"] for i in infos],
                    [i["game_reward"] for i in infos]))
    assert [g[0] for g in got] == [[1, 0], [-5, 1], [-10, 0], [0, -10]]
    assert got[3][1] == [-0.0, -10.0] and got[1][2] == [0.0, 1.0]  # the game's reward kept
    with pytest.raises(ValueError, match="positive"):
        LifeLossPenalty(_Lives([]), penalty=0)
    with pytest.raises(KeyError, match="lives"):
        bare = _Lives([((3, 3), (False, False), (0, 0))])
        bare.step_wait = lambda: (np.zeros((2, 1)), np.zeros(2), np.zeros(2, bool), [{}, {}])
        LifeLossPenalty(bare, penalty=1).step_wait()


@pytest.mark.parametrize("backend", ["gymnasium", "envpool"])
def test_life_loss_penalty_on_both_backends_leaves_the_game_score(backend):
    """Kangaroo under random play loses lives within a few hundred steps on either path;
    each loss costs the penalty in that step and nothing else changes."""
    if backend == "envpool":
        pytest.importorskip("envpool")
    from agents.environments import EnvSettings, make_vec, resolve_target
    from reward_shaping.wrappers import LifeLossPenalty

    settings = EnvSettings(max_episode_frames=4000, backend=backend, obs="objects")
    venv = LifeLossPenalty(make_vec(resolve_target("Kangaroo"), settings, 2, 3,
                                    track_objects=False, vec_env="dummy"), penalty=5)
    venv.reset()
    rng = np.random.default_rng(3)
    lost = 0
    for _ in range(600):
        venv.step_async(rng.integers(venv.action_space.n, size=2))
        _, rewards, _, infos = venv.step_wait()
        for r, info in zip(rewards, infos):
            assert r == pytest.approx(np.sign(info["game_reward"]) + info["life_penalty"])
            lost += info["life_penalty"] < 0
            if "episode" in info:  # the logged score is the game's, unpenalised
                assert info["episode"]["r"] >= 0
    assert lost >= 2
    venv.close()
