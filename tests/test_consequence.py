"""The consequence backend: its shipped classifier, its corpus and training, its decisions."""

import json
import shutil

import numpy as np
import pytest

from reward_shaping import train_polarity
from reward_shaping.consequence import (
    HEAD_FILE,
    SHOT_RULE_SHA256,
    ConsequenceBackend,
    PolarityHead,
    find_mentions,
    mask_terms,
    only_shot_at,
)
from reward_shaping.qa import Evidence
from reward_shaping.read import main as read_main
from reward_shaping.table import build_reward_table


@pytest.fixture(scope="module")
def backend():
    return ConsequenceBackend()


def _ev(*sentences, relevance=0.8):
    return [Evidence(s, relevance) for s in sentences]


def test_shipped_weights_are_trained_on_the_shipped_corpus():
    # Editing the corpus or the fitting settings without retraining fails here.
    head = PolarityHead()
    assert head.corpus_sha256 == train_polarity.corpus_sha256(), \
        "run: python -m reward_shaping.train_polarity"
    assert HEAD_FILE.stat().st_size < 300_000


@pytest.mark.slow
def test_retraining_reproduces_the_shipped_weights(capsys):
    # Embeds the whole corpus (tens of seconds on two cores).
    assert train_polarity.main(["--check"]) == 0, capsys.readouterr().out


def test_fitting_is_deterministic_and_learns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 20))
    y = (X @ rng.normal(size=(20, 3))).argmax(axis=1)  # linearly separable
    W1, b1 = train_polarity.fit(X, y, max_iter=30)
    W2, b2 = train_polarity.fit(X, y, max_iter=30)
    assert np.array_equal(W1, W2) and np.array_equal(b1, b2)
    assert (train_polarity.predict(W1, b1, X).argmax(axis=1) == y).mean() > 0.9


def test_corpus_expansion_is_deterministic_and_marks_every_object():
    a, b = train_polarity.expand_corpus(), train_polarity.expand_corpus()
    assert a == b and len(a) > 1000
    assert {(e.kind, e.label) for e in a} == {(k, lab) for k in ("touch", "pass", "miss")
                                              for lab in ("good", "bad", "none")}
    assert all("[" in e.text for e in a)


@pytest.mark.parametrize("content, message", [
    ("touch: {good: []}\n", "sections"),
    ("touch: {great: ['[X] is fine.']}\npass: {}\nmiss: {}\n", "not one of"),
    ("touch: {good: ['No brackets here.']}\npass: {}\nmiss: {}\n", "brackets"),
    ("touch: {}\npass: {}\nmiss: {}\ntemplates: {touch: {good: ['{nope} [X].']}}\n", "unknown slots"),
    ("touch: [unclosed\n", "cannot read"),
])
def test_bad_corpus_is_refused(tmp_path, capsys, content, message):
    path = tmp_path / "corpus.yaml"
    path.write_text(content)
    with pytest.raises(train_polarity.CorpusError, match=message):
        train_polarity.expand_corpus(path)
    assert train_polarity.main(["--corpus", str(path), "--out", str(tmp_path / "h.npz")]) == 2
    assert not (tmp_path / "h.npz").exists()


def test_mentions_and_masking():
    assert mask_terms("If a ghost catches her, she loses a life.", ["ghost"]) == \
        "If a thing catches her, she loses a life."
    # All words of a multi-word name, in any order; the head noun is masked.
    text = "Enemy subs fire torpedoes of their own."
    assert [text[a:b] for a, b in find_mentions(text, ["enemy torpedo"])] == ["torpedoes"]
    assert find_mentions("Your torpedoes sink ships.", ["enemy torpedo"]) == []
    assert find_mentions("Anything at all.", []) == []


# Sentences written for this test (not in the corpus): consequences without a
# sentiment word, enemies by what they do, tasks, the ball's targets, enemy fire.
@pytest.mark.parametrize("terms, sentence, kind, answer", [
    (["car"], "A car that catches your goose carries it back to the far curb.", "touch", "no"),
    (["ghost"], "The ghosts wander after her and want to swallow her whole.", "touch", "no"),
    (["diver"], "Your mission: fish the divers out of the sea.", "touch", "yes"),
    (["brick"], "Every brick your ball smashes adds to the score.", "touch", "yes"),
    (["enemy bullet"], "The enemy gunships fire bullets at your tank.", "touch", "no"),
    (["gate"], "Every gate the skier fails to go through costs him five seconds.", "miss", "no"),
    (["gate"], "Steer your skier between the flags of each gate.", "pass", "yes"),
])
def test_decisions_read_consequences(backend, terms, sentence, kind, answer):
    d = backend.decide("Game", "Thing", terms, _ev(sentence), [], kind=kind)
    assert d.answer == answer, d
    assert d.p_yes is not None and abs(d.p_yes + d.p_no + d.p_neutral - 1) < 1e-3
    assert d.question.startswith({"touch": "Should you touch", "pass": "Should you go through",
                                  "miss": "Is it good for you to miss"}[kind])


# Two objects with opposite fates in one sentence (written for this test): the
# ``mention`` view reads each object's own words in context, so the same sentence
# gives each its own sign.
@pytest.mark.parametrize("sentence, good, bad", [
    ("Grab the pearls but keep clear of the eels.", "pearl", "eel"),
    ("The miner must collect the lamps while escaping the rats.", "lamp", "rat"),
])
def test_one_sentence_two_objects_two_signs(backend, sentence, good, bad):
    p_good, p_bad = (backend.probabilities([sentence], [o])[0] for o in (good, bad))
    assert p_good[0] > p_good[1] and p_bad[1] > p_bad[0], (p_good, p_bad)


def test_span_vectors_read_the_words_in_context():
    from reward_shaping.encoder import embed_spans

    texts = ["Avoid the thing at all costs.", "Eat the thing for points.", "No span here."]
    spans = [[(10, 15)], [(8, 13)], []]
    sentences, words = embed_spans(texts, spans)
    assert sentences.shape == words.shape == (3, 384)
    assert np.allclose(np.linalg.norm(words, axis=1), 1, atol=1e-5)
    # The same word in two contexts differs; no span falls back to the sentence.
    assert words[0] @ words[1] < 0.99
    assert np.allclose(words[2], sentences[2], atol=1e-6)
    with pytest.raises(ValueError, match="span lists"):
        embed_spans(texts, spans[:2])


def test_unmentioned_empty_and_garbage_evidence_stay_neutral(backend):
    d = backend.decide("Skiing", "Yeti", ["yeti"], _ev("Trees are dangerous: avoid them."), [])
    assert (d.answer, d.p_yes, d.evidence) == ("neutral", None, ())
    assert d.detail.startswith("not stated")
    assert backend.decide("Skiing", "Yeti", ["yeti"], [], []).answer == "neutral"
    garbage = backend.decide("Skiing", "Yeti", ["yeti"], _ev("yeti qz vv 0x3f yeti ## %%"), [])
    assert garbage.answer == "neutral", garbage
    with pytest.raises(ValueError, match="event kind"):
        backend.decide("Skiing", "Yeti", ["yeti"], [], [], kind="hug")
    with pytest.raises(ValueError, match="min_stated"):
        ConsequenceBackend(min_stated=1.5)
    with pytest.raises(ValueError, match="evidence_k"):
        ConsequenceBackend(evidence_k=0)
    with pytest.raises(ValueError, match="max_neutral"):
        ConsequenceBackend(max_neutral=-0.1)
    with pytest.raises(ValueError, match="indirect"):
        ConsequenceBackend(indirect="no")


def test_max_neutral_abstains_on_a_text_silent_about_the_contact(backend):
    ev = _ev("Trees are dangerous: if your skier hits a tree he falls and loses time.")
    said = backend.decide("Skiing", "Tree", ["tree"], ev, [])
    assert said.answer == "no" and said.p_neutral is not None
    strict = ConsequenceBackend(max_neutral=max(said.p_neutral - 0.01, 0.0))
    silent = strict.decide("Skiing", "Tree", ["tree"], ev, [])
    assert silent.answer == "neutral" and "mostly silent" in silent.detail
    # A setting that can change an answer is part of the cache key; the default is not.
    assert "max_neutral" in strict.settings() and "max_neutral" not in backend.settings()


@pytest.mark.parametrize("sentence, terms, shot", [
    ("Destroy enemy tankers, jets and helicopters before crashing.", ["tanker"], True),
    ("Destroy enemy tankers, jets and helicopters before crashing.", ["helicopter"], True),
    ("Watch for the alien ship; if you shoot it, you score 200 points.", ["alien ship"], True),
    ("Blast the sharks with torpedoes for points.", ["shark"], True),
    # The contact is said as well: contact evidence.
    ("Shoot the sharks, and never let one ram your submarine.", ["shark"], False),
    ("Shoot the sharks or dodge them.", ["shark"], False),
    ("Destroying a shark by touch costs a life.", ["shark"], False),
    # The object shoots, or is named before the verb: not a target.
    ("The sharks shoot at your submarine.", ["shark"], False),
    ("Collect the divers; then shoot.", ["diver"], False),
    ("Sharks swim by.", ["shark"], False),
    ("The game ends when you run out of bullets from shooting or from ducks eating them.", ["duck"], False),
    ("Try to blast rows of aliens.", ["alien"], True),
    ("Shoot at the bombers as they fly over.", ["bomber"], True),
    # The object is the one shooting, or the shot is a noun: not a target.
    ("The sharks fire at them from above.", ["shark"], False),
    ("Enemy jets fire at it.", ["jet"], False),
    ("Your shot passes through the clouds.", ["cloud"], False),
    ("The shooting gallery has ducks that fly by.", ["duck"], False),
    # Harm said in other words.
    ("Shoot the asteroids or your ship will be smashed by them.", ["asteroid"], False),
])
def test_only_shot_at(sentence, terms, shot):
    assert only_shot_at(sentence, terms) is shot


def test_an_object_named_only_as_a_target_is_not_paid(backend):
    # Edge case 2 of the real-manual labelling rule: the player's shots, not the
    # player, reach it, so the text does not say what touching it does.
    ev = _ev("Watch for the alien ship at the top of the screen; if you shoot it, you receive 200 points.")
    d = backend.decide("SpaceInvaders", "Satellite", ["alien ship", "ship"], ev, [])
    assert d.answer == "neutral" and "only as a target" in d.detail, d
    # Without the rule the classifier reads the points as a reason to touch it.
    naive = ConsequenceBackend(indirect=False).decide("SpaceInvaders", "Satellite",
                                                      ["alien ship", "ship"], ev, [])
    assert naive.answer == "yes", naive
    # A sentence about the contact still decides, and the shot-at one is left out.
    ev = _ev("Torpedoes destroy the sharks they hit and earn you points.",
             "If a shark collides with your submarine, you lose a life.")
    d = backend.decide("Seaquest", "Shark", ["shark"], ev, [])
    assert d.answer == "no" and d.evidence == (ev[1].sentence,), d
    # Passing a gate is not a contact: the rule is for touch only.
    gate = backend.decide("Skiing", "Flag", ["gate"], _ev("Pass between the gates to avoid a penalty."), [],
                          kind="pass")
    assert gate.answer == "yes", gate
    # It changes answers, so it is part of the cache key, and so is the rule's own text.
    assert backend.settings()["indirect"].endswith(SHOT_RULE_SHA256)
    assert "indirect" not in ConsequenceBackend(indirect=False).settings()
    # The default reader passes the switch on to its classifier.
    from reward_shaping.reasoning import ConsensusBackend

    assert ConsensusBackend().first.indirect is True
    off = ConsensusBackend(indirect=False)
    assert off.first.indirect is False and "indirect" not in off.settings()["consequence"]


def test_object_the_manual_never_names_gets_zero(tmp_path):
    manual = tmp_path / "skiing.txt"
    manual.write_text("Race down the mountain as fast as you can. Trees are deadly: if your "
                      "skier hits a tree he falls and loses time. Pass between the flags.\n")
    table = build_reward_table("Skiing", manual, cache_dir=tmp_path)
    mogul = table.objects["Mogul"]
    assert (mogul.reward, mogul.answer, mogul.evidence) == (0.0, "neutral", [])
    assert mogul.note.startswith("not stated") and mogul.question
    assert table.objects["Tree"].reward == -5.0


def test_table_json_and_printout_show_question_and_probabilities(tmp_path, capsys):
    out = tmp_path / "t.json"
    assert read_main(["Freeway", "--cache-dir", str(tmp_path), "--json", str(out),
                      "--evidence", "2"]) == 0
    text = capsys.readouterr().out
    car = json.loads(out.read_text())["objects"]["Car"]
    assert car["question"] == "Should you touch the car if you want to win?"
    assert car["p_no"] > car["p_yes"] and car["reward"] == -5.0
    assert "p(yes)" in text and "Q: Should you touch the car if you want to win?" in text
    assert f"{car['p_no']:.2f}" in text


def test_retrained_weights_invalidate_cached_tables(tmp_path):
    head = tmp_path / "head.npz"
    shutil.copy(HEAD_FILE, head)
    cache = tmp_path / "cache"
    options = {"head": str(head)}
    build_reward_table("Freeway", backend_options=options, cache_dir=cache)
    build_reward_table("Freeway", backend_options=options, cache_dir=cache)
    assert len(list(cache.glob("*.json"))) == 1
    h = PolarityHead(head)
    train_polarity.save_head(head, h.W * 1.01, h.b, h.corpus_sha256)
    build_reward_table("Freeway", backend_options=options, cache_dir=cache)
    assert len(list(cache.glob("*.json"))) == 2


def test_broken_weights_file_is_reported(tmp_path):
    bad = tmp_path / "head.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(RuntimeError, match="cannot load the polarity classifier"):
        PolarityHead(bad)


def test_tables_written_before_probabilities_still_load():
    from reward_shaping.table import RewardTable

    old = {"game": "Freeway", "manual_sha256": "0" * 64, "manual_source": "freeway.md",
           "backend": "embedding", "settings": {}, "scale": 5.0, "key": "k", "questions": {},
           "version": 2, "objects": {"Car": {"reward": -5.0, "answer": "no", "confidence": 0.9,
                                             "evidence": ["Cars hurt."], "source": "backend",
                                             "note": ""}}}
    car = RewardTable.from_json(old).objects["Car"]
    assert (car.reward, car.question, car.p_yes) == (-5.0, "", None)
