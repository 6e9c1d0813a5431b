"""Grounding: the words a manual uses for each detector category (reward_shaping.grounding)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from types import MappingProxyType

import pytest
from conftest import load_script

from envs.depicts import DEPICTS
from envs.games import known_games, resolve_game
from reward_shaping.grounding import (
    Grounding,
    Term,
    candidates,
    ground,
    ground_all,
    name_forms,
    spelling_matches,
)

# Written for these tests (not a real manual): OCAtari's Venture names are Serpant,
# TwoHeaded, Hallmonsters and *_Collectable; this text never uses them.
VENTURE = [
    "Winky explores the dungeon to gather treasures from each room.",
    "Each room is guarded by goblins, serpents, skeletons, trolls and a two-headed beast.",
    "Touching a monster costs Winky a life.",
    "The hall monsters wander the corridors and cannot be killed.",
]


def _bare(game: str):
    """The game's spec without its depicts: what the name alone and the text can ground."""
    return dataclasses.replace(resolve_game(game), depicts=MappingProxyType({}))


@pytest.mark.parametrize("category,expected", [
    ("Yellow_Collectable", ["yellow collectable", "collectable", "collectible"]),
    ("TwoHeaded", ["two headed", "two-headed"]),
    ("Enemy_Green_Shot", ["enemy green shot", "enemy shot", "enemy-shot"]),
    ("Enemy25", ["enemy"]),
    ("Henchmen", ["henchmen", "henchman"]),
    ("Knife_Throwers", ["knife throwers", "knife thrower", "knife-thrower"]),
    ("Torpedos", ["torpedos", "torpedo"]),
    ("Ball", ["ball"]),
])
def test_name_forms(category, expected):
    assert name_forms(category) == expected


@pytest.mark.parametrize("category,sentence,found", [
    ("Serpant", "Beware of the serpents in the throne room.", ["serpent"]),       # typo in the name
    ("Shatterd_Object", "A shattered object lies on the street.", ["shattered object"]),
    ("Pottet_Plant", "Potted plants fall from the windows.", ["potted plant"]),
    ("Hallmonsters", "The Hall Monsters roam the corridors.", ["hall monster"]),  # closed compound
    ("Moneybag", "Grab every money bag you see.", ["money bag"]),
])
def test_spelling_matches_find_the_text_s_spelling(category, sentence, found):
    assert spelling_matches(name_forms(category), [sentence]) == found


@pytest.mark.parametrize("category,sentence", [
    ("Submarine", "Your submarine is lost."),        # "submarine is" less its s is not a name
    ("Player", "The game is played by two people."),  # short forms get no spelling slack
    ("Pig", "Jump over the pit."),
    ("Serpant", "A dragon guards the serpentine hall."),  # a longer word is not the name
    ("Shield_Block", "Press s to start; the s s s key pauses."),  # lone letters, no crash
])
def test_spelling_matches_leave_other_words_alone(category, sentence):
    assert spelling_matches(name_forms(category), [sentence]) == []


def test_ground_finds_venture_s_objects_through_depicts():
    spec = resolve_game("Venture")
    g = ground_all(spec, VENTURE)
    assert {t.text for t in g["Serpant"].found} == {"serpent", "monster"}
    assert g["Serpant"].found[0] == Term("serpent", "depicts", 1)
    assert [t.text for t in g["TwoHeaded"].found] == ["monster", "two-headed"]
    for colour in ("Yellow", "Pink", "Grey", "Purple", "Green"):
        assert [t.text for t in g[f"{colour}_Collectable"].found] == ["treasure"]
    assert g["Player"].found == (Term("winky", "depicts", 2),)
    assert g["Hallmonsters"].first == 2  # "monster" (sentence 2) before "hall monster" (3)
    assert g["Wall"].found == () and g["Wall"].first == -1


def test_ground_without_depicts_still_finds_misspelt_and_compound_names():
    """Mutation check: with no depicts, the name's forms and the text's spellings ground."""
    g = ground_all(_bare("Venture"), VENTURE)
    assert [(t.text, t.source) for t in g["Serpant"].found] == [("serpent", "spelling")]
    assert [(t.text, t.source) for t in g["TwoHeaded"].found] == [("two-headed", "name")]
    assert [(t.text, t.source) for t in g["Hallmonsters"].found] == [("hall monster", "spelling")]
    # Nothing in the name says "treasure": that takes game knowledge (depicts).
    assert g["Yellow_Collectable"].found == ()


def test_grounding_words_put_found_words_first():
    g = Grounding("X", (Term("a", "depicts"), Term("b", "synonym", 2), Term("c", "name", 1)))
    assert g.words == ["b", "c", "a"]
    assert [t.text for t in g.found] == ["b", "c"]


def test_candidates_are_in_source_order_without_repeats():
    spec = resolve_game("Venture")
    got = candidates(spec, "Serpant")
    assert got == [("serpent", "depicts"), ("snake", "depicts"), ("monster", "depicts"),
                   ("serpant", "name")]
    assert candidates(resolve_game("MsPacman"), "PowerPill")[0] == ("energy pill", "synonym")


def test_depicts_name_real_games_and_categories():
    """A misspelt game or category in envs/depicts.py would silently ground nothing."""
    games = set(known_games())
    for game, cats in DEPICTS.items():
        assert game in games, game
        spec = resolve_game(game)
        for cat, words in cats.items():
            assert cat in spec.categories, (game, cat)
            assert words and all(w == w.lower() and w.strip() == w for w in words), (game, cat)


def test_every_game_has_candidates_for_every_object():
    for game in known_games():
        spec = resolve_game(game)
        for cat in spec.interactable:
            assert candidates(spec, cat), (game, cat)


def test_ground_is_cheap_and_deterministic():
    spec = resolve_game("Venture")
    a = ground(spec, "TwoHeaded", VENTURE)
    assert a == ground(spec, "TwoHeaded", VENTURE)


def test_read_grounding_cli(tmp_path):
    manual = tmp_path / "venture.txt"
    manual.write_text("\n\n".join(VENTURE), encoding="utf-8")
    out = tmp_path / "g.json"
    r = subprocess.run([sys.executable, "-m", "reward_shaping.read", "Venture", "--manual", str(manual),
                        "--grounding", "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "serpent (depicts, 1)" in r.stdout
    assert "13 of 15 objects grounded; no word found for: Shot, Wall\n" in r.stdout
    doc = json.loads(out.read_text())
    assert doc["objects"]["Serpant"]["found"] == ["serpent", "monster"]
    assert doc["avatar"] == "Player"
    bad = subprocess.run([sys.executable, "-m", "reward_shaping.read", "Ventura", "--grounding"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Venture" in bad.stderr


def _load_benchmark():
    return load_script("benchmarks/grounding.py", "grounding_benchmark")


def test_grounding_benchmark_counts_grounded_and_right_words(tmp_path, capsys):
    import hashlib

    import yaml

    bench = _load_benchmark()
    text = "\n\n".join(VENTURE)
    (tmp_path / "Venture.txt").write_text(text, encoding="utf-8")
    sha = hashlib.sha256(text.encode()).hexdigest()
    labels = {
        "Serpant": {"label": "negative", "words": ["serpents"]},
        "Goblin": {"label": "negative", "words": ["goblin"]},
        "Yellow_Collectable": {"label": "positive", "words": ["jewel"]},   # other words found
        "Wall": "negative",                                               # not grounded
        "Spider": "neutral",
    }
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump({"version": 1, "games": {
        "Venture": {"sha256": sha, "split": "heldout", "labels": labels},
        "Pong": {"sha256": "0" * 64, "split": "tune", "labels": {"Ball": "positive"}},
    }}), encoding="utf-8")
    out = tmp_path / "g.json"
    assert bench.main([str(tmp_path), "--manifest", str(manifest), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "skipped Pong: text missing" in printed
    assert "not found: Wall" in printed and "other words: Yellow_Collectable" in printed
    doc = json.loads(out.read_text())
    assert doc["summary"]["heldout"] == {"signed": 4, "grounded": 3, "with_words": 3,
                                         "right_words": 2, "neutral": 1, "neutral_found": 1}
    assert bench.main([str(tmp_path / "none"), "--manifest", str(manifest)]) == 1  # no texts
    # The ablation: without depicts, nothing in "Yellow_Collectable" says "treasure".
    _, games = bench.load_manifest(manifest)
    rows = bench.evaluate(tmp_path, games, ["Venture"], False,
                          ["synonym", "name", "spelling", "head"])[0]["Venture"]
    assert {r.category: r.grounded for r in rows} == {"Serpant": True, "Goblin": True,
                                                      "Yellow_Collectable": False, "Wall": False,
                                                      "Spider": False}
    with pytest.raises(SystemExit):
        bench.main([str(tmp_path), "--manifest", str(manifest), "--sources", "depicts,typo"])
    # Bad words in the manifest are a clear error, exit 2.
    labels["Goblin"]["words"] = "goblin"
    manifest.write_text(yaml.safe_dump({"version": 1, "games": {
        "Venture": {"sha256": sha, "split": "heldout", "labels": labels}}}), encoding="utf-8")
    assert bench.main([str(tmp_path), "--manifest", str(manifest)]) == 2
    assert "words must be a list" in capsys.readouterr().err


def test_ground_all_excludes_the_avatar_s_words_and_falls_back_to_free_head_nouns():
    seaquest = ground_all(resolve_game("Seaquest"), ["Your submarine rescues divers.",
                                                     "Enemy subs hunt you."])
    # "submarine" names the player's own sub in Seaquest: never the enemy Submarine's word.
    assert "submarine" not in [t.text for t in seaquest["Submarine"].terms]
    assert [t.text for t in seaquest["Submarine"].found] == ["enemy sub"]
    # "sub" (the head of "enemy sub" and of "surface patrol sub") is shared: no fallback.
    assert seaquest["SurfaceSubmarine"].found == ()
    yars = ground_all(resolve_game("YarsRevenge"), ["The homing missile chases Yar."])
    assert [(t.text, t.source) for t in yars["Enemy_Missile"].found] == [("missile", "head")]
    # Only for an object found by none of its own words (mutation: drop the condition).
    venture = ground_all(resolve_game("Venture"), VENTURE)
    assert all(t.source != "head" for g in venture.values() for t in g.terms if g.found)


def test_irregular_plurals_are_found():
    g = ground_all(resolve_game("Frostbite"), ["Snow geese fly over the floes."])
    assert [t.text for t in g["Bird"].found] == ["snow goose", "goose"]
