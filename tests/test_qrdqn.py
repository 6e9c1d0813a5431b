"""QR-DQN (sb3-contrib) through agents.train: learning, replay buffer across resume, Atari."""

import json

import pytest

from agents.train import main


@pytest.mark.slow
def test_qrdqn_learns_cartpole_and_resumes_with_its_replay_buffer(tmp_path, train_cartpole):
    out = tmp_path / "q"
    evaluation = train_cartpole(out, "qrdqn", 20000, "--save-every", "5000")
    assert evaluation["mean"] > 100, evaluation
    latest = out / "checkpoints" / (out / "checkpoints" / "LATEST").read_text().strip()
    assert (latest / "replay_buffer.pkl").stat().st_size > 10_000
    assert main(["--resume", str(out), "--steps", "20500"]) == 0
    from sb3_contrib import QRDQN

    model = QRDQN.load(sorted((out / "checkpoints").glob("step_*"))[-1] / "model.zip")
    model.load_replay_buffer(sorted((out / "checkpoints").glob("step_*"))[-1] / "replay_buffer.pkl")
    # The resumed run continued filling the buffer it had, not an empty one.
    assert model.replay_buffer.size() >= 20_000


@pytest.mark.slow
def test_qrdqn_on_atari_with_manual_shaping(tmp_path):
    out = tmp_path / "ski"
    assert main(["Skiing", "--algo", "qrdqn", "--steps", "300", "--save-every", "200",
                 "--eval-episodes", "1", "--max-episode-frames", "800", "--out", str(out),
                 "--vec-env", "dummy", "--no-progress", "--device", "cpu", "--no-game-defaults"]) == 0
    assert main(["--resume", str(out), "--steps", "500"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["algo"] == "qrdqn" and summary["steps"] >= 500
