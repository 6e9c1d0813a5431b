"""Interaction events happen when they physically must, once per contact."""

import numpy as np
import pytest
from conftest import ROOT, FrameRun, first, load_script

from envs.interactions import InteractionDetector
from envs.objects import ObjectFrame


def _overlap(a, b, margin):
    return (b.x < a.x + a.w + margin and a.x < b.x + b.w + margin
            and b.y < a.y + a.h + margin and a.y < b.y + b.h + margin)


def contact_starts(run: FrameRun, avatar: str, categories: set[str], margin: int):
    """(frame, instance) where an avatar/object overlap begins, recomputed from the records."""
    starts, touching = [], set()
    for frame, objs in enumerate(run.objects, start=1):
        a = first(objs, avatar)
        now = set()
        if a is not None:
            now = {o.instance for o in objs if o.category in categories and _overlap(a, o, margin)}
        starts += sorted((frame, i) for i in now - touching)
        touching = now
    return starts


def assert_one_event_per_contact(run, avatar, categories, margin):
    starts = contact_starts(run, avatar, categories, margin)
    got = [(e.frame, e.instance) for e in run.events if e.kind == "touch"]
    assert got == starts
    # At least one contact lasted several frames, so de-duplication was exercised.
    frames_touching = sum(
        1 for objs in run.objects
        if (a := first(objs, avatar)) and any(o.category in categories and _overlap(a, o, margin) for o in objs)
    )
    assert frames_touching > len(starts)


def test_freeway_chicken_walking_up_is_hit_by_cars(frame_runner):
    run = frame_runner("Freeway", lambda objs, m, t: m.index("UP"), 1200)
    assert len(run.events) >= 3
    assert {e.category for e in run.events} == {"Car"}
    assert_one_event_per_contact(run, "Chicken", {"Car"}, margin=0)


def _track_ball(axis):
    def policy(objs, m, t):
        p, b = first(objs, "Player"), first(objs, "Ball")
        if p is None or b is None:
            return m.index("FIRE")
        if axis == "y":  # Pong: RIGHT moves the right paddle up, LEFT down
            d = (b.y + b.h / 2) - (p.y + p.h / 2)
            return m.index("LEFT") if d > 2 else m.index("RIGHT") if d < -2 else 0
        d = (b.x + b.w / 2) - (p.x + p.w / 2)
        return m.index("RIGHT") if d > 3 else m.index("LEFT") if d < -3 else 0
    return policy


@pytest.mark.parametrize("game, axis, margin", [("Pong", "y", 1), ("Breakout", "x", 1)])
def test_ball_meets_paddle_under_tracking_policy(frame_runner, game, axis, margin):
    run = frame_runner(game, _track_ball(axis), 1500)
    balls = [e for e in run.events if e.category == "Ball"]
    assert len(balls) >= 4
    # Each hit is a separate contact: the ball leaves the paddle in between.
    assert all(b.frame - a.frame > 20 for a, b in zip(balls, balls[1:]))
    categories = {"Ball"} if game == "Pong" else {"Ball", "Block"}
    assert_one_event_per_contact(run, "Player", categories, margin)


def test_skier_going_straight_down_meets_the_course(frame_runner):
    run = frame_runner("Skiing", lambda objs, m, t: m.index("NOOP"), 1500)
    cats = {e.category for e in run.events if e.kind == "touch"}
    assert cats and cats <= {"Tree", "Mogul", "Flag"}
    # Gates are never touched: they are passed or missed (tests/test_gates.py).
    assert {(e.category, e.kind) for e in run.events if e.kind != "touch"} <= {("Gate", "pass"), ("Gate", "miss")}
    assert_one_event_per_contact(run, "Player", {"Tree", "Mogul", "Flag"}, margin=0)


def _frame(boxes, cats=(0, 1), ids=(0, 5)):
    return ObjectFrame(("Player", "Tree", "Mogul", "Flag"), np.array(cats, np.int16),
                       np.array(ids, np.int64), np.array(boxes, np.int32),
                       np.zeros((len(boxes), 2), np.int32))


# Kangaroo at x 20, y 148 (8 x 24); an object 2 x 3 at x 22 whose box ends ``gap`` pixels
# above hers.
def _kangaroo_frame(category: str, gap: int):
    from envs.games import resolve_game

    cats = resolve_game("Kangaroo").categories
    return ObjectFrame(cats, np.array([cats.index("Player"), cats.index(category)], np.int16),
                       np.array([0, 5], np.int64),
                       np.array([[20, 148, 8, 24], [22, 148 - gap - 3, 2, 3]], np.int32),
                       np.zeros((2, 2), np.int32))


def test_a_falling_coconut_hits_from_the_row_above_and_nothing_else_does():
    """Kangaroo's falling coconut takes a life from the 8-pixel row above her box
    (GameSpec.axis_margins): that counts as contact, for it alone, and only vertically."""
    hit = InteractionDetector("Kangaroo").update(_kangaroo_frame("FallingCoconut", 8), 1)
    assert [e.category for e in hit] == ["FallingCoconut"]
    assert InteractionDetector("Kangaroo").update(_kangaroo_frame("FallingCoconut", 9), 1) == []
    assert InteractionDetector("Kangaroo").update(_kangaroo_frame("ThrownCoconut", 8), 1) == []
    beside = _kangaroo_frame("FallingCoconut", -10)  # level with her, 6 px to her right
    beside.box[1, 0] = 20 + 8 + 6
    assert InteractionDetector("Kangaroo").update(beside, 1) == []


def test_detector_contact_lifecycle():
    det = InteractionDetector("Skiing")
    apart = _frame([[0, 0, 10, 10], [20, 0, 5, 5]])
    touching = _frame([[0, 0, 10, 10], [9, 0, 5, 5]])
    edge = _frame([[0, 0, 10, 10], [10, 0, 5, 5]])  # adjacent, not overlapping
    assert det.update(apart, 1) == []
    [ev] = det.update(touching, 2, step=1)
    assert (ev.category, ev.instance, ev.frame, ev.step) == ("Tree", 5, 2, 1)
    assert ev.avatar_box == (0, 0, 10, 10) and ev.object_box == (9, 0, 5, 5)
    assert det.update(touching, 3) == []  # same contact
    assert det.update(edge, 4) == []  # contact ended
    assert len(det.update(touching, 5)) == 1  # a new contact
    assert InteractionDetector("Skiing", margin=1).update(edge, 1) != []
    det.reset()
    assert len(det.update(touching, 1)) == 1


def _pong(ball_x, ball_id=2):
    """A Pong frame: the paddle at x=140, the ball (a declared rebound) at ``ball_x``."""
    return ObjectFrame(("Player", "Ball", "Enemy"), np.array([0, 1], np.int16),
                       np.array([1, ball_id], np.int64),
                       np.array([[140, 90, 4, 16], [ball_x, 95, 2, 4]], np.int32),
                       np.zeros((2, 2), np.int32))


def test_rebound_touches_again_only_after_it_went_away():
    det = InteractionDetector("Pong")  # margin 1: the ball at x >= 138 touches
    # Bounced on the paddle without leaving it (6-9 px away, under REBOUND_AWAY) and back.
    xs = [100, 138, 132, 138, 129, 138, 100, 138]
    got = [t for t, x in enumerate(xs) if det.update(_pong(x), t)]
    assert got == [1, 7]
    # A ball that appears already touching the paddle has not come back from anywhere.
    det.reset()
    assert det.update(_pong(138, ball_id=9), 0) == []
    assert det.update(_pong(110, ball_id=9), 1) == [] and len(det.update(_pong(138, ball_id=9), 2)) == 1


def test_tennis_server_bouncing_the_ball_is_one_touch(frame_runner):
    # Standing still, the server bounces the ball on the spot before the serve, on and off
    # the player's box, for as long as the serve waits.
    run = frame_runner("Tennis", lambda objs, m, t: 0, 3000)
    bounces = contact_starts(run, "Player", {"Ball"}, margin=2)
    assert len(bounces) >= 30
    assert len([e for e in run.events if e.category == "Ball"]) <= 1


def test_detector_without_avatar_on_screen_and_bad_margin():
    det = InteractionDetector("Skiing")
    assert det.update(_frame([[0, 0, 10, 10]], cats=(1,), ids=(3,)), 1) == []
    with pytest.raises(ValueError, match="margin"):
        InteractionDetector("Skiing", margin=-1)


def _benchmark(name: str):
    """The script ``benchmarks/<name>.py`` loaded as a module (benchmarks is no package)."""
    return load_script(f"benchmarks/{name}.py")


def _run_benchmark(name: str, *args: str, timeout: int = 120):
    """``python benchmarks/<name>.py ARGS`` in a subprocess."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_ice_hockey_avatar_is_mostly_the_skater_the_joystick_moves():
    """RAM byte 108 names the skater the joystick moves (2: OCAtari's first Player, 0: its
    second); the skater nearest the puck, rnr's avatar, is that one on most steps
    (measured by benchmarks/icehockey_control.py, which this runs on 2,400 steps)."""
    c = _benchmark("icehockey_control").control(2400)
    assert c["steps"] >= 2000
    right, wrong = c["joystick_moves_named"], c["joystick_moves_other"]
    assert right >= 200 and wrong <= 0.05 * right, (right, wrong)
    assert c["agree_reach"] >= 0.85, c
    assert c["first_share"] <= 0.8, c  # control does pass between the skaters



def test_icehockey_control_benchmark_runs_and_refuses_tiny_budgets():
    """benchmarks/icehockey_control.py, the source of Ice Hockey's settings, runs end to end."""
    done = _run_benchmark("icehockey_control", "--steps", "200", "--frames", "2000")
    assert done.returncode == 0, done.stderr
    assert "nearest skater = byte 108 on" in done.stdout and "margin 2:" in done.stdout
    bad = _run_benchmark("icehockey_control", "--steps", "5", timeout=60)
    assert bad.returncode == 2 and "--steps must be >= 100" in bad.stderr


@pytest.mark.slow
def test_fishing_derby_contacts_are_mostly_not_bites():
    """Most fish contacts of a random hook are not bites (RAM byte 112), which is why the
    sweep pays each row's fish once (measured by benchmarks/fishingderby_bites.py)."""
    r = _benchmark("fishingderby_bites").bites(12_000)
    assert r["bites"] >= 3, r  # random play does hook fish
    assert r["contacts"] >= 4 * r["bites"], r
    assert r["bites_after_contact"] >= r["bites"] // 2, r  # a bite follows a contact


def test_fishingderby_bites_benchmark_runs_and_refuses_tiny_budgets():
    """benchmarks/fishingderby_bites.py runs end to end."""
    done = _run_benchmark("fishingderby_bites", "--frames", "1000")
    assert done.returncode == 0, done.stderr
    assert "fish contacts" in done.stdout and "bites" in done.stdout
    bad = _run_benchmark("fishingderby_bites", "--frames", "5", timeout=60)
    assert bad.returncode == 2 and "--frames must be >= 1000" in bad.stderr


def test_contact_outcomes_benchmark_counts_what_follows_contacts():
    """benchmarks/contact_outcomes.py, the source of the penalty veto's window, runs end to end:
    Ms. Pac-Man's random player eats pills (contacts the game pays for at once) and loses lives."""
    stats = _benchmark("contact_outcomes").outcomes("MsPacman", 1)
    ep = stats.pop("_episodes")
    assert ep["n"] == 1 and ep["lives_lost"] >= 1, ep
    pills = stats["Pill"]
    assert pills["contacts"] >= 10 and pills["waived"] >= pills["contacts"] // 3, pills
    assert sum(v for k, v in pills.items() if k.startswith("lag ")) == pills["contacts"]
    done = _run_benchmark("contact_outcomes", "Pong", "--episodes", "0", timeout=60)
    assert done.returncode == 2 and "--episodes, --window and --life-steps must be >= 1" in done.stderr
    done = _run_benchmark("contact_outcomes", "Pongg", timeout=60)
    assert done.returncode == 2 and "Did you mean" in done.stderr
