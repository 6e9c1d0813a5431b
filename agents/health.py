"""Is the shaping trapping the agent?  Stall, hacking and farming checks over a run's episodes.

A reward table read correctly can still make an agent worse: on Skiing, four
negative kinds (trees, moguls, flags, missed gates) against one positive taught
an agent that could not yet steer to stand still, and a history potential at 50x
was exploited by prolonging episodes.  :class:`HealthMonitor` watches the
finished training episodes and the final evaluation's, and raises seven flags, each
once, with the step and the numbers that raised it:

``stall``
    Episodes run to the time limit while the game score falls: in the latest
    :data:`WINDOW` episodes, at least :data:`STALL_SHARE` ran to the limit (length
    at least :data:`LIMIT_FRACTION` of it), and their mean game score is below the
    best mean of any earlier window of as many episodes, or below random play's
    score (a run that stalls from its first episodes).
``hacking``
    The auxiliary return rises while the game score falls: between the latest
    window and the one :data:`TREND_GAP` windows before it, the mean auxiliary
    return per episode rose and the mean game score fell, each by more than
    :data:`TREND_Z` standard errors of the difference (Welch).  Not checked under a
    Markov potential (the proximity modes), whose auxiliary return no behaviour can collect
    (:class:`HealthMonitor`'s ``markov_potential``).
``farming``
    One event is farmed: in at least :data:`FARM_SHARE` of the latest window's
    episodes, a single object instance was paid :data:`FARM_REPEATS` or more
    times (the same item re-touched, a diver the full submarine cannot take).
    The shaping wrappers count rewards only: a penalty paid again is the agent
    hurt again, not farming.  A rebounding ball (:attr:`envs.games.GameSpec.rebounds`) is
    hit back every rally, so its payments count as farming only when they come faster
    than real hits can: more than one every :data:`REBOUND_STEPS` agent steps over the
    episode (Tennis's shaped PPO was paid for its ball 490 times in 3,900 steps).
    Not checked under the proximity modes, which pay no reward per contact.
``cut``
    Training scores are not finished games: at least :data:`CUT_SHARE` of the latest
    window's episodes were cut by the time limit, scoring on average at or above random
    play (below it, and in half the window, it is ``stall``).  Tennis's unshaped PPO kept
    matches it was losing going until the 27,000-step cut, in 5 to 25 of 50 episodes at
    -8 to -14 where random play scores -24.  Where an agent may legitimately survive to
    the limit it is a note that the scores are truncated, not a failure.

``inert``
    A shaped run whose shaping has paid nothing: none of its first :data:`WINDOW`
    training episodes had an auxiliary reward.  The table's events did not happen, or
    the mode pays them nothing (``positive`` on a table whose rewards the agent never
    reaches: Kangaroo's joey, fruit and bell), so the run is unshaped in effect and says
    nothing about shaping.  Withdrawn as soon as an episode pays, so in ``summary.json``
    it means that no training episode was paid at all.  Unshaped runs never raise it.

``eval_stall``
    The trained agent stands still when evaluated: at least :data:`EVAL_STALL_SHARE` of
    the final evaluation's episodes ran to the time limit, scoring on average below random
    play's score.  A policy sampled at evaluation can stall in a few episodes while its
    training windows stay under ``stall``'s share (Skiing, a constant step size: 9 of 20
    evaluation episodes at the game's clock, last 100 training episodes at -12,567).
``eval_cut``
    The evaluation's scores are not finished games: at least :data:`EVAL_STALL_SHARE` of
    its episodes were cut by the time limit, scoring on average at or above random play
    (an agent can stall a match it is losing: Tennis's unshaped PPO kept 28 of 30
    evaluation episodes going until the 27,000-step cut, at -5 where random play scores
    -24).  Where an agent may legitimately survive to the limit it is a note that the
    scores are truncated, not a failure.

Every training check needs full windows: nothing is flagged before :data:`WINDOW`
episodes (``hacking``: ``TREND_GAP + 1`` windows).

Example:
    >>> from agents.health import Episode, HealthMonitor
    >>> mon = HealthMonitor(limit=1000)
    >>> for k in range(100):                     # 50 quick episodes, then 50 stalled ones
    ...     stalled = k >= 50
    ...     _ = mon.add(Episode(step=k * 500, score=-30000.0 if stalled else -9000.0,
    ...                         length=1000 if stalled else 400, aux_return=0.0))
    >>> sorted(mon.flags), mon.flags["stall"]["step"]    # half of the last 50 ran to the limit
    (['stall'], 37000)
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs.interactions import split_key

#: Episodes per window.
WINDOW = 50
#: ``stall``: share of a window's episodes that ran to the time limit.
STALL_SHARE = 0.5
#: An episode ran to the time limit if it lasted at least this fraction of it (the
#: gymnasium backend counts no-op start frames into the limit, envpool does not).
LIMIT_FRACTION = 0.98
#: ``hacking``: the latest window is compared with the one this many windows before.
TREND_GAP = 3
#: ``hacking``: standard errors by which both changes must exceed zero.
TREND_Z = 2.0
#: ``farming``: payments of one instance within one episode that count as farming.
FARM_REPEATS = 5
#: ``farming``: share of a window's episodes that must farm.
FARM_SHARE = 0.2
#: ``farming``: a rebounding ball paid more often than once every this many agent steps
#: over an episode is farmed.  Between two real hits the ball crosses the court and comes
#: back: about 50 agent steps a hit for Pong's shaped agents (52 hits in 2,600 steps),
#: never under 20; contacts that are not hits come faster (Tennis: one every 8 steps).
REBOUND_STEPS = 20
#: ``cut``: share of a window's episodes cut by the time limit at or above random play
#: (5 of 50; no Skiing, Pong, Breakout, MsPacman, Seaquest or Freeway run of the shaping
#: sweeps had a single one, while Tennis's stalled matches reached 12 to 25).
CUT_SHARE = 0.1
#: ``eval_stall``, ``eval_cut``: share of the final evaluation's episodes that ran to the
#: time limit
#: (2 of 20: one stuck episode in 20 is luck, two in 20 a habit worth a look).
EVAL_STALL_SHARE = 0.1
#: The flags, in report order.
FLAGS = ("stall", "hacking", "farming", "cut", "inert", "eval_stall", "eval_cut")


def flags_field(report: dict[str, Any] | None) -> str:
    """The flags a health report raised, as ``results.csv`` stores them: names in
    :data:`FLAGS` order joined by ``;`` (empty for none, or for runs trained before the
    checks, whose ``report`` is ``None``).

    Example:
        >>> flags_field({"farming": {"step": 1}, "stall": {"step": 2}, "hacking": None})
        'stall;farming'
    """
    return ";".join(f for f in FLAGS if (report or {}).get(f))


@dataclass(frozen=True)
class Episode:
    """One finished training episode, as the checks see it.

    Attributes:
        step: Training step at its end.
        score: Game score.
        length: Agent steps.
        aux_return: Auxiliary reward paid over the episode (0 unshaped).
        max_repeat: Most payments of one object instance in the episode.
        repeated: The event key of that instance (``""`` when none was paid).
        paid: Payments per event key over the episode (``{"Ball": 52}``).
    """

    step: int
    score: float
    length: int
    aux_return: float = 0.0
    max_repeat: int = 0
    repeated: str = ""
    paid: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Episode:
        """An ``episodes.csv`` row (written now, or by a run before the repeat columns).

        Example:
            >>> Episode.from_row({"step": "40", "score": "-3.0", "length": "9",
            ...                   "aux_return": "", "max_repeat": ""}).max_repeat
            0
        """
        paid = row.get("paid") or {}
        if isinstance(paid, str):  # a CSV cell holds it as JSON
            try:
                paid = json.loads(paid)
            except ValueError:
                paid = {}
        return cls(step=int(row["step"]), score=float(row["score"]), length=int(row["length"]),
                   aux_return=float(row["aux_return"] or 0.0),
                   max_repeat=int(row.get("max_repeat") or 0),
                   repeated=row.get("repeated") or "",
                   paid={str(k): int(v) for k, v in dict(paid).items()})


class HealthMonitor:
    """Raises ``stall``, ``hacking``, ``farming`` and ``cut`` flags over a run's training episodes,
    and ``eval_stall`` and ``eval_cut`` over its final evaluation (:meth:`add_evaluation`).

    Args:
        limit: The episode time limit in agent steps (``None``: no limit, no stall check).
        window: Episodes per window (default :data:`WINDOW`).
        floor: Random play's score on the game, if known: a window at the limit that
            scores below it is a stall even with no better window before it (a run that
            stalls from its first episodes).
        rebounds: The game's rebounding categories (``GameSpec.rebounds``), whose
            payments count as farming only above one every :data:`REBOUND_STEPS` steps.
        shaped: The run is paid an auxiliary reward (``inert`` is checked only then).
        markov_potential: Its shaping pays a Markov potential and no reward per contact
            (the proximity modes; ``proximity_contact`` pays penalties per contact, which
            nobody farms), and then neither ``farming`` nor ``hacking`` is checked.  No
            reward is paid per contact, so a repeated one earns nothing; and the
            potential's discounted auxiliary return is
            ``gamma^T Phi(s_T) - Phi(s_0)``, fixed by the episode's first and last states
            (Ng et al. 1999), so no behaviour collects it.  The undiscounted
            ``aux_return`` is then about ``-(1 - gamma)`` times the potential summed over
            the episode: it rises when the agent spends less time near the objects the
            table rewards, which is not hacking (Ms. Pac-Man's proximity seed 0 was
            flagged for it: pills eaten less, score down).
    """

    def __init__(self, limit: int | None, window: int = WINDOW,
                 floor: float | None = None, rebounds: frozenset[str] = frozenset(),
                 shaped: bool = False, markov_potential: bool = False) -> None:
        # A window of one episode has no spread to compare; none at all is meaningless.
        if not isinstance(window, int) or window < 2:
            raise ValueError(f"window must be an int >= 2, got {window!r}")
        self.limit = limit
        self.floor = floor
        self.rebounds = frozenset(rebounds)
        self.shaped = bool(shaped)
        self.markov_potential = bool(markov_potential)
        self._ever_paid = False
        self.window = window
        self.flags: dict[str, dict[str, Any]] = {}
        self._recent: deque[Episode] = deque(maxlen=window * (TREND_GAP + 1))
        self._count = 0
        self._best_score: float | None = None  # best mean score of a completed earlier window

    def add(self, episode: Episode) -> list[str]:
        """Take one finished episode; returns the messages of flags raised by it."""
        self._count += 1
        self._recent.append(episode)
        if episode.aux_return != 0.0 or any(episode.paid.values()):
            self._ever_paid = True
            self.flags.pop("inert", None)  # the shaping pays after all
        w = self.window
        if len(self._recent) < w:
            return []
        latest = list(self._recent)[-w:]
        raised = []
        if self.shaped and not self._ever_paid and self._count == w:
            self.flags["inert"] = {
                "step": episode.step, "episode": self._count, "episodes": w,
                "why": f"no auxiliary reward was paid in the first {w} episodes: the table's "
                       "events did not happen or this mode pays them nothing, so the run is "
                       "unshaped in effect (withdrawn if an episode pays)"}
            raised.append(f"inert at step {episode.step:,}: {self.flags['inert']['why']}")
        paid = not self.markov_potential  # what an agent could farm or hack
        for name, detail in (("stall", self._stall(latest)),
                             ("hacking", self._hacking() if paid else None),
                             ("farming", self._farming(latest) if paid else None),
                             ("cut", self._cut(latest))):
            if detail and name not in self.flags:
                self.flags[name] = {"step": episode.step, "episode": self._count, **detail}
                raised.append(f"{name} at step {episode.step:,}: {detail['why']}")
        if self._count >= w and self._count % w == 0:
            # A completed window becomes an "earlier" one for the stall check.
            mean = _mean([e.score for e in latest])
            self._best_score = mean if self._best_score is None else max(self._best_score, mean)
        return raised

    def _at_limit(self, length: int) -> bool:
        """An episode of ``length`` steps ran to the time limit (there is one)."""
        return self.limit is not None and length >= LIMIT_FRACTION * self.limit

    def _stall(self, latest: list[Episode]) -> dict[str, Any] | None:
        if self.limit is None:
            return None
        at_limit = sum(self._at_limit(e.length) for e in latest)
        score = _mean([e.score for e in latest])
        if at_limit < STALL_SHARE * len(latest):
            return None
        if self._best_score is not None and score < self._best_score:
            below = f"the best earlier window's {self._best_score:,.0f}"
        elif self.floor is not None and score < self.floor:
            # Stalled from its first episodes: no better window to fall from, but worse
            # than playing at random.
            below = f"random play's {self.floor:,.0f}"
        else:
            return None
        return {"why": f"{at_limit} of the last {len(latest)} episodes ran to the time limit "
                       f"({self.limit:,} steps) and their mean score {score:,.0f} is below "
                       f"{below}",
                "at_limit": at_limit, "score": score, "best_score": self._best_score,
                "floor": self.floor}

    def _cut(self, latest: list[Episode]) -> dict[str, Any] | None:
        # Without random play's score a cut cannot be told from a stall.
        if self.limit is None or self.floor is None:
            return None
        cut = [e.score for e in latest if self._at_limit(e.length)]
        if len(cut) < CUT_SHARE * len(latest) or _mean(cut) < self.floor:
            return None
        score = _mean(cut)
        return {"why": self._cut_why(f"{len(cut)} of the last {len(latest)} episodes", score),
                "episodes": len(cut), "score": score, "floor": self.floor}

    def _cut_why(self, which: str, score: float) -> str:
        """Why ``cut`` or ``eval_cut`` was raised, for ``which`` episodes scoring ``score``."""
        return (f"{which} were cut by the time limit ({self.limit:,} steps) at {score:,.1f} on "
                f"average (random play: {self.floor:,.1f}): scores at the cut, not finished games")

    def _hacking(self) -> dict[str, Any] | None:
        w = self.window
        if len(self._recent) < w * (TREND_GAP + 1):
            return None
        eps = list(self._recent)
        old, new = eps[:w], eps[-w:]
        d_aux, z_aux = _change([e.aux_return for e in old], [e.aux_return for e in new])
        d_score, z_score = _change([e.score for e in old], [e.score for e in new])
        if not (z_aux > TREND_Z and z_score < -TREND_Z):
            return None
        return {"why": f"over the last {len(eps)} episodes the mean auxiliary return rose by "
                       f"{d_aux:+,.1f} ({z_aux:.1f} SE) while the mean score fell by "
                       f"{d_score:+,.0f} ({z_score:.1f} SE)",
                "aux_change": d_aux, "score_change": d_score}

    def _rebound_paid(self, episode: Episode) -> dict[str, int]:
        """Payments per rebounding category over ``episode``."""
        paid: dict[str, int] = {}
        for key, n in episode.paid.items():
            category = split_key(key)[0]
            if category in self.rebounds:
                paid[category] = paid.get(category, 0) + n
        return paid

    def _farming(self, latest: list[Episode]) -> dict[str, Any] | None:
        repeated = [e for e in latest if e.max_repeat >= FARM_REPEATS]
        rallied = []  # (episode, its rebound payments) paid faster than real hits come
        for e in latest:
            balls = self._rebound_paid(e)
            if e.max_repeat < FARM_REPEATS and sum(balls.values()) * REBOUND_STEPS > e.length:
                rallied.append((e, balls))
        if len(repeated) + len(rallied) < FARM_SHARE * len(latest):
            return None
        parts, keys = [], sorted({e.repeated for e in repeated})
        top = max((e.max_repeat for e in repeated), default=0)
        if repeated:
            parts.append(f"one object {FARM_REPEATS}+ times ({', '.join(keys)}; up to {top})")
        if rallied:
            fastest, fastest_paid = max(rallied, key=lambda p: sum(p[1].values()) / p[0].length)
            balls = sorted({b for _, paid in rallied for b in paid})
            keys = sorted(set(keys) | set(balls))
            parts.append(f"a rebounding {'/'.join(balls)} more than once every {REBOUND_STEPS} "
                         f"steps (up to {sum(fastest_paid.values())} in {fastest.length} steps)")
        return {"why": f"{len(repeated) + len(rallied)} of the last {len(latest)} episodes paid "
                       + " or ".join(parts),
                "episodes": len(repeated) + len(rallied), "keys": keys, "max_repeat": top}

    def add_evaluation(self, scores: list[float], lengths: list[int],
                       step: int | None = None) -> list[str]:
        """Take the final evaluation's episodes; returns the messages of the flags it raised
        (``eval_stall`` below random play, ``eval_cut`` at or above it).

        Example:
            >>> mon = HealthMonitor(limit=1000, floor=-16000.0)
            >>> print(*mon.add_evaluation([-30000.0] * 2 + [-5000.0] * 18, [1000] * 2 + [600] * 18))
            eval_stall: 2 of 20 evaluation episodes ran to the time limit (1,000 steps), scoring -30,000 on average, below random play's -16,000
        """
        if len(scores) != len(lengths):
            raise ValueError(f"{len(scores)} scores but {len(lengths)} lengths")
        # Without a limit nothing can run to it; without random play's score there is no
        # telling a stall from a cut.
        if self.limit is None or self.floor is None or not scores:
            return []
        cut = [s for s, n in zip(scores, lengths) if self._at_limit(n)]
        if len(cut) < EVAL_STALL_SHARE * len(scores):
            return []
        score = _mean(cut)
        name = "eval_stall" if score < self.floor else "eval_cut"
        if name in self.flags:
            return []
        if name == "eval_stall":
            why = (f"{len(cut)} of {len(scores)} evaluation episodes ran to the time limit "
                   f"({self.limit:,} steps), scoring {score:,.0f} on average, below random "
                   f"play's {self.floor:,.0f}")
        else:
            why = self._cut_why(f"{len(cut)} of {len(scores)} evaluation episodes", score)
        self.flags[name] = {"step": step, "why": why, "episodes": len(cut),
                            "of": len(scores), "score": score}
        return [f"{name}: {why}"]

    def report(self) -> dict[str, Any]:
        """Every flag (``None`` where not raised) and the thresholds, for ``summary.json``."""
        return {**{name: self.flags.get(name) for name in FLAGS},
                "episodes": self._count,
                "thresholds": {"window": self.window, "stall_share": STALL_SHARE,
                               "limit_fraction": LIMIT_FRACTION, "limit": self.limit,
                               "floor": self.floor,
                               "trend_gap": TREND_GAP, "trend_z": TREND_Z,
                               "farm_repeats": FARM_REPEATS, "farm_share": FARM_SHARE,
                               "rebound_steps": REBOUND_STEPS, "cut_share": CUT_SHARE,
                               "eval_stall_share": EVAL_STALL_SHARE}}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _change(old: list[float], new: list[float]) -> tuple[float, float]:
    """Difference of means (new - old) and its size in standard errors (Welch)."""
    def var(v: list[float]) -> float:
        m = _mean(v)
        return sum((x - m) ** 2 for x in v) / (len(v) - 1)

    diff = _mean(new) - _mean(old)
    se = math.sqrt(var(old) / len(old) + var(new) / len(new))
    if se == 0:
        return diff, math.copysign(math.inf, diff) if diff else 0.0
    return diff, diff / se


def run_monitor(cfg: Any, target: Any) -> HealthMonitor:
    """The monitor of a run (``agents.runs.RunConfig``) on ``target``: its episode limit
    (the wrapper's or the game's own clock), random play's score as the stall floor and the
    game's rebounding balls."""
    from agents.runs import episode_step_limit, random_score
    from reward_shaping.wrappers import PROXIMITY_MODES

    rebounds: frozenset[str] = frozenset()
    if getattr(target, "atari", False):
        from envs.games import resolve_game

        rebounds = resolve_game(target.name).rebounds
    return HealthMonitor(episode_step_limit(cfg, target), floor=random_score(target),
                         rebounds=rebounds, shaped=getattr(cfg, "shaping", "none") == "manual",
                         markov_potential=getattr(cfg, "shaping_mode", None) in PROXIMITY_MODES)


def check_run(run_dir: Path) -> dict[str, Any]:
    """Replay a run directory's ``episodes.csv`` (and its final evaluation, from
    ``summary.json``, when it has one) through a fresh :func:`run_monitor`: today's checks
    on a run trained before them."""
    import csv

    from agents.environments import resolve_target
    from agents.runlogs import EPISODES, CorruptLog, open_log
    from agents.runs import TrainError, read_run_config

    cfg = read_run_config(run_dir)
    try:
        f = open_log(run_dir, EPISODES)
    except FileNotFoundError:
        raise TrainError(f"{run_dir} has no episodes.csv") from None
    except CorruptLog as err:
        raise TrainError(str(err)) from None
    with f:
        monitor = run_monitor(cfg, resolve_target(cfg.game))
        for row in csv.DictReader(f):
            monitor.add(Episode.from_row(row))
    evaluation = _final_evaluation(run_dir)
    if evaluation is not None:
        monitor.add_evaluation(*evaluation)
    return monitor.report()


def _final_evaluation(run_dir: Path) -> tuple[list[float], list[int], int | None] | None:
    """A finished run's evaluation (scores, lengths, step), or ``None`` while it trains."""
    from agents.runs import TrainError

    path = run_dir / "summary.json"
    if not path.exists():
        return None
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise TrainError(f"{path} cannot be read: {err}") from None
    ev = summary.get("eval") or {}
    if "scores" not in ev or "lengths" not in ev:
        return None
    return ev["scores"], ev["lengths"], summary.get("steps")


def main(argv: list[str] | None = None) -> int:
    """``python -m agents.health RUN_DIR...``: each run's flags, checked again from its
    episodes (exit 0; 2 if a run directory cannot be read)."""
    import argparse
    import sys

    from agents.runs import TrainError

    p = argparse.ArgumentParser(prog="python -m agents.health",
                                description="Check finished or running training runs for "
                                "stalls, reward hacking and farmed events, from their "
                                "episodes.csv (thresholds: agents/health.py).")
    p.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    p.add_argument("--json", action="store_true", help="print each run's report as JSON")
    args = p.parse_args(argv)
    status = 0
    for run_dir in args.run_dirs:
        try:
            report = check_run(run_dir)
        except TrainError as err:
            print(f"error: {err}", file=sys.stderr)
            status = 2
            continue
        if args.json:
            print(json.dumps({"run": str(run_dir), **report}))
            continue
        raised = [f"{name} at step {report[name]['step'] or 0:,}: {report[name]['why']}"
                  for name in FLAGS if report[name]]
        print(f"{run_dir}: {report['episodes']} episodes, limit "
              f"{report['thresholds']['limit']} steps: " + ("; ".join(raised) or "healthy"))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
