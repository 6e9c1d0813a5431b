"""HL-Gauss value heads: the math against hand-computed values, the expectation in GAE and
bootstrapping, and learning on CartPole."""

import json
import math

import numpy as np
import pytest
import torch

from agents.algorithms.hlgauss import HLGauss
from agents.train import main


def test_histogram_matches_hand_computed_gaussian_mass():
    hl = HLGauss(0.0, 10.0, 10)  # bin width 1, sigma 0.75
    p = hl.target_probs(torch.tensor([4.5]))[0]
    # Target at the centre of bin [4, 5]: mass erf(0.5 / (0.75 sqrt 2)) there, the rest
    # split symmetrically; renormalised by the mass inside [0, 10].
    inside = math.erf(4.5 / (0.75 * math.sqrt(2))) / 2 + math.erf(5.5 / (0.75 * math.sqrt(2))) / 2
    assert p[4].item() == pytest.approx(math.erf(0.5 / (0.75 * math.sqrt(2))) / inside, abs=1e-6)
    side = (math.erf(1.5 / (0.75 * math.sqrt(2))) - math.erf(0.5 / (0.75 * math.sqrt(2)))) / 2
    assert p[3].item() == pytest.approx(side / inside, abs=1e-6)
    assert p[5].item() == pytest.approx(p[3].item(), abs=1e-7)


@pytest.mark.parametrize("v_min, v_max, bins", [(-10.0, 10.0, 51), (0.0, 100.0, 101), (-1.0, 1.0, 2)])
def test_probabilities_sum_to_one_and_round_trip(v_min, v_max, bins):
    hl = HLGauss(v_min, v_max, bins)
    width = (v_max - v_min) / bins
    # Away from the edges (where the Gaussian is cut) the expectation returns the scalar.
    targets = torch.linspace(v_min + 3 * width, v_max - 3 * width, 17) if bins > 6 else \
        torch.tensor([(v_min + v_max) / 2])
    p = hl.target_probs(targets)
    assert p.shape == (len(targets), bins)
    assert torch.allclose(p.sum(-1), torch.ones(len(targets)), atol=1e-6)
    assert (p >= 0).all()
    assert torch.allclose(hl.expectation(p.log()), targets, atol=1e-4 * (v_max - v_min))


def test_targets_outside_the_support_are_clipped_and_loss_is_cross_entropy():
    hl = HLGauss(-1.0, 1.0, 20)
    p = hl.target_probs(torch.tensor([50.0, -50.0]))
    assert torch.allclose(p, hl.target_probs(torch.tensor([1.0, -1.0])))
    logits = torch.randn(3, 20)
    target = torch.tensor([0.1, -0.5, 0.7])
    expected = -(hl.target_probs(target) * torch.log_softmax(logits, -1)).sum(-1).mean()
    assert hl.loss(logits, target).item() == pytest.approx(expected.item())
    # The loss is smallest for the target's own histogram.
    best = hl.target_probs(target).clamp_min(1e-12).log()
    assert hl.loss(best, target) < hl.loss(logits, target)
    with pytest.raises(ValueError):
        HLGauss(1.0, 1.0, 10)
    with pytest.raises(ValueError):
        HLGauss(0.0, 1.0, 1)


@pytest.mark.slow
@pytest.mark.parametrize("algo, threshold", [("a2c", 100.0), ("ppo", 100.0)])
def test_hl_gauss_critic_learns_cartpole_and_resumes(tmp_path, algo, threshold, train_cartpole):
    """Random play scores ~22; a working critic clearly beats it within 40k steps."""
    out = tmp_path / algo
    evaluation = train_cartpole(out, algo, 40000, "--value-head", "hl_gauss")
    assert evaluation["mean"] > threshold, evaluation
    # The checkpoint holds the histogram head; resuming continues with it.
    assert main(["--resume", str(out), "--steps", "41000"]) == 0
    from agents.algorithms.registry import HL_GAUSS

    model = HL_GAUSS[algo].load(sorted((out / "checkpoints").glob("step_*"))[-1] / "model.zip")
    assert model.policy.value_net.out_features == 121


@pytest.mark.slow
@pytest.mark.parametrize("algo, head", [("ppo", "hl_gauss"), ("a2c", "hl_gauss"), ("pg", "scalar"),
                                        ("dlac", "scalar")])
def test_agents_on_atari_with_manual_shaping_save_and_resume(tmp_path, algo, head):
    out = tmp_path / "ski"
    atari = ["--no-game-defaults", "--n-envs", "2", "--vec-env", "dummy", "--no-progress", "--device", "cpu",
             "--max-episode-frames", "1200", "--eval-episodes", "1"]
    assert main(["Skiing", "--algo", algo, "--value-head", head, "--steps", "300",
                 "--save-every", "256", "--out", str(out), *atari]) == 0
    assert main(["--resume", str(out), "--steps", "600"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["algo"] == algo and summary["steps"] >= 600 and summary["reward_table_sha256"]
    steps = sorted(int(p.name.split("_")[1]) for p in (out / "checkpoints").glob("step_*"))
    assert steps[-1] == summary["steps"] and len(steps) >= 2


def one_rollout_model(algo: str, **kw):
    """An HL-Gauss A2C or PPO with plain SGD, no clipping, and one collected rollout."""
    from agents.algorithms.registry import HL_GAUSS

    extra = {"n_epochs": 1, "batch_size": 64} if algo == "ppo" else {}
    model = HL_GAUSS[algo]("MlpPolicy", "CartPole-v1", n_steps=64, seed=0, learning_rate=0.1,
                           max_grad_norm=1e9, vf_coef=0.5,
                           policy_kwargs=dict({"optimizer_class": torch.optim.SGD,
                                               "net_arch": [16]}, **kw), **extra)
    model.learn(64)  # collects a rollout and trains on it; the buffer keeps that rollout
    return model


@pytest.mark.parametrize("algo", ["a2c", "ppo"])
def test_training_minimises_the_histogram_loss(algo):
    """train() moves the value head by -lr * vf_coef * grad of the HL-Gauss cross-entropy
    (MSE on the expectation, or any other loss, would move it elsewhere)."""
    model = one_rollout_model(algo, hl_v_min=-5.0, hl_v_max=60.0, hl_bins=65)
    policy, buf = model.policy, model.rollout_buffer
    obs = torch.as_tensor(buf.observations.reshape(-1, 4))
    actions = torch.as_tensor(buf.actions.reshape(-1)).long()
    returns = torch.as_tensor(buf.returns.reshape(-1))
    head = policy.value_net.weight
    logits = policy.evaluate_actions_logits(obs, actions)[0]
    (expected,) = torch.autograd.grad(0.5 * policy.hl.loss(logits, returns), head,
                                      retain_graph=True)
    (mse,) = torch.autograd.grad(0.5 * torch.nn.functional.mse_loss(
        policy.hl.expectation(logits), returns), head)
    before = head.detach().clone()
    model.train()
    step = head.detach() - before
    assert torch.allclose(step, -0.1 * expected, atol=1e-6, rtol=1e-4)
    assert not torch.allclose(step, -0.1 * mse, atol=1e-6, rtol=1e-2)


@pytest.mark.parametrize("algo", ["a2c", "ppo"])
def test_returns_outside_the_support_are_counted_and_their_range_logged(algo):
    model = one_rollout_model(algo, hl_v_min=-1.0, hl_v_max=3.0, hl_bins=8)
    returns = model.rollout_buffer.returns
    model.train()
    logged = model.logger.name_to_value
    assert 0 < logged["train/hl_clamped_fraction"] == pytest.approx(
        float(((returns < -1) | (returns > 3)).mean()))
    assert logged["train/hl_return_min"] == pytest.approx(float(returns.min()))
    assert logged["train/hl_return_max"] == pytest.approx(float(returns.max()))
    assert returns.max() > 3  # outside: the range shows by how much


@pytest.mark.parametrize("algo", ["a2c", "ppo"])
def test_atari_support_holds_every_return_of_clipped_rewards(algo):
    """|G| <= 1 / (1 - gamma) for rewards in [-1, 1]; Skiing with clipped rewards sits there."""
    from agents.algorithms.config import load_config

    for preset in ("atari", "objects"):
        cfg = load_config(algo, preset)
        bound = 1 / (1 - cfg.gamma)
        assert cfg.hl_v_min < -bound and cfg.hl_v_max > bound
        assert (cfg.hl_v_max - cfg.hl_v_min) / cfg.hl_bins <= 0.5  # Pong-sized values resolve


def test_the_atari_support_is_defined_once():
    """OnPolicyConfig's defaults are the Atari presets' support and the policies' default;
    only the classic presets (CartPole's returns) set their own."""
    import dataclasses
    import inspect

    import yaml

    from agents.algorithms.config import CONFIG_DIR, OnPolicyConfig
    from agents.algorithms.hlgauss import HLGaussMlpPolicy

    support = ("hl_v_min", "hl_v_max", "hl_bins", "hl_sigma_ratio")
    default = {f.name: f.default for f in dataclasses.fields(OnPolicyConfig) if f.name in support}
    for algo in ("a2c", "ppo"):
        presets = yaml.safe_load((CONFIG_DIR / f"{algo}.yml").read_text())
        for preset in ("atari", "objects"):
            assert not set(presets[preset]) & set(support), f"{algo}.yml [{preset}]"
        assert set(presets["classic"]) >= {"hl_v_min", "hl_v_max", "hl_bins"}
    params = inspect.signature(HLGaussMlpPolicy.__init__).parameters
    assert {name: params[name].default for name in support} == default


@pytest.mark.parametrize("algo", ["a2c", "ppo"])
def test_gae_and_bootstrapping_use_the_histograms_expectation(algo):
    """The values a rollout stores for GAE, the bootstrap at its end and the bootstrap of
    time-limit truncations are all sum_i softmax(logits)_i x centre_i, the histogram's
    expectation (its argmax bin, or any other summary, gives other returns)."""
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.algorithms.registry import HL_GAUSS

    finals = []

    class RecordFinal(gym.Wrapper):
        """Keeps the last observation of every episode cut at the time limit."""

        def step(self, action):
            obs, reward, terminated, truncated, info = self.env.step(action)
            if truncated and not terminated:
                finals.append(obs)
            return obs, reward, terminated, truncated, info

    venv = DummyVecEnv([lambda: Monitor(RecordFinal(gym.make("CartPole-v1", max_episode_steps=7)))])
    gamma, lam, n = 0.9, 0.8, 32
    extra = {"n_epochs": 1, "batch_size": n} if algo == "ppo" else {}
    model = HL_GAUSS[algo]("MlpPolicy", venv, n_steps=n, seed=0, gamma=gamma, gae_lambda=lam,
                           policy_kwargs={"net_arch": [16], "hl_v_min": -5.0, "hl_v_max": 20.0,
                                          "hl_bins": 25}, **extra)
    _, callback = model._setup_learn(n, None)
    callback.on_training_start(locals(), globals())
    model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=n)
    edges = torch.linspace(-5.0, 20.0, 26)
    centres = (edges[:-1] + edges[1:]) / 2

    def value(obs) -> torch.Tensor:  # the expectation, by hand, of the value head's logits
        obs = torch.as_tensor(np.asarray(obs, dtype=np.float32)).reshape(-1, 4)
        with torch.no_grad():
            logits = model.policy.evaluate_actions_logits(obs, torch.zeros(len(obs)))[0]
        return torch.softmax(logits, -1) @ centres

    buf = model.rollout_buffer
    values = value(buf.observations).numpy()
    assert np.allclose(buf.values[:, 0], values, atol=1e-5)
    # GAE from those values and the expected value of the state after the rollout.
    rewards, starts = buf.rewards[:, 0], buf.episode_starts[:, 0]
    next_values = np.append(values[1:], value(model._last_obs).numpy())
    not_done = 1.0 - np.append(starts[1:], model._last_episode_starts[0])
    advantages, gae = np.zeros(n), 0.0
    for t in reversed(range(n)):
        gae = rewards[t] + gamma * next_values[t] * not_done[t] - values[t] + \
            gamma * lam * not_done[t] * gae
        advantages[t] = gae
    assert np.allclose(buf.returns[:, 0], advantages + values, atol=1e-4)
    # Truncated steps: CartPole's reward 1 plus gamma x the expected value of the cut state.
    assert len(finals) >= 2
    booted = rewards[rewards != 1.0]
    assert np.allclose(booted, 1.0 + gamma * value(finals).numpy(), atol=1e-5)
