"""Reward-table build time: cold (fresh process, model load included) and cached.

Usage::

    python benchmarks/read_speed.py [GAME ...]

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
    games = sys.argv[1:] or ["Skiing", "MsPacman"]
    from reward_shaping.table import build_reward_table

    print(f"{'game':<12}{'cold s':>8}{'cached s':>10}")
    for game in games:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "reward_shaping.read", game, "--no-cache"],
                       check=True, capture_output=True)
        cold = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as cache:
            build_reward_table(game, cache_dir=cache)
            start = time.perf_counter()
            build_reward_table(game, cache_dir=cache)
            cached = time.perf_counter() - start
        print(f"{game:<12}{cold:>8.2f}{cached:>10.4f}")


if __name__ == "__main__":
    main()
