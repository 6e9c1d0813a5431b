"""HL-Gauss value heads ("Stop Regressing", Farebrother et al. 2024) for A2C and PPO.

The critic predicts a histogram over ``[v_min, v_max]`` (``bins`` bins) and is
trained by cross-entropy against the *HL-Gauss* target: the probability mass a
Gaussian centred on the scalar return, with ``sigma = sigma_ratio x bin width``,
puts in each bin (differences of its CDF at the bin edges, renormalised to the
support).  The value used everywhere else (GAE, bootstrapping of truncated
episodes, logging) is the histogram's expectation, so the algorithms are
otherwise unchanged.  Returns outside the support are clamped to its ends;
``train/hl_clamped_fraction`` logs how many per update, and ``train/hl_return_min``
and ``train/hl_return_max`` the update's lowest and highest return, so a support
too narrow (or near its edge) for the game shows.

Example:
    >>> import torch
    >>> hl = HLGauss(-10.0, 10.0, 51)
    >>> p = hl.target_probs(torch.tensor([3.3]))
    >>> round(float(p.sum()), 6), round(float(hl.expectation(p.log())), 3)
    (1.0, 3.3)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch as th
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.policies import ActorCriticCnnPolicy, ActorCriticPolicy
from stable_baselines3.common.utils import explained_variance
from torch import nn

from agents.algorithms.config import OnPolicyConfig
from agents.algorithms.networks import clip_each


class HLGauss:
    """Scalar <-> histogram transform on a fixed support.

    Args:
        v_min: Lowest representable value (targets below are clipped to it).
        v_max: Highest representable value.
        bins: Number of bins.
        sigma_ratio: Gaussian std as a fraction of the bin width (0.75 in the paper).
    """

    def __init__(self, v_min: float, v_max: float, bins: int, sigma_ratio: float = 0.75) -> None:
        # An empty or inverted support cannot represent any value.
        if not v_max > v_min:
            raise ValueError(f"v_max must exceed v_min, got [{v_min}, {v_max}]")
        if not isinstance(bins, int) or bins < 2:
            raise ValueError(f"bins must be an int >= 2, got {bins!r}")
        if not sigma_ratio > 0:
            raise ValueError(f"sigma_ratio must be > 0, got {sigma_ratio!r}")
        self.v_min, self.v_max, self.bins = float(v_min), float(v_max), bins
        self.edges = th.linspace(self.v_min, self.v_max, bins + 1)
        self.centers = (self.edges[:-1] + self.edges[1:]) / 2
        self.sigma = sigma_ratio * (self.v_max - self.v_min) / bins

    def target_probs(self, target: th.Tensor) -> th.Tensor:
        """``(n,)`` scalar targets -> ``(n, bins)`` probabilities summing to 1."""
        edges = self.edges.to(target.device)
        t = target.clamp(self.v_min, self.v_max).unsqueeze(-1)
        cdf = th.special.erf((edges - t) / (math.sqrt(2.0) * self.sigma))
        mass = cdf[..., 1:] - cdf[..., :-1]
        return mass / (cdf[..., -1:] - cdf[..., :1])

    def clamped_fraction(self, target: th.Tensor | np.ndarray) -> float:
        """Fraction of ``target`` outside the support (clamped to its ends by the loss).

        Example:
            >>> HLGauss(-1.0, 1.0, 4).clamped_fraction(th.tensor([-3.0, 0.0, 0.5, 1.0]))
            0.25
        """
        t = th.as_tensor(target)
        return float(((t < self.v_min) | (t > self.v_max)).float().mean())

    def expectation(self, logits: th.Tensor) -> th.Tensor:
        """``(n, bins)`` logits -> ``(n,)`` expected values."""
        return F.softmax(logits, dim=-1) @ self.centers.to(logits.device)

    def loss(self, logits: th.Tensor, target: th.Tensor) -> th.Tensor:
        """Mean cross-entropy of ``logits`` against the HL-Gauss histogram of ``target``."""
        return -(self.target_probs(target.detach()) * F.log_softmax(logits, dim=-1)).sum(-1).mean()


class _HLGaussHead:
    """Mixin for SB3 actor-critic policies: histogram value head, expected-value outputs.

    The support defaults to :class:`~agents.algorithms.config.OnPolicyConfig`'s (the Atari
    presets'), the one place it is defined.
    """

    def __init__(self, *args: Any, hl_v_min: float = OnPolicyConfig.hl_v_min,
                 hl_v_max: float = OnPolicyConfig.hl_v_max, hl_bins: int = OnPolicyConfig.hl_bins,
                 hl_sigma_ratio: float = OnPolicyConfig.hl_sigma_ratio, **kwargs: Any) -> None:
        self.hl = HLGauss(hl_v_min, hl_v_max, hl_bins, hl_sigma_ratio)
        self._hl_kwargs = {"hl_v_min": hl_v_min, "hl_v_max": hl_v_max, "hl_bins": hl_bins,
                           "hl_sigma_ratio": hl_sigma_ratio}
        super().__init__(*args, **kwargs)

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        self.value_net = nn.Linear(self.mlp_extractor.latent_dim_vf, self.hl.bins)
        if self.ortho_init:
            self.value_net.apply(lambda m: self.init_weights(m, gain=1))
        # The optimiser must see the new head's parameters.
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1),
                                              **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return dict(super()._get_constructor_parameters(), **self._hl_kwargs)

    def _value_logits(self, latent_vf: th.Tensor) -> th.Tensor:
        return self.value_net(latent_vf)

    def _latents(self, obs: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        features = self.extract_features(obs)
        if self.share_features_extractor:
            return self.mlp_extractor(features)
        pi_features, vf_features = features
        return (self.mlp_extractor.forward_actor(pi_features),
                self.mlp_extractor.forward_critic(vf_features))

    def forward(self, obs: th.Tensor, deterministic: bool = False):
        latent_pi, latent_vf = self._latents(obs)
        values = self.hl.expectation(self._value_logits(latent_vf)).unsqueeze(-1)
        distribution = self._get_action_dist_from_latent(latent_pi)
        actions = distribution.get_actions(deterministic=deterministic)
        log_prob = distribution.log_prob(actions)
        actions = actions.reshape((-1, *self.action_space.shape))
        return actions, values, log_prob

    def evaluate_actions_logits(self, obs: th.Tensor, actions: th.Tensor):
        """Value logits, log-probabilities and entropy of ``actions`` (for the losses)."""
        latent_pi, latent_vf = self._latents(obs)
        distribution = self._get_action_dist_from_latent(latent_pi)
        return self._value_logits(latent_vf), distribution.log_prob(actions), distribution.entropy()

    def evaluate_actions(self, obs: th.Tensor, actions: th.Tensor):
        logits, log_prob, entropy = self.evaluate_actions_logits(obs, actions)
        return self.hl.expectation(logits).unsqueeze(-1), log_prob, entropy

    def predict_values(self, obs: th.Tensor) -> th.Tensor:
        features = super(ActorCriticPolicy, self).extract_features(obs, self.vf_features_extractor)
        latent_vf = self.mlp_extractor.forward_critic(features)
        return self.hl.expectation(self._value_logits(latent_vf)).unsqueeze(-1)


class HLGaussMlpPolicy(_HLGaussHead, ActorCriticPolicy):
    """``MlpPolicy`` with an HL-Gauss value head."""


class HLGaussCnnPolicy(_HLGaussHead, ActorCriticCnnPolicy):
    """``CnnPolicy`` with an HL-Gauss value head."""


HL_POLICIES = {"MlpPolicy": HLGaussMlpPolicy, "CnnPolicy": HLGaussCnnPolicy}


def _actions(algo, rollout_data) -> th.Tensor:
    if isinstance(algo.action_space, spaces.Discrete):
        return rollout_data.actions.long().flatten()
    return rollout_data.actions


def _log_support(algo) -> None:
    """Log how the rollout's returns sit on the support: the fraction outside it (clamped
    by the loss) and their range."""
    returns = algo.rollout_buffer.returns
    algo.logger.record("train/hl_clamped_fraction", algo.policy.hl.clamped_fraction(returns))
    algo.logger.record("train/hl_return_min", float(returns.min()))
    algo.logger.record("train/hl_return_max", float(returns.max()))


def actor_critic_step(algo, advantages: th.Tensor, log_prob: th.Tensor, entropy: th.Tensor,
                      value_loss: th.Tensor, clip_groups: Sequence[Iterable[nn.Parameter]] | None
                      = None) -> tuple[th.Tensor, th.Tensor]:
    """One A2C-style gradient step of ``algo.policy``; returns the policy and entropy losses.

    Loss: ``-mean(A log pi) - ent_coef * mean(H) + vf_coef * value_loss``, with
    optional advantage normalisation and gradient-norm clipping: over all parameters
    together, as SB3's A2C, or over each of ``clip_groups`` by its own norm.
    """
    if algo.normalize_advantage and len(advantages) > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    policy_loss = -(advantages * log_prob).mean()
    entropy_loss = -th.mean(entropy)
    loss = policy_loss + algo.ent_coef * entropy_loss + algo.vf_coef * value_loss
    algo.policy.optimizer.zero_grad()
    loss.backward()
    clip_each(clip_groups or [algo.policy.parameters()], algo.max_grad_norm)
    algo.policy.optimizer.step()
    return policy_loss, entropy_loss


class HLGaussA2C(A2C):
    """A2C whose critic is trained by HL-Gauss cross-entropy (policy loss unchanged)."""

    policy_aliases = HL_POLICIES  # type: ignore[assignment]

    def train(self) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        for rollout_data in self.rollout_buffer.get(batch_size=None):
            logits, log_prob, entropy = self.policy.evaluate_actions_logits(
                rollout_data.observations, _actions(self, rollout_data))
            value_loss = self.policy.hl.loss(logits, rollout_data.returns)
            policy_loss, entropy_loss = actor_critic_step(self, rollout_data.advantages, log_prob,
                                                          entropy, value_loss)
        self._n_updates += 1
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/explained_variance", explained_variance(
            self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten()))
        _log_support(self)
        self.logger.record("train/entropy_loss", entropy_loss.item())
        self.logger.record("train/policy_loss", policy_loss.item())
        self.logger.record("train/value_loss", value_loss.item())


class HLGaussPPO(PPO):
    """PPO whose critic is trained by HL-Gauss cross-entropy (value clipping unsupported)."""

    policy_aliases = HL_POLICIES  # type: ignore[assignment]

    def _setup_model(self) -> None:
        # Value clipping acts on scalar predictions; with a histogram it has no meaning.
        if self.clip_range_vf is not None:
            raise ValueError("HL-Gauss PPO does not support clip_range_vf")
        super()._setup_model()

    def train(self) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)
        pg_losses, value_losses, entropy_losses, clip_fractions, kls = [], [], [], [], []
        for _ in range(self.n_epochs):
            stop = False
            for rollout_data in self.rollout_buffer.get(self.batch_size):
                logits, log_prob, entropy = self.policy.evaluate_actions_logits(
                    rollout_data.observations, _actions(self, rollout_data))
                advantages = rollout_data.advantages
                if self.normalize_advantage and len(advantages) > 1:
                    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
                ratio = th.exp(log_prob - rollout_data.old_log_prob)
                policy_loss = -th.min(advantages * ratio,
                                      advantages * th.clamp(ratio, 1 - clip_range, 1 + clip_range)).mean()
                value_loss = self.policy.hl.loss(logits, rollout_data.returns)
                entropy_loss = -th.mean(entropy)
                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
                with th.no_grad():
                    log_ratio = log_prob - rollout_data.old_log_prob
                    kl = th.mean((th.exp(log_ratio) - 1) - log_ratio).item()
                pg_losses.append(policy_loss.item())
                value_losses.append(value_loss.item())
                entropy_losses.append(entropy_loss.item())
                clip_fractions.append(th.mean((th.abs(ratio - 1) > clip_range).float()).item())
                kls.append(kl)
                if self.target_kl is not None and kl > 1.5 * self.target_kl:
                    stop = True
                    break
                self.policy.optimizer.zero_grad()
                loss.backward()
                th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()
            self._n_updates += 1
            if stop:
                break
        self.logger.record("train/entropy_loss", np.mean(entropy_losses))
        self.logger.record("train/policy_gradient_loss", np.mean(pg_losses))
        self.logger.record("train/value_loss", np.mean(value_losses))
        self.logger.record("train/approx_kl", np.mean(kls))
        self.logger.record("train/clip_fraction", np.mean(clip_fractions))
        self.logger.record("train/explained_variance", explained_variance(
            self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten()))
        _log_support(self)
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)
