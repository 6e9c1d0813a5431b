"""Does Skiing's object vector hold what a good policy needs?  A ten-line controller on it.

Reads only the object observation of ``--obs objects`` (``envs/slots.py``: the
skier's x and dx, the gates' x, y and width) and steers towards the centre of the
next gate below the skier: it wants a sideways speed proportional to the distance,
presses RIGHT or LEFT (which turn the skier) when its ``dx`` is too far off, and
NOOP otherwise.  No RAM, no pixels, no learning.  If it skis a clean course, the
vector an agent learns from has everything the task needs, and what an agent
lacks is learning, not information.

Usage::

    python benchmarks/skiing_controller.py --episodes 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOOP, RIGHT, LEFT = 0, 1, 2  # Skiing's minimal action set


def controller(layout):
    """``act(obs) -> action`` for one environment's object vector of ``layout``."""
    index = {n: i for i, n in enumerate(layout.feature_names())}
    gates = [k for k in range(layout.counts[layout.categories.index("Gate")])]

    def feature(obs: np.ndarray, name: str, scale: float) -> float:
        return float(obs[index[name]]) * scale

    def act(obs: np.ndarray) -> int:
        x = feature(obs, "Player[0].x", 160) + 5  # the skier's box is 10 px wide
        y = feature(obs, "Player[0].y", 210)
        dx = feature(obs, "Player[0].dx", 16)
        below = [(feature(obs, f"Gate[{k}].y", 210),
                  feature(obs, f"Gate[{k}].x", 160) + feature(obs, f"Gate[{k}].w", 160) / 2)
                 for k in gates if obs[index[f"Gate[{k}].present"]] > 0]
        below = [g for g in below if g[0] + 5 > y]
        if not below:
            return NOOP
        target = min(below)[1]  # the nearest gate below
        want = float(np.clip((target - x) / 8, -2, 2))
        if dx < want - 0.5:
            return RIGHT
        if dx > want + 0.5:
            return LEFT
        return NOOP

    return act


def run(episodes: int, n_envs: int, seed: int) -> dict:
    from envs.fast.envpool_vec import EnvpoolAtari

    pool = EnvpoolAtari("Skiing", n_envs, obs="objects", same_step_reset=True)
    act = controller(pool.layout)
    obs = pool.reset(seed=seed)
    scores, passes, misses = [], [0] * n_envs, [0] * n_envs
    counts = []
    try:
        while len(scores) < episodes:
            batch = pool.step(np.array([act(o) for o in obs]))
            obs = batch.obs
            for i, events in enumerate(batch.events):
                passes[i] += sum(e.kind == "pass" for e in events)
                misses[i] += sum(e.kind == "miss" for e in events)
            for i, (score, _, _) in batch.episodes.items():
                scores.append(score)
                counts.append((passes[i], misses[i]))
                passes[i] = misses[i] = 0
    finally:
        pool.close()
    scores, counts = scores[:episodes], counts[:episodes]
    return {"episodes": episodes, "mean": float(np.mean(scores)), "std": float(np.std(scores)),
            "scores": scores, "gates_passed": [p for p, _ in counts],
            "gates_missed": [m for _, m in counts]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--n-envs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args()
    # Fewer than one episode or environment has nothing to report.
    if args.episodes < 1 or args.n_envs < 1:
        p.error("--episodes and --n-envs must be >= 1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    t0 = time.time()
    result = run(args.episodes, args.n_envs, args.seed)
    print(f"Skiing, a controller on the object vector, {args.episodes} episodes, "
          f"{platform.node()}, {time.strftime('%Y-%m-%d')}, {time.time() - t0:.0f} s")
    print(f"score {result['mean']:.0f} +- {result['std']:.0f} (human -4,337, Read and Reward "
          f"-9,000, random about -16,000); gates passed per episode "
          f"{np.mean(result['gates_passed']):.1f} of 20, missed "
          f"{np.mean(result['gates_missed']):.1f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
