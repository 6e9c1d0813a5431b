"""Published reference scores and human-normalised scores.

``reference_scores.json`` (shipped with the package) holds random and human
scores and published agent results, with sources in its ``_about`` field.

Example:
    >>> from agents.scores import human_normalized
    >>> round(human_normalized("Pong", 14.6), 3)
    1.0
    >>> human_normalized("Frostbite", 100.0) is None   # no reference numbers shipped
    True
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

REFERENCE_FILE = Path(__file__).resolve().parent / "reference_scores.json"


@lru_cache(maxsize=1)
def reference_scores() -> dict[str, Any]:
    """The parsed reference file."""
    return json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))


def human_normalized(game: str, score: float) -> float | None:
    """``(score - random) / (human - random)``, or ``None`` without reference numbers."""
    ref = reference_scores()
    if game not in ref["random"] or game not in ref["human"]:
        return None
    rnd, human = ref["random"][game], ref["human"][game]
    return (score - rnd) / (human - rnd)


def published(game: str) -> list[dict[str, Any]]:
    """Published agent scores for ``game`` (agent, score, frames), possibly empty."""
    return list(reference_scores()["published"].get(game, []))
