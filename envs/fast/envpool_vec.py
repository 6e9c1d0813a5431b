"""The fast path: Atari games stepped in C++ threads by envpool, contacts once per agent step.

``make_env`` runs Python wrappers on every emulator frame (the per-frame
detector beneath frame skipping); that caps training at about 2,000 steps/s on
16 cores.  Here envpool does the emulation *and* the preprocessing in C++
threads (sticky actions, no-op starts, frame skip with max-pooling, grey 84x84,
frame stacking, episode limits) and returns every environment's RAM after each
agent step.  Objects are read from that RAM for all environments at once
(:func:`envs.fast.batched.make_extractor`) and contacts found along the objects'
paths between two steps (:class:`envs.fast.swept.SweptDetector`).

Three forms:

* :class:`EnvpoolAtari`: the engine, batch arrays in and out
  (:class:`StepBatch`), episodes restarted in the step that ends them
  (``same_step_reset=True``) or on the next step (envpool's own behaviour);
* :class:`EnvpoolVectorEnv`: a Gymnasium vector env (next-step autoreset, the
  same ``info`` keys as ``make_vec_env``'s gymnasium backend), what
  ``envs.atari.make_vec_env(game, n, backend="envpool")`` returns;
* :class:`EnvpoolVecEnv`: a Stable-Baselines3 ``VecEnv`` (same-step reset,
  ``terminal_observation``, ``TimeLimit.truncated``, ``info["episode"]`` as
  SB3's ``Monitor`` writes it), what ``agents.train --env-backend envpool`` uses;
  ``ManualRewardVecEnv`` and ``VecNormalize`` go on top unchanged.

Differences from ``make_env`` (measured in ``tests/test_envpool.py``): with
sticky actions and no-op starts off, observations, rewards and episode ends are
identical step for step, except the observation of an episode's last step (the
gymnasium path stops grabbing frames when the game ends, envpool does not).
The random streams differ (the same seed gives other sticky-action draws and
no-op counts); the episode limit counts agent steps after the no-op start
(``ceil(max_episode_frames / frame_skip)``), where ALE counts the no-op frames
too, so episodes may run up to ``noop_max / frame_skip`` steps longer;
``noop_max=0`` runs one no-op frame (envpool crashes without one); interaction
events come from the per-step detectors, not the per-frame one (see
:mod:`envs.fast.swept` for how often they differ; Skiing's gate passes and misses
agree on the recorded runs of ``benchmarks/detector_recall.py --gate-runs``).

Example:
    >>> from envs.fast.envpool_vec import EnvpoolAtari, envpool_available
    >>> if envpool_available():
    ...     pool = EnvpoolAtari("Pong", 2, num_threads=1)
    ...     obs = pool.reset(seed=0)
    ...     batch = pool.step(np.zeros(2, np.int64))
    ...     print(obs.shape, batch.obs.dtype, len(batch.events))
    ...     pool.close()
    ... else:
    ...     print((2, 4, 84, 84), np.dtype("uint8"), 2)
    (2, 4, 84, 84) uint8 2
"""

from __future__ import annotations

import importlib.util
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from envs.arguments import check_env_args
from envs.fast.batched import make_extractor
from envs.fast.swept import StepPassDetector, SweptDetector
from envs.games import GameSpec, resolve_game
from envs.interactions import INTERACTIONS_KEY, InteractionEvent
from envs.slots import SlotEncoder, SlotLayout, check_obs, check_stack


def envpool_available() -> bool:
    """Whether the ``envpool`` package is installed (wheels exist for CPython 3.11-3.13)."""
    return importlib.util.find_spec("envpool") is not None


def default_event_sources(spec: GameSpec, num_envs: int, margin: int | None,
                          frame_skip: int) -> list:
    """The per-step event sources of a tracked fast-path env.

    Swept-box contacts (:class:`envs.fast.swept.SweptDetector`) and, for games with
    derived objects, their passes and misses (:class:`envs.fast.swept.StepPassDetector`);
    each follows :class:`envs.fast.swept.StepEventSource`.
    """
    sources: list = [SweptDetector(spec, num_envs, margin=margin, frame_skip=frame_skip)]
    if spec.derived:
        sources.append(StepPassDetector(spec, num_envs, frame_skip=frame_skip))
    return sources


def _pin_offset(allowed: list[int], threads: int, pin: bool | None) -> int:
    """envpool's ``thread_affinity_offset``: the first of ``threads`` consecutive allowed
    cores to bind its threads to, or -1 (no binding)."""
    first = allowed[0]
    # envpool binds thread i to core offset + i: those cores must all be ours.
    possible = threads <= len(allowed) and allowed[:threads] == list(range(first, first + threads))
    if pin is None:
        return first if possible and threads == len(allowed) else -1
    if pin and not possible:
        raise ValueError(f"cannot bind {threads} envpool threads to consecutive cores of "
                         f"this process's {allowed}; pass pin_threads=False")
    return first if pin else -1


@dataclass
class StepBatch:
    """One agent step of every environment.

    Attributes:
        obs: ``(n, ...)`` uint8 observations.  With same-step reset, the first
            observation of the next episode where one ended.
        reward: ``(n,)`` float32 reward as training sees it (sign-clipped when
            clipping is on).
        game_reward: ``(n,)`` float64 game reward before clipping.
        terminated: ``(n,)`` game over.
        truncated: ``(n,)`` episode limit reached.
        ram: ``(n, 128)`` uint8 RAM after the step.
        steps: ``(n,)`` agent step of each environment in its episode.
        events: Interaction events per environment (``None`` without tracking).
        objects: The objects of every environment after the step, derived ones
            (Skiing's gates) included where known (``None`` without objects).  For
            an episode that ended, those of its last state.
        final_obs: Env index -> last observation of the episode that ended
            (same-step reset only).
        episodes: Env index -> ``(game score, length, start time)`` of the
            episode that ended (start time from ``time.time()``).
        restarted: ``(n,)`` this row is a reset, not a step (next-step autoreset:
            the row after an episode end; reward 0, nothing ends).
        lives: ``(n,)`` lives left after the step (for an episode that ended, at its end).
    """

    obs: np.ndarray
    reward: np.ndarray
    game_reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    ram: np.ndarray
    steps: np.ndarray
    events: list[list[InteractionEvent]] | None
    objects: Any = None
    final_obs: dict[int, np.ndarray] = field(default_factory=dict)
    episodes: dict[int, tuple[float, int, float]] = field(default_factory=dict)
    restarted: np.ndarray | None = None
    lives: np.ndarray | None = None


class EnvpoolAtari:
    """``num_envs`` copies of one Atari game in envpool, with objects and contacts per step.

    The arguments mirror :func:`envs.atari.make_env`; see there.  Only these differ:

    Args:
        num_envs: Number of environments.
        num_threads: envpool worker threads (default: one per core this process
            may use, at most ``num_envs``).
        same_step_reset: Restart an ended episode within the step that ends it
            (SB3's convention) instead of on the next step (Gymnasium's default).
        event_sources: ``factory(spec, num_envs, margin, frame_skip)`` returning
            the list of per-step event sources (default
            :func:`default_event_sources`).
        pin_threads: Bind envpool's worker threads to cores, one each, from the
            first core this process may use.  ``None`` (default): where the threads
            take every core this process may use (it owns them: a single run, or a
            sweep run given its own cores).  A bound thread keeps its caches while
            the Python side works between steps: on 2 cores, A2C on Skiing objects
            ran 1,600-1,860 steps/s unbound and 1,900-1,985 bound.
        obs: ``pixels`` (the preprocessed frames) or ``objects``: the detector's
            objects as one float32 vector per environment (:mod:`envs.slots`;
            objects are then extracted even without ``track_objects``).
        obs_stack: With ``obs="objects"``, steps of object vectors per observation.

    Attributes:
        last_objects: The objects after the latest step or reset
            (:class:`envs.fast.batched.ObjectBatch`), derived ones included where a
            :class:`~envs.fast.swept.StepPassDetector` derives them (the default event
            sources, or object observations).  Where an episode restarted within
            the step, the new episode's first objects.

    Raises:
        ImportError: envpool is not installed.
        ValueError: an argument out of range, or one envpool cannot honour
            (``terminal_on_life_loss``, ``render_mode``).
    """

    def __init__(
        self,
        game: str | GameSpec,
        num_envs: int,
        *,
        frame_skip: int = 4,
        screen_size: int | tuple[int, int] = 84,
        grayscale: bool = True,
        frame_stack: int = 4,
        noop_max: int = 30,
        sticky_actions: float = 0.25,
        clip_reward: bool | None = None,
        terminal_on_life_loss: bool = False,
        full_action_space: bool = False,
        max_episode_frames: int = 108_000,
        track_objects: bool = True,
        touch_margin: int | None = None,
        ram_in_info: bool = False,
        objects_in_info: bool = False,
        render_mode: str | None = None,
        num_threads: int | None = None,
        same_step_reset: bool = False,
        event_sources: Callable[..., list] = default_event_sources,
        pin_threads: bool | None = None,
        obs: str = "pixels",
        obs_stack: int = 1,
    ) -> None:
        self.spec = game if isinstance(game, GameSpec) else resolve_game(game)
        check_env_args(frame_skip=frame_skip, frame_stack=frame_stack, noop_max=noop_max,
                       sticky_actions=sticky_actions, max_episode_frames=max_episode_frames,
                       track_objects=track_objects, ram_in_info=ram_in_info,
                       objects_in_info=objects_in_info, render_mode=render_mode)
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
        if terminal_on_life_loss:
            # envpool's episodic_life continues the game after a lost life; the gymnasium
            # path restarts it.  Not the same episodes: refuse rather than differ silently.
            raise ValueError("terminal_on_life_loss is not available on the envpool backend; "
                             "use backend='gymnasium'")
        if render_mode is not None:
            raise ValueError("render_mode is not available on the envpool backend; "
                             "use envs.atari.make_env for rendering")
        if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
            raise ValueError(f"num_threads must be an int >= 1, got {num_threads!r}")
        self.obs_kind = check_obs(obs)
        layout = SlotLayout.from_game(self.spec, check_stack(obs_stack)) \
            if obs == "objects" else None
        if not envpool_available():
            raise ImportError("the envpool backend needs the envpool package "
                              "(pip install envpool; wheels for CPython 3.11-3.13)")
        width, height = (screen_size, screen_size) if isinstance(screen_size, int) else screen_size
        self.num_envs = num_envs
        self.frame_skip = frame_skip
        self.clip = self.spec.clip_reward_default if clip_reward is None else bool(clip_reward)
        self.track_objects = track_objects
        self.ram_in_info = ram_in_info
        self.objects_in_info = objects_in_info
        self.same_step_reset = same_step_reset
        self._grayscale = grayscale
        self._frame_stack = frame_stack
        allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
            list(range(os.cpu_count() or 1))
        self.num_threads = num_threads or max(1, min(num_envs, len(allowed)))
        self.pinned = _pin_offset(allowed, self.num_threads, pin_threads)
        self._config = dict(
            task_id=f"{self.spec.name}-v5", num_envs=num_envs, batch_size=num_envs,
            num_threads=self.num_threads, thread_affinity_offset=self.pinned,
            frame_skip=frame_skip, img_height=height,
            img_width=width, gray_scale=grayscale, stack_num=frame_stack,
            # envpool needs at least one no-op frame (noop_max=0 crashes it).
            noop_max=max(1, noop_max), repeat_action_probability=float(sticky_actions),
            full_action_space=full_action_space,
            max_episode_steps=math.ceil(max_episode_frames / frame_skip),
            # rnr's own conventions: the game restarts only at game over, no FIRE
            # pressed on reset, clipping done here so that the raw reward survives.
            episodic_life=False, use_fire_reset=False, reward_clip=False,
        )
        import envpool

        self._envpool = envpool
        pool_spec = envpool.make_spec(**self._config)
        shape = self._obs_shape(pool_spec.observation_space.shape)
        self.layout = layout
        self.observation_space = layout.observation_space() if layout else \
            gym.spaces.Box(0, 255, shape, np.uint8)
        self.action_space = gym.spaces.Discrete(int(pool_spec.action_space.n))
        self._pool = None
        self._seed: list[int] | None = None
        self._sources = []
        self._extractor = None
        self._deriver = None
        self._encoder = SlotEncoder(layout, num_envs) if layout else None
        if track_objects or layout:
            self._extractor = make_extractor(self.spec, num_envs)
            if track_objects:
                self._sources = list(event_sources(self.spec, num_envs, touch_margin, frame_skip))
            # Derived objects (Skiing's gates) come from the pass detector among the
            # sources, or from one kept for them alone where observations need them.
            self._deriver = next((s for s in self._sources if isinstance(s, StepPassDetector)),
                                 None)
            if self._deriver is None and layout and self.spec.derived:
                self._deriver = StepPassDetector(self.spec, num_envs, frame_skip=frame_skip)
        self._return = np.zeros(num_envs)
        self._length = np.zeros(num_envs, dtype=np.int64)
        self._started = np.zeros(num_envs)
        self.last_ram = np.zeros((num_envs, 128), np.uint8)
        self.last_objects = None

    # -- observations ---------------------------------------------------------------

    def _obs_shape(self, pool_shape: tuple[int, ...]) -> tuple[int, ...]:
        """envpool gives ``(stack * channels, h, w)``; make_env gives ``(stack, h, w[, 3])``."""
        _, h, w = pool_shape
        shape = (h, w) if self._grayscale else (h, w, 3)
        return shape if self._frame_stack == 1 else (self._frame_stack, *shape)

    def _obs(self, obs: np.ndarray) -> np.ndarray:
        if self._grayscale:
            return obs[:, 0] if self._frame_stack == 1 else obs
        n, _, h, w = obs.shape
        rgb = obs.reshape(n, self._frame_stack, 3, h, w).transpose(0, 1, 3, 4, 2)
        return np.ascontiguousarray(rgb[:, 0] if self._frame_stack == 1 else rgb)

    # -- episodes ------------------------------------------------------------------

    def reset(self, seed: int | Sequence[int] | None = None) -> np.ndarray:
        """Start new episodes in every environment; returns their first observations.

        Args:
            seed: Environment ``i`` is seeded ``seed + i`` (or ``seed[i]`` for a
                sequence).  envpool fixes seeds when it builds its environments,
                so a new seed rebuilds them; ``None`` keeps the current ones
                (random ones the first time).
        """
        if seed is not None:
            seeds = [int(seed) + i for i in range(self.num_envs)] if np.isscalar(seed) else \
                [int(s) for s in seed]
            if len(seeds) != self.num_envs:
                raise ValueError(f"{len(seeds)} seeds for {self.num_envs} environments")
            if self._pool is None or seeds != self._seed:
                self._build(seeds)
        elif self._pool is None:
            self._build([int(s) for s in np.random.SeedSequence().generate_state(self.num_envs)
                         % (2**31 - 1)])
        obs, info = self._pool.reset()
        self.last_ram = info["ram"]
        self._return[:] = 0
        self._length[:] = 0
        self._started[:] = time.time()
        if self._extractor is not None:
            self._extractor.reset()
            for source in self._sources:
                source.reset()
            if self._deriver is not None and self._deriver not in self._sources:
                self._deriver.reset()
            self.last_objects = self._with_derived(self._extractor.update(self.last_ram),
                                                   seen=False)
        if self._encoder is not None:
            self._encoder.reset()
            return self._encoder.encode_batch(self.last_objects)
        return self._obs(obs)

    def _with_derived(self, batch, seen: bool):
        """``batch`` with its derived objects appended; ``seen``: the event sources updated
        on it, the deriver among them where it is one."""
        if self._deriver is None:
            return batch
        if not seen or self._deriver not in self._sources:
            self._deriver.derive(batch)
        return batch.concat(self._deriver.derived())

    def _first_objects(self, ids: np.ndarray, ram: np.ndarray, raw):
        """Objects of the first frame of the episodes just restarted in ``ids`` (same-step reset).

        The extractor reads that frame for them alone; the deriver sees it in the
        step's batch (``raw``) with their rows replaced, so their derived objects keep
        their ids into the next step.  Event sources see nothing: their next update
        is the new episode's first, as without object observations.
        """
        first = self._extractor.update(ram, ids)
        if self._deriver is None:
            return first
        self._deriver.derive(raw.replace_rows(ids, first))
        return first.concat(self._deriver.derived().rows(ids))

    def _build(self, seeds: list[int]) -> None:
        if self._pool is not None:
            self._pool.close()
        self._pool = self._envpool.make_gymnasium(**self._config, env_seed=seeds,
                                                  seed=seeds[0])
        self._seed = seeds

    def step(self, actions: np.ndarray) -> StepBatch:
        """One agent step of every environment."""
        if self._pool is None:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"expected {self.num_envs} actions, got shape {actions.shape}")
        obs, game_reward, terminated, truncated, info = self._pool.step(actions.astype(np.int32))
        obs = None if self._encoder is not None else self._obs(obs)
        game_reward = game_reward.astype(np.float64)
        ram, steps = info["ram"], info["elapsed_step"]
        restarted = None
        if not self.same_step_reset:
            # envpool restarted the environments whose episode ended on the previous step.
            restarted = steps == 0
            if restarted.any():
                ids = np.flatnonzero(restarted)
                game_reward[ids] = 0.0
                self._return[ids] = 0.0
                self._length[ids] = 0
                self._started[ids] = time.time()
                self._restart(ids)
        live = slice(None) if restarted is None else ~restarted
        self._return[live] += game_reward[live]
        self._length[live] += 1
        events = None
        objects = None
        if self._extractor is not None:
            raw = self._extractor.update(ram)
            if self._sources:
                events = [[] for _ in range(self.num_envs)]
                for source in self._sources:
                    for mine, found in zip(events, source.update(raw, steps)):
                        mine.extend(found)
            elif self.track_objects:
                events = [[] for _ in range(self.num_envs)]
            self.last_objects = objects = self._with_derived(raw, seen=True)
            if self._encoder is not None:
                obs = self._encoder.encode_batch(objects)
        done = terminated | truncated
        out = StepBatch(obs, np.sign(game_reward).astype(np.float32) if self.clip else
                        game_reward.astype(np.float32), game_reward, terminated, truncated,
                        ram, steps, events, objects=objects, restarted=restarted,
                        lives=info["lives"])
        if done.any():
            ids = np.flatnonzero(done)
            now = time.time()
            out.episodes = {int(i): (float(self._return[i]), int(self._length[i]),
                                     float(self._started[i])) for i in ids}
            if self.same_step_reset:
                out.final_obs = {int(i): obs[i].copy() for i in ids}
                new_obs, new_info = self._pool.reset(ids.astype(np.int32))
                self._return[ids] = 0.0
                self._length[ids] = 0
                self._started[ids] = now
                self._restart(ids)
                if self._extractor is not None:
                    first = self._first_objects(ids, new_info["ram"], raw)
                    self.last_objects = objects.replace_rows(ids, first)
                    ram = ram.copy()
                    ram[ids] = new_info["ram"]
                if self._encoder is not None:
                    obs[ids] = self._encoder.encode_batch(first, ids)
                else:
                    obs[ids] = self._obs(new_obs)
        self.last_ram = ram
        return out

    def _restart(self, ids: np.ndarray) -> None:
        """Forget the tracked state of the environments ``ids`` (a new episode starts)."""
        if self._extractor is not None:
            self._extractor.reset(ids)
            for source in self._sources:
                source.reset(ids)
            if self._deriver is not None and self._deriver not in self._sources:
                self._deriver.reset(ids)
        if self._encoder is not None:
            self._encoder.reset(ids)

    def object_records(self, i: int) -> list:
        """Objects of environment ``i`` after the latest step, as records (slow; for display)."""
        if self.last_objects is None:
            raise RuntimeError("objects are tracked only with track_objects=True, after reset()")
        return self.last_objects.frame(i).records()

    def close(self) -> None:
        """Stop envpool's threads."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None


class EnvpoolVectorEnv(gym.vector.VectorEnv):
    """Gymnasium vector env on :class:`EnvpoolAtari` (next-step autoreset).

    ``info`` keys as in Gymnasium's vector envs of :func:`envs.atari.make_env`
    (arrays with ``_key`` masks): ``interactions``, ``episode`` (``r`` the
    unclipped game score, ``l``, ``t``), ``game_reward`` when clipping,
    ``ram`` and ``objects`` on request.  Arguments as for :class:`EnvpoolAtari`.
    """

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, game: str | GameSpec, num_envs: int, **kwargs: Any) -> None:
        self.engine = EnvpoolAtari(game, num_envs, same_step_reset=False, **kwargs)
        self.num_envs = num_envs
        self.single_observation_space = self.engine.observation_space
        self.single_action_space = self.engine.action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space,
                                                               num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self._done = np.zeros(num_envs, bool)

    def _infos(self, events, ram) -> dict[str, Any]:
        engine, n = self.engine, self.num_envs
        infos: dict[str, Any] = {}
        if events is not None:
            infos[INTERACTIONS_KEY] = np.empty(n, dtype=object)
            infos[INTERACTIONS_KEY][:] = events
            infos[f"_{INTERACTIONS_KEY}"] = np.ones(n, bool)
        if engine.ram_in_info:
            infos["ram"], infos["_ram"] = ram.copy(), np.ones(n, bool)
        if engine.objects_in_info:
            infos["objects"] = np.empty(n, dtype=object)
            infos["objects"][:] = [engine.object_records(i) for i in range(n)]
            infos["_objects"] = np.ones(n, bool)
        return infos

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        if options:
            raise ValueError(f"reset options are not supported here, got {options!r}")
        obs = self.engine.reset(seed)
        self._done[:] = False
        events = [[] for _ in range(self.num_envs)] if self.engine.track_objects else None
        return obs, self._infos(events, self.engine.last_ram)

    def step(self, actions):
        b = self.engine.step(np.asarray(actions))
        infos = self._infos(b.events, b.ram)
        if self.engine.clip:
            infos["game_reward"], infos["_game_reward"] = b.game_reward, np.ones(self.num_envs, bool)
        done = b.terminated | b.truncated
        if b.episodes:
            now = time.time()
            r, ln, t = np.zeros(self.num_envs), np.zeros(self.num_envs, np.int64), np.zeros(self.num_envs)
            for i, (score, length, started) in b.episodes.items():
                r[i], ln[i], t[i] = score, length, round(now - started, 6)
            infos["episode"], infos["_episode"] = {"r": r, "l": ln, "t": t}, done.copy()
        return b.obs, b.reward.astype(np.float64), b.terminated, b.truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        self.engine.close()


try:
    from stable_baselines3.common.vec_env import VecEnv
except ImportError:  # SB3 is only needed for this form
    VecEnv = object  # type: ignore[assignment,misc]


class EnvpoolVecEnv(VecEnv):  # type: ignore[misc,valid-type]
    """Stable-Baselines3 ``VecEnv`` on :class:`EnvpoolAtari` (same-step reset).

    Each step's ``infos[i]`` holds ``interactions`` (with tracking),
    ``game_reward`` (when clipping), and at an episode's end
    ``terminal_observation``, ``TimeLimit.truncated`` and ``episode``: ``r``
    the unclipped game score, ``l`` its length, ``t`` seconds since this env
    was made, as SB3's ``Monitor`` reports it (so :meth:`env_is_wrapped` says
    yes to ``Monitor`` and SB3's ``evaluate_policy`` uses the game score).

    Args:
        game: As for :class:`EnvpoolAtari`.
        num_envs: Number of environments.
        **kwargs: Passed to :class:`EnvpoolAtari`.
    """

    def __init__(self, game: str | GameSpec, num_envs: int, **kwargs: Any) -> None:
        self.engine = EnvpoolAtari(game, num_envs, same_step_reset=True, **kwargs)
        self.render_mode = None
        #: The latest :class:`StepBatch` (``None`` before the first step).
        self.last_step: StepBatch | None = None
        self._t0 = time.time()
        self._actions: np.ndarray | None = None
        super().__init__(num_envs, self.engine.observation_space, self.engine.action_space)

    def reset(self) -> np.ndarray:
        seeds = self._seeds
        seed = None if seeds[0] is None else (
            seeds[0] if seeds == [seeds[0] + i for i in range(self.num_envs)] else seeds)
        obs = self.engine.reset(seed)
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        self.last_step = b = self.engine.step(self._actions)
        lives = b.lives.tolist()
        if b.events is not None:
            infos = [{INTERACTIONS_KEY: ev, "lives": n} for ev, n in zip(b.events, lives)]
        else:
            infos = [{"lives": n} for n in lives]
        if self.engine.clip:
            for info, r in zip(infos, b.game_reward.tolist()):
                info["game_reward"] = r
        if self.engine.ram_in_info:
            for info, ram in zip(infos, b.ram):
                info["ram"] = ram
        for i, obs in b.final_obs.items():
            score, length, _ = b.episodes[i]
            info = infos[i]
            info["terminal_observation"] = obs
            info["TimeLimit.truncated"] = bool(b.truncated[i] and not b.terminated[i])
            info["episode"] = {"r": round(score, 6), "l": length,
                               "t": round(time.time() - self._t0, 6)}
        return b.obs, b.reward, b.terminated | b.truncated, infos

    def close(self) -> None:
        self.engine.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        """An attribute of the engine (the same for every environment)."""
        value = getattr(self, attr_name) if attr_name == "render_mode" else \
            getattr(self.engine, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        # The environments live in C++; there is no per-environment Python object.
        raise AttributeError(f"cannot set {attr_name!r} on envpool environments")

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list:
        raise AttributeError(f"envpool environments have no Python method {method_name!r}")

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices=None) -> list[bool]:
        from stable_baselines3.common.monitor import Monitor

        # info["episode"] follows Monitor's format: SB3's evaluate_policy reads it.
        return [wrapper_class is Monitor for _ in self._get_indices(indices)]
