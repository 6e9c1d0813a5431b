"""How big is Skiing's auxiliary reward once normalised, which events does it pay, is it hacked?

Short A2C runs on Skiing (CPU), one per arm, each an ordinary ``agents.train``
run with a recorder between ``VecNormalize`` and the agent:

* ``none``: no auxiliary reward.  It runs as manual shaping with ``--aux-scale 0``
  so that the detector still counts events (the learning problem is that of
  ``--shaping none``: the reward is the game's);
* ``bonus``: the manual table's reward per event, the paper's shaping;
* ``potential``: potential-based shaping (``--shaping-mode potential``);
* more with ``--arms NAME=FLAGS`` (e.g. ``bonus_x4="--aux-scale 4"``).

It reports

(a) the reward the agent learns from, per step: ``VecNormalize`` divides the shaped
    reward by one running return std, so the normalised game part is
    ``game_reward / std`` and the normalised auxiliary part ``aux_reward / std``:
    their mean and std over all steps, the ratio of the stds, and the size of one
    event's normalised payment against the normalised per-step game reward;
(b) per-episode counts of ``Tree``, ``Gate:pass`` and ``Gate:miss`` events over
    training (``episodes.csv``, in quarters of the run);
(c) a reward-hacking check: the trend (least-squares slope per 100k steps) of the
    episodes' game score and of their event return (the table's value of the
    events, whether or not the arm was paid it).  Hacking shows as the event
    return rising while the score falls.

Usage::

    python benchmarks/skiing_shaping_analysis.py --steps 40000 --n-envs 8 --json out.json
    python benchmarks/skiing_shaping_analysis.py --arms none bonus bonus_x4="--aux-scale 4"
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shlex
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from stable_baselines3.common.vec_env import VecEnvWrapper  # noqa: E402

from agents.train import Run, _new_config, _parse, write_config  # noqa: E402
from reward_shaping.table import RewardTable  # noqa: E402
from reward_shaping.wrappers import reward_lookup  # noqa: E402

#: Built-in arms: name -> extra agents.train flags.
ARMS = {
    "none": ["--aux-scale", "0"],
    "bonus": [],
    "potential": ["--shaping-mode", "potential"],
}
EVENTS = ("Tree", "Gate:pass", "Gate:miss")


class NormalisedRewardRecorder(VecEnvWrapper):
    """Outside ``VecNormalize``: records each step's game and auxiliary reward and the
    return std that ``VecNormalize`` divided them by in that step."""

    def __init__(self, venv, norm) -> None:
        super().__init__(venv)
        self.norm = norm
        self.game: list[np.ndarray] = []
        self.aux: list[np.ndarray] = []
        self.std: list[float] = []

    def reset(self):
        return self.venv.reset()

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        # VecNormalize updates its return statistics before it divides by them.
        std = 1.0 if self.norm is None else math.sqrt(float(self.norm.ret_rms.var)
                                                      + self.norm.epsilon)
        self.std.append(std)
        self.game.append(np.array([i["game_reward"] for i in infos], dtype=np.float64))
        self.aux.append(np.array([i.get("aux_reward", 0.0) for i in infos], dtype=np.float64))
        return obs, rewards, dones, infos


class RecordingRun(Run):
    """An ``agents.train`` run whose env is wrapped in a :class:`NormalisedRewardRecorder`."""

    recorder: NormalisedRewardRecorder | None = None

    def build_env(self, hp, table, ckpt=None):
        venv, norm = super().build_env(hp, table, ckpt)
        self.recorder = NormalisedRewardRecorder(venv, norm)
        return self.recorder, norm


def reward_sizes(rec: NormalisedRewardRecorder) -> dict[str, float]:
    """(a): per-step statistics of the normalised game and auxiliary rewards."""
    game, aux = np.stack(rec.game), np.stack(rec.aux)
    std = np.array(rec.std)[:, None]
    g, a = game / std, aux / std
    paid = a[aux != 0]
    return {
        "steps": int(game.size), "return_std_final": float(std[-1, 0]),
        "game_norm_mean": float(g.mean()), "game_norm_std": float(g.std()),
        "aux_norm_mean": float(a.mean()), "aux_norm_std": float(a.std()),
        "std_ratio_aux_game": float(a.std() / g.std()) if g.std() > 0 else float("nan"),
        "aux_steps_fraction": float((aux != 0).mean()),
        "aux_norm_abs_when_paid": float(np.abs(paid).mean()) if paid.size else 0.0,
        "game_norm_abs_median": float(np.median(np.abs(g))),
        "game_raw_mean": float(game.mean()), "aux_raw_mean": float(aux.mean()),
    }


def episode_trends(run_dir: Path, lookup: dict[str, float], quarters: int = 4) -> dict[str, Any]:
    """(b) and (c) from ``episodes.csv``: event counts per quarter of the run, score and
    event-return trends."""
    with open(run_dir / "episodes.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {"episodes": 0}
    step = np.array([int(r["step"]) for r in rows], dtype=np.float64)
    score = np.array([float(r["score"]) for r in rows])
    contacts = [json.loads(r["contacts"]) for r in rows]
    counts = {k: np.array([c.get(k, 0) for c in contacts], dtype=np.float64) for k in EVENTS}
    # What the table would pay for the episode's events (the arm may be paid 0 of it).
    event_return = np.array([sum(lookup.get(k, 0.0) * n for k, n in c.items()) for c in contacts])
    edges = np.linspace(0, step.max() + 1, quarters + 1)
    per_quarter = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (step >= lo) & (step < hi)
        per_quarter.append({"episodes": int(m.sum()),
                            "score": float(score[m].mean()) if m.any() else None,
                            "event_return": float(event_return[m].mean()) if m.any() else None,
                            **{k: float(v[m].mean()) if m.any() else None
                               for k, v in counts.items()}})

    def slope(y: np.ndarray) -> float | None:  # per 100k steps
        return float(np.polyfit(step, y, 1)[0] * 1e5) if len(set(step)) > 1 else None

    s_score, s_event = slope(score), slope(event_return)
    return {"episodes": len(rows), "quarters": per_quarter,
            "score_slope_per_100k": s_score, "event_return_slope_per_100k": s_event,
            "aux_return_mean": float(np.mean([float(r["aux_return"]) for r in rows])),
            "hacking": bool(s_score is not None and s_event is not None
                            and s_event > 0 and s_score < 0)}


def run_arm(name: str, flags: list[str], args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    out = tmp / name
    argv = ["Skiing", "--algo", "a2c", "--steps", str(args.steps), "--n-envs", str(args.n_envs),
            "--seed", str(args.seed), "--device", "cpu", "--eval-episodes", "0",
            "--save-every", str(10 * args.steps), "--no-progress", "--out", str(out),
            "--no-game-defaults", *flags]
    cfg, run_dir = _new_config(_parse(argv))
    write_config(run_dir, cfg)
    run = RecordingRun(cfg, run_dir, resume=False, progress=False)
    t0 = time.time()
    if run.execute() != 0:
        raise SystemExit(f"{name}: agents.train {' '.join(argv)} failed")
    table = RewardTable.from_json(json.loads((run_dir / "reward_table.json").read_text()))
    lookup = reward_lookup(table)
    return {"arm": name, "flags": flags, "wall_s": round(time.time() - t0, 1),
            "gamma": cfg.hparams["gamma"], "sizes": reward_sizes(run.recorder),
            "episodes": episode_trends(run_dir, lookup)}


def _print(row: dict[str, Any]) -> None:
    s, e = row["sizes"], row["episodes"]
    print(f"\n== {row['arm']} ({' '.join(row['flags']) or 'defaults'}): {s['steps']} env-steps, "
          f"{e['episodes']} episodes, {row['wall_s']:.0f} s", flush=True)
    print(f"  (a) normalised game reward {s['game_norm_mean']:+.4f} +- {s['game_norm_std']:.4f}; "
          f"aux {s['aux_norm_mean']:+.4f} +- {s['aux_norm_std']:.4f}; std ratio aux/game "
          f"{s['std_ratio_aux_game']:.3f}; aux paid on {100 * s['aux_steps_fraction']:.2f}% of "
          f"steps, |aux| then {s['aux_norm_abs_when_paid']:.3f} vs median |game| "
          f"{s['game_norm_abs_median']:.4f}; return std at the end {s['return_std_final']:.1f}")
    if not e["episodes"]:
        return
    print("  (b) quarter  episodes    score    Tree  Gate:pass  Gate:miss  event return")
    for q, d in enumerate(e["quarters"], 1):
        if d["episodes"]:
            print(f"      {q:>7}  {d['episodes']:>8}  {d['score']:>7.0f}  {d['Tree']:>6.2f}  "
                  f"{d['Gate:pass']:>9.2f}  {d['Gate:miss']:>9.2f}  {d['event_return']:>12.1f}")
    ss, se = e["score_slope_per_100k"], e["event_return_slope_per_100k"]
    if ss is not None:
        print(f"  (c) per 100k steps: score {ss:+.0f}, event return {se:+.1f}; "
              f"hacking: {'YES' if e['hacking'] else 'no'}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arms", nargs="+", default=list(ARMS),
                   help="built-in arms (none, bonus, potential) or NAME=\"FLAGS\" (agents.train "
                   "flags)")
    p.add_argument("--steps", type=int, default=40_000, help="env steps per arm")
    p.add_argument("--n-envs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch intra-op threads (on a shared 2-core machine one thread ran "
                   "A2C's CNN about 5x faster than two)")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.torch_threads)
    arms = []
    for arm in args.arms:
        name, sep, flags = arm.partition("=")
        if not sep and name not in ARMS:
            p.error(f"unknown arm {name!r}: use one of {', '.join(ARMS)} or NAME=\"FLAGS\"")
        arms.append((name, shlex.split(flags) if sep else ARMS[name]))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in arms:
            rows.append(run_arm(name, flags, args, Path(tmp)))
            _print(rows[-1])
            if args.json:  # after every arm: a cut-short session keeps what it measured
                args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
