"""Benchmark sweeps: games x algorithms x shaping x seeds, resumable, local or on Ray.

``python -m agents.sweep CONFIG [--dir SWEEP_DIR] [--backend local|ray]``

Every run is an ordinary ``agents.train`` run in ``SWEEP_DIR/runs/<game>-<algo>-<shaping>-s<seed>``,
started as its own process.  Rerunning a sweep skips finished runs (they have a
``summary.json`` for the target steps), resumes interrupted ones from their
checkpoints and starts the rest, so a finished result is never redone or lost.
At the end ``results.csv`` aggregates every finished run (see :mod:`agents.report`
for plots and a Markdown report).

A config (YAML)::

    name: tiny
    games: [Skiing, Pong]
    algos:                       # default [a2c]; an entry may be a named variant
      - a2c
      - {name: a2c_hl_gauss, algo: a2c, train: {value_head: hl_gauss}}
      - {name: a2c_potential, algo: a2c, shaping: [manual],   # only these shaping modes
         train: {shaping_mode: potential}}
    shaping: [manual, none]      # default [manual, none]
    seeds: [0, 1]
    steps: 300
    train:                       # extra agents.train options, for every run
      n_envs: 2
      eval_episodes: 1
    overrides:                   # per-run changes; every matching entry applies, in order
      - match: {game: Skiing}
        steps: 400
        train: {max_episode_frames: 4000}
    resources: {cpus: 1, gpus: 0}   # per run (pool size, Ray requests)

A variant's ``name`` stands for it everywhere the algorithm's name would: in
run names, ``overrides`` matches, ``--only`` and the ``algo`` column of
``results.csv``; its ``shaping`` (a subset of the sweep's) limits the modes it runs
with.  ``shaping_mode`` and ``normalize_by`` reach manual runs only.  ``--only KEY=VALUE[,VALUE]`` (repeatable) runs a subset, e.g.
the runs one GPU window can finish; the others are left as they are.

Example:
    >>> from agents.sweep import parse_config
    >>> cfg = parse_config({"games": ["Pong"], "seeds": [0, 1], "steps": 100})
    >>> [r.name for r in cfg.runs()]
    ['Pong-a2c-manual-s0', 'Pong-a2c-manual-s1', 'Pong-a2c-none-s0', 'Pong-a2c-none-s1']
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.cli import HelpFormatter
from agents.health import flags_field
from agents.runlogs import EPISODES, has_log, open_log
from agents.runs import READERS
from reward_shaping.wrappers import SHAPING_MODES

RESULT_FIELDS = ["game", "algo", "shaping", "seed", "obs", "reward_processing", "steps",
                 "frames", "final_score", "final_score_std", "final_score_mode", "best_score",
                 "human_normalized", "flags", "wall_time_s", "steps_per_s", "run_dir"]

#: agents.train options a sweep may set (name -> type); anything else is a config error.
TRAIN_OPTIONS: dict[str, type] = {
    "n_envs": int, "eval_episodes": int, "eval_mode": str, "eval_deterministic": bool,
    "max_episode_frames": int,
    "vec_env": str, "env_backend": str, "device": str, "save_every": int, "aux_scale": float,
    "anneal_steps": int, "final_weight": float, "config": str, "manual": str, "overrides": str,
    "value_head": str, "shaping_mode": str, "normalize_by": str, "obs": str, "obs_stack": int,
    "reward_processing": str, "torch_threads": int, "negative_ramp": int,
    "proximity_radius": float, "pay_cap": int, "penalty_veto": int, "reader": str,
    "life_penalty": float,
}
#: Allowed values of the string options that have a fixed set (checked before anything runs).
TRAIN_CHOICES: dict[str, tuple[str, ...]] = {
    "vec_env": ("auto", "dummy", "subproc"), "env_backend": ("auto", "envpool", "gymnasium"),
    "value_head": ("scalar", "hl_gauss"), "shaping_mode": SHAPING_MODES,
    "eval_mode": ("auto", "greedy", "sampled"),
    "normalize_by": ("shaped", "game"), "obs": ("pixels", "objects"),
    "reward_processing": ("auto", "sign", "normalize", "raw"), "reader": READERS,
}
#: Options that mean something only with manual shaping: left out of ``shaping: none`` runs,
#: so one ``train`` section serves both arms.
SHAPING_ONLY = ("shaping_mode", "normalize_by", "negative_ramp", "proximity_radius", "pay_cap",
                "penalty_veto", "reader")
#: What ``overrides[].match`` and ``--only`` select runs by.
MATCH_KEYS = ("game", "algo", "shaping", "seed")
TOP_KEYS = {"name", "games", "algos", "shaping", "seeds", "steps", "train", "overrides",
            "resources"}


class SweepConfigError(ValueError):
    """The sweep config is invalid; nothing has been started."""


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep (``arm``: the variant's name, or the algorithm's)."""

    game: str
    algo: str
    shaping: str
    seed: int
    steps: int
    train: tuple[tuple[str, Any], ...] = ()
    arm: str = ""

    def __post_init__(self) -> None:
        if not self.arm:
            object.__setattr__(self, "arm", self.algo)

    @property
    def name(self) -> str:
        return f"{self.game.replace('/', '_')}-{self.arm}-{self.shaping}-s{self.seed}"

    def facts(self) -> dict[str, Any]:
        """What ``match`` and ``--only`` see: the arm's name as ``algo``."""
        return {"game": self.game, "algo": self.arm, "shaping": self.shaping, "seed": self.seed}

    def command(self, run_dir: Path) -> list[str]:
        """The ``agents.train`` command that starts, resumes or (if done) re-evaluates nothing."""
        base = [sys.executable, "-m", "agents.train"]
        if (run_dir / "config.yaml").exists():
            return [*base, "--resume", str(run_dir), "--steps", str(self.steps), "--no-progress"]
        # --no-game-defaults: the sweep's config alone says what each run does (a game's
        # measured defaults, agents/game_defaults.py, are for a bare agents.train GAME).
        cmd = [*base, self.game, "--algo", self.algo, "--shaping", self.shaping,
               "--seed", str(self.seed), "--steps", str(self.steps), "--out", str(run_dir),
               "--no-progress", "--no-game-defaults"]
        for key, value in self.train:
            if self.shaping == "none" and key in SHAPING_ONLY:
                continue
            flag = "--" + key.replace("_", "-")
            if isinstance(value, bool):
                cmd += [flag] if value else []
            else:
                cmd += [flag, str(value)]
        return cmd


@dataclass
class SweepConfig:
    """A validated sweep config (``algos``: arm names; ``variants``: name -> (algo, train);
    ``arm_shaping``: the shaping modes a variant is limited to)."""

    name: str
    games: list[str]
    algos: list[str]
    shaping: list[str]
    seeds: list[int]
    steps: int
    train: dict[str, Any] = field(default_factory=dict)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    cpus: float = 1.0
    gpus: float = 0.0
    variants: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    arm_shaping: dict[str, list[str]] = field(default_factory=dict)

    def runs(self) -> list[RunSpec]:
        out = []
        for game, arm, shaping, seed in itertools.product(self.games, self.algos, self.shaping,
                                                         self.seeds):
            if shaping not in self.arm_shaping.get(arm, self.shaping):
                continue
            algo, arm_train = self.variants.get(arm, (arm, {}))
            steps, train = self.steps, dict(self.train, **arm_train)
            facts = {"game": game, "algo": arm, "shaping": shaping, "seed": seed}
            for ov in self.overrides:
                if all(facts.get(k) == v for k, v in ov.get("match", {}).items()):
                    steps = ov.get("steps", steps)
                    train.update(ov.get("train", {}))
            if train.get("eval_deterministic") and "eval_mode" in train:
                # agents.train takes one of the two: the run would fail when it starts.
                raise SweepConfigError(f"{game} {arm}: eval_deterministic and eval_mode are "
                                       "both set; keep eval_mode")
            out.append(RunSpec(game, algo, shaping, seed, steps, tuple(sorted(train.items())),
                               arm))
        return out


def select(specs: list[RunSpec], only: list[str]) -> list[RunSpec]:
    """The runs matching every ``KEY=VALUE[,VALUE...]`` of ``only`` (keys: :data:`MATCH_KEYS`).

    Raises:
        SweepConfigError: a malformed filter, an unknown key, or a value no run has
            (a typo would otherwise silently select nothing).

    Example:
        >>> cfg = parse_config({"games": ["Pong"], "seeds": [0, 1], "steps": 100})
        >>> [r.name for r in select(cfg.runs(), ["seed=1", "shaping=none,manual"])]
        ['Pong-a2c-manual-s1', 'Pong-a2c-none-s1']
    """
    wanted: dict[str, set[str]] = {}
    for item in only:
        key, sep, values = item.partition("=")
        if not sep or key not in MATCH_KEYS or not values:
            raise SweepConfigError(f"--only takes KEY=VALUE[,VALUE...] with KEY one of "
                                   f"{', '.join(MATCH_KEYS)}; got {item!r}")
        wanted.setdefault(key, set()).update(v.strip() for v in values.split(","))
    for key, values in wanted.items():
        known = {str(s.facts()[key]) for s in specs}
        if values - known:
            raise SweepConfigError(f"--only {key}: no run has {', '.join(sorted(values - known))}; "
                                   f"this sweep has {', '.join(sorted(known))}")
    return [s for s in specs if all(str(s.facts()[k]) in v for k, v in wanted.items())]


def _list(data: dict, key: str, default: list | None, kind: type) -> list:
    value = data.get(key, default)
    if value is None:
        raise SweepConfigError(f"missing key {key!r}")
    if not isinstance(value, list) or not value:
        raise SweepConfigError(f"{key!r} must be a non-empty list, got {value!r}")
    if not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
        raise SweepConfigError(f"every entry of {key!r} must be a {kind.__name__}: {value!r}")
    if len(set(value)) != len(value):
        raise SweepConfigError(f"{key!r} lists an entry twice: {value!r}")
    return value


def _steps(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
            or value < 1:
        raise SweepConfigError(f"{where} must be a whole number >= 1, got {value!r}")
    return int(value)


def _train_options(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SweepConfigError(f"{where} must be a mapping of agents.train options")
    for key, v in value.items():
        if key not in TRAIN_OPTIONS:
            raise SweepConfigError(f"{where}: unknown agents.train option {key!r}; "
                                   f"known: {', '.join(sorted(TRAIN_OPTIONS))}")
        kind = TRAIN_OPTIONS[key]
        ok = isinstance(v, kind) or (kind is float and isinstance(v, int))
        if not ok or (kind is not bool and isinstance(v, bool)):
            raise SweepConfigError(f"{where}.{key} must be of type {kind.__name__}, got {v!r}")
        if key in TRAIN_CHOICES and v not in TRAIN_CHOICES[key]:
            raise SweepConfigError(f"{where}.{key} must be one of "
                                   f"{', '.join(TRAIN_CHOICES[key])}, got {v!r}")
    return dict(value)


def parse_config(data: Any, origin: str = "config") -> SweepConfig:
    """Validate a loaded YAML mapping; every problem is reported before anything runs.

    Raises:
        SweepConfigError: unknown or missing keys, unknown games or algorithms,
            bad shaping modes, steps, seeds or train options, or options a run cannot
            take together.
    """
    from agents.algorithms.registry import ALGOS
    from agents.environments import resolve_target
    from envs.games import UnknownGameError

    if not isinstance(data, dict):
        raise SweepConfigError(f"{origin} must be a YAML mapping")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise SweepConfigError(f"{origin}: unknown key(s) {', '.join(sorted(unknown))}; "
                               f"known: {', '.join(sorted(TOP_KEYS))}")
    games = _list(data, "games", None, str)
    algos, variants, arm_shaping = _arms(data.get("algos", ["a2c"]))
    shaping = _list(data, "shaping", ["manual", "none"], str)
    for arm, modes in arm_shaping.items():
        # A variant picks among the sweep's modes; anything else is a typo or a run no
        # other arm can be compared with.
        if set(modes) - set(shaping):
            raise SweepConfigError(f"variant {arm}: shaping {modes} is not within the sweep's "
                                   f"{shaping}")
    seeds = _list(data, "seeds", None, int)
    if "steps" not in data:
        raise SweepConfigError("missing key 'steps'")
    steps = _steps(data["steps"], "steps")
    for algo in [variants.get(a, (a, {}))[0] for a in algos]:
        if algo not in ALGOS:
            raise SweepConfigError(f"unknown algorithm {algo!r}; available: {', '.join(sorted(ALGOS))}")
    for mode in shaping:
        if mode not in ("manual", "none"):
            raise SweepConfigError(f"shaping must be manual or none, got {mode!r}")
    for game in games:
        try:
            target = resolve_target(game)
        except UnknownGameError as err:
            raise SweepConfigError(str(err)) from None
        if "manual" in shaping and not target.atari:
            raise SweepConfigError(f"{game} has no object detector: manual shaping needs an "
                                   "Atari game (use shaping: [none])")
    train = _train_options(data.get("train"), "train")
    overrides = data.get("overrides") or []
    if not isinstance(overrides, list):
        raise SweepConfigError("overrides must be a list of {match, steps, train}")
    for i, ov in enumerate(overrides):
        where = f"overrides[{i}]"
        if not isinstance(ov, dict) or set(ov) - {"match", "steps", "train"}:
            raise SweepConfigError(f"{where} must have only match, steps and train")
        match = ov.get("match", {})
        if not isinstance(match, dict) or set(match) - set(MATCH_KEYS):
            raise SweepConfigError(f"{where}.match may only name {', '.join(MATCH_KEYS)}")
        if "steps" in ov:
            _steps(ov["steps"], f"{where}.steps")
        _train_options(ov.get("train"), f"{where}.train")
    res = data.get("resources") or {}
    if not isinstance(res, dict) or set(res) - {"cpus", "gpus"}:
        raise SweepConfigError("resources may only set cpus and gpus (per run)")
    cpus, gpus = res.get("cpus", 1), res.get("gpus", 0)
    if not isinstance(cpus, (int, float)) or cpus <= 0 or not isinstance(gpus, (int, float)) \
            or gpus < 0:
        raise SweepConfigError(f"resources: cpus must be > 0 and gpus >= 0, got {res!r}")
    name = str(data.get("name", Path(origin).stem))
    config = SweepConfig(name, games, algos, shaping, seeds, steps, train, overrides,
                         float(cpus), float(gpus), variants, arm_shaping)
    config.runs()  # each run's merged options must go together
    return config


def _arms(value: Any) -> tuple[list[str], dict[str, tuple[str, dict[str, Any]]],
                               dict[str, list[str]]]:
    """``algos`` entries: algorithm names, or ``{name, algo, train, shaping}`` variants
    (``shaping``: the sweep's modes this variant runs with; default all)."""
    if not isinstance(value, list) or not value:
        raise SweepConfigError(f"'algos' must be a non-empty list, got {value!r}")
    names, variants, arm_shaping = [], {}, {}
    for i, entry in enumerate(value):
        if isinstance(entry, str):
            names.append(entry)
            continue
        where = f"algos[{i}]"
        if not isinstance(entry, dict) or set(entry) - {"name", "algo", "train", "shaping"} \
                or not {"name", "algo"} <= set(entry):
            raise SweepConfigError(f"{where} must be an algorithm name or a mapping with name, "
                                   "algo and (optionally) train and shaping")
        name, algo = entry["name"], entry["algo"]
        # The name becomes part of run directory names.
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.+]+", name):
            raise SweepConfigError(f"{where}.name must be letters, digits, _ . + only, got {name!r}")
        if not isinstance(algo, str):
            raise SweepConfigError(f"{where}.algo must be an algorithm name, got {algo!r}")
        names.append(name)
        variants[name] = (algo, _train_options(entry.get("train"), f"{where}.train"))
        if "shaping" in entry:
            arm_shaping[name] = _list(entry, "shaping", None, str)
    if len(set(names)) != len(names):
        raise SweepConfigError(f"'algos' lists a name twice: {names!r}")
    return names, variants, arm_shaping


def load_config(path: Path) -> SweepConfig:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise SweepConfigError(f"cannot read sweep config {path}: {err}") from None
    return parse_config(data, str(path))


def run_state(spec: RunSpec, run_dir: Path) -> str:
    """``done``, ``resume``, ``restart`` (started but no checkpoint yet) or ``new``."""
    summary = run_dir / "summary.json"
    if summary.exists():
        try:
            if json.loads(summary.read_text())["steps"] >= spec.steps:
                return "done"
        except (ValueError, KeyError, OSError):
            pass
    if (run_dir / "config.yaml").exists():
        return "resume" if (run_dir / "checkpoints" / "LATEST").exists() else "restart"
    return "new"


def execute_run(spec: RunSpec, sweep_dir: str, cpus: float,
                cores: list[int] | None = None) -> dict[str, Any]:
    """Bring one run to its target (start, resume or nothing); its summary.

    Used by both executors (on a Ray worker too), so the start/resume decision
    is taken when the run actually starts, and a retried task resumes.
    ``cores``: the CPU cores the run may use (the local executor gives each
    concurrent run its own, so their envpool threads can be bound to them).

    Raises:
        RuntimeError: the training process failed or was stopped.
    """
    run_dir = Path(sweep_dir) / "runs" / spec.name
    state = run_state(spec, run_dir)
    if state == "restart":
        # Killed before its first checkpoint: nothing to keep.
        shutil.rmtree(run_dir)
    if state != "done":
        log = Path(sweep_dir) / "logs" / f"{spec.name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, OMP_NUM_THREADS=str(max(1, int(cpus))), HF_HUB_OFFLINE="1")
        root = Path(__file__).resolve().parents[1]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {state}\n")
            f.flush()
            proc = subprocess.Popen(spec.command(run_dir), stdout=f, stderr=subprocess.STDOUT,
                                    env=env, cwd=root)
            if cores:
                # Set before the run builds its threads (seconds of imports later), which
                # inherit it; a preexec_fn would be unsafe in this threaded executor.
                os.sched_setaffinity(proc.pid, cores)
            returncode = proc.wait()
        if returncode != 0:
            raise RuntimeError(f"{spec.name} exited with status {returncode}; see {log}")
    return json.loads((run_dir / "summary.json").read_text())


def _best_score(run_dir: Path, bins: int = 20) -> float | None:
    if not has_log(run_dir, EPISODES):
        return None
    with open_log(run_dir, EPISODES) as f:
        eps = [(int(r["step"]), float(r["score"])) for r in csv.DictReader(f)]
    if not eps:
        return None
    width = max(1, max(s for s, _ in eps) // bins + 1)
    groups: dict[int, list[float]] = {}
    for step, score in eps:
        groups.setdefault(step // width, []).append(score)
    return max(sum(v) / len(v) for v in groups.values())


def final_score_mode(summary: dict[str, Any]) -> str:
    """How a run's final score was played: ``greedy`` or ``sampled`` evaluation actions, or
    ``training`` (no evaluation: its last 100 training episodes, the policy as it explores).

    Example:
        >>> final_score_mode({"eval": {"deterministic": True}}), final_score_mode({"eval": None})
        ('greedy', 'training')
    """
    ev = summary.get("eval")
    if not ev:
        return "training"
    return "greedy" if ev["deterministic"] else "sampled"


def collect_results(cfg: SweepConfig, sweep_dir: Path) -> list[dict[str, Any]]:
    """One row per finished run (``results.csv``), in config order."""
    from agents.scores import human_normalized

    rows = []
    for spec in cfg.runs():
        run_dir = sweep_dir / "runs" / spec.name
        if run_state(spec, run_dir) != "done":
            continue
        s = json.loads((run_dir / "summary.json").read_text())
        ev = s.get("eval") or {}
        final = ev.get("mean", s.get("train_score_last100"))
        comparable = ev.get("human_normalized") is not None
        rows.append({
            "game": s["game"], "algo": spec.arm, "shaping": s["shaping"], "seed": s["seed"],
            "obs": s.get("obs"), "reward_processing": s.get("reward_processing"),
            "steps": s["steps"], "frames": s["frames"], "final_score": final,
            "final_score_std": ev.get("std"), "final_score_mode": final_score_mode(s),
            "best_score": _best_score(run_dir),
            "human_normalized": human_normalized(s["game"], final)
            if comparable and final is not None else None,
            # Stall, hacking, farming (agents.health); runs before the checks have none.
            "flags": flags_field(s.get("health")),
            "wall_time_s": s["wall_time_s"], "steps_per_s": s["steps_per_s"],
            "run_dir": str(run_dir.relative_to(sweep_dir)),
        })
    return rows


def write_results(rows: list[dict[str, Any]], path: Path) -> None:
    from reward_shaping.table import atomic_write_text

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=RESULT_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def run_local(cfg: SweepConfig, specs: list[RunSpec], sweep_dir: Path, workers: int) -> list[str]:
    failures = []
    free = _core_sets(workers, cfg.cpus)

    def run(spec: RunSpec) -> dict[str, Any]:
        cores = free.get() if free else None
        try:
            return execute_run(spec, str(sweep_dir), cfg.cpus, cores)
        finally:
            if free:
                free.put(cores)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run, s): s for s in specs}
        for i, fut in enumerate(as_completed(futures), 1):
            spec = futures[fut]
            try:
                s = fut.result()
                print(f"[{i}/{len(specs)}] {spec.name}: done, {s['steps']:,} steps", flush=True)
            except RuntimeError as err:
                failures.append(str(err))
                print(f"[{i}/{len(specs)}] FAILED {err}", flush=True)
    return failures


def _core_sets(workers: int, cpus: float) -> queue.Queue | None:
    """Disjoint sets of ``cpus`` cores each, one per concurrent run, or ``None`` for a single
    worker or where this machine cannot give every run its own (then runs share all cores,
    unbound)."""
    # One run has no sibling to keep apart from; binding it to the first cores would pile
    # two one-worker sweeps started side by side onto the same core while the others idle
    # (seen: two such sweeps, both runs on core 0 of 2).
    if workers <= 1 or not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    size = max(1, int(cpus))
    if workers * size > len(allowed):
        return None
    free: queue.Queue = queue.Queue()
    for k in range(workers):
        free.put(allowed[k * size:(k + 1) * size])
    return free


def run_ray(cfg: SweepConfig, specs: list[RunSpec], sweep_dir: Path, address: str | None,
            retries: int) -> list[str]:
    try:
        import ray
    except ImportError:
        raise SweepConfigError("the ray backend needs Ray: pip install 'rnr[ray]'") from None
    if address:
        ray.init(address=address, ignore_reinit_error=True)
    else:
        ray.init(include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    remote = ray.remote(execute_run).options(
        num_cpus=cfg.cpus, num_gpus=cfg.gpus, max_retries=retries, retry_exceptions=True)
    refs = {remote.remote(s, str(sweep_dir.resolve()), cfg.cpus): s for s in specs}
    failures, pending, done = [], list(refs), 0
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        spec = refs[ready[0]]
        done += 1
        try:
            s = ray.get(ready[0])
            print(f"[{done}/{len(specs)}] {spec.name}: done, {s['steps']:,} steps", flush=True)
        except Exception as err:  # a task that failed after all retries
            failures.append(f"{spec.name}: {err}")
            print(f"[{done}/{len(specs)}] FAILED {spec.name} after {retries + 1} attempts",
                  flush=True)
    ray.shutdown()
    return failures


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m agents.sweep",
        description="Run a benchmark sweep (games x algos x shaping x seeds) of agents.train "
        "runs; rerun the same command to continue an interrupted sweep.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("config", type=Path, help="sweep YAML (see agents/sweeps/)")
    p.add_argument("--dir", type=Path, help="sweep directory (default sweeps/<name>)")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local subprocesses, or Ray tasks on a cluster")
    p.add_argument("--workers", type=int, help="local: runs at a time (default: cores / cpus "
                   "per run)")
    p.add_argument("--address", help="ray: cluster address (default: start a local Ray)")
    p.add_argument("--retries", type=int, default=2, help="ray: retries of a failed run")
    p.add_argument("--only", action="append", default=[], metavar="KEY=VALUE[,VALUE]",
                   help="run only the runs with these game / algo / shaping / seed values "
                   "(repeatable; every key must match), e.g. --only seed=0")
    p.add_argument("--dry-run", action="store_true", help="list the runs and their state only")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (1 if any run failed)."""
    args = _parse(argv)
    try:
        cfg = load_config(args.config)
        if args.workers is not None and args.workers < 1:
            raise SweepConfigError("--workers must be >= 1")
        specs = select(cfg.runs(), args.only)
    except SweepConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sweep_dir = args.dir or Path("sweeps") / cfg.name
    states = {s.name: run_state(s, sweep_dir / "runs" / s.name) for s in specs}
    counts = {k: sum(v == k for v in states.values()) for k in ("done", "resume", "restart", "new")}
    chosen = f" (--only: {len(specs)} of {len(cfg.runs())})" if args.only else ""
    print(f"sweep {cfg.name}: {len(specs)} runs{chosen} in {sweep_dir} "
          f"({counts['done']} done, {counts['resume']} to resume, "
          f"{counts['new'] + counts['restart']} to start)", flush=True)
    if args.dry_run:
        for s in specs:
            print(f"  {s.name:<40} {states[s.name]:<8} {s.steps:,} steps")
        return 0
    sweep_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.config, sweep_dir / "sweep.yaml")  # the config this sweep last ran
    todo = [s for s in specs if states[s.name] != "done"]
    try:
        if args.backend == "local":
            workers = args.workers or max(1, int((os.cpu_count() or 1) // cfg.cpus))
            failures = run_local(cfg, todo, sweep_dir, workers)
        else:
            failures = run_ray(cfg, todo, sweep_dir, args.address, args.retries)
    except SweepConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C reaches the runs too (one process group): each saves a checkpoint.  Keep
        # the table of the finished ones; the same command resumes the rest.
        rows = collect_results(cfg, sweep_dir)
        write_results(rows, sweep_dir / "results.csv")
        print(f"\ninterrupted: {len(rows)}/{len(cfg.runs())} runs finished (table: "
              f"{sweep_dir / 'results.csv'}); rerun the same command to resume the rest",
              file=sys.stderr)
        return 130
    rows = collect_results(cfg, sweep_dir)
    write_results(rows, sweep_dir / "results.csv")
    print(f"{len(rows)}/{len(cfg.runs())} runs finished; table: {sweep_dir / 'results.csv'}; "
          f"report: python -m agents.report {sweep_dir}")
    if failures:
        print("failed runs (rerun the sweep to resume them):\n  " + "\n  ".join(failures),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
