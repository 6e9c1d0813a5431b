"""Digest and speed of the object extractor over a fixed random-action run.

The digest must be the same on every machine and NumPy version; compare it
across installs to check that object extraction is unaffected (OCAtari's RAM
arithmetic differs between NumPy 1 and 2 on uint8 bytes).

Usage::

    python benchmarks/extractor_digest.py Skiing MsPacman --frames 3000
"""

from __future__ import annotations

import argparse
import hashlib
import time

import numpy as np


def digest(game: str, frames: int, seed: int = 1) -> tuple[str, float]:
    import ale_py  # noqa: F401
    import gymnasium as gym

    from envs.games import resolve_game
    from envs.objects import ObjectExtractor

    spec = resolve_game(game)
    env = gym.make(spec.ale_id, frameskip=1, repeat_action_probability=0.0)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    extractor = ObjectExtractor(spec)
    h = hashlib.sha256()
    spent = 0.0
    for _ in range(frames):
        _, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        ram = env.unwrapped.ale.getRAM()
        t0 = time.perf_counter()
        frame = extractor.update(ram)[0]
        spent += time.perf_counter() - t0
        for arr in (frame.category, frame.box, frame.motion):
            h.update(np.ascontiguousarray(arr, dtype=np.int64).tobytes())
        if terminated or truncated:
            env.reset()
            extractor.reset()
    env.close()
    return h.hexdigest()[:16], spent / frames


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("games", nargs="+")
    p.add_argument("--frames", type=int, default=3000)
    args = p.parse_args()
    print(f"numpy {np.__version__}")
    for game in args.games:
        d, per_frame = digest(game, args.frames)
        print(f"{game:<12} digest {d}  {per_frame * 1e6:6.0f} us/frame")


if __name__ == "__main__":
    main()
