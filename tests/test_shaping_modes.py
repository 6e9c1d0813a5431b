"""Shaping that cannot trap: positive, positive_first and proximity modes; stall, hacking and
farming checks, on scripted envs and on Skiing."""

import csv
import json

import gymnasium as gym
import numpy as np
import pytest
from conftest import SCRIPT, TABLE, Scripted, ev

from agents.health import FARM_REPEATS, WINDOW, Episode, HealthMonitor
from envs.atari import make_env
from envs.games import resolve_game
from reward_shaping.potentials import ProximityPotential
from reward_shaping.wrappers import (
    MOVING_EPISODES,
    ManualReward,
    ManualRewardVecEnv,
    ManualRewardVector,
    reward_lookup,
)

GAMMA = 0.9
SKIING = {"Tree": -5.0, "Mogul": -5.0, "Flag": -5.0, "Gate": {"pass": 5.0, "miss": -5.0}}


def episode(env, script=SCRIPT):
    env.reset(seed=0)
    return [env.step(0)[4] for _ in script]


# -- positive, positive_first -----------------------------------------------------------------


def test_positive_pays_only_what_the_table_rewards():
    infos = episode(ManualReward(Scripted(SCRIPT), TABLE, mode="positive"))
    assert [i["aux_reward"] for i in infos] == [5.0, 0.0, 0.0, 10.0, 0.0, 0.0, 0.0, 5.0]
    end = infos[-1]["shaping"]
    assert end["contacts"] == {"Gate:pass": 4, "Tree": 1, "Gate:miss": 1}  # still counted
    assert end["paid"] == {"Gate:pass": 4}
    # The same events in bonus mode pay the negatives too (so the check above can fail).
    bonus = episode(ManualReward(Scripted(SCRIPT), TABLE))
    assert sum(i["aux_reward"] for i in bonus) == 10.0


def test_positive_first_fades_negatives_in_once_the_agent_moves():
    env = ManualReward(Scripted(SCRIPT), TABLE, mode="positive_first", negative_ramp=16)
    shaper = env.unwrapped_shaper = env.shaper
    env.reset(seed=0)
    env.step(0)
    env.reset(seed=0)  # an episode cut short by a reset does not count
    for k in range(MOVING_EPISODES):
        infos = episode(env)
        assert sum(i["aux_reward"] for i in infos) == 20.0  # the 4 passes, no penalty
        assert shaper.ramp_start == (None if k < MOVING_EPISODES - 1 else shaper.timesteps)
    start = shaper.ramp_start
    infos = episode(env)
    # Tree on the episode's 3rd step, the missed gate on its 6th: 3/16 and 6/16 of -5.
    assert infos[2]["aux_reward"] == pytest.approx(-5 * 3 / 16)
    assert infos[5]["aux_reward"] == pytest.approx(-5 * 6 / 16)
    for _ in range(2):
        infos = episode(env)
    assert shaper.timesteps - start > 16 and shaper.negative_weight == 1.0
    assert sum(i["aux_reward"] for i in infos) == 10.0  # as bonus, once faded in
    # No positive entry to wait for: the ramp starts at once.
    only_negative = ManualReward(Scripted(SCRIPT), {"Tree": -5.0}, mode="positive_first",
                                 negative_ramp=0)
    assert only_negative.shaper.ramp_start == 0
    assert sum(i["aux_reward"] for i in episode(only_negative)) == -5.0


def test_positive_first_ramp_survives_a_resume(tmp_path):
    pytest.importorskip("envpool")
    from agents.train import main

    out = tmp_path / "pf"
    args = ["--no-game-defaults", "--obs", "objects", "--shaping-mode", "positive_first",
            "--negative-ramp", "0",
            "--n-envs", "2", "--max-episode-frames", "80", "--no-progress", "--device", "cpu",
            "--eval-episodes", "0", "--save-every", "40", "--env-backend", "envpool"]
    assert main(["Skiing", "--steps", "40", "--out", str(out), *args]) == 0
    import pickle

    from agents.checkpoint import find_checkpoint

    ckpt = find_checkpoint(out)
    assert "shaping_ramp_start" in ckpt.state
    # Pretend the agent started moving at step 17: the resumed run must keep that start.
    with open(ckpt.path / "state.pkl", "wb") as f:
        pickle.dump({**ckpt.state, "shaping_ramp_start": 17}, f)
    assert main(["--resume", str(out), "--steps", "80"]) == 0
    assert find_checkpoint(out).state["shaping_ramp_start"] == 17


def test_penalty_veto_reaches_the_wrapper_and_the_logs(tmp_path):
    pytest.importorskip("envpool")
    import yaml

    from agents.train import main

    out = tmp_path / "veto"
    assert main(["Skiing", "--steps", "160", "--out", str(out), "--no-game-defaults", "--obs",
                 "objects", "--penalty-veto", "3", "--n-envs", "2", "--max-episode-frames", "80",
                 "--no-progress", "--device", "cpu", "--eval-episodes", "0",
                 "--env-backend", "envpool"]) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["penalty_veto"] == 3
    with open(out / "progress.csv", newline="") as f:
        assert "shaping/vetoed_per_episode" in next(csv.reader(f))


# -- proximity --------------------------------------------------------------------------------


def test_proximity_potential_weighs_objects_by_closeness():
    phi = ProximityPotential("Skiing", reward_lookup(SKIING), radius=20)
    cats = ("Player", "Tree", "Mogul", "Flag", "Gate")
    skier = [70, 40, 10, 18]

    def at(*objects, avatar=True):
        rows = ([(0, skier)] if avatar else []) + [(cats.index(c), b) for c, b in objects]
        return np.array([[r[0] for r in rows]]), np.array([[r[1] for r in rows]])

    assert phi(*at())[0] == 0.0
    assert phi(*at(("Tree", [70, 58, 16, 30])))[0] == -5.0  # touching: full weight
    assert phi(*at(("Tree", [90, 40, 16, 30])))[0] == pytest.approx(-5 * (1 - 10 / 20))
    assert phi(*at(("Mogul", [70, 88, 16, 7])))[0] == 0.0  # 30 px below: out of reach
    # A gate counts by its pass reward; its flags count through it, not on their own.
    gate = phi(*at(("Flag", [62, 50, 5, 14]), ("Flag", [94, 50, 5, 14]), ("Gate", [67, 50, 27, 14])))
    assert gate[0] == 5.0
    assert phi(*at(("Tree", [70, 58, 16, 30]), avatar=False))[0] == 0.0  # no skier, no potential
    with pytest.raises(ValueError, match="radius"):
        ProximityPotential("Skiing", {}, radius=0)


def test_a_place_counts_from_across_the_screen():
    """Freeway's far sidewalk (y 0-16) counts with its own radius (176 px), not the objects' 32."""
    phi = ProximityPotential("Freeway", {"Sidewalk": 5.0, "Car": -5.0}, radius=32)
    cats = resolve_game("Freeway").categories  # Chicken, Car

    def at(y, *cars):
        rows = [(0, [44, y, 6, 8])] + [(1, b) for b in cars]
        return np.array([[r[0] for r in rows]]), np.array([[r[1] for r in rows]])

    start, top = phi(*at(187))[0], phi(*at(18))[0]
    assert start == pytest.approx(5 * (1 - 171 / 176)) and top == pytest.approx(5 * (1 - 2 / 176))
    assert phi(*at(100))[0] == pytest.approx(5 * (1 - 84 / 176))  # halfway: half of it
    # A car 10 px away subtracts as an object does, with the objects' radius.
    assert phi(*at(100, [60, 100, 8, 8]))[0] == pytest.approx(5 * (1 - 84 / 176) - 5 * (1 - 10 / 32))
    assert phi(np.array([[1]]), np.array([[[60, 100, 8, 8]]]))[0] == 0.0  # no chicken: nothing
    assert cats[0] == "Chicken" and phi.active
    assert not ProximityPotential("Freeway", {"Sidewalk": 0.0}).active


def test_freeway_pays_the_climb_and_takes_it_back_at_the_crossing():
    """On the training path (envpool, objects from RAM): pressing up earns the potential's
    rise step by step; the crossing, where the chicken restarts at the bottom, returns it."""
    pytest.importorskip("envpool")
    from agents.environments import EnvSettings, make_vec, resolve_target

    venv = ManualRewardVecEnv(
        make_vec(resolve_target("Freeway"), EnvSettings(backend="envpool"), 1, 3,
                 track_objects=True, vec_env="dummy"),
        {"Sidewalk": 5.0}, mode="proximity", gamma=1.0, game="Freeway")
    venv.reset()
    auxes, scored = [], []
    for _ in range(250):
        _, _, _, [info] = venv.step(np.array([1]))  # UP
        auxes.append(info["aux_reward"])
        scored.append(info["game_reward"] > 0)
    venv.close()
    first = scored.index(True)
    climb = np.array(auxes[1:first])
    assert 20 < first < 240 and climb.sum() > 4.0 and (climb > 0).sum() > 0.5 * len(climb)
    assert auxes[first] < -4.0  # back at the bottom: the climb's potential is returned


FREEWAY = {"Car": -5.0, "Sidewalk": 5.0}


def _up(mode, steps=600, table=FREEWAY, **kw):
    env = ManualReward(make_env("Freeway", obs="objects"), table, mode=mode, gamma=1.0, **kw)
    env.reset(seed=0)
    return [env.step(1)[4] for _ in range(steps)]  # UP


def test_proximity_positive_and_contact_keep_the_penalties_out_of_the_potential():
    """Freeway, pressing up: both new modes hold the sidewalk alone in the potential (the cars'
    term gone); proximity_positive pays no contact, proximity_contact pays each car -5 at once."""
    ref = _up("proximity", table={"Sidewalk": 5.0})
    full, pos, con = _up("proximity"), _up("proximity_positive"), _up("proximity_contact")
    hits = [sum(e.key == "Car" for e in i["interactions"]) for i in ref]
    assert sum(hits) >= 5  # pressing up meets cars (so the penalty checks below can fail)
    assert [i["potential"] for i in pos] == [i["potential"] for i in ref]
    assert [i["potential"] for i in con] == [i["potential"] for i in ref]
    # The table as read puts the cars in the potential: proximity differs (mutation guard).
    assert any(a["potential"] != b["potential"] for a, b in zip(full, ref))
    assert [i["aux_reward"] for i in pos] == [i["aux_reward"] for i in ref]
    assert all(i["aux_events"] == [] for i in pos)
    assert [c["aux_reward"] for c in con] == pytest.approx(
        [r["aux_reward"] - 5.0 * h for r, h in zip(ref, hits)])
    assert [len(c["aux_events"]) for c in con] == hits
    # The cars are reported as contacts in both; only proximity_contact counts them paid.
    env = ManualReward(make_env("Freeway", obs="objects", max_episode_frames=2000), FREEWAY,
                       mode="proximity_contact")
    env.reset(seed=0)
    while True:
        _, _, term, trunc, info = env.step(1)
        if term or trunc:
            break
    end = info["shaping"]
    assert end["paid"] == {"Car": end["contacts"]["Car"]} and end["contacts"]["Car"] >= 5
    assert end["event_return"] == pytest.approx(-5.0 * end["contacts"]["Car"])


def test_proximity_contact_takes_the_veto_and_proximity_positive_refuses_it():
    with pytest.raises(ValueError, match="penalty_veto applies to modes that pay events"):
        ManualReward(make_env("Freeway", obs="objects"), FREEWAY, mode="proximity_positive",
                     penalty_veto=3)
    vetoed = _up("proximity_contact", steps=300, penalty_veto=3)
    plain = _up("proximity_contact", steps=300)
    # Freeway never pays in a contact's window: each penalty is paid 2 steps late, none waived.
    late = [sum(e.key == "Car" for e in i["aux_events"]) for i in vetoed]
    now = [sum(e.key == "Car" for e in i["aux_events"]) for i in plain]
    assert sum(now) > 0 and late == [0, 0] + now[:-2]


def _phi_of(records, phi) -> float:
    from envs.slots import pad_records

    cat, _, box = pad_records([records], phi.spec.categories)
    return float(phi(cat, box)[0])


def test_proximity_shaping_telescopes_on_skiing_with_the_objects_it_sees():
    """Each step pays gamma * Phi(s') - Phi(s), Phi recomputed here from info['objects'];
    a time-limit end keeps Phi; events pay nothing themselves."""
    env = ManualReward(make_env("Skiing", objects_in_info=True, max_episode_frames=1200),
                       SKIING, mode="proximity", gamma=GAMMA, radius=24)
    phi = ProximityPotential("Skiing", reward_lookup(SKIING), radius=24)
    _, info = env.reset(seed=2)
    phis, auxes, events = [_phi_of(info["objects"], phi)], [], 0
    rng = np.random.default_rng(2)
    while True:
        _, reward, term, trunc, info = env.step(int(rng.integers(3)))
        phis.append(0.0 if term else _phi_of(info["objects"], phi))
        auxes.append(info["aux_reward"])
        assert info["aux_events"] == [] and reward == pytest.approx(info["game_reward"] + auxes[-1])
        events += len(info["interactions"])
        if term or trunc:
            break
    phis = np.array(phis)
    assert np.allclose(auxes, GAMMA * phis[1:] - phis[:-1])
    assert trunc and info["potential"] == pytest.approx(phis[-1])
    assert np.count_nonzero(phis) > 20 and events > 0  # objects came near; events happened
    # Contacts are counted, none as paid: nothing for the farming check to find.
    totals = info["shaping"]
    assert sum(totals["contacts"].values()) == events
    assert totals["paid"] == {} and totals["max_repeat"] == 0
    total = sum(GAMMA ** t * a for t, a in enumerate(auxes))
    assert total == pytest.approx(GAMMA ** len(auxes) * phis[-1] - phis[0], abs=1e-6)


@pytest.mark.parametrize("backend", ["gymnasium", "envpool"])
def test_proximity_in_the_vecenv_and_vector_forms(backend):
    if backend == "envpool":
        pytest.importorskip("envpool")
    from agents.environments import EnvSettings, make_vec, resolve_target

    settings = EnvSettings(max_episode_frames=400, backend=backend)
    venv = ManualRewardVecEnv(
        make_vec(resolve_target("Skiing"), settings, 2, 5, track_objects=True, vec_env="dummy",
                 objects_in_info=True), SKIING, mode="proximity", gamma=GAMMA, game="Skiing")
    venv.reset()
    rng = np.random.default_rng(5)
    pots, auxes, ends = [[], []], [[], []], 0
    for _ in range(160):
        _, _, dones, infos = venv.step(rng.integers(3, size=2))
        for i, info in enumerate(infos):
            pots[i].append(info["potential"])
            auxes[i].append(info["aux_reward"])
            if dones[i]:
                ends += 1
                assert info["TimeLimit.truncated"]
                # Within the episode: F_t = gamma * Phi_t - Phi_{t-1} after its first step.
                a, p = np.array(auxes[i][1:]), np.array(pots[i])
                assert np.allclose(a, GAMMA * p[1:] - p[:-1])
                pots[i], auxes[i] = [], []
    assert ends >= 2
    venv.close()
    if backend == "envpool":
        from envs.atari import make_vec_env

        vec = ManualRewardVector(make_vec_env("Skiing", 2, backend="envpool", num_threads=1,
                                              max_episode_frames=400), SKIING, mode="proximity",
                                 game="Skiing")
        vec.reset(seed=0)
        outs = [vec.step(rng.integers(3, size=2)) for _ in range(110)]
        # The step after an episode's end starts the next one: nothing is paid there.
        after = [k + 1 for k, o in enumerate(outs[:-1]) if o[3].any()]
        assert after and all((outs[k][4]["aux_reward"] == 0).all() for k in after)


def test_proximity_needs_the_objects():
    with pytest.raises(ValueError, match="ObjectTracker"):
        ManualReward(make_env("Skiing", track_objects=False), SKIING, mode="proximity")
    from stable_baselines3.common.vec_env import DummyVecEnv

    with pytest.raises(ValueError, match="pass game="):
        ManualRewardVecEnv(DummyVecEnv([lambda: Scripted(SCRIPT)]), TABLE, mode="proximity")
    with pytest.raises(ValueError, match="next-step autoreset"):
        ManualRewardVector(gym.vector.SyncVectorEnv(
            [lambda: Scripted(SCRIPT)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP),
            TABLE, mode="proximity", game="Skiing")


# -- health checks ----------------------------------------------------------------------------


def _episodes(n, start=0, **kw):
    rng = np.random.default_rng(start)
    out = []
    for k in range(n):
        fields = {name: (f(k) if callable(f) else f) for name, f in kw.items()}
        fields["score"] = fields.get("score", -10_000.0) + rng.normal(0, 200)
        out.append(Episode(step=(start + k) * 1000, **{"length": 400, **fields}))
    return out


def test_health_flags_each_trap_once_and_not_a_healthy_run():
    healthy = HealthMonitor(limit=1000)
    for e in _episodes(400, score=lambda k: -12_000.0 + 10 * k, aux_return=lambda k: k / 10):
        assert healthy.add(e) == []
    report = healthy.report()
    assert report["stall"] is report["hacking"] is report["farming"] is None
    assert report["episodes"] == 400 and report["thresholds"]["window"] == WINDOW

    stall = HealthMonitor(limit=1000)
    for e in _episodes(60) + _episodes(60, 60, score=-29_000.0, length=1000):
        stall.add(e)
    assert set(stall.flags) == {"stall"} and stall.flags["stall"]["at_limit"] >= WINDOW // 2

    hacking = HealthMonitor(limit=1000)
    messages = []
    for e in _episodes(200, score=lambda k: -9_000.0 - 30 * k, aux_return=lambda k: 0.5 * k):
        messages += hacking.add(e)
    assert set(hacking.flags) == {"hacking"} and len(messages) == 1
    assert "auxiliary return rose" in messages[0]

    # A Skiing stall ends on the game's own clock (5 minutes: 4,500-4,507 agent steps at
    # about -29,970, as the ablation's stalled PPO runs did), long before the wrapper's
    # 27,000-step limit: a run's monitor must know that clock.
    from agents.environments import resolve_target
    from agents.runs import RunConfig, episode_step_limit

    limit = episode_step_limit(RunConfig(game="Skiing"), resolve_target("Skiing"))
    skier = HealthMonitor(limit=limit)
    for e in _episodes(60, score=-16_000.0, length=1_150) + _episodes(
            60, 60, score=-29_970.0, length=lambda k: 4_500 + k % 8):
        skier.add(e)
    assert limit == 4_500 and set(skier.flags) == {"stall"}
    # Stalled from the first episode (the ablation's bonus seed 0): no better window to fall
    # from, so only random play's score tells that standing still is a stall.
    from agents.runs import random_score

    seeing = HealthMonitor(limit=limit, floor=random_score(resolve_target("Skiing")))
    for e in _episodes(WINDOW, score=-29_974.0, length=4_503):
        seeing.add(e)
    assert "stall" in seeing.flags and "random play's -17,098" in seeing.flags["stall"]["why"]
    assert seeing.flags["stall"]["episode"] == WINDOW  # the first full window

    farming = HealthMonitor(limit=None)
    for e in _episodes(100, max_repeat=lambda k: FARM_REPEATS + 3 if k % 3 == 0 else 1,
                       repeated="Tree"):
        farming.add(e)
    assert set(farming.flags) == {"farming"} and farming.flags["farming"]["keys"] == ["Tree"]
    with pytest.raises(ValueError, match="window"):
        HealthMonitor(limit=10, window=1)


class _Stalling(gym.Env):
    """Episodes of 10 steps at -1 each; after 70 episodes they run to the 40-step limit."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self) -> None:
        self.episodes, self.t = 0, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episodes, self.t = self.episodes + 1, 0
        return np.zeros(1, np.float32), {"interactions": []}

    def step(self, action):
        self.t += 1
        limit = 40 if self.episodes > 70 else 10
        farm = [ev("Tree")] if self.t <= FARM_REPEATS else []  # the same tree, again and again
        return np.zeros(1, np.float32), -1.0, False, self.t >= limit, {"interactions": farm}


def test_a_training_run_warns_and_records_a_stall_and_farming(tmp_path, capsys):
    from stable_baselines3 import A2C
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.callbacks import RunCallback, StopRequest

    venv = ManualRewardVecEnv(DummyVecEnv([lambda: Monitor(_Stalling())]), {"Tree": 1.0})
    model = A2C("MlpPolicy", venv, n_steps=8, seed=0, device="cpu")
    health = HealthMonitor(limit=40)
    callback = RunCallback(tmp_path, 3000, 10**6, lambda m: tmp_path, StopRequest(), None,
                           progress=False, health=health)
    model.learn(3000, callback=callback)
    callback.close()
    assert set(health.flags) == {"stall", "farming"}
    printed = capsys.readouterr().out
    assert "warning: stall at step" in printed and "warning: farming at step" in printed
    with open(tmp_path / "episodes.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["max_repeat"] == str(FARM_REPEATS) and rows[0]["repeated"] == "Tree"
    # A resumed run sees the history again: the same flags, at the same steps.
    again = HealthMonitor(limit=40)
    RunCallback(tmp_path, 3000, 10**6, lambda m: tmp_path, StopRequest(), 10**9,
                progress=False, health=again).close()
    assert json.dumps(again.flags, sort_keys=True) == json.dumps(health.flags, sort_keys=True)


def test_health_cli_rechecks_a_run_from_its_episodes(tmp_path):
    """python -m agents.health RUN_DIR replays episodes.csv with the run's limit (Skiing's
    5-minute clock): a run trained before a check existed still gets it."""
    import subprocess
    import sys

    run = tmp_path / "ski"
    run.mkdir()
    (run / "config.yaml").write_text("game: Skiing\nenv: {frame_skip: 4}\n")
    rows = ["step,env,score,length,aux_return,contacts,paid"]  # written before max_repeat
    rows += [f"{1000 * k},0,{-16000 if k < 60 else -29970},{1150 if k < 60 else 4503},0,{{}},{{}}"
             for k in range(120)]
    (run / "episodes.csv").write_text("\n".join(rows) + "\n")
    proc = subprocess.run([sys.executable, "-m", "agents.health", str(run),
                           str(tmp_path / "missing")], capture_output=True, text=True)
    assert proc.returncode == 2 and "missing" in proc.stderr
    assert "120 episodes, limit 4500 steps: stall at step" in proc.stdout
    # Shaped (the config's default) and never paid: unshaped in effect; unshaped: no flag.
    assert "; inert at step 49,000: no auxiliary reward" in proc.stdout
    (run / "config.yaml").write_text("game: Skiing\nshaping: none\nenv: {frame_skip: 4}\n")
    proc = subprocess.run([sys.executable, "-m", "agents.health", str(run)],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "stall at step" in proc.stdout and "inert" not in proc.stdout


def test_a_rebound_paid_faster_than_real_hits_is_farming():
    """Pong's shaped agents were paid about one hit in 50 steps (healthy); Tennis's seed 0
    was paid its ball once every 8 steps (contacts that are not hits): farming."""
    from agents.health import REBOUND_STEPS

    def run(paid, length, rebounds=frozenset({"Ball"})):
        mon = HealthMonitor(limit=27_000, rebounds=rebounds)
        for e in _episodes(2 * WINDOW, length=length, paid={"Ball": paid}):
            mon.add(e)
        return mon.flags.get("farming")

    assert run(52, 2_600) is None                                 # Pong: real rallies
    assert run(2_600 // REBOUND_STEPS, 2_600) is None             # exactly the bound
    flag = run(490, 3_900)
    assert flag and flag["keys"] == ["Ball"] and "rebounding Ball" in flag["why"]
    assert run(490, 3_900, rebounds=frozenset()) is None          # not a rebound: per instance


def test_farming_and_hacking_are_not_checked_under_a_markov_potential():
    # proximity pays the potential alone: Ms. Pac-Man's pills touched 10 times an episode
    # were flagged as farmed though not one contact was paid, and its aux_return (about
    # -(1 - gamma) * sum of Phi) rose as the agent ate fewer pills: flagged as hacking.
    from agents.environments import resolve_target
    from agents.health import run_monitor
    from agents.runs import RunConfig

    def flags(mon):
        for e in _episodes(2 * WINDOW, length=3_900, paid={"Ball": 490}):
            mon.add(e)
        return mon.flags

    assert "farming" in flags(HealthMonitor(limit=27_000, rebounds=frozenset({"Ball"})))
    assert "farming" not in flags(HealthMonitor(limit=27_000, rebounds=frozenset({"Ball"}),
                                                markov_potential=True))
    for markov, expected in ((False, {"hacking"}), (True, set())):
        mon = HealthMonitor(limit=1000, markov_potential=markov)
        for e in _episodes(200, score=lambda k: -9_000.0 - 30 * k, aux_return=lambda k: 0.5 * k):
            mon.add(e)
        assert set(mon.flags) == expected
    target = resolve_target("Tennis")
    for mode in ("proximity", "proximity_positive", "proximity_contact"):
        assert run_monitor(RunConfig(game="Tennis", shaping_mode=mode), target).markov_potential
    assert not run_monitor(RunConfig(game="Tennis", shaping_mode="potential"),
                           target).markov_potential  # a history potential can be exploited
    # The CSV form of the payments (episodes.csv) is read the same way.
    row = {"step": "1", "score": "0", "length": "3900", "aux_return": "2450",
           "paid": '{"Ball": 490}', "max_repeat": "0"}
    assert Episode.from_row(row).paid == {"Ball": 490}
    assert Episode.from_row(dict(row, paid="not json")).paid == {}


def test_inert_flags_a_shaped_run_that_was_never_paid_and_is_withdrawn_when_one_is():
    """Kangaroo's ``positive`` arm paid nothing in 1M steps (the joey, the fruit and the bell
    were never reached): unshaped in effect.  Such a run must say so; a run that pays once,
    or an unshaped run, must not."""
    def run(paid_at: int | None, shaped: bool = True, n: int = 2 * WINDOW):
        mon = HealthMonitor(limit=None, shaped=shaped)
        messages = []
        for e in _episodes(n, aux_return=lambda k: 5.0 if k == paid_at else 0.0):
            messages += mon.add(e)
        return mon, messages

    mon, messages = run(None)
    assert set(mon.flags) == {"inert"} and mon.flags["inert"]["episode"] == WINDOW
    assert len(messages) == 1 and messages[0].startswith("inert at step")
    assert "unshaped in effect" in mon.report()["inert"]["why"]
    assert run(None, n=WINDOW - 1)[0].flags == {}         # no full window yet
    assert run(None, shaped=False)[0].flags == {}         # unshaped runs are never inert
    assert run(0)[0].flags == {}                          # paid in the first episode
    late, messages = run(WINDOW + 10)                     # raised, then the shaping paid
    assert len(messages) == 1 and late.report()["inert"] is None
    # A payment counted without an auxiliary return (``paid``) is a payment too.
    mon = HealthMonitor(limit=None, shaped=True)
    for e in _episodes(WINDOW, paid={"Fruit": 1}):
        mon.add(e)
    assert mon.flags == {}


def test_cut_flags_training_episodes_cut_by_the_limit_above_random_play():
    """Tennis's unshaped PPO kept losing matches going until the 27,000-step cut in 5 to 25
    of 50 training episodes, a few points down: above random play, so not a ``stall``,
    but its training scores are tallies at the cut.  Below random play it is no ``cut``."""
    def run(cut: int, cut_score: float, floor: float | None) -> dict:
        mon = HealthMonitor(limit=27_000, floor=floor)
        for k in range(50):
            at = k >= 50 - cut
            mon.add(Episode(step=(k + 1) * 5_000, score=cut_score if at else -22.0,
                            length=27_000 if at else 4_000))
        return mon.report()

    flag = run(5, -9.0, -23.8)["cut"]
    assert flag["episodes"] == 5 and flag["step"] == 250_000
    assert flag["why"].startswith("5 of the last 50 episodes were cut by the time limit")
    assert run(4, -9.0, -23.8)["cut"] is None           # under the share
    assert run(5, -25.0, -23.8)["cut"] is None          # below random play: a stall's business
    assert run(5, -9.0, None)["cut"] is None            # no random score: no verdict
    report = run(30, -30.0, -23.8)
    assert report["stall"] and not report["cut"]        # most of the window, below random
    assert report["thresholds"]["cut_share"] == 0.1


def test_eval_stall_flags_an_agent_that_stands_still_when_evaluated(tmp_path):
    """A constant-step Skiing seed stood still in 9 of its 20 evaluation episodes while its
    training windows stayed under the stall share; the final evaluation is checked too."""
    import subprocess
    import sys

    moving = ([-5_000.0] * 18, [700] * 18)
    for stuck, floor, raised in ((2, -17_098.0, "eval_stall"),  # 2 of 20 at the clock
                                 (1, -17_098.0, None),          # 1 of 19: luck
                                 (2, None, None),               # no random score: no verdict
                                 (2, -40_000.0, "eval_cut")):   # cut, but above random
        mon = HealthMonitor(limit=4_500, floor=floor)
        n = 20 if stuck == 2 else 19
        scores = moving[0][:n - stuck] + [-29_972.0] * stuck
        lengths = moving[1][:n - stuck] + [4_504] * stuck
        messages = mon.add_evaluation(scores, lengths, step=10)
        assert [m.split(":")[0] for m in messages] == ([raised] if raised else [])
        report = mon.report()
        assert {f for f in ("eval_stall", "eval_cut") if report[f]} == ({raised} if raised else set())
    # Tennis's unshaped PPO: 9 of 10 evaluation episodes cut at 27,000 steps, a few points down.
    tennis = HealthMonitor(limit=27_000, floor=-23.8)
    [cut] = tennis.add_evaluation([-24.0] + [-4.0] * 9, [1_500] + [27_000] * 9)
    assert cut.startswith("eval_cut: 9 of 10") and "not finished games" in cut
    assert "2 of 20 evaluation episodes ran to the time limit" in \
        HealthMonitor(limit=4_500, floor=-17_098.0).add_evaluation(
            [-29_972.0] * 2 + [-5_000.0] * 18, [4_504] * 2 + [700] * 18)[0]
    with pytest.raises(ValueError, match="lengths"):
        HealthMonitor(limit=10, floor=0.0).add_evaluation([1.0], [])

    # The CLI rechecks a finished run's evaluation from summary.json.
    run = tmp_path / "ski"
    run.mkdir()
    (run / "config.yaml").write_text("game: Skiing\nenv: {frame_skip: 4}\n")
    rows = ["step,env,score,length,aux_return,contacts,paid"]
    rows += [f"{1000 * k},0,-9000,700,0,{{}},{{}}" for k in range(60)]
    (run / "episodes.csv").write_text("\n".join(rows) + "\n")
    (run / "summary.json").write_text(json.dumps(
        {"steps": 60_000, "eval": {"scores": [-29_970.0] * 9 + [-5_000.0] * 11,
                                   "lengths": [4_503] * 9 + [700] * 11}}))
    proc = subprocess.run([sys.executable, "-m", "agents.health", str(run)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "eval_stall at step 60,000: 9 of 20 evaluation episodes" in proc.stdout
    (run / "summary.json").write_text("{not json")
    proc = subprocess.run([sys.executable, "-m", "agents.health", str(run)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "cannot be read" in proc.stderr


# -- pay_cap: contacts that cannot be farmed ------------------------------------------------------


def _touch(category: str, instance: int, kind: str = "touch"):
    from envs.interactions import InteractionEvent

    return InteractionEvent(1, 1, category, instance, (0, 0, 1, 1), (0, 0, 1, 1), kind)


# Gate 1 passed three times (the same instance: a detector that re-reports it, or a diver
# the full submarine cannot take), gate 2 once, tree 3 hit twice.
CAPPED = [[_touch("Gate", 1, "pass")], [_touch("Gate", 1, "pass")],
          [_touch("Gate", 2, "pass"), _touch("Gate", 1, "pass")], [_touch("Tree", 3)], [_touch("Tree", 3)]]


# The cap holds rewards back, never penalties: tree 3 costs both times.
@pytest.mark.parametrize("cap,expected", [(0, [5.0, 5.0, 10.0, -5.0, -5.0]),
                                          (1, [5.0, 0.0, 5.0, -5.0, -5.0]),
                                          (2, [5.0, 5.0, 5.0, -5.0, -5.0])])
def test_pay_cap_pays_each_object_its_share_per_episode(cap, expected):
    env = ManualReward(Scripted(CAPPED), TABLE, pay_cap=cap)
    assert [i["aux_reward"] for i in episode(env, CAPPED)] == expected
    # A new episode starts every object's count again.
    assert [i["aux_reward"] for i in episode(env, CAPPED)] == expected
    end = episode(env, CAPPED)[-1]["shaping"]
    assert end["contacts"] == {"Gate:pass": 4, "Tree": 2}  # every contact is still counted
    # What the farming check reads: rewards only (tree 3's two penalties are not farming).
    assert (end["max_repeat"], end["repeated"]) == (3 if cap == 0 else cap, "Gate:pass")


# Breakout: the same ball hit back six times, and one brick (not a rebound) touched six times.
RALLY = [[_touch("Ball", 0)]] * 6
GRAZED = [[_touch("Block", 7)]] * 6


@pytest.mark.parametrize("game", ["Breakout", None])
def test_a_rebounding_ball_is_paid_every_hit_and_not_counted_as_farming(game):
    from envs.games import resolve_game

    table = {"Ball": 5.0, "Block": 5.0}
    assert resolve_game("Breakout").rebounds == frozenset({"Ball"})
    env = ManualReward(Scripted(RALLY), table, game=game)
    steps = episode(env, RALLY)
    assert [i["aux_reward"] for i in steps] == [5.0] * 6        # each hit pays
    end = steps[-1]["shaping"]
    # Declared rebounds are left out of the farming count; a game that does not declare
    # them (a plain mapping, no game) counts the ball like any object.
    assert (end["max_repeat"], end["repeated"]) == ((0, "") if game else (6, "Ball"))
    end = episode(ManualReward(Scripted(GRAZED), table, game=game), GRAZED)[-1]["shaping"]
    assert (end["max_repeat"], end["repeated"]) == (6, "Block")  # a brick is not a rebound


def test_a_penalty_paid_again_is_not_farming():
    hurt = [[_touch("Tree", 3)]] * 6  # the same tree, six times: -5 each, never capped
    steps = episode(ManualReward(Scripted(hurt), TABLE, pay_cap=1), hurt)
    assert [i["aux_reward"] for i in steps] == [-5.0] * 6
    assert (steps[-1]["shaping"]["max_repeat"], steps[-1]["shaping"]["repeated"]) == (0, "")


def test_pay_cap_is_the_same_in_the_vector_forms():
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = ManualRewardVecEnv(DummyVecEnv([lambda: Scripted(CAPPED)] * 2), TABLE, pay_cap=1)
    venv.reset()
    got = [(venv.step(np.zeros(2, int))[1] + 1.0).tolist() for _ in CAPPED]  # -1 per step
    assert got == [[r, r] for r in (5.0, 0.0, 5.0, -5.0, -5.0)]
    vec = ManualRewardVector(gym.vector.SyncVectorEnv([lambda: Scripted(CAPPED)]), TABLE, pay_cap=1)
    vec.reset(seed=0)
    rewards = [float(vec.step(np.zeros(1, int))[1][0]) for _ in CAPPED]
    assert [r + 1.0 for r in rewards] == [5.0, 0.0, 5.0, -5.0, -5.0]


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_pay_cap_must_be_a_whole_number(bad):
    with pytest.raises(ValueError, match="pay_cap must be an int >= 0"):
        ManualReward(Scripted(CAPPED), TABLE, pay_cap=bad)


# -- penalty_veto: the game's own reward outranks the table's penalty -----------------------------


class Scoring(Scripted):
    """``Scripted`` whose game reward per step is scripted too."""

    def __init__(self, script, game_rewards):
        super().__init__(script)
        self.game_rewards = game_rewards

    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        return obs, self.game_rewards[self.t - 1], terminated, truncated, info


# A tree hit, then the game pays a step later (a monkey punched: vetoed); a tree hit with no
# score after it (paid 2 steps late); a tree hit in a scoring step (vetoed); a tree hit one
# step before the episode ends (paid in the last step); a gate passed (paid at once).
VETO_SCRIPT = [[_touch("Tree", 1)], [], [_touch("Tree", 2)], [], [],
               [_touch("Tree", 3), _touch("Gate", 9, "pass")], [_touch("Tree", 4)], []]
VETO_GAME = [0.0, 200.0, 0.0, 0.0, 0.0, 100.0, 0.0, 0.0]
VETOED = [0.0, 0.0, 0.0, 0.0, -5.0, 5.0, 0.0, -5.0]


def test_penalty_veto_waives_a_penalty_the_game_pays_for_and_delays_the_rest():
    env = ManualReward(Scoring(VETO_SCRIPT, VETO_GAME), TABLE, penalty_veto=3)
    env.reset(seed=0)
    steps = [env.step(0) for _ in VETO_SCRIPT]
    # The agent's reward is the game's plus the auxiliary one.
    assert [s[1] - g for s, g in zip(steps, VETO_GAME)] == VETOED
    assert [i["aux_reward"] for *_, i in steps] == VETOED
    # A late penalty is reported in the step it is paid.
    assert [[e.instance for e in i["aux_events"]] for *_, i in steps] == \
        [[], [], [], [], [2], [9], [], [4]]
    end = steps[-1][4]["shaping"]
    assert end["contacts"] == {"Tree": 4, "Gate:pass": 1}
    assert end["paid"] == {"Tree": 2, "Gate:pass": 1}
    assert end["vetoed"] == {"Tree": 2}
    # Without the veto every tree costs at once (so the checks above can fail).
    plain = ManualReward(Scoring(VETO_SCRIPT, VETO_GAME), TABLE)
    plain.reset(seed=0)
    assert [plain.step(0)[4]["aux_reward"] for _ in VETO_SCRIPT] == \
        [-5.0, 0.0, -5.0, 0.0, 0.0, 0.0, -5.0, 0.0]


def test_penalty_veto_of_one_step_waits_for_nothing():
    env = ManualReward(Scoring(VETO_SCRIPT, VETO_GAME), TABLE, penalty_veto=1)
    env.reset(seed=0)
    # Only the tree hit in a scoring step is waived; the others cost at once.
    assert [env.step(0)[4]["aux_reward"] for _ in VETO_SCRIPT] == \
        [-5.0, 0.0, -5.0, 0.0, 0.0, 5.0, -5.0, 0.0]


def test_penalty_veto_pays_what_waits_when_an_episode_is_truncated_and_drops_it_on_reset():
    env = ManualReward(Scoring(VETO_SCRIPT[:7], VETO_GAME[:7]), TABLE, penalty_veto=3)
    env.env.truncate = True
    env.reset(seed=0)
    infos = [env.step(0)[4] for _ in range(7)]
    assert infos[-1]["aux_reward"] == -5.0 and infos[-1]["shaping"]["paid"]["Tree"] == 2
    # A reset that cuts an episode short drops the penalty still waiting.
    env.reset(seed=0)
    env.step(0)
    env.reset(seed=0)
    assert [env.step(0)[4]["aux_reward"] for _ in range(3)] == [0.0, 0.0, 0.0]


def test_penalty_veto_is_the_same_in_the_vector_forms():
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = ManualRewardVecEnv(DummyVecEnv([lambda: Scoring(VETO_SCRIPT, VETO_GAME)] * 2), TABLE,
                              penalty_veto=3)
    venv.reset()
    got = [(venv.step(np.zeros(2, int))[1] - g).tolist() for g in VETO_GAME]
    assert got == [[r, r] for r in VETOED]
    vec = ManualRewardVector(gym.vector.SyncVectorEnv([lambda: Scoring(VETO_SCRIPT, VETO_GAME)]),
                             TABLE, penalty_veto=3)
    vec.reset(seed=0)
    assert [float(vec.step(np.zeros(1, int))[1][0]) - g for g in VETO_GAME] == VETOED


def test_penalty_veto_leaves_positive_mode_alone():
    env = ManualReward(Scoring(VETO_SCRIPT, VETO_GAME), TABLE, mode="positive", penalty_veto=3)
    env.reset(seed=0)
    assert [env.step(0)[4]["aux_reward"] for _ in VETO_SCRIPT] == [0, 0, 0, 0, 0, 5.0, 0, 0]


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_penalty_veto_must_be_a_whole_number(bad):
    with pytest.raises(ValueError, match="penalty_veto must be an int >= 0"):
        ManualReward(Scripted(CAPPED), TABLE, penalty_veto=bad)


def test_penalty_veto_is_refused_by_the_potential_modes():
    with pytest.raises(ValueError, match="penalty_veto applies to modes that pay events"):
        ManualReward(Scripted(CAPPED), TABLE, mode="potential", penalty_veto=3)
