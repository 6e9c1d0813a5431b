"""Skiing gates: derived objects and pass/miss events, checked against the game's own count.

The game keeps the gates still to come in RAM byte 0xEB (``ram[107]``, BCD, 20 at the
start).  It counts a gate down when the skier passes it *or* crashes into one of its
poles; what is left when the run ends is the number of gates missed, the 5-second
penalty each that the final score includes.  So on a recorded episode:

* ``miss`` events == the game's count of missed gates;
* ``pass`` + ``miss`` + pole crashes == 20 (a crash is neither: the pole's ``touch``
  is the event), so ``pass`` + ``miss`` == 20 on runs without crashes.

Measured with the rule in ``envs/games.py`` (skier box centre - 2 px between the flags),
``benchmarks``-style over many more episodes than run here: 0 of 100 gates wrong for
the gate-seeking policy, 3 of 400 for the random one and 7 of 400 for a policy that aims
at the poles' edges, every wrong one a skier within 1 px of a pole's edge (the game tests
sub-pixel positions the RAM readers round).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from envs.atari import make_env
from envs.derived import DERIVED_ID_BASE, HALT_FRAMES, Deriver, PassDetector
from envs.fast.batched import ObjectBatch
from envs.fast.swept import StepPassDetector
from envs.games import resolve_game
from envs.interactions import INTERACTIONS_KEY, InteractionDetector, pass_events
from envs.objects import ObjectFrame
from envs.tools.recall import MISSED_IN_RAM, GateSeeker, compare_passes, record, seek_gate

GATES_ON_COURSE = 20
SPEC = resolve_game("Skiing")
CATS = SPEC.categories
PLAYER, FLAG, GATE = (CATS.index(c) for c in ("Player", "Flag", "Gate"))


def _frame(objects, motion=None) -> ObjectFrame:
    """(category, instance, x, y, w, h) rows -> frame."""
    rows = np.array(objects, dtype=np.int64).reshape(-1, 6)
    return ObjectFrame(CATS, rows[:, 0].astype(np.int16), rows[:, 1], rows[:, 2:6].astype(np.int32),
                       np.zeros((len(rows), 2), np.int32) if motion is None else np.asarray(motion))


def _skier(x, y=40):
    return (PLAYER, 1, x, y, 10, 18)


def _flags(y, left=60, inst=(7, 8)):
    return [(FLAG, inst[0], left, y, 5, 15), (FLAG, inst[1], left + 32, y, 5, 15)]


# --- the derived object --------------------------------------------------------------------

def test_gate_is_the_box_between_two_flags_on_one_row_with_a_stable_id():
    d = Deriver("Skiing")
    f1 = d.apply(_frame([_skier(70), *_flags(120)]))
    f2 = d.apply(_frame([_skier(70), *_flags(110)]))
    g1, g2 = (f.records()[-1] for f in (f1, f2))
    assert (g1.category, g1.x, g1.y, g1.w, g1.h) == ("Gate", 65, 120, 27, 15)
    assert g1.instance == g2.instance >= DERIVED_ID_BASE  # same flags, same gate
    # Another pair of flags is another gate; a lone flag or flags on different rows are none.
    f3 = d.apply(_frame([_skier(70), *_flags(110, inst=(9, 10))]))
    assert f3.records()[-1].instance != g1.instance
    assert "Gate" not in [r.category for r in d.apply(_frame([_skier(70), _flags(90)[0]])).records()]
    skewed = [(FLAG, 7, 60, 90, 5, 15), (FLAG, 8, 92, 95, 5, 15)]
    assert "Gate" not in [r.category for r in d.apply(_frame([_skier(70), *skewed])).records()]


def test_games_without_derived_objects_get_their_frames_back_unchanged():
    frame = ObjectFrame.empty(resolve_game("Pong").categories)
    assert Deriver("Pong").apply(frame) is frame
    assert not PassDetector("Pong").active


def test_deriver_validates_num_envs():
    with pytest.raises(ValueError, match="num_envs"):
        Deriver("Skiing", num_envs=0)


# --- pass / miss on synthetic frames -------------------------------------------------------

def _run(skier_x, ys, motion=None):
    """Gate rows scroll up past a skier at ``skier_x``; the events with their frames.

    Also runs the fast path's detector on every 4th frame and checks that it
    reports the same passes and misses.
    """
    d, det = Deriver("Skiing"), InteractionDetector("Skiing")
    step_det = StepPassDetector("Skiing", 1, frame_skip=4)
    out, steps = [], []
    for t, y in enumerate(ys):
        frame = d.apply(_frame([_skier(skier_x), *_flags(y)], motion))
        out += [(t, e.kind, e.category) for e in det.update(frame, t)]
        if t % 4 == 0:
            raw = _frame([_skier(skier_x), *_flags(y)], motion)
            batch = ObjectBatch(CATS, raw.category[None], raw.instance[None], raw.box[None],
                                raw.motion[None])
            steps += [(e.kind, e.category) for e in step_det.update(batch, np.array([t // 4]))[0]]
    assert steps == [(k, c) for _, k, c in out if k != "touch"]
    return out


def test_skiing_between_the_flags_is_one_pass_and_no_touch():
    events = _run(72, range(60, 0, -2))  # gate row goes from below the skier to above
    assert [(k, c) for _, k, c in events] == [("pass", "Gate")]


def test_going_by_outside_the_flags_is_one_miss():
    events = _run(20, range(60, 0, -2))
    assert [(k, c) for _, k, c in events] == [("miss", "Gate")]


def test_a_gate_first_seen_above_the_skier_is_never_reported():
    assert _run(72, range(30, 0, -2)) == []


def test_crashing_into_a_pole_is_a_touch_not_a_pass_or_miss():
    # The course stops on the skier's row with the skier against the left pole.
    ys = [*range(60, 40, -2), *[38] * 12]
    events = _run(58, ys)
    assert [(k, c) for _, k, c in events] == [("touch", "Flag")]


# --- real Skiing episodes against the game's bookkeeping -----------------------------------

def _episode(seed: int, policy: str):
    """Play one Skiing run through make_env; (passes, misses, game's missed gates, steps)."""
    env = make_env("Skiing", objects_in_info=True, frame_stack=1, screen_size=42)
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    ale = env.unwrapped.ale
    kinds: list[str] = []
    steps = 0
    while True:
        if policy == "random":
            action = int(rng.integers(3))
        else:  # steer towards the centre of the next gate below the skier
            action = seek_gate(info["objects"], int(ale.getRAM()[15]))
        _, _, terminated, truncated, info = env.step(action)
        kinds += [e.kind for e in info[INTERACTIONS_KEY] if e.category == "Gate"]
        steps += 1
        if terminated or truncated:
            break
    missed = MISSED_IN_RAM["Skiing"](ale.getRAM())
    env.close()
    return kinds.count("pass"), kinds.count("miss"), missed, steps


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gate_seeking_runs_match_the_games_count(seed):
    passes, misses, missed, steps = _episode(seed, "seek")
    assert misses == missed
    assert passes + misses == GATES_ON_COURSE
    assert passes >= 15, "the scripted policy should pass most gates (is the policy broken?)"


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_random_runs_match_the_games_count(seed):
    passes, misses, missed, steps = _episode(seed, "random")
    # Within the 1-px boundary ambiguity documented above (3 of 400 gates over 20 runs).
    assert abs(misses - missed) <= 1
    # Pole crashes are neither, so at most 20; a random skier misses most gates.
    assert passes + misses <= GATES_ON_COURSE
    assert misses >= 10


# --- the fast path (once per agent step) against the per-frame path -------------------------

def test_step_pass_detector_validates_and_ignores_games_without_gates():
    with pytest.raises(ValueError, match="frames_per_update"):
        PassDetector("Skiing", frames_per_update=0)
    with pytest.raises(ValueError, match="num_envs"):
        StepPassDetector("Skiing", 0)
    pong = StepPassDetector("Pong", 2)
    assert not pong.active
    with pytest.raises(ValueError, match="environments"):
        StepPassDetector("Skiing", 2).update(
            ObjectBatch(CATS, np.zeros((1, 1), np.int16), np.zeros((1, 1)),
                        np.zeros((1, 1, 4), np.int32), np.zeros((1, 1, 2), np.int32)), np.ones(1))


@pytest.mark.parametrize("policy, seed", [("seek", 0), ("random", 0), ("random", 1)])
def test_fast_path_counts_the_same_passes_and_misses_on_recorded_runs(policy, seed):
    # One whole run, RAM of every frame; the per-step detector sees every 4th frame.
    rec = record("Skiing", 40_000, policy=GateSeeker() if policy == "seek" else None, seed=seed,
                 episodes=1)
    (run,) = compare_passes(rec)
    assert run.step_kinds == run.frame_kinds  # same verdicts, in the same order
    misses = run.step_kinds.count("miss")
    assert abs(misses - run.game_missed) <= (0 if policy == "seek" else 1)
    assert len(run.step_kinds) <= GATES_ON_COURSE
    if policy == "seek":
        assert run.step_kinds.count("pass") >= 15, "is the scripted policy broken?"
    else:
        assert misses >= 5, "a random skier misses gates (is the recording empty?)"


def test_envpool_runs_report_gate_events_matching_the_games_count():
    pytest.importorskip("envpool")  # declared for CPython 3.11-3.13; elsewhere the backend is absent
    from envs.fast.envpool_vec import EnvpoolAtari, default_event_sources

    assert [type(s).__name__ for s in default_event_sources(SPEC, 2, None, 4)] == [
        "SweptDetector", "StepPassDetector"]
    pool = EnvpoolAtari("Skiing", 2, num_threads=1, frame_stack=1, screen_size=42)
    pool.reset(seed=3)
    rng = np.random.default_rng(3)
    kinds: list[list[str]] = [[], []]
    final: dict[int, int] = {}
    for _ in range(4000):
        batch = pool.step(rng.integers(3, size=2))
        for i in range(2):
            if i not in final:
                kinds[i] += [e.key for e in batch.events[i] if e.category == "Gate"]
                if batch.terminated[i]:
                    final[i] = MISSED_IN_RAM["Skiing"](batch.ram[i])
        if len(final) == 2:
            break
    pool.close()
    assert len(final) == 2, "random Skiing runs should end within 4,000 steps"
    for i in range(2):
        assert set(kinds[i]) <= {"Gate:pass", "Gate:miss"}
        assert abs(kinds[i].count("Gate:miss") - final[i]) <= 1
        assert len(kinds[i]) <= GATES_ON_COURSE and final[i] >= 5


# --- the fast path's batched detector against one per-frame detector per environment --------

class _PerEnvReference:
    """What :class:`StepPassDetector` must report: the per-frame path's Deriver and one
    PassDetector per environment, run environment by environment every ``frame_skip`` frames."""

    def __init__(self, num_envs: int, frame_skip: int) -> None:
        self.deriver = Deriver(SPEC, num_envs)
        self.passes = [PassDetector(SPEC, frames_per_update=frame_skip) for _ in range(num_envs)]
        self.frame_skip = frame_skip

    def reset(self, env_indices=None) -> None:
        for i in range(len(self.passes)) if env_indices is None else env_indices:
            self.deriver.reset(int(i))
            self.passes[int(i)].reset()

    def update(self, batch: ObjectBatch, steps: np.ndarray) -> list:
        out = []
        for i, step in enumerate(steps.tolist()):
            frame = self.deriver.apply(batch.frame(i), i)
            players = np.flatnonzero(frame.category == PLAYER)
            avatar = int(players[SPEC.avatar_index]) if len(players) > SPEC.avatar_index else None
            out.append(pass_events(self.passes[i], frame, avatar, step, step * self.frame_skip))
        return out

    def crashes(self) -> int:
        """Gates now marked done by a collision (the skier stopped against a pole)."""
        return sum(s.halted >= HALT_FRAMES for p in self.passes for s in p._state.values())


class _CallLog:
    """An event source that records the calls the fast vector env makes, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def reset(self, env_indices=None) -> None:
        self.calls.append(("reset", None if env_indices is None else np.array(env_indices)))

    def update(self, batch: ObjectBatch, steps: np.ndarray) -> list:
        self.calls.append(("update", batch, np.array(steps)))
        return [[] for _ in range(batch.num_envs)]


def _fast_path_calls(num_envs: int, steps: int, seed: int, **pool_args) -> list[tuple]:
    """Reset and update calls of a real envpool Skiing run; even envs seek gates, odd ones
    steer at random (they miss gates and crash into poles)."""
    pytest.importorskip("envpool")  # declared for CPython 3.11-3.13; elsewhere the backend is absent
    from envs.fast.envpool_vec import EnvpoolAtari

    log = _CallLog()
    pool = EnvpoolAtari("Skiing", num_envs, num_threads=1, frame_stack=1, screen_size=42,
                        event_sources=lambda *_: [log], **pool_args)
    pool.reset(seed=seed)
    rng = np.random.default_rng(seed)
    seekers = [GateSeeker() for _ in range(0, num_envs, 2)]
    try:
        for _ in range(steps):
            actions = rng.integers(3, size=num_envs)
            for i, seek in zip(range(0, num_envs, 2), seekers):
                actions[i] = seek(pool.last_objects.frame(i), pool.last_ram[i], [], rng)
            pool.step(actions)
    finally:
        pool.close()
    return log.calls


def _replay_both(calls: list[tuple], num_envs: int) -> Counter:
    """Replays ``calls`` into StepPassDetector and the reference; asserts equal events at
    every step, counts what the run covered."""
    ref, fast = _PerEnvReference(num_envs, 4), StepPassDetector(SPEC, num_envs, frame_skip=4)
    covered: Counter = Counter()
    for call in calls:
        if call[0] == "reset":
            ref.reset(call[1])
            fast.reset(call[1])
            covered["env resets"] += num_envs if call[1] is None else len(call[1])
            continue
        _, batch, steps = call
        want = ref.update(batch, steps)
        assert fast.update(batch, steps) == want, f"events differ at update {covered['env-steps']}"
        covered["env-steps"] += num_envs
        covered.update(e.key for found in want for e in found)
        covered["crashed gate-steps"] += ref.crashes()
    return covered


def test_batched_gate_events_equal_the_per_env_detectors_on_a_short_run():
    # 4 envs for 200 steps, episodes cut after 100: every env restarts within the run.
    covered = _replay_both(_fast_path_calls(4, 200, seed=4, max_episode_frames=400), 4)
    assert covered["env-steps"] == 800 and covered["env resets"] == 8, covered
    assert covered["Gate:pass"] >= 8 and covered["Gate:miss"] >= 1, covered


@pytest.mark.slow
@pytest.mark.parametrize("num_envs, steps, pool_args", [
    (1, 1200, {}),  # a gate seeker: its runs end (game over) after about 545 steps
    (16, 400, {"max_episode_frames": 4 * 150}),
    (64, 120, {"max_episode_frames": 4 * 80, "same_step_reset": True}),
])
def test_batched_gate_events_equal_the_per_env_detectors_on_real_runs(num_envs, steps, pool_args):
    covered = _replay_both(_fast_path_calls(num_envs, steps, seed=num_envs, **pool_args), num_envs)
    assert covered["env-steps"] == num_envs * steps
    assert covered["env resets"] >= 2 * num_envs + (num_envs == 1), covered
    assert covered["Gate:pass"] >= 20 * max(1, num_envs // 16), covered
    if num_envs > 1:  # random skiers miss gates and crash into poles
        assert covered["Gate:miss"] >= num_envs // 4 and covered["crashed gate-steps"] >= 1, covered


def _random_course(rng: np.random.Generator, num_envs: int, steps: int, slots: int = 10):
    """Synthetic Skiing batches with what real runs seldom show: a course that stops (a
    crash) next to or away from the skier, third flags 64 px out and doubled flags (parts
    that fit two others), rows 1-2 px apart, flags that change ids, a second skier, no
    skier, objects in any slot.  Yields ``(batch, parts that fit two others)``."""
    ids = iter(range(1, 1 << 30))
    courses: list[list[list[int]]] = [[] for _ in range(num_envs)]  # [x, y, flag ids...]
    skier_x = rng.integers(40, 110, num_envs)
    for _ in range(steps):
        cat = np.full((num_envs, slots), -1, np.int16)
        inst = np.full((num_envs, slots), -1, np.int64)
        box = np.zeros((num_envs, slots, 4), np.int32)
        motion = np.zeros((num_envs, slots, 2), np.int32)
        doubles = 0
        for e in range(num_envs):
            speed = int(rng.choice([0, 2, 4, 8]))  # 0: the course stands still
            skier_x[e] = np.clip(skier_x[e] + rng.integers(-3, 4), 20, 130)
            objects = [] if rng.random() < 0.05 else [(PLAYER, 1, skier_x[e], 40, 10, 18, 0)]
            if rng.random() < 0.05:
                objects.append((PLAYER, 2, 80, 60, 10, 18, 0))
            if len(courses[e]) < 3 and rng.random() < 0.15:
                extra = int(rng.choice([0, 0, 0, 64, -32, 0]))  # a third flag, or a double
                courses[e].append([int(skier_x[e] - rng.integers(5, 40)), int(rng.integers(100, 130)),
                                   next(ids), next(ids), next(ids), extra, int(rng.choice([0, 0, 1, 2]))])
            for gate in courses[e]:
                gate[1] -= speed
                if rng.random() < 0.03:
                    gate[2 + rng.integers(3)] = next(ids)  # a flag read anew: a new gate id
                x, y, left, right, third, extra, skew = gate
                objects += [(FLAG, left, x, y, 5, 15, -speed),
                            (FLAG, right, x + 32, y + skew, 5, 15, -speed)]
                if extra:
                    objects.append((FLAG, third, x + extra, y, 5, 15, -speed))
                    doubles += 1
            courses[e] = [g for g in courses[e] if g[1] > -20]
            for slot, (c, i, *b, dy) in zip(rng.permutation(slots), objects):
                cat[e, slot], inst[e, slot], box[e, slot], motion[e, slot] = c, i, b, (0, dy)
        yield ObjectBatch(CATS, cat, inst, box, motion), doubles


def test_batched_gate_events_equal_the_per_env_detectors_on_odd_courses():
    num_envs, steps = 12, 500
    rng = np.random.default_rng(0)
    ref, fast = _PerEnvReference(num_envs, 4), StepPassDetector(SPEC, num_envs, frame_skip=4)
    step = np.zeros(num_envs, np.int64)
    covered: Counter = Counter()
    for batch, doubles in _random_course(rng, num_envs, steps):
        if rng.random() < 0.1:  # new episodes in a few envs
            ended = np.flatnonzero(rng.random(num_envs) < 0.2)
            ref.reset(ended)
            fast.reset(ended)
            step[ended] = 0
        step += 1
        want = ref.update(batch, step)
        assert fast.update(batch, step) == want, f"events differ at step {covered['steps']}"
        covered.update(e.key for found in want for e in found)
        covered["steps"] += 1
        covered["doubles"] += doubles
        covered["crashed gate-steps"] += ref.crashes()
    assert covered["Gate:pass"] >= 50 and covered["Gate:miss"] >= 50, covered
    assert covered["doubles"] >= 100 and covered["crashed gate-steps"] >= 20, covered
