"""benchmarks/skiing_shaping_analysis.py: reward sizes, event counts and the hacking flag."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
sa = load_script("benchmarks/skiing_shaping_analysis.py")

LOOKUP = {"Tree": -5.0, "Gate:pass": 5.0, "Gate:miss": -5.0}


def write_episodes(run_dir: Path, episodes: list[tuple[int, float, dict]]) -> None:
    lines = ["step,env,score,length,aux_return,contacts,paid"]
    for step, score, contacts in episodes:
        blob = json.dumps(contacts).replace('"', '""')
        lines.append(f'{step},0,{score},100,0.0,"{blob}","{{}}"')
    (run_dir / "episodes.csv").write_text("\n".join(lines) + "\n")


def test_hacking_is_event_return_up_while_score_down(tmp_path):
    # More passes and fewer trees over training while the score falls: flagged.
    eps = [(1000 * (k + 1), -15000.0 - 100 * k, {"Gate:pass": k, "Gate:miss": 20 - k, "Tree": 3})
           for k in range(8)]
    write_episodes(tmp_path, eps)
    out = sa.episode_trends(tmp_path, LOOKUP)
    assert out["episodes"] == 8 and out["hacking"]
    assert out["score_slope_per_100k"] == pytest.approx(-100 / 1000 * 1e5)
    assert out["event_return_slope_per_100k"] == pytest.approx(10 / 1000 * 1e5)
    first = out["quarters"][0]
    assert first["episodes"] == 2 and first["Gate:pass"] == 0.5 and first["Tree"] == 3.0
    assert first["event_return"] == pytest.approx(np.mean([5 * 0 - 5 * 20 - 15, 5 - 5 * 19 - 15]))
    # The same events with a rising score: learning, not hacking.
    write_episodes(tmp_path, [(s, -score - 30000, c) for s, score, c in eps])
    assert not sa.episode_trends(tmp_path, LOOKUP)["hacking"]


def test_reward_sizes_divide_by_the_normaliser_std():
    rec = sa.NormalisedRewardRecorder.__new__(sa.NormalisedRewardRecorder)  # no env needed
    rec.game = [np.array([-2.0, -4.0]), np.array([-2.0, -2.0])]
    rec.aux = [np.array([0.0, 10.0]), np.array([0.0, 0.0])]
    rec.std = [2.0, 2.0]
    out = sa.reward_sizes(rec)
    assert out["game_norm_mean"] == pytest.approx(-1.25)
    assert out["aux_norm_abs_when_paid"] == pytest.approx(5.0)
    assert out["aux_steps_fraction"] == pytest.approx(0.25)
    assert out["std_ratio_aux_game"] == pytest.approx(np.std([0, 5, 0, 0]) / np.std([-1, -2, -1, -1]))


def test_recorder_reads_the_std_vecnormalize_divided_by():
    from conftest import SCRIPT, TABLE, Scripted
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from reward_shaping.wrappers import ManualRewardVecEnv

    venv = ManualRewardVecEnv(DummyVecEnv([lambda: Monitor(Scripted(SCRIPT))] * 2), TABLE)
    norm = VecNormalize(venv, norm_obs=False, gamma=0.9, clip_reward=float("inf"))
    rec = sa.NormalisedRewardRecorder(norm, norm)
    rec.reset()
    for _ in range(20):
        _, rewards, _, _ = rec.step(np.zeros(2, np.int64))
        assert np.allclose(rewards, (rec.game[-1] + rec.aux[-1]) / rec.std[-1], rtol=1e-5)
    assert (np.stack(rec.aux) != 0).any()
