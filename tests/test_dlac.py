"""Double-loop actor-critic: TD(0) targets at episode boundaries, separate optimisers, learning."""


import numpy as np
import pytest
import torch

from agents.algorithms.dlac import DLAC, next_step_arrays, td_targets


def test_td_targets_stop_at_episode_ends():
    # 2 envs x 3 steps; env 0's episode ends at step 1, env 1's at the rollout's last step.
    obs = np.array([[10, 20], [11, 21], [12, 22]])
    starts = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])  # env 0 restarts at step 2
    nxt, done = next_step_arrays(obs, starts, last_obs=np.array([13, 23]),
                                 last_episode_starts=np.array([False, True]))
    assert nxt.tolist() == [[11, 21], [12, 22], [13, 23]]
    assert done.tolist() == [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    v_next = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    target = td_targets(torch.ones(3, 2), v_next, torch.as_tensor(done, dtype=torch.float32), gamma=0.9)
    # r + 0.9 V(s') unless the step ended its episode (then r alone).
    assert torch.allclose(target, torch.tensor([[1.9, 2.8], [1.0, 4.6], [5.5, 1.0]]))


def test_actor_and_critic_have_separate_networks_and_optimisers(tmp_path):
    model = DLAC("MlpPolicy", "CartPole-v1", critic_steps=3, seed=0, n_steps=8)
    actor = {id(p) for g in model.actor_optimizer.param_groups for p in g["params"]}
    critic = {id(p) for g in model.critic_optimizer.param_groups for p in g["params"]}
    assert actor and critic and not actor & critic
    assert {id(p) for p in model.policy.parameters()} == actor | critic
    before = [p.detach().clone() for p in model.policy.value_net.parameters()]
    model.learn(64)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.value_net.parameters()))
    model.save(tmp_path / "m.zip")
    loaded = DLAC.load(tmp_path / "m.zip")
    assert loaded.critic_steps == 3
    assert loaded.critic_optimizer.state_dict()["state"], "critic optimiser state not restored"
    with pytest.raises(ValueError, match="critic_steps"):
        DLAC("MlpPolicy", "CartPole-v1", critic_steps=0)


@pytest.mark.slow
def test_dlac_learns_cartpole(tmp_path, train_cartpole):
    out = tmp_path / "dlac"
    assert train_cartpole(out, "dlac", 40000)["mean"] > 100
    progress = (out / "progress.csv").read_text().splitlines()[0]
    assert "train/td_error_first_pass" in progress and "train/td_error_last_pass" in progress



def test_each_network_is_clipped_by_its_own_gradient_norm(monkeypatch):
    """The critic's passes clip the critic's gradient, the actor's step the actor's: a norm
    over all parameters would let the other network's leftover gradient scale the step."""
    model = DLAC("MlpPolicy", "CartPole-v1", n_steps=16, seed=0, critic_steps=2,
                 policy_kwargs={"net_arch": [16]})
    model.learn(32)  # leaves gradients behind in both networks, as every update does
    actor = {id(p) for g in model.actor_optimizer.param_groups for p in g["params"]}
    critic = {id(p) for g in model.critic_optimizer.param_groups for p in g["params"]}
    clipped, clip = [], torch.nn.utils.clip_grad_norm_

    def spy(parameters, *args, **kwargs):
        parameters = list(parameters)
        clipped.append({id(p) for p in parameters})
        return clip(parameters, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    model.train()
    assert clipped == [critic, critic, actor]


def test_k_critic_passes_per_update_and_the_td_error_falls_across_them():
    # gamma 0.5: the TD fixed point is near, so K passes visibly reduce the TD error.
    model = DLAC("MlpPolicy", "CartPole-v1", n_steps=64, seed=0, critic_steps=6, gamma=0.5,
                 critic_learning_rate=1e-2, policy_kwargs={"net_arch": [32]})
    model.learn(64)
    passes, step = [], model.critic_optimizer.step
    model.critic_optimizer.step = lambda *a, **k: (passes.append(1), step(*a, **k))[1]
    model.train()
    logged = model.logger.name_to_value
    assert len(passes) == 6
    assert logged["train/td_error_last_pass"] < 0.9 * logged["train/td_error_first_pass"]
