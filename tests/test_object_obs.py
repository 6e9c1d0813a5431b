"""Object observations: the slot layout, the encoder, both backends, and the wrapper forms."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

from envs.atari import make_env
from envs.games import GameSpec, resolve_game
from envs.observations import ObjectObservation, ObjectObservationVecEnv, ObjectObservationVector
from envs.slots import FEATURES, MOTION_SCALE, NoObjectsError, SlotEncoder, SlotLayout

SKIING_TABLE = {"Tree": -5.0, "Mogul": -5.0, "Flag": -5.0, "Gate:pass": 5.0, "Gate:miss": -5.0}
NF = len(FEATURES)


# -- layout -----------------------------------------------------------------------------------


def test_layout_declares_every_category_times_its_maximum_count_derived_included():
    layout = SlotLayout.from_game("Skiing")
    spec = resolve_game("Skiing")
    assert layout.categories == spec.categories == ("Player", "Tree", "Mogul", "Flag", "Gate")
    assert layout.counts == (1, 6, 3, 4, 2)  # OCAtari's MAX_NB_OBJECTS, then the gates
    assert layout.offsets == (0, 1, 7, 10, 14)
    assert layout.size == 16 * NF == len(layout.feature_names())
    assert layout.slot_names()[14:] == ("Gate[0]", "Gate[1]")
    stacked = SlotLayout.from_game("Skiing", stack=3)
    assert stacked.size == 3 * layout.size
    assert stacked.feature_names()[0] == "t-2:Player[0].present"
    assert stacked.feature_names()[-1] == "Gate[1].dy"
    text = layout.describe()
    assert "Gate" in text and "112 floats" in text
    space = layout.observation_space()
    assert space.shape == (112,) and space.dtype == np.float32


def test_layout_refuses_games_without_objects_and_bad_stacks():
    empty = GameSpec("Nothing", "ALE/Nothing-v5", {}, (), None)
    with pytest.raises(NoObjectsError, match="no object categories"):
        SlotLayout.from_game(empty)
    with pytest.raises(ValueError, match="obs_stack"):
        SlotLayout.from_game("Pong", stack=0)


# -- encoder ----------------------------------------------------------------------------------

PONG = SlotLayout.from_game("Pong")  # Player, Ball, Enemy: one slot each


def _objects(*rows):
    """``(category, instance, x, y, w, h)`` rows of one env as padded arrays."""
    cat = np.array([[r[0] for r in rows]]) if rows else np.full((1, 1), -1)
    inst = np.array([[r[1] for r in rows]]) if rows else np.zeros((1, 1), np.int64)
    box = np.array([[r[2:] for r in rows]]) if rows else np.zeros((1, 1, 4))
    return cat, inst, box


def test_new_objects_fill_free_slots_in_order_and_extra_ones_are_dropped():
    layout = SlotLayout.from_game("Skiing")  # 6 tree slots from index 1
    enc = SlotEncoder(layout, 1)
    trees = [(1, 10 + i, 8 * i, 50, 16, 30) for i in range(7)]  # one tree too many
    obs = enc.encode(*_objects((0, 1, 70, 40, 10, 18), *trees))[0].reshape(-1, NF)
    assert obs[0, 0] == 1.0 and obs[0, 1] == pytest.approx(70 / 160)
    assert obs[1:7, 0].tolist() == [1.0] * 6
    assert obs[1:7, 1] == pytest.approx([8 * i / 160 for i in range(6)])
    assert obs[7:, 0].sum() == 0  # no mogul, flag or gate; the 7th tree is not anywhere


def test_an_object_keeps_its_slot_and_motion_follows_it():
    layout = SlotLayout.from_game("Skiing")
    enc = SlotEncoder(layout, 1)
    a, b = (1, 5, 20, 100, 16, 30), (1, 6, 60, 120, 16, 30)
    enc.encode(*_objects(a, b))
    # Tree 5 is gone: tree 6 stays in the second tree slot (no jump for the policy).
    obs = enc.encode(*_objects((1, 6, 64, 112, 16, 30)))[0].reshape(-1, NF)
    assert obs[1, 0] == 0 and obs[2, 0] == 1
    assert obs[2, 5:7] == pytest.approx([4 / MOTION_SCALE, -8 / MOTION_SCALE])
    # A new tree takes the first free slot, with no motion; tree 6 keeps moving.
    obs = enc.encode(*_objects((1, 9, 0, 0, 16, 30), (1, 6, 66, 100, 16, 30)))[0].reshape(-1, NF)
    assert obs[1, :3] == pytest.approx([1, 0, 0]) and obs[1, 5:7].tolist() == [0, 0]
    assert obs[2, 5:7] == pytest.approx([2 / 16, -12 / 16])
    # A reset forgets what was seen: slots are assigned afresh, without motion.
    enc.reset()
    obs = enc.encode(*_objects((1, 6, 80, 90, 16, 30)))[0].reshape(-1, NF)
    assert obs[1, 0] == 1 and obs[1, 5:7].tolist() == [0.0, 0.0]


def test_features_are_scaled_to_the_screen_and_clipped():
    enc = SlotEncoder(PONG, 1)
    enc.encode(*_objects((1, 3, 10, 100, 2, 4)))
    obs = enc.encode(*_objects((1, 3, 150, 230, 2, 4)))[0]  # jumped 140 px, below the screen
    ball = obs[NF:2 * NF]
    assert ball.tolist() == pytest.approx([1.0, 150 / 160, 1.0, 2 / 160, 4 / 210, 1.0, 1.0])
    assert obs.min() >= -1.0 and obs.max() <= 1.0


def test_stacking_repeats_the_first_step_then_shifts_oldest_first():
    layout = SlotLayout.from_game("Pong", stack=3)
    enc = SlotEncoder(layout, 1)
    x = lambda obs, t: obs[0, t * 3 * NF + NF + 1] * 160  # noqa: E731  ball x of step t
    obs = enc.encode(*_objects((1, 3, 16, 100, 2, 4)))
    assert [x(obs, t) for t in range(3)] == pytest.approx([16, 16, 16])
    obs = enc.encode(*_objects((1, 3, 32, 100, 2, 4)))
    obs = enc.encode(*_objects((1, 3, 48, 100, 2, 4)))
    assert [x(obs, t) for t in range(3)] == pytest.approx([16, 32, 48])
    obs = enc.encode(*_objects((1, 3, 64, 100, 2, 4)))
    assert [x(obs, t) for t in range(3)] == pytest.approx([32, 48, 64])
    enc.reset()
    obs = enc.encode(*_objects((1, 3, 80, 100, 2, 4)))
    assert [x(obs, t) for t in range(3)] == pytest.approx([80, 80, 80])


def test_encoding_some_environments_leaves_the_others_as_they_were():
    enc = SlotEncoder(PONG, 3)
    cat, inst = np.array([[1], [1], [1]]), np.array([[1], [2], [3]])
    box = np.array([[[10, 10, 2, 4]], [[20, 20, 2, 4]], [[30, 30, 2, 4]]])
    enc.encode(cat, inst, box)
    enc.reset([1])
    part = enc.encode(cat[1:], inst[1:], box[1:] + 8, env_indices=[1, 2])
    assert part.shape == (2, PONG.size)
    assert part[0, NF + 5] == 0 and part[1, NF + 5] == pytest.approx(8 / 16)  # env 1 restarted
    full = enc.encode(cat, inst, box + 16)
    assert full[:, NF + 5] == pytest.approx([16 / 16, 8 / 16, 8 / 16])  # env 0 saw no update
    with pytest.raises(ValueError, match="expected category"):
        enc.encode(cat[:2], inst, box)


# -- both backends ----------------------------------------------------------------------------

# Games whose OCAtari readers hold no state between frames that a step-by-step reader
# could miss: both backends must agree on every observation.
STATELESS = ("Boxing", "Breakout", "Freeway", "Kangaroo", "Pong")
# The others: the only features that may differ, and on what share of steps at most.
# OCAtari's readers keep state between the frames they see, which the per-frame path
# reads every frame and the fast path every fourth: Asterix keeps an enemy or item of a
# flashing lane where it was last read (and in another slot than a new one); Seaquest's
# and Tennis's readers recreate an object that left the screen between two steps (a new
# instance: no motion); Skiing reads an object's size or a tree's x once, on the frame
# it enters at a screen edge; Ms. Pac-Man's ghosts sit at (0, 0) on the frame they are
# created, the first of an episode on the fast path ("start": only the first two steps
# of an episode differ).
STATEFUL = {"Asterix": ({"x", "y", "dx", "dy"}, 0.6), "Seaquest": ({"dx", "dy"}, 0.05),
            "Tennis": ({"dx", "dy"}, 0.05), "Skiing": ({"h", "x", "dx"}, 0.05),
            "MsPacman": ("start", 0.05)}


def _lockstep(game: str, steps: int):
    """Both backends, no random starts or sticky actions, the same random actions; yields
    (per-frame obs, fast obs, step in episode)."""
    pytest.importorskip("envpool")
    from envs.fast.envpool_vec import EnvpoolAtari

    kw = {"noop_max": 1, "sticky_actions": 0.0, "obs": "objects", "max_episode_frames": 2000}
    ours = make_env(game, **kw)
    fast = EnvpoolAtari(game, 1, num_threads=1, same_step_reset=True, **kw)
    rng = np.random.default_rng(0)
    a, b, t = ours.reset(seed=0)[0], fast.reset(seed=0)[0], 0
    try:
        for _ in range(steps):
            yield a, b, t
            action = int(rng.integers(ours.action_space.n))
            a, _, te, tr, _ = ours.step(action)
            b, t = fast.step(np.array([action])).obs[0], t + 1
            if te or tr:
                a, t = ours.reset()[0], 0
    finally:
        ours.close()
        fast.close()


@pytest.mark.parametrize("game", [*STATELESS, *STATEFUL])
def test_both_backends_give_the_same_observations_on_recorded_play(game):
    layout = SlotLayout.from_game(game)
    feature = np.array([f.rsplit(".", 1)[1] for f in layout.feature_names()])
    differ = 0
    for per_frame, fast, t in _lockstep(game, 400):
        diff = per_frame != fast
        # Which objects are on screen never differs.
        assert not diff[feature == "present"].any(), f"{game}: presence differs at step {t}"
        if not diff.any():
            continue
        differ += 1
        assert game in STATEFUL, f"{game} step {t}: {set(feature[diff])}"
        allowed, _ = STATEFUL[game]
        if allowed == "start":
            assert t <= 1, f"{game}: differs at step {t} of an episode"
        else:
            assert set(feature[diff]) <= allowed, f"{game} step {t}: {set(feature[diff])}"
    assert differ <= 400 * STATEFUL.get(game, (None, 0.0))[1]


def test_same_step_and_next_step_resets_give_the_same_episodes():
    """SB3's same-step reset reads the new episode's first frame like the next-step reset:
    terminal and first observations (gates included) match, step for step."""
    pytest.importorskip("envpool")
    from envs.fast.envpool_vec import EnvpoolAtari

    kw = {"noop_max": 1, "sticky_actions": 0.0, "obs": "objects", "max_episode_frames": 400,
          "num_threads": 1}
    same = EnvpoolAtari("Skiing", 2, same_step_reset=True, **kw)
    nxt = EnvpoolAtari("Skiing", 2, same_step_reset=False, **kw)
    np.testing.assert_array_equal(same.reset(seed=3), nxt.reset(seed=3))
    rng = np.random.default_rng(3)
    ends = 0
    gate = slice(14 * NF, 16 * NF)
    try:
        for _ in range(250):
            actions = rng.integers(3, size=2)
            s, n = same.step(actions), nxt.step(actions)
            done = s.terminated | s.truncated
            np.testing.assert_array_equal(done, n.terminated | n.truncated)
            if not done.any():
                np.testing.assert_array_equal(s.obs, n.obs)
                continue
            assert done.all()  # both hit the frame limit together
            for i in range(2):
                np.testing.assert_array_equal(s.final_obs[i], n.obs[i])  # the last state
            n = nxt.step(actions)  # envpool restarts them now
            assert n.restarted.all()
            np.testing.assert_array_equal(s.obs, n.obs)  # the first state
            assert s.obs[:, gate].any()  # the new course's gates are seen at once
            ends += 1
    finally:
        same.close()
        nxt.close()
    assert ends >= 2


# -- wrapper forms ----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version")
def test_gymnasium_wrapper_passes_the_checkers_and_composes_with_manual_reward():
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    from reward_shaping.wrappers import ManualReward

    env = ObjectObservation(make_env("Skiing", max_episode_frames=800))
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(env)
    inner = ManualReward(ObjectObservation(make_env("Skiing")), SKIING_TABLE)
    outer = ObjectObservation(ManualReward(make_env("Skiing"), SKIING_TABLE))
    built = ManualReward(make_env("Skiing", obs="objects"), SKIING_TABLE)
    first = [e.reset(seed=1)[0] for e in (inner, outer, built)]
    np.testing.assert_array_equal(first[0], first[1])
    np.testing.assert_array_equal(first[0], first[2])
    aux = 0.0
    for t in range(300):
        action = (t // 20) % 3
        steps = [e.step(action) for e in (inner, outer, built)]
        for s in steps[1:]:
            np.testing.assert_array_equal(steps[0][0], s[0])
            assert steps[0][1] == s[1]
        aux += steps[0][4]["aux_reward"]
    assert aux != 0  # the table paid: both halves ran
    with pytest.raises(ValueError, match="ObjectTracker"):
        ObjectObservation(make_env("Skiing", track_objects=False))


def test_vector_wrapper_on_envpool_and_on_gymnasium_vector_envs():
    pytest.importorskip("envpool")
    import gymnasium as gym

    from envs.atari import make_vec_env
    from reward_shaping.wrappers import ManualRewardVector

    kw = {"noop_max": 1, "sticky_actions": 0.0, "max_episode_frames": 600}
    wrapped = ManualRewardVector(ObjectObservationVector(
        make_vec_env("Skiing", 2, backend="envpool", num_threads=1, **kw)), SKIING_TABLE)
    built = make_vec_env("Skiing", 2, backend="envpool", num_threads=1, obs="objects", **kw)
    generic = ObjectObservationVector(
        gym.vector.SyncVectorEnv([lambda: make_env("Skiing", objects_in_info=True, **kw)] * 2),
        game="Skiing")
    a, b = wrapped.reset(seed=0)[0], built.reset(seed=0)[0]
    np.testing.assert_array_equal(a, b)
    assert generic.reset(seed=0)[0].shape == (2, 112)
    rng = np.random.default_rng(0)
    ended = False
    for _ in range(200):
        actions = rng.integers(3, size=2)
        a, _, te, tr, _ = wrapped.step(actions)
        b = built.step(actions)[0]
        np.testing.assert_array_equal(a, b)
        g = generic.step(actions)
        ended |= bool((g[2] | g[3]).any())
        assert g[0].shape == (2, 112) and g[0][:, 0].all()  # the skier is always seen
    assert ended
    bare = gym.vector.SyncVectorEnv([lambda: make_env("Skiing")])
    with pytest.raises(KeyError, match="objects_in_info"):
        ObjectObservationVector(bare, game="Skiing").reset(seed=0)
    with pytest.raises(ValueError, match="pass game="):
        ObjectObservationVector(bare)


def test_sb3_wrapper_on_envpool_and_dummy_vec_env_in_either_order_with_shaping():
    pytest.importorskip("envpool")
    from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: F401
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from envs.fast.envpool_vec import EnvpoolVecEnv
    from reward_shaping.wrappers import ManualRewardVecEnv

    kw = {"noop_max": 1, "sticky_actions": 0.0, "max_episode_frames": 400}
    pool = lambda **extra: EnvpoolVecEnv("Skiing", 2, num_threads=1, **kw, **extra)  # noqa: E731
    envs = [ManualRewardVecEnv(ObjectObservationVecEnv(pool()), SKIING_TABLE),
            ObjectObservationVecEnv(ManualRewardVecEnv(pool(), SKIING_TABLE)),
            ManualRewardVecEnv(pool(obs="objects"), SKIING_TABLE)]
    for e in envs:
        e.seed(0)
    first = [e.reset() for e in envs]
    for f in first[1:]:
        np.testing.assert_array_equal(first[0], f)
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(250):
        actions = rng.integers(3, size=2)
        out = [e.step(actions) for e in envs]
        for o in out[1:]:
            np.testing.assert_array_equal(out[0][0], o[0])
            np.testing.assert_array_equal(out[0][1], o[1])
        for i in np.flatnonzero(out[0][2]):
            ends += 1
            for o in out:
                np.testing.assert_array_equal(o[3][i]["terminal_observation"],
                                              out[0][3][i]["terminal_observation"])
            assert out[0][3][i]["terminal_observation"].shape == (112,)
    assert ends >= 2
    dummy = ObjectObservationVecEnv(
        DummyVecEnv([lambda: make_env("Skiing", objects_in_info=True, record_stats=Monitor,
                                      **kw)] * 2), game="Skiing")
    obs = dummy.reset()
    assert obs.shape == (2, 112)
    done = False
    for _ in range(130):
        obs, _, dones, infos = dummy.step(rng.integers(3, size=2))
        for i in np.flatnonzero(dones):
            done = True
            assert infos[i]["terminal_observation"].shape == (112,)
            assert not np.array_equal(infos[i]["terminal_observation"], obs[i])
    assert done


def test_a_controller_on_the_skiing_vector_skis_a_clean_course(tmp_path):
    """The vector holds what the task needs: benchmarks/skiing_controller.py steers by the
    skier's x and dx and the gates' boxes alone and passes every gate."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("envpool")
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "controller.json"
    proc = subprocess.run([sys.executable, "benchmarks/skiing_controller.py", "--episodes", "2",
                           "--n-envs", "2", "--json", str(out)], cwd=root, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["gates_passed"] == [20, 20] and result["gates_missed"] == [0, 0]
    assert result["mean"] > -6000  # human -4,337; random play about -16,000
