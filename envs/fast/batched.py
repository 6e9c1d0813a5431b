"""Batched object extraction: the RAM of ``n`` environments to their objects in one NumPy call.

:class:`~envs.objects.ObjectExtractor` runs OCAtari's RAM reader in Python, per
environment and per frame (76 µs for Skiing to 372 µs for Ms. Pac-Man).  A fast
vector environment (envpool) hands over the RAM of all its environments as one
``(n, 128)`` array; :class:`BatchedExtractor` turns that array into the objects of
all ``n`` environments with array operations over the batch, no Python loop over
environments.

Each game in :data:`BATCHED_GAMES` is a re-implementation of OCAtari 2.2.1's
``ocatari/ram/<game>.py`` reader, quirks included (the frame on which an object
appears at its class's default position, slots whose object is replaced every
frame, objects left behind in a slot, the rows of Skiing's object ring), so that
:meth:`ObjectBatch.frame` gives what :class:`~envs.objects.ObjectExtractor` gives:
the same objects in the same order, the same boxes and the same motion, and
instance ids that change exactly when OCAtari puts a new object into a slot.
``tests/test_batched.py`` checks this on recorded play of every game.  Other games
use :class:`FallbackExtractor`, which runs OCAtari per environment behind the same
interface; :func:`make_extractor` picks one.

Objects come as padded arrays over ``K`` slots per environment, one per slot of
OCAtari's object list for the game (HUD excluded), so a slot's object keeps its
place from step to step.

Example:
    >>> import numpy as np
    >>> from envs.fast.batched import make_extractor
    >>> extractor = make_extractor("Pong", num_envs=2)
    >>> ram = np.zeros((2, 128), np.uint8)
    >>> ram[:, 51] = 100                      # the player's paddle
    >>> ram[1, [49, 54]] = 120, 90            # a ball in env 1 only
    >>> batch = extractor.update(ram)
    >>> batch.category.shape                  # K = 3 slots: Player, Ball, Enemy
    (2, 3)
    >>> [o.category for o in batch.frame(0).records()]
    ['Player']
    >>> [(o.category, o.x, o.y) for o in batch.frame(1).records()]
    [('Player', 140, 87), ('Ball', 71, 76)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from envs.games import GameSpec, resolve_game
from envs.objects import ObjectExtractor, ObjectFrame


@dataclass(frozen=True)
class ObjectBatch:
    """Objects of ``n`` environments at one step, as padded arrays over ``K`` slots.

    Attributes:
        categories: The game's non-HUD categories (``GameSpec.categories``).
        category: ``(n, K)`` int16 index into ``categories``; ``-1`` marks an empty slot.
        instance: ``(n, K)`` int64 id, unique within the extractor's lifetime; an
            object keeps its id while it stays in its slot, a new object gets a new one.
        box: ``(n, K, 4)`` int32 ``x, y, w, h`` (``w, h >= 1``, as
            :class:`~envs.objects.ObjectExtractor` sanitises them).
        motion: ``(n, K, 2)`` int32 ``dx, dy`` since the previous update of that env.
    """

    categories: tuple[str, ...]
    category: np.ndarray
    instance: np.ndarray
    box: np.ndarray
    motion: np.ndarray

    @property
    def num_envs(self) -> int:
        """Number of environments ``n``."""
        return self.category.shape[0]

    @property
    def num_slots(self) -> int:
        """Number of slots ``K`` per environment."""
        return self.category.shape[1]

    @classmethod
    def from_frames(cls, categories: tuple[str, ...], frames: Sequence[ObjectFrame],
                    width: int = 1) -> ObjectBatch:
        """One environment's :class:`~envs.objects.ObjectFrame` per row, padded to at least
        ``width`` slots (empty slots: category -1, box ``(0, 0, 1, 1)``)."""
        n = len(frames)
        k = max(width, *(len(f) for f in frames)) if frames else width
        category = np.full((n, k), -1, np.int16)
        instance = np.zeros((n, k), np.int64)
        box = np.ones((n, k, 4), np.int32)
        box[..., :2] = 0
        motion = np.zeros((n, k, 2), np.int32)
        for i, f in enumerate(frames):
            m = len(f)
            category[i, :m] = f.category
            instance[i, :m] = f.instance
            box[i, :m] = f.box
            motion[i, :m] = f.motion
        return cls(categories, category, instance, box, motion)

    def frame(self, i: int) -> ObjectFrame:
        """Objects of environment ``i`` as an :class:`~envs.objects.ObjectFrame`, in slot order."""
        keep = np.flatnonzero(self.category[i] >= 0)
        return ObjectFrame(
            categories=self.categories,
            category=self.category[i, keep],
            instance=self.instance[i, keep],
            box=self.box[i, keep],
            motion=self.motion[i, keep],
        )

    def frames(self) -> list[ObjectFrame]:
        """:meth:`frame` of every environment."""
        return [self.frame(i) for i in range(self.num_envs)]

    def rows(self, env_indices: Sequence[int] | np.ndarray) -> ObjectBatch:
        """The batch of these environments only."""
        rows = np.asarray(env_indices, np.intp)
        return ObjectBatch(self.categories, self.category[rows], self.instance[rows],
                           self.box[rows], self.motion[rows])

    def replace_rows(self, env_indices: Sequence[int] | np.ndarray, other: ObjectBatch
                     ) -> ObjectBatch:
        """A copy whose rows ``env_indices`` are ``other``'s rows (padded to the wider ``K``)."""
        a, b = _widen_batch(self, other.num_slots), _widen_batch(other, self.num_slots)
        rows = np.asarray(env_indices, np.intp)
        out = [x.copy() for x in (a.category, a.instance, a.box, a.motion)]
        for x, y in zip(out, (b.category, b.instance, b.box, b.motion)):
            x[rows] = y
        return ObjectBatch(self.categories, *out)

    def concat(self, other: ObjectBatch) -> ObjectBatch:
        """The objects of both batches, ``other``'s slots after these (same environments)."""
        return ObjectBatch(self.categories,
                           *(np.concatenate([x, y], axis=1) for x, y in zip(
                               (self.category, self.instance, self.box, self.motion),
                               (other.category, other.instance, other.box, other.motion))))


def _widen_batch(batch: ObjectBatch, k: int) -> ObjectBatch:
    """``batch`` with empty slots appended up to ``k`` slots."""
    extra = k - batch.num_slots
    if extra <= 0:
        return batch
    n = batch.num_envs
    return batch.concat(ObjectBatch(batch.categories, np.full((n, extra), -1, np.int16),
                                    np.zeros((n, extra), np.int64),
                                    np.ones((n, extra, 4), np.int32),
                                    np.zeros((n, extra, 2), np.int32)))


def _check_num_envs(num_envs: int) -> int:
    # A batch of zero environments would make every call a silent no-op.
    if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
    return int(num_envs)


def _check_ram(ram: np.ndarray, num_envs: int) -> np.ndarray:
    ram = np.asarray(ram)
    if ram.dtype != np.uint8:
        # Anything else is not emulator RAM (values outside 0..255 would be misread).
        raise TypeError(f"RAM must be uint8, got {ram.dtype}")
    if ram.shape != (num_envs, 128):
        raise ValueError(f"RAM must have shape ({num_envs}, 128) for {num_envs} envs, got {ram.shape}")
    return ram


def _env_rows(env_indices: Sequence[int] | np.ndarray | None, num_envs: int) -> np.ndarray:
    if env_indices is None:
        return np.arange(num_envs)
    rows = np.asarray(env_indices)
    if rows.dtype == bool:
        # A boolean mask selects envs; read as indices it would mean envs 0 and 1.
        if rows.shape != (num_envs,):
            raise ValueError(f"a boolean env mask must have shape ({num_envs},), got {rows.shape}")
        return np.flatnonzero(rows)
    rows = rows.reshape(-1)
    if rows.size and (not np.issubdtype(rows.dtype, np.integer)
                      or rows.min() < 0 or rows.max() >= num_envs):
        raise ValueError(f"env indices must be ints in 0..{num_envs - 1}, got {env_indices!r}")
    return rows.astype(np.intp)


# ---------------------------------------------------------------------------
# Per-slot state and OCAtari's slot rules
# ---------------------------------------------------------------------------


class _Slots:
    """Mutable state of ``K`` object slots in ``n`` environments, as ``(K, n)`` arrays.

    Slot-major, so that the readers' many small operations on one slot or one
    group of slots run over contiguous memory.  ``x, y, w, h`` are OCAtari's
    positions and sizes (sizes are only ever written by the readers, so they are
    kept sanitised to at least 1, as :class:`~envs.objects.ObjectExtractor`
    reports them); ``present`` says whether the slot holds an object; ``cat`` is
    that object's category; ``new`` marks slots whose object was created in the
    current update (OCAtari's prev position is then the current one: zero
    motion, and the object gets a fresh instance id, unless it continues the
    slot's object of a :attr:`~envs.games.GameSpec.renewed` category).
    """

    def __init__(self, k: int, n: int) -> None:
        self.box = np.zeros((4, k, n), np.int32)
        self.x, self.y, self.w, self.h = self.box
        self.present = np.zeros((k, n), bool)
        self.cat = np.full((k, n), -1, np.int16)
        self.new = np.zeros((k, n), bool)
        self.ids = np.zeros((k, n), np.int64)

    def track(self, s: int | slice, on: np.ndarray, off: np.ndarray | None = None) -> np.ndarray:
        """OCAtari's usual rule for slot(s) ``s``: where ``on``, create an object if the
        slot is empty and keep it otherwise; where ``off`` (default: not ``on``), empty
        the slot; elsewhere leave it alone.  Returns where objects were created."""
        was = self.present[s]
        new = on & ~was
        self.present[s] = on if off is None else on | (was & ~off)
        self.new[s] |= new
        return new

    def state(self) -> dict[str, np.ndarray]:
        """Copies of every per-env array (the views ``x, y, w, h`` live in ``box``)."""
        n = self.present.shape[1]
        return {k: v.copy() for k, v in vars(self).items()
                if isinstance(v, np.ndarray) and v.base is None and v.shape[-1:] == (n,)}

    def restore(self, saved: dict[str, np.ndarray], envs: np.ndarray) -> None:
        """Put the ``saved`` state of environments ``envs`` (a boolean mask) back."""
        for k, v in saved.items():
            getattr(self, k)[..., envs] = v[..., envs]

    def renew(self, s: int | slice, on: np.ndarray) -> None:
        """Slot(s) ``s`` get a new object where ``on`` (OCAtari creates one every frame)
        and are emptied elsewhere."""
        self.present[s] = on
        self.new[s] |= on


def _put(column: np.ndarray, value, where: np.ndarray) -> None:
    np.copyto(column, value, where=where, casting="unsafe")


def _col(values) -> np.ndarray:
    """Per-slot constants as a ``(k, 1)`` column, to broadcast over envs."""
    return np.asarray(values)[:, None]


class _Game:
    """One game's reader: the slot layout, the state after reset, and the update rule.

    Subclasses set ``name``, ``layout`` (category, count) in the order of
    OCAtari's object list and ``sizes`` (the categories' default ``w, h``),
    mark in ``setup`` the objects OCAtari creates at reset
    (``self.start_present``, ``self.start_box``), and implement :meth:`step`
    on RAM given as ``(128, n)`` int64 (``ram[j]``: byte ``j`` of every env).
    Slots of categories whose size never changes keep the default size set at reset.
    """

    name: ClassVar[str]
    layout: ClassVar[tuple[tuple[str, int], ...]]
    sizes: ClassVar[dict[str, tuple[int, int]]]
    #: Whether the reader can write sizes below 1 (then sanitised after each step).
    shrinks: ClassVar[bool] = False

    def __init__(self, spec: GameSpec) -> None:
        declared = [c for c, _ in self.layout]
        if list(spec.max_objects) != declared:
            # The reader replicates one OCAtari version; another one orders or names objects differently.
            # Derived categories (Skiing's Gate) follow OCAtari's and are added later (envs.derived).
            raise RuntimeError(
                f"rnr's {spec.name} categories {tuple(spec.max_objects)} differ from the batched "
                f"reader's {tuple(declared)}; the batched reader follows OCAtari 2.2.1"
            )
        self.index = {c: i for i, c in enumerate(spec.categories)}
        self.slot_cat = np.array([self.index[c] for c, count in self.layout for _ in range(count)], np.int16)
        self.k = len(self.slot_cat)
        self.start_present = np.zeros(self.k, bool)
        self.start_box = np.array([(0, 0, *self.sizes[c]) for c, count in self.layout
                                   for _ in range(count)], np.int32).reshape(self.k, 4)
        self.setup()

    def setup(self) -> None:
        """Mark the objects OCAtari creates at reset in ``start_present``/``start_box``."""

    def attach(self, st: _Slots) -> None:
        """Add the game's own per-env state to ``st`` (called once, before any reset)."""

    def start(self, st: _Slots, envs: np.ndarray) -> None:
        """Reset the state of environments ``envs``."""
        st.present[:, envs] = self.start_present[:, None]
        st.box[:, :, envs] = self.start_box.T[..., None]
        st.cat[:, envs] = self.slot_cat[:, None]

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        """Advance all environments by one frame of ``ram`` (``(128, n)`` int64)."""
        raise NotImplementedError


# ---------------------------------------------------------------------------
# The games (each mirrors ocatari/ram/<game>.py of OCAtari 2.2.1)
# ---------------------------------------------------------------------------


class _Boxing(_Game):
    name = "Boxing"
    layout = (("Player", 1), ("Enemy", 1))
    sizes = {"Player": (14, 46), "Enemy": (14, 46)}

    def setup(self) -> None:
        self.start_present[:] = True

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        st.x[0] = ram[32] + 5
        st.y[0] = ram[34] + 38
        st.x[1] = ram[33] + 4
        st.y[1] = ram[35] + 38


class _Freeway(_Game):
    name = "Freeway"
    layout = (("Chicken", 2), ("Car", 10))
    sizes = {"Chicken": (6, 8), "Car": (8, 10)}

    def setup(self) -> None:
        self.start_present[:] = True
        self.start_box[2:12, 1] = 27 + 16 * np.arange(10)

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        st.x[0] = 44
        st.x[1] = 108
        st.y[0:2] = 193 - ram[14:16]
        st.x[2:12] = ram[117:107:-1] - 3


class _Pong(_Game):
    name = "Pong"
    layout = (("Player", 1), ("Ball", 1), ("Enemy", 1))
    sizes = {"Player": (4, 15), "Ball": (2, 4), "Enemy": (4, 15)}
    shrinks = True  # paddles cut by the screen's top and bottom edges
    _offset, _threshold, _paddle_x = _col([13, 15]), _col([13, 33]), _col([140, 16])

    def setup(self) -> None:
        self.start_present[:] = True

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        on = (ram[54] != 0) & (ram[49] > 49)
        st.track(1, on)
        _put(st.x[1], ram[49] - 49, on)
        _put(st.y[1], ram[54] - 14, on)

        # The paddles, player (slot 0, byte 51) and enemy (slot 2, byte 50), one rule
        # with their own offsets; cut at the top and bottom of the court.  The enemy
        # vanishes below its threshold, the player keeps its last box.
        v = ram[51:49:-1]
        y = v - self._offset
        on = v > self._threshold
        st.track(2, on[1])
        top = y < 34
        _put(st.x[0:3:2], self._paddle_x, on)
        _put(st.y[0:3:2], np.where(top, 34, y), on)
        _put(st.h[0:3:2], np.where(top, v - 33, np.where(y > 179, 194 - y, 15)), on)


class _Tennis(_Game):
    name = "Tennis"
    layout = (("Player", 1), ("Enemy", 1), ("Ball", 1), ("BallShadow", 1))
    sizes = {"Player": (13, 23), "Enemy": (13, 23), "Ball": (2, 2), "BallShadow": (2, 2)}
    # Whether the ball (row 0) or shadow (row 1) at y = 189 - byte is in sight:
    # ball not at 98 < y < 113, shadow not at 100 < y < 113 and not at y = 0.
    _in_sight = np.ones((2, 256), bool)
    _in_sight[0, 77:91] = False
    _in_sight[1, 77:89] = False
    _in_sight[1, 189] = False
    _in_sight = _in_sight.reshape(-1)
    _lut_row = _col([0, 256])

    def setup(self) -> None:
        self.start_present[:] = True

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        # Field 0: the player is the upper figure; field 1: the lower one; other values
        # leave both where they were.
        f1 = ram[80] == 1
        x, y = ram[26:28] - 1, 166 - ram[24:26]  # upper, lower figure
        x, y = np.where(f1, x[::-1], x), np.where(f1, y[::-1], y)
        side = (ram[80] == 0) | f1
        _put(st.x[0:2], x, side)
        _put(st.y[0:2], y, side)

        # The ball (byte 54) and its shadow (55), out of sight behind the net; the
        # shadow also when it lies under the ball.
        on = self._in_sight[ram[54:56] + self._lut_row]
        on[1] &= ram[55] != ram[54]
        on &= ram[16] > 2
        st.track(slice(2, 4), on)
        _put(st.x[2:4], ram[16] - 2, on)
        _put(st.y[2:4], 189 - ram[54:56], on)


class _IceHockey(_Game):
    name = "IceHockey"
    layout = (("Player", 2), ("Enemy", 2), ("Ball", 1))
    sizes = {"Player": (16, 20), "Enemy": (16, 20), "Ball": (2, 2)}
    # Skaters: x bytes 59, 57, 60, 58 and y bytes 55, 53, 56, 54 (the forward and the
    # goalie of each team); the puck: bytes 52 and 91.
    _sx, _sy = [59, 57, 60, 58], [55, 53, 56, 54]

    def setup(self) -> None:
        self.start_present[:] = True

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        st.x[0:4] = ram[self._sx] - 13
        st.y[0:4] = 168 - ram[self._sy]
        st.x[4] = ram[52] - 10
        st.y[4] = 188 - ram[91]


class _FishingDerby(_Game):
    name = "FishingDerby"
    layout = (("PlayerOneHook", 1), ("PlayerTwoHook", 1), ("Fish", 6), ("Shark", 1))
    sizes = {"PlayerOneHook": (3, 3), "PlayerTwoHook": (3, 3), "Fish": (8, 10), "Shark": (35, 13)}
    # Fish i (top row first) swims at x = byte 74 - i in row y = 97 + 16 i; the hooks'
    # bytes: x 23/24, rope offset 34/35 (to the left when byte 30/31 is 16), depth 65/66.
    _fish_y = _col(97 + 16 * np.arange(6))
    _rows = _col(np.arange(6))

    def setup(self) -> None:
        self.start_present[:] = True
        self.start_box[0:2, 1] = 37

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        left = ram[30:32] == 16
        x = np.array([-2, 2])[:, None] + ram[23:25] + np.where(left, -ram[34:36], ram[34:36] + 3)
        # OCAtari: int(byte * 2.3), a float product truncated.
        depth = (ram[65:67] * 2.3).astype(np.int64)
        st.x[0:2] = x
        st.y[0:2] = depth + 78
        # A hooked fish hangs 4 px above its hook's point (y + 3): byte 112 names player
        # one's fish (6 - row), byte 113 player two's; player one's reading wins where
        # both name the same row, as in OCAtari.
        one = (ram[112] != 0) & (6 - ram[112] == self._rows)
        two = (ram[113] != 0) & (6 - ram[113] == self._rows)
        st.x[2:8] = ram[74:68:-1]
        st.y[2:8] = np.where(one, depth[0] + 77, np.where(two, depth[1] + 77, self._fish_y))
        # The shark is gone while byte 103 is 80, and comes back as a new object.
        on = ram[103] != 80
        st.track(8, on)
        _put(st.x[8], ram[75], on)
        _put(st.y[8], 80, on)


def _breakout_bit_map() -> tuple[np.ndarray, np.ndarray]:
    """RAM byte and bit of each brick of OCAtari's Breakout bitmap, ``(6, 18)`` each.

    ``ocatari.ram.breakout._make_block_bitmap`` writes, for playfield row ``r``
    (bytes ``r, r+6, ..., r+30``), the bits of each byte as a binary string read
    backwards in steps of two, concatenates them from the last byte to the first,
    keeps 18 of the 20 positions in a fixed order, and lists rows bottom-up.
    """
    byte = np.zeros((6, 18), np.intp)
    bit = np.zeros((6, 18), np.intp)
    order = [0, 4, 3, 2, 1, 5, 6, 7, 8, 11, 12, 16, 15, 14, 13, 17, 18, 19]
    for k in range(6):
        r = 5 - k
        chars = [(30 + r, 6)]  # last byte: only bit 6
        for j in (4, 3, 2, 1):
            chars += [(6 * j + r, b) for b in (0, 2, 4, 6)]
        chars += [(r, b) for b in (0, 2, 4)]  # first byte: bits 0, 2, 4
        for col, pos in enumerate(order):
            byte[k, col], bit[k, col] = chars[pos]
    return byte, bit


class _Breakout(_Game):
    name = "Breakout"
    layout = (("Player", 1), ("Ball", 1), ("Block", 108))
    sizes = {"Player": (16, 4), "Ball": (2, 4), "Block": (8, 6)}
    _byte, _bit = _breakout_bit_map()
    _block_x = _col(np.tile(8 + 8 * np.arange(18), 6))
    _block_y = _col(np.repeat(57 + 6 * np.arange(6), 18))

    def setup(self) -> None:
        # A paddle at (99, 189), a ball and one brick per row at (0, 0).
        self.start_present[:2] = True
        self.start_box[0, :2] = 99, 189
        self.start_present[2::18] = True

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        st.x[0] = ram[72] - 47
        st.y[0] = 189

        on = (ram[101] + 9 <= 196) & (ram[101] != 0)
        st.track(1, on)
        _put(st.x[1], ram[99] - 49, on)
        _put(st.y[1], ram[101] + 9, on)

        # Each maximal run of bricks in a row is one Block, in the slot of its first column.
        bits = (ram[self._byte] >> self._bit[..., None]) & 1  # (6, 18, n)
        run = np.zeros_like(bits)
        run[:, 17] = bits[:, 17]
        for c in range(16, -1, -1):
            run[:, c] = bits[:, c] * (run[:, c + 1] + 1)
        on = bits.astype(bool)
        on[:, 1:] &= bits[:, :-1] == 0
        on = on.reshape(108, -1)
        st.track(slice(2, 110), on)
        _put(st.x[2:110], self._block_x, on)
        _put(st.y[2:110], self._block_y, on)
        _put(st.w[2:110], 8 * run.reshape(108, -1), on)
        _put(st.h[2:110], 6, on)


# Ms. Pac-Man's two pill layouts (OCAtari's GRID1 for ram[0] == 0, else GRID2):
# 14 rows x 18 columns, 1 where a pill can be.
_PACMAN_GRIDS = np.array([[
    "111101111111101111", "100101000000101001", "111111111111111111", "010100100001001010",
    "110111111111111011", "010000100001000010", "011111100001111110", "010000100001000010",
    "110111111111111011", "010101010010101010", "111101011110101111", "100101110011101001",
    "100100010010001001", "111111111111111111",
], [
    "111111111111111111", "100001000000100001", "110111011110111011", "010101010010101010",
    "010101111111101010", "111100100001001111", "100111100001111001", "100100100001001001",
    "100101111111101001", "111111000000111111", "001001011110100100", "111101110011101111",
    "100101000000101001", "111101111111101111",
]])
_PACMAN_GRIDS = (np.array([[list(row) for row in g] for g in _PACMAN_GRIDS]) == "1").reshape(2, 252)


def _pacman_pills() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """RAM byte, bit mask, rule and x of each pill slot (row-major, 14 x 18).

    Row ``i`` is read from bytes ``59 + 3i .. 61 + 3i``.  Columns 0 and 17 are
    emptied when their bit is clear *or* the grid has no pill there ("strict");
    the other columns ignore a set bit where the grid has no pill and keep
    whatever the slot held.
    """
    byte = np.zeros((14, 18), np.intp)
    mask = np.zeros((14, 18), np.int64)
    x = np.zeros((14, 18), np.int64)
    x[:] = 8 + 8 * np.arange(18) + 4 * (np.arange(18) > 8)  # the right half sits 4 px further
    for i in range(14):
        b = 59 + 3 * i
        byte[i, 17], mask[i, 17] = b, 16
        byte[i, 0], mask[i, 0] = b, 64
        for j in range(8):
            col = 4 - (j >> 1) if j & 1 else 12 - (j >> 1)
            byte[i, col], mask[i, col] = b + 1, 1 << j
            col = 13 + (j >> 1) if j & 1 else 5 + (j >> 1)
            byte[i, col], mask[i, col] = b + 2, 1 << j
    strict = np.zeros((14, 18), bool)
    strict[:, [0, 17]] = True
    return byte.reshape(-1), mask.reshape(-1), strict.reshape(-1), x.reshape(-1)


class _MsPacman(_Game):
    name = "MsPacman"
    layout = (("Player", 1), ("Ghost", 4), ("Fruit", 1), ("PowerPill", 4), ("Pill", 252))
    sizes = {"Player": (9, 10), "Ghost": (9, 10), "Fruit": (9, 10), "PowerPill": (4, 7),
             "Pill": (4, 2)}
    _pill_byte, _pill_mask, _pill_strict, _pill_x = _pacman_pills()
    _pill_mask, _pill_strict = _col(_pill_mask), _col(_pill_strict)
    _grids = np.ascontiguousarray(_PACMAN_GRIDS.T)  # (252, 2)
    _power_bits = _col([4, 8, 16, 32])
    _power_x, _power_y = _col([148, 148, 8, 8]), _col([146, 14, 147, 15])

    def setup(self) -> None:
        self.start_present[0] = True
        self.start_box[0, :2] = 78, 103
        self.start_box[10:, 0] = self._pill_x
        self.start_box[10:, 1] = np.repeat(7 + 12 * np.arange(14), 18)

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        st.x[0] = ram[10] - 13
        st.y[0] = ram[16] + 1

        # Ghosts, the fruit and the power pills: OCAtari creates the object but sets
        # the position of the slot's old (empty) object, so a new one shows at its
        # class's default position for a frame: ghosts (0, 0), the others (125, 173).
        on = np.stack([ram[47] > 0, ram[19] > 0, ram[19] > 1, ram[19] > 2])
        on[1:] &= on[0]
        new = st.track(slice(1, 5), on)
        kept = on & ~new
        _put(st.x[1:5], ram[6:10] - 13, kept)
        _put(st.y[1:5], ram[12:16] + 1, kept)
        _put(st.x[1:5], 0, new)
        _put(st.y[1:5], 0, new)

        on = (ram[11] > 0) & (ram[17] > 0)
        new = st.track(5, on)
        _put(st.x[5], np.where(new, 125, ram[11] - 13), on)
        _put(st.y[5], np.where(new, 173, ram[17] + 1), on)

        on = (ram[117] & self._power_bits) != 0
        new = st.track(slice(6, 10), on)
        _put(st.x[6:10], np.where(new, 125, self._power_x), on)
        _put(st.y[6:10], np.where(new, 173, self._power_y), on)

        bit = (ram[self._pill_byte] & self._pill_mask) != 0  # (252, n)
        grid = self._grids[:, (ram[0] != 0).astype(np.intp)]
        st.track(slice(10, 262), bit & grid, off=~bit | (self._pill_strict & ~grid))


class _Seaquest(_Game):
    name = "Seaquest"
    layout = (("Player", 1), ("Shark", 12), ("Submarine", 12), ("Diver", 4), ("EnemyMissile", 4),
              ("SurfaceSubmarine", 1), ("PlayerMissile", 1), ("OxygenBar", 1),
              ("CollectedDiver", 6))
    sizes = {"Player": (16, 11), "Shark": (8, 7), "Submarine": (8, 11), "Diver": (8, 11),
             "EnemyMissile": (6, 4), "SurfaceSubmarine": (8, 11), "PlayerMissile": (8, 1),
             "OxygenBar": (63, 5), "CollectedDiver": (8, 9)}
    _lane = np.repeat(np.arange(4), 3)  # enemy slot -> lane (bottom to top)
    _shift = _col(16 * np.tile(np.arange(3), 4))  # enemy slot -> x offset in its lane's formation
    _bit = _col(np.tile(2 - np.arange(3), 4))
    _lane_y = _col(141 - 24 * _lane)
    _diver_lane_y = _col(141 - 24 * (3 - np.arange(4)))  # divers and missiles: lane 3 - i
    _collected_x = _col(58 + 8 * np.arange(6))
    _six = _col(np.arange(6))

    def setup(self) -> None:
        self.start_present[[0, 35]] = True
        self.start_box[0, :2] = 76, 46
        self.start_box[35, :2] = 49, 170
        # One collected-diver object shared by all six slots, at (0, 0).
        self.start_present[36:42] = True

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        # The player: gone while ram[105] is 1..14 (death, surfacing); a new one
        # appears at the class default (76, 46) for a frame.
        on = ~((ram[105] > 0) & (ram[105] < 15))
        new = st.track(0, on)
        _put(st.x[0], np.where(new, 76, ram[70]), on)
        _put(st.y[0], np.where(new, 46, ram[97] + 33), on)

        # Enemies: 4 lanes x 3 formation places; a lane holds sharks or submarines.
        lane_sub = (ram[89:93] % 8 > 3) & (ram[89:93] % 8 < 7)  # (4, n)
        sub = lane_sub[self._lane]
        x = (ram[30:34][self._lane] + self._shift) % 256
        here = (((ram[36:40][self._lane] >> self._bit) & 1) == 1) & (x <= 165)
        shark, submarine = here & ~sub, here & sub
        # The slot of the other kind is emptied only when the place is empty:
        # a shark that turns into a submarine leaves the old shark behind.
        st.track(slice(1, 13), shark, off=~here)
        st.track(slice(13, 25), submarine, off=~here)
        _put(st.x[1:13], x, shark)
        _put(st.y[1:13], self._lane_y + ram[93] - 4, shark)
        _put(st.x[13:25], x, submarine)
        _put(st.y[13:25], self._lane_y, submarine)

        # Divers (slots 25..28) and enemy missiles (29..32) share ram[74 - i], lane 3 - i.
        v = ram[74:70:-1]
        sub = lane_sub[::-1]
        inside = (v > 0) & (v < 160)
        missile, diver = inside & sub, inside & ~sub
        st.track(slice(29, 33), missile, off=(~inside & sub) | diver)
        st.track(slice(25, 29), diver, off=(~inside & ~sub) | missile)
        _put(st.x[29:33], v + 3, missile)
        _put(st.y[29:33], self._diver_lane_y + 4, missile)
        _put(st.x[25:29], v, diver)
        _put(st.y[25:29], self._diver_lane_y, diver)

        on = (ram[60] >= 2) & (ram[118] < 160)
        st.track(33, on)
        _put(st.x[33], ram[118], on)
        _put(st.y[33], 45, on)

        on = (ram[103] > 0) & (ram[103] < 160)
        st.track(34, on)
        _put(st.x[34], ram[103], on)
        _put(st.y[34], ram[97] + 40, on)

        on = ram[102] != 0
        new = st.track(35, on)
        _put(st.x[35], 49, new)
        _put(st.y[35], 170, new)
        _put(st.w[35], np.minimum(ram[102], 63), on)

        # Collected divers: a new one at its place in the row; an old one stays
        # where it was (the six reset objects at (0, 0)).
        new = st.track(slice(36, 42), self._six < ram[62])
        _put(st.x[36:42], self._collected_x, new)
        _put(st.y[36:42], 178, new)


class _Asterix(_Game):
    name = "Asterix"
    layout = (("Player", 1), ("Reward", 8), ("Enemy", 8), ("Consumable", 8))
    sizes = {"Player": (8, 11), "Reward": (8, 11), "Enemy": (7, 11), "Consumable": (7, 11)}
    _lane_y = _col(26 + 16 * np.arange(8))

    def setup(self) -> None:
        self.start_present[0] = True

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        st.x[0] = ram[41]
        st.y[0] = 26 + ram[39] * 16
        st.w[0] = np.where(ram[71] < 82, np.where(ram[54] < 5, 8, 6), 16)

        x = ram[42:50]
        hold = ram[18:10:-1] == 11  # ram[18 - lane]: the lane's reward slot is emptied
        reward = ~hold & (ram[73:81] != 0)
        # OCAtari tests the lane's *reward* slot for an enemy or a consumable, so
        # both are created anew on every frame (new instance, zero motion).
        enemy = ~hold & ~reward & (ram[29:37] % 2 == 1)
        consumable = ~hold & ~reward & ~enemy
        new = st.track(slice(1, 9), reward)
        _put(st.x[1:9], x, reward)
        _put(st.y[1:9], self._lane_y, reward)
        # A new reward empties the lane's other slots; a kept one, or a held lane, leaves them.
        st.track(slice(9, 17), enemy, off=new | consumable)
        st.new[9:17] |= enemy
        _put(st.x[9:17], x, enemy)
        _put(st.y[9:17], self._lane_y, enemy)
        st.track(slice(17, 25), consumable, off=new | enemy)
        st.new[17:25] |= consumable
        _put(st.x[17:25], x + 1, consumable)
        _put(st.y[17:25], self._lane_y + 1, consumable)


def _kangaroo_layouts() -> np.ndarray:
    """OCAtari's ladders and platforms per level value (0, 1, other): ``(3, 26, 5)``
    rows of ``present, x, y, w, h`` for the 6 ladder and 20 platform slots."""
    ladders = (
        [(132, 132, 35), (20, 85, 35), (132, 37, 35)],
        [(120, 132, 4), (24, 116, 4), (128, 36, 4)],
        [(20, 36, 28), (20, 148, 4), (36, 116, 20), (104, 36, 20), (120, 68, 4), (132, 84, 4)],
    )
    platforms = (
        [(16, 172, 128), (16, 28, 128), (16, 76, 128), (16, 124, 128)],
        [(16, 172, 128), (16, 28, 128), (16, 124, 28), (52, 124, 92), (16, 76, 60), (84, 76, 60),
         (28, 164, 24), (112, 84, 24), (120, 44, 24), (48, 156, 32), (76, 148, 32),
         (104, 140, 32), (16, 108, 32), (56, 100, 20), (84, 92, 20), (64, 60, 20), (92, 52, 20),
         (28, 68, 28)],
        [(16, 172, 128), (16, 28, 128), (88, 140, 16), (64, 148, 16), (100, 116, 16),
         (48, 100, 16), (76, 52, 16), (80, 36, 16), (104, 132, 20), (84, 156, 20),
         (124, 124, 20), (52, 84, 20), (108, 164, 36), (16, 108, 80), (16, 92, 28),
         (76, 92, 68), (16, 140, 32), (96, 60, 36), (100, 76, 44), (60, 44, 12)],
    )
    table = np.zeros((3, 26, 5), np.int64)
    for lvl in range(3):
        for i, (x, y, h) in enumerate(ladders[lvl]):
            table[lvl, i] = 1, x, y, 8, h
        for i, (x, y, w) in enumerate(platforms[lvl]):
            table[lvl, 6 + i] = 1, x, y, w, 4
    return table


class _Kangaroo(_Game):
    name = "Kangaroo"
    layout = (("Player", 1), ("Child", 1), ("Monkey", 4), ("FallingCoconut", 1),
              ("ThrownCoconut", 3), ("Fruit", 3), ("Bell", 1), ("Ladder", 6), ("Platform", 20))
    sizes = {"Player": (8, 24), "Child": (8, 15), "Monkey": (6, 15), "FallingCoconut": (2, 3),
             "ThrownCoconut": (2, 3), "Fruit": (7, 11), "Bell": (6, 11), "Ladder": (8, 35),
             "Platform": (8, 4)}
    _scenery = np.ascontiguousarray(_kangaroo_layouts().transpose(2, 1, 0))  # (5, 26, 3 levels)
    # Player height by ram[18] (ducking, jumping stooped or stretched; 24 otherwise).
    _height = np.full(256, 24, np.int64)
    _height[[20, 28]] = 16
    _height[[66, 74]] = 15
    _height[[65, 73]] = 23
    _fruit_w, _fruit_h = np.array([7, 7, 8, 8]), np.array([11, 9, 11, 11])
    _bell_x = np.array([93, 31, 130])

    def setup(self) -> None:
        self.start_present[[0, 1, 13]] = True
        self.start_box[0, :2] = 78, 103
        self.start_box[1, :2] = 78, 12
        self.start_box[13, :2] = 126, 173

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        st.x[0] = ram[17] + 15
        st.y[0] = ram[16] * 8 + 4
        st.h[0] = self._height[ram[18]]

        fruits = np.count_nonzero(ram[42:45] & 128, axis=0)
        on = (ram[16] > 3) | (ram[68] == np.maximum(fruits, 1))
        _put(st.x[1], ram[83] + 15, on)
        _put(st.y[1], 12, on)

        v = ram[11:7:-1]
        on = (v != 255) & (v != 127)
        st.track(slice(2, 6), on)
        _put(st.x[2:6], ram[15:11:-1] + 16, on)
        _put(st.y[2:6], v * 8 + 5, on)

        on = ram[33] != 255
        st.track(6, on)
        _put(st.x[6], ram[34] + 14, on)
        _put(st.y[6], (ram[33] - 22 * ram[36]) * 8 + 9, on)

        on = ram[25:28] != 255
        st.track(slice(7, 10), on)
        _put(st.x[7:10], ram[28:31] + 15, on)
        _put(st.y[7:10], ram[25:28] * 8 + 1, on)

        v = ram[42:45]
        on = v < 128
        st.track(slice(10, 13), on)
        _put(st.x[10:13], np.where(ram[92] == ram[91], ram[89:92], ram[90:93]) + 15, on)
        _put(st.y[10:13], np.where(ram[87] == ram[86], ram[84:87], ram[85:88]) * 8 + 4, on)
        _put(st.w[10:13], self._fruit_w[v % 4], on)
        _put(st.h[10:13], self._fruit_h[v % 4], on)

        # The bell: once gone, OCAtari never brings it back (it tests `is None`).
        lvl = np.minimum(ram[36], 2)  # level values above 2 read as level 2
        st.track(13, np.zeros_like(on[0]), off=ram[41] == 128)
        move = st.present[13] & (ram[36] < 3)
        _put(st.x[13], self._bell_x[lvl], move)
        _put(st.y[13], 36, move)

        # Ladders and platforms: new objects every frame, from the level's table.
        scenery = self._scenery[:, :, lvl]  # (5, 26, n)
        st.renew(slice(14, 40), scenery[0] == 1)
        st.box[:, 14:40] = scenery[1:]


class _Skiing(_Game):
    """Skiing keeps the course in a ring of 8 RAM rows (type, x, y, height, colour
    per row; a gate's two flags share one row).  OCAtari remembers for each
    object the row it was read from, moves every object one row down when
    ``ram[90]`` decreases, drops objects whose row went empty or changed type,
    and fills free slots with the objects of unclaimed rows: a tree takes the
    first free slot if that is a tree slot, a mogul the first free mogul slot,
    a gate the last two free slots if the last is a flag slot (so gates can land
    in mogul or tree slots).  A flag's x offset (+1 or +33) follows the parity of
    its slot, not which flag of the gate it is.
    """

    name = "Skiing"
    layout = (("Player", 1), ("Tree", 6), ("Mogul", 3), ("Flag", 4))
    sizes = {"Player": (10, 18), "Tree": (16, 30), "Mogul": (16, 7), "Flag": (5, 14)}
    shrinks = True  # objects cut by the screen's edges
    _odd_slot = _col(np.arange(1, 14) % 2 == 1)  # slots 1, 3, .. (OCAtari's even list index)
    _flag_dx = 1 + 32 * _odd_slot
    _fields = np.array([54, 62, 70, 78, 86])[:, None, None]  # height, x, type, colour, y of row 0
    _rows8 = np.arange(8)[:, None, None]
    _slot13 = _col(np.arange(13))
    _spawn_fields = _col([70, 62, 86, 78])  # type, x, y, colour of RAM row 0

    _has_height = np.ones(256, bool)  # a RAM row's height byte: 0 and 255 mean no object
    _has_height[[0, 255]] = False
    _spawns = np.zeros(256, bool)  # RAM row types OCAtari creates objects for
    _spawns[[85, 5, 2]] = True
    _on_screen = np.zeros(256, bool)  # y = 178 - byte within 0..177
    _on_screen[1:179] = True

    def setup(self) -> None:
        self.start_present[0] = True
        self._tree, self._mogul, self._flag = (self.index[c] for c in ("Tree", "Mogul", "Flag"))
        # Category index -> the RAM row type it is read from (-1: none; index -1 is an empty slot).
        self._kind_of = np.full(len(self.index) + 1, -1, np.int64)
        self._kind_of[[self._tree, self._mogul, self._flag]] = 85, 5, 2
        # Category index -> y offset and the bottom edge its height is cut at.
        self._dy = np.full(len(self.index) + 1, 4, np.int64)
        self._dy[self._mogul] = 3
        self._bottom = np.full(len(self.index) + 1, 177, np.int64)
        self._bottom[[self._tree, self._mogul]] = 175, 176

    def attach(self, st: _Slots) -> None:
        st.row = np.zeros(st.present[1:].shape, np.int64)  # RAM row of each object in slots 1..13
        st.ram90 = np.zeros(st.present.shape[1], np.int64)  # ram[90] of the previous frame
        st.env = np.arange(st.present.shape[1])

    def start(self, st: _Slots, envs: np.ndarray) -> None:
        super().start(st, envs)
        st.ram90[envs] = 255  # OCAtari's Player.ram_90 starts at 255

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        st.x[0] = ram[25]
        st.y[0] = ram[26] - 80

        # Existing objects (slots 1..13): follow their RAM row.
        present = st.present[1:]
        row = st.row
        row -= present & (st.ram90 > ram[90])
        at = np.where(present, row, 0)
        # (A row below 0 reads bytes before the table, as OCAtari's negative index does.)
        height, x, kind, colour, y = ram[self._fields + at, st.env]
        y = 178 - y
        cat = st.cat[1:]
        # Kept where the row still holds something of the object's own type.
        kept = present & self._has_height[height] & (self._kind_of[cat] == kind)
        present &= kept
        cat = np.where(kept, cat, -1)  # -1: gone or empty
        tree, mogul, flag = cat == self._tree, cat == self._mogul, cat == self._flag
        claimed = np.where(tree | mogul | (flag & self._odd_slot), row, -1)
        unclaimed = ~(claimed == self._rows8).any(1)  # (8, n)

        sx, sy, sw, sh = st.x[1:], st.y[1:], st.w[1:], st.h[1:]
        # A tree keeps its x (OCAtari's Tree.xy setter writes an unused attribute)
        # unless it wraps around the right edge; a flag's x follows its slot's parity.
        _put(sx, x + np.where(mogul, 2, self._flag_dx + 3 * (colour == 4)), mogul | flag)
        edge = tree & (x > 145)
        if edge.any():
            wrap = tree & (x > 154)
            _put(sx, 8, wrap)
            _put(sw, np.where(wrap, np.minimum(164 - x, 16), np.minimum(155 - x, 30)), edge)
        _put(sy, y + self._dy[cat], kept)
        _put(sh, np.minimum(self._bottom[cat] - y, height), kept)
        st.ram90[:] = ram[90]

        # New objects from the unclaimed rows, in row order: round k serves each
        # env's k-th candidate row (one round in almost every frame).
        todo = unclaimed & self._has_height[ram[54:62]] & self._spawns[ram[70:78]]
        todo &= self._on_screen[ram[86:94]]
        envs = np.flatnonzero(todo.any(0))
        while envs.size:
            i = todo[:, envs].argmax(0)
            todo[i, envs] = False
            self._spawn(st, ram, envs, i)
            envs = envs[todo[:, envs].any(0)]

    def _spawn(self, st: _Slots, ram: np.ndarray, envs: np.ndarray, i: np.ndarray) -> None:
        """Create the object of RAM row ``i[j]`` in env ``envs[j]`` if a slot is free."""
        kind, x, y, colour = ram[self._spawn_fields + i, envs]
        y = 178 - y
        free = ~st.present[1:, envs]  # (13, m): slots 1..13

        def create(mask: np.ndarray, col: np.ndarray, cat: int, box: tuple) -> None:
            e, c = envs[mask], col[mask] + 1
            st.present[c, e] = st.new[c, e] = True
            st.cat[c, e] = cat
            st.row[c - 1, e] = i[mask]
            st.box[:, c, e] = np.stack(np.broadcast_arrays(*box))[:, mask]

        # A tree takes the first free slot if that is a tree slot (1..6).
        tree = (kind == 85) & free[:6].any(0)
        if tree.any():
            w = np.where(x > 154, np.minimum(164 - x, 16),
                         np.where(x > 145, np.minimum(155 - x, 30), np.minimum(155 - x, 16)))
            create(tree, free[:6].argmax(0), self._tree, (x - 3, y + 4, w, np.minimum(175 - y, 30)))
        # A mogul takes the first free mogul slot (7..9).
        mogul = (kind == 5) & free[6:9].any(0)
        if mogul.any():
            create(mogul, 6 + free[6:9].argmax(0), self._mogul,
                   (x + 2, y + 3, 16, np.minimum(np.minimum(176 - y, 7), y - 23)))
        # A gate: two flags, 32 px apart, in the last two free slots if the last is a
        # flag slot (10..13).  (OCAtari would fail on a single free slot; that never
        # happens in play.)
        gate = (kind == 2) & free[9:].any(0)
        if gate.any():
            last = 12 - free[::-1].argmax(0)
            before = free & (self._slot13 < last)
            gate &= before.any(0)
            second = 12 - before[::-1].argmax(0)
            fx = x + np.where(colour == 0, 1, 10)
            fh = np.minimum(np.minimum(173 - y, 14), y - 18)
            create(gate, second, self._flag, (fx, y + 4, 5, fh))
            create(gate, last, self._flag, (fx + 32, y + 4, 5, fh))


_GAME_CLASSES: tuple[type[_Game], ...] = (
    _Boxing, _Freeway, _Pong, _Tennis, _Breakout, _MsPacman, _Seaquest, _Asterix, _Kangaroo,
    _Skiing, _IceHockey, _FishingDerby,
)

#: Canonical names of the games with a vectorised reader.
BATCHED_GAMES: frozenset[str] = frozenset(g.name for g in _GAME_CLASSES)
_BY_NAME = {g.name: g for g in _GAME_CLASSES}


# ---------------------------------------------------------------------------
# Extractors
# ---------------------------------------------------------------------------


class BatchedExtractor:
    """Vectorised object extraction for the games in :data:`BATCHED_GAMES`.

    Args:
        game: Any name :func:`envs.games.resolve_game` accepts, or a spec.
        num_envs: Number of environments updated together.

    Example:
        >>> import numpy as np
        >>> ex = BatchedExtractor("Boxing", num_envs=3)
        >>> batch = ex.update(np.zeros((3, 128), np.uint8))
        >>> batch.box[0].tolist()
        [[5, 38, 14, 46], [4, 38, 14, 46]]
        >>> ex.reset([1])                     # env 1 starts a new episode
    """

    def __init__(self, game: str | GameSpec, num_envs: int) -> None:
        self.spec = game if isinstance(game, GameSpec) else resolve_game(game)
        if self.spec.name not in _BY_NAME:
            raise ValueError(
                f"no batched reader for {self.spec.name}; batched games: "
                f"{', '.join(sorted(BATCHED_GAMES))} (use make_extractor, which falls back "
                "to OCAtari per env)"
            )
        self.num_envs = _check_num_envs(num_envs)
        self._game = _BY_NAME[self.spec.name](self.spec)
        self._slots = _Slots(self._game.k, self.num_envs)
        self._game.attach(self._slots)
        self._categories = self.spec.categories
        # Category indices whose renewed objects continue the slot's (GameSpec.renewed).
        self._renewed = np.array([self._categories.index(c) for c in self.spec.renewed], np.int16)
        self._next_id = 0
        self.reset()

    @property
    def num_slots(self) -> int:
        """``K``, the number of object slots per environment."""
        return self._game.k

    def _fresh_ids(self, where: np.ndarray) -> int:
        count = int(np.count_nonzero(where))
        if count:
            self._slots.ids[where] = np.arange(self._next_id, self._next_id + count)
            self._next_id += count
        return count

    def reset(self, env_indices: Sequence[int] | np.ndarray | None = None) -> None:
        """Forget the state of these environments (``None``: all), as at an episode start."""
        envs = _env_rows(env_indices, self.num_envs)
        if not envs.size:
            return
        self._game.start(self._slots, envs)
        mask = np.zeros(self._slots.present.shape, bool)
        mask[:, envs] = True
        self._fresh_ids(mask)

    def update(self, ram: np.ndarray, env_indices: Sequence[int] | np.ndarray | None = None
               ) -> ObjectBatch:
        """Advance environments by one frame and return their objects.

        Args:
            ram: ``(n, 128)`` uint8, the RAM of all ``n`` environments, or ``(m, 128)``
                for the ``m`` environments of ``env_indices``.
            env_indices: Advance only these environments (e.g. the first frame of
                episodes restarted within a step); the others keep their state.  The
                batch then has their ``m`` rows.  Costs a full update.
        """
        if env_indices is None:
            return self._update(_check_ram(ram, self.num_envs))
        rows = _env_rows(env_indices, self.num_envs)
        full = np.zeros((self.num_envs, 128), np.uint8)
        full[rows] = _check_ram(ram, len(rows))
        others = np.ones(self.num_envs, bool)
        others[rows] = False
        # The readers work on all envs at once: run them on all, then put the
        # others' state back as it was.
        saved = self._slots.state()
        batch = self._update(full)
        self._slots.restore(saved, others)
        return batch.rows(rows)

    def _update(self, ram: np.ndarray) -> ObjectBatch:
        # Widened first (OCAtari's arithmetic on int64 bytes is what ObjectExtractor
        # computes), byte-major so that ram[j] is byte j of every env.
        ram = np.ascontiguousarray(ram.T, dtype=np.int64)
        st = self._slots
        xy0 = st.box[:2].copy()
        # Slots holding a renewed category's object, and their categories, before the step.
        held = (st.present & np.isin(st.cat, self._renewed), st.cat.copy()) \
            if self._renewed.size else None
        st.new[:] = False
        self._game.step(st, ram)
        # A renewed object in a slot that held one of its category goes on with its id.
        self._fresh_ids(st.new if held is None else st.new & ~(held[0] & (st.cat == held[1])))
        if self._game.shrinks:
            # OCAtari reports zero or negative sizes at screen edges; ObjectExtractor makes them 1.
            np.maximum(st.box[2:], 1, out=st.box[2:])
        # OCAtari's prev position: the one before this frame, or the current one for a new object.
        motion = st.box[:2] - xy0
        if st.new.any():
            motion[:, st.new] = 0
        return ObjectBatch(
            categories=self._categories,
            category=np.where(st.present, st.cat, np.int16(-1)).T.copy(),
            instance=st.ids.T.copy(),
            # (np.stack of transposed planes is the fastest way to (n, K, 4) here.)
            box=np.stack([st.x.T, st.y.T, st.w.T, st.h.T], axis=-1),
            motion=np.stack([motion[0].T, motion[1].T], axis=-1),
        )


class FallbackExtractor:
    """The :class:`BatchedExtractor` interface over OCAtari per environment (any game).

    Objects fill the first slots of each environment in
    :class:`~envs.objects.ObjectExtractor`'s order; a slot index carries no
    meaning across steps (use ``instance``).  ``K`` starts at the game's declared
    object count and grows if OCAtari reports more (a few of its readers append
    objects: Carnival, Centipede, Pitfall).

    Args:
        game: Any name :func:`envs.games.resolve_game` accepts, or a spec.
        num_envs: Number of environments updated together.
    """

    def __init__(self, game: str | GameSpec, num_envs: int) -> None:
        self.spec = game if isinstance(game, GameSpec) else resolve_game(game)
        self.num_envs = _check_num_envs(num_envs)
        self._extractor = ObjectExtractor(self.spec, self.num_envs)
        self.num_slots = max(1, sum(self.spec.max_objects.values()))

    def reset(self, env_indices: Sequence[int] | np.ndarray | None = None) -> None:
        """Forget the state of these environments (``None``: all), as at an episode start."""
        for i in _env_rows(env_indices, self.num_envs).tolist():
            self._extractor.reset(i)

    def update(self, ram: np.ndarray, env_indices: Sequence[int] | np.ndarray | None = None
               ) -> ObjectBatch:
        """Advance environments by one frame (``ram``: ``(n, 128)`` uint8, or ``(m, 128)``
        for the ``m`` environments of ``env_indices``, whose rows the batch then has)."""
        rows = _env_rows(env_indices, self.num_envs)
        frames = self._extractor.update(_check_ram(ram, len(rows)), rows.tolist())
        batch = ObjectBatch.from_frames(self.spec.categories, frames, self.num_slots)
        self.num_slots = batch.num_slots
        return batch


def make_extractor(game: str | GameSpec, num_envs: int) -> BatchedExtractor | FallbackExtractor:
    """A :class:`BatchedExtractor` for games in :data:`BATCHED_GAMES`, else a :class:`FallbackExtractor`.

    Example:
        >>> type(make_extractor("Pong", 4)).__name__, type(make_extractor("Frostbite", 4)).__name__
        ('BatchedExtractor', 'FallbackExtractor')
    """
    spec = game if isinstance(game, GameSpec) else resolve_game(game)
    if spec.name in BATCHED_GAMES:
        return BatchedExtractor(spec, num_envs)
    return FallbackExtractor(spec, num_envs)
