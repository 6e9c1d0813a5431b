"""Game scores: evaluation episodes of a policy, published references, human-normalised scores.

:func:`evaluate_model` plays a trained model's evaluation episodes (for
``agents.train``'s final evaluation and for ``agents.evaluate``).

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

import numpy as np

from agents.environments import EnvSettings, Target, make_vec

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


def evaluate_model(model, target: Target, settings: EnvSettings, episodes: int, *, n_envs: int = 1,
                   seed: int = 0, deterministic: bool = False, vec_env: str = "auto") -> dict[str, Any]:
    """Play ``episodes`` unshaped episodes; game scores and their statistics.

    The environments have no shaping and no clipping in their ``Monitor``, so
    the scores are the game's own.
    """
    from stable_baselines3.common.evaluation import evaluate_policy

    # Episodes are spread over the envs; more envs than episodes would bias to short ones.
    n_envs = max(1, min(n_envs, episodes))
    venv = make_vec(target, settings, n_envs, seed, track_objects=False, vec_env=vec_env)
    try:
        scores, lengths = evaluate_policy(model, venv, n_eval_episodes=episodes,
                                          deterministic=deterministic, return_episode_rewards=True)
    finally:
        venv.close()
    mean = float(np.mean(scores))
    # Published reference scores are for full-length (108,000-frame) episodes.
    comparable = target.atari and settings.max_episode_frames >= 108_000
    return {
        "episodes": len(scores), "deterministic": deterministic,
        "scores": [float(s) for s in scores], "lengths": [int(n) for n in lengths],
        "mean": mean, "std": float(np.std(scores)),
        "human_normalized": human_normalized(target.name, mean) if comparable else None,
    }
