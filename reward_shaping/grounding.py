"""Grounding: the words a manual uses for each of the detector's categories.

The detector says ``Serpant``, ``TwoHeaded``, ``Yellow_Collectable`` and
``Enemy_Green_Shot``; a manual says "serpent", "two-headed monster", "treasure"
and "enemy bullet".  Before a reasoning backend can say what touching an object
does, the reader must find the sentences about it, so every category is
grounded first (the "grounding" box of Read and Reward's pipeline).  Candidate
words come from these sources, in this order:

``depicts``
    What the sprite *is*, from game knowledge (:mod:`envs.depicts`).
``synonym``
    Everyday words for common category names, shared by all games
    (:data:`reward_shaping.qa.SYNONYMS`).
``name``
    The name's own word pieces (:func:`name_forms`): CamelCase and ``_`` split,
    plural and ``-able``/``-ible`` variants, and the name without colour, size
    and number words (``Yellow_Collectable`` -> "collectable", "collectible").
``spelling``
    Words *of this manual* that spell one of the name's forms differently
    (:func:`spelling_matches`): a missing or extra letter (``Serpant`` ->
    "serpent", ``Shatterd_Object`` -> "shattered object"), spaces or hyphens
    (``TwoHeaded`` -> "two-headed", ``Hallmonsters`` -> "hall monsters").

``head``
    Only for an object none of whose words the manual uses: the head nouns of
    its multi-word words ("missile" for "enemy missile"), unless another object
    or the avatar shares them.

A candidate the manual uses is *found*; the sentences that use found words are
where the evidence comes from.  A category none of whose words the manual uses
is "not stated" for every backend that only trusts sentences naming it.
``python -m reward_shaping.read GAME --grounding`` shows the result per category.
The avatar's words never name an object.

Example:
    >>> name_forms("Yellow_Collectable")
    ['yellow collectable', 'collectable', 'collectible']
    >>> name_forms("Knife_Throwers")
    ['knife throwers', 'knife thrower', 'knife-thrower']
    >>> spelling_matches(["serpant"], ["Beware of the serpents in the hall."])
    ['serpent']
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from envs.games import GameSpec
from reward_shaping.qa import SYNONYMS, term_pattern

#: Where a candidate word came from, most trusted first.
SOURCES = ("depicts", "synonym", "name", "spelling", "head")

#: Word pieces that qualify a sprite (its colour, size or point value) rather than name it:
#: ``Enemy_Green_Shot`` is an enemy shot whatever its colour.
_MODIFIERS = frozenset({
    "red", "green", "blue", "yellow", "pink", "purple", "grey", "gray", "black", "white",
    "orange", "small", "big", "mini", "large",
})
#: Forms shorter than this are not matched with a spelling difference: "player" would
#: match "played", "pig" "pit".
_FUZZY_MIN = 7


@dataclass(frozen=True)
class Term:
    """One candidate word for a category.

    Attributes:
        text: The word or phrase, lower case.
        source: One of :data:`SOURCES`.
        count: Sentences of the manual that use it (plurals and possessives count).
    """

    text: str
    source: str
    count: int = 0


@dataclass(frozen=True)
class Grounding:
    """The words found for one category in one manual.

    Attributes:
        category: Detector category name.
        terms: Every candidate, in source order, each with its sentence count.
        first: Index of the first sentence using a found word, or -1.
    """

    category: str
    terms: tuple[Term, ...]
    first: int = -1

    @property
    def found(self) -> tuple[Term, ...]:
        """The candidates the manual uses."""
        return tuple(t for t in self.terms if t.count)

    @property
    def words(self) -> list[str]:
        """Every candidate's text, found ones first (what the reader asks with)."""
        found = [t.text for t in self.found]
        return found + [t.text for t in self.terms if t.text not in found]


def _pieces(category: str) -> list[str]:
    """Lower-case word pieces of a CamelCase / snake_case name, digits dropped."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|_|\d+", " ", category)
    return [w.lower() for w in spaced.split()]


def _singular(word: str) -> str:
    """``word`` without a plural ending, or ``word`` (a heuristic for category names)."""
    for plural, single in (("men", "man"), ("ies", "y"), ("ses", "s"), ("xes", "x")):
        if word.endswith(plural) and len(word) > len(plural) + 2:
            return word[: -len(plural)] + single
    if word.endswith("s") and not word.endswith("ss") and len(word) >= 4:
        return word[:-1]
    return word


def name_forms(category: str) -> list[str]:
    """The ways a manual might write a category's own name, the plain split name first.

    >>> name_forms("TwoHeaded"), name_forms("Enemy25"), name_forms("Henchmen")
    (['two headed', 'two-headed'], ['enemy'], ['henchmen', 'henchman'])
    """
    pieces = _pieces(category)
    if not pieces:
        return []
    core = [p for p in pieces if p not in _MODIFIERS] or pieces
    single = [*core[:-1], _singular(core[-1])]
    forms = [" ".join(pieces), " ".join(core), " ".join(single)]
    if len(single) == 2:
        forms.append("-".join(single))        # "two-headed", "knife-thrower"
    for form in forms[1:3]:
        if form.endswith("able"):
            forms.append(form[:-4] + "ible")  # "collectible"
        elif form.endswith("ible"):
            forms.append(form[:-4] + "able")
    return list(dict.fromkeys(forms))


def _key(text: str) -> str:
    """Letters only: spaces, hyphens and apostrophes do not tell spellings apart."""
    return re.sub(r"[^a-z]", "", text.lower())


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by exactly one insertion, deletion, substitution or swap."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1:] == b[i + 1:] or (
            i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:])
    return a[i:] == b[i + 1:]


_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")


def spelling_matches(forms: Sequence[str], sentences: Sequence[str], max_words: int = 3) -> list[str]:
    """Phrases of ``sentences`` that write one of ``forms`` another way.

    A phrase of one to ``max_words`` words matches a form when, letters only, the
    two are equal (spaces, hyphens) or, for forms of at least seven letters, one
    edit apart (a typo in the category name, or in the manual).  A final plural
    "s" is ignored.  Exact matches of a form itself are not returned: they need
    no grounding.

    Args:
        forms: A category's name forms (:func:`name_forms`).
        sentences: The manual's sentences.
        max_words: Longest phrase compared.

    Returns:
        The matching phrases, singular, lower case, in order of first use.
    """
    keys = [_key(f) for f in forms if len(_key(f)) >= 3]

    def matches(key: str) -> bool:
        return any(key == k or (len(k) >= _FUZZY_MIN and key[:1] == k[:1] and _one_edit(key, k))
                   for k in keys)

    out: dict[str, None] = {}
    for sentence in sentences:
        words = _WORD.findall(sentence.lower())
        for n in range(1, max_words + 1):
            for i in range(len(words) - n + 1):
                phrase = " ".join(words[i:i + n])
                key = _key(phrase)
                # The singular first: "hall monsters" is grounded as "hall monster",
                # whose pattern also finds the plural.
                variants = [(key[:-1], phrase[:-1])] if phrase.endswith("s") else []
                for variant, text in [*variants, (key, phrase)]:
                    # Every word a real one: "submarine is" less its "s" is not a name.
                    words_in = text.split()
                    if words_in and min(map(len, words_in)) >= 3 and matches(variant):
                        if text not in forms:
                            out.setdefault(text)
                        break
    return list(out)


def candidates(spec: GameSpec, category: str, sources: Collection[str] = SOURCES
               ) -> list[tuple[str, str]]:
    """(word, source) candidates of ``category`` before the manual is read, each word once
    (under its first source among ``sources``)."""
    out: dict[str, str] = {}
    for source, words in (("depicts", spec.depicts.get(category, ())),
                          ("synonym", SYNONYMS.get(category, ())),
                          ("name", name_forms(category))):
        if source in sources:
            for w in words:
                out.setdefault(w.lower(), source)
    return list(out.items())


def _counted(category: str, listed: Sequence[tuple[str, str]], low: Sequence[str]) -> Grounding:
    """A :class:`Grounding` of the (word, source) pairs ``listed``, counted in ``low``."""
    terms, first = [], -1
    for word, source in listed:
        pattern = term_pattern([word])
        hits = [i for i, s in enumerate(low) if pattern.search(s)] if pattern else []
        terms.append(Term(word, source, len(hits)))
        if hits and (first < 0 or hits[0] < first):
            first = hits[0]
    return Grounding(category, tuple(terms), first)


def ground(spec: GameSpec, category: str, sentences: Sequence[str],
           lowered: Sequence[str] | None = None, exclude: Sequence[str] = (),
           sources: Collection[str] = SOURCES) -> Grounding:
    """Find the words ``sentences`` use for ``category`` of ``spec``'s game.

    Args:
        spec: The game.
        category: One of its categories.
        sentences: The manual's sentences (:func:`reward_shaping.qa.split_sentences`).
        lowered: The same sentences in lower case, if already computed.
        exclude: Words that name something else (the avatar's: "submarine" in
            Seaquest is the player's own sub, not the enemy ``Submarine``).
        sources: The sources to use (an ablation: what does each add?).

    Example:
        >>> from envs.games import resolve_game
        >>> g = ground(resolve_game("Venture"), "Serpant", ["Serpents guard the treasure room."])
        >>> [(t.text, t.source) for t in g.found]
        [('serpent', 'depicts')]
    """
    low = list(lowered) if lowered is not None else [s.lower() for s in sentences]
    listed = candidates(spec, category, sources)
    known = {w for w, _ in listed}
    if "spelling" in sources:
        listed += [(w, "spelling") for w in spelling_matches(name_forms(category), sentences)
                   if w not in known]
    excluded = set(exclude)
    listed = [(w, src) for w, src in listed if w not in excluded]
    return _counted(category, listed, low)


def ground_all(spec: GameSpec, sentences: Sequence[str],
               sources: Collection[str] = SOURCES) -> dict[str, Grounding]:
    """:func:`ground` for the avatar, every interactable category and every place of ``spec``.

    An object's words exclude the avatar's.  An object none of whose words the
    manual uses gets the head nouns of its multi-word words as a last source
    (``head``: "the fish" for "green fish", "missiles" for "enemy missile"),
    except heads that another object or the avatar shares, which would name
    the wrong thing.
    """
    from reward_shaping.qa import fallback_terms, head_noun

    low = [s.lower() for s in sentences]
    out = {}
    if spec.avatar:
        out[spec.avatar] = ground(spec, spec.avatar, sentences, low)
    avatar = tuple(out[spec.avatar].words) if spec.avatar else ()
    for c in spec.readable:
        out[c] = ground(spec, c, sentences, low, exclude=avatar, sources=sources)
    if "head" not in sources:
        return out
    words = {c: out[c].words for c in spec.readable}
    heads = [h for c in words for h in dict.fromkeys(map(head_noun, words[c]))]
    taken = set(avatar) | {h for h in heads if heads.count(h) > 1}
    for c in spec.readable:
        if not out[c].found:
            extra = fallback_terms(words[c], taken)
            if extra:
                listed = [(t.text, t.source) for t in out[c].terms] + [(h, "head") for h in extra]
                out[c] = _counted(c, listed, low)
    return out
