"""Atari environments, object extraction and interaction detection (the online "eyes" of rnr).

Two paths run the games and find the contacts; they are twins, checked against
each other by the tests named below.

Front door and shared pieces (this folder)::

    atari.py         make_env / make_vec_env: one game, or n of them on either path
    arguments.py     the environment arguments both paths take, checked once
    games.py         the game registry (GameSpec): ALE id, categories, avatar, derived objects
    objects.py       ObjectExtractor / ObjectFrame / ObjectRecord: RAM -> objects (OCAtari)
    derived.py       Deriver + PassDetector: derived objects (Skiing's gates), pass / miss
    interactions.py  InteractionEvent, and the per-frame InteractionDetector
    slots.py         SlotLayout / SlotEncoder: the objects as one float vector (--obs objects)
    observations.py  that vector as Gymnasium / Gymnasium-vector / SB3 wrappers

The per-frame path (``backend="gymnasium"``): ``wrappers.py`` (ObjectTracker runs
``objects.py`` and ``interactions.py`` on every emulator frame, beneath frame
skipping) around Gymnasium's ALE env, built by ``atari.make_env``.

The fast path (``backend="envpool"``), :mod:`envs.fast`: envpool steps the games in
C++ threads; the RAM of all of them becomes objects in one NumPy call
(``fast/batched.py``) and contacts are found once per agent step along the objects'
paths (``fast/swept.py``); ``fast/envpool_vec.py`` puts them together.  Checked
against the per-frame path by ``tests/test_batched.py``, ``test_envpool.py``,
``test_swept.py``, ``test_gates.py`` and ``test_object_obs.py``.

Tools, :mod:`envs.tools`: ``python -m envs.tools.inspect`` (what the detector sees),
``envs.tools.recall`` (the per-step detector against the per-frame one) and
``python -m envs.tools.catalog`` (the shipped snapshot of OCAtari's object tables).
"""

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
