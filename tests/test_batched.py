"""The batched extractor equals OCAtari's per-env extractor, frame by frame, on recorded play.

For each game in BATCHED_GAMES, several emulator streams (frame skip 1, sticky actions
0.25, a policy that makes things happen, episodes cut short at random so envs reset
at different times) are fed to ``ObjectExtractor`` env by env and to
``BatchedExtractor`` as one batch.  Every frame must give the same objects, in the same
order, with the same boxes and motion; instance ids must correspond one to one over
the whole run (a new OCAtari object gets a new id, a kept one keeps its id).  The
recordings are made at test time (about 1 s per game) and must show every category
of the game.  The same streams with random bytes overwritten reach the branches play
rarely does.
"""

from __future__ import annotations

import functools
from collections import Counter

import numpy as np
import pytest

from envs.fast.batched import (
    BATCHED_GAMES,
    BatchedExtractor,
    FallbackExtractor,
    ObjectBatch,
    make_extractor,
)
from envs.games import resolve_game
from envs.objects import ObjectExtractor

MIN_FRAMES = 10_000  # compared frames per game (all streams together)
STREAMS = 4
FRAMES_PER_STREAM = 2_600
CORRUPT_FRAMES = 1_000  # per stream, two streams
TEN_GAMES = {"Skiing", "MsPacman", "Tennis", "Breakout", "Pong", "Freeway", "Seaquest", "Boxing",
             "Asterix", "Kangaroo"}


# Per game: actions and weights of the random part, and the mean number of frames an
# action is held.
ACTIONS = {
    "Skiing": ({"NOOP": 2, "RIGHT": 1, "LEFT": 1}, 25),
    "MsPacman": ({"UP": 1, "RIGHT": 1, "LEFT": 1, "DOWN": 1}, 60),
    "Tennis": ({"FIRE": 3, "UP": 1, "DOWN": 1, "LEFT": 1, "RIGHT": 1, "UPFIRE": 1}, 15),
    "Breakout": ({"FIRE": 1, "LEFT": 1, "RIGHT": 1, "NOOP": 1}, 6),
    "Pong": ({"FIRE": 1, "RIGHT": 1, "LEFT": 1, "NOOP": 1}, 6),
    "Freeway": ({"UP": 6, "NOOP": 1, "DOWN": 1}, 20),
    "Seaquest": ({"FIRE": 2, "UPFIRE": 1, "DOWNFIRE": 2, "LEFTFIRE": 2, "RIGHTFIRE": 2,
                  "DOWNLEFTFIRE": 1, "DOWNRIGHTFIRE": 1}, 20),
    "Boxing": ({"FIRE": 2, "UP": 1, "DOWN": 1, "LEFT": 1, "RIGHT": 1, "UPRIGHTFIRE": 1}, 10),
    "Asterix": ({"UP": 1, "DOWN": 1, "LEFT": 1, "RIGHT": 1, "NOOP": 1}, 15),
    "Kangaroo": ({"UP": 2, "LEFT": 1, "RIGHT": 2, "FIRE": 2, "UPRIGHT": 1, "NOOP": 1}, 20),
    "IceHockey": ({"FIRE": 1, "UP": 1, "DOWN": 1, "LEFT": 1, "RIGHT": 1, "DOWNFIRE": 1}, 15),
    # The hook sinks to the fish rows and waits there, so that fish are hooked and reeled in.
    "FishingDerby": ({"DOWN": 3, "NOOP": 2, "LEFT": 1, "RIGHT": 1, "UP": 1, "FIRE": 1}, 15),
}
# Paddle games: 70 % of decisions move the paddle (RAM byte) towards the ball (byte),
# with the action names that decrease and increase the paddle byte and an offset.
TRACKING = {"Breakout": (72, 99, "LEFT", "RIGHT", -2), "Pong": (51, 54, "RIGHT", "LEFT", -6)}


class Policy:
    """Random actions held for a while, with what it takes to make things happen:
    paddles follow the ball, Ms. Pac-Man turns when stuck against a wall (random
    holds alone eat few pills), the submarine surfaces when low on oxygen."""

    def __init__(self, game: str, meanings: list[str], rng: np.random.Generator) -> None:
        # Games without a plan: every action alike, held for about 10 frames.
        weights, self.hold_mean = ACTIONS.get(game, (dict.fromkeys(meanings, 1), 10))
        self.game, self.rng, self.index = game, rng, {m: i for i, m in enumerate(meanings)}
        self.names = list(weights)
        self.p = np.array([weights[a] for a in self.names], float) / sum(weights.values())
        self.action, self.hold, self.still, self.last = 0, 0, 0, None

    def __call__(self, ram: np.ndarray) -> int:
        if self.game == "Seaquest" and ram[102] < 24:
            return self.index["UP"]
        if self.game == "MsPacman":
            pos = int(ram[10]), int(ram[16])
            self.still = self.still + 1 if pos == self.last else 0
            self.last = pos
            if self.still >= 6:
                self.hold = 0
        if self.hold <= 0:
            self.hold = int(self.rng.geometric(1 / self.hold_mean))
            name = self.names[self.rng.choice(len(self.names), p=self.p)]
            if self.game in TRACKING and self.rng.random() < 0.7:
                pos, target, minus, plus, offset = TRACKING[self.game]
                d = int(ram[target]) + offset - int(ram[pos])
                name = plus if d > 3 else minus if d < -3 else "FIRE"
            self.action = self.index[name]
        self.hold -= 1
        return self.action


# RAM bytes set after half of the resets, to play what random play does not reach:
# Kangaroo's level (the game then draws that level's platforms and ladders),
# Ms. Pac-Man's maze byte (OCAtari then reads pills through its second grid) and
# Seaquest's later-wave flag (a submarine patrols the surface).
LEVEL_BYTES = {"Kangaroo": (36, (0, 1, 2)), "MsPacman": (0, (0, 1)), "Seaquest": (60, (0, 2))}


def record(game: str, seed: int, frames: int = FRAMES_PER_STREAM) -> tuple[np.ndarray, np.ndarray]:
    """RAM of ``frames`` emulator frames and whether each starts an episode.

    The first frame of an episode is the reset's RAM, as ``ObjectTracker`` sees it.
    Episodes end by the game or at a random cap, so envs reset at different times.
    """
    import ale_py  # noqa: F401
    import gymnasium as gym

    env = gym.make(resolve_game(game).ale_id, frameskip=1, repeat_action_probability=0.25,
                   obs_type="ram")
    rng = np.random.default_rng(seed)
    policy = Policy(game, env.unwrapped.get_action_meanings(), rng)
    rams = np.zeros((frames, 128), np.uint8)
    starts = np.zeros(frames, bool)

    def new_episode(ram: np.ndarray) -> tuple[np.ndarray, int]:
        if game in LEVEL_BYTES and rng.random() < 0.5:
            index, values = LEVEL_BYTES[game]
            env.unwrapped.ale.setRAM(index, int(rng.choice(values)))
            ram = env.unwrapped.ale.getRAM()
        return ram, int(rng.integers(600, 2 * frames))

    ram, cap = new_episode(env.reset(seed=seed)[0])
    length = 0
    for t in range(frames):
        starts[t] = length == 0 and t > 0
        rams[t] = ram
        ram, _, terminated, truncated, _ = env.step(policy(ram))
        length += 1
        if terminated or truncated or length >= cap:
            (ram, cap), length = new_episode(env.reset()[0]), 0
    env.close()
    return rams, starts


def _describe(frame) -> list[tuple]:
    return [(r.category, r.x, r.y, r.w, r.h, r.dx, r.dy) for r in frame.records()]


def compare(game: str, rams: np.ndarray, starts: np.ndarray, crashes_allowed: bool = False,
            extractor=BatchedExtractor) -> dict:
    """Run both extractors over ``rams`` (``(T, n, 128)``, env ``i`` in column ``i``),
    resetting env ``i`` where ``starts[t, i]``; fail on the first difference.

    With ``crashes_allowed``, a frame on which OCAtari's reader raises for an env
    is not compared, and both extractors forget that env (as a new episode would).
    """
    frames, n = starts.shape
    reference = ObjectExtractor(game, n)
    batched = extractor(game, n)
    ref_ids, our_ids, cats = [], [], []
    objects = resets = crashed = 0
    forget = np.zeros(n, bool)
    for t in range(frames):
        rows = np.flatnonzero(starts[t] | forget)
        for i in rows:
            reference.reset(int(i))
        batched.reset(rows)
        resets += np.count_nonzero(starts[t])
        ours = batched.update(rams[t])
        forget[:] = False
        for i in range(n):
            try:
                [theirs] = reference.update(rams[t, i], env_indices=[i])
            except Exception:
                if not crashes_allowed:
                    raise
                forget[i] = True
                crashed += 1
                continue
            keep = np.flatnonzero(ours.category[i] >= 0)
            if not (np.array_equal(theirs.category, ours.category[i, keep])
                    and np.array_equal(theirs.box, ours.box[i, keep])
                    and np.array_equal(theirs.motion, ours.motion[i, keep])):
                a, b = _describe(theirs), _describe(ours.frame(i))
                pytest.fail(f"{game} frame {t} env {i}: OCAtari only {[o for o in a if o not in b]}, "
                            f"batched only {[o for o in b if o not in a]}")
            ref_ids.append(theirs.instance)
            our_ids.append(ours.instance[i, keep])
            cats.append(theirs.category)
            objects += len(keep)
    ref_ids = np.concatenate(ref_ids)
    # One to one: as many distinct (theirs, ours) pairs as distinct ids on either side.
    pairs = np.unique((ref_ids << 32) | np.concatenate(our_ids))
    assert len(np.unique(ref_ids)) == len(np.unique(pairs & 0xFFFFFFFF)) == len(pairs), (
        f"{game}: instance ids do not correspond one to one")
    _, first = np.unique(ref_ids, return_index=True)
    appeared = Counter(batched.spec.categories[c] for c in np.concatenate(cats)[first].tolist())
    return {"frames": frames * n - crashed, "objects": objects, "instances": len(pairs),
            "resets": resets, "crashed": crashed, "appeared": appeared}


@functools.cache
def recorded(game: str) -> tuple[np.ndarray, np.ndarray]:
    """The game's recorded streams as ``(T, STREAMS, 128)`` RAM and ``(T, STREAMS)`` starts."""
    streams = [record(game, seed=1000 * s + 7) for s in range(STREAMS)]
    return np.stack([r for r, _ in streams], 1), np.stack([s for _, s in streams], 1)


@pytest.mark.parametrize("game", sorted(BATCHED_GAMES))
def test_batched_equals_ocatari_on_recorded_play(game):
    stats = compare(game, *recorded(game))
    print(f"\n{game}: {stats['frames']} frames, {stats['objects']} objects, "
          f"{stats['instances']} instances, {stats['resets']} resets; "
          f"new objects per category {dict(stats['appeared'])}")
    # Loud failure rather than a test that passes on too little data.
    assert stats["frames"] >= MIN_FRAMES, f"{game}: only {stats['frames']} frames compared"
    assert stats["resets"] >= 1, f"{game}: no env reset during the run"
    # Derived objects (Skiing's Gate) are built from extracted ones, not read from RAM.
    spec = resolve_game(game)
    missing = set(spec.categories) - {d.category for d in spec.derived} - set(stats["appeared"])
    assert not missing, f"{game}: the recorded play never showed {sorted(missing)}"


@pytest.mark.parametrize("game", sorted(BATCHED_GAMES))
def test_batched_equals_ocatari_on_corrupted_ram(game):
    """Random bytes overwritten in 10 % of the frames reach branches play rarely does
    (odd levels, field sides, object kinds); OCAtari must still be matched wherever
    its reader does not raise."""
    rams, starts = recorded(game)
    rams, starts = rams[:CORRUPT_FRAMES, :2].copy(), starts[:CORRUPT_FRAMES, :2]
    rng = np.random.default_rng(5)
    t, i = np.nonzero(rng.random(starts.shape) < 0.1)
    for _ in range(4):
        rams[t, i, rng.integers(0, 128, len(t))] = rng.integers(0, 256, len(t))
    stats = compare(game, rams, starts, crashes_allowed=True)
    print(f"\n{game} corrupted: {stats['frames']} frames, {stats['objects']} objects, "
          f"{stats['crashed']} frames where OCAtari raised")
    assert stats["frames"] >= 0.9 * rams.shape[0] * 2


def test_other_games_fall_back_to_ocatari_per_env():
    extractor = make_extractor("Frostbite", 3)
    assert isinstance(extractor, FallbackExtractor) and "Frostbite" not in BATCHED_GAMES
    streams = [record("Frostbite", seed, frames=400) for seed in range(3)]
    rams, starts = np.stack([r for r, _ in streams], 1), np.stack([s for _, s in streams], 1)
    starts[200, 1] = True  # one env starts a new episode mid-run
    stats = compare("Frostbite", rams, starts, extractor=FallbackExtractor)
    assert stats["frames"] == 1200 and stats["objects"] > 1200
    batch = extractor.update(rams[0])
    assert batch.category.shape == (3, extractor.num_slots) and batch.box.shape[1:] == (extractor.num_slots, 4)


@pytest.mark.parametrize("game", ["Skiing", "MsPacman", "Frostbite"])
def test_updating_some_envs_reads_them_as_alone_and_leaves_the_others(game):
    """``update(ram, env_indices)`` (an episode restarted within a step reads its first frame
    alone): each env sees only its own frames, as a reader of its own would."""
    if game == "Frostbite":  # no batched reader: OCAtari per env behind the same interface
        streams = [record(game, seed, frames=400) for seed in range(3)]
        rams, starts = np.stack([r for r, _ in streams], 1), np.stack([s for _, s in streams], 1)
    else:
        rams, starts = recorded(game)
        rams, starts = rams[:800, :3], starts[:800, :3]
    n = 3
    extractor = make_extractor(game, n)
    alone = [ObjectExtractor(game, 1) for _ in range(n)]
    rng = np.random.default_rng(0)
    partial = 0
    for t in range(len(rams)):
        rows = np.flatnonzero(rng.random(n) < 0.6)
        if not rows.size:
            continue
        restart = rows[starts[t, rows]]
        extractor.reset(restart)
        for i in restart:
            alone[i].reset()
        full = rows.size == n and rng.random() < 0.5
        batch = extractor.update(rams[t]) if full else extractor.update(rams[t, rows], rows)
        partial += not full
        assert batch.num_envs == (n if full else rows.size)
        for j, i in enumerate(rows):
            [want] = alone[i].update(rams[t, i])
            got = batch.frame(i if full else j)
            assert np.array_equal(got.category, want.category), f"{game} frame {t} env {i}"
            np.testing.assert_array_equal(got.box, want.box)
            np.testing.assert_array_equal(got.motion, want.motion)
    assert partial > 0.4 * len(rams)


def test_batch_arrays_frames_and_resets():
    rams, starts = recorded("Seaquest")
    extractor = make_extractor("Seaquest", 2)
    assert isinstance(extractor, BatchedExtractor) and extractor.num_slots == 42
    for t in range(300):
        batch = extractor.update(rams[t, :2])
    assert isinstance(batch, ObjectBatch) and (batch.num_envs, batch.num_slots) == (2, 42)
    assert batch.categories == resolve_game("Seaquest").categories
    assert (batch.category.dtype, batch.instance.dtype, batch.box.dtype, batch.motion.dtype) == (
        np.int16, np.int64, np.int32, np.int32)
    assert batch.category.shape == (2, 42) and batch.box.shape == (2, 42, 4)
    assert batch.motion.shape == (2, 42, 2) and (batch.box[..., 2:] >= 1).all()
    frame = batch.frame(1)
    assert frame.records()[0].category == "Player" and len(frame) == np.count_nonzero(batch.category[1] >= 0)
    assert [len(f) for f in batch.frames()] == [len(batch.frame(0)), len(frame)]
    # The returned arrays are the caller's: a later update does not change them.
    before = batch.box.copy()
    extractor.update(rams[300, :2])
    np.testing.assert_array_equal(batch.box, before)
    # Resetting env 1 gives its objects new ids and leaves env 0 alone.
    kept = extractor.update(rams[301, :2])
    extractor.reset([1])
    after = extractor.update(rams[302, :2])
    both = (kept.category[0] >= 0) & (after.category[0] >= 0)
    np.testing.assert_array_equal(kept.instance[0, both], after.instance[0, both])
    assert after.instance[1, after.category[1] >= 0].min() > kept.instance.max()
    extractor.reset(np.array([True, False]))  # a mask works too
    extractor.reset()


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="no batched reader for Frostbite"):
        BatchedExtractor("Frostbite", 2)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="num_envs"):
            make_extractor("Pong", bad)
    for extractor in (BatchedExtractor("Pong", 2), FallbackExtractor("Pong", 2)):
        with pytest.raises(TypeError, match="uint8"):
            extractor.update(np.zeros((2, 128), np.int64))
        with pytest.raises(ValueError, match=r"shape \(2, 128\)"):
            extractor.update(np.zeros((3, 128), np.uint8))
        with pytest.raises(ValueError, match="env indices"):
            extractor.reset([2])
        with pytest.raises(ValueError, match="mask"):
            extractor.reset(np.array([True]))


def test_transcribed_tables_equal_ocatari():
    """Tables copied out of OCAtari's readers (pill grids, scenery, brick bitmap)."""
    from ocatari.ram import breakout, kangaroo, mspacman

    from envs.fast.batched import _PACMAN_GRIDS, _Breakout, _kangaroo_layouts

    mspacman._init_objects_ram()
    np.testing.assert_array_equal(np.array([mspacman.GRID1, mspacman.GRID2]).reshape(2, -1), _PACMAN_GRIDS)
    ours = _kangaroo_layouts()
    for level in range(3):
        theirs = [[1, *o.xywh] if o else [0] * 5 for o in kangaroo.manage_platforms(level, None)]
        np.testing.assert_array_equal(np.where(ours[level, :, :1] == 1, ours[level], 0), theirs)
    rng = np.random.default_rng(0)
    ram = rng.integers(0, 256, (200, 128))
    # OCAtari's bitmap rows are ragged (and it raises) unless bytes 0..5 are all below
    # 64 or all at least 64; play keeps them below.
    ram[:100, :6] &= 63
    ram[100:, :6] |= 64
    for r in ram:
        bits = (r[_Breakout._byte] >> _Breakout._bit) & 1
        np.testing.assert_array_equal(bits, breakout._make_block_bitmap(r))


@pytest.mark.parametrize("extractor", [ObjectExtractor, BatchedExtractor])
def test_renewed_objects_keep_their_instance(extractor):
    """OCAtari builds Asterix's lyres and items anew on every frame; rnr keeps the slot's
    id while it holds the same category (``GameSpec.renewed``), so that one lyre the
    avatar runs into is one contact, not one per frame of overlap.  Without it every
    appearance would be a new instance."""
    spec = resolve_game("Asterix")
    assert spec.renewed == {"Enemy", "Consumable"}
    rams, starts = recorded("Asterix")
    rams, starts = rams[:, 0], starts[:, 0]
    ex = extractor("Asterix", 1)
    shown, ids = Counter(), {c: set() for c in spec.renewed}
    for ram, start in zip(rams, starts):
        if start:
            ex.reset(0)
        out = ex.update(ram[None])
        frame = out[0] if isinstance(out, list) else out.frame(0)
        for rec in frame.records():
            if rec.category in spec.renewed:
                shown[rec.category] += 1
                ids[rec.category].add(rec.instance)
    for cat in spec.renewed:
        # A lane object crosses the screen in about 100 frames.
        assert shown[cat] >= 20 * len(ids[cat]) > 0, (cat, shown[cat], len(ids[cat]))
