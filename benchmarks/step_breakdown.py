"""Where a training step's time goes: emulator, extraction, detection, features, shaping, policy, update.

Runs one real ``agents.train`` run in this process (the same command line a user
types) with wall-clock timers around the pieces of a step, and prints, per
environment step, the microseconds spent in each piece and its share of the
learning loop:

* ``emulator``: envpool's C++ step (emulation, frame skip, screen preprocessing);
* ``extraction``: RAM to objects (``envs.fast.batched``);
* ``contacts``: the swept contact detector (``envs.fast.swept.SweptDetector``);
* ``gates``: derived objects and their passes and misses (``StepPassDetector``);
* ``features``: object vectors (``envs.slots.SlotEncoder``; object observations);
* ``shaping``: the reward-table lookup wrapper (``ManualRewardVecEnv``) without what
  it wraps;
* ``normalise``: ``VecNormalize`` without what it wraps;
* ``env other``: the rest of the fast path's step (envpool's Python side, episode
  bookkeeping, info dicts);
* ``policy``: the policy's forward pass while collecting rollouts;
* ``update``: the algorithm's ``train()`` (losses, backward, optimiser);
* ``other``: the rest of the learning loop (rollout buffer, callbacks, logging).

Timers are ``time.perf_counter`` calls (well under a microsecond each), so the
sum is the loop's wall time.  Nested pieces are reported without their children.

Usage::

    python benchmarks/step_breakdown.py Skiing --obs objects --steps 40000
    python benchmarks/step_breakdown.py Skiing --obs objects --shaping none --n-envs 64
    python benchmarks/step_breakdown.py Skiing --obs pixels --steps 4000 --torch-threads 2
    python benchmarks/step_breakdown.py Skiing --obs objects --unpinned   # envpool threads unbound
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Pieces in print order.
PIECES = ("emulator", "extraction", "contacts", "gates", "features", "env other", "shaping",
          "normalise", "policy", "update", "other")


class Timers:
    """Exclusive wall time per piece: a piece's time excludes the pieces it calls."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self._stack: list[list] = []  # [name, start, time in children]

    def wrap(self, owner, name: str, piece: str) -> None:
        """Time ``owner.name`` (a class or instance attribute) as ``piece``."""
        fn = getattr(owner, name)

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            self._stack.append([piece, time.perf_counter(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                _, start, children = self._stack.pop()
                spent = time.perf_counter() - start
                self.total[piece] += spent - children
                if self._stack:
                    self._stack[-1][2] += spent

        setattr(owner, name, timed)


def instrument(timers: Timers) -> None:
    """Wrap the pieces of a training step, before the run builds anything."""
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.common.vec_env import VecNormalize

    import envs.fast.batched as batched
    import envs.fast.envpool_vec as ev
    from envs.fast.swept import StepPassDetector, SweptDetector
    from envs.slots import SlotEncoder
    from reward_shaping.wrappers import ManualRewardVecEnv

    timers.wrap(ev.EnvpoolAtari, "step", "env other")
    timers.wrap(batched.BatchedExtractor, "update", "extraction")
    timers.wrap(batched.FallbackExtractor, "update", "extraction")
    timers.wrap(SweptDetector, "update", "contacts")
    timers.wrap(StepPassDetector, "update", "gates")
    timers.wrap(StepPassDetector, "derive", "gates")
    timers.wrap(SlotEncoder, "encode", "features")
    timers.wrap(ManualRewardVecEnv, "step_wait", "shaping")
    timers.wrap(VecNormalize, "step_wait", "normalise")
    timers.wrap(ActorCriticPolicy, "forward", "policy")
    timers.wrap(OnPolicyAlgorithm, "learn", "other")
    timers.wrap(OffPolicyAlgorithm, "learn", "other")
    import agents.algorithms.registry  # noqa: F401  (rnr's algorithms, to wrap their train())

    for cls in {c for c in _subclasses(BaseAlgorithm) if "train" in vars(c)}:
        timers.wrap(cls, "train", "update")

    # envpool's C++ step: its gymnasium env's step, wrapped where the engine builds it.
    build = ev.EnvpoolAtari._build

    def timed_build(self, seeds):
        build(self, seeds)
        timers.wrap(self._pool, "step", "emulator")
        timers.wrap(self._pool, "reset", "emulator")

    ev.EnvpoolAtari._build = timed_build


def _subclasses(cls) -> set:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _subclasses(sub)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("game", nargs="?", default="Skiing")
    p.add_argument("--algo", default="a2c")
    p.add_argument("--obs", default="objects", choices=["pixels", "objects"])
    p.add_argument("--shaping", default="manual", choices=["manual", "none"])
    p.add_argument("--steps", type=int, default=40_000, help="environment steps")
    p.add_argument("--n-envs", type=int, help="environments (default: the preset's)")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch intra-op threads (agents.train's --torch-threads)")
    p.add_argument("--env-backend", default="envpool", choices=["envpool", "gymnasium"])
    p.add_argument("--unpinned", action="store_true",
                   help="leave envpool's threads unbound (agents.train binds them to the "
                   "run's cores where it owns them all)")
    p.add_argument("--json", type=Path, help="also write the breakdown here")
    args = p.parse_args()
    # Too short a run measures start-up, not steps.
    if args.steps < 1000:
        p.error("--steps must be >= 1000")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    timers = Timers()
    instrument(timers)
    if args.unpinned:
        import envs.fast.envpool_vec as ev

        init = ev.EnvpoolAtari.__init__

        def unpinned(self, *a, **kw):
            init(self, *a, **{**kw, "pin_threads": False})

        ev.EnvpoolAtari.__init__ = unpinned
    from agents import train

    with tempfile.TemporaryDirectory() as tmp:
        argv = [args.game, "--algo", args.algo, "--obs", args.obs, "--shaping", args.shaping,
                "--steps", str(args.steps), "--eval-episodes", "0", "--no-progress",
                "--save-every", str(10 * args.steps), "--env-backend", args.env_backend,
                "--torch-threads", str(args.torch_threads), "--out", f"{tmp}/run",
                "--no-game-defaults"]
        if args.n_envs:
            argv += ["--n-envs", str(args.n_envs)]
        if train.main(argv) != 0:
            raise SystemExit("the training run failed")
        summary = json.loads(Path(tmp, "run", "summary.json").read_text())
    steps = summary["steps"]
    loop = sum(timers.total.values())
    rows = [(k, timers.total.get(k, 0.0)) for k in PIECES]
    print(f"\n{args.game} {args.algo}, obs {args.obs}, shaping {args.shaping}, {args.env_backend}, "
          f"{steps} steps, {summary['steps_per_s']:.0f} steps/s (summary), "
          f"torch threads {args.torch_threads}, envpool threads "
          f"{'unbound' if args.unpinned else 'bound where the run owns its cores'}, "
          f"{platform.node()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d')}")
    print("| piece | us per env-step | share |\n|---|---|---|")
    for name, t in rows:
        print(f"| {name} | {1e6 * t / steps:.1f} | {100 * t / loop:.1f}% |")
    print(f"| total | {1e6 * loop / steps:.1f} | 100% |")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)},
                                         "steps": steps, "steps_per_s": summary["steps_per_s"],
                                         "seconds": dict(rows)}, indent=1))


if __name__ == "__main__":
    main()
