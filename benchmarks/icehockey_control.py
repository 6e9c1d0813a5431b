"""Ice Hockey: which skater rnr calls the avatar, and which puck contacts are takes.

Measures the numbers behind ``envs/games.py``'s Ice Hockey settings on random play
(gymnasium path, OCAtari's objects):

* RAM byte 108 names the skater the joystick moves (checked by holding LEFT/RIGHT);
* how often the nearest skater, measured from the box centre or from the stick blade
  (``GameSpec.avatar_reach``), is that skater;
* RAM byte 90 names the skater holding the puck: how many of the player's team's takes
  have a puck contact within 8 frames, and how many contacts come with a take, per
  touch margin.

Usage::

    python benchmarks/icehockey_control.py [--steps 8000] [--frames 40000]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.games import resolve_game  # noqa: E402
from envs.interactions import InteractionDetector, avatar_index  # noqa: E402
from envs.objects import ObjectExtractor  # noqa: E402

CONTROLLED = {2: 0, 0: 1}  # byte 108 -> which of OCAtari's two Players


def _env(frameskip: int):
    import ale_py  # noqa: F401
    import gymnasium as gym

    return gym.make(resolve_game("IceHockey").ale_id, frameskip=frameskip, repeat_action_probability=0.0)


def control(steps: int) -> dict:
    """Byte 108 against the joystick, and the nearest-skater rules against byte 108."""
    spec = resolve_game("IceHockey")
    centre = dataclasses.replace(spec, avatar_reach=(0.5, 0.5))
    env, rng = _env(4), np.random.default_rng(0)
    env.reset(seed=3)
    meanings = env.unwrapped.get_action_meanings()
    ex = ObjectExtractor(spec.name, 1)
    right = wrong = agree = agree_centre = first = n = 0
    action, last = meanings.index("RIGHT"), None
    for t in range(steps):
        ram = env.unwrapped.ale.getRAM()
        c = CONTROLLED.get(int(ram[108]))
        [f] = ex.update(ram)
        players = np.flatnonzero(f.category == spec.categories.index("Player"))
        if c is None or len(players) != 2:
            last = None
        else:
            n += 1
            agree += avatar_index(spec, f) == players[c]
            agree_centre += avatar_index(centre, f) == players[c]
            first += c == 0
            if last is not None and t % 8 >= 3:
                sign = 1 if meanings[action] == "RIGHT" else -1
                moved = [(f.box[p, 0] - last[0][p, 0]) * sign > 0 for p in players]
                if moved.count(True) == 1:
                    right += moved.index(True) == last[1]
                    wrong += moved.index(True) != last[1]
            last = f.box.copy(), c
        if t % 8 == 0:
            action = meanings.index(str(rng.choice(["RIGHT", "LEFT"])))
        _, _, term, trunc, _ = env.step(action)
        if term or trunc:
            env.reset()
            ex.reset(0)
            last = None
    env.close()
    return {"steps": n, "joystick_moves_named": right, "joystick_moves_other": wrong,
            "agree_reach": agree / n, "agree_centre": agree_centre / n, "first_share": first / n}


def takes(frames: int, margins=(0, 2, 4, 6)) -> dict:
    """Puck contacts (per-frame detector, each margin) against takes by the player's team."""
    env = _env(1)
    env.reset(seed=7)
    ex = ObjectExtractor("IceHockey", 1)
    dets = {m: InteractionDetector("IceHockey", margin=m) for m in margins}
    contacts: dict[int, list[int]] = {m: [] for m in margins}
    holder = []
    action = 0
    for t in range(frames):
        ram = env.unwrapped.ale.getRAM()
        [f] = ex.update(ram)
        holder.append(int(ram[90]))
        for m, d in dets.items():
            contacts[m] += [t for e in d.update(f, t) if e.category == "Ball"]
        if t % 4 == 0:
            action = env.action_space.sample()
        _, _, term, trunc, _ = env.step(action)
        if term or trunc:
            env.reset()
            ex.reset(0)
            for d in dets.values():
                d.reset()
    env.close()
    ours = np.isin(np.array(holder), list(CONTROLLED))
    gains = np.flatnonzero(ours[1:] & ~ours[:-1]) + 1
    out = {"frames": frames, "takes": len(gains), "held_share": float(ours.mean())}
    for m, c in contacts.items():
        c = np.array(c)
        out[m] = {"contacts": len(c),
                  "takes_with_contact": float(np.mean([np.any(np.abs(c - g) <= 8) for g in gains])) if len(gains) and len(c) else 0.0,
                  "contacts_with_take": float(np.mean([np.any(np.abs(gains - t) <= 8) for t in c])) if len(gains) and len(c) else 0.0}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/icehockey_control.py", description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=8000, help="agent steps (frame skip 4) for the control check")
    p.add_argument("--frames", type=int, default=40000, help="emulator frames for the take check")
    args = p.parse_args(argv)
    if args.steps < 100 or args.frames < 1000:
        p.error("--steps must be >= 100 and --frames >= 1000 (fewer says nothing)")
    c = control(args.steps)
    print(f"control ({c['steps']} steps): the skater byte 108 names moved with the joystick "
          f"{c['joystick_moves_named']} times, the other {c['joystick_moves_other']}; nearest skater "
          f"= byte 108 on {c['agree_reach']:.1%} (stick blade), {c['agree_centre']:.1%} (box centre)")
    t = takes(args.frames)
    print(f"takes ({t['frames']} frames): {t['takes']} by the player's team, puck held "
          f"{t['held_share']:.1%} of frames")
    for m in (0, 2, 4, 6):
        r = t[m]
        print(f"  margin {m}: {r['contacts']} puck contacts, takes with a contact within 8 frames "
              f"{r['takes_with_contact']:.0%}, contacts with a take {r['contacts_with_take']:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
