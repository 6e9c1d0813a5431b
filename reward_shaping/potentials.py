"""A Markov potential from the reward table: what is near the avatar, weighted by what it is worth.

``proximity`` shaping (:mod:`reward_shaping.wrappers`) pays ``F = gamma * Phi(s') -
Phi(s)`` with

    Phi(s) = sum over the objects o on screen of  r(o) * max(0, 1 - d(o) / radius)

where ``r(o)`` is the table's reward for touching ``o`` (for a passable derived
object such as Skiing's gate, its ``pass`` reward), and ``d(o)`` the distance in
pixels between the avatar's box and ``o``'s (0 when they overlap).  ``Phi`` depends
on the state alone (the objects on screen), not on the episode's history, so by
Ng, Harada and Russell (1999) the optimal policy is unchanged: unlike the history
potential of ``potential`` mode, it has no drift an agent could exploit by
prolonging episodes.  The parts of a derived object (Skiing's flags, which make up
its gates) count through it, not on their own: the gate's ``pass`` reward says where
to go, and each pole's ``touch`` penalty would otherwise cancel it between the
poles.  Terminal states have ``Phi = 0``.

A game's places (:class:`envs.games.Place`: Freeway's far sidewalk, where each
crossing scores) add ``r(p) * max(0, 1 - d(p) / radius(p))`` each, with their own
radius, as large as the screen: a goal counts from anywhere, so the potential rises
with every step toward it, where the game's own reward is silent until the chicken
arrives.  Reaching the place scores and takes the chicken back to the start, so the
potential drops there by what the climb paid: over a crossing the auxiliary reward
sums to about 0, and the optimal policy stays the game's.

Example:
    >>> import numpy as np
    >>> from reward_shaping.potentials import ProximityPotential
    >>> phi = ProximityPotential("Skiing", {"Tree": -5.0, "Gate:pass": 5.0}, radius=32)
    >>> cat = np.array([[0, 1, 4]])                   # Player, Tree, Gate
    >>> box = np.array([[[70, 40, 10, 18], [90, 40, 16, 30], [40, 100, 27, 15]]])
    >>> round(float(phi(cat, box)[0]), 3)              # the tree 10 px away, the gate 42 px
    -3.438
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from envs.games import GameSpec, resolve_game
from envs.interactions import avatar_slots, box_gaps, event_key

#: Default distance (pixels) at which an object stops counting.
RADIUS = 32.0


class ProximityPotential:
    """``Phi`` of every environment from its objects (see the module docstring).

    Args:
        game: Any name :func:`envs.games.resolve_game` accepts, or a spec.
        rewards: Event key -> reward (the shaper's lookup, already weighted or not).
        radius: Distance in pixels at which an object's weight reaches 0.

    Raises:
        ValueError: ``radius`` is not a positive number.
    """

    def __init__(self, game: str | GameSpec, rewards: Mapping[str, float],
                 radius: float = RADIUS) -> None:
        # Zero or negative distances would make every object weigh nothing, or infinitely.
        if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not radius > 0:
            raise ValueError(f"radius must be a positive number of pixels, got {radius!r}")
        self.spec = game if isinstance(game, GameSpec) else resolve_game(game)
        self.radius = float(radius)
        cats = self.spec.categories
        parts = {d.part for d in self.spec.derived}
        worth = np.zeros(len(cats) + 1)  # index -1 (no object): 0
        for c in self.spec.interactable:
            if c in parts:
                continue
            kind = "pass" if "pass" in self.spec.event_kinds(c) else "touch"
            worth[cats.index(c)] = float(rewards.get(event_key(c, kind), 0.0))
        self.worth = worth
        # Places: (reward, box, radius) of those the table rewards or punishes.
        self.places = [(r, np.asarray(p.box, np.float64), float(p.radius)) for p in self.spec.places
                       if (r := float(rewards.get(event_key(p.category, "touch"), 0.0)))]

    @property
    def active(self) -> bool:
        """Whether any object or place is worth something."""
        return bool(self.worth.any()) or bool(self.places)

    def __call__(self, category: np.ndarray, box: np.ndarray) -> np.ndarray:
        """``Phi`` per row: ``category`` ``(m, K)`` (-1 none), ``box`` ``(m, K, 4)``."""
        cat = np.asarray(category, np.int64)
        box = np.asarray(box, np.float64)
        m = cat.shape[0]
        has_av, av_slot = avatar_slots(self.spec, cat, box)
        av = box[np.arange(m), av_slot][:, None]  # (m, 1, 4)
        gap = box_gaps(box, av)
        close = np.maximum(0.0, 1.0 - np.hypot(gap[..., 0], gap[..., 1]) / self.radius)
        phi = (self.worth[cat] * close).sum(1)
        for worth, place, radius in self.places:
            g = box_gaps(np.broadcast_to(place, (m, 1, 4)), av)[:, 0]
            phi = phi + worth * np.maximum(0.0, 1.0 - np.hypot(g[:, 0], g[:, 1]) / radius)
        return np.where(has_av, phi, 0.0)
