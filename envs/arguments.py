"""The environment arguments both paths take, checked in one place.

:func:`envs.atari.make_env` (the per-frame path) and
:class:`envs.fast.envpool_vec.EnvpoolAtari` (the fast path) accept the same
preprocessing arguments; both call :func:`check_env_args` so that a bad value
fails the same way, with the same message, on either backend.

Example:
    >>> check_env_args(frame_skip=0, frame_stack=4, noop_max=30, sticky_actions=0.25,
    ...                max_episode_frames=108_000, track_objects=True, ram_in_info=False,
    ...                objects_in_info=False, render_mode=None)
    Traceback (most recent call last):
    ...
    ValueError: frame_skip must be an int >= 1, got 0
"""

from __future__ import annotations


def check_env_args(*, frame_skip: int, frame_stack: int, noop_max: int, sticky_actions: float,
                   max_episode_frames: int, track_objects: bool, ram_in_info: bool,
                   objects_in_info: bool, render_mode: str | None) -> None:
    """Validate the arguments both backends share; raises ``ValueError`` naming the bad one."""
    # Gymnasium's and envpool's own checks give less specific messages, or none at all
    # (envpool crashes on some).
    if not isinstance(frame_skip, int) or frame_skip < 1:
        raise ValueError(f"frame_skip must be an int >= 1, got {frame_skip!r}")
    if not isinstance(frame_stack, int) or frame_stack < 1:
        raise ValueError(f"frame_stack must be an int >= 1, got {frame_stack!r}")
    if not isinstance(noop_max, int) or noop_max < 0:
        raise ValueError(f"noop_max must be an int >= 0, got {noop_max!r}")
    if not 0.0 <= sticky_actions <= 1.0:
        raise ValueError(f"sticky_actions is a probability in [0, 1], got {sticky_actions!r}")
    if not isinstance(max_episode_frames, int) or max_episode_frames < 1:
        raise ValueError(f"max_episode_frames must be an int >= 1, got {max_episode_frames!r}")
    if (ram_in_info or objects_in_info) and not track_objects:
        # Both are served by the tracker; silently ignoring them would surprise.
        raise ValueError("ram_in_info / objects_in_info need track_objects=True")
    if render_mode not in (None, "rgb_array", "human"):
        raise ValueError(f"render_mode must be None, 'rgb_array' or 'human', got {render_mode!r}")
