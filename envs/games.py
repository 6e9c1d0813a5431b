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
    ('Player', 'Tree', 'Mogul', 'Flag', 'Gate')
    >>> spec.event_kinds("Tree"), spec.event_kinds("Gate")
    (('touch',), ('pass', 'miss'))
    >>> resolve_game("ALE/MsPacman-v5").name
    'MsPacman'
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from envs.depicts import DEPICTS


class UnknownGameError(ValueError):
    """Raised for a game name that rnr cannot resolve; the message lists close matches."""


#: What can happen between the avatar and an object, as event kinds:
#: ``touch`` (boxes meet), ``pass`` (the avatar goes through a passable derived object,
#: e.g. between the two flags of a Skiing gate) and ``miss`` (a passable object goes by
#: unpassed).  Shared by the detector, the reward tables and the logs.
EVENT_KINDS = ("touch", "pass", "miss")


@dataclass(frozen=True)
class DerivedObject:
    """A game object made of detector objects, e.g. a Skiing gate made of two flags.

    A derived object is the box *between* two parts of category ``part`` that
    stand on one row (tops within ``row_tolerance`` pixels) with their left edges
    ``gap`` pixels apart (inclusive range).  It gets an instance id, a box and a
    category like any detected object; being passable, the detector reports the
    avatar going through it (``pass``) or it going by unpassed (``miss``) rather
    than touches (touching a part is that part's own ``touch``).

    Attributes:
        category: Name of the derived category (``"Gate"``).
        part: Category of its parts (``"Flag"``).
        max_count: Most instances on screen at once.
        gap: Inclusive range of the distance between the parts' left edges.
        row_tolerance: Largest difference of the parts' top edges.
        centre_offset: Pixels from the centre of the avatar's box to the point the
            game tests for passing (measured against the game's own count).
        depicts: Plain words for the manual reader (``("gate",)``).
    """

    category: str
    part: str
    max_count: int
    gap: tuple[int, int]
    row_tolerance: int = 1
    centre_offset: int = 0
    depicts: tuple[str, ...] = ()

    @property
    def kinds(self) -> tuple[str, ...]:
        """Event kinds the detector reports for this object."""
        return ("pass", "miss")


@dataclass(frozen=True)
class Place:
    """A fixed region of the screen that a manual names as somewhere to go.

    Not a sprite OCAtari reads, and never in the object observation: Freeway's far
    sidewalk, where each chicken that reaches it scores.  The reader asks about it
    like an object (its :attr:`category` gets a row in the reward table) and only
    the ``proximity`` potential pays it (:mod:`reward_shaping.potentials`): the
    game already scores reaching it, so a contact bonus would pay that twice,
    while the potential says *which way* to go, from anywhere on the screen.

    Attributes:
        category: Name in the reward table (``"Sidewalk"``).
        box: ``(x, y, w, h)`` in the screen's pixels, as object boxes are.
        radius: Pixels from the avatar's box at which the place stops counting in
            the potential; as large as the screen for a goal seen from everywhere.
        depicts: Plain words for the manual reader (``("far sidewalk",)``).
    """

    category: str
    box: tuple[int, int, int, int]
    radius: float
    depicts: tuple[str, ...] = ()


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
        avatar_near: For games where the player's control passes between the
            instances of ``avatar``: the category whose first object decides it.
            The avatar is then the instance of ``avatar`` whose ``avatar_reach``
            point is nearest that object's box centre (Ice Hockey: the skater
            whose stick is nearest the puck), or the ``avatar_index``-th when
            none of that category is present.
        avatar_reach: The point of an avatar's box that ``avatar_near`` measures
            from, as fractions of its width and height from its top-left corner.
        ignored: Categories never reported as interactions: the avatar's own
            projectiles, scenery it always stands on, and the point value a
            collected item leaves behind (Asterix's ``Reward``).
        touch_margin: Pixels by which boxes are grown before the overlap test:
            "distance under a per-game threshold".
        axis_margins: Per category, ``(x, y)`` margins that replace ``touch_margin``
            along an axis where they are larger: for an object whose position
            OCAtari knows only to a coarse grid (Kangaroo's falling coconut moves in
            8-pixel rows, and hits the kangaroo from the row above her box).
        clip_reward_default: Whether DQN-style reward clipping is on by default.
            Off for games whose reward magnitude carries the signal (Skiing's
            reward is minus elapsed time plus a missed-gate penalty: clipping
            turns it into -1 per step).
        depicts: What a generically named category shows on screen, in plain
            words (Asterix's ``Enemy`` sprites are lyres).  A fact about the
            detector, not about any manual: it lets the manual reader find the
            sentences about that object.
        derived: Objects made of detected ones (Skiing's gates), see
            :class:`DerivedObject`; their categories follow OCAtari's in
            :attr:`categories`.
        places: Fixed regions the manual names as goals (:class:`Place`); read
            like objects, paid only by the ``proximity`` potential.
        game_time_limit_frames: Emulator frames after which the game itself ends an
            episode, whatever the player does, or ``None``.  An agent that stalls runs
            into this limit, not into the wrapper's ``max_episode_frames``.
        renewed: Categories OCAtari creates anew on every frame although the
            sprite is the same one moving on; a slot holding one keeps its
            instance id from frame to frame while its category stays.
        rebounds: Categories that bounce off the avatar and come back, so that
            touching one instance again and again *is* the game (Pong's and
            Breakout's ball).  A contact with one is an event only once it has come
            back, from :data:`envs.interactions.REBOUND_AWAY` pixels away; its
            repeated payments are counted as farming only when faster than a rally
            (:mod:`agents.health`); ``pay_cap`` still applies to them.
    """

    name: str
    ale_id: str
    max_objects: Mapping[str, int]
    hud_categories: tuple[str, ...]
    avatar: str | None
    avatar_index: int = 0
    avatar_near: str | None = None
    avatar_reach: tuple[float, float] = (0.5, 0.5)
    ignored: frozenset[str] = field(default_factory=frozenset)
    touch_margin: int = 0
    axis_margins: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    clip_reward_default: bool = True
    depicts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    derived: tuple[DerivedObject, ...] = ()
    places: tuple[Place, ...] = ()
    game_time_limit_frames: int | None = None
    rebounds: frozenset[str] = field(default_factory=frozenset)
    renewed: frozenset[str] = field(default_factory=frozenset)

    @property
    def module(self) -> str:
        """Name of the OCAtari RAM module (lower-case game name)."""
        return self.name.lower()

    @property
    def categories(self) -> tuple[str, ...]:
        """Non-HUD object categories: OCAtari's, in its declaration order, then derived ones."""
        return tuple(self.max_objects) + tuple(d.category for d in self.derived)

    @property
    def interactable(self) -> tuple[str, ...]:
        """Categories that can produce interaction events with the avatar."""
        return tuple(
            c for c in self.categories if c not in self.ignored and c != self.avatar
        )

    @property
    def place_categories(self) -> tuple[str, ...]:
        """The table names of the game's places (:class:`Place`), in declaration order."""
        return tuple(p.category for p in self.places)

    @property
    def readable(self) -> tuple[str, ...]:
        """What the manual reader asks about: the interactable categories, then the places."""
        return self.interactable + self.place_categories

    def event_kinds(self, category: str) -> tuple[str, ...]:
        """Event kinds an interactable ``category`` or a place can produce (empty for the others).

        A place's ``touch`` is the avatar being in it; no detector reports it (see
        :class:`Place`), but it names the place's row in a reward table.
        """
        if category in self.place_categories:
            return ("touch",)
        if category not in self.interactable:
            return ()
        for d in self.derived:
            if d.category == category:
                return d.kinds
        return ("touch",)


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
# Games whose control passes from one instance of the avatar's category to another, and
# the point of the avatar's box the distance is measured from.  Ice Hockey gives the
# joystick to the skater who has the puck or, when nobody on the team has it, to the
# one nearest it.  RAM byte 108 says which (2: OCAtari's first Player, 0: its second;
# the skater that byte names moved with the joystick on 3,702 of 3,706 steps where only
# one did).  Measured from the skater's stick blade, a quarter of his height below his
# box, the nearest skater is the one the byte names on 93.5% of 8,000 steps of play
# (87.0% from the box's centre; benchmarks/icehockey_control.py).  rnr's detectors see
# objects, not RAM, so the nearest skater stands for the byte (tests/test_interactions.py).
_AVATAR_NEAR = {"IceHockey": ("Ball", (0.5, 1.25))}
_IGNORED = {
    # Scenery the avatar stands on or climbs all the time: one event per
    # landing would drown every meaningful contact.
    "Kangaroo": {"Platform", "Ladder"},
    "MontezumaRevenge": {"Platform", "Ladder", "Rope", "Conveyer_Belt", "Wall",
                         "Key_HUD", "Amulet_HUD", "Torch_HUD", "Sword_HUD"},
    "Pitfall": {"Platform", "Wall", "Stair"},
    "Hero": {"Wall"},
    # HUD-like gauges and displays OCAtari does not flag as HUD, drawn outside the area the
    # avatar moves in.  Chopper Command's long-range scanner (y 179-185; the chopper's box
    # never reaches below y 164 in 20,000 frames of random play); the inventories of
    # Montezuma's Revenge (its docstrings: "in the inventory display (HUD)") and Private
    # Eye (items carried, drawn at x 140 above y 45; the car's box never above y 51).
    "Seaquest": {"OxygenBar", "CollectedDiver"},
    "ChopperCommand": {"MiniPlayer", "MiniTruck", "MiniEnemy"},
    "PrivateEye": {"Money_Bag", "Gun", "Button", "Comb", "Shoe_Sole", "Vase", "Necklace",
                   "Stamp"},
    # The ball's shadow always lies under the ball.
    "Tennis": {"BallShadow"},
    # The point value a collected item leaves in its lane (it appears the frame the game
    # pays for the item, where the item was): touching it does nothing, and the avatar that
    # just collected the item is always on it.
    "Asterix": {"Reward"},
}
# Categories OCAtari builds anew on every frame, so that its object in a slot is a new
# Python object each frame although the sprite on screen is the same one moving on:
# Asterix tests each lane's *reward* slot for a lyre or an item (``ram/asterix.py``).
# rnr keeps the slot's instance id while the slot holds the same category, so that one
# lyre is one contact, not one per frame of overlap (motion stays OCAtari's: zero).
_RENEWED = {
    "Asterix": {"Enemy", "Consumable"},
}
_MARGIN = {
    # Fast balls cross a 4-pixel paddle within one or two frames.
    "Pong": 1,
    "Breakout": 1,
    "Tennis": 2,
    # A carried puck sits 19-21 pixels below the top of the skater's 20-pixel box, on
    # the stick's blade (RAM byte 90 names the skater holding it).  With a 2-pixel
    # margin, 85% of the times the player's team took the puck in 40,000 random-play
    # frames had a contact within 8 frames; with 0, 22%; with 4, 72%; with 6, 50%
    # (benchmarks/icehockey_control.py).
    "IceHockey": 2,
}
# Kangaroo's falling coconut: OCAtari reads its y from a RAM row (y = row * 8 + 9), and the
# game takes a life when it is in the row just above the kangaroo's box, 8 pixels above
# it.  Under random play, 21 of 30 lives lost had no contact in the 40 steps before with
# margin 0, 16 with a margin of 8 on both axes, 0 with 9
# (python benchmarks/contact_outcomes.py Kangaroo --episodes 10 --touch-margin 9).
_AXIS_MARGINS = {
    "Kangaroo": {"FallingCoconut": (0, 9)},
}
_NO_CLIP = {"Skiing"}
# Balls the avatar hits back, every rally: paying each hit is what a table that says
# "hit the ball" means, not one event farmed.
_REBOUNDS = {
    "Pong": {"Ball"},
    "Breakout": {"Ball"},
    "Tennis": {"Ball"},
    # Taking the puck (skating onto it, stealing it) again and again is the game.
    "IceHockey": {"Ball"},
}
# Games that end an episode on their own clock.  Skiing stops after 5 minutes of game time
# (18,000 frames at 60 Hz): skiers that stand still end at 4,500-4,507 agent steps with
# scores of -29,950 to -29,998 (the shaping ablation's stalled PPO runs, benchmarks/RESULTS.md).
_GAME_TIME_LIMIT = {"Skiing": 18_000}
# Objects made of detected ones.  Skiing: OCAtari reads each gate as two Flags on
# one row whose left edges are 32 pixels apart; the skier must pass between them.
# The game counts a gate when the skier box's centre - 2 px lies between the flags
# (tests/test_gates.py checks this against its gates-left counter).
_DERIVED = {
    "Skiing": (DerivedObject("Gate", part="Flag", max_count=2, gap=(32, 32), row_tolerance=1,
                             centre_offset=-2, depicts=("gate", "pair of flags")),),
}
# Places the manuals name as goals.  Freeway: the chicken scores when it reaches the top
# sidewalk; OCAtari's Chicken box starts at y 187 and is taken back there from y 17-19,
# the step the game pays (always pressing up: 22 crossings an episode).  The sidewalk box
# is the strip above the first lane, so the chicken's gap to it is 171 px at the start;
# the radius of 176 lets the potential count it from anywhere on the road.
_PLACES = {
    "Freeway": (Place("Sidewalk", box=(0, 0, 160, 16), radius=176.0,
                      depicts=("far sidewalk", "sidewalk", "other side", "top of the screen")),),
}
#: OCAtari's per-game object tables, snapshotted so that resolving a game name
#: (every CLI start, every reward-table build) does not import OCAtari's 60+
#: game modules (about 3 s).  Regenerate with ``python -m envs.tools.catalog --write``
#: after upgrading OCAtari; ``tests/test_games.py`` fails while it is stale.
CATALOG_FILE = Path(__file__).with_name("ocatari_catalog.json")


def _read_catalog() -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
        return data["games"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        # Shipped with the package: a broken file is a broken install, not user input.
        raise RuntimeError(f"cannot read the game catalog {CATALOG_FILE} ({err}); "
                           "reinstall rnr or run: python -m envs.tools.catalog --write") from None


@functools.cache
def _registry() -> Mapping[str, GameSpec]:
    specs: dict[str, GameSpec] = {}
    for name, entry in _read_catalog().items():
        max_objects = MappingProxyType(dict(entry["max_objects"]))
        avatar = _AVATAR.get(name, "Player")
        if avatar is not None and avatar not in max_objects:
            avatar = None
        # The avatar's own missiles and score displays start with "Player".
        ignored = {c for c in max_objects if c.startswith("Player") and c != avatar}
        ignored |= _IGNORED.get(name, set())
        near = _AVATAR_NEAR.get(name) if avatar else None
        if near and near[0] not in max_objects:
            near = None
        specs[name] = GameSpec(
            name=name,
            ale_id=f"ALE/{name}-v5",
            max_objects=max_objects,
            hud_categories=tuple(entry["hud"]),
            avatar=avatar,
            avatar_near=near[0] if near else None,
            avatar_reach=near[1] if near else (0.5, 0.5),
            ignored=frozenset(ignored),
            touch_margin=_MARGIN.get(name, 0),
            axis_margins=MappingProxyType({c: m for c, m in _AXIS_MARGINS.get(name, {}).items()
                                           if c in max_objects}),
            clip_reward_default=name not in _NO_CLIP,
            depicts=MappingProxyType({**DEPICTS.get(name, {}),
                                      **{d.category: d.depicts for d in _DERIVED.get(name, ())},
                                      **{p.category: p.depicts for p in _PLACES.get(name, ())}}),
            derived=_DERIVED.get(name, ()),
            places=_PLACES.get(name, ()),
            game_time_limit_frames=_GAME_TIME_LIMIT.get(name),
            rebounds=frozenset(_REBOUNDS.get(name, set()) & set(max_objects)),
            renewed=frozenset(_RENEWED.get(name, set()) & set(max_objects)),
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
