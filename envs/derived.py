"""Derived objects: game objects made of detected ones, and going through them.

Some objects that a manual talks about are not sprites.  A Skiing gate is the
empty space between two flags on one row; a skier who passes cleanly between
them overlaps neither flag, so no touch fires.  :class:`Deriver` adds such
objects (declared per game as :class:`envs.games.DerivedObject`) to each
:class:`~envs.objects.ObjectFrame`, with an instance id, a box and a category
like any other object, and :class:`PassDetector` reports what happens to them:

* ``pass``: the object's row crosses the avatar's while the avatar's centre is
  between its parts;
* ``miss``: its row crosses the avatar's with the avatar outside;
* neither, when the avatar is stopped by one of the parts on the object's row
  (a skier who crashes into a pole; the pole's own ``touch`` is the event).

The row crossing is where the object's top edge passes the avatar's top edge;
for Skiing that is the frame on which the game itself counts a gate (RAM byte
0xEB, gates left), and the three outcomes reproduce its bookkeeping: crashing
into a pole does not count as a missed gate (``tests/test_gates.py``).

Example:
    >>> import numpy as np
    >>> from envs.derived import Deriver
    >>> from envs.objects import ObjectFrame
    >>> cats = ("Player", "Tree", "Mogul", "Flag", "Gate")
    >>> flags = ObjectFrame(cats, np.array([0, 3, 3], np.int16), np.array([0, 7, 8]),
    ...                     np.array([[76, 40, 10, 18], [42, 90, 5, 15], [74, 90, 5, 15]], np.int32),
    ...                     np.zeros((3, 2), np.int32))
    >>> frame = Deriver("Skiing").apply(flags)
    >>> [(r.category, r.x, r.y, r.w, r.h) for r in frame.records()][-1]
    ('Gate', 47, 90, 27, 15)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from envs.games import DerivedObject, GameSpec, resolve_game
from envs.objects import ObjectFrame

#: Derived instance ids start here, far above the extractor's, so the two never meet.
DERIVED_ID_BASE = 1 << 40

#: Frames a passable object must stand still on the avatar's row, with the avatar
#: against one of its parts, to count as a collision (the game stops scrolling).
HALT_FRAMES = 4
#: Frames after the row crossing during which such a collision still cancels the
#: pass or miss (the game may stop a frame or two after the crossing).
SETTLE_FRAMES = HALT_FRAMES + 2


class Deriver:
    """Adds a game's derived objects to object frames, for ``num_envs`` environments.

    Args:
        game: Any name :func:`envs.games.resolve_game` accepts, or a spec.
        num_envs: Environments whose instance ids are tracked.
        ids: Source of fresh instance ids (default: a counter from
            :data:`DERIVED_ID_BASE`).
    """

    def __init__(self, game: str | GameSpec, num_envs: int = 1, ids: Iterator[int] | None = None) -> None:
        # Without environments there is nothing to track; a typo would otherwise pass silently.
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        self.spec = game if isinstance(game, GameSpec) else resolve_game(game)
        cats = self.spec.categories
        self._rules = [(d, cats.index(d.part), cats.index(d.category)) for d in self.spec.derived]
        self._ids = ids if ids is not None else itertools.count(DERIVED_ID_BASE)
        self._keys: list[dict[tuple[int, int], int]] = [{} for _ in range(num_envs)]
        self.num_envs = num_envs

    def reset(self, env_index: int = 0) -> None:
        """Forget the instance ids of one environment (call on episode reset)."""
        self._keys[env_index] = {}

    def apply(self, frame: ObjectFrame, env_index: int = 0) -> ObjectFrame:
        """``frame`` with the derived objects appended (the frame itself if the game has none)."""
        if not self._rules:
            return frame
        keys = self._keys[env_index]
        live: dict[tuple[int, int], int] = {}
        rows: list[tuple[int, ...]] = []
        # Plain lists: a frame holds a handful of objects, where NumPy's per-call cost dominates.
        category, instance = frame.category.tolist(), frame.instance.tolist()
        box, motion = frame.box.tolist(), frame.motion.tolist()
        for rule, part, cat in self._rules:
            for a, b in _pairs(category, box, rule, part):
                key = (instance[a], instance[b])
                inst = keys.get(key)
                if inst is None:
                    inst = next(self._ids)
                live[key] = inst
                (xa, ya, wa, ha), (xb, yb, _, hb) = box[a], box[b]
                left = xa + wa
                rows.append((cat, inst, left, min(ya, yb), max(1, xb - left), max(ha, hb),
                             *motion[a]))
        self._keys[env_index] = live
        if not rows:
            return frame
        table = np.array(rows, dtype=np.int64)
        return ObjectFrame(
            categories=frame.categories,
            category=np.concatenate([frame.category, table[:, 0].astype(np.int16)]),
            instance=np.concatenate([frame.instance, table[:, 1]]),
            box=np.concatenate([frame.box, table[:, 2:6].astype(np.int32)]),
            motion=np.concatenate([frame.motion, table[:, 6:8].astype(np.int32)]),
        )


def _pairs(category: list[int], box: list[list[int]], rule: DerivedObject,
           part: int) -> list[tuple[int, int]]:
    """Index pairs (left, right) of ``part`` objects that form one ``rule`` object.

    Args:
        category: Category index per object of the frame.
        box: ``[x, y, w, h]`` per object of the frame.
    """
    idx = [i for i, c in enumerate(category) if c == part]
    if len(idx) < 2:
        return []
    idx.sort(key=lambda i: box[i][0])  # stable: equal x keeps slot order
    lo, hi = rule.gap
    out: list[tuple[int, int]] = []
    used: set[int] = set()
    for n, a in enumerate(idx):
        if a in used:
            continue
        xa, ya = box[a][0], box[a][1]
        for b in idx[n + 1:]:
            gap = box[b][0] - xa
            if gap > hi:
                break
            if b not in used and gap >= lo and abs(box[b][1] - ya) <= rule.row_tolerance:
                out.append((a, b))
                used.update((a, b))
                break
    return out


@dataclass
class _Crossing:
    above: bool  # the object's top edge is above the avatar's
    done: bool  # passed, missed or blocked: nothing more to report
    halted: int = 0  # consecutive frames standing still against the avatar
    verdict: str = ""  # "pass" / "miss" once the rows crossed, reported after settling
    settle: int = 0  # frames left before the verdict is reported


class PassDetector:
    """Reports ``pass`` / ``miss`` of the passable derived objects in one environment.

    Args:
        game: Any name :func:`envs.games.resolve_game` accepts, or a spec.
        frames_per_update: Emulator frames between two calls of :meth:`update`:
            1 beneath frame skipping (every frame), ``frame_skip`` once per
            agent step (the rules :class:`envs.fast.swept.StepPassDetector` applies
            to all environments of the fast path at once).  :data:`HALT_FRAMES`
            and :data:`SETTLE_FRAMES` stay counted in frames.
    """

    def __init__(self, game: str | GameSpec, frames_per_update: int = 1) -> None:
        # Zero or negative would never let a verdict settle or a halt count.
        if isinstance(frames_per_update, bool) or not isinstance(frames_per_update, int) \
                or frames_per_update < 1:
            raise ValueError(f"frames_per_update must be an int >= 1, got {frames_per_update!r}")
        self.frames_per_update = frames_per_update
        self.spec = game if isinstance(game, GameSpec) else resolve_game(game)
        cats = self.spec.categories
        # Lookup table category -> passable (np.isin costs more than the rest of an update).
        self._passable = np.zeros(len(cats), dtype=bool)
        self._passable[[cats.index(d.category) for d in self.spec.derived]] = True
        self._rule = {cats.index(d.category): (cats.index(d.part), d.centre_offset)
                      for d in self.spec.derived}
        self._state: dict[int, _Crossing] = {}

    @property
    def active(self) -> bool:
        """Whether the game has passable objects at all."""
        return bool(self._passable.any())

    def reset(self) -> None:
        """Forget all objects (call on episode reset)."""
        self._state = {}

    def update(self, frame: ObjectFrame, avatar: int | None) -> list[tuple[str, int]]:
        """``(kind, index into frame)`` of the objects passed or missed at this frame.

        Args:
            frame: Objects of the frame, derived ones included.
            avatar: Index of the avatar in ``frame``, or ``None`` if it is not on screen.
        """
        if not self.active:
            return []
        if avatar is None:
            # No avatar, no crossing: keep the objects' sides as they were.
            return []
        idx = np.flatnonzero(self._passable[frame.category])
        ax, ay, aw, ah = (int(v) for v in frame.box[avatar])
        out = []
        state: dict[int, _Crossing] = {}
        for i in idx:
            inst = int(frame.instance[i])
            x, y, w, h = (int(v) for v in frame.box[i])
            above = y < ay
            s = self._state.get(inst)
            if s is None:  # first seen: an object appearing past the avatar was never ahead of it
                s = _Crossing(above=above, done=above)
            elif not s.done:
                if self._blocked(frame, i, ax, aw, ay, ah):
                    s.halted += self.frames_per_update
                    s.done = s.halted >= HALT_FRAMES  # a collision: neither passed nor missed
                else:
                    s.halted = 0
                if not s.done and not s.verdict and above != s.above:
                    centre = ax + aw / 2 + self._rule[int(frame.category[i])][1]
                    # The rows may have crossed up to frames_per_update - 1 frames ago.
                    s.verdict = "pass" if x <= centre <= x + w else "miss"
                    s.settle = SETTLE_FRAMES - (self.frames_per_update - 1)
                elif not s.done and s.verdict:
                    s.settle -= self.frames_per_update
                    if s.settle <= 0:
                        s.done = True
                        out.append((s.verdict, int(i)))
            s.above = above
            state[inst] = s
        self._state = state
        return out

    def _blocked(self, frame: ObjectFrame, i: int, ax: int, aw: int, ay: int, ah: int) -> bool:
        """The object stands still on the avatar's row with the avatar against one of its parts."""
        x, y, w, h = frame.box[i]
        if frame.motion[i].any() or not (y < ay + ah and ay < y + h):
            return False
        parts = np.flatnonzero(frame.category == self._rule[int(frame.category[i])][0])
        px, pw = frame.box[parts, 0], frame.box[parts, 2]
        row = np.abs(frame.box[parts, 1] - y) <= 1
        return bool((row & (px < ax + aw) & (ax < px + pw)).any())
