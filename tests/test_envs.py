"""The Atari factory on real games: objects, preprocessing, episode ends, errors."""

import ale_py  # noqa: F401
import gymnasium as gym
import numpy as np
import pytest

from envs import UnknownGameError, make_env, make_vec_env, resolve_game

# Categories a seeded random run of 150 agent steps must show, avatar included.
EXPECTED = {
    "Skiing": {"Player", "Tree", "Mogul", "Flag"},
    "MsPacman": {"Player", "Ghost", "Pill", "PowerPill"},
    "Tennis": {"Player", "Enemy", "Ball"},
    "Breakout": {"Player", "Ball", "Block"},
    "Pong": {"Player", "Ball", "Enemy"},
    "Freeway": {"Chicken", "Car"},
    "Seaquest": {"Player", "Shark", "Diver"},
    "Boxing": {"Player", "Enemy"},
    "Asterix": {"Player", "Enemy", "Reward"},
    "Kangaroo": {"Player", "Monkey", "Fruit", "Child"},
    "SpaceInvaders": {"Player", "Alien", "Shield"},
    "Riverraid": {"Player", "FuelDepot", "Helicopter"},
}


@pytest.mark.parametrize("game", sorted(EXPECTED))
def test_game_builds_steps_and_shows_its_objects(game):
    env = make_env(game, objects_in_info=True, ram_in_info=True)
    obs, info = env.reset(seed=0)
    env.action_space.seed(0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert info["interactions"] == [] or all(e.step == 0 for e in info["interactions"])
    spec = resolve_game(game)
    seen = set()
    for _ in range(150):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert info["ram"].shape == (128,) and info["ram"].dtype == np.uint8
        for o in info["objects"]:
            assert o.category in spec.categories
            assert o.w >= 1 and o.h >= 1
        seen |= {o.category for o in info["objects"]}
        if terminated or truncated:
            env.reset()
    assert EXPECTED[game] <= seen
    assert spec.avatar in seen
    env.close()


def test_same_seed_same_observations_and_events():
    def trace():
        env = make_env("MsPacman")
        obs, _ = env.reset(seed=123)
        rng = np.random.default_rng(5)
        out = [obs]
        events = []
        for _ in range(120):
            obs, r, te, tr, info = env.step(int(rng.integers(env.action_space.n)))
            out.append(obs)
            events += [(e.step, e.frame, e.category, e.object_box) for e in info["interactions"]]
        return np.stack(out), events

    (obs_a, ev_a), (obs_b, ev_b) = trace(), trace()
    np.testing.assert_array_equal(obs_a, obs_b)
    assert ev_a == ev_b and len(ev_a) > 0


def test_tracking_does_not_change_the_game():
    def trace(track):
        env = make_env("Breakout", track_objects=track, clip_reward=False)
        obs, _ = env.reset(seed=7)
        env.action_space.seed(7)
        rows = []
        for _ in range(200):
            obs, r, te, tr, _ = env.step(env.action_space.sample())
            rows.append((obs.tobytes(), r, te, tr))
            if te or tr:
                break
        return rows

    assert trace(True) == trace(False)


@pytest.mark.parametrize(
    "game, max_frames, steps",
    [("Breakout", 108_000, 3000), ("Skiing", 600, 400)],
    ids=["terminated", "truncated"],
)
def test_episode_end_flags_match_plain_ale(game, max_frames, steps):
    """terminated/truncated of the full wrapper chain equal those of a plain ALE v5 env."""
    ours = make_env(game, noop_max=0, sticky_actions=0.0, frame_stack=1, clip_reward=False,
                    max_episode_frames=max_frames)
    plain = gym.make(f"ALE/{game}-v5", frameskip=4, repeat_action_probability=0.0,
                     max_num_frames_per_episode=max_frames)
    ours.reset(seed=3)
    plain.reset(seed=3)
    rng = np.random.default_rng(3)
    for step in range(steps):
        a = int(rng.integers(plain.action_space.n))
        _, r1, te1, tr1, _ = ours.step(a)
        _, r2, te2, tr2, _ = plain.step(a)
        assert (r1, te1, tr1) == (r2, te2, tr2), f"step {step}"
        if te2 or tr2:
            break
    else:
        pytest.fail(f"{game} did not end within {steps} steps")
    assert (te2, tr2) == ((True, False) if max_frames == 108_000 else (False, True))


def test_reward_clipping_defaults_per_game():
    def rewards(game, **kw):
        env = make_env(game, **kw)
        env.reset(seed=0)
        return [env.step(0)[1] for _ in range(20)]

    # Skiing pays minus elapsed time: unclipped by default, -1 per step once clipped.
    assert min(rewards("Skiing")) < -1
    assert set(rewards("Skiing", clip_reward=True)) == {-1.0}


def test_episode_statistics_report_unclipped_score():
    env = make_env("Skiing", clip_reward=True, max_episode_frames=400)
    env.reset(seed=0)
    total_raw = 0.0
    while True:
        _, r, te, tr, info = env.step(0)
        total_raw += info["game_reward"]
        assert r == np.sign(info["game_reward"])
        if te or tr:
            break
    assert info["episode"]["r"] == pytest.approx(total_raw)
    assert total_raw < -100


def test_raw_rgb_frames_reachable():
    env = make_env("Pong", render_mode="rgb_array")
    env.reset(seed=0)
    env.step(0)
    assert env.render().shape == (210, 160, 3)
    assert env.unwrapped.ale.getRAM().shape == (128,)


def test_vector_env_carries_events_per_env():
    venv = make_vec_env("Freeway", 2, backend="gymnasium", vectorization="sync", noop_max=0)
    venv.reset(seed=0)
    up = 1  # Freeway's minimal action set: NOOP, UP, DOWN
    hits = [0, 0]
    for _ in range(200):
        _, _, _, _, infos = venv.step(np.array([up, up]))
        for i in range(2):
            hits[i] += len(infos["interactions"][i])
    venv.close()
    assert hits[0] > 0 and hits[1] > 0


@pytest.mark.slow
def test_async_vector_env_in_worker_processes():
    venv = make_vec_env("Pong", 2, backend="gymnasium", vectorization="async", ram_in_info=True)
    obs, infos = venv.reset(seed=1)
    assert obs.shape == (2, 4, 84, 84)
    _, _, _, _, infos = venv.step(np.zeros(2, dtype=np.int64))
    assert infos["ram"].shape == (2, 128)
    venv.close()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"frame_skip": 0}, "frame_skip"),
        ({"frame_stack": 0}, "frame_stack"),
        ({"noop_max": -1}, "noop_max"),
        ({"sticky_actions": 1.5}, "sticky_actions"),
        ({"max_episode_frames": 0}, "max_episode_frames"),
        ({"track_objects": False, "ram_in_info": True}, "track_objects"),
        ({"render_mode": "human_please"}, "render_mode"),
    ],
)
def test_invalid_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_env("Pong", **kwargs)


def test_unknown_game_and_unknown_kwarg():
    with pytest.raises(UnknownGameError, match="Did you mean: MsPacman"):
        make_env("MsPacmn")
    with pytest.raises(TypeError, match="frameskip"):
        make_env("Pong", frameskip=4)
    with pytest.raises(ValueError, match="num_envs"):
        make_vec_env("Pong", 0)


def test_extractor_serves_a_batch_of_envs_in_one_call():
    from envs.objects import ObjectExtractor

    envs = [make_env("Skiing", track_objects=False) for _ in range(3)]
    rams = []
    for i, env in enumerate(envs):
        env.reset(seed=i)
        for _ in range(30 + 10 * i):
            env.step(i % 3)
        rams.append(env.unwrapped.ale.getRAM().copy())
    batch = ObjectExtractor("Skiing", num_envs=3).update(np.stack(rams))
    singles = [ObjectExtractor("Skiing").update(r)[0] for r in rams]
    for b, s in zip(batch, singles):
        np.testing.assert_array_equal(b.box, s.box)
        assert [o.category for o in b.records()] == [o.category for o in s.records()]
    assert len({tuple(b.box[0]) for b in batch}) > 1  # the envs really differ
    with pytest.raises(ValueError, match=r"shape \(128,\) or \(n, 128\)"):
        ObjectExtractor("Skiing").update(np.zeros(64, np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        ObjectExtractor("Skiing").update(np.zeros(128, np.int64))
