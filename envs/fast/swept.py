"""Contact detection once per agent step that still sees contacts shorter than a step.

The per-frame detector (:mod:`envs.interactions`) tests box overlap on every
emulator frame.  The fast path (:mod:`envs.fast.envpool_vec`) gets the emulator RAM
once per agent step, every ``frame_skip`` frames, so an overlap test on those
snapshots alone would miss a ball that meets the paddle and bounces away between
two of them.  :class:`SweptDetector` reconstructs the frames in between from
each object's box at the previous step, its box now and its velocity over the
previous step, and tests overlap (boxes grown by the game's ``touch_margin`` and
its ``axis_margins``, as in the per-frame test) on every reconstructed frame:

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
produced an event in it, produces no event in the next step.  A rebounding ball
touches only when it comes back, as in the per-frame detector: it must have been
:data:`envs.interactions.REBOUND_AWAY` pixels from the avatar at the end of a step
since its previous event.

``benchmarks/detector_recall.py`` measures how many of the per-frame detector's
contacts this finds, and how many it adds, on recorded games.

Example:
    >>> import numpy as np
    >>> from envs.fast.batched import ObjectBatch
    >>> from envs.fast.swept import SweptDetector
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

from envs.derived import DERIVED_ID_BASE, HALT_FRAMES, SETTLE_FRAMES
from envs.fast.batched import ObjectBatch
from envs.games import DerivedObject, GameSpec, resolve_game
from envs.interactions import (
    REBOUND_AWAY,
    InteractionEvent,
    avatar_slots,
    box_gap,
    category_masks,
    margin_table,
)

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
             margin: np.ndarray) -> np.ndarray:
    """Per-frame box overlap of ``(..., F, 2)`` positions (sizes and ``(x, y)`` margins
    ``(..., 2)``) -> ``(..., F)``."""
    size = size[..., None, :]
    av_size = av_size[..., None, :]
    margin = margin[..., None, :]
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
        # Index -1 (empty slot) reads the masks' extra False entry.
        self._eligible, self._rebound = category_masks(self.spec)
        self._margins = margin_table(self.spec, self.margin)
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
        returned = np.zeros((n, k), bool)  # a rebound back from REBOUND_AWAY since its last event
        if prev is not None:
            found, src = self._match(prev, key)
            start = np.where(found[..., None], prev["box"].reshape(-1, 4)[src, :2], start)
            vel = np.where(found[..., None], prev["vel"].reshape(-1, 2)[src], 0)
            touching = found & prev["touch"].ravel()[src]
            returned = found & prev["returned"].ravel()[src]
        disp = box[..., :2] - start
        jumped = np.abs(disp).max(-1) > self.max_jump
        disp[jumped] = 0
        start[jumped] = box[jumped, :2]
        vel[np.abs(vel).max(-1) > self.max_jump] = 0

        # The avatar in each env (envs.interactions.avatar_slots).
        has_av, av_slot = avatar_slots(self.spec, cat, box)
        rows = np.arange(n)
        av_box = box[rows, av_slot]                           # (n, 4)
        av_start = start[rows, av_slot][:, None]              # (n, 1, 2)
        av_disp = disp[rows, av_slot][:, None]
        av_vel = vel[rows, av_slot][:, None]
        av_size = av_box[:, None, 2:]
        av_end = av_box[:, None, :2]

        fr, fs, m = self._frames, self.frame_skip, self._margins[cat]  # m: (n, k, 2)
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
        o_m = m[ii, jj]
        straight = _first(_overlap(o_line, o_size, a_line, a_size, o_m))
        obj_bounce = _bounce(_overlap(_path(o_start, o_vel, fr), o_size, a_line, a_size, o_m),
                             o_start, o_vel, box[ii, jj, :2], o_disp, fs)
        av_bounce = _bounce(_overlap(o_line, o_size, _path(a_start, a_vel, fr), a_size, o_m),
                            a_start, a_vel, a_end, a_disp, fs)
        first = np.stack([straight, obj_bounce, av_bounce]).astype(np.float64)
        first = np.where(first >= 0, first, np.inf).min(0)
        # Without a path (new object, or a jump) the contact is seen on the last frame.
        first = np.where((~found[ii, jj] | jumped[ii, jj]) & np.isfinite(first), fs - 1, first)
        frame = np.full((n, k), np.inf)
        frame[ii, jj] = first
        contact = np.isfinite(frame)
        rebound = self._rebound[cat] & present
        # A rebound that bounced on the avatar without leaving it is no new hit.
        hit = contact & (~rebound | returned)
        returned = (returned & ~hit) | (rebound & has_av[:, None]
                                        & (box_gap(box, av_box[:, None]) >= REBOUND_AWAY))

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
                      "touch": static | contact, "returned": returned}
        self._valid[:] = True
        return events

    def _vanished(self, prev, key, has_av, av_start, av_disp, av_vel, av_size, av_box, steps,
                  categories, events) -> None:
        """Events of objects gone since the previous step, swept from their last box."""
        gone = (self._valid[:, None] & (prev["key"] >= 0) & ~prev["touch"]
                & self._eligible[prev["cat"]] & has_av[:, None] & ~np.isin(prev["key"], key)
                & (~self._rebound[prev["cat"]] | prev["returned"]))
        if not gone.any():
            return
        gi, gj = np.nonzero(gone)
        pbox = prev["box"][gi, gj]
        obj = _path(pbox[:, :2], prev["vel"][gi, gj], self._frames)
        frame = np.full(len(gi), np.inf)
        for a_d in (av_disp[gi, 0], av_vel[gi, 0]):
            f = _first(_overlap(obj, pbox[:, 2:], _path(av_start[gi, 0], a_d, self._frames),
                                av_size[gi, 0], self._margins[prev["cat"][gi, gj]]))
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
    does on every frame, for all environments at once with NumPy: it derives
    the objects made of detected ones (Skiing's gates, between two flags) as
    :class:`~envs.derived.Deriver` does, with the same instance ids in the same
    order, and decides passes and misses by the rules of
    :class:`~envs.derived.PassDetector` updated every ``frame_skip`` frames.
    The events are those of a ``Deriver`` and one ``PassDetector`` per
    environment, fed environment by environment (``tests/test_gates.py``
    replays real runs through both).  Looping over environments in Python cost
    about 55 µs per env-step; this costs 7 µs at 64 envs and 3.4 µs at 256 on two
    CPU cores (``benchmarks/RESULTS.md``).  A :class:`StepEventSource`;
    ``benchmarks/detector_recall.py --only-gates`` counts how often its events
    differ from the per-frame ones.

    Args:
        game: Any name :func:`envs.games.resolve_game` accepts, or a spec.
        num_envs: Number of environments in every batch.
        frame_skip: Emulator frames per agent step.

    Raises:
        ValueError: ``num_envs`` or ``frame_skip`` is not a positive int.

    Events carry ``frame = step * frame_skip``, the step's last frame: the
    row crossing is seen only there.

    Example:
        >>> import numpy as np
        >>> from envs.fast.batched import ObjectBatch
        >>> from envs.fast.swept import StepPassDetector
        >>> cats = ("Player", "Tree", "Mogul", "Flag", "Gate")
        >>> def skiing(flag_y):                       # skier at x=70, gate from x=65 to 92
        ...     return ObjectBatch(cats, np.array([[0, 3, 3]], np.int16), np.array([[1, 7, 8]]),
        ...                        np.array([[[70, 40, 10, 18], [60, flag_y, 5, 15],
        ...                                   [92, flag_y, 5, 15]]], np.int32),
        ...                        np.zeros((1, 3, 2), np.int32))
        >>> det = StepPassDetector("Skiing", 1)
        >>> rows = enumerate(range(60, 10, -8), 1)   # the gate's row scrolls up 8 px a step
        >>> events = [e for t, y in rows for e in det.update(skiing(y), np.array([t]))[0]]
        >>> [(e.kind, e.category, e.step, e.object_box) for e in events]
        [('pass', 'Gate', 5, (65, 28, 27, 15))]

        The rows crossed in step 4 (at most 3 frames before its snapshot); the
        verdict is reported once no crash can have cancelled it for
        :data:`envs.derived.SETTLE_FRAMES` frames.
    """

    def __init__(self, game: str | GameSpec, num_envs: int, *, frame_skip: int = 4) -> None:
        self.spec = game if isinstance(game, GameSpec) else resolve_game(game)
        # Zero environments would make every update a silent no-op.
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        # Zero or negative would never let a verdict settle or a halt count.
        if isinstance(frame_skip, bool) or not isinstance(frame_skip, int) or frame_skip < 1:
            raise ValueError(f"frame_skip must be an int >= 1, got {frame_skip!r}")
        self.num_envs = num_envs
        self.frame_skip = frame_skip
        cats = self.spec.categories
        self._rules = [(cats.index(d.part), cats.index(d.category), d) for d in self.spec.derived]
        self._rows = np.arange(num_envs)[:, None]
        self._next_id = DERIVED_ID_BASE
        # The previous step's derived objects of each env, (3, n, width): the ids of
        # their two parts and their own (-1: none).  An id lasts while its parts pair up.
        self._derived = np.full((3, num_envs, 1), -1, np.int64)
        self._gates: dict[str, np.ndarray] | None = None  # the latest derived objects
        # PassDetector's crossing state of the objects each env saw at its last update
        # with an avatar, (len(_STATE), n, width); id -1: none.
        self._state = np.full((len(_STATE), num_envs, 1), -1, np.int64)

    @property
    def active(self) -> bool:
        """Whether the game has passable derived objects at all."""
        return bool(self._rules)

    def reset(self, env_indices: Sequence[int] | np.ndarray | None = None) -> None:
        """Forget the derived objects of these environments (all when ``None``)."""
        rows = slice(None) if env_indices is None else np.asarray(env_indices, np.int64).ravel()
        self._derived[2, rows] = -1
        self._state[0, rows] = -1  # (_STATE[0] is the id)

    def update(self, batch: ObjectBatch, steps: np.ndarray) -> list[list[InteractionEvent]]:
        """Consume one agent step's objects of every environment; events per environment.

        Args:
            batch: The objects of all ``num_envs`` environments after this step.
            steps: ``(num_envs,)`` agent step number of each environment in its episode.
        """
        self.derive(batch)
        events: list[list[InteractionEvent]] = [[] for _ in range(self.num_envs)]
        if not self.active:
            return events
        gates = self._gates
        cat = np.asarray(batch.category)
        box = np.asarray(batch.box, np.int64)
        # The avatar in each env (envs.interactions.avatar_slots); no avatar, no update.
        has_av, av_slot = avatar_slots(self.spec, cat, box)
        av_box = box[self._rows[:, 0], av_slot]
        fired, verdict = self._cross(gates, cat, box, av_box, has_av)
        for e, g in zip(*np.nonzero(fired)):
            step = int(steps[e])
            events[e].append(InteractionEvent(
                step=step, frame=step * self.frame_skip,
                category=batch.categories[gates["cat"][e, g]], instance=int(gates["id"][e, g]),
                avatar_box=tuple(av_box[e].tolist()),
                object_box=tuple(int(gates[k][e, g]) for k in "xywh"),
                kind="pass" if verdict[e, g] == _PASS else "miss"))
        return events

    def derive(self, batch: ObjectBatch) -> None:
        """Derive the objects of ``batch`` without deciding passes (see :meth:`derived`).

        For observers that need the derived objects of a step that :meth:`update`
        does not see, such as the first frame of an episode restarted within a
        step: rows whose parts did not change keep their ids.
        """
        if batch.num_envs != self.num_envs:
            raise ValueError(f"expected objects of {self.num_envs} environments, "
                             f"got {batch.num_envs}")
        if self.active:
            self._gates = self._derive(np.asarray(batch.category),
                                       np.asarray(batch.instance, np.int64),
                                       np.asarray(batch.box, np.int64), np.asarray(batch.motion))

    def derived(self) -> ObjectBatch:
        """The derived objects after the latest :meth:`update` or :meth:`derive`, as a batch.

        ``(n, W)`` slots in :class:`~envs.derived.Deriver`'s order, ``-1`` where
        none; ``instance`` the derived ids, ``motion`` the left part's.  Zero slots
        for games without derived objects or before the first update.
        """
        n = self.num_envs
        gates = self._gates
        if gates is None:
            return ObjectBatch(self.spec.categories, np.zeros((n, 0), np.int16),
                               np.zeros((n, 0), np.int64), np.zeros((n, 0, 4), np.int32),
                               np.zeros((n, 0, 2), np.int32))
        return ObjectBatch(self.spec.categories, gates["cat"].astype(np.int16),
                           np.where(gates["cat"] >= 0, gates["id"], 0),
                           np.stack([gates[k] for k in "xywh"], axis=-1).astype(np.int32),
                           gates["motion"].astype(np.int32))

    def _derive(self, cat: np.ndarray, inst: np.ndarray, box: np.ndarray,
                motion: np.ndarray) -> dict[str, np.ndarray]:
        """The derived objects of every env as ``(n, width)`` arrays, in Deriver's order.

        Keys: ``id`` (-1 where none), ``cat``, ``part`` (its parts' category),
        ``offset`` (the rule's ``centre_offset``), ``x``, ``y``, ``w``, ``h`` and
        ``moving`` (the left part moved).
        """
        blocks = [self._pairs(cat, inst, box, motion, *rule) for rule in self._rules]
        gates = blocks[0] if len(blocks) == 1 else \
            {k: np.concatenate([b[k] for b in blocks], axis=1) for k in blocks[0]}
        real = gates["cat"] >= 0
        # The previous step's id of the same two parts, else fresh ids in env-major
        # order, as Deriver hands them out env by env.
        a, b, prev_ids = self._derived
        same = ((gates["a"][..., None] == a[:, None]) & (gates["b"][..., None] == b[:, None])
                & (prev_ids[:, None] >= 0) & real[..., None])
        ids = np.where(same.any(2), prev_ids[self._rows, same.argmax(2)], -1)
        fresh = real & (ids < 0)
        count = int(np.count_nonzero(fresh))
        if count:
            ids[fresh] = np.arange(self._next_id, self._next_id + count)
            self._next_id += count
        self._derived = np.stack([gates["a"], gates["b"], ids])
        gates["id"] = ids
        return gates

    def _pairs(self, cat: np.ndarray, inst: np.ndarray, box: np.ndarray, motion: np.ndarray,
               part: int, category: int, rule: DerivedObject) -> dict[str, np.ndarray]:
        """One rule's objects, as :meth:`_derive`'s arrays without ``id``; ``a``, ``b``: part ids."""
        rows, n = self._rows, self.num_envs
        parts = cat == part
        count = parts.sum(1)
        f = int(count.max())
        if f < 2:
            shape = (n, 1)
            return {"a": np.full(shape, -1), "b": np.full(shape, -1), "cat": np.full(shape, -1),
                    **{k: np.zeros(shape, np.int64) for k in ("part", "offset", *"xywh")},
                    "moving": np.zeros(shape, bool), "motion": np.zeros((*shape, 2), np.int64)}
        # Each env's parts from left to right, equal x in slot order (_pairs' stable sort):
        # sort keys x * k + slot, the padding (no part) last.
        k = parts.shape[1]
        key = np.sort(np.where(parts, box[..., 0] * k + np.arange(k), _LAST), axis=1)[:, :f]
        order = key % k
        x = key // k  # huge for the padding: no part is that far to the right
        s = box[rows, order]
        dx = x[:, None] - x[..., None]  # [env, p, q]: x of q - x of p
        fits = ((dx >= rule.gap[0]) & (dx <= rule.gap[1])
                & (np.abs(s[:, None, :, 1] - s[:, :, None, 1]) <= rule.row_tolerance))
        if rule.gap[0] <= 0:  # else the gap itself puts q right of p, and p before any padding
            fits &= np.triu(np.ones((f, f), bool), 1) & (key[:, None] < _LAST)
        paired = fits.any(2)
        # Each part in one pair at most (as many parts in pairs as twice the pairs), or
        # it takes the first that fits, from the left.
        if np.count_nonzero(paired | fits.any(1)) < 2 * np.count_nonzero(fits):
            fits = _first_fits(fits)
            paired = fits.any(2)
        q = fits.argmax(2)
        a, b = s, s[rows, q]
        left = a[..., 0] + a[..., 2]  # the gate's left edge: the right edge of its left part
        ids = inst[rows, order]
        return {"a": ids, "b": ids[rows, q], "cat": np.where(paired, category, -1),
                "part": np.full(paired.shape, part),
                "offset": np.full(paired.shape, rule.centre_offset),
                "x": left, "y": np.minimum(a[..., 1], b[..., 1]), "w": np.maximum(1, b[..., 0] - left),
                "h": np.maximum(a[..., 3], b[..., 3]),
                "moving": (motion[rows, order] != 0).any(-1), "motion": motion[rows, order]}

    def _cross(self, gates: dict[str, np.ndarray], cat: np.ndarray, box: np.ndarray,
               av_box: np.ndarray, has_av: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """PassDetector's update in every env with an avatar: ``(fired, verdict)``, ``(n, width)``."""
        fs = self.frame_skip
        ax, ay, aw, ah = (av_box[:, i, None] for i in range(4))
        gid, gx, gy, gw, gh = (gates[k] for k in ("id", *"xywh"))
        valid = (gid >= 0) & has_av[:, None]
        above = gy < ay
        prev = self._state
        same = (gid[..., None] == prev[0][:, None]) & valid[..., None]  # prev[0]: the ids
        seen = same.any(2)
        _, was_above, was_done, halted, verdict, settle = np.where(
            seen, prev[:, self._rows, same.argmax(2)], 0)
        # First seen: an object appearing past the avatar was never ahead of it.
        done = (was_done != 0) | (~seen & above)
        live = seen & (was_done == 0)
        # Blocked: standing still on the avatar's row with the avatar against one of its parts.
        blocked = live & ~gates["moving"] & (gy < ay + ah) & (ay < gy + gh)
        if blocked.any():
            e, j = np.nonzero(blocked)
            px, pw = box[e, :, 0], box[e, :, 2]
            blocked[e, j] = ((cat[e] == gates["part"][e, j, None])
                             & (np.abs(box[e, :, 1] - gy[e, j, None]) <= 1)
                             & (px < ax[e] + aw[e]) & (ax[e] < px + pw)).any(1)
        halted = np.where(live, np.where(blocked, halted + fs, 0), halted)
        done |= live & blocked & (halted >= HALT_FRAMES)  # a collision: neither passed nor missed
        crossed = live & ~done & (verdict == 0) & (above != (was_above != 0))
        counting = live & ~done & (verdict != 0)
        centre = ax + aw / 2 + gates["offset"]
        # The rows may have crossed up to frame_skip - 1 frames ago.
        verdict = np.where(crossed, np.where((gx <= centre) & (centre <= gx + gw), _PASS, _MISS),
                           verdict)
        settle = np.where(crossed, SETTLE_FRAMES - (fs - 1),
                          np.where(counting, settle - fs, settle))
        fired = counting & (settle <= 0)
        done |= fired
        state = np.stack([np.where(valid, gid, -1), above, done, halted, verdict, settle])
        if not has_av.all():  # envs without an avatar keep their state as it was
            width = max(state.shape[2], prev.shape[2])
            state = np.where(has_av[:, None], _widen(state, width), _widen(prev, width))
        self._state = state
        return fired, verdict


#: Columns of StepPassDetector's crossing state (PassDetector's _Crossing and the id).
_STATE = ("id", "above", "done", "halted", "verdict", "settle")
_PASS, _MISS = 1, 2  # verdict codes (0: none yet)
_LAST = np.iinfo(np.int64).max  # sort key of slots without a part


def _widen(table: np.ndarray, width: int) -> np.ndarray:
    """``(c, n, w)`` ``table`` with columns of -1 (no object) appended up to ``width``."""
    c, n, w = table.shape
    return table if w == width else np.concatenate([table, np.full((c, n, width - w), -1)], axis=2)


def _first_fits(fits: np.ndarray) -> np.ndarray:
    """The pairs :func:`envs.derived._pairs` keeps where a part fits more than one other.

    Args:
        fits: ``(n, f, f)``: part ``q`` fits to the right of part ``p`` (parts sorted
            from left to right).

    Returns:
        ``fits`` with only the chosen pairs: from the left, a free part takes the
        first free part that fits.
    """
    n, f, _ = fits.shape
    chosen = np.zeros_like(fits)
    used = np.zeros((n, f), bool)
    for p in np.flatnonzero(fits.any((0, 2))):
        free = fits[:, p] & ~used & ~used[:, p, None]
        envs = np.flatnonzero(free.any(1))
        q = free[envs].argmax(1)
        used[envs, p] = used[envs, q] = True
        chosen[envs, p, q] = True
    return chosen
