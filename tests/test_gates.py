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

import numpy as np
import pytest

from envs.atari import make_env
from envs.batched import ObjectBatch
from envs.derived import DERIVED_ID_BASE, Deriver, PassDetector
from envs.games import resolve_game
from envs.interactions import INTERACTIONS_KEY, InteractionDetector
from envs.objects import ObjectFrame
from envs.recall import MISSED_IN_RAM, GateSeeker, compare_passes, record, seek_gate
from envs.swept import StepPassDetector

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
    from envs.envpool_vec import EnvpoolAtari, default_event_sources

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
