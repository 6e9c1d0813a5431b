"""Object observations for your own RL code: one wrapper per kind of environment.

Each wrapper replaces the observation of an Atari environment whose detector
runs (``track_objects=True``) by the object vector of :mod:`envs.slots`: every
object the detector sees, as ``present, x, y, w, h, dx, dy`` per slot of the
game's :class:`~envs.slots.SlotLayout`.  Three forms:

* :class:`ObjectObservation`: a :class:`gymnasium.Wrapper` on one
  :func:`envs.atari.make_env` environment (it reads the
  :class:`~envs.wrappers.ObjectTracker` beneath);
* :class:`ObjectObservationVector`: a Gymnasium vector wrapper, on
  ``make_vec_env(..., backend="envpool")`` (it reads the engine's objects) or on
  any vector env of ``make_env(..., objects_in_info=True)`` environments
  (next-step autoreset);
* :class:`ObjectObservationVecEnv`: a Stable-Baselines3 ``VecEnvWrapper``, on
  :class:`~envs.envpool_vec.EnvpoolVecEnv` or on a ``DummyVecEnv`` /
  ``SubprocVecEnv`` of ``make_env(..., objects_in_info=True)``; episode ends get
  the last state's object vector as ``terminal_observation``.

Each composes with the ``ManualReward*`` wrappers of
:mod:`reward_shaping.wrappers` in either order: the shaping reads events from
``info``, these wrappers only replace the observation.  ``make_env(...,
obs="objects")`` and ``make_vec_env(..., obs="objects")`` build the same
observations without a wrapper (``agents.train --obs objects``).

Example:
    >>> from envs.atari import make_env
    >>> from envs.observations import ObjectObservation
    >>> env = ObjectObservation(make_env("Skiing"))
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, env.layout.slot_names()[:3]
    ((112,), ('Player[0]', 'Tree[0]', 'Tree[1]'))
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from envs.games import GameSpec, resolve_game
from envs.slots import SlotEncoder, SlotLayout
from envs.wrappers import ObjectTracker, find_wrapper

OBJECTS_KEY = "objects"


class ObjectObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Object vectors instead of frames, for one environment with an :class:`ObjectTracker`.

    Args:
        env: An environment with an :class:`~envs.wrappers.ObjectTracker` in its
            chain (:func:`envs.atari.make_env` with ``track_objects=True``).
        stack: Steps of object vectors per observation.

    Raises:
        ValueError: no tracker beneath, or ``stack`` < 1.
    """

    def __init__(self, env: gym.Env, stack: int = 1) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, stack=stack)
        gym.Wrapper.__init__(self, env)
        tracker = find_wrapper(env, ObjectTracker)
        if tracker is None:
            # The objects come from the tracker; without it there is nothing to observe.
            raise ValueError("ObjectObservation needs an ObjectTracker beneath it "
                             "(envs.atari.make_env(..., track_objects=True))")
        self._tracker = tracker
        self.layout = SlotLayout.from_game(tracker.game, stack)
        self._encoder = SlotEncoder(self.layout, 1)
        self.observation_space = self.layout.observation_space()

    def _encode(self) -> np.ndarray:
        return self._encoder.encode_frames([self._tracker.objects])[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        _, info = self.env.reset(seed=seed, options=options)
        self._encoder.reset()
        return self._encode(), info

    def step(self, action: Any):
        _, reward, terminated, truncated, info = self.env.step(action)
        return self._encode(), reward, terminated, truncated, info


def _engine(env: Any, down: tuple[str, ...]):
    """The :class:`~envs.envpool_vec.EnvpoolAtari` at the bottom of a wrapper chain, or ``None``."""
    while env is not None:
        engine = getattr(env, "engine", None)
        if engine is not None and hasattr(engine, "last_objects"):
            return engine, env
        env = next((getattr(env, a) for a in down if getattr(env, a, None) is not None), None)
    return None, None


def _layout(game: str | GameSpec | None, engine, stack: int, what: str) -> SlotLayout:
    if engine is not None:
        if engine._extractor is None:
            # Without tracking the engine reads no objects at all.
            raise ValueError(f"{what} needs the envpool env to track objects "
                             "(track_objects=True)")
        spec = engine.spec
    elif game is None:
        raise ValueError(f"{what} cannot tell the game of this environment: pass game=")
    else:
        spec = game if isinstance(game, GameSpec) else resolve_game(game)
    return SlotLayout.from_game(spec, stack)


def _records(infos: Any, i: int, where: str) -> list:
    try:
        return infos[i][OBJECTS_KEY] if isinstance(infos, (list, tuple)) else infos[OBJECTS_KEY][i]
    except (KeyError, TypeError, IndexError):
        # Generic envs hand their objects over in info; without them nothing can be encoded.
        raise KeyError(f"{where} has no info[{OBJECTS_KEY!r}]: build the environments with "
                       "envs.atari.make_env(..., objects_in_info=True), or use the envpool "
                       "backend") from None


class ObjectObservationVector(gym.vector.VectorWrapper):
    """Gymnasium vector form of :class:`ObjectObservation` (next-step autoreset).

    Args:
        env: ``make_vec_env(game, n, backend="envpool")`` (objects read from the
            engine), or a vector env of ``make_env(..., objects_in_info=True)``.
        stack: Steps of object vectors per observation.
        game: The game, for vector envs that are not envpool's.
    """

    def __init__(self, env: gym.vector.VectorEnv, stack: int = 1,
                 game: str | GameSpec | None = None) -> None:
        super().__init__(env)
        mode = env.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP)
        if mode != gym.vector.AutoresetMode.NEXT_STEP:
            # The step that ends an episode would have to carry two sets of objects.
            raise ValueError(f"ObjectObservationVector supports next-step autoreset only, got {mode}")
        self._engine, _ = _engine(env, ("env",))
        self.layout = _layout(game, self._engine, stack, "ObjectObservationVector")
        self._encoder = SlotEncoder(self.layout, self.num_envs)
        self.single_observation_space = self.layout.observation_space()
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space,
                                                              self.num_envs)
        self._resetting = np.zeros(self.num_envs, bool)

    def _encode(self, infos: dict[str, Any]) -> np.ndarray:
        if self._engine is not None:
            return self._encoder.encode_batch(self._engine.last_objects)
        return self._encoder.encode_records(
            [_records(infos, i, "the vector env") for i in range(self.num_envs)])

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        _, infos = self.env.reset(seed=seed, options=options)
        self._encoder.reset()
        self._resetting[:] = False
        return self._encode(infos), infos

    def step(self, actions):
        _, rewards, terminated, truncated, infos = self.env.step(actions)
        if self._resetting.any():  # these rows are new episodes' first observations
            self._encoder.reset(np.flatnonzero(self._resetting))
        obs = self._encode(infos)
        self._resetting = np.logical_or(terminated, truncated)
        return obs, rewards, terminated, truncated, infos


try:
    from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
except ImportError:  # SB3 is only needed for this form
    VecEnv = VecEnvWrapper = object  # type: ignore[assignment,misc]


class ObjectObservationVecEnv(VecEnvWrapper):  # type: ignore[misc,valid-type]
    """Stable-Baselines3 form of :class:`ObjectObservation` (same-step reset).

    Args:
        venv: :class:`~envs.envpool_vec.EnvpoolVecEnv` (objects read from the
            engine), or a ``DummyVecEnv`` / ``SubprocVecEnv`` of
            ``make_env(..., objects_in_info=True)``; other wrappers may sit between.
        stack: Steps of object vectors per observation.
        game: The game, for VecEnvs that are not envpool's.
    """

    def __init__(self, venv: VecEnv, stack: int = 1, game: str | GameSpec | None = None) -> None:
        self._engine, self._pool = _engine(venv, ("venv",))
        self.layout = _layout(game, self._engine, stack, "ObjectObservationVecEnv")
        super().__init__(venv, observation_space=self.layout.observation_space())
        self._encoder = SlotEncoder(self.layout, venv.num_envs)

    def _base(self) -> VecEnv:
        env = self.venv
        while getattr(env, "venv", None) is not None:
            env = env.venv
        return env

    def _first(self, rows: list[int]) -> list:
        """Objects at the start of the episodes of ``rows`` (SB3 keeps the reset's info)."""
        infos = self._base().reset_infos
        return [_records(infos, i, "the VecEnv's reset info") for i in rows]

    def reset(self) -> np.ndarray:
        self.venv.reset()
        self._encoder.reset()
        if self._engine is not None:
            return self._encoder.encode_batch(self._engine.last_objects)
        return self._encoder.encode_records(self._first(list(range(self.num_envs))))

    def step_wait(self):
        _, rewards, dones, infos = self.venv.step_wait()
        done = np.flatnonzero(dones)
        if self._engine is not None:
            step = self._pool.last_step
            obs = self._encoder.encode_batch(step.objects)
            first = self._engine.last_objects.rows(done) if done.size else None
        else:
            obs = self._encoder.encode_records([_records(infos, i, "the VecEnv")
                                                for i in range(self.num_envs)])
            first = self._first(done.tolist()) if done.size else None
        if done.size:
            for i in done.tolist():
                infos[i]["terminal_observation"] = obs[i].copy()
            self._encoder.reset(done)
            obs[done] = (self._encoder.encode_batch(first, done) if self._engine is not None
                         else self._encoder.encode_records(first, done))
        return obs, rewards, dones, infos
