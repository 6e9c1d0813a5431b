"""Training throughput with manual shaping on vs off, same settings, same machine.

Runs ``python -m agents.train`` twice (``--shaping none``, then ``manual``) for
the same number of steps with evaluation off, reads each run's
``summary.json`` (steps/s of the learning loop, excluding start-up and the
reward-table build) and prints the ratio.

Usage::

    python benchmarks/train_throughput.py Skiing --steps 20000 --n-envs 16 --device cuda
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(game: str, shaping: str, steps: int, n_envs: int, device: str, vec_env: str,
        out: Path) -> dict:
    cmd = [sys.executable, "-m", "agents.train", game, "--shaping", shaping, "--steps", str(steps),
           "--n-envs", str(n_envs), "--device", device, "--vec-env", vec_env,
           "--eval-episodes", "0", "--no-progress", "--save-every", str(10 * steps),
           "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads((out / "summary.json").read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("game", nargs="?", default="Skiing")
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--n-envs", type=int, default=16)
    p.add_argument("--device", default="auto")
    p.add_argument("--vec-env", default="auto", choices=["auto", "dummy", "subproc"])
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for shaping in ("none", "manual"):
            s = run(args.game, shaping, args.steps, args.n_envs, args.device, args.vec_env,
                    Path(tmp) / shaping)
            results[shaping] = {"steps_per_s": s["steps_per_s"], "steps": s["steps"],
                                "device": s["device"]}
            print(f"{args.game} a2c shaping={shaping:<6} {s['steps']} steps on {s['device']}, "
                  f"{args.n_envs} envs: {s['steps_per_s']:.0f} steps/s", flush=True)
    ratio = results["manual"]["steps_per_s"] / results["none"]["steps_per_s"]
    results["ratio_manual_over_none"] = ratio
    print(f"ratio manual/none: {ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
