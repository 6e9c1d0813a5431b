"""QA extraction: split a manual into sentences and retrieve evidence per question.

The detector's category names (``Flag``, ``Mogul``, ``PowerPill``) rarely appear
in a manual, which says "gate", "bump" or "energy pill".  Each category is
grounded to manual words in two ways: a small synonym layer of everyday words
for common category names, and the embeddings themselves (questions are asked
with every term, and the best-matching sentences win).

The question a reasoning backend answers about the evidence (:func:`question_for`),
the interface every backend implements (:class:`Backend`) and its answer
(:class:`Decision`) live here too: :mod:`reward_shaping.reasoning` and
:mod:`reward_shaping.consequence` both build on them.

Example:
    >>> from reward_shaping.qa import split_sentences, object_terms
    >>> split_sentences("# Title\\n\\nHit the ball. It bounces back!")
    ['Hit the ball.', 'It bounces back!']
    >>> object_terms("PowerPill")
    ['energy pill', 'power pellet', 'energizer', 'large flashing pill', 'power pill']
    >>> object_terms("Enemy", depicts=("lyre",))[:2]
    ['lyre', 'opponent']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from envs.games import EVENT_KINDS
from reward_shaping.encoder import embed

#: Everyday words for category names that manuals seldom use verbatim.  Keyed by
#: category name (shared across games), never by game.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "Flag": ("flag", "gate", "flag pole", "pole"),
    "Mogul": ("mogul", "bump", "hump of snow"),
    "Tree": ("tree", "pine tree"),
    "PowerPill": ("energy pill", "power pellet", "energizer", "large flashing pill"),
    "Pill": ("dot", "pellet", "small dot", "wafer"),
    "Ghost": ("ghost", "monster"),
    "Fruit": ("fruit", "bonus fruit", "cherry", "strawberry"),
    "Car": ("car", "truck", "traffic", "vehicle"),
    "Ball": ("ball",),
    "Block": ("brick", "block", "wall of bricks"),
    "Enemy": ("opponent", "enemy", "computer player", "rival"),
    "Shark": ("shark", "killer shark"),
    "Submarine": ("enemy submarine", "enemy sub"),
    "SurfaceSubmarine": ("surface patrol sub", "enemy sub on the surface"),
    "EnemyMissile": ("enemy torpedo", "enemy missile", "enemy bullet", "enemy shot", "enemy laser"),
    "Diver": ("diver", "swimmer"),
    "Consumable": ("object to collect", "item"),
    "Reward": ("point value",),
    "Child": ("baby", "joey", "child"),
    "Monkey": ("monkey", "ape"),
    "FallingCoconut": ("falling coconut", "coconut dropped from above"),
    "ThrownCoconut": ("thrown coconut",),
    "Bell": ("bell",),
    "Alien": ("alien", "invader"),
    "Bullet": ("bullet", "bomb", "laser"),
    "Shield": ("shield", "bunker"),
    "FuelDepot": ("fuel depot", "fuel tank"),
    "Helicopter": ("helicopter",),
    "Tanker": ("tanker", "ship"),
    "Jet": ("jet", "fighter plane"),
    "Bridge": ("bridge",),
    "House": ("house",),
    "Police": ("police car", "cop"),
    "Bank": ("bank",),
    "Rope": ("rope", "vine"),
    "Tarpit": ("tar pit",),
    "Waterhole": ("water hole", "lake", "swamp", "pond"),
    "GoldenBar": ("gold bar", "golden bar"),
    "Disk": ("disk", "disc", "flying disc"),
    "FloatingBlock": ("ice floe", "floe", "block of ice", "ice block"),
    "Logs": ("log",),
}

# Sentence ends, except after abbreviations such as "Ms." or "e.g.".
_BOUNDARY = re.compile(
    r"(?<!\bMs\.)(?<!\bMr\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bvs\.)(?<!\be\.g\.)(?<!\bi\.e\.)"
    r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])"
)

# A manual's headings are labels, not statements; sentences shorter than this
# many words carry no outcome.
_MIN_WORDS = 3


def split_sentences(text: str) -> list[str]:
    """Sentences of a manual: Markdown headings dropped, whitespace folded."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    out = []
    for paragraph in re.split(r"\n\s*\n", body):
        paragraph = " ".join(paragraph.split())
        for s in re.split(_BOUNDARY, paragraph):
            s = s.strip(" -*")
            if len(s.split()) >= _MIN_WORDS:
                out.append(s)
    return out


def _words(category: str) -> str:
    """CamelCase / snake_case category name as lower-case words."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])|_", " ", category).lower()


def object_terms(category: str, depicts: tuple[str, ...] = ()) -> list[str]:
    """Words a manual may use for ``category``, most specific first.

    Args:
        category: Detector category name, e.g. ``"PowerPill"``.
        depicts: What the category shows in this game
            (:attr:`envs.games.GameSpec.depicts`), e.g. ``("lyre",)``.

    Returns:
        ``depicts``, then the shared synonyms, then the split name, without repeats.
    """
    terms = [*depicts, *SYNONYMS.get(category, ()), _words(category)]
    return list(dict.fromkeys(terms))


#: Paper-style questions; ``{}`` is an object term.
OBJECT_QUESTIONS = (
    "What happens when the player touches the {}?",
    "What happens if you hit or run into the {}?",
    "What happens when you collect or eat the {}?",
)
OBJECTIVE_QUESTION = "What is the goal of the game and how do you score?"
AVATAR_QUESTION = "Who or what does the player control in the game?"


#: Where a sentence splits into clauses.
CLAUSE_BREAK = re.compile(r"[,;:\u2014]| - ")


#: One-word terms this long also match as the end of a closed compound word.
_COMPOUND_MIN = 5


def term_pattern(terms: list[str] | tuple[str, ...]) -> re.Pattern | None:
    """One case-insensitive pattern for any of ``terms``, or None for no terms.

    Plurals ("bus" -> "buses", "enemy" -> "enemies", "goose" -> "geese") and possessives count, and
    one-word terms of five or more letters also name closed compounds that end
    in them ("rattlesnakes" for "snake"; shorter words such as "ball" or "car"
    would also hit "football" and "scar").

    >>> bool(term_pattern(["enemy sub"]).search("Enemy  subs attack.")), term_pattern([])
    (True, None)
    >>> [bool(term_pattern([w]).search(t)) for w, t in (("snow goose", "Snow geese fly."),
    ...                                                  ("wolf", "The wolves howl."), ("henchman", "Henchmen!"))]
    [True, True, True]
    >>> [bool(term_pattern(["snake"]).search(t)) for t in ("Rattlesnakes bite.", "Snakes!", "snakeskin")]
    [True, True, False]
    """
    terms = [t for t in terms if t.strip()]
    if not terms:
        return None
    alts = []
    for t in sorted(terms, key=len, reverse=True):  # longest first: "enemy torpedo" before "torpedo"
        body = re.escape(t.lower()).replace(r"\ ", r"\s+")
        if t.endswith("y"):
            body = f"{body[:-1]}(?:y|ies)"
        # Irregular plurals: "geese", "henchmen", "wolves", "knives".
        for single, plural in (("oose", "eese"), ("man", "men"), ("fe", "ves"), ("f", "ves")):
            if t.endswith(single) and len(t) > len(single):
                body = f"{body[:-len(single)]}(?:{single}|{plural})"
                break
        if len(t) >= _COMPOUND_MIN and t.isalpha():
            # A closed compound names the thing too: "rattlesnake", "firebird".
            body = f"(?:[a-z]{{3,}})?{body}"
        alts.append(body)
    return re.compile(r"\b(?:" + "|".join(alts) + r")(?:e?s)?(?:'s?)?\b", re.IGNORECASE)


# Words after which a multi-word name's head noun has ended ("sub on the surface").
_PREPOSITIONS = {"on", "of", "in", "at", "from", "with", "by", "to", "for", "near"}


def head_noun(term: str) -> str:
    """The noun a (multi-word) name is about: ``"enemy sub on the surface"`` -> ``"sub"``."""
    words = term.lower().split()
    for i, w in enumerate(words):
        if w in _PREPOSITIONS and i:
            return words[i - 1]
    return words[-1]


def fallback_terms(terms: list[str], taken: set[str]) -> list[str]:
    """Head nouns of ``terms``' multi-word names, for a manual that uses none of them.

    A manual may say "the fish" for ``GreenFish`` or "missiles" for an enemy
    missile; the classifier, not the word, then tells whose missile it is.
    Head nouns in ``taken`` (the avatar's words, other objects' heads) are left out.

    >>> fallback_terms(["enemy torpedo", "enemy missile", "enemy missile"], {"torpedo"})
    ['missile']
    """
    heads = [head_noun(t) for t in terms if len(t.split()) > 1]
    return [h for h in dict.fromkeys(heads) if h not in taken and h not in terms and len(h) >= 3]


def focus(sentence: str, own: re.Pattern, others: re.Pattern | None) -> str:
    """``sentence`` without the clauses that only talk about other objects.

    In "Keep to the lanes with treasures, and move out of the way of the
    lyres", the first clause is about treasures: for the lyre it is noise.
    Clauses naming neither object (often the consequence: "it loses time")
    stay, and a sentence that never names the object is left whole.

    >>> focus("Keep to the lanes with treasures, and avoid the lyres.",
    ...       term_pattern(["lyre"]), term_pattern(["treasure"]))
    'and avoid the lyres.'
    """
    if others is None:
        return sentence
    clauses = [c.strip() for c in CLAUSE_BREAK.split(sentence) if c.strip()]
    low = [c.lower() for c in clauses]
    if not any(own.search(c) for c in low):
        return sentence
    kept = [c for c, lc in zip(clauses, low) if own.search(lc) or not others.search(lc)]
    return ", ".join(kept) if len(kept) < len(clauses) else sentence


@dataclass(frozen=True)
class Evidence:
    """A manual sentence retrieved for a question.

    Attributes:
        sentence: The manual's sentence, verbatim (shown to users).
        relevance: Similarity to the question in [-1, 1], plus the mention bonus.
        focus: The sentence without clauses only about other objects (see
            :func:`focus`); empty when nothing was cut.
    """

    sentence: str
    relevance: float
    focus: str = ""

    @property
    def text(self) -> str:
        """The part of the sentence about the object asked for."""
        return self.focus or self.sentence


class ManualIndex:
    """A manual's sentences with their embeddings, ready for questions."""

    def __init__(self, text: str, device: str = "cpu") -> None:
        self.sentences = split_sentences(text)
        if not self.sentences:
            raise ValueError("the manual has no sentences of three or more words")
        self.device = device
        self.vectors = embed(self.sentences, device)
        self._lower = [s.lower() for s in self.sentences]

    def ask(self, questions: list[str], top_k: int = 3, bonus: np.ndarray | None = None) -> list[Evidence]:
        """Best sentences for any of ``questions`` (max similarity over questions).

        ``bonus``, one value per sentence, is added to the similarities.
        """
        q = embed(questions, self.device)
        scores = (self.vectors @ q.T).max(axis=1)
        if bonus is not None:
            scores = scores + bonus
        order = np.argsort(-scores)[:top_k]
        return [Evidence(self.sentences[i], float(scores[i])) for i in order]

    def names(self, terms: list[str]) -> bool:
        """Whether any sentence of the manual uses one of ``terms``."""
        pattern = term_pattern(terms)
        return pattern is not None and any(pattern.search(s) for s in self._lower)

    def evidence_for(self, category: str, top_k: int = 4, mention_bonus: float = 0.2,
                     depicts: tuple[str, ...] = (), others: tuple[str, ...] = (),
                     avatar: tuple[str, ...] = (), contact_bonus: float = 0.1,
                     terms: list[str] | None = None) -> list[Evidence]:
        """Sentences that say what touching ``category`` does.

        Args:
            category: Detector category name.
            top_k: Number of sentences.
            mention_bonus: Added to the relevance of sentences naming one of
                the category's terms (:func:`object_terms`): grounding by the
                manual's own words beats loose similarity.
            depicts: What the category shows in this game.
            others: Terms of the game's other objects; clauses only about
                them are cut from :attr:`Evidence.focus`.
            avatar: Words for the player's avatar ("paddle", "skier").
            contact_bonus: Added on top of ``mention_bonus`` for sentences
                naming the avatar too: they describe the contact itself.
            terms: The object's words, if not :func:`object_terms` less the
                avatar's words (a word the avatar goes by names the avatar).
        """
        if terms is None:
            terms = [t for t in object_terms(category, depicts) if t not in avatar]
        terms = terms or [_words(category)]
        questions = [t.format(term) for term in terms for t in OBJECT_QUESTIONS]
        own = term_pattern(terms)
        other = term_pattern([t for t in others if not own.fullmatch(t)])
        mentions = np.array([bool(own.search(s)) for s in self._lower])
        bonus = mention_bonus * mentions
        player = term_pattern(avatar)
        if player is not None:
            bonus = bonus + contact_bonus * (mentions & [bool(player.search(s)) for s in self._lower])
        found = self.ask(questions, top_k, bonus=bonus)
        out = []
        for e in found:
            text = focus(e.sentence, own, other)
            out.append(Evidence(e.sentence, e.relevance, text if text != e.sentence else ""))
        return out


# The question a reasoning backend answers, and the form of its answer: shared by every
# backend (reward_shaping.reasoning, reward_shaping.consequence).

Answer = Literal["yes", "no", "neutral"]


@dataclass(frozen=True)
class Decision:
    """A backend's verdict on touching one object category.

    Attributes:
        answer: ``"yes"`` (good for the player), ``"no"`` (bad) or ``"neutral"``.
        confidence: In [0, 1].
        detail: Short, human-readable reason (shown in tables).
        question: The question the backend answered.
        p_yes: Probability of "yes", for backends that compute one.
        p_no: Probability of "no".
        p_neutral: Probability that the evidence says neither.
        evidence: The sentences the decision rests on, when the backend used
            only some of those it was given (``None``: all of them).
    """

    answer: Answer
    confidence: float
    detail: str = ""
    question: str = ""
    p_yes: float | None = None
    p_no: float | None = None
    p_neutral: float | None = None
    evidence: tuple[str, ...] | None = None


def question_for(term: str, kind: str = "touch") -> str:
    """The paper-style yes/no question about event ``kind`` with the object ``term``.

    >>> question_for("gate", "miss")
    'Is it good for you to miss the gate?'
    """
    questions = {"touch": "Should you touch the {} if you want to win?",
                 "pass": "Should you go through the {} if you want to win?",
                 "miss": "Is it good for you to miss the {}?"}
    if kind not in questions:
        # A typo would otherwise silently ask about touching.
        raise ValueError(f"unknown event kind {kind!r}; expected one of {EVENT_KINDS}")
    return questions[kind].format(term)


class Backend:
    """Decides, from a manual's evidence, whether touching an object is good."""

    name = "base"
    #: How many evidence sentences the table retrieves per object for this backend.
    evidence_k = 4

    def settings(self) -> dict:
        """Everything that changes decisions (part of the reward table's cache key)."""
        return {}

    def decide(self, game: str, category: str, terms: list[str], evidence: list[Evidence],
               objective: list[Evidence], kind: str = "touch") -> Decision:
        """Answer :func:`question_for` about ``category`` from ``evidence``.

        Args:
            game: Canonical game name.
            category: Detector category name.
            terms: Words the manual may use for it, most specific first.
            evidence: Retrieved sentences, best first.
            objective: Sentences about the game's goal.
            kind: The event asked about: ``touch``, ``pass`` or ``miss``.
        """
        raise NotImplementedError
