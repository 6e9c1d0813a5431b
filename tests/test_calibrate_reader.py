"""benchmarks/calibrate_reader.py: the abstention thresholds are chosen on tune, safely."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import yaml
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
cr = load_script("benchmarks/calibrate_reader.py")

R = cr.Reading


def test_tally_counts_right_abstained_wrong_and_neutral_paid():
    rows = [R("G", "tune", "A", "positive", 0.8, 0.1, 0.9),    # yes: right
            R("G", "tune", "B", "negative", 0.6, 0.3, 0.7),    # yes: wrong sign
            R("G", "tune", "C", "negative", None, None, None),  # not stated: 0
            R("G", "tune", "D", "neutral", 0.2, 0.5, 0.6)]     # no: a neutral object paid
    assert cr.tally(rows, 0.3, 0.1) == {"signed": 3, "right": 1, "abstained": 1, "wrong": 1,
                                        "neutral": 1, "neutral_paid": 1}
    # Stricter: B's lead (0.6 vs 0.3: a third of the sum) is under a 0.4 margin; D's 0.6 under 0.7.
    assert cr.tally(rows, 0.7, 0.4) == {"signed": 3, "right": 1, "abstained": 2, "wrong": 0,
                                        "neutral": 1, "neutral_paid": 0}


def test_choose_prefers_zero_harm_over_more_right_answers():
    rows = [R("G", "tune", "A", "positive", 0.8, 0.1, 0.95),
            R("G", "tune", "E", "positive", 0.5, 0.3, 0.55),   # right only at low thresholds
            R("G", "tune", "B", "negative", 0.55, 0.3, 0.58)]  # wrong at the same thresholds
    best = cr.choose(rows)
    t = cr.tally(rows, *best)
    assert (t["wrong"], t["neutral_paid"], t["right"]) == (0, 0, 1)
    assert cr.tally(rows, *cr.DEFAULT)["wrong"] == 1  # the shipped thresholds pay B's wrong sign
    # Among equally safe points the lowest thresholds win (they answer more), max_neutral off.
    assert best == min(p for p in cr.grid() if cr.tally(rows, *p) == t and p[2] == 1.0)


def test_max_neutral_silences_a_text_that_names_an_object_without_its_consequence():
    # N: clear enough and one-sided, but most of its weight says nothing about the contact.
    rows = [R("G", "tune", "A", "positive", 0.8, 0.1, 0.9, 0.1),
            R("G", "tune", "N", "neutral", 0.3, 0.05, 0.7, 0.65)]
    assert cr.tally(rows, 0.3, 0.1)["neutral_paid"] == 1
    assert cr.tally(rows, 0.3, 0.1, 0.6) == {"signed": 1, "right": 1, "abstained": 0, "wrong": 0,
                                             "neutral": 1, "neutral_paid": 0}
    assert cr.choose(rows) == (0.3, 0.1, 0.6)  # the loosest safe point: A still answered


def test_record_round_trip_and_bad_records(tmp_path, capsys):
    rows = [R("G", "tune", "A", "positive", 0.8, 0.1, 0.9, 0.1),
            R("H", "heldout", "B", "negative", None, None, None, None)]
    path = tmp_path / "rec.json"
    cr.save_record(path, rows, {"X": "text missing"})
    assert cr.load_record(path) == (rows, {"X": "text missing"})
    path.write_text('{"readings": [{"game": "G"}]}')
    with pytest.raises(cr.ManifestError, match="not a calibrate_reader record"):
        cr.load_record(path)
    assert cr.main(["--from-record", str(path)]) == 2
    path.write_text("{trunc")
    assert cr.main(["--from-record", str(path)]) == 2
    with pytest.raises(SystemExit):  # DIR and a record: which readings count would be unclear
        cr.main([str(tmp_path), "--from-record", str(path)])


def test_main_reads_texts_once_and_reports_both_splits(tmp_path, capsys):
    texts = {"Freeway": "Guide the chicken across the road. A car that hits the chicken pushes it "
                        "back down the road and costs time.",
             "Skiing": "Ski down the slope. Hitting a tree makes the skier fall and lose time."}
    games = {}
    for (name, text), split, labels in zip(texts.items(), ("tune", "heldout"),
                                           ({"Car": "negative"}, {"Tree": "negative", "Mogul": "neutral"})):
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
        games[name] = {"sha256": hashlib.sha256(text.encode()).hexdigest(), "split": split,
                       "labels": labels}
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump({"version": 1, "games": games}), encoding="utf-8")
    out = tmp_path / "cal.json"
    assert cr.main([str(tmp_path), "--manifest", str(manifest), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "<- chosen" in printed
    doc = json.loads(out.read_text())
    assert doc["splits"]["tune"]["chosen"]["right"] == 1          # the car is read as bad
    assert doc["splits"]["heldout"]["default"]["signed"] == 1
    assert doc["splits"]["heldout"]["default"]["neutral"] == 1
    # max_neutral's price at the shipped thresholds: looser never answers less than stricter.
    trade = doc["max_neutral_at_shipped"]
    assert [trade[str(n)]["tune"]["signed"] for n in cr.MAX_NEUTRAL] == [1] * len(cr.MAX_NEUTRAL)
    assert trade["1.0"]["tune"]["abstained"] <= trade["0.3"]["tune"]["abstained"]
    assert "calibrate-record" not in cr.reasoning.BACKENDS       # the recorder is unregistered
    # A record scores the same as reading again, without the texts.
    rec = tmp_path / "rec.json"
    assert cr.main([str(tmp_path), "--manifest", str(manifest), "--record", str(rec)]) == 0
    again = tmp_path / "again.json"
    assert cr.main(["--from-record", str(rec), "--manifest", str(manifest), "--json", str(again)]) == 0
    assert json.loads(again.read_text())["splits"] == doc["splits"]
    assert not any(s in rec.read_text() for t in texts.values() for s in t.split(". "))
    assert not any(s in out.read_text() for t in texts.values() for s in t.split(". "))
    (tmp_path / "Freeway.txt").unlink()
    assert cr.main([str(tmp_path), "--manifest", str(manifest)]) == 1
