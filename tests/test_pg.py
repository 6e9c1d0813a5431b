"""Vanilla policy gradient: reward-to-go returns, no value leak without a baseline, learning."""


import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.algorithms.networks import actor_critic_parameters
from agents.algorithms.pg import PG


def one_rollout(baseline: str, gamma: float = 0.9, **kwargs) -> PG:
    """A PG that has collected one rollout and trained on it once (``kwargs`` go to PG)."""
    # Time limit 7: episodes are truncated (not terminated) inside the rollout, where
    # SB3 would add gamma * V(terminal obs) to the reward.
    venv = DummyVecEnv([lambda: Monitor(gym.make("CartPole-v1", max_episode_steps=7))] * 2)
    model = PG("MlpPolicy", venv, baseline=baseline, n_steps=20, gamma=gamma, seed=0, **kwargs)
    model.learn(total_timesteps=40)
    return model


def grid(arr: np.ndarray, n_steps: int = 20, n_envs: int = 2) -> np.ndarray:
    """Undo SB3's swap-and-flatten of buffer arrays after training: back to (n_steps, n_envs)."""
    return np.asarray(arr).reshape(n_envs, n_steps).T


def reward_to_go(rewards: np.ndarray, starts: np.ndarray, gamma: float) -> np.ndarray:
    """Hand-rolled GPOMDP returns per env column: G_t = r_t + gamma * G_{t+1} within an episode."""
    out = np.zeros_like(rewards)
    for env in range(rewards.shape[1]):
        g = 0.0
        for t in reversed(range(rewards.shape[0])):
            nxt_start = starts[t + 1, env] if t + 1 < rewards.shape[0] else 0.0
            g = rewards[t, env] + gamma * g * (1.0 - nxt_start)
            out[t, env] = g
    return out


def test_no_baseline_returns_are_pure_truncated_reward_to_go():
    model = one_rollout("none")
    buf = model.rollout_buffer
    assert np.all(buf.rewards == 1.0), "a value estimate leaked into the rewards"
    assert np.all(buf.values == 0.0)
    # The rollout's last step is not bootstrapped either: the estimator is truncated.
    expected = reward_to_go(buf.rewards, buf.episode_starts, 0.9)
    assert np.allclose(grid(buf.returns), expected, atol=1e-5)
    assert expected.max() > 4 and not np.allclose(expected, expected[0, 0])


def test_value_baseline_has_the_same_returns_and_subtracts_a_learned_v():
    """The baselines differ in b_t alone: no V(s') enters G_t at truncations or at the
    rollout's end (that would make it A2C with n_steps-step returns)."""
    model = one_rollout("value")
    buf = model.rollout_buffer
    assert np.all(buf.rewards == 1.0), "a value estimate leaked into the rewards"
    assert np.allclose(grid(buf.returns), reward_to_go(buf.rewards, buf.episode_starts, 0.9),
                       atol=1e-5)
    assert np.all(buf.values != 0.0), "the value baseline is learned"
    assert np.allclose(buf.advantages, buf.returns - buf.values, atol=1e-5)


@pytest.mark.parametrize("baseline", ["none", "mean", "value"])
def test_train_steps_with_the_baselines_advantage(monkeypatch, baseline):
    """What train() feeds the gradient step: G, G - mean(G) or G - V(s)."""
    import agents.algorithms.pg as pg

    model = one_rollout(baseline)
    seen, step = [], pg.actor_critic_step
    monkeypatch.setattr(pg, "actor_critic_step",
                        lambda algo, adv, *a, **k: (seen.append(adv.detach().numpy().copy()),
                                                    step(algo, adv, *a, **k))[1])
    model.train()
    buf = model.rollout_buffer  # train() shuffles: compare the advantages as multisets
    returns, values = buf.returns.ravel(), buf.values.ravel()
    expected = {"none": returns, "mean": returns - returns.mean(), "value": returns - values}
    assert len(seen) == 1 and np.allclose(np.sort(seen[0]), np.sort(expected[baseline]), atol=1e-5)
    assert baseline == "none" or not np.allclose(np.sort(seen[0]), np.sort(returns), atol=1e-3)


def test_mean_baseline_and_argument_checks():
    model = one_rollout("mean")
    assert np.all(model.rollout_buffer.values == 0.0)
    with pytest.raises(ValueError, match="gae_lambda"):
        PG("MlpPolicy", "CartPole-v1", gae_lambda=0.95)
    with pytest.raises(ValueError, match="baseline"):
        PG("MlpPolicy", "CartPole-v1", baseline="median")


@pytest.mark.slow
def test_pg_learns_cartpole(tmp_path, train_cartpole):
    out = tmp_path / "pg"
    assert train_cartpole(out, "pg", 40000)["mean"] > 100


class Trunk(BaseFeaturesExtractor):
    """A features extractor with weights, as a CNN trunk has (CartPole's flat one has none)."""

    def __init__(self, observation_space: gym.spaces.Box) -> None:
        super().__init__(observation_space, features_dim=8)
        self.layer = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.layer(obs)


@pytest.mark.parametrize("share", [None, True], ids=["own_trunk", "shared_trunk"])
def test_the_value_loss_never_changes_the_policy_step(share):
    """How much the value loss weighs (vf_coef) never changes the policy's step: the value
    has its own trunk (the default) or reads a shared one detached, and each network's
    gradient is clipped by its own norm (here every clip binds)."""
    max_norm = 0.05
    kwargs = {"features_extractor_class": Trunk, "optimizer_class": torch.optim.SGD}
    if share is not None:
        kwargs["share_features_extractor"] = share
    nets = []
    for vf_coef in (0.5, 50.0):
        model = one_rollout("value", vf_coef=vf_coef, max_grad_norm=max_norm, learning_rate=0.1,
                            policy_kwargs=kwargs)
        actor, critic = actor_critic_parameters(model.policy)
        assert model.policy.share_features_extractor is bool(share)
        for params in (actor, critic):  # the clips bound: the test sees what they do
            norm = torch.linalg.vector_norm(torch.stack([w.grad.norm() for w in params]))
            assert norm.item() == pytest.approx(max_norm, rel=1e-4)
        nets.append([w.detach() for w in actor])
    assert all(torch.allclose(a, b) for a, b in zip(*nets))
