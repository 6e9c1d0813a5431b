"""Training throughput: today's path against the fast path, shaping on and off, several env counts.

Runs ``python -m agents.train`` once per combination of env backend
(``gymnasium``: today's path, per-frame detection in Python wrappers;
``envpool``: the fast path), shaping (``none``, ``manual``) and env count, the
same number of steps each with evaluation off, one after the other, and reads
each run's ``summary.json`` (steps/s of the learning loop, excluding start-up
and the reward-table build).  With ``--repeat N`` every combination runs N
times, in rounds (all combinations, then all again), and the best steps/s
counts: on a shared machine the best run is the one least slowed by others.
Prints a table with steps/s and the ratios fast/today and manual/none.

With ``--env-only`` no agent trains: each combination builds the env stack a
training run would build (the same ``make_vec`` call, the same
``ManualRewardVecEnv`` on the cached reward table) and steps it with random
actions.  That is the part of a training step the fast path changes; on 2 CPU
cores the A2C network's forward and backward passes cost more than the envs, so
the end-to-end ratio understates what the fast path buys where the learner runs
on a GPU.

Usage::

    python benchmarks/train_throughput.py Skiing --steps 40000 --n-envs 16 64 256 --device cuda
    python benchmarks/train_throughput.py Skiing --steps 2000 --n-envs 16 64 --device cpu
    python benchmarks/train_throughput.py Skiing --steps 8192 --n-envs 16 64 256 --repeat 2
    python benchmarks/train_throughput.py Skiing --steps 8192 --n-envs 16 64 --env-only
    python benchmarks/train_throughput.py Skiing --obs objects --steps 40000 --n-envs 16 32 64 --repeat 2

With ``--obs objects`` the agents observe the detector's objects (``agents.train --obs
objects``, an MLP policy); shaping ``none`` then still extracts objects (the
observation needs them) but detects no contacts.  ``benchmarks/step_breakdown.py``
says where such a step's time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(game: str, backend: str, shaping: str, n_envs: int, args: argparse.Namespace,
        out: Path) -> dict:
    cmd = [sys.executable, "-m", "agents.train", game, "--algo", args.algo,
           "--env-backend", backend, "--shaping", shaping, "--steps", str(args.steps),
           "--n-envs", str(n_envs), "--device", args.device, "--vec-env", args.vec_env,
           "--eval-episodes", "0", "--no-progress", "--save-every", str(10 * args.steps),
           "--obs", args.obs, "--out", str(out), "--no-game-defaults"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads((out / "summary.json").read_text())


def env_side(game: str, backend: str, shaping: str, n_envs: int, args: argparse.Namespace,
              out: Path) -> dict:
    """Steps/s of the env stack a training run builds, random actions, no learner."""
    import numpy as np

    from agents.environments import EnvSettings, make_vec, resolve_target
    from reward_shaping.table import build_reward_table
    from reward_shaping.wrappers import ManualRewardVecEnv

    target = resolve_target(game)
    venv = make_vec(target, EnvSettings(backend=backend, obs=args.obs), n_envs, seed=0,
                    track_objects=shaping == "manual", vec_env=args.vec_env)
    if shaping == "manual":
        venv = ManualRewardVecEnv(venv, build_reward_table(target.name))
    rng = np.random.default_rng(0)
    n_actions = venv.action_space.n
    try:
        venv.reset()
        for _ in range(max(1, 256 // n_envs)):  # warm-up: first frames, caches, threads
            venv.step(rng.integers(n_actions, size=n_envs))
        calls = max(1, args.steps // n_envs)
        t0 = time.perf_counter()
        for _ in range(calls):
            venv.step(rng.integers(n_actions, size=n_envs))
        elapsed = time.perf_counter() - t0
    finally:
        venv.close()
    return {"steps": calls * n_envs, "steps_per_s": calls * n_envs / elapsed, "device": "cpu"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("game", nargs="?", default="Skiing")
    p.add_argument("--algo", default="a2c")
    p.add_argument("--steps", type=int, default=20_000, help="environment steps per run")
    p.add_argument("--n-envs", type=int, nargs="+", default=[16, 64, 256])
    p.add_argument("--backends", nargs="+", default=["gymnasium", "envpool"],
                   choices=["gymnasium", "envpool"])
    p.add_argument("--shaping", nargs="+", default=["none", "manual"], choices=["none", "manual"])
    p.add_argument("--obs", default="pixels", choices=["pixels", "objects"],
                   help="what the agent observes (agents.train --obs)")
    p.add_argument("--device", default="auto")
    p.add_argument("--vec-env", default="auto", choices=["auto", "dummy", "subproc"],
                   help="today's path: in-process or one process per env")
    p.add_argument("--repeat", type=int, default=1,
                   help="runs per combination, in rounds; the best steps/s counts")
    p.add_argument("--env-only", action="store_true",
                   help="step the training env stack with random actions, no learner")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args()
    # Fewer than one run would print an empty table.
    if args.repeat < 1:
        p.error(f"--repeat must be >= 1, got {args.repeat}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeat):
            for n in args.n_envs:
                for backend in args.backends:
                    for shaping in args.shaping:
                        t0 = time.time()
                        measure = env_side if args.env_only else run
                        s = measure(args.game, backend, shaping, n, args,
                                    Path(tmp) / f"{backend}-{shaping}-{n}-{rep}")
                        results.append({"backend": backend, "shaping": shaping, "n_envs": n,
                                        "obs": args.obs,
                                        "round": rep, "steps": s["steps"],
                                        "steps_per_s": s["steps_per_s"], "device": s["device"]})
                        print(f"{args.game} {args.algo} {backend:<9} shaping={shaping:<6} "
                              f"{n:>4} envs: {s['steps_per_s']:>8.0f} steps/s ({s['steps']} steps "
                              f"on {s['device']}, {time.time() - t0:.0f} s with start-up, "
                              f"round {rep + 1})", flush=True)

    def sps(backend: str, shaping: str, n: int) -> float | None:
        return max((r["steps_per_s"] for r in results if (r["backend"], r["shaping"],
                                                          r["n_envs"]) == (backend, shaping, n)),
                   default=None)

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.2f}" if a and b else "-"

    cols = [(b, s) for b in args.backends for s in args.shaping]
    what = "env stack only, random actions" if args.env_only else args.algo
    print(f"\n{args.game}, {what}, obs {args.obs}, {args.steps} steps per run, "
          f"best of {args.repeat}, "
          f"device {results[0]['device']}, {platform.node()}, {os.cpu_count()} cores")
    print("| envs | " + " | ".join(f"{'today' if b == 'gymnasium' else 'fast'} {s}"
                                    for b, s in cols)
          + " | fast/today none | fast/today manual | manual/none today | manual/none fast |")
    print("|---" * (len(cols) + 5) + "|")
    for n in args.n_envs:
        cells = [f"{sps(b, s, n):.0f}" if sps(b, s, n) else "-" for b, s in cols]
        print(f"| {n} | " + " | ".join(cells) + " | "
              + " | ".join([ratio(sps("envpool", "none", n), sps("gymnasium", "none", n)),
                            ratio(sps("envpool", "manual", n), sps("gymnasium", "manual", n)),
                            ratio(sps("gymnasium", "manual", n), sps("gymnasium", "none", n)),
                            ratio(sps("envpool", "manual", n), sps("envpool", "none", n))])
              + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
