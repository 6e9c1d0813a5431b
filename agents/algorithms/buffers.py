"""A replay buffer that stores each frame once *and* bootstraps through time-limit truncations.

SB3's memory-optimised ``ReplayBuffer`` keeps one observation array: the next
observation of step ``t`` is the observation of step ``t + 1``.  When an
episode ends, the vectorised env has already reset, so slot ``t + 1`` holds
the next episode's first frame, and the true final frame is lost.  For a
termination that does not matter (its value is masked), but an episode cut at
the frame limit must be bootstrapped from its final frame.  SB3 therefore
refuses ``optimize_memory_usage`` together with ``handle_timeout_termination``,
and with timeout handling off a truncated episode is treated as a death and
valued at 0.  On Skiing, where every reward is negative, that makes stalling
until the time limit look good.

:class:`TimeoutReplayBuffer` records truncations (SB3's ``timeouts``) and keeps
the final frame of every truncated episode on the side, keyed by its slot.  A
sampled truncation gets that frame as its next observation and ``done = 0``,
so the target bootstraps through it.  Truncations are rare (at most one per
episode), so the side store is small: one frame per truncated episode still in
the buffer, against ``buffer_size`` frames in the main array.

Example:
    >>> import numpy as np
    >>> from gymnasium import spaces
    >>> buf = TimeoutReplayBuffer(8, spaces.Box(0, 9, (1,)), spaces.Discrete(2),
    ...                           device="cpu", optimize_memory_usage=True)
    >>> cut = [{"TimeLimit.truncated": True}]
    >>> buf.add(np.array([[0.0]]), np.array([[1.0]]), np.array([0]), np.array([1.0]),
    ...         np.array([False]), [{}])
    >>> buf.add(np.array([[1.0]]), np.array([[2.0]]), np.array([0]), np.array([1.0]),
    ...         np.array([True]), cut)                       # cut at the limit; final frame 2
    >>> buf.add(np.array([[7.0]]), np.array([[8.0]]), np.array([0]), np.array([1.0]),
    ...         np.array([False]), [{}])                     # next episode starts at 7
    >>> s = buf._get_samples(np.array([1]))
    >>> s.next_observations.item(), s.dones.item()           # not 7, and not a death
    (2.0, 0.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize


class TimeoutReplayBuffer(ReplayBuffer):
    """SB3's ``ReplayBuffer`` whose memory-optimised form also handles time-limit truncations.

    Args:
        buffer_size, observation_space, action_space, device, n_envs: As for SB3's buffer.
        optimize_memory_usage: Store each observation once.
        handle_timeout_termination: Bootstrap through truncations
            (``info["TimeLimit.truncated"]``); allowed with ``optimize_memory_usage``.
    """

    def __init__(self, buffer_size: int, observation_space: spaces.Space,
                 action_space: spaces.Space, device: Any = "auto", n_envs: int = 1,
                 optimize_memory_usage: bool = False, handle_timeout_termination: bool = True) -> None:
        if optimize_memory_usage and isinstance(observation_space, spaces.Dict):
            raise ValueError("TimeoutReplayBuffer does not support Dict observations")
        # SB3 refuses the combination; this class supplies what its buffer lacks.
        super().__init__(buffer_size, observation_space, action_space, device, n_envs=n_envs,
                         optimize_memory_usage=optimize_memory_usage,
                         handle_timeout_termination=handle_timeout_termination
                         and not optimize_memory_usage)
        self.handle_timeout_termination = handle_timeout_termination
        #: ``(slot, env) -> final observation`` of truncated episodes (memory-optimised only).
        self.final_observations: dict[tuple[int, int], np.ndarray] = {}

    def add(self, obs: np.ndarray, next_obs: np.ndarray, action: np.ndarray, reward: np.ndarray,
            done: np.ndarray, infos: list[dict[str, Any]]) -> None:
        if self.optimize_memory_usage:
            for env in range(self.n_envs):  # the slot is overwritten: its old final frame goes
                self.final_observations.pop((self.pos, env), None)
            if self.handle_timeout_termination:
                for env, info in enumerate(infos):
                    if done[env] and info.get("TimeLimit.truncated", False):
                        self.final_observations[(self.pos, env)] = np.array(next_obs[env])
        super().add(obs, next_obs, action, reward, done, infos)

    def _get_samples(self, batch_inds: np.ndarray,
                     env: VecNormalize | None = None) -> ReplayBufferSamples:
        if not self.optimize_memory_usage:
            return super()._get_samples(batch_inds, env)
        # SB3 seeds and samples from the legacy global RNG; so does its buffer here.
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))  # noqa: NPY002
        next_obs = self.observations[(batch_inds + 1) % self.buffer_size, env_indices]
        for j, key in enumerate(zip(batch_inds.tolist(), env_indices.tolist())):
            final = self.final_observations.get(key)
            if final is not None:
                next_obs[j] = final
        timeouts = self.timeouts[batch_inds, env_indices]
        data = (
            self._normalize_obs(self.observations[batch_inds, env_indices], env),
            self.actions[batch_inds, env_indices],
            self._normalize_obs(next_obs, env),
            (self.dones[batch_inds, env_indices] * (1 - timeouts)).reshape(-1, 1),
            self._normalize_reward(self.rewards[batch_inds, env_indices].reshape(-1, 1), env),
        )
        return ReplayBufferSamples(*tuple(map(self.to_torch, data)))
