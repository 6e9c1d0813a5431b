"""Training and evaluation environments for the agents: Atari games or any Gymnasium id.

The wrapper order is what keeps the logged score honest::

    make_env(game) ... Monitor (game score)  [SignReward]   per worker process   (backend gymnasium)
    SubprocVecEnv / DummyVecEnv
      or
    EnvpoolVecEnv: game score in info["episode"], clipping    in C++ threads  (backend envpool)
    ManualRewardVecEnv     + table reward per interaction   (shaping="manual")
    VecNormalize           reward scaling only               (normalize_reward)

so ``info["episode"]``, ``rollout/ep_rew_mean`` and evaluation scores are the
unclipped, unshaped game score on both backends.

Example:
    >>> from agents.environments import resolve_target
    >>> resolve_target("skiing").env_id, resolve_target("CartPole-v1").atari
    ('ALE/Skiing-v5', False)
"""

from __future__ import annotations

import difflib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from envs.games import GameSpec, UnknownGameError, resolve_game


@dataclass(frozen=True)
class Target:
    """What to train on: an Atari game (with its spec) or a plain Gymnasium env id."""

    name: str
    env_id: str
    spec: GameSpec | None

    @property
    def atari(self) -> bool:
        return self.spec is not None


def resolve_target(name: str) -> Target:
    """An Atari game name (as the env layer takes it) or a registered Gymnasium id.

    Raises:
        UnknownGameError: neither; the message suggests close names.
    """
    try:
        spec = resolve_game(name)
        return Target(spec.name, spec.ale_id, spec)
    except UnknownGameError as atari_err:
        if name in gym.registry:
            return Target(name, name, None)
        close = difflib.get_close_matches(name, list(gym.registry), n=3, cutoff=0.75)
        if close and not str(atari_err).count("Did you mean"):
            raise UnknownGameError(
                f"unknown game or environment {name!r}. Did you mean: {', '.join(close)}?"
            ) from None
        raise


@dataclass
class EnvSettings:
    """Environment settings of a run (Atari fields are ignored for other envs).

    Attributes:
        frame_skip: Emulator frames per agent step.
        frame_stack: Stacked observations.
        sticky_actions: Probability of repeating the previous action per frame.
        clip_reward: Clip the game reward to its sign; ``None`` = the game's default.
        max_episode_frames: Truncate episodes after this many emulator frames.
        touch_margin: Contact margin in pixels; ``None`` = the game's default.
        backend: ``gymnasium`` (per-frame detection, one process per env) or
            ``envpool`` (the fast path, :mod:`envs.fast.envpool_vec`); Atari only.
            Runs recorded before the field existed trained on ``gymnasium``.
        obs: ``pixels`` (84x84 grey frames, ``frame_stack`` of them) or ``objects``
            (the detector's objects as one float vector, :mod:`envs.slots`); Atari
            only.  Runs recorded before the field existed saw pixels.
        obs_stack: With ``obs="objects"``, steps of object vectors per observation.
    """

    frame_skip: int = 4
    frame_stack: int = 4
    sticky_actions: float = 0.25
    clip_reward: bool | None = None
    max_episode_frames: int = 108_000
    touch_margin: int | None = None
    backend: str = "gymnasium"
    obs: str = "pixels"
    obs_stack: int = 1

    def atari_kwargs(self) -> dict[str, Any]:
        """The settings every Atari env takes (:func:`envs.atari.make_env`,
        :class:`envs.fast.envpool_vec.EnvpoolVecEnv`): all but ``backend``."""
        return {"frame_skip": self.frame_skip, "frame_stack": self.frame_stack,
                "sticky_actions": self.sticky_actions, "clip_reward": self.clip_reward,
                "max_episode_frames": self.max_episode_frames,
                "touch_margin": self.touch_margin, "obs": self.obs, "obs_stack": self.obs_stack}


def _quiet_worker() -> None:
    # Ctrl-C (and `timeout`'s SIGTERM) reach the whole process group: workers
    # must not die on them; the main process stops cleanly and closes them.
    # A worker whose parent dies (kill -9) exits on its broken pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def env_factory(target: Target, settings: EnvSettings, *, track_objects: bool,
                in_worker: bool = False, objects_in_info: bool = False) -> Callable[[], gym.Env]:
    """A picklable thunk building one environment with SB3's ``Monitor`` inside any clipping."""

    def thunk() -> gym.Env:
        from stable_baselines3.common.monitor import Monitor

        if in_worker:
            _quiet_worker()
        if target.spec is None:
            return Monitor(gym.make(target.env_id))
        from envs.atari import make_env

        return make_env(target.spec, track_objects=track_objects,
                        objects_in_info=objects_in_info, record_stats=Monitor,
                        **settings.atari_kwargs())

    return thunk


def choose_vec_env(kind: str, n_envs: int) -> str:
    """``dummy`` or ``subproc``; ``auto`` uses processes when there are cores to spare."""
    if kind not in ("auto", "dummy", "subproc"):
        raise ValueError(f"vec_env must be auto, dummy or subproc, got {kind!r}")
    if kind != "auto":
        return kind
    return "subproc" if n_envs > 1 and (os.cpu_count() or 1) >= 4 else "dummy"


def make_vec(target: Target, settings: EnvSettings, n_envs: int, seed: int, *,
             track_objects: bool, vec_env: str = "auto", objects_in_info: bool = False):
    """An SB3 VecEnv of ``n_envs`` environments seeded ``seed, seed+1, ...``.

    Atari games run on ``settings.backend``; ``vec_env`` applies to the
    ``gymnasium`` backend and to non-Atari envs.  ``objects_in_info``: the
    ``gymnasium`` backend's envs put their objects in ``info["objects"]`` (the
    envpool backend's are read from the engine).
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    if target.atari and settings.backend == "envpool":
        from envs.fast.envpool_vec import EnvpoolVecEnv

        venv = EnvpoolVecEnv(target.spec, n_envs, track_objects=track_objects,
                             **settings.atari_kwargs())
        venv.seed(seed)
        return venv
    kind = choose_vec_env(vec_env, n_envs)
    fns = [env_factory(target, settings, track_objects=track_objects, in_worker=kind == "subproc",
                       objects_in_info=objects_in_info and target.atari)
           for _ in range(n_envs)]
    venv: Any = SubprocVecEnv(fns) if kind == "subproc" else DummyVecEnv(fns)
    venv.seed(seed)
    return venv
