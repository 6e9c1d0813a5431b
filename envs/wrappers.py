"""Gymnasium wrappers that put objects and interaction events into ``info``.

Contacts in Atari games can be short (a ball meets a paddle for a frame or
two), so detection runs on *every emulator frame*: :class:`ObjectTracker` sits
directly on the ALE environment, beneath frame skipping.  Frame-skipping
wrappers keep only the last sub-step's ``info``, so the tracker buffers the
events and :class:`InteractionInfo`, the outermost wrapper, hands every event
of the agent step to ``info[INTERACTIONS_KEY]``.

Used alone on an environment without a frame-skipping wrapper above it (for
example a plain ``ALE/...-v5`` env with its built-in frame skip), the tracker
writes ``info[INTERACTIONS_KEY]`` itself.

Example:
    >>> import ale_py, gymnasium as gym
    >>> from envs.wrappers import ObjectTracker
    >>> env = ObjectTracker(gym.make("ALE/Skiing-v5"))
    >>> _, info = env.reset(seed=0)
    >>> _, _, _, _, info = env.step(0)
    >>> isinstance(info["interactions"], list)
    True
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from envs.derived import Deriver
from envs.games import GameSpec, resolve_game
from envs.interactions import INTERACTIONS_KEY, InteractionDetector, InteractionEvent
from envs.objects import ObjectExtractor, ObjectFrame, ObjectRecord


def _ale(env: gym.Env):
    ale = getattr(env.unwrapped, "ale", None)
    if ale is None:
        # The extractor reads emulator RAM; only ALE environments have it.
        raise TypeError(
            f"{env.unwrapped!r} is not an ALE Atari environment (no .ale emulator handle)"
        )
    return ale


def find_wrapper(env: gym.Env, kind: type[gym.Wrapper]) -> gym.Wrapper | None:
    """The outermost wrapper of type ``kind`` in ``env``'s chain, or ``None``."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, kind):
            return env
        env = env.env
    return None


class ObjectTracker(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Extracts objects from RAM and detects avatar contacts on every ``step``.

    Args:
        env: An ALE environment (``ale_py.env.AtariEnv`` at the bottom).
        game: The game, if it cannot be read from the ALE environment.
        margin: Overlap margin in pixels; defaults to the game's setting.
    """

    def __init__(self, env: gym.Env, game: str | GameSpec | None = None, margin: int | None = None) -> None:
        # Recorded so that gymnasium can rebuild the env from its spec (env checker, pickling).
        gym.utils.RecordConstructorArgs.__init__(
            self, game=game.name if isinstance(game, GameSpec) else game, margin=margin)
        gym.Wrapper.__init__(self, env)
        self._ale = _ale(env)
        if game is None:
            game = getattr(env.unwrapped, "_game", None) or getattr(env.spec, "id", "")
        self.game = game if isinstance(game, GameSpec) else resolve_game(game)
        self._extractor = ObjectExtractor(self.game)
        self._deriver = Deriver(self.game)
        self._detector = InteractionDetector(self.game, margin)
        self._frame = ObjectFrame.empty(self.game.categories)
        self._pending: list[InteractionEvent] = []
        self._collected_above = False
        self.frame_index = 0
        self.step_index = 0

    @property
    def objects(self) -> ObjectFrame:
        """Objects of the latest frame (arrays), derived objects (Skiing's gates) included."""
        return self._frame

    def object_records(self) -> list[ObjectRecord]:
        """Objects of the latest frame as records."""
        return self._frame.records()

    def ram(self) -> np.ndarray:
        """A copy of the emulator's 128 bytes of RAM."""
        return np.array(self._ale.getRAM(), dtype=np.uint8)

    def collect_from_above(self) -> None:
        """Let an outer wrapper collect events with :meth:`pop_events` and count steps."""
        self._collected_above = True

    def pop_events(self) -> list[InteractionEvent]:
        """Events detected since the previous call, oldest first."""
        events, self._pending = self._pending, []
        return events

    def _observe(self) -> None:
        self._frame = self._deriver.apply(self._extractor.update(self._ale.getRAM())[0])
        self._pending.extend(self._detector.update(self._frame, self.frame_index, self.step_index))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._extractor.reset()
        self._deriver.reset()
        self._detector.reset()
        self._pending = []
        self.frame_index = self.step_index = 0
        self._observe()
        if not self._collected_above:
            info[INTERACTIONS_KEY] = self.pop_events()
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.frame_index += 1
        if not self._collected_above:
            self.step_index += 1
        self._observe()
        if not self._collected_above:
            info[INTERACTIONS_KEY] = self.pop_events()
        return obs, reward, terminated, truncated, info


class InteractionInfo(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Outer half of the tracker: one agent step's events into ``info``.

    Args:
        env: A wrapper chain containing an :class:`ObjectTracker`.
        ram_in_info: Also put the emulator RAM (``uint8[128]``) in ``info["ram"]``
            (for vector envs whose workers are in other processes).
        objects_in_info: Also put the latest frame's objects, as a list of
            :class:`~envs.objects.ObjectRecord`, in ``info["objects"]``.
    """

    def __init__(self, env: gym.Env, ram_in_info: bool = False, objects_in_info: bool = False) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, ram_in_info=ram_in_info,
                                                 objects_in_info=objects_in_info)
        gym.Wrapper.__init__(self, env)
        tracker = find_wrapper(env, ObjectTracker)
        if tracker is None:
            raise ValueError("InteractionInfo needs an ObjectTracker beneath it in the wrapper chain")
        tracker.collect_from_above()
        self._tracker = tracker
        self._ram_in_info = ram_in_info
        self._objects_in_info = objects_in_info

    def _fill(self, info: dict[str, Any]) -> dict[str, Any]:
        info[INTERACTIONS_KEY] = self._tracker.pop_events()
        if self._ram_in_info:
            info["ram"] = self._tracker.ram()
        if self._objects_in_info:
            info["objects"] = self._tracker.object_records()
        return info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, self._fill(info)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        self._tracker.step_index += 1
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, self._fill(info)


class SignReward(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """DQN-style reward clipping to ``sign(r)``, keeping the raw reward in ``info["game_reward"]``.

    A :class:`gymnasium.RewardWrapper` would not see ``info``; this one does, so
    downstream code can always recover the game's own reward.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["game_reward"] = float(reward)
        return obs, float(np.sign(reward)), terminated, truncated, info
