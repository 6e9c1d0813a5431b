"""Double-loop actor-critic: K critic TD(0) passes per rollout, then one actor step.

After each rollout the critic runs an inner loop of ``critic_steps`` passes of
TD(0) regression.  Each pass recomputes its target ``r + gamma (1 - done) V(s')``
with the *current* critic.  Then the actor takes one policy-gradient step with
the TD(0) advantage ``r + gamma (1 - done) V(s') - V(s)`` of the updated
critic.  Actor and critic are separate networks (no shared features), each
with its own optimiser, step size and gradient-norm clipping.

``done`` is the end of an episode.  At time-limit truncations, SB3's rollout
collection has already added ``gamma * V(final observation)`` to the reward (with
the critic of collection time), so truncation is handled like termination here.

Example:
    >>> import torch
    >>> td_targets(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 2.0]),
    ...            torch.tensor([0.0, 1.0]), gamma=0.5).tolist()
    [2.0, 1.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3 import A2C
from stable_baselines3.common.utils import obs_as_tensor

from agents.algorithms.networks import actor_critic_parameters


def td_targets(rewards: th.Tensor, next_values: th.Tensor, dones: th.Tensor, gamma: float) -> th.Tensor:
    """TD(0) targets ``r + gamma * (1 - done) * V(s')`` (all tensors of one shape)."""
    return rewards + gamma * (1.0 - dones) * next_values


def next_step_arrays(observations: np.ndarray, episode_starts: np.ndarray, last_obs: np.ndarray,
                     last_episode_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``s'`` and ``done`` for every ``(step, env)`` of a rollout.

    ``episode_starts[t]`` says that ``s_t`` began a new episode, i.e. step
    ``t - 1`` ended one; the step after the rollout is the env's current state.
    (For a finished episode ``s'`` is the next episode's first observation, but
    ``done`` zeroes its value.)

    Example:
        >>> obs = np.arange(3).reshape(3, 1)            # 3 steps, 1 env
        >>> starts = np.array([[1.0], [0.0], [1.0]])    # step 1 ended an episode
        >>> nxt, done = next_step_arrays(obs, starts, np.array([7]), np.array([0.0]))
        >>> nxt.ravel().tolist(), done.ravel().tolist()
        ([1, 2, 7], [0.0, 1.0, 0.0])
    """
    next_obs = np.concatenate([observations[1:], last_obs[None]], axis=0)
    dones = np.concatenate([episode_starts[1:], np.asarray(last_episode_starts, np.float32)[None]],
                           axis=0)
    return next_obs, dones


class DLAC(A2C):
    """Double-loop actor-critic on SB3's A2C rollouts.

    Args:
        policy: ``MlpPolicy`` or ``CnnPolicy`` (built without shared features).
        env: The environment.
        critic_steps: Inner-loop TD(0) passes per rollout (K).
        critic_learning_rate: Critic step size; ``learning_rate`` is the actor's.
        **kwargs: As for SB3's ``A2C``; ``optimizer_class`` in ``policy_kwargs``
            (default Adam) is used for both optimisers.
    """

    def __init__(self, policy, env, critic_steps: int = 5, critic_learning_rate: float = 1e-3,
                 **kwargs: Any) -> None:
        # Zero inner passes would leave the critic untrained.
        if not isinstance(critic_steps, int) or critic_steps < 1:
            raise ValueError(f"critic_steps must be an int >= 1, got {critic_steps!r}")
        if not critic_learning_rate > 0:
            raise ValueError(f"critic_learning_rate must be > 0, got {critic_learning_rate!r}")
        self.critic_steps = critic_steps
        self.critic_learning_rate = critic_learning_rate
        policy_kwargs = dict(kwargs.pop("policy_kwargs", None) or {})
        policy_kwargs["share_features_extractor"] = False
        kwargs.setdefault("use_rms_prop", False)
        super().__init__(policy, env, policy_kwargs=policy_kwargs, **kwargs)

    def _setup_model(self) -> None:
        super()._setup_model()
        p = self.policy
        actor, critic = actor_critic_parameters(p)
        opt = p.optimizer_class
        kwargs = p.optimizer_kwargs
        self.actor_optimizer = opt(actor, lr=self.lr_schedule(1), **kwargs)
        self.critic_optimizer = opt(critic, lr=self.critic_learning_rate, **kwargs)

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "actor_optimizer", "critic_optimizer"], []

    @staticmethod
    def _clip(optimizer: th.optim.Optimizer, max_norm: float) -> None:
        """Clip the gradient of the parameters ``optimizer`` steps, and no others.

        A norm over all parameters would include the other network's leftover
        gradient and shrink this network's step by it.
        """
        th.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]],
                                    max_norm)

    def _values(self, obs: th.Tensor) -> th.Tensor:
        return self.policy.predict_values(obs).flatten()

    def train(self) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.actor_optimizer)
        buf = self.rollout_buffer
        n = buf.buffer_size * buf.n_envs
        next_obs, dones = next_step_arrays(buf.observations, buf.episode_starts,
                                           np.asarray(self._last_obs), self._last_episode_starts)
        obs = obs_as_tensor(buf.observations.reshape(n, *buf.obs_shape), self.device)
        next_obs = obs_as_tensor(next_obs.reshape(n, *buf.obs_shape), self.device)
        rewards = th.as_tensor(buf.rewards.reshape(n), device=self.device)
        dones_t = th.as_tensor(dones.reshape(n), device=self.device, dtype=th.float32)
        td_errors = []
        for _ in range(self.critic_steps):
            with th.no_grad():
                target = td_targets(rewards, self._values(next_obs), dones_t, self.gamma)
            values = self._values(obs)
            critic_loss = F.mse_loss(values, target)
            td_errors.append((target - values).abs().mean().item())
            self.critic_optimizer.zero_grad()
            critic_loss.backward()
            self._clip(self.critic_optimizer, self.max_grad_norm)
            self.critic_optimizer.step()
        with th.no_grad():
            advantages = td_targets(rewards, self._values(next_obs), dones_t, self.gamma) - self._values(obs)
        if self.normalize_advantage and n > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        actions = th.as_tensor(buf.actions.reshape(n, *buf.actions.shape[2:]), device=self.device)
        if isinstance(self.action_space, spaces.Discrete):
            actions = actions.long().flatten()
        _, log_prob, entropy = self.policy.evaluate_actions(obs, actions)
        actor_loss = -(advantages * log_prob).mean() - self.ent_coef * entropy.mean()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        self._clip(self.actor_optimizer, self.max_grad_norm)
        self.actor_optimizer.step()
        self._n_updates += 1
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/td_error_first_pass", td_errors[0])
        self.logger.record("train/td_error_last_pass", td_errors[-1])
        self.logger.record("train/critic_loss", critic_loss.item())
        self.logger.record("train/actor_loss", actor_loss.item())
        self.logger.record("train/entropy", entropy.mean().item())
