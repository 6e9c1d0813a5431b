"""HL-Gauss value heads: the math against hand-computed values, and learning on CartPole."""

import json
import math

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
    atari = ["--n-envs", "2", "--vec-env", "dummy", "--no-progress", "--device", "cpu",
             "--max-episode-frames", "1200", "--eval-episodes", "1"]
    assert main(["Skiing", "--algo", algo, "--value-head", head, "--steps", "300",
                 "--save-every", "256", "--out", str(out), *atari]) == 0
    assert main(["--resume", str(out), "--steps", "600"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["algo"] == algo and summary["steps"] >= 600 and summary["reward_table_sha256"]
    steps = sorted(int(p.name.split("_")[1]) for p in (out / "checkpoints").glob("step_*"))
    assert steps[-1] == summary["steps"] and len(steps) >= 2
