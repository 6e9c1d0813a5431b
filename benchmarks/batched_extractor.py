"""Cost of object extraction per env and update: BatchedExtractor vs ObjectExtractor.

Records one RAM stream per game (frame skip 1, random actions held for a few
frames), then feeds ``n`` envs, each replaying that stream from its own offset,
to ``envs.fast.batched.BatchedExtractor`` (one call per update for all ``n``) and to
``envs.objects.ObjectExtractor`` (OCAtari in Python, env by env).  Reports
microseconds per env per update, best of ``--repeats`` timed passes, in CPU
time of this process (on a shared machine, wall time would count the waits for
a core).

Usage::

    python benchmarks/batched_extractor.py                      # the ten manual games
    python benchmarks/batched_extractor.py Pong Skiing --envs 1 64 --updates 200
"""

from __future__ import annotations

import argparse
import time

import numpy as np

TEN_GAMES = ("Skiing", "MsPacman", "Tennis", "Breakout", "Pong", "Freeway", "Seaquest", "Boxing",
             "Asterix", "Kangaroo")


def record(game: str, frames: int, seed: int = 0) -> np.ndarray:
    """``(frames, 128)`` uint8 RAM of random play, episodes restarted as they end."""
    import ale_py  # noqa: F401
    import gymnasium as gym

    from envs.games import resolve_game

    env = gym.make(resolve_game(game).ale_id, frameskip=1, repeat_action_probability=0.25,
                   obs_type="ram")
    rng = np.random.default_rng(seed)
    ram, _ = env.reset(seed=seed)
    out = np.zeros((frames, 128), np.uint8)
    action = 0
    for t in range(frames):
        out[t] = ram
        if rng.random() < 0.1:
            action = int(rng.integers(env.action_space.n))
        ram, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            ram, _ = env.reset()
    env.close()
    return out


def per_env_us(make, stream: np.ndarray, n: int, updates: int, repeats: int) -> float:
    """Best time per env per update (µs) of ``updates`` updates of ``n`` envs."""
    offsets = (np.arange(n) * 97) % len(stream)
    batches = [stream[(offsets + t) % len(stream)] for t in range(updates)]
    best = float("inf")
    for _ in range(repeats):
        extractor = make(n)
        extractor.update(batches[0])  # first update: lazy setup, not timed
        t0 = time.process_time()
        for ram in batches:
            extractor.update(ram)
        best = min(best, time.process_time() - t0)
    return best / (updates * n) * 1e6


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("games", nargs="*", default=list(TEN_GAMES), help="games to measure")
    p.add_argument("--envs", type=int, nargs="+", default=[1, 16, 64, 256],
                   help="batch sizes n")
    p.add_argument("--updates", type=int, default=300, help="timed updates per pass (batched)")
    p.add_argument("--ocatari-frames", type=int, default=1000,
                   help="env-frames per pass for ObjectExtractor (its cost does not depend on n)")
    p.add_argument("--repeats", type=int, default=5, help="timed passes; the best one counts")
    p.add_argument("--frames", type=int, default=3000, help="length of the recorded RAM stream")
    args = p.parse_args(argv)
    if min(args.envs) < 1 or args.updates < 1 or args.repeats < 1 or args.ocatari_frames < 1:
        p.error("--envs, --updates, --ocatari-frames and --repeats must be positive")

    from envs.fast.batched import BatchedExtractor
    from envs.games import resolve_game
    from envs.objects import ObjectExtractor

    games = [resolve_game(g).name for g in args.games]
    print(f"numpy {np.__version__}; µs per env per update, best of {args.repeats}")
    header = " ".join(f"{f'n={n}':>8}" for n in args.envs)
    ref = 64 if 64 in args.envs else args.envs[-1]
    print(f"{'game':<10} {'OCAtari':>8} | batched {header} | speed-up at n={ref}")
    for game in games:
        stream = record(game, args.frames)
        ocatari = per_env_us(lambda n, g=game: ObjectExtractor(g, n), stream, 1,
                             args.ocatari_frames, args.repeats)
        ours = [per_env_us(lambda n, g=game: BatchedExtractor(g, n), stream, n,
                           max(1, args.updates), args.repeats) for n in args.envs]
        cells = " ".join(f"{v:8.2f}" for v in ours)
        print(f"{game:<10} {ocatari:8.1f} | batched {cells} | "
              f"{ocatari / ours[args.envs.index(ref)]:.0f}x", flush=True)


if __name__ == "__main__":
    main()
