"""Digest of the fast path over a fixed random-action run, to compare installs.

Steps ``envs.fast.envpool_vec.EnvpoolAtari`` (envpool's emulation and
preprocessing, rnr's batched object extractor and per-step contact detectors)
with sticky actions and no-op starts off and a fixed action sequence (NumPy's
legacy ``RandomState``, whose stream no NumPy release changes), and hashes per
step every observation, reward, episode end, the extracted objects and the
interaction events; with ``--obs objects`` too, the slot vectors an object-observing
agent sees.  The digest must be the same on every install: compare one taken under
NumPy 1 with one under NumPy 2 (the GPU machine has NumPy 2.5, rnr pins NumPy < 2
for OCAtari's sake), or this machine's with the GPU machine's.

``--reference FILE`` compares against digests written earlier with ``--json`` and
exits 1 on a mismatch.

Usage::

    python benchmarks/gpu/fastpath_digest.py Skiing MsPacman --steps 500 --json d.json
    python benchmarks/gpu/fastpath_digest.py --reference benchmarks/gpu/fastpath_digests.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
GAMES = ("Skiing", "MsPacman", "Freeway", "Seaquest", "Breakout")


def digest(game: str, steps: int, obs: str = "pixels", num_envs: int = 4, seed: int = 1) -> str:
    """The fast path's digest for one game: 16 hex digits."""
    sys.path.insert(0, str(ROOT))  # this checkout's envs, not an installed copy's
    from envs.fast.envpool_vec import EnvpoolAtari

    pool = EnvpoolAtari(game, num_envs, noop_max=0, sticky_actions=0.0, num_threads=1,
                        same_step_reset=True, obs=obs, objects_in_info=True)
    rng = np.random.RandomState(seed)
    h = hashlib.sha256()

    def put(arr) -> None:
        a = np.ascontiguousarray(arr)
        h.update(str(a.dtype.kind).encode() + str(a.shape).encode() + a.tobytes())

    try:
        put(pool.reset(seed=seed))
        n_actions = int(pool.action_space.n)
        for _ in range(steps):
            b = pool.step(rng.randint(n_actions, size=num_envs).astype(np.int64))
            for arr in (b.obs, b.reward.astype(np.float64), b.game_reward, b.terminated,
                        b.truncated, b.ram, b.steps):
                put(arr)
            if b.objects is not None:
                for arr in (b.objects.category, b.objects.instance, b.objects.box,
                            b.objects.motion):
                    put(np.asarray(arr, dtype=np.int64))
            for env_events in b.events or []:
                for e in env_events:
                    h.update(repr((e.step, e.frame, e.category, e.instance, e.kind,
                                   tuple(int(v) for v in e.avatar_box),
                                   tuple(int(v) for v in e.object_box))).encode())
            for i in sorted(b.episodes):
                score, length, _start = b.episodes[i]
                h.update(repr((i, float(score), int(length))).encode())
    finally:
        pool.close()
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns 1 when a digest differs from ``--reference``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("games", nargs="*", help=f"games (default: {' '.join(GAMES)}, or the "
                                            "reference's)")
    p.add_argument("--steps", type=int, default=300, help="agent steps per game (default 300)")
    p.add_argument("--obs", nargs="+", default=["pixels", "objects"],
                   choices=["pixels", "objects"], help="observation kinds (default: both)")
    p.add_argument("--json", type=Path, help="write the digests here")
    p.add_argument("--reference", type=Path,
                   help="digests written earlier with --json: take its games and steps and "
                        "exit 1 where one differs")
    args = p.parse_args(argv)
    ref = json.loads(args.reference.read_text()) if args.reference else None
    games = args.games or (list(ref["digests"]) if ref else list(GAMES))
    steps = ref["steps"] if ref else args.steps
    obs_kinds = ref["obs"] if ref else args.obs
    out = {"numpy": np.__version__, "python": sys.version.split()[0], "steps": steps,
           "obs": obs_kinds, "digests": {}}
    bad = []
    for game in games:
        out["digests"][game] = {}
        for kind in obs_kinds:
            d = digest(game, steps, kind)
            out["digests"][game][kind] = d
            want = ref["digests"].get(game, {}).get(kind) if ref else None
            verdict = "" if want is None else ("  same" if want == d else f"  DIFFERS from {want}")
            if want is not None and want != d:
                bad.append(f"{game}/{kind}")
            print(f"{game:<10} {kind:<8} {d}{verdict}", flush=True)
    print(f"numpy {np.__version__}, python {out['python']}, {steps} steps x 4 envs per game")
    if args.json:
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps(out, indent=1) + "\n")
        os.replace(tmp, args.json)
    if bad:
        print(f"differs from {args.reference}: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
