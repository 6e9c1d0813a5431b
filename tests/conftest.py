"""Shared helpers: run real games frame by frame with scripted policies; train on CartPole;
load the scripts of ``benchmarks/`` (no package) as modules."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from envs.interactions import InteractionEvent

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]


def load_script(path: str | Path, name: str | None = None):
    """The script at ``path`` (relative to the repository root) loaded as module ``name``.

    The module is registered in ``sys.modules`` under ``name`` (default: the file's stem)
    before it runs, because dataclasses look their module up there while the class is
    built, and scripts import each other by that name (``reader_experiments`` imports
    ``read_accuracy``).  A module already registered from the same file is returned as is.
    """
    path = ROOT / path
    name = name or path.stem
    loaded = sys.modules.get(name)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "") == path:
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module

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


@pytest.fixture
def train_cartpole() -> Callable[..., dict]:
    """``train_cartpole(out, algo, steps, *args)``: a quiet CPU ``agents.train`` run on
    CartPole-v1 (no shaping, in-process envs, one torch thread, 5 evaluation episodes in
    the algorithm's default mode) that must exit 0; returns its ``summary.json``
    evaluation (``mean``, ``std``, ``deterministic``, ...).

    One thread: these MLPs gain nothing from more, and on a busy machine idle OpenMP
    threads spinning after every op made DSAC's test about ten times slower.
    """
    from agents.train import main

    def train(out: Path, algo: str, steps: int, *args: str) -> dict:
        assert main(["CartPole-v1", "--algo", algo, "--steps", str(steps), "--shaping", "none",
                     "--vec-env", "dummy", "--no-progress", "--device", "cpu",
                     "--torch-threads", "1", "--eval-episodes", "5", "--out", str(out),
                     *args]) == 0
        return json.loads((out / "summary.json").read_text())["eval"]

    return train


# A scripted env for the shaping wrappers: a table with a derived kind, and a script of events.
TABLE = {"Tree": -5.0, "Gate": {"pass": 5.0, "miss": -5.0}}


def ev(category: str, kind: str = "touch") -> InteractionEvent:
    return InteractionEvent(1, 1, category, 1, (0, 0, 1, 1), (0, 0, 1, 1), kind)


class Scripted(gym.Env):
    """Pays -1 per step and reports scripted events; ends after ``len(script)`` steps,
    terminated or truncated."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, script: list[list[InteractionEvent]], truncate: bool = False) -> None:
        self.script, self.truncate, self.t = script, truncate, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {"interactions": []}

    def step(self, action):
        events = self.script[self.t]
        self.t += 1
        end = self.t == len(self.script)
        return (np.zeros(1, np.float32), -1.0, end and not self.truncate, end and self.truncate,
                {"interactions": events})


SCRIPT = [[ev("Gate", "pass")], [], [ev("Tree")], [ev("Gate", "pass"), ev("Gate", "pass")], [],
          [ev("Gate", "miss")], [], [ev("Gate", "pass")]]
