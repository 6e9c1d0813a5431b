"""benchmarks/read_accuracy.py: scoring, skipping and reporting on a synthetic set.

The real texts are someone else's words and are not in the repository (nor in CI), so the
harness is exercised on a tiny manifest and texts written here, with a stub backend that
answers per category; the committed manifest is checked without its texts.
"""

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from conftest import load_script

from envs.games import resolve_game
from envs.interactions import event_key
from reward_shaping import qa, reasoning

ROOT = Path(__file__).resolve().parents[1]
ra = load_script("benchmarks/read_accuracy.py")

# Our own words, one short paragraph per game.
TEXTS = {
    "Freeway": "Guide the chicken over the road. A car that runs into the chicken pushes it back.",
    "Skiing": "Ski down the slope as fast as you can. Hitting a tree makes the skier fall and lose "
              "time. Pass between the two flags of every gate.",
    "Breakout": "Move the paddle to bounce the ball into the wall. Bricks vanish when hit.",
}
# What the stub backend answers, per event key (category, or category:kind).
ANSWERS = {"Car": "no", "Tree": "yes", "Mogul": "yes", "Flag": "neutral", "Ball": "yes", "Block": "yes",
           "Gate:pass": "yes", "Gate:miss": "yes", "Sidewalk": "neutral"}


class StubBackend(qa.Backend):
    """Answers from ANSWERS by event, whatever the evidence."""

    name = "stub"

    def decide(self, game, category, terms, evidence, objective, kind="touch"):
        return qa.Decision(ANSWERS[event_key(category, kind)], 1.0, "stub")


@pytest.fixture
def stub_backend(monkeypatch):
    monkeypatch.setitem(reasoning.BACKENDS, "stub", StubBackend)


def _entry(text: str, split: str, labels: dict, **extra) -> dict:
    return {"sources": [{"url": "https://example.org/", "took": "all"}],
            "sha256": hashlib.sha256(text.encode()).hexdigest(), "chars": len(text), "split": split,
            "labels": {c: {"label": lab, "why": "test"} for c, lab in labels.items()}, **extra}


@pytest.fixture
def dataset(tmp_path):
    """A manifest of four games; texts for three, one of them edited after hashing."""
    texts = tmp_path / "texts"
    texts.mkdir()
    for game, text in TEXTS.items():
        (texts / f"{game}.txt").write_text(text, encoding="utf-8")
    games = {
        "Freeway": _entry(TEXTS["Freeway"], "tune", {"Car": "negative"}),
        "Skiing": _entry(TEXTS["Skiing"], "heldout",
                         {"Tree": "negative", "Mogul": "neutral", "Flag": "negative"},
                         events={"Gate": {"pass": {"label": "positive", "why": "test"}}}),
        "Breakout": _entry(TEXTS["Breakout"] + " (older version)", "tune",
                           {"Ball": "positive", "Block": "neutral"}),
        "Pong": _entry("not here", "heldout", {"Ball": "positive", "Enemy": "neutral"}),
    }
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump({"version": 1, "games": games}), encoding="utf-8")
    return texts, manifest


def _run(texts, manifest, *args):
    return ra.main([str(texts), "--manifest", str(manifest), "--backend", "stub", *args])


def test_scores_misses_and_skips_missing_or_changed_texts(stub_backend, dataset, tmp_path, capsys):
    texts, manifest = dataset
    out = tmp_path / "result.json"
    assert _run(texts, manifest, "--json", str(out)) == 0
    printed = capsys.readouterr()
    assert "SKIPPED Pong: missing" in printed.err
    assert "SKIPPED Breakout: changed" in printed.err
    # Skiing: Tree answered yes (a miss), Flag neutral (a miss), Mogul rewarded (a false reward).
    assert "miss Tree" in printed.out and "miss Flag" in printed.out and "miss Mogul" in printed.out
    assert "Gate:pass" not in printed.out  # scored, and right
    report = json.loads(out.read_text())
    assert report["splits"]["tune"] == {"games": 1, "right": 1, "signed": 1, "neutral_rewarded": 0,
                                        "neutral": 0, "abstained": 0, "wrong": 0, "accuracy": 1.0}
    held = report["splits"]["heldout"]
    assert (held["right"], held["signed"], held["neutral_rewarded"], held["neutral"]) == (1, 3, 1, 1)
    assert (held["abstained"], held["wrong"]) == (1, 1)  # Flag got 0; Tree the opposite sign
    misses = sorted(report["games"]["Skiing"]["misses"], key=lambda m: m["category"])
    assert misses == [{"category": "Flag", "label": "negative", "reward": 0.0},
                      {"category": "Mogul", "label": "neutral", "reward": 5.0},
                      {"category": "Tree", "label": "negative", "reward": 5.0}]
    assert set(report["skipped_games"]) == {"Pong", "Breakout"}
    # Numbers only: no sentence of any text reaches the JSON.
    blob = out.read_text()
    assert not any(sentence in blob for text in TEXTS.values() for sentence in text.split(". "))


def test_allow_changed_scores_a_re_gathered_text_and_marks_it(stub_backend, dataset, capsys):
    texts, manifest = dataset
    assert _run(texts, manifest, "--games", "breakout", "--allow-changed") == 0
    out = capsys.readouterr().out
    assert "[changed text]" in out and "neutral paid 1/1" in out


def test_split_filter_and_nothing_to_evaluate_fails_loudly(stub_backend, dataset, capsys):
    texts, manifest = dataset
    # The only held-out game with an unchanged text is Skiing; Pong's text is missing.
    assert _run(texts, manifest, "--split", "heldout", "--games", "Pong") == 1
    assert "no game could be evaluated" in capsys.readouterr().err
    assert _run(texts / "..", manifest) == 1  # no texts at all in that directory


def test_bad_manifest_and_arguments_are_clear_errors(stub_backend, dataset, tmp_path, capsys):
    texts, manifest = dataset
    doc = yaml.safe_load(manifest.read_text())
    doc["games"]["Freeway"]["labels"]["Car"]["label"] = "bad"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(doc))
    assert _run(texts, broken) == 2
    assert "label must be one of" in capsys.readouterr().err
    for bad in ("car", ["car", 3], [""]):
        doc["games"]["Freeway"]["labels"]["Car"] = {"label": "negative", "why": "test", "words": bad}
        broken.write_text(yaml.safe_dump(doc))
        assert _run(texts, broken) == 2
        assert "words must be a list of non-empty strings" in capsys.readouterr().err
    doc["games"]["Freeway"]["labels"]["Car"]["words"] = ["car", "speeding truck"]
    broken.write_text(yaml.safe_dump(doc))
    assert ra.load_manifest(broken)[1]["Freeway"].labels[0].label == "negative"
    assert _run(texts, manifest, "--games", "Seaquest") == 2
    with pytest.raises(SystemExit):
        _run(texts, manifest, "--option", "no-equals-sign")


def test_backend_choices_come_from_the_registry(stub_backend):
    # A backend added to reasoning.BACKENDS is accepted without touching the script.
    assert ra._parse_args([".", "--backend", "stub"]).backend == "stub"


def test_committed_manifest_labels_every_interactable_category_and_split_follows_rule(capsys):
    doc, games = ra.load_manifest()
    assert len(games) >= 15
    for name, entry in games.items():
        spec = resolve_game(name)
        assert spec.name == name
        labelled = {event_key(lab.category, lab.event or "touch") for lab in entry.labels}
        assert labelled == {event_key(c, k) for c in spec.interactable for k in spec.event_kinds(c)}, name
        raw = doc["games"][name]
        assert raw["sources"] and all(s["url"].startswith("http") for s in raw["sources"]), name
        assert all(v["why"].strip() for v in raw["labels"].values()), name
    held = [lab for e in games.values() if e.split == "heldout" for lab in e.labels if lab.event is None]
    assert sum(lab.label != "neutral" for lab in held) >= 25
    assert ra.main(["--check-split"]) == 0
    assert "split OK" in capsys.readouterr().out


def test_check_split_detects_a_manifest_edited_by_hand(tmp_path, capsys):
    doc = yaml.safe_load(ra.MANIFEST.read_text())
    tune = next(g for g, e in doc["games"].items() if e["split"] == "tune")
    doc["games"][tune]["split"] = "heldout"
    edited = tmp_path / "manifest.yaml"
    edited.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert ra.main(["--check-split", "--manifest", str(edited)]) == 1
    assert "split MISMATCH" in capsys.readouterr().err


def _expected_stage(strata, labels_of, first_seed, min_signed, min_neutral):
    """The README's rule, written out again here: one generator per stage, sorted strata."""
    import random
    for seed in range(first_seed, first_seed + 1000):
        rng = random.Random(seed)
        held = {g for s in strata for g in rng.sample(sorted(s), round(len(s) / 3))}
        labels = [lab for g in held for lab in labels_of[g]]
        signed = sum(lab != "neutral" for lab in labels)
        if signed >= min_signed and len(labels) - signed >= min_neutral:
            return seed, held
    raise AssertionError("no seed")


def test_check_split_rederives_an_added_stage_with_its_own_generator(tmp_path, capsys):
    # Two stages: the first keeps its split whatever is added; the added stage is drawn with a
    # generator of its own, counting only its own games' labels.
    first = {"Freeway": ["negative"], "Skiing": ["negative", "neutral", "negative"], "Breakout": ["positive", "neutral"]}
    added = {"Pong": ["positive", "neutral"], "Boxing": ["positive"], "Tennis": ["neutral", "positive"],
             "Seaquest": ["negative"] * 5, "Kangaroo": ["positive"] * 6, "Asterix": ["neutral", "negative", "positive"]}
    cats = {g: resolve_game(g).interactable for g in (*first, *added)}
    seed1, held1 = _expected_stage([list(first)], first, 16, 1, 0)
    seed2, held2 = _expected_stage([list(added)], added, 23, 3, 1)
    assert len(held2) == 2 and held2 <= set(added)

    def entry(game, labs):
        labels = dict(zip(cats[game], labs))
        return _entry(game, "heldout" if game in held1 | held2 else "tune", labels)

    doc = {"version": 1, "games": {g: entry(g, labs) for g, labs in {**first, **added}.items()},
           "split_rule": {"strata": {"first": sorted(first)}, "first_seed": 16, "seed": seed1,
                          "min_heldout_non_neutral": 1, "min_heldout_neutral": 0,
                          "added": [{"date": "2026-12-05", "strata": {"added_2026_12_05": sorted(added)},
                                     "first_seed": 23, "seed": seed2, "min_heldout_non_neutral": 3,
                                     "min_heldout_neutral": 1}]}}
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    loaded, games = ra.load_manifest(path)
    assert [(w, s, h) for w, s, h in ra.derive_splits(loaded, games)] == [
        ("split_rule", seed1, held1), ("split_rule.added[0]", seed2, held2)]
    assert ra.main(["--check-split", "--manifest", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"split OK: seed {seed1}" in out and f"split OK (split_rule.added[0]): seed {seed2}" in out

    # An added game moved by hand, a wrong recorded seed, a game in no stratum: all caught.
    moved = yaml.safe_load(path.read_text())
    tune = next(g for g in added if g not in held2)
    moved["games"][tune]["split"] = "heldout"
    path.write_text(yaml.safe_dump(moved, sort_keys=False))
    assert ra.main(["--check-split", "--manifest", str(path)]) == 1
    assert "split MISMATCH in split_rule.added[0]" in capsys.readouterr().err
    reseeded = dict(doc, split_rule=dict(doc["split_rule"], added=[dict(doc["split_rule"]["added"][0], seed=seed2 + 1)]))
    path.write_text(yaml.safe_dump(reseeded, sort_keys=False))
    assert ra.main(["--check-split", "--manifest", str(path)]) == 1
    assert "MISMATCH in split_rule.added[0]" in capsys.readouterr().err
    orphan = dict(doc, split_rule=dict(doc["split_rule"], added=[]))
    path.write_text(yaml.safe_dump(orphan, sort_keys=False))
    assert ra.main(["--check-split", "--manifest", str(path)]) == 2


def test_a_frozen_seed_keeps_its_draw_when_labels_change_later(tmp_path, capsys):
    # The seed was found on earlier labels; after a re-labelling the search would pick another
    # seed, but a stage marked seed_frozen keeps its draw and reports counts below the minimum.
    first = {"Freeway": ["negative"], "Skiing": ["negative", "neutral", "negative"], "Breakout": ["positive", "neutral"]}
    cats = {g: resolve_game(g).interactable for g in first}
    seed, held = _expected_stage([list(first)], first, 16, 1, 0)
    relabelled = {g: ["neutral"] * len(labs) for g, labs in first.items()}
    doc = {"version": 2,
           "games": {g: _entry(g, "heldout" if g in held else "tune", dict(zip(cats[g], labs)))
                     for g, labs in relabelled.items()},
           "split_rule": {"strata": {"first": sorted(first)}, "first_seed": 16, "seed": seed,
                          "seed_frozen": {"on_version": 1, "why": "test"},
                          "min_heldout_non_neutral": 1, "min_heldout_neutral": 0}}
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert ra.main(["--check-split", "--manifest", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"split OK: seed {seed}" in out and "seed frozen (test)" in out and "BELOW the rule's minimum" in out
    unfrozen = dict(doc, split_rule={k: v for k, v in doc["split_rule"].items() if k != "seed_frozen"})
    path.write_text(yaml.safe_dump(unfrozen, sort_keys=False))
    assert ra.main(["--check-split", "--manifest", str(path)]) == 2  # no seed meets the minimum
    moved = yaml.safe_load(yaml.safe_dump(doc))
    tune = next(g for g in first if g not in held)
    moved["games"][tune]["split"] = "heldout"
    path.write_text(yaml.safe_dump(moved, sort_keys=False))
    assert ra.main(["--check-split", "--manifest", str(path)]) == 1
    assert "split MISMATCH in split_rule" in capsys.readouterr().err


def _two_stage_doc(first, added, held1, seed1, split_of_added="heldout", **stage):
    """A manifest whose second stage holds out all its games (``heldout_fraction: all``)."""
    cats = {g: resolve_game(g).interactable for g in (*first, *added)}
    games = {g: _entry(g, "heldout" if g in held1 else "tune", dict(zip(cats[g], labs)))
             for g, labs in first.items()}
    games.update({g: _entry(g, split_of_added, dict(zip(cats[g], labs))) for g, labs in added.items()})
    return {"version": 2, "games": games,
            "split_rule": {"strata": {"first": sorted(first)}, "first_seed": 16, "seed": seed1,
                           "min_heldout_non_neutral": 1, "min_heldout_neutral": 0,
                           "added": [{"date": "2026-12-05", "strata": {"added_b": sorted(added)},
                                      "heldout_fraction": "all", **stage}]}}


def test_a_stage_can_hold_out_all_its_games_without_a_seed(tmp_path, capsys):
    first = {"Freeway": ["negative"], "Skiing": ["negative", "neutral", "negative"], "Breakout": ["positive", "neutral"]}
    added = {"Pong": ["positive", "neutral"], "Boxing": ["positive"], "Tennis": ["neutral", "positive"]}
    seed1, held1 = _expected_stage([list(first)], first, 16, 1, 0)
    doc = _two_stage_doc(first, added, held1, seed1)
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    loaded, games = ra.load_manifest(path)
    assert ra.derive_splits(loaded, games) == [("split_rule", seed1, held1),
                                               ("split_rule.added[0]", None, set(added))]
    assert ra.derive_split(loaded, games) == (seed1, held1 | set(added))
    assert ra.main(["--check-split", "--manifest", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"split OK: seed {seed1}" in out
    assert "split OK (split_rule.added[0]): all 3 games held out (no seed): Boxing, Pong, Tennis" in out
    assert "held out: 3 non-neutral, 2 neutral labels" in out  # this stage's games only

    # One game of the stage recorded as tune: a mismatch naming it.
    moved = yaml.safe_load(path.read_text())
    moved["games"]["Tennis"]["split"] = "tune"
    path.write_text(yaml.safe_dump(moved, sort_keys=False))
    assert ra.main(["--check-split", "--manifest", str(path)]) == 1
    err = capsys.readouterr().err
    assert "split MISMATCH in split_rule.added[0]" in err and "records tune for Tennis" in err


@pytest.mark.parametrize("change, message", [
    ({"seed": 23}, "takes no seed"),
    ({"first_seed": 23, "min_heldout_neutral": 3}, "takes no first_seed, min_heldout_neutral"),
    ({"seed_frozen": {"on_version": 1}}, "takes no seed_frozen"),
    ({"heldout_fraction": "everything"}, "a drawn stage needs an integer seed"),
    ({"heldout_fraction": None, "seed": "23"}, "a drawn stage needs an integer seed, got '23'"),
    ({"strata": {"added_b": []}}, "stratum added_b: must be a non-empty list of game names"),
    ({"strata": {"added_b": "Pong"}}, "stratum added_b: must be a non-empty list"),
    ({"strata": {}}, "has no strata"),
])
def test_malformed_added_stages_are_clear_errors(tmp_path, capsys, change, message):
    first = {"Freeway": ["negative"], "Skiing": ["negative", "neutral", "negative"], "Breakout": ["positive", "neutral"]}
    added = {"Pong": ["positive", "neutral"], "Boxing": ["positive"]}
    seed1, held1 = _expected_stage([list(first)], first, 16, 1, 0)
    doc = _two_stage_doc(first, added, held1, seed1)
    doc["split_rule"]["added"][0].update(change)
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert ra.main(["--check-split", "--manifest", str(path)]) == 2
    err = capsys.readouterr().err
    assert "split_rule.added[0]" in err and message in err, err


def test_all_held_out_is_for_added_stages_and_games_are_listed_once(tmp_path, capsys):
    first = {"Freeway": ["negative"], "Skiing": ["negative", "neutral", "negative"], "Breakout": ["positive", "neutral"]}
    added = {"Pong": ["positive", "neutral"], "Boxing": ["positive"]}
    seed1, held1 = _expected_stage([list(first)], first, 16, 1, 0)
    path = tmp_path / "manifest.yaml"
    # The first stage must be drawn: it is the only one with tune games.
    doc = _two_stage_doc(first, added, held1, seed1)
    doc["split_rule"] = {k: v for k, v in doc["split_rule"].items() if k not in ra._DRAW_FIELDS}
    doc["split_rule"]["heldout_fraction"] = "all"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert ra.main(["--check-split", "--manifest", str(path)]) == 2
    assert "the first stage must be drawn" in capsys.readouterr().err
    # A game in two stages, a game in none: both named.
    doc = _two_stage_doc(first, added, held1, seed1)
    doc["split_rule"]["added"][0]["strata"]["added_b"] = ["Boxing", "Freeway"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert ra.main(["--check-split", "--manifest", str(path)]) == 2
    err = capsys.readouterr().err
    assert "listed more than once: Freeway" in err and "in no stratum: Pong" in err
    # The stage itself not a mapping.
    doc["split_rule"]["added"] = ["added_b"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert ra.main(["--check-split", "--manifest", str(path)]) == 2
    assert "split_rule.added[0] must be a mapping" in capsys.readouterr().err
