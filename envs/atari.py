"""Atari environment factories with DQN-style preprocessing and object tracking.

``make_env`` builds one environment, ``make_vec_env`` a Gymnasium vector env
of several.  The wrapper chain, innermost first::

    ALE/<Game>-v5 (frameskip=1, sticky actions)      raw RGB via env.render(), RAM via .ale
    ObjectTracker          objects + contacts on every emulator frame
    AtariPreprocessing     no-op starts, frame skip with max-pool, resize, grey
    FrameStackObservation  last k frames
    InteractionInfo        info["interactions"]: the agent step's events
    RecordEpisodeStatistics  info["episode"]: the true game score (before clipping)
    SignReward             optional clipping; raw reward in info["game_reward"]

Example:
    >>> from envs.atari import make_env
    >>> env = make_env("Skiing")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape
    (4, 84, 84)
    >>> obs, reward, terminated, truncated, info = env.step(0)
    >>> "interactions" in info
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import gymnasium as gym

from envs.arguments import check_env_args
from envs.fast.batched import BATCHED_GAMES
from envs.fast.envpool_vec import EnvpoolVectorEnv, envpool_available
from envs.games import GameSpec, resolve_game
from envs.observations import ObjectObservation
from envs.slots import SlotLayout, check_obs, check_stack
from envs.wrappers import InteractionInfo, ObjectTracker, SignReward


def make_env(
    game: str | GameSpec,
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
    record_stats: bool | Callable[[gym.Env], gym.Env] = True,
    render_mode: str | None = None,
    obs: str = "pixels",
    obs_stack: int = 1,
) -> gym.Env:
    """Build one preprocessed Atari environment.

    Args:
        game: Friendly name (``"Skiing"``, ``"ms_pacman"``, ``"ALE/Pong-v5"``) or spec.
        frame_skip: Emulator frames per agent step (the action repeats; the
            observation is the max over the last two frames).
        screen_size: Side of the square observation, or ``(width, height)``.
            ``(160, 210)`` with ``grayscale=False`` keeps raw frames.
        grayscale: Grey observations (``True``) or RGB.
        frame_stack: Number of stacked observations (1 = no stacking).
        noop_max: Up to this many no-op frames after reset (random start states).
        sticky_actions: Probability that the emulator repeats the previous
            action on a frame (ALE v5 default 0.25, Machado et al. 2018).
        clip_reward: Clip rewards to their sign.  ``None`` uses the game's
            default: on, except for games where clipping erases the signal
            (Skiing).
        terminal_on_life_loss: End the episode on every lost life.
        full_action_space: Use all 18 Atari actions instead of the game's
            minimal set.
        max_episode_frames: Truncate episodes after this many emulator frames
            (108,000 = 30 minutes of play, the ALE v5 default).
        track_objects: Extract objects and detect interactions
            (``info["interactions"]``).  Off gives a plain preprocessed env.
        touch_margin: Override the game's contact margin in pixels.
        ram_in_info: Put the emulator RAM in ``info["ram"]`` (needs tracking).
        objects_in_info: Put object records in ``info["objects"]`` (needs tracking).
        record_stats: Add ``info["episode"]`` with the unclipped game score:
            ``True`` uses Gymnasium's ``RecordEpisodeStatistics``; a callable
            (e.g. SB3's ``Monitor``) is applied at the same place instead.
        render_mode: ``"rgb_array"`` to get raw RGB frames from ``env.render()``.
        obs: ``"pixels"`` (the preprocessed frames) or ``"objects"``: every
            detected object as one float32 vector (:mod:`envs.slots`; the tracker
            then runs even without ``track_objects``, and ``frame_stack`` does not
            apply).
        obs_stack: With ``obs="objects"``, steps of object vectors per observation.

    Returns:
        The wrapped environment.

    Raises:
        envs.games.UnknownGameError: unknown game name.
        ValueError: an argument out of range.
        envs.slots.NoObjectsError: ``obs="objects"`` for a game without objects.
    """
    spec = game if isinstance(game, GameSpec) else resolve_game(game)
    objects = check_obs(obs) == "objects"
    if objects:
        SlotLayout.from_game(spec, check_stack(obs_stack))  # fails early for games without objects
    track_objects = track_objects or objects
    check_env_args(frame_skip=frame_skip, frame_stack=frame_stack, noop_max=noop_max,
                   sticky_actions=sticky_actions, max_episode_frames=max_episode_frames,
                   track_objects=track_objects, ram_in_info=ram_in_info,
                   objects_in_info=objects_in_info, render_mode=render_mode)

    import ale_py  # noqa: F401  (registers ALE/... ids; also needed in worker processes)

    env = gym.make(
        spec.ale_id,
        frameskip=1,
        repeat_action_probability=float(sticky_actions),
        full_action_space=full_action_space,
        max_num_frames_per_episode=max_episode_frames,
        render_mode=render_mode,
    )
    if track_objects:
        env = ObjectTracker(env, spec, margin=touch_margin)
    env = gym.wrappers.AtariPreprocessing(
        env,
        noop_max=noop_max,
        frame_skip=frame_skip,
        screen_size=screen_size,
        terminal_on_life_loss=terminal_on_life_loss,
        grayscale_obs=grayscale,
    )
    if frame_stack > 1 and not objects:
        env = gym.wrappers.FrameStackObservation(env, frame_stack)
    if track_objects:
        env = InteractionInfo(env, ram_in_info=ram_in_info, objects_in_info=objects_in_info)
    if objects:
        env = ObjectObservation(env, obs_stack)
    if record_stats is True:
        env = gym.wrappers.RecordEpisodeStatistics(env)
    elif callable(record_stats):
        env = record_stats(env)
    if spec.clip_reward_default if clip_reward is None else clip_reward:
        env = SignReward(env)
    return env


#: Vector-env backends: ``gymnasium`` runs :func:`make_env` (per-frame detection) in
#: Gymnasium's vector envs; ``envpool`` is the fast path (:mod:`envs.fast.envpool_vec`).
BACKENDS = ("auto", "envpool", "gymnasium")


def choose_backend(backend: str, spec: GameSpec | None, *, track_objects: bool = True,
                   **env_kwargs: Any) -> str:
    """Resolve ``auto``: ``envpool`` when installed and it can serve the request, else ``gymnasium``.

    ``auto`` keeps the per-frame path for what the fast path cannot do: non-Atari
    environments (``spec`` is ``None``), rendering, ``terminal_on_life_loss``, and
    contact detection in games without a batched object extractor
    (:data:`envs.fast.batched.BATCHED_GAMES`).

    Raises:
        ValueError: an unknown backend, or ``envpool`` asked for but not installed.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "envpool":
        if spec is None:
            raise ValueError("the envpool backend runs Atari games only")
        if not envpool_available():
            raise ValueError("backend 'envpool' needs the envpool package (pip install envpool; "
                             "wheels for CPython 3.11-3.13)")
        return backend
    if backend == "gymnasium" or spec is None or not envpool_available():
        return "gymnasium"
    if env_kwargs.get("render_mode") is not None or env_kwargs.get("terminal_on_life_loss"):
        return "gymnasium"
    if track_objects:
        if spec.name not in BATCHED_GAMES:
            return "gymnasium"
    return "envpool"


def make_vec_env(
    game: str | GameSpec,
    num_envs: int,
    *,
    backend: Literal["auto", "envpool", "gymnasium"] = "auto",
    vectorization: Literal["sync", "async"] = "async",
    **env_kwargs: Any,
) -> gym.vector.VectorEnv:
    """Build ``num_envs`` environments of one game as a Gymnasium vector env.

    Args:
        game: As for :func:`make_env`.
        num_envs: Number of environments.
        backend: ``gymnasium``: copies of :func:`make_env` (objects and contacts on
            every emulator frame).  ``envpool``: the fast path
            (:class:`envs.fast.envpool_vec.EnvpoolVectorEnv`: emulation and
            preprocessing in C++ threads, contacts once per agent step).
            ``auto`` (default): ``envpool`` where :func:`choose_backend` allows.
            Both reset finished episodes on the next step.
        vectorization: ``gymnasium`` backend: ``"async"`` (one process each) or
            ``"sync"`` (in-process).
        **env_kwargs: Passed to :func:`make_env`, or to
            :class:`~envs.fast.envpool_vec.EnvpoolAtari` (which also takes ``num_threads``).

    Example:
        >>> from envs.atari import make_vec_env
        >>> venv = make_vec_env("Pong", 2, backend="gymnasium", vectorization="sync")
        >>> obs, info = venv.reset(seed=0)
        >>> obs.shape
        (2, 4, 84, 84)
        >>> venv.close()
    """
    if not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
    if vectorization not in ("sync", "async"):
        raise ValueError(f"vectorization must be 'sync' or 'async', got {vectorization!r}")
    spec = game if isinstance(game, GameSpec) else resolve_game(game)
    if choose_backend(backend, spec, **env_kwargs) == "envpool":
        return EnvpoolVectorEnv(spec, num_envs, **env_kwargs)
    make_env(spec, **env_kwargs).close()  # fail here, not in a worker, on bad kwargs
    thunks: list[Callable[[], gym.Env]] = [
        lambda: make_env(spec, **env_kwargs) for _ in range(num_envs)
    ]
    if vectorization == "sync":
        return gym.vector.SyncVectorEnv(thunks)
    return gym.vector.AsyncVectorEnv(thunks)
