"""Interaction detection: what happens between the player's avatar and the objects?

A ``touch`` starts when the avatar's bounding box and an object's box overlap
(after growing both by the game's ``touch_margin``, or by a category's larger
``axis_margins`` along an axis), and lasts until they stop
overlapping.  Each such contact episode yields exactly one
:class:`InteractionEvent`, on its first frame, per object instance, so holding
still against a tree pays once, not every frame.  Passable derived objects
(Skiing's gates, :mod:`envs.derived`) yield one ``pass`` or ``miss`` each.

A rebounding ball (:attr:`envs.games.GameSpec.rebounds`) yields a touch only when
it comes back: its contact is an event only if the ball has been at least
:data:`REBOUND_AWAY` pixels from the avatar since its previous event, or since it
appeared.  A ball bounced in place on the avatar (Tennis's server bouncing it before
the serve: 191 contacts in 8,000 frames of standing still) is one touch, not one
per bounce.

Example:
    >>> import numpy as np
    >>> from envs.interactions import InteractionDetector
    >>> from envs.objects import ObjectFrame
    >>> det = InteractionDetector("Skiing")
    >>> cats = ("Player", "Tree", "Mogul", "Flag")
    >>> frame = ObjectFrame(cats, np.array([0, 1], np.int16), np.array([0, 7]),
    ...                     np.array([[70, 100, 10, 18], [75, 110, 16, 30]], np.int32),
    ...                     np.zeros((2, 2), np.int32))
    >>> [e.category for e in det.update(frame, frame_index=3)]
    ['Tree']
    >>> det.update(frame, frame_index=4)  # still touching: no new event
    []
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.derived import PassDetector
from envs.games import GameSpec, resolve_game
from envs.objects import ObjectFrame

#: Key under which rnr environments put the step's interaction events in ``info``.
INTERACTIONS_KEY = "interactions"
#: Pixels a rebounding ball must get from the avatar (the gap between the two boxes,
#: along the wider axis) before its next contact is an event.  ``benchmarks/
#: detector_recall.py Tennis Pong IceHockey Breakout --frames 20000 --seeds 0`` counts the
#: same per-frame contacts as without the rule for Pong (72) and Breakout (143); for
#: Tennis 23 instead of 64 (the rest were the server bouncing the ball before a serve, and
#: balls that appear at the server), for Ice Hockey 172 instead of 194.
REBOUND_AWAY = 16


@dataclass(frozen=True, slots=True)
class InteractionEvent:
    """Something happened between the avatar and an object.

    Attributes:
        step: Agent step within the episode at which the contact began
            (1 = first step after reset; 0 = during reset's no-op frames).
        frame: Emulator frame within the episode at which it began.
        category: The touched object's category (keys the reward table).
        instance: The touched object's instance id (unique within the episode).
        avatar_box: Avatar ``(x, y, w, h)`` at that frame.
        object_box: Object ``(x, y, w, h)`` at that frame.
        kind: ``touch``, ``pass`` or ``miss`` (:data:`envs.games.EVENT_KINDS`).
    """

    step: int
    frame: int
    category: str
    instance: int
    avatar_box: tuple[int, int, int, int]
    object_box: tuple[int, int, int, int]
    kind: str = "touch"

    @property
    def key(self) -> str:
        """``category`` for touches, ``category:kind`` otherwise (reward tables, logs)."""
        return event_key(self.category, self.kind)


def event_key(category: str, kind: str = "touch") -> str:
    """The name reward tables and logs use for an event: ``Tree``, ``Gate:pass``.

    >>> event_key("Tree"), event_key("Gate", "miss")
    ('Tree', 'Gate:miss')
    """
    return category if kind == "touch" else f"{category}:{kind}"


def split_key(key: str) -> tuple[str, str]:
    """Inverse of :func:`event_key`: ``"Gate:pass"`` -> ``("Gate", "pass")``."""
    category, _, kind = key.partition(":")
    return category, kind or "touch"


class InteractionDetector:
    """Tracks avatar contacts in one environment and emits start-of-contact events.

    Args:
        game: Any name :func:`envs.games.resolve_game` accepts, or a spec.
        margin: Pixels to grow boxes by before testing overlap; defaults to the
            game's ``touch_margin``.
    """

    def __init__(self, game: str | GameSpec, margin: int | None = None) -> None:
        self.spec = game if isinstance(game, GameSpec) else resolve_game(game)
        self.margin = self.spec.touch_margin if margin is None else margin
        # A negative margin would make touching boxes not count as contact.
        if not isinstance(self.margin, int) or self.margin < 0:
            raise ValueError(f"margin must be a non-negative int, got {self.margin!r}")
        cats = self.spec.categories
        self._avatar = cats.index(self.spec.avatar) if self.spec.avatar else -1
        self._eligible, self._rebound = category_masks(self.spec)
        self._margins = margin_table(self.spec, self.margin)
        self._touching: set[int] = set()
        self._passes = PassDetector(self.spec)
        # Rebound instances that have been REBOUND_AWAY from the avatar since their last event.
        self._returned: set[int] = set()

    @property
    def touching(self) -> frozenset[int]:
        """Instance ids of the objects in contact with the avatar on the latest frame."""
        return frozenset(self._touching)

    def reset(self) -> None:
        """Forget current contacts (call on episode reset)."""
        self._touching = set()
        self._returned = set()
        self._passes.reset()

    def update(self, frame: ObjectFrame, frame_index: int, step: int | None = None) -> list[InteractionEvent]:
        """Consume one frame's objects (derived ones included), return the events that began in it.

        Args:
            frame: The objects of this frame.
            frame_index: Emulator frame number within the episode.
            step: Agent step number; defaults to ``frame_index``.
        """
        if self._avatar < 0:
            return []
        a = avatar_index(self.spec, frame)
        if a is None:
            # Avatar not on screen (death animation, level change): no contact.
            self._touching = set()
            self._passes.update(frame, None)
            return []
        step = frame_index if step is None else step
        ax, ay, aw, ah = frame.box[a]
        m = self._margins[frame.category]
        box = frame.box
        hit = (
            self._eligible[frame.category]
            & (box[:, 0] < ax + aw + m[:, 0])
            & (ax < box[:, 0] + box[:, 2] + m[:, 0])
            & (box[:, 1] < ay + ah + m[:, 1])
            & (ay < box[:, 1] + box[:, 3] + m[:, 1])
        )
        idx = np.flatnonzero(hit)
        now = set(frame.instance[idx].tolist())
        rebound = self._rebound[frame.category]
        if rebound.any():
            away = rebound & (box_gap(box, frame.box[a]) >= REBOUND_AWAY)
            self._returned.update(frame.instance[away].tolist())
        events = []
        avatar_box = tuple(int(v) for v in frame.box[a])
        if now - self._touching:
            for i in idx:
                inst = int(frame.instance[i])
                if inst in self._touching:
                    continue
                if rebound[i]:
                    if inst not in self._returned:
                        continue  # bounced on the avatar without leaving it: no new hit
                    self._returned.discard(inst)
                events.append(
                    InteractionEvent(
                        step=step,
                        frame=frame_index,
                        category=frame.categories[frame.category[i]],
                        instance=inst,
                        avatar_box=avatar_box,
                        object_box=tuple(int(v) for v in frame.box[i]),
                    )
                )
        self._touching = now
        events.extend(pass_events(self._passes, frame, int(a), step, frame_index))
        return events


def box_gaps(box: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Pixels between ``(..., 4)`` boxes and ``other`` (broadcast) along x and y: ``(..., 2)``,
    0 along an axis where their spans overlap.

    >>> import numpy as np
    >>> box_gaps(np.array([[0, 0, 4, 4], [10, 2, 2, 2], [1, 1, 1, 1]]), np.array([6, 0, 4, 4])).tolist()
    [[2, 0], [0, 0], [4, 0]]
    """
    box, other = np.asarray(box), np.asarray(other)
    lo, size = box[..., :2], box[..., 2:]
    olo, osize = other[..., :2], other[..., 2:]
    return np.maximum(np.maximum(lo - (olo + osize), olo - (lo + size)), 0)


def box_gap(box: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Pixels between ``(..., 4)`` boxes and ``other`` (broadcast), along the wider axis; 0 if they overlap.

    >>> import numpy as np
    >>> box_gap(np.array([[0, 0, 4, 4], [10, 2, 2, 2], [1, 1, 1, 1]]), np.array([6, 0, 4, 4])).tolist()
    [2, 0, 4]
    """
    return box_gaps(box, other).max(-1)


def avatar_index(spec: GameSpec, frame: ObjectFrame) -> int | None:
    """Index of ``spec``'s avatar in ``frame``, or ``None`` (see :func:`avatar_slots`)."""
    has, slot = avatar_slots(spec, frame.category[None], frame.box[None])
    return int(slot[0]) if has[0] else None


def category_masks(spec: GameSpec) -> tuple[np.ndarray, np.ndarray]:
    """``(touch, rebound)``: boolean arrays indexed by category number.

    ``touch`` marks the interactable categories whose contact is an event (derived
    objects with other kinds, Skiing's gates, are not); ``rebound`` the balls the game
    declares as rebounding (:attr:`GameSpec.rebounds`).  Each has one extra ``False``
    entry at the end, which an empty slot's category ``-1`` reads.

    Example:
        >>> touch, rebound = category_masks(resolve_game("Pong"))
        >>> cats = resolve_game("Pong").categories
        >>> bool(touch[cats.index("Ball")]), bool(rebound[cats.index("Ball")]), bool(touch[-1])
        (True, True, False)
    """
    cats = spec.categories
    touch = np.zeros(len(cats) + 1, dtype=bool)
    for c in spec.interactable:
        touch[cats.index(c)] = "touch" in spec.event_kinds(c)
    rebound = np.zeros(len(cats) + 1, dtype=bool)
    for c in spec.rebounds:
        rebound[cats.index(c)] = True
    return touch, rebound


def margin_table(spec: GameSpec, margin: int) -> np.ndarray:
    """Per-category ``(x, y)`` contact margins: ``(len(categories) + 1, 2)`` ints.

    Each is ``margin`` unless the game's :attr:`GameSpec.axis_margins` is larger along
    that axis; the extra last row (an empty slot's category ``-1``) is ``margin``.

    Example:
        >>> spec = resolve_game("Kangaroo")
        >>> table = margin_table(spec, 0)
        >>> table[spec.categories.index("FallingCoconut")].tolist(), table[-1].tolist()
        ([0, 9], [0, 0])
    """
    cats = spec.categories
    table = np.full((len(cats) + 1, 2), margin, dtype=np.int64)
    for c, axes in spec.axis_margins.items():
        table[cats.index(c)] = np.maximum(table[cats.index(c)], axes)
    return table


def avatar_slots(spec: GameSpec, category: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the avatar is in each row of a batch of frames.

    The avatar is the ``spec.avatar_index``-th object of the avatar's category, or,
    for a game whose control passes between those objects (``spec.avatar_near``),
    the one whose ``spec.avatar_reach`` point is nearest the centre of the first
    object of that category (ties: the first), the ``avatar_index``-th while none
    is present.

    Args:
        category: ``(m, K)`` category index per slot, -1 for an empty one.
        box: ``(m, K, 4)`` ``x, y, w, h`` per slot.

    Returns:
        ``(has, slot)``: ``(m,)`` whether the row shows an avatar, and its slot
        (0 where it does not).

    Example:
        >>> import numpy as np
        >>> from envs.games import resolve_game
        >>> spec = resolve_game("IceHockey")      # Player, Player, Enemy, Enemy, Ball
        >>> cat = np.array([[0, 0, 1, 1, 2]])
        >>> box = np.array([[[50, 80, 16, 20], [60, 30, 16, 20], [0, 0, 16, 20],
        ...                  [90, 90, 16, 20], [66, 52, 2, 2]]])
        >>> has, slot = avatar_slots(spec, cat, box)   # the puck is by the second one's stick
        >>> bool(has[0]), int(slot[0])
        (True, 1)
    """
    cat = np.asarray(category)
    m = cat.shape[0]
    if not spec.avatar or cat.shape[1] == 0:  # no avatar, or frames with no object at all
        return np.zeros(m, bool), np.zeros(m, np.int64)
    is_av = cat == spec.categories.index(spec.avatar)
    nth = is_av & (np.cumsum(is_av, axis=1) == spec.avatar_index + 1)
    has, slot = nth.any(1), nth.argmax(1)
    if spec.avatar_near is None:
        return has, slot
    is_near = cat == spec.categories.index(spec.avatar_near)
    rows = np.arange(m)
    box = np.asarray(box, np.float64)
    target = (box[..., :2] + box[..., 2:] / 2)[rows, is_near.argmax(1)][:, None]
    reach = box[..., :2] + box[..., 2:] * np.asarray(spec.avatar_reach)
    dist = np.where(is_av, ((reach - target) ** 2).sum(-1), np.inf)
    follow = is_near.any(1) & is_av.any(1)
    return has | follow, np.where(follow, dist.argmin(1), slot)


def pass_events(passes: PassDetector, frame: ObjectFrame, avatar: int | None, step: int,
                frame_index: int) -> list[InteractionEvent]:
    """``passes.update(frame, avatar)`` as :class:`InteractionEvent` s of that step and frame."""
    found = passes.update(frame, avatar)
    if not found:
        return []
    avatar_box = tuple(int(v) for v in frame.box[avatar])
    return [InteractionEvent(step=step, frame=frame_index,
                             category=frame.categories[frame.category[i]],
                             instance=int(frame.instance[i]), avatar_box=avatar_box,
                             object_box=tuple(int(v) for v in frame.box[i]), kind=kind)
            for kind, i in found]
