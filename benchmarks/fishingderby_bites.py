"""Fishing Derby: how many of the hook's fish contacts are bites.

On random play (gymnasium path, frame skip 1, OCAtari's objects, the per-frame
detector), counts player one's fish contacts and bites: RAM byte 112 names the row of
player one's hooked fish (0: none), so a bite is the frame it turns non-zero.  Reports
how many bites have a fish contact within 8 frames before them, and how many contacts
are followed by a bite within 8 frames.  These numbers are why the shaping sweep pays
each row's fish once per episode (``agents/sweeps/shaping_games.yml``).

Usage::

    python benchmarks/fishingderby_bites.py [--frames 40000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.games import resolve_game  # noqa: E402
from envs.interactions import InteractionDetector  # noqa: E402
from envs.objects import ObjectExtractor  # noqa: E402

WINDOW = 8  # frames between a contact and the bite it caused


def bites(frames: int, seed: int = 3) -> dict:
    """Fish contacts and bites of player one's hook over ``frames`` frames of random play."""
    import ale_py  # noqa: F401
    import gymnasium as gym

    env = gym.make(resolve_game("FishingDerby").ale_id, frameskip=1, repeat_action_probability=0.0)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    ex = ObjectExtractor("FishingDerby", 1)
    det = InteractionDetector("FishingDerby")
    contacts, bitten, episodes = [], [], 0
    hooked, action = 0, 0
    for t in range(frames):
        ram = env.unwrapped.ale.getRAM()
        [f] = ex.update(ram)
        contacts += [t for e in det.update(f, t) if e.category == "Fish"]
        if ram[112] and not hooked:
            bitten.append(t)
        hooked = int(ram[112])
        if t % 4 == 0:
            action = env.action_space.sample()
        _, _, term, trunc, _ = env.step(action)
        if term or trunc:
            episodes += 1
            env.reset()
            ex.reset(0)
            det.reset()
            hooked = 0
    env.close()
    c, b = np.array(contacts), np.array(bitten)
    return {"frames": frames, "episodes": episodes, "contacts": len(c), "bites": len(b),
            "bites_after_contact": int(sum(np.any((t - c >= 0) & (t - c <= WINDOW)) for t in b)),
            "contacts_before_bite": int(sum(np.any((b - t >= 0) & (b - t <= WINDOW)) for t in c))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/fishingderby_bites.py",
                                description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=40000, help="emulator frames of random play")
    args = p.parse_args(argv)
    if args.frames < 1000:
        p.error("--frames must be >= 1000 (fewer frames see too few bites to say anything)")
    r = bites(args.frames)
    print(f"{r['frames']} frames ({r['episodes']} episodes ended): {r['contacts']} fish contacts, "
          f"{r['bites']} bites; {r['bites_after_contact']} of the bites came within {WINDOW} frames "
          f"after a contact, {r['contacts_before_bite']} of the contacts within {WINDOW} frames "
          f"before a bite")
    return 0


if __name__ == "__main__":
    sys.exit(main())
