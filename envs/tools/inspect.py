"""Look at what the detector sees: objects and interaction events of a run.

Usage::

    python -m envs.tools.inspect Skiing --steps 300                  # summary
    python -m envs.tools.inspect Freeway --steps 200 --policy UP --every 1
    python -m envs.tools.inspect MsPacman --steps 400 --gif pacman.gif --png last.png
    python -m envs.tools.inspect Skiing --steps 1200 --gif              # -> Skiing.gif
    python -m envs.tools.inspect Skiing --layout                        # the object observation

Each printed step lists the objects (category, instance, x, y, w, h, dx, dy)
and the events that began in it (``TOUCH``, and ``PASS`` / ``MISS`` for
passable derived objects such as Skiing's gates); the summary counts objects
and events per category.  ``--gif`` / ``--png`` save the raw RGB frames with
each object's box drawn: the avatar in white, touched objects in red, derived
objects (gates) in their own colour, a gate passed in green labelled PASS and
one missed in magenta labelled MISS.
"""

from __future__ import annotations

import argparse
import colorsys
import sys
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from envs.atari import make_env
from envs.games import UnknownGameError, resolve_game
from envs.interactions import INTERACTIONS_KEY, InteractionEvent
from envs.objects import ObjectRecord
from envs.slots import SlotLayout

_SCALE = 3
#: Box colour and label of each event kind in the images.
_EVENT_STYLE = {"touch": ((255, 0, 0), None), "pass": ((0, 255, 0), "PASS"),
                "miss": ((255, 0, 255), "MISS")}


def _colour(category: str) -> tuple[int, int, int]:
    """A stable, distinct colour per category name."""
    hue = (zlib.crc32(category.encode()) % 360) / 360.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.9, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def annotate(
    rgb: np.ndarray,
    objects: list[ObjectRecord],
    events: list[InteractionEvent],
    avatar: str | None,
    caption: str = "",
):
    """Draw object boxes and event labels on an RGB frame, scaled up 3x.

    Returns:
        A ``PIL.Image.Image``.
    """
    from PIL import Image, ImageDraw

    img = Image.fromarray(rgb).resize(
        (rgb.shape[1] * _SCALE, rgb.shape[0] * _SCALE), Image.NEAREST
    )
    draw = ImageDraw.Draw(img)
    touched = {e.instance for e in events if e.kind == "touch"}

    def scaled(x, y, w, h):
        return [x * _SCALE, y * _SCALE, (x + w) * _SCALE - 1, (y + h) * _SCALE - 1]

    for o in objects:
        box = scaled(o.x, o.y, o.w, o.h)
        if o.instance in touched:
            draw.rectangle(box, outline=(255, 0, 0), width=3)
            draw.text((box[0], max(box[1] - 12, 0)), o.category, fill=(255, 0, 0))
        elif o.category == avatar:
            draw.rectangle(box, outline=(255, 255, 255), width=2)
        else:
            draw.rectangle(box, outline=_colour(o.category), width=1)
    for e in events:
        colour, label = _EVENT_STYLE.get(e.kind, _EVENT_STYLE["touch"])
        if label is None:
            continue
        # Drawn where the event happened: a missed gate may have scrolled on since.
        box = scaled(*e.object_box)
        draw.rectangle(box, outline=colour, width=3)
        draw.text((box[0], max(box[1] - 12, 0)), f"{label} {e.category}", fill=colour)
    if caption:
        draw.text((4, 4), caption, fill=(255, 255, 0))
    return img


def _format_object(o: ObjectRecord) -> str:
    return f"{o.category}#{o.instance}({o.x},{o.y},{o.w}x{o.h},d={o.dx},{o.dy})"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m envs.tools.inspect",
        description="Run a game with a random or scripted policy and show the objects "
        "and interaction events the detector sees.",
    )
    p.add_argument("game", help="game name, e.g. Skiing, MsPacman, ALE/Pong-v5")
    p.add_argument("--steps", type=int, default=200, help="agent steps to run (default 200)")
    p.add_argument("--seed", type=int, default=0, help="environment and policy seed (default 0)")
    p.add_argument(
        "--policy",
        default="random",
        help="'random', or an action name of the game repeated every step (e.g. UP, DOWN, FIRE); "
        "see --list-actions",
    )
    p.add_argument("--list-actions", action="store_true", help="print the game's action names and exit")
    p.add_argument("--layout", action="store_true",
                   help="print the game's object-observation layout (agents.train --obs objects: "
                   "the slots per category and where they start in the vector) and exit")
    p.add_argument("--obs-stack", type=int, default=1, metavar="K",
                   help="with --layout: steps of object vectors per observation (default 1)")
    p.add_argument(
        "--every",
        type=int,
        default=0,
        metavar="K",
        help="print objects every K steps (0: only events and the summary; default 0)",
    )
    p.add_argument("--gif", type=Path, nargs="?", const=Path(""), metavar="PATH",
                   help="save an annotated GIF of the run (default path: GAME.gif)")
    p.add_argument("--png", type=Path, help="save the annotated last frame as PNG")
    p.add_argument("--gif-every", type=int, default=1, metavar="K", help="keep every K-th step in the GIF")
    p.add_argument("--sticky-actions", type=float, default=0.0, help="sticky-action probability (default 0)")
    args = p.parse_args(argv)
    if args.steps < 1:
        p.error("--steps must be >= 1")
    if args.every < 0 or args.gif_every < 1:
        p.error("--every must be >= 0 and --gif-every >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parse_args(argv)
    try:
        spec = resolve_game(args.game)
    except UnknownGameError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.layout:
        try:
            print(SlotLayout.from_game(spec, args.obs_stack).describe())
        except ValueError as err:  # no objects, or a bad --obs-stack
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0
    if args.gif == Path(""):
        args.gif = Path(f"{spec.name}.gif")
    want_frames = args.gif is not None or args.png is not None
    env = make_env(
        spec,
        frame_stack=1,
        objects_in_info=True,
        sticky_actions=args.sticky_actions,
        render_mode="rgb_array" if want_frames else None,
    )
    meanings = env.unwrapped.get_action_meanings()
    if args.list_actions:
        print(" ".join(meanings))
        return 0
    if args.policy != "random" and args.policy.upper() not in meanings:
        print(f"error: {spec.name} has no action {args.policy!r}; actions: {' '.join(meanings)}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    env.action_space.seed(args.seed)
    _, info = env.reset(seed=args.seed)
    print(f"{spec.name}: avatar={spec.avatar} interactable={', '.join(spec.interactable)}")
    seen: Counter[str] = Counter()
    happened: Counter[tuple[str, str]] = Counter()
    frames = []
    episodes = 0
    for step in range(1, args.steps + 1):
        if args.policy == "random":
            action = int(rng.integers(env.action_space.n))
        else:
            action = meanings.index(args.policy.upper())
        _, reward, terminated, truncated, info = env.step(action)
        objects: list[ObjectRecord] = info["objects"]
        events: list[InteractionEvent] = info[INTERACTIONS_KEY]
        seen.update(o.category for o in objects)
        happened.update((e.category, e.kind) for e in events)
        if args.every and step % args.every == 0:
            print(f"step {step:5d} reward {float(reward):+g}: " + " ".join(_format_object(o) for o in objects))
        for e in events:
            print(
                f"step {step:5d} frame {e.frame:6d} {e.kind.upper()} {e.category}#{e.instance} "
                f"avatar={e.avatar_box} object={e.object_box}"
            )
        if want_frames and (step % args.gif_every == 0 or step == args.steps):
            caption = f"{spec.name} step {step}" + (
                " " + ",".join(f"{e.kind} {e.category}" for e in events) if events else ""
            )
            frames.append(annotate(env.render(), objects, events, spec.avatar, caption))
        if terminated or truncated:
            episodes += 1
            env.reset()
    env.close()
    print(f"\nsummary over {args.steps} steps, {episodes} finished episode(s):")
    kinds = [k for k in ("touch", "pass", "miss") if any(k in spec.event_kinds(c) for c in spec.categories)]
    print(f"  {'category':<20}{'mean per frame':>16}" + "".join(f"{k:>8}" for k in kinds))
    for cat in spec.categories:
        counts = "".join(f"{happened[cat, k]:>8d}" if k in spec.event_kinds(cat) else f"{'-':>8}"
                         for k in kinds)
        print(f"  {cat:<20}{seen[cat] / args.steps:>16.2f}{counts}")
    if args.png:
        frames[-1].save(args.png)
        print(f"saved {args.png}")
    if args.gif:
        frames[0].save(args.gif, save_all=True, append_images=frames[1:], duration=66, loop=0)
        print(f"saved {args.gif} ({len(frames)} frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
