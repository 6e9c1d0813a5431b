"""Discrete DSAC-T: targets, clipping boundary, gradient weights and the delayed actor,
temperature and target updates by hand; save/load; learning."""

import json
import math

import pytest
import torch

from agents.algorithms.dsac import (
    DSAC,
    EPS,
    clip_sampled_target,
    critic_loss,
    dsac_targets,
    gradient_weight,
)
from agents.train import main


def test_targets_use_the_smaller_mean_critic_and_the_exact_policy_expectation():
    # One sample, 2 actions, policy (0.25, 0.75); critic 1 is smaller on action 0,
    # critic 2 on action 1.
    log_pi = torch.tensor([[0.25, 0.75]]).log()
    m1, s1 = torch.tensor([[1.0, 5.0]]), torch.tensor([[0.5, 0.5]])
    m2, s2 = torch.tensor([[2.0, 4.0]]), torch.tensor([[2.0, 2.0]])
    alpha, gamma, r = 0.1, 0.9, torch.tensor([1.0])
    expected, sampled = dsac_targets(r, torch.tensor([0.0]), gamma, alpha, log_pi, m1, s1, m2, s2,
                                     next_actions=torch.tensor([1]), noise=torch.tensor([0.5]))
    soft = [1.0 - alpha * math.log(0.25), 4.0 - alpha * math.log(0.75)]  # min means 1 and 4
    assert expected.item() == pytest.approx(1.0 + gamma * (0.25 * soft[0] + 0.75 * soft[1]))
    # Sampled a' = 1: critic 2's mean 4 and sigma 2, noise 0.5.
    assert sampled.item() == pytest.approx(1.0 + gamma * (4.0 + 0.5 * 2.0 - alpha * math.log(0.75)))
    # Terminal transitions keep only the reward.
    expected, sampled = dsac_targets(r, torch.tensor([1.0]), gamma, alpha, log_pi, m1, s1, m2, s2,
                                     torch.tensor([0]), torch.tensor([2.0]))
    assert expected.item() == sampled.item() == 1.0


def test_clipping_boundary_is_three_running_sigmas():
    q = torch.tensor([0.0, 0.0, 0.0])
    out = clip_sampled_target(torch.tensor([10.0, -10.0, 0.5]), q, mean_std=torch.tensor(1.0))
    assert out.tolist() == [3.0, -3.0, 0.5]


def test_gradient_weights_and_critic_loss_gradients_by_hand():
    b = torch.tensor(2.0)
    sigma = torch.tensor([1.0, 3.0])
    assert gradient_weight(b, sigma).tolist() == pytest.approx([(4 + EPS) / (1 + EPS),
                                                                (4 + EPS) / (9 + EPS)])
    q = torch.tensor([1.0, 2.0], requires_grad=True)
    std = sigma.clone().requires_grad_(True)
    y = torch.tensor([2.0, 0.0])
    y_b = torch.tensor([3.0, 2.0])
    critic_loss(q, std, y, y_b, b).backward()
    scale = 4 + EPS
    # d/dq = -(b^2+e)(y-q)/(s^2+e) / n; d/ds = -(b^2+e)((q-y_b)^2-s^2)/(s^3+e) / n
    assert q.grad.tolist() == pytest.approx([-scale * 1 / (1 + EPS) / 2, -scale * -2 / (9 + EPS) / 2])
    assert std.grad.tolist() == pytest.approx([-scale * (4 - 1) / (1 + EPS) / 2,
                                               -scale * (0 - 9) / (27 + EPS) / 2])


def test_save_load_and_argument_checks(tmp_path):
    model = DSAC("MlpPolicy", "CartPole-v1", learning_starts=32, batch_size=16, seed=0,
                 policy_kwargs={"net_arch": [32]})
    model.learn(120)
    assert model.mean_std.min() > 0 and model._n_updates > 0
    model.save(tmp_path / "m.zip")
    loaded = DSAC.load(tmp_path / "m.zip")
    assert torch.equal(loaded.mean_std, model.mean_std)
    assert loaded.log_alpha.item() == pytest.approx(model.log_alpha.item())
    obs = torch.zeros(1, 4)
    assert torch.allclose(loaded.policy.logits(obs), model.policy.logits(obs))
    with pytest.raises(ValueError, match="target_entropy_ratio"):
        DSAC("MlpPolicy", "CartPole-v1", target_entropy_ratio=1.5)
    with pytest.raises((AssertionError, ValueError), match="[Dd]iscrete"):
        DSAC("MlpPolicy", "Pendulum-v1")


@pytest.mark.slow
def test_dsac_on_atari_with_manual_shaping_trains_saves_and_resumes(tmp_path):
    hp = tmp_path / "hp.yml"
    # Small replay and an early start so that the CNN critics really train in a few steps.
    hp.write_text("atari:\n  learning_starts: 64\n  batch_size: 8\n  buffer_size: 2000\n"
                  "  optimize_memory_usage: false\n")
    out = tmp_path / "ski"
    args = ["--no-game-defaults", "--n-envs", "1", "--vec-env", "dummy", "--no-progress",
            "--device", "cpu", "--max-episode-frames", "800", "--eval-episodes", "1"]
    assert main(["Skiing", "--algo", "dsac", "--config", str(hp), "--steps", "200",
                 "--save-every", "100", "--out", str(out), *args]) == 0
    assert main(["--resume", str(out), "--steps", "300"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["algo"] == "dsac" and summary["steps"] >= 300
    header = (out / "progress.csv").read_text().splitlines()[0]
    assert "train/critic_loss" in header and "train/mean_sigma_running" in header


@pytest.mark.slow
def test_dsac_clearly_improves_on_cartpole(tmp_path, train_cartpole):
    """Random play scores ~22; the classic preset, evaluated greedily (DSAC's default),
    reached 116, 198 and 264 at 4k steps (seeds 0, 1, 2; 3k gradient steps)."""
    evaluation = train_cartpole(tmp_path / "dsac", "dsac", 4000)
    assert evaluation["deterministic"] and evaluation["mean"] > 80, evaluation


def test_train_step_uses_expected_targets_clipping_twin_critics_and_running_b(monkeypatch):
    """What one critic step of train() does, checked through its building blocks: the mean
    head learns from the expected target (not the sampled one), the std head from the
    sampled target clipped to 3 running sigmas, each of two critics from its own loss,
    and b follows sigma; the critics then step along their own losses' gradients."""
    import torch.nn.functional as F

    import agents.algorithms.dsac as dsac

    lr, tau_b = 0.05, 0.3
    model = DSAC("MlpPolicy", "CartPole-v1", learning_starts=32, batch_size=16, seed=0,
                 learning_rate=lr, tau_b=tau_b, policy_delay=10_000, gradient_steps=1,
                 policy_kwargs={"net_arch": [16], "optimizer_class": torch.optim.SGD})
    model.learn(48)
    p = model.policy
    critics = (p.critic1, p.critic2)
    calls = {"targets": [], "clip": [], "loss": [], "batch": []}

    def spy(name, fn):
        def wrapped(*args):
            out = fn(*args)
            calls[name].append((args, out))
            if name == "loss":  # the gradient this loss gives its critic, before the step
                critic = critics[len(calls["loss"]) - 1]
                calls["loss"][-1] += (torch.autograd.grad(out, list(critic.parameters()),
                                                          retain_graph=True),)
            return out
        return wrapped

    monkeypatch.setattr(dsac, "dsac_targets", spy("targets", dsac.dsac_targets))
    monkeypatch.setattr(dsac, "clip_sampled_target", spy("clip", dsac.clip_sampled_target))
    monkeypatch.setattr(dsac, "critic_loss", spy("loss", dsac.critic_loss))
    sample = model.replay_buffer.sample
    monkeypatch.setattr(model.replay_buffer, "sample",
                        lambda *a, **k: calls["batch"].append(sample(*a, **k)) or calls["batch"][-1])
    b0 = torch.tensor([0.01, 0.02])  # a tight boundary, so the clipping binds
    model.mean_std = b0.clone()
    before = [[w.detach().clone() for w in c.parameters()] for c in critics]
    model.train(gradient_steps=1, batch_size=16)

    (data,) = calls["batch"]
    obs, nxt = data.observations, data.next_observations
    actions = data.actions.long().flatten()
    (args, (expected, sampled)), = calls["targets"]
    with torch.no_grad():  # targets from the target critics and the policy at s'
        assert torch.allclose(args[4], F.log_softmax(p.actor(nxt), -1))
        for got, want in zip(args[5:9], (*p.critic1_target(nxt), *p.critic2_target(nxt))):
            assert torch.equal(got, want)
    assert not torch.allclose(expected, sampled)
    assert len(calls["loss"]) == len(calls["clip"]) == 2
    for i, ((q, sigma, exp_arg, bound, b), _, grads) in enumerate(calls["loss"]):
        with torch.no_grad():  # critic i as it was before the step
            names = [n for n, _ in critics[i].named_parameters()]
            mean, std = torch.func.functional_call(critics[i], dict(zip(names, before[i])), obs)
        assert torch.allclose(q, mean.gather(-1, actions[:, None]).squeeze(-1))
        assert torch.allclose(sigma, std.gather(-1, actions[:, None]).squeeze(-1))
        assert exp_arg is expected, "the mean head learns from the expected target"
        want_b = (1 - tau_b) * b0[i] + tau_b * sigma.detach().mean()
        assert b.item() == pytest.approx(want_b.item()) == model.mean_std[i].item()
        (c_sampled, c_q, c_b), clipped = calls["clip"][i]
        assert c_sampled is sampled and torch.equal(c_q, q.detach()) and c_b.item() == b.item()
        assert torch.equal(bound, clipped) and not torch.equal(bound, sampled)
        # The critic's step is its own loss's gradient step (SGD).
        for w0, w, g in zip(before[i], critics[i].parameters(), grads):
            assert torch.allclose(w.detach() - w0, -lr * g, atol=1e-7)
    q1, q2 = calls["loss"][0][0][0], calls["loss"][1][0][0]
    assert not torch.allclose(q1, q2), "two critics"


def test_delayed_actor_temperature_and_target_updates(monkeypatch):
    """Every policy_delay-th critic step, and only then: the actor steps along
    -grad E_pi[alpha log pi - min(Q1, Q2)] (the critics just updated, alpha before its
    step), log alpha along -(H - target entropy) (too much entropy lowers the temperature),
    and each target critic moves tau of the way to its critic."""
    lr, tau = 0.05, 0.3
    model = DSAC("MlpPolicy", "CartPole-v1", learning_starts=32, batch_size=16, seed=0,
                 learning_rate=lr, tau=tau, policy_delay=2, initial_alpha=0.5,
                 policy_kwargs={"net_arch": [16], "optimizer_class": torch.optim.SGD})
    model.learn(32)  # fills the buffer up to learning_starts: no update yet
    assert model._n_updates == 0
    # Plain SGD for the temperature too, so that its step is -lr x its loss's gradient.
    model.alpha_optimizer = torch.optim.SGD([model.log_alpha], lr=lr)
    p = model.policy
    delayed = (p.actor, p.critic1_target, p.critic2_target)

    def snapshot() -> list[torch.Tensor]:
        return [w.detach().clone() for m in delayed for w in m.parameters()] + \
            [model.log_alpha.detach().clone()]

    before = snapshot()
    model.train(gradient_steps=1, batch_size=16)  # critic step 1 of 2
    assert all(torch.equal(a, b) for a, b in zip(before, snapshot())), "updated before its delay"
    actor0 = [w.detach().clone() for w in p.actor.parameters()]
    targets0 = [[w.detach().clone() for w in t.parameters()] for t in delayed[1:]]
    log_alpha0 = model.log_alpha.item()
    batches, sample = [], model.replay_buffer.sample
    monkeypatch.setattr(model.replay_buffer, "sample",
                        lambda *a, **k: batches.append(sample(*a, **k)) or batches[-1])
    model.train(gradient_steps=1, batch_size=16)  # critic step 2 of 2: the delayed updates

    obs = p.preprocess(batches[0].observations)
    params = [w.clone().requires_grad_(True) for w in actor0]
    names = [n for n, _ in p.actor.named_parameters()]
    log_pi = torch.log_softmax(torch.func.functional_call(p.actor, dict(zip(names, params)), obs),
                               -1)
    pi = log_pi.exp()
    with torch.no_grad():  # the critics after this call's critic step
        qmin = torch.min(p.critic1(obs)[0], p.critic2(obs)[0])
    loss = (pi * (math.exp(log_alpha0) * log_pi - qmin)).sum(-1).mean()
    for w0, w, g in zip(actor0, p.actor.parameters(), torch.autograd.grad(loss, params)):
        assert torch.allclose(w.detach() - w0, -lr * g, atol=1e-7)
    entropy = -(pi * log_pi).sum(-1).mean().item()
    assert entropy > model.target_entropy  # a near-uniform start: too much entropy
    assert model.log_alpha.item() == pytest.approx(log_alpha0 - lr * (entropy - model.target_entropy))
    assert model.log_alpha.item() < log_alpha0
    for critic, target, old in zip((p.critic1, p.critic2), delayed[1:], targets0):
        for w, wt, wt0 in zip(critic.parameters(), target.parameters(), old):
            assert not torch.equal(wt, wt0)
            assert torch.allclose(wt, (1 - tau) * wt0 + tau * w.detach(), atol=1e-7)
