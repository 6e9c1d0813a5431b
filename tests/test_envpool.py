"""The envpool fast path: the same game as make_env, SB3's and Gymnasium's conventions, errors."""

import numpy as np
import pytest

pytest.importorskip("envpool")  # declared for CPython 3.11-3.13; elsewhere the backend is absent

from envs.atari import choose_backend, make_env, make_vec_env  # noqa: E402
from envs.fast.envpool_vec import EnvpoolAtari, EnvpoolVecEnv  # noqa: E402
from envs.games import resolve_game  # noqa: E402

SKIING = {"Tree": -5.0, "Mogul": -5.0, "Flag": -5.0, "Gate:pass": 5.0, "Gate:miss": -5.0}


def deterministic_pair(game, **kw):
    """Today's env and the fast one, without random starts or sticky actions.

    Both run exactly one no-op frame after reset (envpool cannot run none).
    """
    kw = {"noop_max": 1, "sticky_actions": 0.0, "track_objects": False, **kw}
    fast = EnvpoolAtari(game, 1, num_threads=1, same_step_reset=True, **kw)
    return make_env(game, **kw), fast


@pytest.mark.parametrize("game, kw, ends", [
    ("Breakout", {}, "terminated"),                       # clipped rewards, game over
    ("Skiing", {"max_episode_frames": 800}, "truncated"),  # unclipped, episode limit
])
def test_same_game_as_todays_path_step_for_step(game, kw, ends):
    ours, fast = deterministic_pair(game, **kw)
    obs, _ = ours.reset(seed=0)
    np.testing.assert_array_equal(fast.reset(seed=0)[0], obs)
    rng = np.random.default_rng(0)
    score = fast_score = 0.0
    for step in range(1, 3000):
        a = int(rng.integers(ours.action_space.n))
        obs, r, te, tr, info = ours.step(a)
        b = fast.step(np.array([a]))
        score += info.get("game_reward", r)
        fast_score += b.game_reward[0]
        assert (b.terminated[0], b.truncated[0]) == (te, tr), f"step {step}"
        if tr:
            # ALE stops at the frame limit, no-op frames included (here 3 frames into
            # the step); envpool finishes the step.  Only this reward differs.
            break
        assert (b.reward[0], b.game_reward[0]) == (r, info.get("game_reward", r)), f"step {step}"
        if te:
            break
        # Every observation but the episode's last (see envs.fast.envpool_vec's docstring).
        np.testing.assert_array_equal(b.obs[0], obs, err_msg=f"step {step}")
    assert (te, tr) == ((True, False) if ends == "terminated" else (False, True))
    assert info["episode"]["r"] == score and info["episode"]["l"] == step
    assert b.episodes[0][:2] == (fast_score, step)
    assert b.final_obs[0].shape == obs.shape
    if ends == "terminated":
        assert fast_score == score
    else:
        assert step == 800 // 4 and score < -100  # unclipped: minus elapsed time
        assert -7 <= fast_score - score < 0       # one more frame of elapsed time


@pytest.mark.parametrize("kw", [{"frame_stack": 1}, {"grayscale": False, "frame_stack": 2},
                                {"screen_size": (64, 48)}])
def test_other_observation_settings_match_too(kw):
    ours, fast = deterministic_pair("MsPacman", **kw)
    obs, _ = ours.reset(seed=0)
    assert fast.observation_space == ours.observation_space
    np.testing.assert_array_equal(fast.reset(seed=0)[0], obs)
    for a in (1, 2, 3, 4):
        np.testing.assert_array_equal(fast.step(np.array([a])).obs[0], ours.step(a)[0])
    fast.close()


def test_seeds_sticky_actions_and_no_op_starts():
    def run(seed, sticky=0.25, noop_max=30):
        env = EnvpoolAtari("Pong", 3, sticky_actions=sticky, noop_max=noop_max, num_threads=2)
        obs = [env.reset(seed=seed)]
        rng = np.random.default_rng(1)
        events = []
        for _ in range(60):
            b = env.step(rng.integers(env.action_space.n, size=3))
            obs.append(b.obs)
            events.append([(e.step, e.category, e.object_box) for ev in b.events for e in ev])
        env.close()
        return np.stack(obs), events

    (a, ev_a), (b, ev_b) = run(7), run(7)
    np.testing.assert_array_equal(a, b)
    assert ev_a == ev_b
    assert not np.array_equal(run(8)[0], a)              # another seed, another run
    assert not np.array_equal(a[:, 0], a[:, 1])           # envs start differently
    assert not np.array_equal(run(7, sticky=0.0)[0], a)  # sticky actions reach the emulator


def test_tracking_does_not_change_the_game():
    def trace(track):
        env = EnvpoolAtari("Breakout", 2, track_objects=track, clip_reward=False, num_threads=1)
        rows = [env.reset(seed=3).tobytes()]
        rng = np.random.default_rng(3)
        for _ in range(150):
            b = env.step(rng.integers(4, size=2))
            rows.append((b.obs.tobytes(), b.reward.tolist(), b.terminated.tolist()))
        env.close()
        return rows

    assert trace(True) == trace(False)


def test_sb3_vec_env_conventions_and_manual_shaping():
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor

    from reward_shaping.wrappers import ManualRewardVecEnv

    venv = ManualRewardVecEnv(EnvpoolVecEnv("Skiing", 2, max_episode_frames=400,
                                            clip_reward=True, num_threads=1), SKIING)
    venv.seed(0)
    obs = venv.reset()
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
    game, aux, events = np.zeros(2), np.zeros(2), 0
    for _ in range(100):
        obs, rewards, dones, infos = venv.step(np.array([0, 2]))
        for i, info in enumerate(infos):
            assert rewards[i] == pytest.approx(np.sign(info["game_reward"]) + info["aux_reward"])
            game[i] += info["game_reward"]
            aux[i] += info["aux_reward"]
            events += len(info["interactions"])
            assert info["aux_reward"] == sum(SKIING[ev.key] for ev in info["interactions"])
    assert dones.all()  # after 100 steps = 400 frames
    for i, info in enumerate(infos):
        assert info["TimeLimit.truncated"] is True
        assert info["episode"]["r"] == pytest.approx(game[i]) and info["episode"]["l"] == 100
        assert info["shaping"]["aux_return"] == pytest.approx(aux[i])
        assert info["terminal_observation"].shape == (4, 84, 84)
        # The returned observation starts the next episode: four copies of one frame.
        assert not np.array_equal(info["terminal_observation"], obs[i])
        assert all(np.array_equal(obs[i][0], obs[i][k]) for k in range(4))
    assert events > 0 and game.max() < -100
    assert venv.env_is_wrapped(Monitor) == [True, True]
    venv.close()

    class Noop:
        def predict(self, obs, state=None, episode_start=None, deterministic=False):
            return np.zeros(len(obs), np.int64), None

    plain = EnvpoolVecEnv("Skiing", 2, max_episode_frames=400, clip_reward=True, num_threads=1)
    scores, lengths = evaluate_policy(Noop(), plain, n_eval_episodes=2, return_episode_rewards=True)
    assert lengths == [100, 100] and min(scores) < -100  # the game score, not clipped rewards
    plain.close()


def test_gymnasium_vector_form_restarts_on_the_next_step():
    venv = make_vec_env("Freeway", 2, backend="envpool", noop_max=0, max_episode_frames=600,
                        ram_in_info=True)
    obs, infos = venv.reset(seed=0)
    assert obs.shape == (2, 4, 84, 84) and infos["ram"].shape == (2, 128)
    up = np.array([1, 1])  # Freeway's minimal action set: NOOP, UP, DOWN
    hits = 0
    for _ in range(150):
        obs, rewards, terminated, truncated, infos = venv.step(up)
        hits += sum(len(ev) for ev in infos["interactions"])
        if truncated.any():
            break
    assert truncated.all() and infos["_episode"].all() and (infos["episode"]["l"] == 150).all()
    assert hits > 0
    obs, rewards, terminated, truncated, infos = venv.step(up)  # the restart
    assert not (terminated | truncated).any() and (rewards == 0).all()
    assert all(ev == [] for ev in infos["interactions"])
    venv.close()


def test_backend_choice_and_bad_arguments():
    pong = resolve_game("Pong")
    assert choose_backend("auto", None) == "gymnasium"  # CartPole and the like
    assert choose_backend("gymnasium", pong) == "gymnasium"
    assert choose_backend("envpool", pong) == "envpool"
    assert choose_backend("auto", pong, track_objects=False) == "envpool"
    assert choose_backend("auto", pong, render_mode="rgb_array") == "gymnasium"
    with pytest.raises(ValueError, match="backend must be one of"):
        choose_backend("ale", pong)
    with pytest.raises(ValueError, match="Atari games only"):
        choose_backend("envpool", None)
    for kwargs, message in [({"terminal_on_life_loss": True}, "terminal_on_life_loss"),
                            ({"render_mode": "rgb_array"}, "render_mode"),
                            ({"noop_max": -1}, "noop_max"),
                            ({"num_threads": 0}, "num_threads")]:
        with pytest.raises(ValueError, match=message):
            EnvpoolAtari("Pong", 2, **kwargs)
    env = EnvpoolAtari("Pong", 2, num_threads=1)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(2))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="expected 2 actions"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="3 seeds for 2"):
        env.reset(seed=[1, 2, 3])
    env.close()


def test_tennis_server_bouncing_the_ball_pays_nothing_on_the_fast_path():
    # Standing still, the server bounces the ball on the spot for as long as the serve
    # waits: about one contact every 10 steps, none of them a hit (a rebound must come back
    # from REBOUND_AWAY first).  A ball that first appears at the server is not one either.
    fast = EnvpoolAtari("Tennis", 2, num_threads=1, track_objects=True, sticky_actions=0.0)
    fast.reset(seed=0)
    steps = [fast.step(np.zeros(2, int)) for _ in range(600)]
    assert not any(e.category == "Ball" for b in steps for evs in b.events for e in evs)
    assert not any(b.terminated.any() or b.truncated.any() for b in steps)
