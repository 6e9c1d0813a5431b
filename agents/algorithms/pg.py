"""Vanilla policy gradient (REINFORCE / GPOMDP) on SB3's on-policy machinery.

The gradient estimate is ``mean_t[(G_t - b_t) * grad log pi(a_t | s_t)]`` with
``G_t`` the discounted reward-to-go within the rollout (GPOMDP).  ``G_t`` is the
same for every baseline: the plain sum of rewards up to the episode's end or
the rollout's end (``n_steps``), whichever comes first.  No value estimate
enters it, not at time-limit truncations and not at the rollout's end: this is
the biased finite-horizon estimator, not an actor-critic.  The baselines
differ in ``b_t`` alone:

* ``none``: ``b_t = 0``;
* ``mean``: ``b_t`` is the batch mean of ``G_t``;
* ``value`` (default): a learned ``V(s_t)``, trained by regression on ``G_t``.

The value loss must not change the policy's step either: the value network has a
features extractor of its own (SB3's ``CnnPolicy`` shares one by default; with a
shared one, as in runs from before, the value reads its features detached), and
the policy's and the value's gradients are clipped each by its own norm.

(SB3's A2C adds ``gamma * V`` of the final state at truncations and at the
rollout's end; with ``gae_lambda = 1`` that is A2C with ``n_steps``-step
returns.  Here the policy reports a bootstrap value of 0, so those additions
vanish.)

Example:
    >>> from agents.algorithms.pg import PG
    >>> model = PG("MlpPolicy", "CartPole-v1", baseline="none", n_steps=8, seed=0)
    >>> model.policy.use_value
    False
"""

from __future__ import annotations

from typing import Any

import torch as th
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3 import A2C
from stable_baselines3.common.policies import ActorCriticCnnPolicy, ActorCriticPolicy
from stable_baselines3.common.utils import explained_variance

from agents.algorithms.hlgauss import actor_critic_step
from agents.algorithms.networks import actor_critic_parameters

BASELINES = ("none", "mean", "value")


class _BaselineValue:
    """Mixin: the value net is a baseline only; nothing bootstraps from it.

    ``forward`` (what the rollout stores as ``values``, i.e. ``b_t``) reports
    ``V(s)``, or 0 with ``use_value=False``.  ``predict_values`` is what SB3
    bootstraps returns with (time-limit truncations, the rollout's end); it is
    0, so that ``G_t`` is the Monte-Carlo reward-to-go.  :meth:`baseline_values`
    gives the learned baseline.
    """

    def __init__(self, *args: Any, use_value: bool = True, **kwargs: Any) -> None:
        self.use_value = use_value
        super().__init__(*args, **kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return dict(super()._get_constructor_parameters(), use_value=self.use_value)

    def forward(self, obs: th.Tensor, deterministic: bool = False):
        actions, values, log_prob = super().forward(obs, deterministic)
        return actions, values if self.use_value else th.zeros_like(values), log_prob

    def predict_values(self, obs: th.Tensor) -> th.Tensor:
        return th.zeros((obs.shape[0], 1), device=obs.device)

    def baseline_values(self, obs: th.Tensor) -> th.Tensor:
        """``b(s)`` of the ``value`` baseline (0 without it)."""
        values = super().predict_values(obs)
        return values if self.use_value else th.zeros_like(values)

    def evaluate_actions(self, obs: th.Tensor, actions: th.Tensor):
        """As SB3's, but a shared features extractor reaches the value detached: the value
        loss trains the value's own layers, never the policy's trunk."""
        if not self.share_features_extractor:
            return super().evaluate_actions(obs, actions)
        features = self.extract_features(obs)
        distribution = self._get_action_dist_from_latent(self.mlp_extractor.forward_actor(features))
        values = self.value_net(self.mlp_extractor.forward_critic(features.detach()))
        return values, distribution.log_prob(actions), distribution.entropy()


class PGMlpPolicy(_BaselineValue, ActorCriticPolicy):
    """``MlpPolicy`` whose value output can be switched off."""


class PGCnnPolicy(_BaselineValue, ActorCriticCnnPolicy):
    """``CnnPolicy`` whose value output can be switched off."""


class PG(A2C):
    """REINFORCE / GPOMDP with a ``none``, ``mean`` or learned ``value`` baseline.

    Args:
        policy: ``MlpPolicy`` or ``CnnPolicy``.
        env: The environment.
        baseline: One of :data:`BASELINES`.
        **kwargs: As for SB3's ``A2C`` (``gae_lambda`` must stay 1: the returns
            are Monte-Carlo reward-to-go, not GAE).  With the ``value`` baseline
            ``policy_kwargs["share_features_extractor"]`` defaults to ``False``.
    """

    policy_aliases = {"MlpPolicy": PGMlpPolicy, "CnnPolicy": PGCnnPolicy}  # type: ignore[assignment]

    def __init__(self, policy, env, baseline: str = "value", **kwargs: Any) -> None:
        # GAE with lambda < 1 would mix value estimates into the returns.
        if kwargs.pop("gae_lambda", 1.0) != 1.0:
            raise ValueError("PG needs gae_lambda = 1 (Monte-Carlo reward-to-go)")
        if baseline not in BASELINES:
            raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
        self.baseline = baseline
        policy_kwargs = dict(kwargs.pop("policy_kwargs", None) or {})
        policy_kwargs["use_value"] = baseline == "value"
        if baseline == "value":
            # The value's own trunk: a shared one would only ever read detached features.
            policy_kwargs.setdefault("share_features_extractor", False)
        kwargs.setdefault("normalize_advantage", False)
        super().__init__(policy, env, gae_lambda=1.0, policy_kwargs=policy_kwargs, **kwargs)

    def train(self) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        for rollout_data in self.rollout_buffer.get(batch_size=None):
            actions = rollout_data.actions
            if isinstance(self.action_space, spaces.Discrete):
                actions = actions.long().flatten()
            values, log_prob, entropy = self.policy.evaluate_actions(rollout_data.observations, actions)
            returns = rollout_data.returns  # G_t, the same for every baseline
            if self.baseline == "value":
                advantages = rollout_data.advantages  # G_t - V(s_t) at collection time
                value_loss = F.mse_loss(returns, values.flatten())
            elif self.baseline == "mean":
                advantages = returns - returns.mean()
                value_loss = th.zeros((), device=returns.device)
            else:
                advantages = returns
                value_loss = th.zeros((), device=returns.device)
            policy_loss, entropy_loss = actor_critic_step(
                self, advantages, log_prob, entropy, value_loss,
                clip_groups=actor_critic_parameters(self.policy))
        self._n_updates += 1
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/entropy_loss", entropy_loss.item())
        self.logger.record("train/policy_loss", policy_loss.item())
        self.logger.record("train/return_mean", returns.mean().item())
        if self.baseline == "value":
            self.logger.record("train/value_loss", value_loss.item())
            self.logger.record("train/explained_variance", explained_variance(
                self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten()))
