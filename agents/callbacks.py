"""SB3 callbacks of a training run: progress bar, episode/shaping logs, checkpoints, clean stop.

Metrics go through SB3's logger under namespaces: ``rollout/`` (SB3's own;
``ep_rew_mean`` is the game score because ``Monitor`` sits inside the
shaping), ``shaping/`` (auxiliary reward) and ``detector/`` (contacts per
episode and category).
"""

from __future__ import annotations

import csv
import json
import logging
import signal
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from agents.checkpoint import truncate_csv
from agents.health import Episode, HealthMonitor
from reward_shaping.wrappers import find_shaper

log = logging.getLogger("agents.health")

EPISODE_FIELDS = ["step", "env", "score", "length", "aux_return", "contacts", "paid",
                  "max_repeat", "repeated"]


class StopRequest:
    """SIGINT/SIGTERM handler: the first signal asks training to stop, a second one aborts.

    Use as a context manager around ``model.learn``.
    """

    #: Signals closer together than this count as one (``timeout`` and some
    #: schedulers deliver SIGTERM to the process and to its group).
    DEBOUNCE_S = 2.0

    def __init__(self) -> None:
        self.requested = False
        self._at = 0.0
        self._previous: dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:
        now = time.monotonic()
        if self.requested:
            if signum == signal.SIGINT and now - self._at > self.DEBOUNCE_S:
                raise KeyboardInterrupt
            return
        self.requested, self._at = True, now
        print("\nstopping: saving a checkpoint (press Ctrl-C again to abort without saving)",
              flush=True)

    def __enter__(self) -> StopRequest:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class RunCallback(BaseCallback):
    """Everything a run does between environment steps.

    Args:
        run_dir: Where ``episodes.csv`` and checkpoints go.
        total_steps: Target step count (for the progress bar).
        save_every: Checkpoint period in environment steps.
        save: ``save(model) -> Path`` writes a checkpoint.
        stop: The run's :class:`StopRequest`.
        resume_step: Step of the checkpoint resumed from (``episodes.csv`` is
            cut back to it), or ``None``.
        progress: Show a progress bar.
        health: Stall, hacking and farming checks over the finished episodes (fed
            ``episodes.csv``'s rows again on resume); ``None``: none.
    """

    def __init__(self, run_dir: Path, total_steps: int, save_every: int,
                 save: Callable[[Any], Path], stop: StopRequest, resume_step: int | None,
                 progress: bool = True, health: HealthMonitor | None = None) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.total_steps = total_steps
        self.save_every = save_every
        self._save = save
        self.stop = stop
        self.progress = progress
        self.scores: deque[float] = deque(maxlen=100)
        self.aux_returns: deque[float] = deque(maxlen=100)
        self.event_returns: deque[float] = deque(maxlen=100)
        self.contacts: deque[dict[str, int]] = deque(maxlen=100)
        self.paid: deque[dict[str, int]] = deque(maxlen=100)
        self.vetoed: deque[int] = deque(maxlen=100)  # penalties the game's reward waived
        self.episodes = 0
        self._last_save = 0
        self.health = health
        path = self.run_dir / "episodes.csv"
        if resume_step is not None:
            truncate_csv(path, "step", resume_step)
        fields, new = EPISODE_FIELDS, not path.exists() or path.stat().st_size == 0
        if not new:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                rows = list(reader)
            # Runs started before a column existed keep their own header.
            fields = reader.fieldnames or EPISODE_FIELDS
            if health is not None:  # the checks see the run's whole history again
                for row in rows:
                    health.add(Episode.from_row(row))
        self._file = open(path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._csv = csv.DictWriter(self._file, fieldnames=fields, extrasaction="ignore")
        if new:
            self._csv.writeheader()
        self._bar = None

    def _on_training_start(self) -> None:
        self._last_save = self.num_timesteps
        self._t0, self._s0 = time.time(), self.num_timesteps
        if self.progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total_steps, initial=self.num_timesteps, unit="step",
                             dynamic_ncols=True, smoothing=0.05)

    def _on_step(self) -> bool:
        infos = self.locals["infos"]
        dones = self.locals["dones"]
        for i, done in enumerate(dones):
            if not done:
                continue
            ep = infos[i].get("episode")
            if ep is None:
                continue
            shaping = infos[i].get("shaping", {})
            self.episodes += 1
            self.scores.append(float(ep["r"]))
            self.aux_returns.append(float(shaping.get("aux_return", 0.0)))
            self.event_returns.append(float(shaping.get("event_return", 0.0)))
            self.contacts.append(shaping.get("contacts", {}))
            self.paid.append(shaping.get("paid", {}))
            self.vetoed.append(sum(shaping.get("vetoed", {}).values()))
            row = {"step": self.num_timesteps, "env": i, "score": float(ep["r"]),
                   "length": int(ep["l"]), "aux_return": self.aux_returns[-1],
                   "contacts": json.dumps(self.contacts[-1]), "paid": json.dumps(self.paid[-1]),
                   "max_repeat": int(shaping.get("max_repeat", 0)),
                   "repeated": shaping.get("repeated", "")}
            self._csv.writerow(row)
            if self.health is not None:
                for message in self.health.add(Episode.from_row(row)):
                    print(f"\nwarning: {message}", flush=True)
                    log.warning(message)
        if self._bar is not None:
            self._bar.update(self.num_timesteps - self._bar.n)
            if self.n_calls % 50 == 0:
                self._bar.set_postfix(self._postfix(), refresh=False)
        return not self.stop.requested

    def _postfix(self) -> dict[str, str]:
        out = {}
        if self.scores:
            out["score"] = f"{np.mean(self.scores):.1f}"
            out["aux"] = f"{np.mean(self.aux_returns):.1f}"
        out["eps"] = str(self.episodes)
        return out

    def _on_rollout_start(self) -> None:
        # After the previous update: parameters, optimiser and counters agree.
        if self.num_timesteps - self._last_save >= self.save_every:
            self._save(self.model)
            self._last_save = self.num_timesteps

    def _on_rollout_end(self) -> None:
        self._file.flush()
        shaper = find_shaper(self.model.get_env())
        if shaper is None:  # unshaped run: no auxiliary reward, no detector
            self.logger.record("time/episodes", self.episodes)
            return
        self.logger.record("shaping/weight", shaper.weight)
        if self.aux_returns:
            self.logger.record("shaping/aux_return_mean", float(np.mean(self.aux_returns)))
            self.logger.record("shaping/event_return_mean", float(np.mean(self.event_returns)))
        if shaper.penalty_veto and self.vetoed:
            self.logger.record("shaping/vetoed_per_episode", float(np.mean(self.vetoed)))
        if shaper.mode == "potential":  # the running episodes' potentials, now
            self.logger.record("shaping/potential_mean", float(np.mean(shaper.potential)))
        if self.contacts:
            cats = sorted({c for d in self.contacts for c in d})
            for cat in cats:
                self.logger.record(f"detector/contacts_{cat}",
                                   float(np.mean([d.get(cat, 0) for d in self.contacts])))
            self.logger.record("detector/contacts_per_episode",
                               float(np.mean([sum(d.values()) for d in self.contacts])))
        self.logger.record("time/episodes", self.episodes)

    def _on_training_end(self) -> None:
        self._file.flush()
        if self._bar is not None:
            self._bar.set_postfix(self._postfix(), refresh=False)
            self._bar.close()
            self._bar = None

    def close(self) -> None:
        self._file.close()
