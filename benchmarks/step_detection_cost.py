"""Fast path cost per env-step: batched object extraction and Skiing's gate detector.

Records ``--steps`` agent steps of ``--n-envs`` envpool environments (random
actions, RAM of every step), then times, on the recorded RAM alone,
``make_extractor(game).update`` and ``StepPassDetector.update`` (derived gates,
pass and miss).  Prints microseconds per env-step, best of ``--repeats``.

Usage::

    python benchmarks/step_detection_cost.py                  # Skiing, 64 envs, 200 steps
    python benchmarks/step_detection_cost.py --n-envs 16 --steps 400
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from envs.fast.batched import make_extractor
from envs.fast.envpool_vec import EnvpoolAtari
from envs.fast.swept import StepPassDetector


def record(game: str, n_envs: int, steps: int) -> np.ndarray:
    """``(steps, n_envs, 128)`` RAM after each of ``steps`` random agent steps."""
    pool = EnvpoolAtari(game, n_envs)
    rng = np.random.default_rng(0)
    try:
        pool.reset(seed=0)
        rams = []
        for _ in range(steps):
            rams.append(pool.step(rng.integers(pool.action_space.n, size=n_envs)).ram.copy())
    finally:
        pool.close()
    return np.stack(rams)


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("game", nargs="?", default="Skiing")
    p.add_argument("--n-envs", type=int, default=64)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    # Fewer than one step or run leaves nothing to time.
    if min(args.n_envs, args.steps, args.repeats) < 1:
        p.error("--n-envs, --steps and --repeats must be >= 1")
    rams = record(args.game, args.n_envs, args.steps)
    per = 1e6 / (args.steps * args.n_envs)

    def extract() -> list:
        ext = make_extractor(args.game, args.n_envs)
        ext.reset()
        return [ext.update(r) for r in rams]

    batches = extract()
    t_ext = best_of(args.repeats, extract)

    def detect() -> None:
        det = StepPassDetector(args.game, args.n_envs)
        for t, batch in enumerate(batches):
            det.update(batch, np.full(args.n_envs, t))

    t_det = best_of(args.repeats, detect)
    print(f"{args.game}, {args.n_envs} envs x {args.steps} steps, best of {args.repeats}, "
          f"{platform.node()}, {os.cpu_count()} cores")
    print(f"extractor ({type(make_extractor(args.game, 1)).__name__}): "
          f"{t_ext * per:.1f} us per env-step")
    print(f"StepPassDetector (derived objects, pass/miss): {t_det * per:.1f} us per env-step")


if __name__ == "__main__":
    main()
