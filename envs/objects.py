"""Object extraction from emulator RAM, as plain typed records.

OCAtari reads object positions from the Atari's 128 bytes of RAM.  rnr uses
only its RAM *extractor* (never its environment class, whose ``step()``
returns ``truncated`` and ``terminated`` swapped) and converts the result into
:class:`ObjectFrame` arrays (fast, for the detector) and :class:`ObjectRecord`
records (readable, for people and logs).

The extractor is stateful because OCAtari tracks objects across frames (slot
assignment, previous positions), so it holds one state per environment and
updates a whole batch of environments in one call.

Example:
    >>> import ale_py, gymnasium as gym
    >>> from envs.objects import ObjectExtractor
    >>> env = gym.make("ALE/Skiing-v5")
    >>> _ = env.reset(seed=0)
    >>> extractor = ObjectExtractor("Skiing")
    >>> frame = extractor.update(env.unwrapped.ale.getRAM())[0]
    >>> frame.records()[0].category
    'Player'
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from envs.games import GameSpec, resolve_game


@dataclass(frozen=True, slots=True)
class ObjectRecord:
    """One on-screen object in Atari screen coordinates (160 x 210 pixels).

    Attributes:
        category: Category name shared by detector, reward tables and logs.
        instance: Id unique within the episode; a new object gets a new id even
            when it reuses a slot an earlier object had.
        x: Left edge in pixels.
        y: Top edge in pixels.
        w: Width in pixels (at least 1; OCAtari's negative sizes at screen edges
            are sanitized).
        h: Height in pixels (at least 1).
        dx: Horizontal movement since the previous frame.
        dy: Vertical movement since the previous frame.
    """

    category: str
    instance: int
    x: int
    y: int
    w: int
    h: int
    dx: int
    dy: int

    @property
    def center(self) -> tuple[float, float]:
        """Centre of the bounding box."""
        return self.x + self.w / 2, self.y + self.h / 2


@dataclass(frozen=True)
class ObjectFrame:
    """All objects of one environment at one frame, as parallel arrays.

    Attributes:
        categories: The game's category names; ``category`` indexes into it.
        category: ``(n,)`` int16 category index per object.
        instance: ``(n,)`` int64 instance id per object.
        box: ``(n, 4)`` int32 ``x, y, w, h`` per object.
        motion: ``(n, 2)`` int32 ``dx, dy`` per object.
    """

    categories: tuple[str, ...]
    category: np.ndarray
    instance: np.ndarray
    box: np.ndarray
    motion: np.ndarray

    @classmethod
    def empty(cls, categories: tuple[str, ...]) -> ObjectFrame:
        """A frame with no objects."""
        return cls(
            categories,
            np.zeros(0, np.int16),
            np.zeros(0, np.int64),
            np.zeros((0, 4), np.int32),
            np.zeros((0, 2), np.int32),
        )

    def __len__(self) -> int:
        return len(self.category)

    def records(self) -> list[ObjectRecord]:
        """The objects as :class:`ObjectRecord` s (slower; for display and logs)."""
        return [
            ObjectRecord(
                self.categories[c], int(i), int(b[0]), int(b[1]), int(b[2]), int(b[3]),
                int(m[0]), int(m[1]),
            )
            for c, i, b, m in zip(
                self.category.tolist(), self.instance.tolist(), self.box, self.motion
            )
        ]

    def of_category(self, name: str) -> np.ndarray:
        """Indices of the objects of category ``name``."""
        return np.flatnonzero(self.category == self.categories.index(name))


class ObjectExtractor:
    """Extracts objects from the RAM of ``num_envs`` environments of one game.

    Args:
        game: Any name :func:`envs.games.resolve_game` accepts, or a spec.
        num_envs: Number of environments whose state is tracked.
    """

    def __init__(self, game: str | GameSpec, num_envs: int = 1) -> None:
        # A batch of zero environments would make every call a silent no-op.
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        self.spec = game if isinstance(game, GameSpec) else resolve_game(game)
        from ocatari.ram.extract_ram_info import detect_objects_ram, init_objects

        # The categories come from a snapshot of OCAtari's tables (envs/ocatari_catalog.json);
        # another OCAtari version could name or count objects differently.
        declared = dict(importlib.import_module(f"ocatari.ram.{self.spec.module}").MAX_NB_OBJECTS)
        if declared != dict(self.spec.max_objects):
            raise RuntimeError(
                f"the installed OCAtari declares other {self.spec.name} objects than rnr's "
                f"catalog ({declared} vs {dict(self.spec.max_objects)}); "
                "run: python -m envs.tools.catalog --write"
            )

        self._init_objects = init_objects
        self._detect = detect_objects_ram
        self.num_envs = num_envs
        self._cat_index = {c: i for i, c in enumerate(self.spec.categories)}
        self._renewed = frozenset(self._cat_index[c] for c in self.spec.renewed)
        self._ids = itertools.count()
        self._objects: list[list] = [[] for _ in range(num_envs)]
        self._seen: list[list] = [[] for _ in range(num_envs)]
        self._slot_ids: list[list[int]] = [[] for _ in range(num_envs)]
        self._slot_cats: list[list[int]] = [[] for _ in range(num_envs)]
        for i in range(num_envs):
            self.reset(i)

    def reset(self, env_index: int = 0) -> None:
        """Forget the tracked state of one environment (call on episode reset)."""
        objects = self._init_objects(self.spec.module, hud=False)
        self._objects[env_index] = objects
        self._seen[env_index] = [None] * len(objects)
        self._slot_ids[env_index] = [-1] * len(objects)
        self._slot_cats[env_index] = [-1] * len(objects)

    def update(self, ram: np.ndarray, env_indices: Sequence[int] | None = None) -> list[ObjectFrame]:
        """Advance the tracked state by one frame and return the objects.

        Args:
            ram: ``(128,)`` RAM of one environment or ``(n, 128)`` for ``n``
                environments.
            env_indices: Which tracked environments the rows of ``ram`` belong
                to; defaults to ``0..n-1``.

        Returns:
            One :class:`ObjectFrame` per row of ``ram``.
        """
        ram = np.asarray(ram)
        if ram.dtype != np.uint8:
            # Anything else is not emulator RAM (values outside 0..255 would be misread).
            raise TypeError(f"RAM must be uint8, got {ram.dtype}")
        # OCAtari does its arithmetic on the bytes it indexes.  On uint8 scalars
        # that arithmetic wraps under NumPy 2 (NEP 50) but not under NumPy 1,
        # and it is slow (overflow checks).  On int64 it means the same under
        # both, matches NumPy 1's uint8 results on every frame we compared
        # (benchmarks/extractor_digest.py), and runs about 2x faster.
        rams = (ram[None] if ram.ndim == 1 else ram).astype(np.int64)
        if rams.ndim != 2 or rams.shape[1] != 128:
            raise ValueError(f"RAM must have shape (128,) or (n, 128), got {ram.shape}")
        indices = range(len(rams)) if env_indices is None else env_indices
        if len(indices) != len(rams):
            raise ValueError(f"{len(rams)} RAM rows but {len(indices)} env indices")
        return [self._update_one(r, i) for r, i in zip(rams, indices)]

    def _update_one(self, ram: np.ndarray, env_index: int) -> ObjectFrame:
        # Hot path (every emulator frame): per-slot facts are cached while a
        # slot keeps the same OCAtari object, so each frame only reads positions.
        objects = self._objects[env_index]
        self._detect(objects, ram, self.spec.module, False)
        seen, slot_ids, slot_cats = self._seen[env_index], self._slot_ids[env_index], self._slot_cats[env_index]
        cats: list[int] = []
        ids: list[int] = []
        rows: list[tuple[int, int, int, int, int, int]] = []
        renewed = self._renewed
        for slot, obj in enumerate(objects):
            if seen[slot] is not obj:
                seen[slot] = obj
                # Empty slots (NoObject), HUD elements and undeclared categories: -1.
                cat = self._cat_index.get(obj.category, -1) if obj else -1
                # A renewed category's object continues the one it replaces (GameSpec.renewed).
                if cat < 0 or cat != slot_cats[slot] or cat not in renewed:
                    slot_ids[slot] = next(self._ids)
                slot_cats[slot] = cat
            cat = slot_cats[slot]
            if cat < 0 or not obj.visible:
                continue
            x, y = obj.xy
            w, h = obj.wh
            px, py = obj.prev_xy
            cats.append(cat)
            ids.append(slot_ids[slot])
            # OCAtari reports zero or negative sizes at screen edges.
            rows.append((x, y, w if w > 0 else 1, h if h > 0 else 1, x - px, y - py))
        table = np.array(rows, dtype=np.int32).reshape(-1, 6)
        return ObjectFrame(
            categories=self.spec.categories,
            category=np.array(cats, dtype=np.int16),
            instance=np.array(ids, dtype=np.int64),
            box=table[:, :4],
            motion=table[:, 4:],
        )
