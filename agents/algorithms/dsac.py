"""Discrete-action DSAC-T: distributional soft actor-critic with its three refinements.

Duan et al., "Distributional Soft Actor-Critic with Three Refinements" (DSAC-T),
adapted to discrete actions:

* **twin value distributions**: two critics, each with a mean head ``Q(s, .)`` and
  a std head ``sigma(s, .)`` over all actions.  For every next action, the
  critic with the smaller mean supplies the target mean *and* the sigma used
  for the sampled target;
* **expected value substituting**: the mean head learns from the expected
  target ``r + gamma (1 - d) sum_a' pi(a'|s') [Q(s', a') - alpha log pi(a'|s')]``,
  an exact expectation over the discrete policy.  Only the std head uses the
  sampled return ``r + gamma (1 - d) [Q(s', a') + clip(eps, -3, 3) sigma(s', a') - alpha log pi(a'|s')]``
  with ``a' ~ pi(.|s')``;
* **variance-based critic gradient adjusting**: a running mean ``b`` of sigma
  (rate ``tau_b``) sets the clipping boundary ``3 b`` of the sampled target
  around ``Q(s, a)``, and the critic gradient is weighted by
  ``(b^2 + eps) / (sigma^2 + eps)``.

There is also a softmax actor, an automatic temperature with target entropy
``kappa * log |A|``, delayed actor, temperature and target updates (every
``policy_delay`` critic steps), and Polyak-averaged target critics.  Replay is
:class:`~agents.algorithms.buffers.TimeoutReplayBuffer` (SB3's, bootstrapping
through time-limit truncations also when ``optimize_memory_usage`` stores each
Atari frame once).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch as th
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.torch_layers import FlattenExtractor, NatureCNN, create_mlp
from stable_baselines3.common.utils import polyak_update
from torch import nn

from agents.algorithms.buffers import TimeoutReplayBuffer

#: Added to variances in the critic loss (DSAC-T's ``bias``), keeps it finite as sigma -> 0.
EPS = 0.1


def dsac_targets(rewards: th.Tensor, dones: th.Tensor, gamma: float, alpha: float,
                 next_log_pi: th.Tensor, mean1: th.Tensor, std1: th.Tensor, mean2: th.Tensor,
                 std2: th.Tensor, next_actions: th.Tensor, noise: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
    """Expected target (for the means) and sampled target (for the stds), shape ``(n,)``.

    Args:
        rewards, dones: ``(n,)``.
        next_log_pi: ``(n, A)`` log-probabilities of the policy at ``s'``.
        mean1, std1, mean2, std2: ``(n, A)`` target critics at ``s'``.
        next_actions: ``(n,)`` actions sampled from the policy at ``s'``.
        noise: ``(n,)`` standard normal draws (clipped to [-3, 3] here).

    Example:
        >>> t = th.tensor
        >>> y, ys = dsac_targets(t([1.0]), t([0.0]), 0.5, 0.0, t([[0.0]]).log_softmax(-1),
        ...                      t([[2.0]]), t([[1.0]]), t([[4.0]]), t([[9.0]]), t([0]), t([5.0]))
        >>> y.item(), ys.item()   # critic 1 (smaller mean) for both; noise clipped to 3
        (2.0, 3.5)
    """
    use1 = mean1 <= mean2
    mean = th.where(use1, mean1, mean2)
    std = th.where(use1, std1, std2)
    pi = next_log_pi.exp()
    soft = mean - alpha * next_log_pi
    not_done = 1.0 - dones
    expected = rewards + gamma * not_done * (pi * soft).sum(-1)
    idx = next_actions.long().unsqueeze(-1)
    sample = mean.gather(-1, idx).squeeze(-1) + noise.clamp(-3.0, 3.0) * std.gather(-1, idx).squeeze(-1)
    sampled = rewards + gamma * not_done * (sample - alpha * next_log_pi.gather(-1, idx).squeeze(-1))
    return expected, sampled


def clip_sampled_target(sampled: th.Tensor, q: th.Tensor, mean_std: th.Tensor | float) -> th.Tensor:
    """The sampled target clipped to ``q +- 3 * mean_std`` (DSAC-T's boundary).

    Example:
        >>> clip_sampled_target(th.tensor([10.0, 1.5]), th.tensor([1.0, 1.0]), 0.5).tolist()
        [2.5, 1.5]
    """
    bound = 3.0 * mean_std
    return q + th.clamp(sampled - q, -bound, bound)


def gradient_weight(mean_std: th.Tensor | float, std: th.Tensor) -> th.Tensor:
    """Per-sample critic gradient weight ``(b^2 + EPS) / (sigma^2 + EPS)``.

    Example:
        >>> gradient_weight(1.0, th.tensor([1.0, 0.0])).tolist()
        [1.0, 11.0]
    """
    return (mean_std**2 + EPS) / (std.detach() ** 2 + EPS)


def critic_loss(q: th.Tensor, std: th.Tensor, expected: th.Tensor, sampled_bound: th.Tensor,
                mean_std: th.Tensor | float) -> th.Tensor:
    """DSAC-T's variance-adjusted critic loss, whose gradients are

    * w.r.t. ``q``: ``-(b^2+EPS) (y - q) / (sigma^2 + EPS)`` (mean from the expected target);
    * w.r.t. ``sigma``: ``-(b^2+EPS) ((q - y_b)^2 - sigma^2) / (sigma^3 + EPS)``
      (std from the clipped sampled target ``y_b``),

    averaged over the batch.
    """
    s = std.detach().clamp_min(0.0)
    scale = mean_std**2 + EPS
    mean_term = -(expected - q.detach()) / (s**2 + EPS) * q
    std_term = -((q.detach() - sampled_bound) ** 2 - s**2) / (s**3 + EPS) * std
    return scale * th.mean(mean_term + std_term)


class _Critic(nn.Module):
    """Features -> MLP -> mean ``(n, A)`` and std ``(n, A)`` (softplus, > 0)."""

    def __init__(self, features: nn.Module, features_dim: int, net_arch: list[int], n_actions: int) -> None:
        super().__init__()
        self.features = features
        self.body = nn.Sequential(*create_mlp(features_dim, 2 * n_actions, net_arch, nn.ReLU))
        self.n_actions = n_actions

    def forward(self, x: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        out = self.body(self.features(x))
        mean, raw = out[:, : self.n_actions], out[:, self.n_actions:]
        return mean, F.softplus(raw) + 1e-3


class DSACPolicy(BasePolicy):
    """Softmax actor and twin distributional critics (each with its own features)."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Discrete, lr_schedule,
                 net_arch: list[int] | None = None, features_extractor_class=None,
                 features_extractor_kwargs: dict[str, Any] | None = None,
                 normalize_images: bool = True, optimizer_class=th.optim.Adam,
                 optimizer_kwargs: dict[str, Any] | None = None) -> None:
        if not isinstance(action_space, spaces.Discrete):
            # The expectations over the policy are sums over a finite action set.
            raise ValueError(f"dsac is for discrete actions, got {action_space}")
        if features_extractor_class is None:
            image = len(getattr(observation_space, "shape", ())) == 3
            features_extractor_class = NatureCNN if image else FlattenExtractor
        super().__init__(observation_space, action_space, features_extractor_class,
                         features_extractor_kwargs or {}, optimizer_class=optimizer_class,
                         optimizer_kwargs=optimizer_kwargs, normalize_images=normalize_images)
        self.net_arch = [256, 256] if net_arch is None else list(net_arch)
        n = int(action_space.n)
        actor_features = self.make_features_extractor()
        self.actor = nn.Sequential(actor_features, *create_mlp(
            actor_features.features_dim, n, self.net_arch, nn.ReLU))
        critics = []
        for _ in range(4):
            f = self.make_features_extractor()
            critics.append(_Critic(f, f.features_dim, self.net_arch, n))
        self.critic1, self.critic2, self.critic1_target, self.critic2_target = critics
        self.critic1_target.load_state_dict(self.critic1.state_dict())
        self.critic2_target.load_state_dict(self.critic2.state_dict())
        for p in [*self.critic1_target.parameters(), *self.critic2_target.parameters()]:
            p.requires_grad = False
        lr = lr_schedule(1)
        self.actor_optimizer = optimizer_class(self.actor.parameters(), lr=lr, **self.optimizer_kwargs)
        self.critic_optimizer = optimizer_class(
            [*self.critic1.parameters(), *self.critic2.parameters()], lr=lr, **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(net_arch=self.net_arch, features_extractor_class=self.features_extractor_class,
                    features_extractor_kwargs=self.features_extractor_kwargs,
                    optimizer_class=self.optimizer_class, optimizer_kwargs=self.optimizer_kwargs)
        return data

    def logits(self, obs: th.Tensor) -> th.Tensor:
        return self.actor(self.preprocess(obs))

    def preprocess(self, obs: th.Tensor) -> th.Tensor:
        from stable_baselines3.common.preprocessing import preprocess_obs

        return preprocess_obs(obs, self.observation_space, normalize_images=self.normalize_images)

    def _predict(self, observation: th.Tensor, deterministic: bool = False) -> th.Tensor:
        logits = self.logits(observation)
        if deterministic:
            return logits.argmax(-1)
        return th.distributions.Categorical(logits=logits).sample()

    def forward(self, obs: th.Tensor, deterministic: bool = False) -> th.Tensor:
        return self._predict(obs, deterministic)

    def set_training_mode(self, mode: bool) -> None:
        for m in (self.actor, self.critic1, self.critic2):
            m.train(mode)
        self.training = mode


class DSAC(OffPolicyAlgorithm):
    """Discrete DSAC-T.

    Args:
        policy: ``MlpPolicy`` or ``CnnPolicy`` (both :class:`DSACPolicy`).
        env: Environment with a discrete action space.
        target_entropy_ratio: kappa in the target entropy ``kappa * log |A|``.
        tau_b: Rate of the running mean of sigma.
        policy_delay: Critic steps per actor / temperature / target update.
        initial_alpha: Starting temperature.
        replay_buffer_class: Default :class:`~agents.algorithms.buffers.TimeoutReplayBuffer`.
        Other arguments: as for SB3's off-policy algorithms.
    """

    policy_aliases = {"MlpPolicy": DSACPolicy, "CnnPolicy": DSACPolicy}  # type: ignore[assignment]

    def __init__(self, policy, env, learning_rate: float = 3e-4, buffer_size: int = 100_000,
                 learning_starts: int = 1000, batch_size: int = 256, tau: float = 0.005,
                 gamma: float = 0.99, train_freq: int = 1, gradient_steps: int = 1,
                 target_entropy_ratio: float = 0.89, tau_b: float = 0.005, policy_delay: int = 2,
                 initial_alpha: float = 0.1, optimize_memory_usage: bool = False,
                 replay_buffer_class: type | None = TimeoutReplayBuffer,
                 replay_buffer_kwargs: dict | None = None, policy_kwargs: dict | None = None,
                 seed: int | None = None, device: str = "auto", verbose: int = 0,
                 _init_setup_model: bool = True) -> None:
        # Out-of-range settings would silently disable or destabilise a refinement.
        if not 0.0 < target_entropy_ratio <= 1.0:
            raise ValueError(f"target_entropy_ratio must be in (0, 1], got {target_entropy_ratio}")
        if not 0.0 < tau_b <= 1.0 or not 0.0 < tau <= 1.0:
            raise ValueError("tau and tau_b must be in (0, 1]")
        if not isinstance(policy_delay, int) or policy_delay < 1:
            raise ValueError(f"policy_delay must be an int >= 1, got {policy_delay!r}")
        super().__init__(policy, env, learning_rate, buffer_size, learning_starts, batch_size,
                         tau, gamma, train_freq, gradient_steps,
                         replay_buffer_class=replay_buffer_class,
                         replay_buffer_kwargs=replay_buffer_kwargs,
                         optimize_memory_usage=optimize_memory_usage, policy_kwargs=policy_kwargs,
                         seed=seed, device=device, verbose=verbose, support_multi_env=True,
                         sde_support=False,
                         supported_action_spaces=(spaces.Discrete,))
        self.target_entropy_ratio = target_entropy_ratio
        self.tau_b = tau_b
        self.policy_delay = policy_delay
        self.initial_alpha = initial_alpha
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        super()._setup_model()
        n = int(self.action_space.n)
        self.target_entropy = self.target_entropy_ratio * math.log(n)
        self.log_alpha = th.tensor(math.log(self.initial_alpha), device=self.device,
                                   requires_grad=True)
        self.alpha_optimizer = th.optim.Adam([self.log_alpha], lr=self.lr_schedule(1))
        # Running means of each critic's sigma (None until the first batch).
        self.mean_std = th.full((2,), -1.0, device=self.device)

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.actor_optimizer", "policy.critic_optimizer",
                "alpha_optimizer"], ["log_alpha", "mean_std"]

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "log_alpha", "alpha_optimizer", "mean_std"]

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        self.policy.set_training_mode(True)
        lr = self.lr_schedule(self._current_progress_remaining)
        for opt in (self.policy.actor_optimizer, self.policy.critic_optimizer, self.alpha_optimizer):
            for group in opt.param_groups:
                group["lr"] = lr
        p = self.policy
        logs: dict[str, list[float]] = {k: [] for k in (
            "critic_loss", "actor_loss", "alpha", "entropy", "q", "sigma", "clip_frac",
            "q_action_gap", "pi_max")}
        for _ in range(gradient_steps):
            data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)
            obs, next_obs = p.preprocess(data.observations), p.preprocess(data.next_observations)
            actions = data.actions.long().flatten()
            rewards, dones = data.rewards.flatten(), data.dones.flatten()
            alpha = self.log_alpha.detach().exp()
            with th.no_grad():
                next_log_pi = F.log_softmax(p.actor(next_obs), -1)
                m1, s1 = p.critic1_target(next_obs)
                m2, s2 = p.critic2_target(next_obs)
                next_actions = th.distributions.Categorical(logits=next_log_pi).sample()
                noise = th.randn_like(rewards)
                expected, sampled = dsac_targets(rewards, dones, self.gamma, alpha, next_log_pi,
                                                 m1, s1, m2, s2, next_actions, noise)
            loss = th.zeros((), device=self.device)
            for i, critic in enumerate((p.critic1, p.critic2)):
                mean, std = critic(obs)
                q = mean.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
                sigma = std.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
                batch_std = sigma.detach().mean()
                self.mean_std[i] = batch_std if self.mean_std[i] < 0 else \
                    (1 - self.tau_b) * self.mean_std[i] + self.tau_b * batch_std
                bound = clip_sampled_target(sampled, q.detach(), self.mean_std[i])
                logs["clip_frac"].append(float((bound != sampled).float().mean()))
                loss = loss + critic_loss(q, sigma, expected, bound, self.mean_std[i])
                logs["q"].append(q.mean().item())
                logs["sigma"].append(sigma.mean().item())
            p.critic_optimizer.zero_grad()
            loss.backward()
            p.critic_optimizer.step()
            logs["critic_loss"].append(loss.item())
            self._n_updates += 1
            if self._n_updates % self.policy_delay == 0:
                logits = p.actor(obs)
                log_pi = F.log_softmax(logits, -1)
                pi = log_pi.exp()
                with th.no_grad():
                    qmin = th.min(p.critic1(obs)[0], p.critic2(obs)[0])
                actor_loss = (pi * (alpha * log_pi - qmin)).sum(-1).mean()
                p.actor_optimizer.zero_grad()
                actor_loss.backward()
                p.actor_optimizer.step()
                entropy = -(pi * log_pi).sum(-1).mean().detach()
                alpha_loss = self.log_alpha * (entropy - self.target_entropy)
                self.alpha_optimizer.zero_grad()
                alpha_loss.backward()
                self.alpha_optimizer.step()
                polyak_update(p.critic1.parameters(), p.critic1_target.parameters(), self.tau)
                polyak_update(p.critic2.parameters(), p.critic2_target.parameters(), self.tau)
                logs["actor_loss"].append(actor_loss.item())
                logs["entropy"].append(entropy.item())
                # How much the actions' values differ, against how far the policy commits.
                logs["q_action_gap"].append((qmin.max(-1).values - qmin.min(-1).values).mean().item())
                logs["pi_max"].append(pi.detach().max(-1).values.mean().item())
                logs["alpha"].append(self.log_alpha.exp().item())
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        for key, values in logs.items():
            if values:
                self.logger.record(f"train/{key}", float(np.mean(values)))
        self.logger.record("train/mean_sigma_running", self.mean_std.mean().item())
