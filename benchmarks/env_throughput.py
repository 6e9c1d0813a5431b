"""Env steps/s on one core: plain preprocessed env vs env + objects + interactions.

Usage::

    python benchmarks/env_throughput.py                       # Skiing and MsPacman
    python benchmarks/env_throughput.py Pong Breakout --steps 5000

Each configuration runs the same seeded random action sequence for ``--steps``
agent steps (frame skip 4, so 4x as many emulator frames) after a warm-up,
single-threaded, and the best of ``--repeats`` runs is reported.
"""

from __future__ import annotations

import argparse
import os
import time

# One core: keep numpy/OpenCV from spreading work over threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from envs.atari import make_env  # noqa: E402


def steps_per_second(game: str, track: bool, steps: int, repeats: int, seed: int = 0) -> float:
    import cv2

    cv2.setNumThreads(1)
    env = make_env(game, track_objects=track)
    actions = np.random.default_rng(seed).integers(env.action_space.n, size=steps)
    env.reset(seed=seed)
    for a in actions[:200]:  # warm-up
        env.step(int(a))
    best = 0.0
    for _ in range(repeats):
        env.reset(seed=seed)
        start = time.perf_counter()
        for a in actions:
            _, _, terminated, truncated, _ = env.step(int(a))
            if terminated or truncated:
                env.reset()
        best = max(best, steps / (time.perf_counter() - start))
    env.close()
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("games", nargs="*", default=["Skiing", "MsPacman"])
    p.add_argument("--steps", type=int, default=3000, help="agent steps per timed run")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per configuration")
    args = p.parse_args()
    print(f"{'game':<12}{'plain steps/s':>15}{'tracked steps/s':>17}{'ratio':>8}")
    for game in args.games:
        plain = steps_per_second(game, False, args.steps, args.repeats)
        tracked = steps_per_second(game, True, args.steps, args.repeats)
        print(f"{game:<12}{plain:>15.0f}{tracked:>17.0f}{tracked / plain:>8.2f}")


if __name__ == "__main__":
    main()
