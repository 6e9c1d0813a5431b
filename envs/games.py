"""Game registry: friendly names, ALE ids and the per-game facts the detector needs.

Every Atari game that OCAtari can read from RAM is known here by a
:class:`GameSpec`.  The spec is declarative: the ALE environment id, the
OCAtari module, the object categories with their per-frame maximum counts
(taken from OCAtari's ``MAX_NB_OBJECTS`` tables), which category is the
player's avatar, which categories are heads-up display (never interactable),
and the per-game interaction settings.  The same category names are used by
the detector, the manual reward tables and the logs.

Example:
    >>> from envs.games import resolve_game
    >>> spec = resolve_game("skiing")
    >>> spec.name, spec.ale_id, spec.avatar
    ('Skiing', 'ALE/Skiing-v5', 'Player')
    >>> spec.categories
    ('Player', 'Tree', 'Mogul', 'Flag')
    >>> resolve_game("ALE/MsPacman-v5").name
    'MsPacman'
"""

from __future__ import annotations

import difflib
import functools
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class UnknownGameError(ValueError):
    """Raised for a game name that rnr cannot resolve; the message lists close matches."""


@dataclass(frozen=True)
class GameSpec:
    """Static facts about one supported Atari game.

    Attributes:
        name: Canonical CamelCase name, e.g. ``"MsPacman"``.
        ale_id: Gymnasium id of the ALE v5 environment, e.g. ``"ALE/MsPacman-v5"``.
        max_objects: Category -> maximum simultaneous instances (non-HUD objects).
        hud_categories: Categories that belong to the heads-up display (score,
            lives, clocks). They are never interactable and are listed so that
            reward tables can show them with a zero reward.
        avatar: Category of the player's avatar, or ``None`` for games where the
            player controls no single on-screen object (no interactions then).
        avatar_index: Which instance of ``avatar`` is the player (Freeway has two
            chickens; the left one, index 0, is player one).
        ignored: Categories never reported as interactions: the avatar's own
            projectiles and scenery it always stands on.
        touch_margin: Pixels by which boxes are grown before the overlap test:
            "distance under a per-game threshold".
        clip_reward_default: Whether DQN-style reward clipping is on by default.
            Off for games whose reward magnitude carries the signal (Skiing's
            reward is minus elapsed time plus a missed-gate penalty: clipping
            turns it into -1 per step).
    """

    name: str
    ale_id: str
    max_objects: Mapping[str, int]
    hud_categories: tuple[str, ...]
    avatar: str | None
    avatar_index: int = 0
    ignored: frozenset[str] = field(default_factory=frozenset)
    touch_margin: int = 0
    clip_reward_default: bool = True

    @property
    def module(self) -> str:
        """Name of the OCAtari RAM module (lower-case game name)."""
        return self.name.lower()

    @property
    def categories(self) -> tuple[str, ...]:
        """Non-HUD object categories, in OCAtari's declaration order."""
        return tuple(self.max_objects)

    @property
    def interactable(self) -> tuple[str, ...]:
        """Categories that can produce interaction events with the avatar."""
        return tuple(
            c for c in self.categories if c not in self.ignored and c != self.avatar
        )


# Per-game settings that OCAtari's tables cannot tell us.  Everything not
# listed falls back to: avatar "Player", no extra ignored categories, margin 0,
# reward clipping on.
_AVATAR = {
    "Freeway": "Chicken",
    "Frogger": "Frog",
    "KeystoneKapers": "Kop",
    "FishingDerby": "PlayerOneHook",
    "DoubleDunk": "Player_Small",
    # Atlantis: the player is a set of fixed gun posts, no avatar.
    # VideoPinball: OCAtari's module is a copy of FishingDerby's and reads no
    # pinball objects, so no avatar is claimed.
    "Atlantis": None,
    "VideoPinball": None,
}
_IGNORED = {
    # Scenery the avatar stands on or climbs all the time: one event per
    # landing would drown every meaningful contact.
    "Kangaroo": {"Platform", "Ladder"},
    "MontezumaRevenge": {"Platform", "Ladder", "Rope", "Conveyer_Belt", "Wall"},
    "Pitfall": {"Platform", "Wall", "Stair"},
    "Hero": {"Wall"},
    # HUD-like gauges OCAtari does not flag as HUD.
    "Seaquest": {"OxygenBar", "CollectedDiver"},
    # The ball's shadow always lies under the ball.
    "Tennis": {"BallShadow"},
}
_MARGIN = {
    # Fast balls cross a 4-pixel paddle within one or two frames.
    "Pong": 1,
    "Breakout": 1,
    "Tennis": 2,
}
_NO_CLIP = {"Skiing"}

# OCAtari modules that exist but cannot extract objects.
_UNSUPPORTED = {"Adventure"}


@functools.cache
def _registry() -> Mapping[str, GameSpec]:
    # Imported here, not at module level: OCAtari imports all 60+ game modules
    # (seconds), and ale_py registers the ALE/... ids with Gymnasium.
    import ale_py  # noqa: F401
    import gymnasium as gym
    import ocatari.ram  # noqa: F401  (puts every ocatari.ram.<game> in sys.modules)
    from ocatari.core import AVAILABLE_GAMES

    specs: dict[str, GameSpec] = {}
    for name in AVAILABLE_GAMES:
        module = sys.modules.get(f"ocatari.ram.{name.lower()}")
        ale_id = f"ALE/{name}-v5"
        if (
            module is None
            or name in _UNSUPPORTED
            or not hasattr(module, "MAX_NB_OBJECTS")
            or ale_id not in gym.registry
        ):
            continue
        max_objects = MappingProxyType(dict(module.MAX_NB_OBJECTS))
        hud = tuple(
            c for c in getattr(module, "MAX_NB_OBJECTS_HUD", {}) if c not in max_objects
        )
        avatar = _AVATAR.get(name, "Player")
        if avatar is not None and avatar not in max_objects:
            avatar = None
        # The avatar's own missiles and score displays start with "Player".
        ignored = {c for c in max_objects if c.startswith("Player") and c != avatar}
        ignored |= _IGNORED.get(name, set())
        specs[name] = GameSpec(
            name=name,
            ale_id=ale_id,
            max_objects=max_objects,
            hud_categories=hud,
            avatar=avatar,
            ignored=frozenset(ignored),
            touch_margin=_MARGIN.get(name, 0),
            clip_reward_default=name not in _NO_CLIP,
        )
    return MappingProxyType(specs)


def known_games() -> tuple[str, ...]:
    """Canonical names of every supported game, sorted."""
    return tuple(sorted(_registry()))


def _normalize(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def resolve_game(name: str) -> GameSpec:
    """Turn a friendly game name into its :class:`GameSpec`.

    Accepts ``"Skiing"``, ``"skiing"``, ``"ms_pacman"``, ``"ALE/Skiing-v5"``,
    ``"SkiingNoFrameskip-v4"`` and the like.

    Raises:
        UnknownGameError: if the name matches no supported game. The message
            names the closest supported games.
    """
    if not isinstance(name, str) or not name.strip():
        raise UnknownGameError(f"game name must be a non-empty string, got {name!r}")
    registry = _registry()
    base = name.strip()
    base = base.split("/", 1)[1] if base.upper().startswith("ALE/") else base
    base = re.sub(r"-v\d+$", "", base)
    base = re.sub(r"(NoFrameskip|Deterministic)$", "", base)
    by_key = {_normalize(n): n for n in registry}
    key = _normalize(base)
    if key in by_key:
        return registry[by_key[key]]
    close = difflib.get_close_matches(key, list(by_key), n=3, cutoff=0.6)
    hint = (
        f"Did you mean: {', '.join(by_key[c] for c in close)}?"
        if close
        else f"Supported games: {', '.join(known_games())}."
    )
    raise UnknownGameError(f"Unknown Atari game {name!r}. {hint}")
