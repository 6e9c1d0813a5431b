"""How many of an HL-Gauss critic's training returns fall outside its support, on real Skiing runs.

Trains short ``agents.train`` runs with ``--value-head hl_gauss`` for every pair of
observation (``pixels``, ``objects``) and reward processing (``normalize``: divided by
a running return std; ``sign``: clipped), with the presets' support, and reads
``train/hl_clamped_fraction`` from each run's ``progress.csv``: the fraction of an
update's returns outside ``[hl_v_min, hl_v_max]``, which the cross-entropy loss clamps
to the support's ends.  Reported per run: the support, the training episodes that
finished (a missed-gate penalty is paid in an episode's last step), the rows logged
(each one update's rollout), the mean and the largest fraction over them, the share
of logged updates that clamped anything, the lowest and highest return logged
(``train/hl_return_min`` / ``max``: how near the support's ends they came), and the
run's steps/s.

Usage::

    python benchmarks/hl_clamped.py --pixel-steps 20000 --object-steps 50000
    python benchmarks/hl_clamped.py --obs objects --processing sign --algo ppo --json out.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
KEY = "train/hl_clamped_fraction"


def clamped(run_dir: Path) -> dict:
    """Statistics of :data:`KEY` and of the returns' range over a run's ``progress.csv``."""
    with open(run_dir / "progress.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get(KEY) not in (None, "")]
    if not rows:
        # A run too short for one logged update has nothing to report.
        raise SystemExit(f"{run_dir}: no {KEY} logged; give the run more steps")
    values = [float(r[KEY]) for r in rows]
    return {"rows": len(values), "mean": sum(values) / len(values), "max": max(values),
            "updates_clamping": sum(v > 0 for v in values) / len(values),
            "return_min": min(float(r["train/hl_return_min"]) for r in rows),
            "return_max": max(float(r["train/hl_return_max"]) for r in rows)}


def one(args: argparse.Namespace, obs: str, processing: str, tmp: Path) -> dict:
    steps = args.pixel_steps if obs == "pixels" else args.object_steps
    out = tmp / f"{obs}-{processing}"
    cmd = [sys.executable, "-m", "agents.train", args.game, "--algo", args.algo,
           "--value-head", "hl_gauss", "--obs", obs, "--reward-processing", processing,
           "--shaping", args.shaping, "--steps", str(steps), "--seed", str(args.seed),
           "--eval-episodes", "0", "--device", "cpu", "--no-progress", "--out", str(out),
           "--no-game-defaults"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    hp = yaml.safe_load((out / "config.yaml").read_text())["hparams"]
    summary = json.loads((out / "summary.json").read_text())
    return {"obs": obs, "reward_processing": processing, "shaping": args.shaping,
            "algo": args.algo, "steps": summary["steps"],
            "support": [hp["hl_v_min"], hp["hl_v_max"]], "bins": hp["hl_bins"],
            "episodes": summary["train_episodes"], "steps_per_s": summary["steps_per_s"],
            **clamped(out)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("game", nargs="?", default="Skiing")
    p.add_argument("--algo", default="a2c", choices=["a2c", "ppo"])
    p.add_argument("--shaping", default="manual", choices=["manual", "none"])
    p.add_argument("--obs", nargs="+", default=["pixels", "objects"], choices=["pixels", "objects"])
    p.add_argument("--processing", nargs="+", default=["normalize", "sign"],
                   choices=["normalize", "sign", "raw"])
    p.add_argument("--pixel-steps", type=int, default=20_000)
    p.add_argument("--object-steps", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args()
    print(f"{platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    print(f"{args.algo}, shaping {args.shaping}, seed {args.seed}")
    print("| obs | reward processing | steps | episodes | support | rows | mean clamped | "
          "max clamped | updates clamping | returns from | to | steps/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for obs in args.obs:
            for processing in args.processing:
                r = one(args, obs, processing, Path(tmp))
                rows.append(r)
                print(f"| {obs} | {processing} | {r['steps']:,} | {r['episodes']} | "
                      f"[{r['support'][0]:g}, {r['support'][1]:g}] | {r['rows']} | "
                      f"{r['mean']:.4f} | {r['max']:.4f} | {r['updates_clamping']:.0%} | "
                      f"{r['return_min']:.1f} | {r['return_max']:.1f} | "
                      f"{r['steps_per_s']:.0f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
