"""The ``consequence`` reasoning backend: a trained reader of what touching an object does.

A small polarity classifier on top of the embedded all-MiniLM-L6-v2 encoder
answers the paper's question, "Should you touch the X if you want to win?", one
evidence sentence at a time, with three probabilities: the sentence says the
event is good (``yes``), bad (``no``), or says nothing about it (``neutral``).

* The object's own words in a sentence are replaced by a placeholder before it
  is embedded, so the classifier reads what happens to and around the object
  ("the X chases you", "the ball breaks the X", "enemy ships fire X at you"),
  not whether its name sounds friendly.
* Besides the masked and the raw sentence, the classifier reads the
  placeholder's own contextual vectors (the ``mention`` view): in "grab the
  treasures while avoiding the thing" the sentence is mostly about collecting,
  but the words at the object's place say "avoid".
* The event asked about is part of the input (``touch``; ``pass`` and ``miss``
  for gates): "missing a gate adds a penalty" is bad for ``miss``.
* Only sentences that name the object count.  An object the manual never names
  is neutral, "not stated", whatever loose similarity says.
* Sentence probabilities are averaged with relevance weights; ``yes``/``no``
  needs one sentence that states it clearly and a clear lead over the other
  (:class:`ConsequenceBackend`'s ``min_stated`` and ``margin``).

The classifier's weights ship in ``reward_shaping/data/polarity_head.npz`` (a
multinomial logistic regression, tens of kilobytes), trained by
``python -m reward_shaping.train_polarity`` on the project's own corpus
``reward_shaping/data/consequences.yaml``.  Their hash is part of the backend's
settings, so a retrained head invalidates cached tables.

Example:
    >>> from reward_shaping.consequence import ConsequenceBackend
    >>> from reward_shaping.qa import Evidence
    >>> b = ConsequenceBackend()
    >>> d = b.decide("Freeway", "Car", ["car", "truck"],
    ...              [Evidence("A car that runs over your hen puts her back on the curb.", 0.8)], [])
    >>> d.answer, d.question
    ('no', 'Should you touch the car if you want to win?')
    >>> b.decide("Freeway", "Car", ["car"], [Evidence("The hen crosses the road.", 0.4)], []).detail
    'not stated: no evidence sentence names the car'
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from envs.games import EVENT_KINDS as KINDS
from reward_shaping.encoder import embed, embed_spans
from reward_shaping.qa import Backend, Decision, Evidence, head_noun, question_for, term_pattern

DATA_DIR = Path(__file__).with_name("data")
#: The shipped classifier (see :mod:`reward_shaping.train_polarity`).
HEAD_FILE = DATA_DIR / "polarity_head.npz"
#: The training corpus, written for rnr (never a real manual's sentences).
CORPUS_FILE = DATA_DIR / "consequences.yaml"

#: Class order of the classifier's outputs.
LABELS = ("good", "bad", "none")
#: What replaces the object's words before a sentence is embedded.
PLACEHOLDER = "thing"
#: The views of a sentence the classifier reads, side by side:
#: ``masked`` (object words replaced: what happens around the object),
#: ``raw`` (as written: what kind of thing it is, a ball or a bullet) and
#: ``mention`` (the placeholder's own contextual vectors in the masked sentence:
#: what this sentence does to *this* object when it also talks about others,
#: as in "grab the treasures while avoiding the thing").
VIEWS = ("masked", "raw", "mention")

_MARKED = re.compile(r"\[([^\]]+)\]")


def _replace(text: str, spans: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with each of the (sorted) ``spans`` replaced by the placeholder, and the new spans."""
    out, new, last, pos = [], [], 0, 0
    for a, b in spans:
        out.append(text[last:a])
        pos += a - last
        out.append(PLACEHOLDER)
        new.append((pos, pos + len(PLACEHOLDER)))
        pos += len(PLACEHOLDER)
        last = b
    out.append(text[last:])
    return "".join(out), new


def unmark(text: str) -> str:
    """A corpus sentence as written, without its ``[object]`` marks."""
    return _MARKED.sub(r"\1", text)


def marked_views(text: str) -> tuple[str, list[tuple[int, int]]]:
    """A corpus sentence masked, and the placeholders' character spans.

    >>> marked_views("Eat the [dots] before the [ghost] does.")
    ('Eat the thing before the thing does.', [(8, 13), (25, 30)])
    """
    marks = list(_MARKED.finditer(text))
    return _replace(text, [m.span() for m in marks])


def sentence_vectors(masked: list[str], raw: list[str], spans: list[list[tuple[int, int]]],
                     device: str = "cpu") -> np.ndarray:
    """The classifier's sentence input: one embedding per :data:`VIEWS` entry, side by side.

    Args:
        masked: Sentences with the object's words replaced by the placeholder.
        raw: The same sentences as written.
        spans: Per masked sentence, the placeholders' character spans.
    """
    if not len(masked) == len(raw) == len(spans):
        raise ValueError(f"{len(masked)} masked, {len(raw)} raw sentences and {len(spans)} span lists")
    if not masked:
        return np.zeros((0, 384 * len(VIEWS)), dtype=np.float32)
    # Shortest first: batches of similar length need less padding.
    order = sorted(range(len(masked)), key=lambda i: len(masked[i]))
    back = np.argsort(order)
    m, mention = embed_spans([masked[i] for i in order], [spans[i] for i in order], device)
    r = embed([raw[i] for i in order], device)
    views = {"masked": m, "raw": r, "mention": mention}
    return np.hstack([views[v][back] for v in VIEWS])


# How many words around a head noun the rest of a multi-word name may be spread.
_NEAR = 5


# A word of prose: letters only, with a vowel ("qz", "vv", "0x3f" and "##" are not).
_PROSE_WORD = re.compile(r"[A-Za-z]*[AEIOUYaeiouy][A-Za-z]*")


def is_prose(text: str, terms: list[str] | tuple[str, ...]) -> bool:
    """Whether ``text``, with the object's name taken out, reads as a sentence.

    The polarity head was trained on sentences; on token soup it still gives
    some label a third of the mass, which ``min_stated`` cannot tell from a
    terse real sentence. So a sentence counts as evidence only if at least half
    of its other tokens are words.

    >>> is_prose("Avoid the trees.", ["tree"]), is_prose("yeti qz vv 0x3f yeti ## %%", ["yeti"])
    (True, False)
    """
    pattern = term_pattern(terms)
    rest = pattern.sub(" ", text) if pattern is not None else text
    tokens = rest.split()
    words = [t for t in tokens if _PROSE_WORD.fullmatch(t.strip(".,;:!?'\"()-"))]
    return bool(words) and 2 * len(words) >= len(tokens)


def find_mentions(text: str, terms: list[str] | tuple[str, ...]) -> list[tuple[int, int]]:
    """Character spans where ``text`` names the object.

    A term counts where it appears as written (plural and possessive allowed).
    Failing that, a multi-word term counts where all its words of three or more
    letters appear within a few words of its head noun, in any order ("an enemy
    patrol sub cruises along the surface" names the "surface patrol sub"); the
    head noun is then the mention.

    >>> text = "An enemy patrol sub cruises along the surface."
    >>> [text[a:b] for a, b in find_mentions(text, ["surface patrol sub", "enemy sub on the surface"])]
    ['sub']
    """
    pattern = term_pattern(terms)
    if pattern is None:
        return []
    spans = [m.span() for m in pattern.finditer(text)]
    if spans:
        return spans
    words = [(m.group().lower(), m.span()) for m in re.finditer(r"[A-Za-z]+", text)]

    def near(i: int, w: str) -> bool:
        return any(v in (w, f"{w}s", f"{w}es") for v, _ in words[max(0, i - _NEAR):i + _NEAR + 1])

    for term in terms:
        content = [w for w in re.findall(r"[a-z]+", term.lower()) if len(w) >= 3]
        head = head_noun(term)
        if len(content) < 2 or head not in content:
            continue
        for i, (w, span) in enumerate(words):
            if w in (head, f"{head}s", f"{head}es") and all(near(i, c) for c in content):
                spans.append(span)
    return sorted(set(spans))


def masked_mentions(text: str, terms: list[str] | tuple[str, ...]) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with every mention of the object replaced by the placeholder, and their spans.

    >>> masked_mentions("Eat the dots.", ["dot"])
    ('Eat the thing.', [(8, 13)])
    """
    return _replace(text, find_mentions(text, terms))


def mask_terms(text: str, terms: list[str] | tuple[str, ...]) -> str:
    """``text`` with every mention of the object replaced by the placeholder.

    >>> mask_terms("Blue ghosts can be eaten; a ghost's touch is deadly.", ["ghost"])
    'Blue thing can be eaten; a thing touch is deadly.'
    """
    return masked_mentions(text, terms)[0]


def stated_evidence(evidence: list[Evidence], terms: list[str] | tuple[str, ...]) -> list[Evidence]:
    """The evidence sentences that name the object and read as prose: what a decision rests on.

    >>> [e.text for e in stated_evidence([Evidence("Avoid the trees.", 0.9),
    ...                                   Evidence("Ski fast.", 0.8)], ["tree"])]
    ['Avoid the trees.']
    """
    return [e for e in evidence if find_mentions(e.text, terms) and is_prose(e.text, terms)]


# The player's shots, not the player, reach an object named after one of these verbs.
# (Two-word forms first: the first alternative that matches wins, and "shoot at" is one verb.)
_SHOT = r"(?:shoot\s+at|shoots\s+at|shooting\s+at|fire\s+at|fires\s+at|firing\s+at|wipe\s+out|" \
        r"wipes\s+out|wiping\s+out|gun\s+down|pick\s+off|shoot|shoots|shooting|shot|destroy|" \
        r"destroys|destroyed|destroying|blast|blasts|blasting|zap|zaps|zapping)"
_SHOT_VERB = re.compile(rf"\b{_SHOT}\b", re.IGNORECASE)
# "...; if you shoot it, you'll receive 200 points": the object shot, named by a pronoun.
_SHOT_PRONOUN = re.compile(rf"\b{_SHOT}\s+(?:it|them|one)\b", re.IGNORECASE)
# Where the phrase a verb governs ends: a stop, or a word that starts another clause.
_PHRASE_BREAK = re.compile(r"[.;:!?\u2014()]|\b(?:while|but|before|after|if|when|whenever|unless|"
                           r"because|so|then|which|that|who)\b", re.IGNORECASE)
# A preposition or a finite verb between a shooting verb and the mention: the verb's object
# ended before it ("of" does not end it: "blast rows of aliens"; "shoot at" is one verb).
_NOT_GOVERNED = re.compile(r"\b(?:from|by|with|into|to|for|in|on|at|through|past|off|over|than|"
                           r"like|is|are|was|were|has|have|had|will|can|passes|flies|moves)\b",
                           re.IGNORECASE)
# Words that say what the object's own contact does (touching, being hit by, collecting it),
# or tell the player to keep away from it: a sentence with one of them is contact evidence.
_CONTACT = re.compile(
    r"\b(?:touch\w*|collid\w*|collision\w*|crash\w*\s+into|run\w*\s+into|runs?\s+over|bump\w*|"
    r"ram|rams|ramm\w*|(?:hit|hits|strike|strikes|catch\w*|kill\w*|get\w*|eat\w*|destroy\w*)\s+"
    r"(?:you|your|him|her)\b|(?:hit|struck)\s+by|"
    r"lose\w*|lost|deadly|lethal|dangerous|hazard\w*|avoid\w*|dodge\w*|beware|careful|"
    r"smash\w*|hurt\w*|harm\w*|damag\w*|explod\w*|"
    r"collect\w*|grab\w*|eat|eats|eating|catch|catches|catching|pick\w*\s+up|rescu\w*|"
    r"jump\w*\s+on|land\w*\s+on|step\w*\s+on|stomp\w*|kick\w*|punch\w*|die|dies|death|"
    r"life|lives|game\s+over)\b",
    re.IGNORECASE)
#: Part of the backend's cache key: an edit to these patterns rebuilds the cached tables.
SHOT_RULE_SHA256 = hashlib.sha256("\n".join(
    r.pattern for r in (_SHOT_VERB, _SHOT_PRONOUN, _PHRASE_BREAK, _NOT_GOVERNED, _CONTACT)
).encode()).hexdigest()[:16]


def only_shot_at(text: str, terms: list[str] | tuple[str, ...]) -> bool:
    """Whether ``text`` names the object only as a target of the player's shots.

    Such a sentence says what the player's torpedo or laser does to the object, not
    what the object's contact does to the player: "destroy the enemy tankers",
    "if you shoot it, you receive 200 points".  The real-manual labelling rule
    counts indirect hits as silent on the contact (``benchmarks/real_manuals``,
    edge case 2), and a reader that pays them +5 rewards the agent for ramming
    what it was meant to shoot.  A sentence that also says anything about
    contact, danger or collecting (:data:`_CONTACT`) is not "only shot at".

    >>> only_shot_at("Your goal is to destroy enemy tankers and jets.", ["tanker"])
    True
    >>> only_shot_at("Watch for the alien ship; if you shoot it, you score 200 points.", ["alien ship"])
    True
    >>> only_shot_at("Shoot the sharks, and never let one ram your submarine.", ["shark"])
    False
    >>> only_shot_at("Sharks chase your submarine; shoot them or lose a life.", ["shark"])
    False
    """
    spans = find_mentions(text, terms)
    if not spans or _CONTACT.search(text):
        return False
    for start, end in spans:
        # The words between the last phrase break and the mention: "destroy enemy tankers, jets".
        before = _PHRASE_BREAK.split(text[:start])[-1]
        verbs = list(_SHOT_VERB.finditer(before))
        # The verb must govern the mention: "from shooting or from ducks" names no target.
        governs = bool(verbs) and not _NOT_GOVERNED.search(before[verbs[-1].end():])
        # "..., if you shoot it": the pronoun in a later phrase, while the mention's own phrase
        # does not have it shooting ("the sharks fire at them" is the sharks shooting).  A
        # heuristic: it cannot tell which noun "it" means, and errs towards "not stated".
        rest = _PHRASE_BREAK.split(text[end:], maxsplit=1)
        shooter = bool(_SHOT_VERB.search(rest[0]))
        by_pronoun = len(rest) > 1 and not shooter and bool(_SHOT_PRONOUN.search(rest[1]))
        if not (governs or by_pronoun):
            return False
    return True


def features(vectors: np.ndarray, kinds: list[str]) -> np.ndarray:
    """Classifier input: the sentence vector, and a copy of it per non-touch event.

    A linear model on ``[v, v*pass, v*miss, pass, miss]`` has its own weights
    for gates without needing separate training data for everything else.
    """
    if len(vectors) != len(kinds):
        raise ValueError(f"{len(vectors)} vectors but {len(kinds)} kinds")
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown event kind(s) {sorted(unknown)}; expected one of {KINDS}")
    k = np.array([[kind == "pass", kind == "miss"] for kind in kinds], dtype=np.float64).reshape(-1, 2)
    v = np.asarray(vectors, dtype=np.float64)
    return np.hstack([v, v * k[:, :1], v * k[:, 1:], k])


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class PolarityHead:
    """The shipped classifier: ``softmax(features @ W + b)`` over :data:`LABELS`."""

    def __init__(self, path: str | Path = HEAD_FILE) -> None:
        path = Path(path)
        try:
            raw = path.read_bytes()
            with np.load(path, allow_pickle=False) as data:
                self.W = data["W"].astype(np.float64)
                self.b = data["b"].astype(np.float64)
                self.corpus_sha256 = str(data["corpus_sha256"])
        except (OSError, KeyError, ValueError) as err:
            raise RuntimeError(f"cannot load the polarity classifier {path} ({err}); reinstall rnr "
                               "or run: python -m reward_shaping.train_polarity") from None
        if self.W.ndim != 2 or self.W.shape[1] != len(LABELS) or self.b.shape != (len(LABELS),):
            raise RuntimeError(f"polarity classifier {path} has the wrong shape {self.W.shape}")
        self.sha256 = hashlib.sha256(raw).hexdigest()

    def predict(self, vectors: np.ndarray, kinds: list[str]) -> np.ndarray:
        """Probabilities ``(n, 3)`` in :data:`LABELS` order."""
        return softmax(features(vectors, kinds) @ self.W + self.b)


def verdict(p_yes: float, p_no: float, p_max: float, min_stated: float, margin: float,
            p_neutral: float = 0.0, max_neutral: float = 1.0) -> tuple[str, str]:
    """The backend's answer from its probabilities, and why when it abstains.

    Args:
        p_yes: Relevance-weighted p(yes) over the sentences that name the object.
        p_no: The same for p(no).
        p_max: The largest p(yes) or p(no) of any one of those sentences.
        min_stated: A yes/no needs one sentence at least this clear.
        margin: ...and ``|p_yes - p_no|`` at least this share of ``p_yes + p_no``.
        p_neutral: Relevance-weighted p(the sentences do not say what the contact does).
        max_neutral: ...and ``p_neutral`` at most this (1.0: not used): a text that names
            an object mostly without saying what touching it does is not read as a sign.

    Returns:
        ``("yes" | "no", "")``, or ``("neutral", reason)`` with a reason that starts with
        "uncertain": the reader abstains (reward 0) rather than guess a sign.

    >>> verdict(0.7, 0.1, 0.8, 0.3, 0.1), verdict(0.4, 0.35, 0.5, 0.3, 0.1)[0]
    (('yes', ''), 'neutral')
    >>> verdict(0.3, 0.05, 0.9, 0.3, 0.1, p_neutral=0.65, max_neutral=0.6)[1]
    'uncertain, mostly silent on the contact'
    """
    if p_max < min_stated:
        return "neutral", "uncertain, not decided (no sentence states it clearly)"
    if abs(p_yes - p_no) < margin * (p_yes + p_no):
        return "neutral", "uncertain, the evidence is mixed"
    if p_neutral > max_neutral:
        return "neutral", "uncertain, mostly silent on the contact"
    return ("yes" if p_yes > p_no else "no"), ""


class ConsequenceBackend(Backend):
    """Offline yes/no/neutral from a classifier trained to read consequences.

    Args:
        min_stated: A yes/no needs at least one evidence sentence whose p(yes)
            or p(no) reaches this; below it the manual names the object without
            saying what the event does: neutral, "not decided".
        margin: ...and the relevance-weighted p(yes) and p(no) must differ by
            this share of their sum; below it the evidence is mixed: neutral.
        max_neutral: ...and their weighted p(none) must be at most this (1.0, the
            default: not used); above it the text names the object without saying
            what touching it does: neutral, "mostly silent".
        evidence_k: How many sentences to retrieve per object (sentences that
            say nothing cost little: they do not dilute p(yes) against p(no)).
        head: Classifier file; default: the shipped one.
        device: Torch device of the encoder.
        indirect: Leave out, for the touch event, the sentences that name the object
            only as a target of the player's shots (:func:`only_shot_at`); an object
            named only so is neutral, "not stated".  False reads them as any other.
    """

    name = "consequence"

    def __init__(self, min_stated: float = 0.3, margin: float = 0.1, evidence_k: int = 6,
                 head: str | Path | None = None, device: str = "cpu",
                 max_neutral: float = 1.0, indirect: bool = True) -> None:
        # Probability thresholds: outside [0, 1] they would silence or force every answer.
        if not 0.0 <= min_stated <= 1.0 or not 0.0 <= margin < 1.0 or not 0.0 <= max_neutral <= 1.0:
            raise ValueError(f"min_stated and max_neutral must be in [0, 1] and margin in [0, 1), "
                             f"got {min_stated}, {max_neutral} and {margin}")
        if evidence_k < 1:
            raise ValueError(f"evidence_k must be >= 1, got {evidence_k}")
        # A switch: "no" or "false" as a string would read as on.
        if not isinstance(indirect, bool):
            raise ValueError(f"indirect must be true or false, got {indirect!r}")
        self.min_stated = min_stated
        self.margin = margin
        self.max_neutral = max_neutral
        self.indirect = indirect
        self.evidence_k = evidence_k
        self.head_path = Path(head) if head is not None else HEAD_FILE
        self.device = device
        self.head = PolarityHead(self.head_path)

    def settings(self) -> dict:
        # The weights' hash: a retrained classifier must not reuse old tables.
        out = {"min_stated": self.min_stated, "margin": self.margin,
               "evidence_k": self.evidence_k, "head_sha256": self.head.sha256,
               "placeholder": PLACEHOLDER, "views": list(VIEWS)}
        if self.max_neutral < 1.0:
            # Only when it can change an answer: at 1.0 the tables cached before it existed hold.
            out["max_neutral"] = self.max_neutral
        if self.indirect:
            # It changes answers: tables built before it existed must be rebuilt.
            out["indirect"] = f"only-shot-at {SHOT_RULE_SHA256}"
        return out

    def probabilities(self, sentences: list[str], terms: list[str], kind: str = "touch") -> np.ndarray:
        """Per sentence: p(good), p(bad), p(none) for event ``kind`` with the object ``terms``."""
        if not sentences:
            return np.zeros((0, len(LABELS)))
        masked = [masked_mentions(s, terms) for s in sentences]
        v = sentence_vectors([m for m, _ in masked], sentences, [sp for _, sp in masked], self.device)
        return self.head.predict(v, [kind] * len(sentences))

    def decide(self, game, category, terms, evidence, objective, kind="touch") -> Decision:
        name = terms[0] if terms else category
        question = question_for(name, kind)
        terms = list(terms) or [category]
        stated = stated_evidence(evidence, terms)
        if not stated:
            return Decision("neutral", 1.0, f"not stated: no evidence sentence names the {name}",
                            question=question, evidence=())
        if kind == "touch" and self.indirect:
            contact = [e for e in stated if not only_shot_at(e.text, terms)]
            if not contact:
                return Decision("neutral", 1.0, f"not stated: the text names the {name} only as "
                                "a target of the player's shots, not what touching it does",
                                question=question, evidence=tuple(e.sentence for e in stated))
            stated = contact
        probs = self.probabilities([e.text for e in stated], terms, kind)
        # Relevance (similarity plus mention bonuses) decides how much each sentence counts.
        weights = np.array([max(e.relevance, 0.05) for e in stated]) ** 2
        p_yes, p_no, p_neutral = (weights @ probs / weights.sum()).round(4).tolist()
        detail = f"p(yes)={p_yes:.2f} p(no)={p_no:.2f} from {len(stated)} sentence(s)"
        used = tuple(e.sentence for e in stated)
        answer, why = verdict(p_yes, p_no, float(probs[:, :2].max()), self.min_stated, self.margin,
                              p_neutral, self.max_neutral)
        if answer == "neutral":
            return Decision("neutral", round(p_neutral, 3), f"{why}: {detail}",
                            question, p_yes, p_no, p_neutral, used)
        # Confidence: the winning side's share of the stated probability.
        confidence = round(max(p_yes, p_no) / (p_yes + p_no), 3)
        return Decision(answer, confidence, detail, question, p_yes, p_no, p_neutral, used)
