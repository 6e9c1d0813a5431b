"""Manual-reward wrappers: every detected interaction pays the reward table's value.

The online half of Read and Reward.  The detector (``envs``) puts the step's
:class:`~envs.interactions.InteractionEvent` list in ``info["interactions"]``;
these wrappers look each event up in a reward table by its key (the category for
touches, ``category:kind`` for the other kinds: ``Gate:pass``, ``Gate:miss``) and
add the sum to the step reward.  Three forms share one implementation:

* :class:`ManualReward`: a :class:`gymnasium.Wrapper` for one environment.
* :class:`ManualRewardVecEnv`: a Stable-Baselines3 ``VecEnvWrapper``.
* :class:`ManualRewardVector`: a Gymnasium ``VectorWrapper``.

What each step exposes in ``info``:

* ``game_reward``: the game's own (unclipped) reward of the step;
* ``aux_reward``: the auxiliary reward added to it (after clipping: clipping,
  if any, is applied to the game reward only, further in);
* ``aux_events``: the events that earned a non-zero auxiliary reward;
* ``event_reward``: the table's reward for the step's events (weighted);
* ``potential`` (the potential modes only): the potential of the step's next state;
* at the end of an episode, ``shaping``: ``{"aux_return", "event_return", "contacts",
  "paid", "max_repeat", "repeated"}`` with event counts per key (``{"Tree": 2,
  "Gate:pass": 14, "Gate:miss": 6}``; ``paid`` counts the contacts paid directly, so it
  stays empty under ``proximity`` and ``proximity_positive``, which pay no contact),
  the most rewards one object instance got and
  its key (an agent farming one event, see :mod:`agents.health`; penalties are not
  counted, and a ball the game declares as rebounding,
  :attr:`envs.games.GameSpec.rebounds`, is hit again and again by design and is left
  out of that count); with ``penalty_veto``, also ``vetoed``: the penalties the
  game's reward waived, per key.

Seven modes (``mode=``), by what they guarantee:

* ``bonus`` (the paper's): the auxiliary reward *is* the event reward.  It changes
  the task: an agent may prefer collecting bonuses to scoring, and a table with
  many negative kinds can make standing still the safest policy (on Skiing it did:
  ``agents.health`` flags such stalls).
* ``positive``: ``bonus`` for the events the table rewards, nothing for the ones it
  punishes.  It cannot teach the agent to avoid acting (no event costs anything),
  but it can still be farmed (:mod:`agents.health` flags farming): an object the
  agent can touch again and again without using it up (a diver when the submarine is
  full, a pill the box grazes) pays every time.  ``pay_cap=1`` pays each object
  instance's reward once per episode, which rules that out.  The cap applies to
  rewards only: a penalty cannot be farmed (each one costs the agent), and capping it
  would hide the second death by the same ghost.
* ``positive_first``: ``positive`` until the agent *moves*, then the negative events
  fade in linearly over ``negative_ramp`` steps.  The agent moves once the last
  :data:`MOVING_EPISODES` finished episodes earned at least one positive event each
  on average (with no positive entry in the table, the ramp starts at once).  A
  resumed run keeps the ramp's start (``ramp_start``).
* ``potential``: potential-based shaping (Ng, Harada and Russell, ICML 1999), which
  keeps the optimal policy.  The potential of a state is the event reward
  accumulated so far in its episode, ``Phi(s_t) = sum_{k<t} event_reward_k``
  (0 at the start), and the auxiliary reward is ``F_t = gamma * Phi(s_{t+1}) -
  Phi(s_t)`` with ``gamma`` the agent's discount.  An event still pays its table
  reward in the step it happens (``F_t = event_reward_t - (1 - gamma) * Phi(s_{t+1})``),
  but the discounted sum over an episode telescopes to ``gamma^T Phi(s_T) - Phi(s_0)``.
  A terminal state has potential 0 (Ng et al.'s condition), so every *terminated*
  episode's shaped discounted return equals its game return: what was paid is
  taken back in the last step, and no policy gains from the bonuses.  A
  *truncated* episode's last state keeps its potential: it is not terminal, and
  the learner bootstraps from its value.
  The potential depends on the episode's history, which the agent does not see;
  each step also pays ``-(1 - gamma) * Phi``, which turns positive once penalties
  outweigh bonuses.  At large scales that drift can be exploited (prolonged
  episodes on Skiing at 50x, ``benchmarks/RESULTS.md``): keep the table's scale.
* ``proximity``: potential-based shaping with a *Markov* potential built from the
  table, ``Phi(s) = sum over visible objects of reward x closeness to the avatar``
  (:class:`reward_shaping.potentials.ProximityPotential`): it depends on the state
  alone, so no history drift exists to exploit, and the optimal policy is kept
  (Ng et al. 1999).  Events pay nothing themselves; ``info["event_reward"]`` still
  reports their table value.  The objects come from the environment: the tracker
  beneath a single env, the envpool engine, or ``info["objects"]``
  (``make_env(..., objects_in_info=True)``).
* ``proximity_positive``: ``proximity`` with the table's rewards and places only in
  the potential; its penalties are not paid at all (as ``positive`` drops them).  The
  same guarantee as ``proximity``.  A penalty in the potential is a barrier the
  agent must cross to reach what the table rewards: Freeway's cars, which move
  whatever the chicken does, put about -2 to -3 into the potential of every state
  between the start and the far sidewalk: no ``proximity`` seed crossed the road, and
  every ``proximity_positive`` seed did (``benchmarks/RESULTS.md``).
* ``proximity_contact``: the potential of ``proximity_positive``, and the table's
  penalties paid on contact as ``bonus`` pays them.  The potential part keeps the
  optimal policy; the contact penalties change the task, as ``bonus``'s do (standing
  still avoids them: on Freeway, where pressing up meets 57 cars an episode, no seed
  left the bottom of the road).

``penalty_veto=K`` (with a mode that pays penalties on contact: ``bonus``,
``positive_first``, ``proximity_contact``) lets the game's own reward
outrank the table's penalty.  A penalty is waived when the game pays a positive
reward in the contact's step or in the next ``K - 1`` steps: that contact scored, so
it was not the harm the manual warns of (Kangaroo's monkey punched for 200, a blue
ghost eaten: the table gives each object one sign and cannot say "bad, unless you
win the fight").  Otherwise the penalty is paid ``K - 1`` steps late, or in the
episode's last step.  The veto only ever removes penalties; it never pays a reward.
A game that pays all the time (Ms. Pac-Man's pills) also waives some penalties that
were real harm: there the veto weakens the table's penalties, it does not invert
them.

Episode statistics stay the game score: put ``RecordEpisodeStatistics`` (or
SB3's ``Monitor``) *inside* these wrappers, as :func:`envs.atari.make_env` does.

With no table, :func:`shape` returns the environment unchanged, so turning
shaping off costs nothing.

Example:
    >>> from envs.atari import make_env
    >>> from reward_shaping.wrappers import ManualReward
    >>> env = ManualReward(make_env("Skiing"), {"Tree": -5.0, "Flag": -5.0, "Mogul": -5.0})
    >>> _, info = env.reset(seed=0)
    >>> _, reward, _, _, info = env.step(0)
    >>> sorted(k for k in info if k in ("aux_reward", "aux_events", "game_reward"))
    ['aux_events', 'aux_reward', 'game_reward']
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from envs.games import EVENT_KINDS, resolve_game
from envs.interactions import INTERACTIONS_KEY, InteractionEvent, event_key, split_key
from reward_shaping.table import RewardTable

RewardSource = RewardTable | Mapping[str, float | Mapping[str, float]]

AUX_KEY = "aux_reward"
AUX_EVENTS_KEY = "aux_events"
GAME_KEY = "game_reward"
EVENT_KEY = "event_reward"
POTENTIAL_KEY = "potential"
EPISODE_KEY = "shaping"
#: How event rewards become the auxiliary reward (see the module docstring).
SHAPING_MODES = ("bonus", "positive", "positive_first", "potential", "proximity",
                 "proximity_positive", "proximity_contact")
#: Modes whose auxiliary reward is ``gamma * Phi(s') - Phi(s)`` (plus, for
#: ``proximity_contact``, the penalties paid on contact).
POTENTIAL_MODES = ("potential", "proximity", "proximity_positive", "proximity_contact")
#: Modes whose potential is :class:`reward_shaping.potentials.ProximityPotential` of
#: the objects on screen (they need the objects of every step).
PROXIMITY_MODES = ("proximity", "proximity_positive", "proximity_contact")
#: Modes in which no contact pays anything itself: nothing for ``penalty_veto`` to waive.
CONTACT_FREE_MODES = ("potential", "proximity", "proximity_positive")
#: ``positive_first``: finished episodes over which "the agent moves" is judged.
MOVING_EPISODES = 20
#: ``positive_first``: default steps over which negative events fade in.
NEGATIVE_RAMP = 1_000_000


def reward_lookup(
    table: RewardSource, overrides: Mapping[str, float | Mapping[str, float]] | None = None
) -> dict[str, float]:
    """Event key -> reward per event, from a table plus overrides.

    Plain mappings and overrides may name a kind per category, nested
    (``{"Gate": {"pass": 5, "miss": -5}}``) or flat (``{"Gate:pass": 5}``); a bare
    number is the touch reward (``{"Tree": -5}``).

    Raises:
        ValueError: an override names an event the table does not have, an unknown
            kind, or a reward that is not a finite number.
    """
    if isinstance(table, RewardTable):
        rewards = {key: entry.reward for key, entry in table.objects.items()}
    elif isinstance(table, Mapping):
        rewards = _flatten(table)
    else:
        raise TypeError(f"table must be a RewardTable or a mapping, got {type(table).__name__}")
    for key, value in _flatten(overrides or {}).items():
        # A typo in a category name would otherwise be silently ignored.
        if isinstance(table, RewardTable) and key not in rewards:
            raise ValueError(
                f"override names {key!r}, which is not in the {table.game} table "
                f"({', '.join(rewards)})"
            )
        rewards[key] = value
    for key, value in rewards.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"reward for {key!r} must be a finite number, got {value!r}")
    return {key: float(v) for key, v in rewards.items()}


def _flatten(rewards: Mapping[str, Any]) -> dict[str, Any]:
    """``{"Gate": {"pass": 5}}`` -> ``{"Gate:pass": 5}``; other entries as they are."""
    out: dict[str, Any] = {}
    for cat, value in rewards.items():
        if isinstance(value, Mapping):
            for kind, r in value.items():
                # An unknown kind would never be paid: say so instead.
                if kind not in EVENT_KINDS:
                    raise ValueError(f"{cat}: unknown event kind {kind!r}; expected one of {EVENT_KINDS}")
                out[event_key(cat, kind)] = r
        else:
            out[cat] = value
    return out


class _Shaper:
    """Lookup, weight schedule, potential and per-environment episode accounting
    (shared by all forms).

    The auxiliary weight is ``scale`` until annealing starts, then goes linearly
    to ``scale * final_weight`` over ``anneal_steps`` environment steps (summed
    over all environments in the vector forms).  In ``potential`` mode the
    potential of environment ``i`` is the weighted event reward accumulated in its
    current episode (:attr:`potential`).
    """

    def __init__(self, table: RewardSource, num_envs: int, scale: float,
                 overrides: Mapping[str, Any] | None, anneal_steps: int, final_weight: float,
                 mode: str = "bonus", gamma: float = 0.99, negative_ramp: int = NEGATIVE_RAMP,
                 game: Any = None, radius: float | None = None, pay_cap: int = 0,
                 penalty_veto: int = 0) -> None:
        # Negative or non-finite scales would invert or destroy every decision.
        if not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale < 0:
            raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
        if not isinstance(anneal_steps, int) or anneal_steps < 0:
            raise ValueError(f"anneal_steps must be an int >= 0, got {anneal_steps!r}")
        if not 0.0 <= final_weight <= 1.0:
            raise ValueError(f"final_weight is a fraction of scale in [0, 1], got {final_weight!r}")
        if mode not in SHAPING_MODES:
            raise ValueError(f"mode must be one of {SHAPING_MODES}, got {mode!r}")
        # The policy-invariance guarantee holds only for the agent's own discount in [0, 1].
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be the agent's discount in [0, 1], got {gamma!r}")
        # A negative ramp would run backwards; 0 means "at once".
        if isinstance(negative_ramp, bool) or not isinstance(negative_ramp, int) or negative_ramp < 0:
            raise ValueError(f"negative_ramp must be an int >= 0, got {negative_ramp!r}")
        # A negative cap would never pay; 0 means "no cap".
        if isinstance(pay_cap, bool) or not isinstance(pay_cap, int) or pay_cap < 0:
            raise ValueError(f"pay_cap must be an int >= 0 (0: no cap), got {pay_cap!r}")
        self.pay_cap = pay_cap
        # A window below 0 steps means nothing; 0 turns the veto off.
        if isinstance(penalty_veto, bool) or not isinstance(penalty_veto, int) or penalty_veto < 0:
            raise ValueError(f"penalty_veto must be an int >= 0 (steps, 0: off), got {penalty_veto!r}")
        if penalty_veto and mode in CONTACT_FREE_MODES:
            # These modes pay no event directly: there is no penalty to waive.
            raise ValueError(f"penalty_veto applies to modes that pay events, not {mode!r}")
        self.penalty_veto = penalty_veto
        # Penalties waiting for the game's word: [steps left, reward, event] per env.
        self._pending: list[list[list[Any]]] = [[] for _ in range(num_envs)]
        self._vetoed: list[dict[str, int]] = [{} for _ in range(num_envs)]
        self.rewards = reward_lookup(table, overrides)
        game = game if game is not None else getattr(table, "game", None)
        spec = resolve_game(game) if isinstance(game, str) else game
        # Balls hit back rally after rally are paid per hit by design: the farming
        # measure (``max_repeat``) leaves them out.
        self.rebounds: frozenset[str] = frozenset(getattr(spec, "rebounds", ()))
        self.proximity = None
        if mode in PROXIMITY_MODES:
            from reward_shaping.potentials import RADIUS, ProximityPotential

            if spec is None:
                # The potential weighs objects by category: it needs the game's categories.
                raise ValueError(f"{mode} shaping needs the game: pass game= or a RewardTable")
            held = self.rewards if mode == "proximity" else \
                {k: v for k, v in self.rewards.items() if v > 0.0}  # penalties stay out of Phi
            self.proximity = ProximityPotential(spec, held, RADIUS if radius is None else radius)
        self.negative_ramp = negative_ramp
        self.ramp_start: int | None = None
        if mode == "positive_first" and not any(v > 0 for v in self.rewards.values()):
            self.ramp_start = 0  # nothing positive to wait for
        self._positives: deque[int] = deque(maxlen=MOVING_EPISODES)
        self.scale = float(scale)
        self.anneal_steps = anneal_steps
        self.final_weight = float(final_weight)
        self.mode = mode
        self.gamma = float(gamma)
        self.timesteps = 0
        self.potential = np.zeros(num_envs)
        self._aux_return = np.zeros(num_envs)
        self._event_return = np.zeros(num_envs)
        self._contacts: list[dict[str, int]] = [{} for _ in range(num_envs)]
        self._paid: list[dict[str, int]] = [{} for _ in range(num_envs)]
        # Rewards paid per (event key, object instance) in the current episode.
        self._per_instance: list[dict[tuple[str, int], int]] = [{} for _ in range(num_envs)]

    @property
    def weight(self) -> float:
        """Current multiplier of the table's rewards."""
        if self.anneal_steps == 0:
            return self.scale
        frac = min(1.0, self.timesteps / self.anneal_steps)
        return self.scale * (1.0 - frac * (1.0 - self.final_weight))

    @property
    def negative_weight(self) -> float:
        """Fraction of their table reward that negative events pay now."""
        if self.mode in ("positive", "proximity_positive"):
            return 0.0
        if self.mode != "positive_first":
            return 1.0
        if self.ramp_start is None:
            return 0.0
        if self.negative_ramp == 0:
            return 1.0
        return min(1.0, max(0.0, (self.timesteps - self.ramp_start) / self.negative_ramp))

    def apply(self, i: int, events: Iterable[InteractionEvent], terminated: bool = False,
              phi: float | None = None, game_reward: float = 0.0,
              ended: bool | None = None) -> tuple[float, float, list[InteractionEvent]]:
        """Environment ``i``'s step: ``(aux_reward, event_reward, paying events)``.

        ``terminated``: the step ends the episode in a terminal state (not a
        truncation), whose potential is 0.  ``phi``: the new state's
        ``proximity`` potential (unweighted; that mode only).  ``game_reward``: the
        game's own reward of the step (its sign is what ``penalty_veto`` reads).
        ``ended``: the step ends the episode, terminated or truncated (default:
        ``terminated``); penalties still waiting for the veto are paid in it.
        With ``penalty_veto``, the paying events may include penalties from earlier
        steps: a penalty is paid, and reported, in the step its window closes.
        """
        event_reward, direct, paying = 0.0, 0.0, []  # direct: what contacts pay themselves
        weight = self.weight
        negative = self.negative_weight
        pending = self._pending[i]
        for ev in events:
            key = ev.key
            self._contacts[i][key] = self._contacts[i].get(key, 0) + 1
            r = self.rewards.get(key, 0.0) * weight
            if r < 0.0:
                r *= negative
                if r < 0.0 and self.penalty_veto:
                    pending.append([self.penalty_veto - 1, r, ev])  # waits for the game's word
                    continue
            one = (key, ev.instance)
            if r > 0.0 and self.pay_cap and self._per_instance[i].get(one, 0) >= self.pay_cap:
                r = 0.0  # this object has paid its share of the episode: it cannot be farmed
            if r != 0.0:
                event_reward += r
                if self._pays_contact(r):  # otherwise reported only: the potential pays
                    direct += r
                    paying.append(ev)
                    self._paid[i][key] = self._paid[i].get(key, 0) + 1
                    if r > 0.0:  # rewards only: what the cap and the farming count are about
                        self._per_instance[i][one] = self._per_instance[i].get(one, 0) + 1
        if pending and game_reward > 0.0:  # the contacts scored: the game outranks the table
            for _, _, ev in pending:
                self._vetoed[i][ev.key] = self._vetoed[i].get(ev.key, 0) + 1
            pending.clear()
        last = terminated if ended is None else ended
        waiting = []
        for p in pending:  # penalties whose window closes now are paid, the rest wait a step
            if last or p[0] == 0:
                event_reward += p[1]
                direct += p[1]
                paying.append(p[2])
                self._paid[i][p[2].key] = self._paid[i].get(p[2].key, 0) + 1
            else:
                p[0] -= 1
                waiting.append(p)
        pending[:] = waiting
        self._event_return[i] += event_reward
        if self.mode not in POTENTIAL_MODES:
            aux = direct
        else:
            before = self.potential[i]
            if self.mode == "potential":  # the events pay into the potential, not directly
                after, direct = before + direct, 0.0
            elif phi is None:
                raise ValueError(f"{self.mode} shaping needs each step's potential (phi=)")
            else:
                after = phi * weight
            self.potential[i] = 0.0 if terminated else after
            aux = self.gamma * self.potential[i] - before + direct
        self._aux_return[i] += aux
        return aux, event_reward, paying

    def _pays_contact(self, r: float) -> bool:
        """Whether a contact worth ``r`` (non-zero) is paid for itself (``potential`` mode
        pays it into its potential); under the proximity modes the potential pays instead,
        except for ``proximity_contact``'s penalties."""
        if self.mode == "proximity_contact":
            return r < 0.0
        return self.mode not in PROXIMITY_MODES

    def start_episode(self, i: int, phi: float | None = None) -> None:
        """Environment ``i`` starts an episode; ``phi``: its first state's ``proximity``
        potential (unweighted)."""
        self.potential[i] = 0.0 if phi is None else phi * self.weight

    def potentials(self, arrays) -> np.ndarray:
        """``proximity`` potentials of ``(category, instance, box)`` arrays, one per row."""
        category, _, box = arrays
        return self.proximity(category, box)

    def end_episode(self, i: int, finished: bool = True) -> dict[str, Any]:
        """Episode totals of environment ``i``; resets its accounting and potential.

        ``finished``: an episode ended (``False`` for a reset that cuts one short or
        starts the first: it does not count towards "the agent moves")."""
        # Farming is a reward collected again and again (penalties are not counted at
        # all); rebounding balls, hit back every rally, are left out.
        counts = {k: n for k, n in self._per_instance[i].items()
                  if split_key(k[0])[0] not in self.rebounds}
        top = max(counts, key=counts.get) if counts else ("", 0)
        if finished and self.mode == "positive_first" and self.ramp_start is None:
            self._positives.append(sum(n for k, n in self._contacts[i].items()
                                       if self.rewards.get(k, 0.0) > 0))
            if len(self._positives) == MOVING_EPISODES and \
                    sum(self._positives) >= MOVING_EPISODES:
                self.ramp_start = self.timesteps  # the agent moves: negatives fade in
        out = {"aux_return": float(self._aux_return[i]),
               "event_return": float(self._event_return[i]),
               "contacts": self._contacts[i], "paid": self._paid[i],
               "max_repeat": counts.get(top, 0), "repeated": top[0]}
        if self.penalty_veto:
            out["vetoed"] = self._vetoed[i]
        self._aux_return[i] = self._event_return[i] = self.potential[i] = 0.0
        self._contacts[i], self._paid[i], self._per_instance[i] = {}, {}, {}
        self._pending[i], self._vetoed[i] = [], {}
        return out

    def annotate(self, info: dict[str, Any], i: int, aux: float, event_reward: float,
                 paying: list[InteractionEvent]) -> None:
        """Put environment ``i``'s step components into its ``info`` dict."""
        info[AUX_KEY] = aux
        info[EVENT_KEY] = event_reward
        info[AUX_EVENTS_KEY] = paying
        if self.mode in POTENTIAL_MODES:
            info[POTENTIAL_KEY] = float(self.potential[i])


def _events(info: Mapping[str, Any]) -> list[InteractionEvent]:
    try:
        return info[INTERACTIONS_KEY]
    except KeyError:
        # Without the detector the wrapper would silently pay nothing.
        raise KeyError(
            f"info has no {INTERACTIONS_KEY!r}: the environment must run the interaction "
            "detector (envs.atari.make_env(..., track_objects=True))"
        ) from None


class ManualReward(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds the reward table's value for each interaction to the step reward.

    Args:
        env: An environment whose ``info`` carries ``"interactions"`` (e.g.
            :func:`envs.atari.make_env`).
        table: A :class:`~reward_shaping.table.RewardTable` or ``{category: reward}``.
        scale: Multiplier of the table's rewards (1 keeps them, e.g. +-5).
        overrides: ``{category: reward}`` or ``{category: {kind: reward}}`` replacing
            table entries (see :func:`reward_lookup`).
        anneal_steps: Steps over which the weight decays linearly (0: constant).
        final_weight: Weight at the end of annealing, as a fraction of ``scale``.
        mode: How the table pays, one of :data:`SHAPING_MODES` (see the module
            docstring).
        gamma: The agent's discount factor (the potential modes' ``F``).
        negative_ramp: ``positive_first``: steps over which negative events fade in.
        radius: ``proximity``: pixels at which an object stops counting
            (default :data:`reward_shaping.potentials.RADIUS`).
        game: The game (its name or :class:`~envs.games.GameSpec`) when ``table`` is a
            plain mapping: ``proximity`` needs it, and it names the rebounding balls.
        pay_cap: Rewards one object instance can earn per episode (0: no cap;
            penalties are never capped).
            With 1, every pill, diver or gate pays once, however often the agent
            touches it again: contacts cannot be farmed.
        penalty_veto: Steps, the contact's own included, in which a positive game
            reward waives a penalty (0: off; see the module docstring).  With 3, a
            monkey punched for points costs nothing; one that hits the kangaroo
            costs its penalty 2 steps later.
    """

    def __init__(self, env: gym.Env, table: RewardSource, *, scale: float = 1.0,
                 overrides: Mapping[str, Any] | None = None, anneal_steps: int = 0,
                 final_weight: float = 0.0, mode: str = "bonus", gamma: float = 0.99,
                 negative_ramp: int = NEGATIVE_RAMP, radius: float | None = None,
                 game: Any = None, pay_cap: int = 0, penalty_veto: int = 0) -> None:
        # Recorded so that gymnasium can rebuild the env from its spec (env checker, pickling).
        gym.utils.RecordConstructorArgs.__init__(self, table=table, scale=scale, overrides=overrides,
                                                 anneal_steps=anneal_steps, final_weight=final_weight,
                                                 mode=mode, gamma=gamma, negative_ramp=negative_ramp,
                                                 radius=radius, game=game, pay_cap=pay_cap,
                                                 penalty_veto=penalty_veto)
        gym.Wrapper.__init__(self, env)
        self._tracker = None
        if mode in PROXIMITY_MODES:
            from envs.wrappers import ObjectTracker, find_wrapper

            self._tracker = find_wrapper(env, ObjectTracker)
            if self._tracker is None:
                # The potential is computed from the objects the tracker sees.
                raise ValueError("proximity shaping needs an ObjectTracker beneath "
                                 "(envs.atari.make_env(..., track_objects=True))")
            game = game if game is not None else self._tracker.game
        self.shaper = _Shaper(table, 1, scale, overrides, anneal_steps, final_weight, mode, gamma,
                              negative_ramp, game, radius, pay_cap, penalty_veto)

    def _phi(self) -> float | None:
        if self._tracker is None:
            return None
        from envs.fast.batched import ObjectBatch

        batch = ObjectBatch.from_frames(self._tracker.game.categories, [self._tracker.objects])
        return float(self.shaper.potentials((batch.category, batch.instance, batch.box))[0])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.shaper.end_episode(0, finished=False)
        self.shaper.start_episode(0, self._phi())
        # Contacts during reset's no-op frames are not the agent's doing: no reward.
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.shaper.timesteps += 1
        aux, event_reward, paying = self.shaper.apply(
            0, _events(info), bool(terminated), self._phi(),
            float(info.get(GAME_KEY, reward)), bool(terminated or truncated))
        info.setdefault(GAME_KEY, float(reward))
        self.shaper.annotate(info, 0, aux, event_reward, paying)
        if terminated or truncated:
            info[EPISODE_KEY] = self.shaper.end_episode(0)
        return obs, float(reward) + aux, terminated, truncated, info


def find_shaper(env: Any) -> _Shaper | None:
    """The shaping state inside a chain of (vector) env wrappers, or ``None`` if unshaped."""
    while env is not None:
        shaper = getattr(env, "shaper", None)
        if isinstance(shaper, _Shaper):
            return shaper
        env = getattr(env, "venv", None) or getattr(env, "env", None)
    return None


def shape(env: gym.Env, table: RewardSource | None, **kwargs: Any) -> gym.Env:
    """``ManualReward(env, table, **kwargs)``, or ``env`` itself when ``table`` is ``None``."""
    return env if table is None else ManualReward(env, table, **kwargs)


try:
    from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize
except ImportError:  # SB3 is only needed for these forms
    VecEnvWrapper = VecNormalize = object  # type: ignore[assignment,misc]


class ManualRewardVecEnv(VecEnvWrapper):  # type: ignore[misc,valid-type]
    """Stable-Baselines3 form of :class:`ManualReward` (same arguments, after ``venv``).

    Put it outside the VecEnv whose workers run the detector, and inside
    ``VecNormalize`` so normalisation sees the shaped reward.  ``timesteps``
    (environment steps, all envs together) drives annealing; set it when
    resuming.
    """

    def __init__(self, venv: VecEnv, table: RewardSource, *, scale: float = 1.0,
                 overrides: Mapping[str, Any] | None = None, anneal_steps: int = 0,
                 final_weight: float = 0.0, mode: str = "bonus", gamma: float = 0.99,
                 negative_ramp: int = NEGATIVE_RAMP, radius: float | None = None,
                 game: Any = None, pay_cap: int = 0, penalty_veto: int = 0) -> None:
        super().__init__(venv)
        self._objects = None
        if mode in PROXIMITY_MODES:
            from envs.observations import VecEnvObjects

            self._objects = VecEnvObjects(venv, game if game is not None else
                                          getattr(table, "game", None), "proximity shaping")
            game = self._objects.spec
        self.shaper = _Shaper(table, venv.num_envs, scale, overrides, anneal_steps, final_weight,
                              mode, gamma, negative_ramp, game, radius, pay_cap, penalty_veto)
        self.game_rewards = np.zeros(venv.num_envs)  # the last step's, for GameScaleNormalize

    def reset(self):
        obs = self.venv.reset()
        phi = self.shaper.potentials(self._objects.reset_arrays()) if self._objects else None
        for i in range(self.num_envs):
            self.shaper.end_episode(i, finished=False)
            self.shaper.start_episode(i, None if phi is None else float(phi[i]))
        return obs

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        self.shaper.timesteps += self.num_envs
        rewards = np.asarray(rewards, dtype=np.float32).copy()
        phi = self.shaper.potentials(self._objects.step_arrays(infos)) if self._objects else None
        for i, info in enumerate(infos):
            # SB3 marks a time-limit end with TimeLimit.truncated (Monitor's DummyVecEnv,
            # EnvpoolVecEnv): that last state is not terminal and keeps its potential.
            terminated = bool(dones[i]) and not info.get("TimeLimit.truncated", False)
            aux, event_reward, paying = self.shaper.apply(
                i, _events(info), terminated, None if phi is None else float(phi[i]),
                float(info.get(GAME_KEY, rewards[i])), bool(dones[i]))
            info.setdefault(GAME_KEY, float(rewards[i]))
            self.shaper.annotate(info, i, aux, event_reward, paying)
            rewards[i] += aux
            if dones[i]:
                info[EPISODE_KEY] = self.shaper.end_episode(i)
        done = np.flatnonzero(dones)
        if done.size:  # the episodes that start now, from their first state
            first = self.shaper.potentials(self._objects.first_arrays(done.tolist())) \
                if self._objects else [None] * done.size
            for i, p in zip(done.tolist(), first):
                self.shaper.start_episode(i, None if p is None else float(p))
        self.game_rewards = np.array([info[GAME_KEY] for info in infos], dtype=np.float64)
        return obs, rewards, dones, infos


class LifeLossPenalty(VecEnvWrapper):  # type: ignore[misc,valid-type]
    """Subtracts ``penalty`` from the reward of every step in which a life is lost.

    Read from no manual and the same for every game: the control for a table's death
    penalties.  A manual that says "a monkey's touch costs a life" pays -5 per contact,
    but the agent's sign-clipped reward never says that a life went (envpool runs with
    ``episodic_life`` off), so some of what such a table teaches may be the lost life
    itself, which this wrapper reports without reading anything.

    Put it directly on the environments (inside :class:`ManualRewardVecEnv`): it needs
    ``info["lives"]`` (both Atari backends report it), and it leaves the game's own reward
    in ``info["game_reward"]`` so that the shaping and its normaliser still see it.  The
    step's penalty is ``info["life_penalty"]``; ``info["episode"]`` keeps the game score.

    Args:
        venv: Atari environments reporting ``info["lives"]``.
        penalty: Subtracted per life lost (> 0; 5 is the size of a table's penalty).

    Raises:
        ValueError: ``penalty`` is not a positive number.
        KeyError: (at the first step) the environments do not report lives.
    """

    def __init__(self, venv: VecEnv, penalty: float) -> None:
        # 0 would be a wrapper that does nothing; a negative one would pay for dying.
        if not (isinstance(penalty, (int, float)) and math.isfinite(penalty) and penalty > 0):
            raise ValueError(f"life penalty must be a positive number, got {penalty!r}")
        super().__init__(venv)
        self.penalty = float(penalty)
        self._lives: list[int | None] = [None] * venv.num_envs

    def reset(self):
        self._lives = [None] * self.num_envs  # known again from the first step's info
        return self.venv.reset()

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        rewards = np.asarray(rewards, dtype=np.float32).copy()
        for i, info in enumerate(infos):
            try:
                lives = int(info["lives"])
            except KeyError:
                raise KeyError("LifeLossPenalty needs info['lives'] from the environments "
                               "(Atari games on either backend)") from None
            info.setdefault(GAME_KEY, float(rewards[i]))
            before = self._lives[i]
            lost = 0 if before is None else max(0, before - lives)
            info["life_penalty"] = -self.penalty * lost
            rewards[i] -= self.penalty * lost
            # After an episode's end the next step's count belongs to the next episode.
            self._lives[i] = None if dones[i] else lives
        return obs, rewards, dones, infos


class GameScaleNormalize(VecNormalize):  # type: ignore[misc,valid-type]
    """SB3's ``VecNormalize`` (rewards) whose running return std comes from the game reward alone.

    Plain ``VecNormalize`` divides the shaped reward by the std of the *shaped*
    return, so strong shaping shrinks the game's own signal: on Skiing, potential
    shaping at 50x the table's scale raised that std from about 240 to 2,100 and
    cut the normalised time penalty 8-fold (``benchmarks/RESULTS.md``).  Here the
    divisor is the std of the game's return, as in an unshaped run, so the game
    reward is scaled alike in every arm and the auxiliary reward's size is its
    raw size over that std.  Put it directly outside :class:`ManualRewardVecEnv`
    (it reads the step's game rewards from there); arguments as ``VecNormalize``.
    """

    def _update_reward(self, reward: np.ndarray) -> None:
        if not isinstance(self.venv, ManualRewardVecEnv):
            # Anything else between them would leave the statistics without game rewards.
            raise TypeError("GameScaleNormalize must wrap a ManualRewardVecEnv directly, got "
                            f"{type(self.venv).__name__}")
        super()._update_reward(self.venv.game_rewards)


class ManualRewardVector(gym.vector.VectorWrapper):
    """Gymnasium vector-env form of :class:`ManualReward` (same arguments, after ``env``).

    Works with both autoreset modes' episode ends as reported by
    ``terminated | truncated``; ``info`` entries are arrays with ``_key`` masks,
    as Gymnasium vector envs use.
    """

    def __init__(self, env: gym.vector.VectorEnv, table: RewardSource, *, scale: float = 1.0,
                 overrides: Mapping[str, Any] | None = None, anneal_steps: int = 0,
                 final_weight: float = 0.0, mode: str = "bonus", gamma: float = 0.99,
                 negative_ramp: int = NEGATIVE_RAMP, radius: float | None = None,
                 game: Any = None, pay_cap: int = 0, penalty_veto: int = 0) -> None:
        super().__init__(env)
        self._next_step = env.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP) \
            == gym.vector.AutoresetMode.NEXT_STEP
        self._objects = None
        if mode in PROXIMITY_MODES:
            from envs.observations import VectorObjects

            if not self._next_step:
                # An episode's last state and the next one's first would share one step.
                raise ValueError("proximity shaping on a Gymnasium vector env needs "
                                 "next-step autoreset")
            self._objects = VectorObjects(env, game if game is not None else
                                          getattr(table, "game", None), "proximity shaping")
            game = self._objects.spec
        self.shaper = _Shaper(table, env.num_envs, scale, overrides, anneal_steps, final_weight,
                              mode, gamma, negative_ramp, game, radius, pay_cap, penalty_veto)
        # In next-step autoreset mode the step after an episode end is a reset:
        # its events come from the no-op frames and pay nothing.
        self._resetting = np.zeros(env.num_envs, dtype=bool)

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        phi = self.shaper.potentials(self._objects.arrays(info)) if self._objects else None
        for i in range(self.num_envs):
            self.shaper.end_episode(i, finished=False)
            self.shaper.start_episode(i, None if phi is None else float(phi[i]))
        self._resetting[:] = False
        return obs, info

    def step(self, actions):
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        n = self.num_envs
        self.shaper.timesteps += n
        events = infos.get(INTERACTIONS_KEY)
        if events is None:
            _events(infos)  # raises the explanatory error
        mask = infos.get(f"_{INTERACTIONS_KEY}", np.ones(n, dtype=bool))
        aux, event_reward, potential = np.zeros(n), np.zeros(n), np.zeros(n)
        paying = np.empty(n, dtype=object)
        done = np.logical_or(terminated, truncated)
        episode = np.empty(n, dtype=object)
        phi = self.shaper.potentials(self._objects.arrays(infos)) if self._objects else None
        game = np.asarray(infos[GAME_KEY] if GAME_KEY in infos else rewards, dtype=np.float64)
        for i in range(n):
            if phi is not None and self._resetting[i]:
                # A new episode's first state: no transition, nothing paid, its potential set.
                self.shaper.start_episode(i, float(phi[i]))
                paying[i] = []
            else:
                live = mask[i] and not self._resetting[i]
                aux[i], event_reward[i], paying[i] = self.shaper.apply(
                    i, events[i] if live else (), bool(terminated[i]),
                    None if phi is None else float(phi[i]), game[i], bool(done[i]))
            potential[i] = self.shaper.potential[i]
            if done[i]:
                episode[i] = self.shaper.end_episode(i)
        if self._next_step:
            self._resetting = done.copy()
        infos = dict(infos)
        if GAME_KEY not in infos:
            infos[GAME_KEY], infos[f"_{GAME_KEY}"] = np.asarray(rewards, dtype=np.float64), np.ones(n, bool)
        infos[AUX_KEY], infos[f"_{AUX_KEY}"] = aux, np.ones(n, dtype=bool)
        infos[EVENT_KEY], infos[f"_{EVENT_KEY}"] = event_reward, np.ones(n, dtype=bool)
        infos[AUX_EVENTS_KEY], infos[f"_{AUX_EVENTS_KEY}"] = paying, np.ones(n, dtype=bool)
        if self.shaper.mode in POTENTIAL_MODES:
            infos[POTENTIAL_KEY], infos[f"_{POTENTIAL_KEY}"] = potential, np.ones(n, dtype=bool)
        if done.any():
            infos[EPISODE_KEY], infos[f"_{EPISODE_KEY}"] = episode, done
        return obs, np.asarray(rewards, dtype=np.float64) + aux, terminated, truncated, infos
