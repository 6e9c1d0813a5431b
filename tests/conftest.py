"""Shared helpers: run real games frame by frame with scripted policies."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

Policy = Callable[[list, list[str], int], int]


@dataclass
class FrameRun:
    """Objects and events of every emulator frame of a scripted run."""

    game: str
    objects: list[list] = field(default_factory=list)  # per frame: list[ObjectRecord]
    events: list = field(default_factory=list)  # all InteractionEvents, in order


def run_frames(game: str, policy: Policy, frames: int, seed: int = 0) -> FrameRun:
    """Play ``frames`` emulator frames (no frame skip) with the tracker standalone."""
    import ale_py  # noqa: F401
    import gymnasium as gym

    from envs.wrappers import ObjectTracker

    env = ObjectTracker(gym.make(f"ALE/{game}-v5", frameskip=1, repeat_action_probability=0.0))
    env.reset(seed=seed)
    meanings = env.unwrapped.get_action_meanings()
    run = FrameRun(game)
    for t in range(frames):
        action = policy(env.object_records(), meanings, t)
        _, _, terminated, truncated, info = env.step(action)
        run.objects.append(env.object_records())
        run.events.extend(info["interactions"])
        if terminated or truncated:
            break
    env.close()
    return run


def first(objs: list, category: str):
    return next((o for o in objs if o.category == category), None)


@pytest.fixture(scope="session")
def frame_runner() -> Callable[..., FrameRun]:
    return run_frames
