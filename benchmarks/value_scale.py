"""The scale of the rewards and values an agent's critic sees, under random play.

Builds the training environment exactly as ``agents.train`` does (the game's
env stack, the manual reward table with ``--shaping manual``, ``VecNormalize``
where the game's rewards are not clipped), plays uniformly random actions and
reports, over the episodes that finish:

* the reward per step the agent trains on (after shaping and normalisation);
* the discounted return ``G_t`` from every step (gamma as in the preset): the
  scale of the values a critic must represent, so it sizes an HL-Gauss support
  (fraction of ``G_t`` outside ``[-20, 20]``, ``[-100, 100]`` and the preset's own
  support ``[hl_v_min, hl_v_max]``);
* the game score and length of the episodes.

Random play is one policy, not a bound on every policy's values: ``--action``
plays one action throughout instead (on Skiing, action 1 turns the skier
sideways, where it stalls until the frame limit).

Usage::

    python benchmarks/value_scale.py Skiing --steps 60000 --n-envs 2
    python benchmarks/value_scale.py Skiing --action 1 --steps 28000 --n-envs 1
    python benchmarks/value_scale.py MsPacman --shaping manual --steps 20000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

SUPPORTS = (20.0, 100.0)


def returns_to_go(rewards: np.ndarray, dones: np.ndarray, gamma: float) -> list[np.ndarray]:
    """``G_t`` of every finished episode of one env's reward stream (unfinished tail dropped).

    Example:
        >>> [g.tolist() for g in returns_to_go(np.array([1.0, 1.0, 1.0]),
        ...                                    np.array([False, True, False]), 0.5)]
        [[1.5, 1.0]]
    """
    episodes, start = [], 0
    for end in np.flatnonzero(dones):
        r = rewards[start:end + 1]
        g = np.zeros_like(r)
        acc = 0.0
        for t in range(len(r) - 1, -1, -1):
            acc = r[t] + gamma * acc
            g[t] = acc
        episodes.append(g)
        start = end + 1
    return episodes


def measure(game: str, shaping: str, steps: int, n_envs: int, clip_reward: bool | None,
            algo: str, seed: int, action: int | None = None) -> dict:
    from agents.environments import EnvSettings
    from agents.runs import RunConfig
    from agents.train import Run

    cfg = RunConfig(game=game, algo=algo, shaping=shaping, seed=seed,
                    env=EnvSettings(clip_reward=clip_reward), hparams={"n_envs": n_envs})
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(cfg, Path(tmp), resume=False, progress=False)
        run.env_seed = seed
        hp = run._hparams()
        table = run._reward_table(resumed=False) if shaping == "manual" else None
        venv, norm = run.build_env(hp, table)
    rng = np.random.default_rng(seed)
    venv.reset()
    rewards = np.zeros((steps, n_envs), np.float32)
    dones = np.zeros((steps, n_envs), bool)
    scores, lengths = [], []
    t0 = time.time()
    for t in range(steps):
        actions = rng.integers(venv.action_space.n, size=n_envs) if action is None \
            else np.full(n_envs, action)
        _, rewards[t], dones[t], infos = venv.step(actions)
        for info in infos:
            if "episode" in info:
                scores.append(float(info["episode"]["r"]))
                lengths.append(int(info["episode"]["l"]))
    elapsed = time.time() - t0
    venv.close()
    gs = [g for e in range(n_envs) for g in returns_to_go(rewards[:, e], dones[:, e], hp.gamma)]
    done_steps = sum(len(g) for g in gs)
    flat = np.concatenate(gs) if gs else np.zeros(0)
    out = {
        "game": game, "shaping": shaping, "algo": algo, "gamma": hp.gamma,
        "policy": "random" if action is None else f"always action {action}",
        "normalized": norm is not None, "clip_reward": clip_reward, "steps": steps * n_envs,
        "steps_per_s": round(steps * n_envs / elapsed, 1), "episodes": len(scores),
        "score_mean": float(np.mean(scores)) if scores else None,
        "length_mean": float(np.mean(lengths)) if lengths else None,
        "reward_per_step_mean": float(rewards.mean()),
        "reward_per_step_abs_mean": float(np.abs(rewards).mean()),
        "reward_per_step_p1_p99": [float(np.percentile(rewards, 1)),
                                   float(np.percentile(rewards, 99))],
        "steps_in_finished_episodes": done_steps,
    }
    if done_steps:
        out["return_percentiles_0_1_50_99_100"] = [
            float(np.percentile(flat, q)) for q in (0, 1, 50, 99, 100)]
        for bound in SUPPORTS:
            out[f"outside_pm{bound:g}"] = float(np.mean(np.abs(flat) > bound))
        if hasattr(hp, "hl_v_min"):  # the on-policy presets' HL-Gauss support
            out["hl_support"] = [hp.hl_v_min, hp.hl_v_max]
            out["outside_hl_support"] = float(np.mean((flat < hp.hl_v_min) | (flat > hp.hl_v_max)))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("game")
    p.add_argument("--shaping", default="none", choices=["none", "manual"])
    p.add_argument("--algo", default="a2c", help="whose preset (gamma, normalisation)")
    p.add_argument("--steps", type=int, default=60_000, help="steps per env")
    p.add_argument("--n-envs", type=int, default=2)
    p.add_argument("--clip-reward", action="store_true", help="clip rewards to their sign")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--action", type=int, help="always play this action (default: random); "
                   "on Skiing 1 turns the skier sideways until the time limit")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    result = measure(args.game, args.shaping, args.steps, args.n_envs,
                     True if args.clip_reward else None, args.algo, args.seed, args.action)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
