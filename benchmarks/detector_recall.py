"""Per-step contact detection (the envpool fast path) against the per-frame detector.

Records every emulator frame's RAM of each game under a contact-seeking scripted
policy (``envs.recall.CONTACT_POLICIES``: Pong and Breakout track the ball,
Freeway walks up, Skiing holds random turns; frame skip 4, sticky actions 0.25),
replays it through the per-frame detector (every frame) and the per-step
detector (every 4th frame, as envpool returns RAM) and prints, per game:
contacts the per-frame detector reports, how many of them the per-step one
finds, and how many events it adds.  See ``envs.recall.compare`` for the
matching rule.

Usage::

    python benchmarks/detector_recall.py                         # 4 games, 40,000 frames each
    python benchmarks/detector_recall.py Pong --frames 10000 --seeds 0 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from envs.recall import compare, record

GAMES = ["Pong", "Breakout", "Freeway", "Skiing"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("games", nargs="*", default=GAMES)
    p.add_argument("--frames", type=int, default=40_000, help="emulator frames per game and seed")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    rows = []
    print(f"{'game':<10} {'frames':>7} {'contacts':>8} {'found':>6} {'recall':>7} "
          f"{'extra':>6} {'extra %':>7}   per-frame events (found)   per category "
          "(contacts, found, extra)", flush=True)
    for game in args.games:
        total = {"contacts": 0, "found": 0, "extra": 0, "events": 0, "events_found": 0,
                 "frames": 0}
        cats: dict[str, list[int]] = {}
        t0 = time.time()
        for seed in args.seeds:
            r = compare(record(game, args.frames, seed=seed))
            for key in total:
                total[key] += getattr(r, key)
            for c, v in r.per_category.items():
                cats[c] = [a + b for a, b in zip(cats.get(c, [0, 0, 0]), v)]
        recall = total["found"] / total["contacts"] if total["contacts"] else 1.0
        extra = total["extra"] / total["contacts"] if total["contacts"] else 0.0
        print(f"{game:<10} {total['frames']:>7} {total['contacts']:>8} {total['found']:>6} "
              f"{recall:>7.3f} {total['extra']:>6} {100 * extra:>6.1f}%   "
              f"{total['events']:>5} ({total['events_found']})   "
              + ", ".join(f"{c} {tuple(v)}" for c, v in sorted(cats.items()))
              + f"   [{time.time() - t0:.0f} s]", flush=True)
        rows.append({"game": game, **total, "recall": recall, "seeds": args.seeds,
                     "per_category": cats})
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
