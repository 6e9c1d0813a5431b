"""Object observations: every object the detector sees, as one fixed-length float vector.

An agent that observes objects instead of pixels needs a small MLP and trains at
the speed of the emulator (the line of work of OCAtari's ``obs_mode="obj"``,
SCoBots and OCCAM).  :class:`SlotLayout` declares, per game, where each object
goes in that vector; :class:`SlotEncoder` fills it for ``n`` environments at once
from the detector's objects, whichever backend found them.

The layout comes from the game registry (:class:`envs.games.GameSpec`): one
block per non-HUD category, in :attr:`GameSpec.categories` order (OCAtari's
declaration order, then derived objects such as Skiing's ``Gate``), with as many
slots as the category's maximum count.  Each slot holds seven features
(:data:`FEATURES`)::

    present   1.0 if an object is in the slot, else 0.0 (then all its features are 0)
    x, y      left and top edge / screen width (160) and height (210)
    w, h      width / 160 and height / 210
    dx, dy    movement since the previous agent step / MOTION_SCALE (16 px), 0 for an
              object first seen in this step

all clipped to [-1, 1].  An object keeps its slot for as long as it is seen (its
instance id), so a tree does not jump to another slot when the one before it
scrolls away; a new object takes the first free slot of its category, new objects
in the detector's order (OCAtari's object slots, then derived objects), and
objects beyond the category's slots are dropped.  Motion is computed here, per
agent step, from the object's previous position in its slot: both backends
therefore report the same motion, although the per-frame tracker sees every frame
and the fast path every fourth.  With ``stack=k`` the vector is the last ``k``
steps' vectors, oldest first; at an episode's start the first one is repeated.

Example:
    >>> import numpy as np
    >>> from envs.slots import SlotEncoder, SlotLayout
    >>> layout = SlotLayout.from_game("Pong")
    >>> layout.slot_names(), layout.size
    (('Player[0]', 'Ball[0]', 'Enemy[0]'), 21)
    >>> enc = SlotEncoder(layout, num_envs=1)
    >>> cat = np.array([[0, 1]]); inst = np.array([[7, 9]])
    >>> box = np.array([[[140, 90, 4, 15], [80, 100, 2, 4]]])
    >>> obs = enc.encode(cat, inst, box)
    >>> obs.shape, obs.dtype
    ((1, 21), dtype('float32'))
    >>> [round(float(v), 3) for v in obs[0, 7:14]]   # the ball: present, x, y, w, h, dx, dy
    [1.0, 0.5, 0.476, 0.013, 0.019, 0.0, 0.0]
    >>> box[0, 1, :2] = 84, 96                             # it moved 4 px right, 4 up
    >>> enc.encode(cat, inst, box)[0, 12:14].tolist()
    [0.25, -0.25]
    >>> enc.encode(cat[:, :1], inst[:, :1], box[:, :1])[0, 7:14].tolist()   # it vanished
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]

    The fixed-length vector is what an MLP policy takes (``agents.train --obs
    objects``); ``python -m envs.tools.inspect GAME --layout`` prints a game's layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from envs.fast.batched import ObjectBatch
from envs.games import GameSpec, resolve_game

#: Features of one slot, in order.
FEATURES = ("present", "x", "y", "w", "h", "dx", "dy")
#: Atari screen size in pixels (positions and sizes are divided by it).
SCREEN_WIDTH, SCREEN_HEIGHT = 160, 210
#: Pixels of movement per agent step that map to 1.0 (then clipped to [-1, 1]): at
#: frame skip 4 most sprites move 1-12 px per step; jumps (wrap-arounds, respawns) clip.
MOTION_SCALE = 16.0
#: Observation kinds an Atari environment can give.
OBS_KINDS = ("pixels", "objects")

_SCALE = np.array([SCREEN_WIDTH, SCREEN_HEIGHT, SCREEN_WIDTH, SCREEN_HEIGHT], np.float32)
_NF = len(FEATURES)


class NoObjectsError(ValueError):
    """The game has no object categories to observe (no RAM object tables)."""


def check_obs(obs: str) -> str:
    """``obs`` if it is one of :data:`OBS_KINDS`, else a ``ValueError`` naming them."""
    if obs not in OBS_KINDS:
        raise ValueError(f"obs must be one of {', '.join(OBS_KINDS)}, got {obs!r}")
    return obs


def check_stack(stack: int) -> int:
    """``stack`` if it is an int >= 1 (steps of object vectors kept), else ``ValueError``."""
    # Zero steps would give an empty observation.
    if isinstance(stack, bool) or not isinstance(stack, (int, np.integer)) or stack < 1:
        raise ValueError(f"obs_stack must be an int >= 1, got {stack!r}")
    return int(stack)


@dataclass(frozen=True)
class SlotLayout:
    """Where each object of a game goes in the object observation.

    Attributes:
        game: The game's canonical name.
        categories: The game's non-HUD categories (the index space of the detector's
            ``category`` arrays), derived ones included.
        counts: Slots per category (its maximum count on screen).
        stack: Steps of object vectors in one observation.
    """

    game: str
    categories: tuple[str, ...]
    counts: tuple[int, ...]
    stack: int = 1

    @classmethod
    def from_game(cls, game: str | GameSpec, stack: int = 1) -> SlotLayout:
        """The layout of ``game`` declared by the registry.

        Raises:
            envs.games.UnknownGameError: unknown game.
            NoObjectsError: the game has no object categories.
            ValueError: ``stack`` is not an int >= 1.
        """
        spec = game if isinstance(game, GameSpec) else resolve_game(game)
        counts = [int(spec.max_objects.get(c, 0)) for c in spec.max_objects]
        counts += [d.max_count for d in spec.derived]
        if not sum(counts):
            raise NoObjectsError(f"{spec.name} has no object categories to observe "
                                 "(OCAtari declares none); use pixel observations")
        return cls(spec.name, spec.categories, tuple(counts), check_stack(stack))

    @property
    def num_slots(self) -> int:
        """Slots per step (sum of :attr:`counts`)."""
        return sum(self.counts)

    @property
    def step_size(self) -> int:
        """Floats per step: slots times :data:`FEATURES`."""
        return self.num_slots * _NF

    @property
    def size(self) -> int:
        """Length of the observation vector (all stacked steps)."""
        return self.step_size * self.stack

    @property
    def offsets(self) -> tuple[int, ...]:
        """Index of each category's first slot."""
        return tuple(int(o) for o in np.cumsum((0, *self.counts[:-1])))

    def slot_names(self) -> tuple[str, ...]:
        """``Category[k]`` for every slot, in order."""
        return tuple(f"{c}[{k}]" for c, n in zip(self.categories, self.counts) for k in range(n))

    def feature_names(self) -> tuple[str, ...]:
        """Name of every float of the observation (``t-1:Tree[0].x``; no prefix for the latest step)."""
        step = [f"{s}.{f}" for s in self.slot_names() for f in FEATURES]
        return tuple(f"t-{self.stack - 1 - t}:{n}" if t < self.stack - 1 else n
                     for t in range(self.stack) for n in step)

    def observation_space(self):
        """The ``gymnasium.spaces.Box`` of one environment's observation."""
        import gymnasium as gym

        return gym.spaces.Box(-1.0, 1.0, (self.size,), np.float32)

    def describe(self) -> str:
        """The layout as a table: category, slots, first index, floats."""
        plural = "s" if self.num_slots != 1 else ""
        lines = [f"{self.game} object observation: {self.num_slots} slot{plural} x {_NF} features "
                 f"({', '.join(FEATURES)})"
                 + (f" x {self.stack} steps" if self.stack > 1 else "") + f" = {self.size} floats",
                 f"{'category':<24}{'slots':>6}{'first index':>13}"]
        for cat, count, off in zip(self.categories, self.counts, self.offsets):
            if count:
                lines.append(f"{cat:<24}{count:>6}{off * _NF:>13}")
        lines.append(f"x, w / {SCREEN_WIDTH}; y, h / {SCREEN_HEIGHT}; dx, dy: pixels per agent "
                     f"step / {MOTION_SCALE:g}; all clipped to [-1, 1]; empty slots are 0")
        if self.stack > 1:
            lines.append(f"steps oldest first, {self.step_size} floats each")
        return "\n".join(lines)


class SlotEncoder:
    """Fills :class:`SlotLayout` vectors for ``num_envs`` environments, step after step.

    Keeps, per environment, the previous step's objects (for motion) and the last
    ``layout.stack`` vectors.  Call :meth:`reset` for environments that start an
    episode, then :meth:`encode` once per agent step with their objects.

    Args:
        layout: The game's layout.
        num_envs: Environments encoded together.
    """

    def __init__(self, layout: SlotLayout, num_envs: int) -> None:
        # Zero environments would make every call a silent no-op.
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        self.layout = layout
        self.num_envs = int(num_envs)
        s = layout.num_slots
        counts = np.array(layout.counts, np.int64)
        self._ncat = len(layout.categories)
        # Per slot: its category, and the index of its category's first slot.
        self._slot_cat = np.repeat(np.arange(self._ncat), counts)
        self._slot_start = np.repeat(np.array(layout.offsets, np.int64), counts)
        self._max_count = int(counts.max())
        self._prev_id = np.full((self.num_envs, s), -1, np.int64)
        self._prev_xy = np.zeros((self.num_envs, s, 2), np.int64)
        self._history = np.zeros((self.num_envs, layout.stack, layout.step_size), np.float32)
        self._fresh = np.ones(self.num_envs, bool)

    def reset(self, env_indices: Sequence[int] | np.ndarray | None = None) -> None:
        """Forget these environments' previous objects and vectors (``None``: all)."""
        rows = slice(None) if env_indices is None else np.asarray(env_indices, np.int64).ravel()
        self._prev_id[rows] = -1
        self._fresh[rows] = True

    def encode(self, category: np.ndarray, instance: np.ndarray, box: np.ndarray,
               env_indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """One agent step: the observation vectors of these environments.

        Args:
            category: ``(m, K)`` category index per object (``-1``: no object), into
                ``layout.categories``.
            instance: ``(m, K)`` instance ids (unique per environment and episode).
            box: ``(m, K, 4)`` ``x, y, w, h`` in pixels.
            env_indices: Which environments the ``m`` rows are (default: all, in order).

        Returns:
            ``(m, layout.size)`` float32.
        """
        rows = np.arange(self.num_envs) if env_indices is None else \
            np.asarray(env_indices, np.int64).ravel()
        category = np.asarray(category)
        m, k = category.shape if category.ndim == 2 else (-1, -1)
        if m != len(rows) or np.shape(instance) != (m, k) or np.shape(box) != (m, k, 4):
            raise ValueError(f"expected category and instance of shape ({len(rows)}, K) and box "
                             f"({len(rows)}, K, 4), got {np.shape(category)}, "
                             f"{np.shape(instance)}, {np.shape(box)}")
        cat = category.astype(np.int64)
        inst = np.where(cat >= 0, np.asarray(instance, np.int64), -1)
        box = np.asarray(box, np.int64)
        prev_ids = self._prev_id[rows]
        fresh = self._fresh[rows]
        prev_ids[fresh] = -1
        s = self.layout.num_slots
        # An object seen in the previous step keeps its slot (ids are unique, so the slot
        # is of its category) ...
        kept, where = _join(inst, prev_ids)
        slot = np.where(kept, where, -1)
        # ... and new ones take their category's free slots, in the detector's order.
        new = (cat >= 0) & ~kept
        if new.any():
            slot = np.where(new, self._free_slots(cat, new, kept, where), slot)
        r, j = np.nonzero(slot >= 0)
        at = slot[r, j]
        ids = np.full((m, s), -1, np.int64)
        xy = np.zeros((m, s, 2), np.int64)
        feats = np.zeros((m, s, _NF), np.float32)
        ids[r, at] = inst[r, j]
        xy[r, at] = box[r, j, :2]
        feats[r, at, 0] = 1.0
        feats[r, at, 1:5] = box[r, j] / _SCALE
        # Motion of the objects kept: since the previous step, in their own slot.
        moved = kept[r, j]
        a, b = r[moved], at[moved]
        feats[a, b, 5:7] = (xy[a, b] - self._prev_xy[rows[a], b]) / MOTION_SCALE
        np.clip(feats, -1.0, 1.0, out=feats)
        self._prev_id[rows] = ids
        self._prev_xy[rows] = xy
        flat = feats.reshape(m, -1)
        hist = self._history
        if self.layout.stack > 1:
            hist[rows, :-1] = hist[rows, 1:]
            if fresh.any():
                hist[rows[fresh]] = flat[fresh, None]
        hist[rows, -1] = flat
        self._fresh[rows] = False
        return hist[rows].reshape(m, -1)

    def _free_slots(self, cat: np.ndarray, new: np.ndarray, kept: np.ndarray,
                    where: np.ndarray) -> np.ndarray:
        """Slot of each new object: its category's free slots in order, to the new objects
        of that category in the detector's order (-1 where none is left)."""
        m = cat.shape[0]
        s = self.layout.num_slots
        occupied = np.zeros((m, s), bool)
        kr, kj = np.nonzero(kept)
        occupied[kr, where[kr, kj]] = True
        free = ~occupied
        # Rank of each free slot among its category's free slots.
        count = np.concatenate([np.zeros((m, 1), np.int64), np.cumsum(free, axis=1)], axis=1)
        free_rank = count[:, 1:] - count[:, self._slot_start] - 1
        by_rank = np.full((m, self._ncat + 1, self._max_count + 1), -1, np.int64)
        fr, fs = np.nonzero(free)
        by_rank[fr, self._slot_cat[fs], free_rank[fr, fs]] = fs
        # Rank of each new object among the new objects of its category.
        onehot = (cat[..., None] == np.arange(self._ncat)) & new[..., None]
        rank = np.take_along_axis(np.cumsum(onehot, axis=1), np.maximum(cat, 0)[..., None],
                                  axis=2)[..., 0] - 1
        rank = np.clip(rank, 0, self._max_count)  # beyond every category's count: no slot
        return by_rank[np.arange(m)[:, None], cat, rank]

    def encode_batch(self, batch, env_indices: Sequence[int] | np.ndarray | None = None
                     ) -> np.ndarray:
        """:meth:`encode` for an :class:`envs.fast.batched.ObjectBatch`."""
        return self.encode(batch.category, batch.instance, batch.box, env_indices)

    def encode_frames(self, frames: Sequence, env_indices: Sequence[int] | np.ndarray | None = None
                      ) -> np.ndarray:
        """:meth:`encode` for one :class:`envs.objects.ObjectFrame` per environment."""
        return self.encode_batch(ObjectBatch.from_frames(self.layout.categories, frames),
                                 env_indices)

    def encode_records(self, records: Sequence[Sequence],
                       env_indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """:meth:`encode` for lists of :class:`envs.objects.ObjectRecord` (``info["objects"]``)."""
        return self.encode(*pad_records(records, self.layout.categories), env_indices)


def pad_records(records: Sequence[Sequence], categories: Sequence[str]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lists of ``ObjectRecord`` s (one per environment) as padded ``(m, K)`` category
    (an index into ``categories``, -1 none) / instance and ``(m, K, 4)`` box arrays."""
    index = {c: i for i, c in enumerate(categories)}
    k = max(1, max((len(r) for r in records), default=0))
    m = len(records)
    cat = np.full((m, k), -1, np.int64)
    inst = np.zeros((m, k), np.int64)
    box = np.zeros((m, k, 4), np.int64)
    for i, objs in enumerate(records):
        for j, o in enumerate(objs):
            cat[i, j] = index.get(o.category, -1)
            inst[i, j] = o.instance
            box[i, j] = o.x, o.y, o.w, o.h
    return cat, inst, box


def _join(ids: np.ndarray, prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each id of ``ids`` (``(m, K)``, -1 none), whether row ``i`` of ``prev`` (``(m, S)``)
    holds it, and in which column.

    A sorted-key join: keys ``id * m + row`` are unique, so one ``searchsorted``
    matches every row at once (an ``(m, K, S)`` comparison would cost S times more).
    """
    m, s = prev.shape
    row = np.arange(m)[:, None]
    pkey = np.where(prev >= 0, prev * m + row, -1).ravel()
    order = np.argsort(pkey, kind="stable")
    sorted_keys = pkey[order]
    key = np.where(ids >= 0, ids * m + row, -2)
    pos = np.minimum(np.searchsorted(sorted_keys, key), len(sorted_keys) - 1)
    found = (sorted_keys[pos] == key) & (ids >= 0)
    return found, (order[pos] % s).reshape(ids.shape)
