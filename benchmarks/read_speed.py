"""Reward-table build time: cold (fresh process, model load included) and cached.

Usage::

    python benchmarks/read_speed.py [GAME ...] [--backend consequence|embedding|consensus]

Cold: a new Python process builds the table with the cache off, timed from
process start to exit.  Cached: in one process, after a first build has filled
a temporary cache, the time of a second ``build_reward_table`` call.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time


def main() -> None:
    import argparse

    from reward_shaping.reasoning import DEFAULT_BACKEND

    p = argparse.ArgumentParser(description="Cold and cached reward-table build times.")
    p.add_argument("games", nargs="*", default=["Skiing", "MsPacman"])
    p.add_argument("--backend", default=DEFAULT_BACKEND, choices=["consequence", "embedding", "consensus"])
    args = p.parse_args()
    from reward_shaping.table import build_reward_table

    print(f"backend {args.backend}")
    print(f"{'game':<12}{'cold s':>8}{'cached s':>10}")
    for game in args.games:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "reward_shaping.read", game, "--no-cache",
                        "--backend", args.backend], check=True, capture_output=True)
        cold = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as cache:
            build_reward_table(game, backend=args.backend, cache_dir=cache)
            start = time.perf_counter()
            build_reward_table(game, backend=args.backend, cache_dir=cache)
            cached = time.perf_counter() - start
        print(f"{game:<12}{cold:>8.2f}{cached:>10.4f}")


if __name__ == "__main__":
    main()
