"""Does DSAC's target entropy limit what it learns?  Same runs, different ``target_entropy_ratio``.

With automatic temperature, DSAC holds the policy's entropy at the target
``kappa * log |A|``.  That caps how much probability the best action can get
(the rest spread evenly): with ``kappa = 0.89`` about 0.57 with 3 actions
(Skiing), 0.43 with 6 (Pong) and 0.38 with 9 (MsPacman).  This script trains
the same DSAC preset with several ``kappa`` and seeds through ``agents.train``,
and reports per run

* the evaluation score with sampled actions (the policy as it trains) and with
  greedy actions;
* the last logged temperature ``alpha``, policy entropy, mean probability of
  the most likely action (``pi_max``), mean Q and the gap between the best and
  worst action's Q (``q_action_gap``), to compare with ``alpha * log pi``.

Usage::

    python benchmarks/dsac_entropy.py CartPole-v1 --steps 15000 --ratios 0.89 0.3 --seeds 0 1 2
    python benchmarks/dsac_entropy.py Skiing --steps 20000 --ratios 0.89 0.3 --seeds 0 \\
        --hp learning_starts=5000 --hp buffer_size=20000 --eval-episodes 2
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LOGGED = ("train/alpha", "train/entropy", "train/pi_max", "train/q", "train/q_action_gap",
          "rollout/ep_rew_mean")


def _value(text: str):
    return yaml.safe_load(text)


def last_logged(run_dir: Path) -> dict[str, float]:
    """The last value of each :data:`LOGGED` metric in ``progress.csv``."""
    with open(run_dir / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for key in LOGGED:
        values = [r[key] for r in rows if r.get(key) not in (None, "")]
        out[key.split("/")[1]] = float(values[-1]) if values else math.nan
    return out


def one(game: str, steps: int, ratio: float, seed: int, hp: dict, episodes: int,
        tmp: Path) -> dict:
    cfg = tmp / f"hp-{ratio}-{seed}.yml"
    cfg.write_text(yaml.safe_dump(dict(hp, target_entropy_ratio=ratio)))
    out = tmp / f"run-{ratio}-{seed}"
    common = ["--no-progress"]
    train = [sys.executable, "-m", "agents.train", game, "--algo", "dsac", "--shaping", "none",
             "--steps", str(steps), "--seed", str(seed), "--config", str(cfg), "--out", str(out),
             "--device", "cpu", "--eval-episodes", str(episodes), "--eval-mode", "sampled",
             "--vec-env", "dummy", "--no-game-defaults", *common]
    proc = subprocess.run(train, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(train)} failed:\n{proc.stderr[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    greedy = tmp / f"greedy-{ratio}-{seed}.json"
    ev = [sys.executable, "-m", "agents.evaluate", str(out), "--episodes", str(episodes),
          "--n-envs", "1", "--deterministic", "--device", "cpu", "--json", str(greedy)]
    proc = subprocess.run(ev, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(ev)} failed:\n{proc.stderr[-3000:]}")
    return {"ratio": ratio, "seed": seed, "steps": summary["steps"],
            "sampled": summary["eval"]["mean"],
            "greedy": json.loads(greedy.read_text())["mean"],
            "wall_s": summary["wall_time_s"], **last_logged(out)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("game", nargs="?", default="CartPole-v1")
    p.add_argument("--steps", type=int, default=15_000)
    p.add_argument("--ratios", type=float, nargs="+", default=[0.89, 0.3])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--hp", action="append", default=[], metavar="KEY=VALUE",
                   help="DSAC preset field to override (YAML value), repeatable")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args()
    hp = {}
    for item in args.hp:
        key, sep, value = item.partition("=")
        if not sep:
            p.error(f"--hp needs KEY=VALUE, got {item!r}")
        hp[key] = _value(value)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for ratio in args.ratios:
            for seed in args.seeds:
                row = one(args.game, args.steps, ratio, seed, hp, args.eval_episodes, Path(tmp))
                rows.append(row)
                print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in row.items()), flush=True)
    for ratio in args.ratios:
        mine = [r for r in rows if r["ratio"] == ratio]
        mean = {k: sum(r[k] for r in mine) / len(mine) for k in ("sampled", "greedy", "pi_max")}
        print(f"kappa {ratio}: sampled {mean['sampled']:.1f}, greedy {mean['greedy']:.1f}, "
              f"pi_max {mean['pi_max']:.2f} over {len(mine)} seeds")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
