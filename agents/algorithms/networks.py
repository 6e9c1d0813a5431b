"""The actor's and the critic's parameters of an SB3 actor-critic policy, clipped apart.

:class:`~agents.algorithms.dlac.DLAC` steps the two networks with optimisers of their
own; :class:`~agents.algorithms.pg.PG` steps them together.  Both clip each network's
gradient by its own norm: one norm over all parameters would let the value loss's
gradient shrink the policy's step.

Example:
    >>> from stable_baselines3 import A2C
    >>> policy = A2C("MlpPolicy", "CartPole-v1").policy
    >>> actor, critic = actor_critic_parameters(policy)
    >>> len(actor) + len(critic) == len(list(policy.parameters()))
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch as th
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn


def actor_critic_parameters(policy: ActorCriticPolicy) -> tuple[list[nn.Parameter],
                                                                 list[nn.Parameter]]:
    """``(actor, critic)``: disjoint lists that together hold every parameter of ``policy``.

    A shared features extractor counts as the actor's: a critic on top of it must read
    its features detached (as :class:`~agents.algorithms.pg.PG`'s value baseline does),
    or the value loss would move the policy's trunk.
    """
    actor = [*policy.pi_features_extractor.parameters(),
             *policy.mlp_extractor.policy_net.parameters(), *policy.action_net.parameters()]
    if hasattr(policy, "log_std"):
        actor.append(policy.log_std)
    critic = [*policy.mlp_extractor.value_net.parameters(), *policy.value_net.parameters()]
    if not policy.share_features_extractor:
        critic = [*policy.vf_features_extractor.parameters(), *critic]
    return actor, critic


def clip_each(groups: Sequence[Iterable[nn.Parameter]], max_norm: float) -> None:
    """Clip the gradient of each group of parameters to ``max_norm`` by that group's norm."""
    for params in groups:
        th.nn.utils.clip_grad_norm_(list(params), max_norm)
