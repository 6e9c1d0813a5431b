"""Per-step contact detection: short contacts between snapshots, one event per contact, recall."""

import numpy as np
import pytest

from envs.fast.batched import ObjectBatch
from envs.fast.swept import SweptDetector

SKIING = ("Player", "Tree", "Mogul", "Flag")


def batch(*envs, categories=SKIING, k=3):
    """One ObjectBatch of ``k`` slots from per-env lists of ``(category, instance, x, y, w, h)``."""
    cat = np.full((len(envs), k), -1, np.int16)
    inst = np.full((len(envs), k), -1, np.int64)
    box = np.zeros((len(envs), k, 4), np.int32)
    for i, objs in enumerate(envs):
        for j, (c, n, *b) in enumerate(objs):
            cat[i, j], inst[i, j], box[i, j] = categories.index(c), n, b
    return ObjectBatch(categories, cat, inst, box, np.zeros((len(envs), k, 2), np.int32))


def skier(*objects, x=70, y=100):
    return [("Player", 1, x, y, 10, 18), *objects]


def events(det, snapshots, env=0):
    """Run snapshots (one per step) through ``det``; ``(step, category, instance, frame)``."""
    out = []
    for step, b in enumerate(snapshots, start=1):
        found = det.update(b, np.full(det.num_envs, step))
        out += [(e.step, e.category, e.instance, e.frame) for e in found[env]]
    return out


def test_object_passing_through_between_snapshots_is_seen():
    # A tree scrolls up 40 px in a step, across the skier (y 100..118), apart at both ends.
    det = SweptDetector("Skiing", 1)
    snaps = [batch(skier(("Tree", 7, 72, y, 8, 10))) for y in (130, 90)]
    assert events(det, snaps) == [(2, "Tree", 7, 6)]  # overlap from the 2nd frame of step 2
    det = SweptDetector("Skiing", 1, max_jump=64)
    crossing = [batch(skier(("Tree", 7, 72, y, 8, 10))) for y in (140, 80)]
    assert events(det, crossing) == [(2, "Tree", 7, 6)]
    # By default a 60 px move is a jump (wrap-around), not a path.
    assert events(SweptDetector("Skiing", 1), crossing) == []


def test_bounce_is_seen_and_a_mere_turn_is_not():
    pong = ("Player", "Ball", "Enemy")

    def snap(ball_x, paddle_y=90):
        return batch([("Player", 1, 140, paddle_y, 4, 16), ("Ball", 2, ball_x, 95, 2, 4)],
                     categories=pong)

    # 3 px per frame towards the paddle, touches it on frame 2, back to 134.
    assert events(SweptDetector("Pong", 1), [snap(122), snap(134), snap(134)]) == \
        [(3, "Ball", 2, 10)]
    # The same approach, but the ball turns back far from the paddle: no bounce there.
    assert events(SweptDetector("Pong", 1), [snap(110), snap(122), snap(116)]) == []
    # A paddle that moved up 40 px in a step did not bounce the ball that stayed away.
    assert events(SweptDetector("Pong", 1),
                  [snap(120, 130), snap(120, 90), snap(120, 50)]) == []


def test_rebound_touches_again_only_after_it_went_away():
    pong = ("Player", "Ball", "Enemy")

    def snap(ball_x):
        return batch([("Player", 1, 140, 90, 4, 16), ("Ball", 2, ball_x, 95, 2, 4)],
                     categories=pong)

    # Bounced on the paddle without leaving it (6-9 px away, under REBOUND_AWAY), then
    # away to x=100 and back: two hits, as in the per-frame detector.
    xs = [100, 138, 132, 138, 129, 138, 100, 138]
    assert [e[0] for e in events(SweptDetector("Pong", 1), [snap(x) for x in xs])] == [2, 8]
    # A ball first seen touching the paddle has not come back from anywhere.
    assert events(SweptDetector("Pong", 1), [snap(138), snap(132), snap(138)]) == []


def test_one_event_per_contact_and_a_new_one_after_separation():
    det = SweptDetector("Skiing", 1)
    on = batch(skier(("Mogul", 3, 75, 110, 16, 7)))
    off = batch(skier(("Mogul", 3, 75, 130, 16, 7)))
    # 5 px per frame: the boxes overlap from the 3rd frame of the step on.
    assert events(det, [off, on, on, on, off, off, on]) == [(2, "Mogul", 3, 7), (7, "Mogul", 3, 27)]


def test_jumps_are_not_paths_and_new_objects_are_tested_where_they_are():
    det = SweptDetector("Skiing", 1)  # MAX_JUMP 48
    # Wrap-around: 120 px in one step across the skier, apart at both snapshots.
    assert events(det, [batch(skier(("Flag", 4, 10, 105, 5, 15))),
                        batch(skier(("Flag", 4, 130, 105, 5, 15)))]) == []
    det.reset()
    assert events(det, [batch(skier()), batch(skier(("Flag", 5, 72, 100, 5, 15)))]) == \
        [(2, "Flag", 5, 8)]


def test_vanished_object_touched_on_the_way_counts():
    # The skier (10 px wide) moves right onto a tree at x=86, which is gone at the next
    # snapshot (an eaten pill, a collected item): reached on the step's last frame.
    det = SweptDetector("Skiing", 1)
    snaps = [batch(skier(("Tree", 9, 86, 100, 8, 10), x=60)),
             batch(skier(("Tree", 9, 86, 100, 8, 10), x=64)),
             batch(skier(x=80))]
    assert events(det, snaps) == [(3, "Tree", 9, 12)]


def test_a_falling_coconut_hits_from_the_row_above_on_the_fast_path_too():
    from envs.games import resolve_game

    cats = resolve_game("Kangaroo").categories

    def snaps(category, gap):  # the object's box ends ``gap`` px above the kangaroo's
        obj = [("Player", 1, 20, 148, 8, 24), (category, 2, 22, 148 - gap - 3, 2, 3)]
        return [batch(obj, categories=cats)] * 2

    assert [e[1] for e in events(SweptDetector("Kangaroo", 1), snaps("FallingCoconut", 8))] \
        == ["FallingCoconut"]
    assert events(SweptDetector("Kangaroo", 1), snaps("FallingCoconut", 9)) == []
    assert events(SweptDetector("Kangaroo", 1), snaps("ThrownCoconut", 8)) == []
    # Falling 8 px a step from two rows up into the row above her: seen on the way.
    moving = [batch([("Player", 1, 20, 148, 8, 24), ("FallingCoconut", 2, 22, y, 2, 3)],
                    categories=cats) for y in (121, 129, 137)]
    assert [e[1] for e in events(SweptDetector("Kangaroo", 1), moving)] == ["FallingCoconut"]


def test_environments_are_independent_and_reset_forgets():
    det = SweptDetector("Skiing", 2)
    apart = skier(("Tree", 7, 72, 140, 8, 10))
    touch = skier(("Tree", 7, 72, 110, 8, 10))
    out = det.update(batch(apart, apart), np.array([1, 1]))
    assert out == [[], []]
    out = det.update(batch(touch, apart), np.array([2, 2]))
    assert [len(e) for e in out] == [1, 0]
    det.reset([0])  # a new episode in env 0: the contact is new again
    out = det.update(batch(touch, touch), np.array([1, 3]))
    assert [len(e) for e in out] == [1, 1]
    with pytest.raises(ValueError, match="2 environments"):
        det.update(batch(touch), np.array([1]))
    for kwargs, message in [({"margin": -1}, "margin"), ({"frame_skip": 0}, "frame_skip"),
                            ({"max_jump": 0}, "max_jump")]:
        with pytest.raises(ValueError, match=message):
            SweptDetector("Skiing", 1, **kwargs)
    with pytest.raises(ValueError, match="num_envs"):
        SweptDetector("Skiing", 0)


@pytest.mark.slow
@pytest.mark.parametrize("game", ["Pong", "Breakout", "Freeway", "Skiing"])
def test_per_step_detection_finds_the_per_frame_contacts(game):
    """Recall >= 95% of the per-frame detector's contacts on a recorded run (see
    benchmarks/detector_recall.py for the long runs), few extra events."""
    from envs.tools.recall import compare, record

    result = compare(record(game, 6000, seed=0))
    assert result.contacts >= 10, result  # the recording must contain contacts
    assert result.recall >= 0.95, result
    assert result.extra <= 0.15 * result.contacts, result


def test_control_passes_to_the_skater_nearest_the_puck():
    """Ice Hockey's avatar is whichever of the player's skaters is nearest the puck, on the
    per-frame and the per-step detector alike: an opponent against the far skater is no
    contact, the same opponent against the skater by the puck is one."""
    from envs.interactions import InteractionDetector
    from envs.objects import ObjectFrame

    cats = ("Player", "Enemy", "Ball")

    def rink(puck_x, puck_y):
        return [("Player", 1, 20, 20, 16, 20), ("Player", 2, 100, 150, 16, 20),
                ("Enemy", 3, 110, 140, 16, 20), ("Ball", 4, puck_x, puck_y, 2, 2)]

    far, near = rink(24, 52), rink(104, 182)  # the puck by skater 1, then by skater 2
    for snapshots, expected in [([far, far], []), ([far, near], [(2, "Enemy", 3)]),
                                ([near, near], [(1, "Enemy", 3)])]:
        swept = SweptDetector("IceHockey", 1)
        got = [e[:3] for e in events(swept, [batch(s, categories=cats, k=4) for s in snapshots])]
        assert got == expected
        frames = InteractionDetector("IceHockey")
        got = []
        for step, s in enumerate(snapshots, start=1):
            b = batch(s, categories=cats, k=4)
            frame = ObjectFrame(cats, b.category[0], b.instance[0], b.box[0], b.motion[0])
            got += [(e.step, e.category, e.instance) for e in frames.update(frame, step, step=step)]
        assert got == expected
