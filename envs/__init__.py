"""Atari environments, object extraction and interaction detection (the online "eyes" of rnr)."""

from envs.atari import make_env, make_vec_env
from envs.games import GameSpec, UnknownGameError, known_games, resolve_game
from envs.interactions import INTERACTIONS_KEY, InteractionDetector, InteractionEvent
from envs.objects import ObjectExtractor, ObjectFrame, ObjectRecord
from envs.wrappers import InteractionInfo, ObjectTracker, SignReward

__all__ = [
    "INTERACTIONS_KEY",
    "GameSpec",
    "InteractionDetector",
    "InteractionEvent",
    "InteractionInfo",
    "ObjectExtractor",
    "ObjectFrame",
    "ObjectRecord",
    "ObjectTracker",
    "SignReward",
    "UnknownGameError",
    "known_games",
    "make_env",
    "make_vec_env",
    "resolve_game",
]
