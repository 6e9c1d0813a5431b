"""One subprocess smoke test per command-line tool."""

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def run(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_inspect_prints_objects_events_and_saves_images(tmp_path):
    png, gif = tmp_path / "last.png", tmp_path / "run.gif"
    proc = run("envs.tools.inspect", "Freeway", "--steps", "150", "--policy", "up", "--every", "50",
               "--png", str(png), "--gif", str(gif), "--gif-every", "10")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "avatar=Chicken" in out and "TOUCH Car#" in out
    assert "step    50 reward" in out and "Chicken#" in out
    assert "summary over 150 steps" in out
    assert Image.open(png).size == (480, 630)
    with Image.open(gif) as im:
        assert im.n_frames == 15


def test_inspect_draws_gates_and_marks_pass_and_miss(tmp_path):
    import numpy as np

    from envs.interactions import InteractionEvent
    from envs.tools.inspect import annotate

    proc = subprocess.run([sys.executable, "-m", "envs.tools.inspect", "Skiing", "--steps", "160",
                           "--gif", "--gif-every", "40"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=180, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert "MISS Gate#" in proc.stdout and "pass    miss" in proc.stdout
    with Image.open(tmp_path / "Skiing.gif") as im:  # --gif alone: GAME.gif
        assert im.n_frames == 4
    # A pass is drawn in green, a miss in magenta, where the gate was.
    events = [InteractionEvent(1, 1, "Gate", 7, (0, 0, 5, 5), (20, 30, 27, 15), "pass"),
              InteractionEvent(1, 1, "Gate", 8, (0, 0, 5, 5), (20, 100, 27, 15), "miss")]
    img = np.asarray(annotate(np.zeros((210, 160, 3), np.uint8), [], events, "Player"))
    assert tuple(img[30 * 3 + 5, 20 * 3 + 1]) == (0, 255, 0)
    assert tuple(img[100 * 3 + 5, 20 * 3 + 1]) == (255, 0, 255)


def test_inspect_rejects_bad_input():
    proc = run("envs.tools.inspect", "Pongg", "--steps", "5")
    assert proc.returncode == 2 and "Did you mean: Pong" in proc.stderr
    proc = run("envs.tools.inspect", "Pong", "--policy", "JUMP", "--steps", "5")
    assert proc.returncode == 2 and "has no action 'JUMP'" in proc.stderr
    proc = run("envs.tools.inspect", "Pong", "--steps", "0")
    assert proc.returncode == 2 and "--steps must be >= 1" in proc.stderr


def test_train_cli_trains_cartpole(tmp_path):
    out = tmp_path / "run"
    proc = run("agents.train", "CartPole-v1", "--shaping", "none", "--steps", "500", "--n-envs",
               "2", "--eval-episodes", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "training a2c on CartPole-v1" in proc.stdout and "final score over 2 episodes" in proc.stdout
    assert "500/500" in proc.stderr  # the progress bar reached the target
    proc = run("agents.train", "Skiingg")
    assert proc.returncode == 2 and "Did you mean: Skiing" in proc.stderr


def test_read_prints_table_and_writes_json(tmp_path):
    out = tmp_path / "t.json"
    proc = run("reward_shaping.read", "Freeway", "--json", str(out), "--cache-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "Car" in proc.stdout and "-5.0" in proc.stdout and "hud" in proc.stdout
    import json
    data = json.loads(out.read_text())
    assert set(data["objects"]["Car"]) >= {"reward", "answer", "confidence", "evidence"}


def test_read_rejects_bad_input(tmp_path):
    empty = tmp_path / "m.txt"
    empty.write_text("")
    proc = run("reward_shaping.read", "Skiing", "--manual", str(empty), "--no-cache")
    assert proc.returncode == 2 and "empty" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("reward_shaping.read", "Skiing", "--backend", "openai", "--no-cache",
               "--base-url", "http://127.0.0.1:9/v1", "--timeout", "1")
    assert proc.returncode == 2 and "cannot reach the LLM server" in proc.stderr


def test_command_line_tools_do_not_import_each_other():
    """train, evaluate, sweep and report share agents.runs / agents.scores, not each other;
    the algorithms import nothing of the run machinery."""
    import ast

    clis = {"train", "evaluate", "sweep", "report"}
    machinery = clis | {"runs", "scores", "checkpoint", "callbacks", "environments", "cli"}

    def imported(path: Path) -> set[str]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        return names

    for cli in clis:
        others = {f"agents.{c}" for c in clis - {cli}}
        assert not imported(ROOT / "agents" / f"{cli}.py") & others, cli
    for path in (ROOT / "agents" / "algorithms").glob("*.py"):
        assert not imported(path) & {f"agents.{m}" for m in machinery}, path.name
