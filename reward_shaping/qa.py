"""QA extraction: split a manual into sentences and retrieve evidence per question.

The detector's category names (``Flag``, ``Mogul``, ``PowerPill``) rarely appear
in a manual, which says "gate", "bump" or "energy pill".  Each category is
grounded to manual words in two ways: a small synonym layer of everyday words
for common category names, and the embeddings themselves (questions are asked
with every term, and the best-matching sentences win).

Example:
    >>> from reward_shaping.qa import split_sentences, object_terms
    >>> split_sentences("# Title\\n\\nHit the ball. It bounces back!")
    ['Hit the ball.', 'It bounces back!']
    >>> object_terms("PowerPill")[:3]
    ['power pill', 'energy pill', 'power pellet']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

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
    "Enemy": ("opponent", "enemy", "computer player", "rival", "deadly object to avoid"),
    "Shark": ("shark", "killer shark"),
    "Submarine": ("enemy submarine", "enemy sub"),
    "SurfaceSubmarine": ("surface patrol sub", "enemy sub on the surface"),
    "EnemyMissile": ("enemy torpedo", "enemy missile", "enemy bullet"),
    "Diver": ("diver", "swimmer"),
    "Consumable": ("treasure", "object to collect", "cauldron", "helmet", "item"),
    "Reward": ("treasure", "bonus item", "prize", "cauldron of magic potion"),
    "Child": ("baby", "joey", "child"),
    "Monkey": ("monkey", "ape"),
    "FallingCoconut": ("falling coconut", "coconut dropped from above"),
    "ThrownCoconut": ("thrown coconut", "apple core thrown by a monkey"),
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


def object_terms(category: str) -> list[str]:
    """Words a manual may use for ``category``: synonyms first, then the split name."""
    terms = list(SYNONYMS.get(category, ()))
    name = _words(category)
    if name not in terms:
        terms.append(name)
    return terms


#: Paper-style questions; ``{}`` is an object term.
OBJECT_QUESTIONS = (
    "What happens when the player touches the {}?",
    "What happens if you hit or run into the {}?",
    "What happens when you collect or eat the {}?",
)
OBJECTIVE_QUESTION = "What is the goal of the game and how do you score?"
AVATAR_QUESTION = "Who or what does the player control in the game?"


@dataclass(frozen=True)
class Evidence:
    """A manual sentence retrieved for a question, with its relevance in [-1, 1]."""

    sentence: str
    relevance: float


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

    def evidence_for(self, category: str, top_k: int = 3, mention_bonus: float = 0.2) -> list[Evidence]:
        """Sentences that say what touching ``category`` does.

        Sentences naming one of the category's terms get ``mention_bonus``
        added: grounding by the manual's own words beats loose similarity.
        """
        terms = object_terms(category)
        questions = [t.format(term) for term in terms for t in OBJECT_QUESTIONS]
        patterns = [re.compile(rf"\b{re.escape(t)}(e?s)?\b") for t in terms]
        mentions = np.array([any(p.search(s) for p in patterns) for s in self._lower])
        return self.ask(questions, top_k, bonus=mention_bonus * mentions)
