"""Per-step contact detection (the envpool fast path) against the per-frame detector.

Records every emulator frame's RAM of each game under a contact-seeking scripted
policy (``envs.tools.recall.CONTACT_POLICIES``: Pong and Breakout track the ball,
Freeway walks up, Skiing holds random turns; frame skip 4, sticky actions 0.25),
replays it through the per-frame detector (every frame) and the per-step
detector (every 4th frame, as envpool returns RAM) and prints, per game:
contacts the per-frame detector reports, how many of them the per-step one
finds, and how many events it adds.  See ``envs.tools.recall.compare`` for the
matching rule.

With ``--gate-runs N`` it also records N whole Skiing runs under each of two
policies (``seek``: steer towards the next gate, ``envs.tools.recall.GateSeeker``;
``random``: random turns held for a few steps) and compares the gates passed
and missed per run: per-frame path, fast path (``envs.fast.swept.StepPassDetector``
on every 4th frame) and the game's own count of missed gates in RAM
(``envs.tools.recall.compare_passes``).

Usage::

    python benchmarks/detector_recall.py                         # 4 games, 40,000 frames each
    python benchmarks/detector_recall.py Pong --frames 10000 --seeds 0 1 --json out.json
    python benchmarks/detector_recall.py --only-gates --gate-runs 20
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from envs.tools.recall import GateSeeker, compare, compare_passes, record
from reward_shaping.table import atomic_write_text

GAMES = ["Pong", "Breakout", "Freeway", "Skiing"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("games", nargs="*", default=GAMES)
    p.add_argument("--frames", type=int, default=40_000, help="emulator frames per game and seed")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--gate-runs", type=int, default=0,
                   help="Skiing runs per policy for the gate comparison (0: none)")
    p.add_argument("--only-gates", action="store_true", help="skip the contact recall")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    # Negative counts are typos; --only-gates without runs would measure nothing.
    if args.gate_runs < 0 or (args.only_gates and args.gate_runs < 1):
        p.error("--gate-runs must be >= 0, and >= 1 with --only-gates")
    rows = [] if args.only_gates else contact_recall(args)
    if args.gate_runs:
        rows += gate_agreement(args.gate_runs)
    if args.json:
        atomic_write_text(args.json, json.dumps(rows, indent=1))


def gate_agreement(runs: int) -> list[dict]:
    """Skiing gates passed and missed per run: per-frame path, fast path, the game's count."""
    print(f"\nSkiing gates, {runs} whole runs per policy (seeds 0..{runs - 1}): "
          "per-frame path / fast path / game (RAM)", flush=True)
    print("| policy | runs | gates | passes | misses | game's misses | same verdicts "
          "| misses = game's, per frame | misses = game's, fast | largest miss difference |")
    print("|---" * 10 + "|")
    out = []
    for policy in ("seek", "random"):
        t0 = time.time()
        results = []
        for seed in range(runs):
            rec = record("Skiing", 200_000, seed=seed, episodes=1,
                         policy=GateSeeker() if policy == "seek" else None)
            results.extend(compare_passes(rec))
        fp = [r.frame_kinds.count("pass") for r in results]
        fm = [r.frame_kinds.count("miss") for r in results]
        sp = [r.step_kinds.count("pass") for r in results]
        sm = [r.step_kinds.count("miss") for r in results]
        game = [r.game_missed for r in results]
        same = sum(r.frame_kinds == r.step_kinds for r in results)
        ok_f = sum(a == g for a, g in zip(fm, game))
        ok_s = sum(a == g for a, g in zip(sm, game))
        worst = max(max(abs(a - g), abs(b - g)) for a, b, g in zip(fm, sm, game))
        print(f"| {policy} | {len(results)} | {sum(fp) + sum(fm)} / {sum(sp) + sum(sm)} "
              f"| {sum(fp)} / {sum(sp)} | {sum(fm)} / {sum(sm)} | {sum(game)} "
              f"| {same}/{len(results)} | {ok_f}/{len(results)} | {ok_s}/{len(results)} "
              f"| {worst} |  [{time.time() - t0:.0f} s]", flush=True)
        out.append({"gates": policy, "runs": len(results), "frame_passes": fp,
                    "frame_misses": fm, "step_passes": sp, "step_misses": sm,
                    "game_missed": game, "same_verdicts": same})
    return out


def contact_recall(args: argparse.Namespace) -> list[dict]:
    """Contacts of the per-frame detector found by the per-step one, per game."""
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
    return rows


if __name__ == "__main__":
    main()
