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
    >>> from envs.batched import make_extractor
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
        # A mask reads as "these envs", but np.asarray(mask) of ints would too: be explicit.
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
    """Mutable state of ``K`` object slots in ``n`` environments.

    ``box[..., 0:4]`` are OCAtari's raw ``x, y, w, h`` (sizes unsanitised);
    ``present`` says whether the slot holds an object; ``cat`` is the category
    of that object; ``new`` marks slots whose object was created in the current
    update (OCAtari's prev position is then the current one: zero motion, and
    the object gets a fresh instance id).
    """

    def __init__(self, n: int, k: int) -> None:
        self.box = np.zeros((n, k, 4), np.int64)
        self.x = self.box[..., 0]
        self.y = self.box[..., 1]
        self.w = self.box[..., 2]
        self.h = self.box[..., 3]
        self.present = np.zeros((n, k), bool)
        self.cat = np.full((n, k), -1, np.int16)
        self.new = np.zeros((n, k), bool)
        self.ids = np.zeros((n, k), np.int64)

    def track(self, s: int | slice, on: np.ndarray, off: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """OCAtari's usual rule for slot(s) ``s``: where ``on``, create an object if the
        slot is empty and keep it otherwise; where ``off`` (default: not ``on``), empty
        the slot; elsewhere leave it alone.  Returns ``(new, kept)`` masks."""
        was = self.present[:, s]
        new = on & ~was
        kept = on & was
        if off is None:
            self.present[:, s] = on
        else:
            self.present[:, s] = on | (was & ~off)
        self.new[:, s] |= new
        return new, kept

    def renew(self, s: int | slice, on: np.ndarray) -> None:
        """Slot(s) ``s`` get a new object where ``on`` (OCAtari creates one every frame)
        and are emptied elsewhere."""
        self.present[:, s] = on
        self.new[:, s] |= on


def _put(column: np.ndarray, value, where: np.ndarray) -> None:
    np.copyto(column, value, where=where, casting="unsafe")


class _Game:
    """One game's reader: the slot layout, the state after reset, and the update rule.

    Subclasses set ``name`` and ``layout`` (category, count) in the order of
    OCAtari's object list, write the state after reset into ``self.start_present``
    and ``self.start_box`` (sizes there also serve as the fixed sizes of slots
    whose objects never change size), and implement :meth:`step`.
    """

    name: ClassVar[str]
    layout: ClassVar[tuple[tuple[str, int], ...]]
    #: Default ``(w, h)`` of each category's objects (OCAtari's class defaults).
    sizes: ClassVar[dict[str, tuple[int, int]]]

    def __init__(self, spec: GameSpec) -> None:
        declared = [c for c, _ in self.layout]
        if list(spec.categories) != declared:
            # The reader replicates one OCAtari version; another one orders or names objects differently.
            raise RuntimeError(
                f"rnr's {spec.name} categories {spec.categories} differ from the batched "
                f"reader's {tuple(declared)}; the batched reader follows OCAtari 2.2.1"
            )
        self.index = {c: i for i, c in enumerate(spec.categories)}
        cats = [self.index[c] for c, count in self.layout for _ in range(count)]
        self.k = len(cats)
        self.slot_cat = np.array(cats, np.int16)
        self.first = {}
        start = 0
        for c, count in self.layout:
            self.first[c] = start
            start += count
        self.start_present = np.zeros(self.k, bool)
        self.start_box = np.zeros((self.k, 4), np.int64)
        for c, count in self.layout:
            s = self.first[c]
            self.start_box[s:s + count, 2:] = self.sizes[c]
        self.setup()

    def slots(self, category: str) -> slice:
        """The slots of ``category`` in the default layout."""
        s = self.first[category]
        return slice(s, s + dict(self.layout)[category])

    def setup(self) -> None:
        """Fill ``start_present``/``start_box`` (objects OCAtari creates at reset)."""

    def start(self, st: _Slots, rows: np.ndarray) -> None:
        """Reset the state of environments ``rows``."""
        st.present[rows] = self.start_present
        st.box[rows] = self.start_box
        st.cat[rows] = self.slot_cat

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        """Advance all environments by one frame of ``ram`` (``(n, 128)`` int64)."""
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
        st.x[:, 0] = ram[:, 32] + 5
        st.y[:, 0] = ram[:, 34] + 38
        st.x[:, 1] = ram[:, 33] + 4
        st.y[:, 1] = ram[:, 35] + 38


class _Freeway(_Game):
    name = "Freeway"
    layout = (("Chicken", 2), ("Car", 10))
    sizes = {"Chicken": (6, 8), "Car": (8, 10)}

    def setup(self) -> None:
        self.start_present[:] = True
        self.start_box[2:12, 1] = 27 + 16 * np.arange(10)

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        st.x[:, 0] = 44
        st.x[:, 1] = 108
        st.y[:, 0:2] = 193 - ram[:, 14:16]
        st.x[:, 2:12] = ram[:, 117:107:-1] - 3


class _Pong(_Game):
    name = "Pong"
    layout = (("Player", 1), ("Ball", 1), ("Enemy", 1))
    sizes = {"Player": (4, 15), "Ball": (2, 4), "Enemy": (4, 15)}

    def setup(self) -> None:
        self.start_present[:] = True

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        on = (ram[:, 54] != 0) & (ram[:, 49] > 49)
        st.track(1, on)
        _put(st.x[:, 1], ram[:, 49] - 49, on)
        _put(st.y[:, 1], ram[:, 54] - 14, on)

        e = ram[:, 50]
        on = e > 33
        st.track(2, on)
        top, bottom = e - 15 < 34, e > 194
        _put(st.x[:, 2], 16, on)
        _put(st.y[:, 2], np.where(top, 34, e - 15), on)
        _put(st.h[:, 2], np.where(top, e - 33, np.where(bottom, 209 - e, 15)), on)

        p = ram[:, 51]
        on = p > 13  # otherwise the player keeps its last box
        top, bottom = p < 47, p > 192
        _put(st.x[:, 0], 140, on)
        _put(st.y[:, 0], np.where(top, 34, p - 13), on)
        _put(st.h[:, 0], np.where(top, p - 33, np.where(bottom, 207 - p, 15)), on)


class _Tennis(_Game):
    name = "Tennis"
    layout = (("Player", 1), ("Enemy", 1), ("Ball", 1), ("BallShadow", 1))
    sizes = {"Player": (13, 23), "Enemy": (13, 23), "Ball": (2, 2), "BallShadow": (2, 2)}

    def setup(self) -> None:
        self.start_present[:] = True

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        # Field 0: the player is the upper figure; field 1: the lower one; other values
        # leave both where they were.
        f0, f1 = ram[:, 80] == 0, ram[:, 80] == 1
        upper_x, upper_y = ram[:, 26] - 1, 166 - ram[:, 24]
        lower_x, lower_y = ram[:, 27] - 1, 166 - ram[:, 25]
        for slot, first, second in ((0, f0, f1), (1, f1, f0)):
            _put(st.x[:, slot], upper_x, first)
            _put(st.y[:, slot], upper_y, first)
            _put(st.x[:, slot], lower_x, second)
            _put(st.y[:, slot], lower_y, second)

        live = ram[:, 16] > 2
        bx = ram[:, 16] - 2
        ball_y = 189 - ram[:, 54]
        shadow_y = 189 - ram[:, 55]
        on = live & ~((98 < ball_y) & (ball_y < 113))  # behind the net otherwise
        st.track(2, on)
        _put(st.x[:, 2], bx, on)
        _put(st.y[:, 2], ball_y, on)
        on = live & ~(((100 < shadow_y) & (shadow_y < 113)) | (shadow_y == ball_y) | (shadow_y == 0))
        st.track(3, on)
        _put(st.x[:, 3], bx, on)
        _put(st.y[:, 3], shadow_y, on)


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

    def setup(self) -> None:
        # A paddle at (99, 189), a ball and one brick per row at (0, 0).
        self.start_present[:2] = True
        self.start_box[0, :2] = 99, 189
        self.start_present[2::18] = True
        cols = np.arange(18)
        rows = np.arange(6)
        self._block_x = np.tile(8 + 8 * cols, 6)
        self._block_y = np.repeat(57 + 6 * rows, 18)

    def step(self, st: _Slots, ram: np.ndarray) -> None:
        st.x[:, 0] = ram[:, 72] - 47
        st.y[:, 0] = 189

        on = (ram[:, 101] + 9 <= 196) & (ram[:, 101] != 0)
        st.track(1, on)
        _put(st.x[:, 1], ram[:, 99] - 49, on)
        _put(st.y[:, 1], ram[:, 101] + 9, on)

        # Each maximal run of bricks in a row is one Block, in the slot of its first column.
        bits = (ram[:, self._byte] >> self._bit) & 1  # (n, 6, 18)
        run = np.zeros_like(bits)
        run[..., 17] = bits[..., 17]
        for c in range(16, -1, -1):
            run[..., c] = bits[..., c] * (run[..., c + 1] + 1)
        starts = bits.astype(bool)
        starts[..., 1:] &= bits[..., :-1] == 0
        on = starts.reshape(len(ram), 108)
        st.track(slice(2, 110), on)
        _put(st.x[:, 2:110], self._block_x, on)
        _put(st.y[:, 2:110], self._block_y, on)
        _put(st.w[:, 2:110], 8 * run.reshape(len(ram), 108), on)
        _put(st.h[:, 2:110], 6, on)


_GAME_CLASSES: tuple[type[_Game], ...] = (_Boxing, _Freeway, _Pong, _Tennis, _Breakout)

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
        self._slots = _Slots(self.num_envs, self._game.k)
        self._next_id = 0
        self.reset()

    @property
    def num_slots(self) -> int:
        """``K``, the number of object slots per environment."""
        return self._game.k

    def _fresh_ids(self, where: np.ndarray) -> None:
        count = int(np.count_nonzero(where))
        if count:
            self._slots.ids[where] = np.arange(self._next_id, self._next_id + count)
            self._next_id += count

    def reset(self, env_indices: Sequence[int] | np.ndarray | None = None) -> None:
        """Forget the state of these environments (``None``: all), as at an episode start."""
        rows = _env_rows(env_indices, self.num_envs)
        if not rows.size:
            return
        self._game.start(self._slots, rows)
        mask = np.zeros(self._slots.present.shape, bool)
        mask[rows] = True
        self._fresh_ids(mask)

    def update(self, ram: np.ndarray) -> ObjectBatch:
        """Advance every environment by one frame and return the objects of all of them.

        Args:
            ram: ``(n, 128)`` uint8, the RAM of all ``n`` environments.
        """
        # Widened first: OCAtari's arithmetic on int64 bytes is what ObjectExtractor computes.
        ram = _check_ram(ram, self.num_envs).astype(np.int64)
        st = self._slots
        xy0 = st.box[..., :2].copy()
        st.new[:] = False
        self._game.step(st, ram)
        self._fresh_ids(st.new)
        box = st.box.astype(np.int32)
        np.maximum(box[..., 2:], 1, out=box[..., 2:])
        # OCAtari's prev position: the one before this frame, or the current one for a new object.
        motion = (st.box[..., :2] - xy0).astype(np.int32)
        motion[st.new] = 0
        return ObjectBatch(
            categories=self.spec.categories,
            category=np.where(st.present, st.cat, np.int16(-1)),
            instance=st.ids.copy(),
            box=box,
            motion=motion,
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

    def update(self, ram: np.ndarray) -> ObjectBatch:
        """Advance every environment by one frame (``ram``: ``(n, 128)`` uint8)."""
        frames = self._extractor.update(_check_ram(ram, self.num_envs))
        k = self.num_slots = max(self.num_slots, *(len(f) for f in frames))
        n = self.num_envs
        category = np.full((n, k), -1, np.int16)
        instance = np.zeros((n, k), np.int64)
        box = np.ones((n, k, 4), np.int32)
        motion = np.zeros((n, k, 2), np.int32)
        for i, f in enumerate(frames):
            m = len(f)
            category[i, :m] = f.category
            instance[i, :m] = f.instance
            box[i, :m] = f.box
            motion[i, :m] = f.motion
        return ObjectBatch(self.spec.categories, category, instance, box, motion)


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
