"""Reasoning backends: is touching an object good or bad for the player?

One interface (:class:`reward_shaping.qa.Backend`), chosen by name (:func:`get_backend`):

* ``consensus`` (default, offline, cautious): pays an object only where
  ``consequence`` and ``embedding`` give it the same sign; where they disagree it
  is 0, "uncertain".  On real manuals, against ``consequence`` alone: fewer right
  answers, a third of the wrong signs, half the paid neutral objects
  (``benchmarks/RESULTS.md``).
* ``consequence`` (offline): a classifier trained to read what touching an
  object does (:mod:`reward_shaping.consequence`).
* ``embedding`` (offline, the fast fallback): compares each evidence sentence with
  descriptions of outcomes (scoring points, gaining a life, rescuing vs. losing
  a life, crashing, losing time) in the embedded sentence model's space.
* ``openai``: any OpenAI-compatible chat-completions server (Ollama, vLLM,
  llama.cpp server) answers the paper's yes/no question with the evidence as
  context.  The answer is parsed strictly; it is data, never executed.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np

from envs.games import EVENT_KINDS
from reward_shaping.consequence import ConsequenceBackend
from reward_shaping.encoder import embed
from reward_shaping.qa import CLAUSE_BREAK, Answer, Backend, Decision, question_for


class ReasoningError(RuntimeError):
    """A backend could not produce a decision (server unreachable, garbage answer)."""


# Outcome descriptions, written once for all games.  Each evidence sentence is
# scored by how much closer it lies to the good outcomes than to the bad ones.
GOOD_OUTCOMES = (
    "you earn points",
    "you score points for it",
    "collect it to earn bonus points",
    "it is worth points",
    "you gain an extra life",
    "it gives you power for a short time",
    "you rescue it and earn a bonus",
    "pick it up for a reward",
    "hit it back to win the point",
    "it rebounds and keeps the ball in play",
    "catch it before it leaves to collect bonus points",
)
BAD_OUTCOMES = (
    "you lose a life",
    "your ship is destroyed",
    "the player dies",
    "you crash and fall down",
    "you lose time",
    "it slows you down",
    "a penalty is added to your time",
    "it is dangerous, avoid it",
    "you are knocked back",
    "the game is over",
    "it costs you",
)


# "If Asterix touches a lyre he loses a life": a condition with no comma before
# its consequence, which starts at the last subject pronoun.
_UNMARKED_CONSEQUENCE = re.compile(
    r"^(?:if|when|whenever)\s+[^,;:]*?\s((?:he|she|it|you|they)\s+(?!.*\b(?:he|she|it|you|they)\b)[^,;:]+)$",
    re.IGNORECASE,
)


# A sentence about failing to go through something ("each missed gate costs five
# seconds"): its outcome belongs to the ``miss`` event, and the opposite to ``pass``.
_MISSING = re.compile(r"\b(?:miss(?:es|ed|ing)?|fail(?:s|ed|ing)?\s+to|skip(?:s|ped|ping)?)\b",
                      re.IGNORECASE)


def event_signs(sentences: list[str], kind: str) -> np.ndarray:
    """Per sentence, +1 or -1: how its outcome carries over to event ``kind``.

    Similarity to outcomes says whether a sentence describes something good
    or bad, not for which event.  For ``pass`` and ``miss`` a sentence about
    missing speaks for the miss event and, inverted, for passing; any other
    sentence speaks for passing and, inverted, for missing.  Touches keep
    every sign.

    >>> event_signs(["A missed gate costs 5 seconds.", "Ski through each gate."], "pass").tolist()
    [-1.0, 1.0]
    >>> event_signs(["A missed gate costs 5 seconds.", "Ski through each gate."], "miss").tolist()
    [1.0, -1.0]
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}; expected one of {EVENT_KINDS}")
    if kind == "touch":
        return np.ones(len(sentences))
    about_miss = np.array([bool(_MISSING.search(s)) for s in sentences])
    return np.where(about_miss == (kind == "miss"), 1.0, -1.0)


class EmbeddingBackend(Backend):
    """Offline decisions from sentence-embedding similarity to outcome descriptions.

    Args:
        min_relevance: Evidence below this relevance means the manual does not
            talk about the object: neutral.
        margin: Polarity (good minus bad similarity) needed for yes/no.
        device: Torch device of the encoder.
    """

    name = "embedding"

    def __init__(self, min_relevance: float = 0.45, margin: float = 0.015, device: str = "cpu") -> None:
        # Both thresholds are compared with cosine similarities.
        if not -1.0 <= min_relevance <= 1.5 or not 0.0 <= margin <= 1.0:
            raise ValueError(f"bad thresholds: min_relevance={min_relevance}, margin={margin}")
        self.min_relevance = min_relevance
        self.margin = margin
        self.device = device
        self._outcomes: tuple[np.ndarray, np.ndarray] | None = None  # embedded on first use

    def _outcome_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        if self._outcomes is None:
            self._outcomes = (embed(list(GOOD_OUTCOMES), self.device),
                              embed(list(BAD_OUTCOMES), self.device))
        return self._outcomes

    def settings(self) -> dict:
        return {"min_relevance": self.min_relevance, "margin": self.margin,
                "good": list(GOOD_OUTCOMES), "bad": list(BAD_OUTCOMES)}

    def polarity(self, sentences: list[str]) -> np.ndarray:
        """Per sentence: how much closer it lies to good than to bad outcomes.

        A sentence and each of its clauses are scored (mean of the top-2
        similarities to good minus to bad outcomes); the most decided one
        counts, so "If a car hits your chicken, it loses time" is judged by its
        consequence, not by its talk of cars.
        """
        pieces, owner = [], []
        for i, s in enumerate(sentences):
            parts = [s] + [c for c in CLAUSE_BREAK.split(s) if len(c.split()) >= 3]
            m = _UNMARKED_CONSEQUENCE.match(s)
            if m:
                parts.append(m.group(1))
            pieces += parts
            owner += [i] * len(parts)
        v = embed(pieces, self.device)
        good_v, bad_v = self._outcome_vectors()
        good = np.sort(v @ good_v.T, axis=1)[:, -2:].mean(axis=1)
        bad = np.sort(v @ bad_v.T, axis=1)[:, -2:].mean(axis=1)
        diff = good - bad
        out = np.zeros(len(sentences))
        for i, d in zip(owner, diff):
            if abs(d) > abs(out[i]):
                out[i] = d
        return out

    def decide(self, game, category, terms, evidence, objective, kind="touch") -> Decision:
        question = question_for(terms[0] if terms else category, kind)
        relevant = [e for e in evidence if e.relevance >= self.min_relevance]
        if not relevant:
            best = max((e.relevance for e in evidence), default=0.0)
            return Decision("neutral", round(min(1.0, 1.0 - best), 3),
                            "the manual does not discuss touching it", question)
        if kind != "touch":
            # What missing costs is what a manual states most plainly about a gate
            # ("a missed gate adds five seconds"); praise of passing is often put as a
            # negation ("passing costs nothing") that similarity reads as bad.
            about_miss = [e for e in relevant if _MISSING.search(e.text)]
            relevant = about_miss or relevant
        texts = [e.text for e in relevant]
        # Outcome similarity has no notion of the event: event_signs maps it onto the kind.
        pol = self.polarity(texts) * event_signs(texts, kind)
        weights = np.array([e.relevance for e in relevant]) ** 2
        score = float((pol * weights).sum() / weights.sum())
        confidence = round(float(np.tanh(abs(score) / 0.08)), 3)
        if score >= self.margin:
            return Decision("yes", confidence, f"evidence leans good ({score:+.3f})", question)
        if score <= -self.margin:
            return Decision("no", confidence, f"evidence leans bad ({score:+.3f})", question)
        return Decision("neutral", round(1.0 - confidence, 3), f"evidence is mixed ({score:+.3f})",
                        question)


class ConsensusBackend(Backend):
    """Pays an object only when two readers that work differently agree on its sign.

    ``consequence`` reads what a sentence says happens around the object with a
    trained classifier; ``embedding`` compares the sentence with outcome descriptions.
    Their mistakes are partly independent, so where one pays a neutral object or
    guesses a wrong sign the other often does not: requiring both to agree trades
    right answers for safety (an agent paid to seek what kills it is worse off than
    one paid nothing).  Where they disagree, or either abstains, the object gets 0
    with the note "uncertain, the readers disagree".

    Args:
        min_stated, margin, max_neutral, evidence_k, head, indirect: :class:`ConsequenceBackend`'s
            (``head``: its classifier file; default the shipped one).
        min_relevance: :class:`EmbeddingBackend`'s.
        embedding_margin: :class:`EmbeddingBackend`'s ``margin``.
        device: Torch device of the encoder (both readers share it).

    Example:
        >>> backend = ConsensusBackend()
        >>> sorted(backend.settings())
        ['consequence', 'embedding', 'embedding_k']
    """

    name = "consensus"

    def __init__(self, min_stated: float = 0.3, margin: float = 0.1, evidence_k: int = 6,
                 max_neutral: float = 1.0, min_relevance: float = 0.45,
                 embedding_margin: float = 0.015, head: str | Path | None = None,
                 device: str = "cpu", indirect: bool = True) -> None:
        # Each reader validates its own thresholds.
        self.first = ConsequenceBackend(min_stated=min_stated, margin=margin, evidence_k=evidence_k,
                                        max_neutral=max_neutral, head=head, device=device,
                                        indirect=indirect)
        self.second = EmbeddingBackend(min_relevance=min_relevance, margin=embedding_margin,
                                       device=device)
        # ``embedding`` reads the best of the sentences ``consequence`` is given, to its
        # own retrieval depth, so that its answers are the ones it gives on its own.
        self.embedding_k = self.second.evidence_k
        self.evidence_k = max(evidence_k, self.embedding_k)

    def settings(self) -> dict:
        return {"consequence": self.first.settings(), "embedding": self.second.settings(),
                "embedding_k": self.embedding_k}

    def decide(self, game, category, terms, evidence, objective, kind="touch") -> Decision:
        a = self.first.decide(game, category, terms, evidence, objective, kind)
        b = self.second.decide(game, category, terms, evidence[:self.embedding_k], objective, kind)
        if a.answer == b.answer:
            if a.answer == "neutral":
                return a
            return replace(a, confidence=round(min(a.confidence, b.confidence), 3),
                           detail=f"{a.detail}; embedding agrees: {b.detail}")
        return Decision("neutral", round(1.0 - min(a.confidence, b.confidence), 3),
                        f"uncertain, the readers disagree (consequence {a.answer}: {a.detail}; "
                        f"embedding {b.answer}: {b.detail})",
                        a.question, a.p_yes, a.p_no, a.p_neutral, a.evidence)


class OpenAIBackend(Backend):
    """Asks an OpenAI-compatible chat-completions endpoint the paper's yes/no question.

    Args:
        base_url: e.g. ``http://127.0.0.1:11434/v1`` (Ollama) or ``http://host:8000/v1`` (vLLM).
        model: Model name the server knows.
        api_key_env: Environment variable holding the API key (optional; the
            key is sent as a bearer token and never logged or stored).
        timeout: Seconds per HTTP request.
        retries: Extra attempts after a failed request or an unparseable answer.
        backoff: First retry delay in seconds; doubles each retry.
    """

    name = "openai"

    def __init__(self, base_url: str = "http://127.0.0.1:11434/v1", model: str = "llama3.1",
                 api_key_env: str = "OPENAI_API_KEY", timeout: float = 30.0, retries: int = 3,
                 backoff: float = 1.0) -> None:
        if not re.match(r"^https?://", base_url):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ValueError("timeout must be > 0, retries and backoff >= 0")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    def settings(self) -> dict:
        # The key is a credential, not a setting: it never enters the cache key.
        return {"base_url": self.base_url, "model": self.model}

    def _post(self, payload: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(f"{self.base_url}/chat/completions",
                                     data=json.dumps(payload).encode(), headers=headers)
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))

    @staticmethod
    def parse_answer(text: str) -> Answer:
        """Strictly parse a reply: its first word must be yes or no.

        Raises:
            ReasoningError: anything else.
        """
        m = re.match(r"^\W*(yes|no)\b", text.strip().lower())
        if not m:
            raise ReasoningError(f"unparseable model answer (expected Yes or No): {text[:80]!r}")
        return m.group(1)  # type: ignore[return-value]

    def decide(self, game, category, terms, evidence, objective, kind="touch") -> Decision:
        context = " ".join(e.sentence for e in objective + evidence)
        asked = question_for(terms[0] if terms else category, kind)
        question = (f"Context from the {game} game manual: {context}\n"
                    f"Question: {asked} ({category}) Answer with Yes or No only.")
        payload = {"model": self.model, "temperature": 0,
                   "messages": [{"role": "system", "content": "You answer questions about video "
                                 "game manuals with a single word: Yes or No."},
                                {"role": "user", "content": question}]}
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                reply = self._post(payload)
                content = reply["choices"][0]["message"]["content"]
                if not isinstance(content, str):
                    raise TypeError("content is not a string")
            except urllib.error.HTTPError as err:
                last = f"HTTP {err.code} from {self.base_url}"
                continue
            except OSError as err:  # URLError, timeouts and refused connections alike
                reason = getattr(err, "reason", err)
                last = f"cannot reach the LLM server at {self.base_url} ({reason})"
                continue
            except (ValueError, KeyError, IndexError, TypeError) as err:
                last = f"malformed chat-completions response from {self.base_url} ({err})"
                continue
            try:
                return Decision(self.parse_answer(content), 1.0,
                                f"{self.model}: {content.strip()[:60]}", asked)
            except ReasoningError as err:
                last = str(err)
        raise ReasoningError(f"{category}: {last} (after {self.retries + 1} attempts)")


#: Backend name -> constructor.
BACKENDS = {"consequence": ConsequenceBackend, "embedding": EmbeddingBackend,
            "consensus": ConsensusBackend, "openai": OpenAIBackend}
#: The backend used when none is named: ``consensus``, because a wrong sign or a paid neutral
#: object harms an agent more than a 0 does (issue 23's objective).  On the held-out real
#: manuals it gives 3 wrong signs where ``consequence`` gives 9, pays 19 neutral objects of
#: 70 where that pays 39, and gets 62 of 114 right where that gets 79; on the shipped manuals
#: their tables are equal (benchmarks/RESULTS.md, "Two readers that must agree").
DEFAULT_BACKEND = "consensus"


def get_backend(name: str, **kwargs) -> Backend:
    """Construct a backend by name (``consequence``, ``embedding``, ``consensus`` or ``openai``)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown reasoning backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    return BACKENDS[name](**kwargs)
