"""Replay: episodes cut at the time limit are bootstrapped, with the Atari presets' memory-optimised buffer."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from agents.algorithms.config import load_config
from agents.algorithms.registry import ALGOS


class Counter(gym.Env):
    """Observation = steps taken in the episode; terminates at ``end`` (if set)."""

    observation_space = spaces.Box(0, 100, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, end: int | None = None) -> None:
        self.end, self.t = end, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], np.float32), -1.0, self.t == self.end, False, {}


def transitions(algo: str, env: gym.Env, steps: int = 40):
    """Every stored transition of an ``algo`` model built from its Atari preset."""
    hp = load_config(algo, "atari", overrides={"policy": "MlpPolicy", "buffer_size": 64,
                                               "learning_starts": 10_000, "net_arch": [8]})
    assert hp.optimize_memory_usage, "the Atari preset's buffer is what this test is about"
    kwargs = hp.sb3_kwargs()
    kwargs.pop("policy")
    model = ALGOS[algo]("MlpPolicy", env, seed=0, **kwargs)
    model.learn(steps)
    buf = model.replay_buffer
    s = buf._get_samples(np.arange(buf.pos - 1))  # the newest slot has no successor yet
    return s.observations.numpy().ravel(), s.next_observations.numpy().ravel(), \
        s.dones.numpy().ravel()


@pytest.mark.parametrize("algo", ["dsac", "qrdqn"])
def test_time_limit_truncations_bootstrap_from_the_final_frame(algo):
    # Episodes are cut at 5 steps and never end otherwise.
    obs, nxt, dones = transitions(algo, gym.wrappers.TimeLimit(Counter(), max_episode_steps=5))
    assert (obs == 4).sum() >= 6, "several truncations were stored"
    assert np.array_equal(nxt, obs + 1), "a truncated step's next frame is its final frame"
    assert not dones.any(), "a truncation is not a death"


@pytest.mark.parametrize("algo", ["dsac", "qrdqn"])
def test_terminations_still_end_the_return(algo):
    obs, nxt, dones = transitions(algo, Counter(end=5))
    assert np.array_equal(dones, (obs == 4).astype(np.float32)) and dones.sum() >= 6
    assert np.array_equal(nxt[dones == 0], obs[dones == 0] + 1)


def test_final_frames_are_dropped_with_their_slots():
    from agents.algorithms.buffers import TimeoutReplayBuffer

    buf = TimeoutReplayBuffer(6, Counter.observation_space, Counter.action_space, device="cpu",
                              optimize_memory_usage=True)
    env = gym.wrappers.TimeLimit(Counter(), max_episode_steps=2)
    obs, _ = env.reset()
    for _ in range(30):
        new, r, term, trunc, info = env.step(0)
        if term or trunc:
            info = dict(info, **{"TimeLimit.truncated": trunc})
        buf.add(obs[None], new[None], np.array([0]), np.array([r]), np.array([term or trunc]), [info])
        obs = env.reset()[0] if term or trunc else new
    # One truncation every 2 steps; only those still in the 6-slot buffer keep their frame.
    assert len(buf.final_observations) == 3
