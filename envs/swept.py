"""Contact detection once per agent step that still sees contacts shorter than a step.

The per-frame detector (:mod:`envs.interactions`) tests box overlap on every
emulator frame.  The fast path (:mod:`envs.envpool_vec`) gets the emulator RAM
once per agent step, every ``frame_skip`` frames, so an overlap test on those
snapshots alone would miss a ball that meets the paddle and bounces away between
two of them.  :class:`SweptDetector` reconstructs the frames in between from
each object's box at the previous step, its box now and its velocity over the
previous step, and tests overlap (boxes grown by the game's ``touch_margin``,
as in the per-frame test) on every reconstructed frame:

* straight paths: object and avatar move at constant speed from their previous
  boxes to their current ones (a car passing, a skier running into a flag);
* bounces: one side keeps its previous velocity until it touches the other and
  then turns back to where it is now (a ball hitting the paddle, Freeway's
  chicken knocked back by a car).  A bounce counts only if what is left of the
  step suffices to reach the current box at the speed seen so far, so a paddle
  that merely changed direction is not extrapolated into the ball;
* an object that vanished since the previous step (an eaten pill, a collected
  item) keeps its last velocity against both avatar paths.

Objects with no previous box (new, or the first step of an episode) and jumps
longer than ``max_jump`` pixels (wrap-arounds, respawns) are tested where they
are now.  As in the per-frame detector, a contact yields one event, on the step
in which it begins: an object touching the avatar at the end of a step, or that
produced an event in it, produces no event in the next step.

``benchmarks/detector_recall.py`` measures how many of the per-frame detector's
contacts this finds, and how many it adds, on recorded games.

Example:
    >>> import numpy as np
    >>> from envs.batched import ObjectBatch
    >>> from envs.swept import SweptDetector
    >>> def pong(ball_x):                          # paddle at x=140, ball 2 px wide
    ...     return ObjectBatch(("Player", "Ball", "Enemy"), np.array([[0, 1]], np.int16),
    ...                        np.array([[1, 2]]),
    ...                        np.array([[[140, 90, 4, 16], [ball_x, 95, 2, 4]]], np.int32),
    ...                        np.zeros((1, 2, 2), np.int32))
    >>> det = SweptDetector("Pong", 1)
    >>> det.update(pong(122), np.array([1]))       # approaching at 3 px per frame
    [[]]
    >>> det.update(pong(134), np.array([2]))
    [[]]
    >>> [(e.category, e.frame) for e in det.update(pong(134), np.array([3]))[0]]
    [('Ball', 10)]

    The ball reached the paddle on the step's second frame (x=140) and bounced
    back to x=134: neither snapshot shows a contact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from envs.batched import ObjectBatch
from envs.derived import Deriver, PassDetector
from envs.games import GameSpec, resolve_game
from envs.interactions import InteractionEvent, pass_events

#: Default largest per-step movement (pixels, per axis) still treated as motion.
#: Freeway's cars wrap around the screen by about 160 px.
MAX_JUMP = 48

# Instance ids are unique per environment; the key makes them unique per batch.
_ENV_SHIFT = np.int64(1) << np.int64(40)


class StepEventSource(Protocol):
    """Something that turns each agent step's objects into events, per environment.

    The fast vector env calls :meth:`reset` for environments that start a new
    episode and :meth:`update` once per agent step with every environment's
    objects; the lists it returns are concatenated per environment.
    """

    def reset(self, env_indices: Sequence[int] | np.ndarray | None = None) -> None:
        """Forget the state of these environments (all when ``None``)."""

    def update(self, batch: ObjectBatch, steps: np.ndarray) -> list[list[InteractionEvent]]:
        """Events of this step, one list per environment (``steps``: agent step per env)."""


def _path(start: np.ndarray, velocity: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Positions ``start + frames * velocity``: ``(..., 2)`` inputs -> ``(..., F, 2)``."""
    return start[..., None, :] + frames[:, None] * velocity[..., None, :]


def _overlap(obj: np.ndarray, size: np.ndarray, av: np.ndarray, av_size: np.ndarray,
             margin: int) -> np.ndarray:
    """Per-frame box overlap of ``(..., F, 2)`` positions (sizes ``(..., 2)``) -> ``(..., F)``."""
    size = size[..., None, :]
    av_size = av_size[..., None, :]
    return ((obj < av + av_size + margin) & (av < obj + size + margin)).all(-1)


def _first(hits: np.ndarray) -> np.ndarray:
    """Index of the first True along the last axis, or -1."""
    return np.where(hits.any(-1), hits.argmax(-1), -1)


def _bounce(hits: np.ndarray, start: np.ndarray, velocity: np.ndarray, end: np.ndarray,
            straight: np.ndarray, frame_skip: int) -> np.ndarray:
    """First frame of ``hits`` on an extrapolated path if a bounce there is plausible, else -1.

    The side that bounced travelled ``velocity`` per step until that frame and
    must reach ``end`` in the rest of the step no faster than it moved before
    (its previous or its straight-line speed, plus a pixel).
    """
    b = _first(hits)
    reached = start + (b[..., None] + 1) / frame_skip * velocity
    speed = np.maximum(np.abs(velocity).max(-1), np.abs(straight).max(-1)) / frame_skip + 1
    plausible = np.abs(end - reached).max(-1) <= (frame_skip - 1 - b) * speed + 1
    return np.where((b >= 0) & plausible & (velocity != 0).any(-1), b, -1)


class SweptDetector:
    """Start-of-contact events per agent step, for ``num_envs`` environments at once.

    Args:
        game: Any name :func:`envs.games.resolve_game` accepts, or a spec.
        num_envs: Number of environments in every batch.
        margin: Pixels to grow boxes by; defaults to the game's ``touch_margin``.
        frame_skip: Emulator frames per agent step.
        max_jump: Movements longer than this (pixels per axis and step) are
            jumps (wrap-around, respawn), not paths.

    Events carry ``step`` (the agent step, as passed to :meth:`update`) and
    ``frame``, the estimated emulator frame of the contact counted from the end
    of the episode's reset: ``(step - 1) * frame_skip`` plus the reconstructed
    frame within the step.
    """

    def __init__(self, game: str | GameSpec, num_envs: int, *, margin: int | None = None,
                 frame_skip: int = 4, max_jump: int = MAX_JUMP) -> None:
        self.spec = game if isinstance(game, GameSpec) else resolve_game(game)
        # Zero environments would make every update a silent no-op.
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        self.margin = self.spec.touch_margin if margin is None else margin
        # A negative margin would make touching boxes not count as contact.
        if not isinstance(self.margin, int) or self.margin < 0:
            raise ValueError(f"margin must be a non-negative int, got {self.margin!r}")
        if not isinstance(frame_skip, int) or frame_skip < 1:
            raise ValueError(f"frame_skip must be an int >= 1, got {frame_skip!r}")
        if not isinstance(max_jump, int) or max_jump < 1:
            raise ValueError(f"max_jump must be an int >= 1, got {max_jump!r}")
        self.num_envs = num_envs
        self.frame_skip = frame_skip
        self.max_jump = max_jump
        self._frames = np.arange(1, frame_skip + 1) / frame_skip
        cats = self.spec.categories
        self._avatar = cats.index(self.spec.avatar) if self.spec.avatar else -1
        # Index -1 (empty slot) reads the last entry: one extra False there.
        self._eligible = np.zeros(len(cats) + 1, dtype=bool)
        for c in self.spec.interactable:
            self._eligible[cats.index(c)] = "touch" in self.spec.event_kinds(c)
        self._env_key = np.arange(num_envs, dtype=np.int64)[:, None] * _ENV_SHIFT
        self._prev: dict[str, np.ndarray] | None = None
        self._valid = np.zeros(num_envs, dtype=bool)

    def reset(self, env_indices: Sequence[int] | np.ndarray | None = None) -> None:
        """Forget the previous step of these environments (all when ``None``)."""
        if env_indices is None:
            self._valid[:] = False
        else:
            self._valid[np.asarray(env_indices, dtype=np.int64)] = False

    def _match(self, prev: dict[str, np.ndarray], key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each current object was at the previous step: ``(found, flat index)``."""
        pkey = np.where(self._valid[:, None], prev["key"], -1).ravel()
        order = np.argsort(pkey, kind="stable")
        sorted_keys = pkey[order]
        pos = np.minimum(np.searchsorted(sorted_keys, key.ravel()), sorted_keys.size - 1)
        found = (sorted_keys[pos] == key.ravel()) & (key.ravel() >= 0)
        return found.reshape(key.shape), order[pos].reshape(key.shape)

    def update(self, batch: ObjectBatch, steps: np.ndarray) -> list[list[InteractionEvent]]:
        """Consume one agent step's objects of every environment; events per environment.

        Args:
            batch: The objects of all ``num_envs`` environments after this step.
            steps: ``(num_envs,)`` agent step number of each environment in its
                episode (1 = first step after reset).
        """
        n = self.num_envs
        cat = np.asarray(batch.category)
        if cat.ndim != 2 or cat.shape[0] != n:
            raise ValueError(f"expected objects of {n} environments, got category shape {cat.shape}")
        events: list[list[InteractionEvent]] = [[] for _ in range(n)]
        if self._avatar < 0:
            return events
        k = cat.shape[1]
        box = np.asarray(batch.box, dtype=np.int64)
        present = cat >= 0
        key = np.where(present, self._env_key + np.asarray(batch.instance, np.int64), -1)

        # Previous box, velocity and contact state of every object still present.
        prev = self._prev
        if prev is not None and prev["key"].shape != key.shape:
            prev = None  # another number of slots: nothing to compare with
        start = box[..., :2].copy()
        vel = np.zeros((n, k, 2), np.int64)
        touching = np.zeros((n, k), bool)
        found = np.zeros((n, k), bool)
        if prev is not None:
            found, src = self._match(prev, key)
            start = np.where(found[..., None], prev["box"].reshape(-1, 4)[src, :2], start)
            vel = np.where(found[..., None], prev["vel"].reshape(-1, 2)[src], 0)
            touching = found & prev["touch"].ravel()[src]
        disp = box[..., :2] - start
        jumped = np.abs(disp).max(-1) > self.max_jump
        disp[jumped] = 0
        start[jumped] = box[jumped, :2]
        vel[np.abs(vel).max(-1) > self.max_jump] = 0

        # The avatar: the avatar_index-th object of its category in each env.
        is_av = cat == self._avatar
        av_mask = is_av & (np.cumsum(is_av, axis=1) == self.spec.avatar_index + 1)
        has_av = av_mask.any(1)
        rows = np.arange(n)
        av_slot = av_mask.argmax(1)
        av_box = box[rows, av_slot]                           # (n, 4)
        av_start = start[rows, av_slot][:, None]              # (n, 1, 2)
        av_disp = disp[rows, av_slot][:, None]
        av_vel = vel[rows, av_slot][:, None]
        av_size = av_box[:, None, 2:]
        av_end = av_box[:, None, :2]

        fr, fs, m = self._frames, self.frame_skip, self.margin
        size = box[..., 2:]
        interactable = present & self._eligible[cat] & has_av[:, None]
        # The per-frame detector's test on this step's last frame.
        static = interactable & _overlap(box[..., None, :2], size, av_end[..., None, :],
                                         av_size, m)[..., 0]
        # Frame-by-frame tests only where the regions both sides can cover in this step meet.
        ends = np.stack([start, box[..., :2], start + vel])
        av_ends = np.stack([av_start, av_end, av_start + av_vel])
        near = (interactable & ~touching
                & (ends.min(0) < av_ends.max(0) + av_size + m).all(-1)
                & (av_ends.min(0) < ends.max(0) + size + m).all(-1))
        ii, jj = np.nonzero(near)
        o_start, o_disp, o_vel, o_size = start[ii, jj], disp[ii, jj], vel[ii, jj], size[ii, jj]
        a_start, a_disp, a_vel = av_start[ii, 0], av_disp[ii, 0], av_vel[ii, 0]
        a_size, a_end = av_size[ii, 0], av_end[ii, 0]
        a_line = _path(a_start, a_disp, fr)
        o_line = _path(o_start, o_disp, fr)
        straight = _first(_overlap(o_line, o_size, a_line, a_size, m))
        obj_bounce = _bounce(_overlap(_path(o_start, o_vel, fr), o_size, a_line, a_size, m),
                             o_start, o_vel, box[ii, jj, :2], o_disp, fs)
        av_bounce = _bounce(_overlap(o_line, o_size, _path(a_start, a_vel, fr), a_size, m),
                            a_start, a_vel, a_end, a_disp, fs)
        first = np.stack([straight, obj_bounce, av_bounce]).astype(np.float64)
        first = np.where(first >= 0, first, np.inf).min(0)
        # Without a path (new object, or a jump) the contact is seen on the last frame.
        first = np.where((~found[ii, jj] | jumped[ii, jj]) & np.isfinite(first), fs - 1, first)
        frame = np.full((n, k), np.inf)
        frame[ii, jj] = first
        hit = np.isfinite(frame)

        categories = batch.categories
        steps = np.asarray(steps)
        for i, j in zip(*np.nonzero(hit)):
            events[i].append(self._event(int(steps[i]), int(frame[i, j]), categories[cat[i, j]],
                                         int(batch.instance[i, j]), av_box[i], box[i, j]))
        if prev is not None:
            self._vanished(prev, key, has_av, av_start, av_disp, av_vel, av_size, av_box,
                           steps, categories, events)

        disp[~present] = 0
        self._prev = {"key": key, "box": box, "vel": disp, "cat": cat.astype(np.int64),
                      "touch": static | hit}
        self._valid[:] = True
        return events

    def _vanished(self, prev, key, has_av, av_start, av_disp, av_vel, av_size, av_box, steps,
                  categories, events) -> None:
        """Events of objects gone since the previous step, swept from their last box."""
        gone = (self._valid[:, None] & (prev["key"] >= 0) & ~prev["touch"]
                & self._eligible[prev["cat"]] & has_av[:, None] & ~np.isin(prev["key"], key))
        if not gone.any():
            return
        gi, gj = np.nonzero(gone)
        pbox = prev["box"][gi, gj]
        obj = _path(pbox[:, :2], prev["vel"][gi, gj], self._frames)
        frame = np.full(len(gi), np.inf)
        for a_d in (av_disp[gi, 0], av_vel[gi, 0]):
            f = _first(_overlap(obj, pbox[:, 2:], _path(av_start[gi, 0], a_d, self._frames),
                                av_size[gi, 0], self.margin))
            frame = np.where(f >= 0, np.minimum(frame, f), frame)
        for i, j, f, b in zip(gi, gj, frame, pbox):
            if np.isfinite(f):
                events[i].append(self._event(int(steps[i]), int(f), categories[prev["cat"][i, j]],
                                             int(prev["key"][i, j] - self._env_key[i, 0]),
                                             av_box[i], b))

    def _event(self, step: int, frame: int, category: str, instance: int, avatar_box: np.ndarray,
               object_box: np.ndarray) -> InteractionEvent:
        return InteractionEvent(
            step=step,
            frame=(step - 1) * self.frame_skip + frame + 1,
            category=category,
            instance=instance,
            avatar_box=tuple(int(v) for v in avatar_box),
            object_box=tuple(int(v) for v in object_box),
        )


class StepPassDetector:
    """Derived objects and their ``pass`` / ``miss`` events once per agent step, for ``num_envs`` envs.

    The fast path's counterpart of what :class:`~envs.wrappers.ObjectTracker`
    does on every frame: :class:`~envs.derived.Deriver` adds the derived objects
    (Skiing's gates) to each environment's objects and one
    :class:`~envs.derived.PassDetector` per environment, updated every
    ``frame_skip`` frames, reports them passed or missed.  A
    :class:`StepEventSource`; ``benchmarks/detector_recall.py --gates`` counts
    how often its events differ from the per-frame ones.

    Args:
        game: Any name :func:`envs.games.resolve_game` accepts, or a spec.
        num_envs: Number of environments in every batch.
        frame_skip: Emulator frames per agent step.

    Events carry ``frame = step * frame_skip``, the step's last frame: the
    row crossing is seen only there.

    Example:
        >>> import numpy as np
        >>> from envs.batched import ObjectBatch
        >>> from envs.swept import StepPassDetector
        >>> cats = ("Player", "Tree", "Mogul", "Flag", "Gate")
        >>> def skiing(flag_y):                       # skier at x=70, gate from x=65 to 92
        ...     return ObjectBatch(cats, np.array([[0, 3, 3]], np.int16), np.array([[1, 7, 8]]),
        ...                        np.array([[[70, 40, 10, 18], [60, flag_y, 5, 15],
        ...                                   [92, flag_y, 5, 15]]], np.int32),
        ...                        np.zeros((1, 3, 2), np.int32))
        >>> det = StepPassDetector("Skiing", 1)
        >>> rows = enumerate(range(60, 10, -8), 1)   # the gate's row scrolls up 8 px a step
        >>> events = [e for t, y in rows for e in det.update(skiing(y), np.array([t]))[0]]
        >>> [(e.kind, e.category, e.step) for e in events]
        [('pass', 'Gate', 5)]

        The rows crossed in step 4 (at most 3 frames before its snapshot); the
        verdict is reported once no crash can have cancelled it for
        :data:`envs.derived.SETTLE_FRAMES` frames.
    """

    def __init__(self, game: str | GameSpec, num_envs: int, *, frame_skip: int = 4) -> None:
        self.spec = game if isinstance(game, GameSpec) else resolve_game(game)
        # Deriver checks num_envs, PassDetector frame_skip (as frames_per_update).
        self._deriver = Deriver(self.spec, num_envs)
        self._passes = [PassDetector(self.spec, frames_per_update=frame_skip)
                        for _ in range(num_envs)]
        self.num_envs = num_envs
        self.frame_skip = frame_skip
        self._avatar = self.spec.categories.index(self.spec.avatar) if self.spec.avatar else -2

    @property
    def active(self) -> bool:
        """Whether the game has passable derived objects at all."""
        return self._passes[0].active

    def reset(self, env_indices: Sequence[int] | np.ndarray | None = None) -> None:
        """Forget the derived objects of these environments (all when ``None``)."""
        for i in range(self.num_envs) if env_indices is None else np.asarray(env_indices).ravel():
            self._deriver.reset(int(i))
            self._passes[int(i)].reset()

    def frames(self, batch: ObjectBatch) -> list:
        """Each environment's :class:`~envs.objects.ObjectFrame` with its derived objects.

        Derived ids are kept between calls, so call this (or :meth:`update`) once per step.
        """
        return [self._deriver.apply(batch.frame(i), i) for i in range(self.num_envs)]

    def update(self, batch: ObjectBatch, steps: np.ndarray) -> list[list[InteractionEvent]]:
        """Consume one agent step's objects of every environment; events per environment.

        Args:
            batch: The objects of all ``num_envs`` environments after this step.
            steps: ``(num_envs,)`` agent step number of each environment in its episode.
        """
        if batch.num_envs != self.num_envs:
            raise ValueError(f"expected objects of {self.num_envs} environments, "
                             f"got {batch.num_envs}")
        if not self.active:
            return [[] for _ in range(self.num_envs)]
        steps = np.asarray(steps)
        # The avatar's index in each env's frame (its slot among the present ones), all at once.
        present = np.asarray(batch.category) >= 0
        is_av = np.asarray(batch.category) == self._avatar
        av_slot = (is_av & (np.cumsum(is_av, axis=1) == self.spec.avatar_index + 1))
        has_av = av_slot.any(1)
        av_index = (np.cumsum(present, axis=1) - 1)[np.arange(self.num_envs), av_slot.argmax(1)]
        out = []
        for i, frame in enumerate(self.frames(batch)):
            step = int(steps[i])
            out.append(pass_events(self._passes[i], frame, int(av_index[i]) if has_av[i] else None,
                                   step, step * self.frame_skip))
        return out
