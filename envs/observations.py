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
  :class:`~envs.fast.envpool_vec.EnvpoolVecEnv` or on a ``DummyVecEnv`` /
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
from envs.slots import SlotEncoder, SlotLayout, pad_records
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


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # category, instance, box: (m, K), (m, K, 4)


def _engine(env: Any, down: tuple[str, ...]):
    """The :class:`~envs.fast.envpool_vec.EnvpoolAtari` at the bottom of a wrapper chain and the
    env holding it, or ``(None, None)``."""
    while env is not None:
        engine = getattr(env, "engine", None)
        if engine is not None and hasattr(engine, "last_objects"):
            return engine, env
        env = next((getattr(env, a) for a in down if getattr(env, a, None) is not None), None)
    return None, None


def _records(infos: Any, i: int, where: str) -> list:
    try:
        return infos[i][OBJECTS_KEY] if isinstance(infos, (list, tuple)) else infos[OBJECTS_KEY][i]
    except (KeyError, TypeError, IndexError):
        # Generic envs hand their objects over in info; without them nothing can be encoded.
        raise KeyError(f"{where} has no info[{OBJECTS_KEY!r}]: build the environments with "
                       "envs.atari.make_env(..., objects_in_info=True), or use the envpool "
                       "backend") from None


def _arrays(batch) -> Arrays:
    return batch.category, batch.instance, batch.box


class _Source:
    """Where a vector wrapper reads each step's objects: the envpool engine beneath it
    (arrays, fast), or the ``info["objects"]`` records of generic environments."""

    def __init__(self, env: Any, down: tuple[str, ...], game: str | GameSpec | None,
                 what: str) -> None:
        self.engine, self.holder = _engine(env, down)
        if self.engine is not None:
            if self.engine._extractor is None:
                # Without tracking the engine reads no objects at all.
                raise ValueError(f"{what} needs the envpool env to track objects "
                                 "(track_objects=True)")
            self.spec = self.engine.spec
        elif game is None:
            raise ValueError(f"{what} cannot tell the game of this environment: pass game=")
        else:
            self.spec = game if isinstance(game, GameSpec) else resolve_game(game)
        self.what = what

    def records(self, infos: Any, rows: list[int]) -> Arrays:
        return pad_records([_records(infos, i, self.what) for i in rows], self.spec.categories)


class VectorObjects(_Source):
    """The objects of a Gymnasium vector env after each reset or step (next-step autoreset).

    Args:
        env: ``make_vec_env(..., backend="envpool")`` (or a wrapper of it), or a vector
            env of ``make_env(..., objects_in_info=True)``.
        game: The game, for vector envs that are not envpool's.
        what: The user's name for error messages.
    """

    def __init__(self, env: gym.vector.VectorEnv, game: str | GameSpec | None = None,
                 what: str = "the vector env") -> None:
        super().__init__(env, ("env",), game, what)
        self.num_envs = env.num_envs

    def arrays(self, infos: dict[str, Any]) -> Arrays:
        """Every env's objects now (a reset row's: its new episode's first)."""
        if self.engine is not None:
            return _arrays(self.engine.last_objects)
        return self.records(infos, list(range(self.num_envs)))


class VecEnvObjects(_Source):
    """The objects of an SB3 ``VecEnv`` after each reset or step (same-step reset).

    Args:
        venv: :class:`~envs.fast.envpool_vec.EnvpoolVecEnv` (or a wrapper of it), or a
            ``DummyVecEnv`` / ``SubprocVecEnv`` of ``make_env(..., objects_in_info=True)``.
        game: The game, for VecEnvs that are not envpool's.
        what: The user's name for error messages.
    """

    def __init__(self, venv: Any, game: str | GameSpec | None = None,
                 what: str = "the VecEnv") -> None:
        super().__init__(venv, ("venv",), game, what)
        base = venv
        while getattr(base, "venv", None) is not None:
            base = base.venv
        self._base = base
        self.num_envs = venv.num_envs

    def reset_arrays(self) -> Arrays:
        """Every env's first objects, after ``reset()``."""
        return self.first_arrays(list(range(self.num_envs)))

    def step_arrays(self, infos: list[dict[str, Any]]) -> Arrays:
        """Every env's objects after ``step_wait()``: an ended episode's last state."""
        if self.engine is not None:
            return _arrays(self.holder.last_step.objects)
        return self.records(infos, list(range(self.num_envs)))

    def first_arrays(self, rows: list[int]) -> Arrays:
        """The first objects of the episodes just started in ``rows`` (SB3 keeps the
        reset's info in the base VecEnv's ``reset_infos``)."""
        if self.engine is not None:
            return _arrays(self.engine.last_objects.rows(rows))
        return self.records(self._base.reset_infos, rows)


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
        self._objects = VectorObjects(env, game, "ObjectObservationVector")
        self.layout = SlotLayout.from_game(self._objects.spec, stack)
        self._encoder = SlotEncoder(self.layout, self.num_envs)
        self.single_observation_space = self.layout.observation_space()
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space,
                                                              self.num_envs)
        self._resetting = np.zeros(self.num_envs, bool)

    def _encode(self, infos: dict[str, Any]) -> np.ndarray:
        return self._encoder.encode(*self._objects.arrays(infos))

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
        venv: :class:`~envs.fast.envpool_vec.EnvpoolVecEnv` (objects read from the
            engine), or a ``DummyVecEnv`` / ``SubprocVecEnv`` of
            ``make_env(..., objects_in_info=True)``; other wrappers may sit between.
        stack: Steps of object vectors per observation.
        game: The game, for VecEnvs that are not envpool's.
    """

    def __init__(self, venv: VecEnv, stack: int = 1, game: str | GameSpec | None = None) -> None:
        self._objects = VecEnvObjects(venv, game, "ObjectObservationVecEnv")
        self.layout = SlotLayout.from_game(self._objects.spec, stack)
        super().__init__(venv, observation_space=self.layout.observation_space())
        self._encoder = SlotEncoder(self.layout, venv.num_envs)

    def reset(self) -> np.ndarray:
        self.venv.reset()
        self._encoder.reset()
        return self._encoder.encode(*self._objects.reset_arrays())

    def step_wait(self):
        _, rewards, dones, infos = self.venv.step_wait()
        obs = self._encoder.encode(*self._objects.step_arrays(infos))
        done = np.flatnonzero(dones)
        if done.size:
            for i in done.tolist():
                infos[i]["terminal_observation"] = obs[i].copy()
            self._encoder.reset(done)
            obs[done] = self._encoder.encode(*self._objects.first_arrays(done.tolist()), done)
        return obs, rewards, dones, infos
