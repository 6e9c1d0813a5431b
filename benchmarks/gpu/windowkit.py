"""What every GPU window script shares: plan, calibrate, run sweeps to a deadline, pack $OUT.

A window is one command on a lent GPU machine that must end inside 9.5 minutes
and bring back at most 8 files of 16 MiB (``$OUT``, see ``benchmarks/gpu/README.md``).
Each window script (``window1.py``, ``window2.py``, ``window3.py``) builds a
:class:`Window` and calls :func:`main`, which

1. records the machine (Python, NumPy, torch, the GPU, cores);
2. optionally checks the fast path against the digests taken here
   (``fastpath_digest.py --reference``) and measures training throughput
   (``benchmarks/train_throughput.py``);
3. runs each :class:`Stage`: its sweeps (``python -m agents.sweep``) side by side,
   first for a **calibration** of ``calibrate_s`` seconds (every run started with an
   unreachable step target, stopped with SIGINT: each prints ``stopped at step N``),
   which gives each run's training rate and start-up time; then for real, every
   arm's step target set so that start-up, training and the final evaluation end
   before the stage's deadline (the slowest run of an arm sets the arm's steps, and
   arms that are compared, the ``group`` of the sweep, get the same).  A sweep still
   running at the deadline is stopped with SIGINT (its runs checkpoint, finished ones
   stay in ``results.csv``); then ``python -m agents.report`` writes its report;
4. packs ``$OUT``: ``window.log`` (everything printed), ``window.json`` (plan,
   machine, calibration, step targets, each command's exit status and time, every
   finished run's summary), ``runs.tar.gz`` (each sweep's runs without checkpoints,
   logs, ``results.csv`` and report), ``report-<sweep>.md``, and the window's own
   files (``throughput.json``, ``digest.json``); never more than 8, each under 16 MiB.

``--dry-run`` does the same on this machine at a tiny budget (CPU, two envs, seconds
of training): the plan :func:`dry` makes of the window, same code path.

Checkpoints never leave the machine: a window starts from nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
# This checkout's agents (agents.sweep's config parser), not an installed copy's.
sys.path.insert(0, str(ROOT))
#: The device's limits on what comes back (benchmarks/gpu/README.md).
MAX_FILES = 8
MAX_FILE_BYTES = 16 * 2**20
#: A run directory's files that come back (checkpoints are pickles and large: never).
RUN_FILES = ("summary.json", "config.yaml", "progress.csv", "episodes.csv", "reward_table.json")
STOPPED_RE = re.compile(r"stopped at step ([\d,]+)")
#: The line agents.train prints as learning starts (start-up done).
TRAINING_RE = re.compile(r"^training \S+ on ", re.MULTILINE)


#: A dry run's budget (seconds): the stages' part (start-ups dominate it on a 2-core
#: machine), and what the throughput measurement and the digest add where a window has them.
DRY_BUDGET_S = 85.0
DRY_THROUGHPUT_S = 60.0
DRY_DIGEST_S = 10.0


class WindowError(RuntimeError):
    """A window's plan is invalid or its output breaks the device's limits."""


@dataclass
class Sweep:
    """One ``agents.sweep`` config run in a stage.

    Attributes:
        config: The sweep YAML as a dict, without ``steps`` (set by calibration).
        workers: Runs at a time (``--workers``); must cover every run (one wave).
        unit: Step targets are rounded down to a multiple of this.
        min_steps: Below this a sweep is not worth starting (recorded as skipped).
        group: Run facts whose runs get the same step target: ``algo`` gives each arm
            its own (pairs of shaped and unshaped runs of an arm stay equal); ``()``
            one target for the whole sweep.
    """

    config: dict[str, Any]
    workers: int
    unit: int = 10_000
    min_steps: int = 10_000
    group: tuple[str, ...] = ("algo",)

    @property
    def name(self) -> str:
        return self.config["name"]

    def n_runs(self) -> int:
        from agents.sweep import parse_config

        return len(parse_config(dict(self.config, steps=1), self.name).runs())


@dataclass
class Stage:
    """Sweeps run side by side, sharing a deadline.

    Attributes:
        share: Weight of the stage: it takes ``share / (its and the later stages' shares)``
            of the time left when it starts.
        calibrate_s: Seconds of the calibration run.
        eval_reserve_s: Seconds kept for each run's final evaluation and summary.
    """

    name: str
    sweeps: list[Sweep]
    share: float = 1.0
    calibrate_s: float = 75.0
    eval_reserve_s: float = 60.0


@dataclass
class Throughput:
    """``benchmarks/train_throughput.py`` settings (one call per env count)."""

    game: str = "Skiing"
    n_envs: tuple[int, ...] = (16, 64, 256)
    steps: int = 20_480  # 16 updates of A2C at 256 envs (5 steps each)
    device: str = "cuda"
    time_s: float = 150.0


@dataclass
class Window:
    """One window: what it measures and trains, within ``budget_s`` of wall time."""

    number: int
    title: str
    stages: list[Stage]
    throughput: Throughput | None = None
    digest_games: tuple[str, ...] = ()
    budget_s: float = 540.0
    reserve_s: float = 15.0
    stop_grace_s: float = 30.0
    report_s: float = 25.0
    dry_run: bool = False

    def check(self) -> None:
        """Raise :class:`WindowError` where the plan cannot work as a single wave."""
        if any(s.share <= 0 for s in self.stages):
            raise WindowError(f"window {self.number}: every stage needs a positive share")
        for stage in self.stages:
            for sw in stage.sweeps:
                n = sw.n_runs()
                # Calibration measures the runs that start; a second wave would start
                # later than its step target assumes and miss the deadline.
                if sw.workers < n:
                    raise WindowError(f"window {self.number}: sweep {sw.name} has {n} runs "
                                      f"but {sw.workers} workers: every run must start at once")


def dry_budget(window: Window) -> float:
    """A dry run's default budget: :data:`DRY_BUDGET_S`, more with throughput or digest.

    Example:
        >>> dry_budget(Window(0, "t", [], throughput=Throughput(), digest_games=("Pong",)))
        155.0
    """
    return (DRY_BUDGET_S + (DRY_THROUGHPUT_S if window.throughput else 0.0)
            + (DRY_DIGEST_S if window.digest_games else 0.0))


def dry(window: Window, budget_s: float | None = None) -> Window:
    """The same window at a tiny budget on the CPU.

    Every sweep keeps its first game, one seed and its first arms up to two runs (a
    shaped and an unshaped one where the arm has both); two envs, 100-step episodes,
    one evaluation episode, step units of 64, the CPU; the throughput at 2 envs, the
    digest on the first game.
    """
    from agents.sweep import parse_config

    stages = []
    for st in window.stages:
        sweeps = []
        for sw in st.sweeps:
            cfg = json.loads(json.dumps(sw.config))
            cfg["seeds"] = cfg.get("seeds", [0])[:1]
            cfg["games"] = cfg["games"][:1]
            algos = cfg.get("algos", ["a2c"])
            for k in range(1, len(algos) + 1):
                cfg["algos"] = algos[:k]
                if len(parse_config(dict(cfg, steps=1), cfg["name"]).runs()) >= 2:
                    break
            cfg["train"] = dict(cfg.get("train", {}), device="cpu", n_envs=2, eval_episodes=1,
                                max_episode_frames=400, save_every=10**9)
            cfg["resources"] = {"cpus": 1, "gpus": 0}
            sweeps.append(replace(sw, config=cfg, unit=64, min_steps=64))
        stages.append(replace(st, sweeps=sweeps, calibrate_s=25.0, eval_reserve_s=10.0))
    tp = window.throughput and replace(window.throughput, n_envs=(2,), steps=128,
                                       device="cpu", time_s=DRY_THROUGHPUT_S)
    return replace(window, stages=stages, throughput=tp,
                   budget_s=budget_s or dry_budget(window), reserve_s=5.0, stop_grace_s=10.0,
                   report_s=10.0, digest_games=window.digest_games[:1], dry_run=True)


#: Seconds a dry run's report may always take, whatever is left of its budget.
DRY_REPORT_FLOOR_S = 60.0
#: Seconds a dry run's sweeps may always take to finish their minimum runs.
DRY_SWEEP_FLOOR_S = 120.0


class Log:
    """Everything the window prints, to stdout and ``window.log``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.f = open(path, "a", encoding="utf-8")

    def __call__(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        self.f.write(line + "\n")
        self.f.flush()

    def raw(self, text: str) -> None:
        self.f.write(text if text.endswith("\n") else text + "\n")
        self.f.flush()


def machine() -> dict[str, Any]:
    """Python, NumPy, torch and GPU of this machine, and its cores."""
    info: dict[str, Any] = {"python": sys.version.split()[0], "host": platform.node(),
                            "cores": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        info["cores_allowed"] = len(os.sched_getaffinity(0))
    try:
        import numpy

        info["numpy"] = numpy.__version__
    except ImportError:
        info["numpy"] = None
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda"] = torch.cuda.is_available()
        if info["cuda"]:
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        info["torch"] = None
    for mod in ("envpool", "gymnasium", "stable_baselines3", "sb3_contrib", "ale_py"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = None
    return info


def run_cmd(cmd: list[str], log: Log, timeout_s: float, cwd: Path = ROOT) -> dict[str, Any]:
    """Run a command to completion or ``timeout_s`` (then SIGINT, then SIGKILL); its record."""
    t0 = time.time()
    log(f"$ {' '.join(cmd)}  (at most {timeout_s:.0f} s)")
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=max(1.0, timeout_s))
    except subprocess.TimeoutExpired:
        timed_out = True
        out = _stop(proc, 15.0)
    log.raw(out or "")
    rec = {"cmd": cmd, "rc": proc.returncode, "seconds": round(time.time() - t0, 1),
           "timed_out": timed_out}
    log(f"  -> exit {proc.returncode} after {rec['seconds']} s" + (" (timed out)" if timed_out
                                                                   else ""))
    return rec


def _signal(proc: subprocess.Popen, sig: int) -> None:
    """Send ``sig`` to the process's group (it was started in a session of its own)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass  # it ended meanwhile


def _stop(proc: subprocess.Popen, grace_s: float) -> str:
    """SIGINT the process's group (runs checkpoint and stop), SIGKILL after ``grace_s``;
    its output."""
    _signal(proc, signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=grace_s)
    except subprocess.TimeoutExpired:
        _signal(proc, signal.SIGKILL)
        out, _ = proc.communicate()
    return out or ""


def write_sweep(sw: Sweep, path: Path, steps: int | dict[tuple, int]) -> None:
    """The sweep's YAML with a step target: one for all, or one per group (overrides)."""
    cfg = json.loads(json.dumps(sw.config))
    if isinstance(steps, int):
        cfg["steps"] = steps
    else:
        cfg["steps"] = min(steps.values())
        cfg["overrides"] = list(cfg.get("overrides", [])) + [
            {"match": dict(zip(sw.group, key)), "steps": n} for key, n in sorted(steps.items())]
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def run_sweeps(sweeps: list[tuple[Sweep, Path, Path]], log: Log, until: float, grace_s: float,
               poll: bool = False) -> tuple[dict[str, dict], dict[str, float]]:
    """Run ``(sweep, yaml, dir)`` side by side until all end or ``until`` (then SIGINT).

    Returns:
        Each sweep's record (exit status, seconds, stopped) and, with ``poll``, the time
        at which each run (by sweep dir and name) printed its ``training ...`` line.
    """
    procs = {}
    t0 = time.time()
    for sw, cfg, d in sweeps:
        cmd = [sys.executable, "-m", "agents.sweep", str(cfg), "--dir", str(d),
               "--workers", str(sw.workers)]
        log(f"$ {' '.join(cmd)}")
        procs[sw.name] = (subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, text=True,
                                           start_new_session=True), d)
    started: dict[str, float] = {}
    while any(p.poll() is None for p, _ in procs.values()) and time.time() < until:
        time.sleep(0.5)
        if poll:
            for _, d in procs.values():
                for lf in (d / "logs").glob("*.log"):
                    key = f"{d}/{lf.stem}"
                    if key not in started and TRAINING_RE.search(lf.read_text(errors="replace")):
                        started[key] = time.time()
    ended = time.time()
    # Every sweep still running is told to stop at once, so that all runs stop at `ended`
    # (the calibration's rates count training time up to it); then each gets the grace.
    running = {name for name, (p, _) in procs.items() if p.poll() is None}
    for name in running:
        _signal(procs[name][0], signal.SIGINT)
    records = {}
    for name, (p, d) in procs.items():
        stopped = name in running
        if stopped:
            out = _stop(p, max(1.0, ended + grace_s - time.time()))
        else:
            out = p.communicate()[0]
        log.raw(f"--- sweep {name} ({d}) ---\n{out}")
        records[name] = {"rc": p.returncode, "seconds": round(time.time() - t0, 1),
                         "stopped_at_deadline": stopped, "ended": ended}
        log(f"  sweep {name}: exit {p.returncode} after {records[name]['seconds']} s"
            + (" (stopped at the deadline)" if stopped else ""))
    return records, started


def calibrate(stage: Stage, work: Path, log: Log, deadline: float,
              grace_s: float) -> dict[str, Any]:
    """Run the stage's sweeps ``calibrate_s`` seconds with unreachable targets; the rates.

    Returns:
        ``{"launch": t, "stop": t, "runs": {sweep: {run: {"steps", "start_s", "rate"}}}}``.
    """
    entries = []
    for sw in stage.sweeps:
        d = work / f"calibrate-{sw.name}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        cfg = d.parent / f"calibrate-{sw.name}.yml"
        write_sweep(sw, cfg, 10**9)
        entries.append((sw, cfg, d))
    launch = time.time()
    until = min(deadline, launch + stage.calibrate_s)
    records, started = run_sweeps(entries, log, until, grace_s, poll=True)
    stop = min(r["ended"] for r in records.values())  # when the runs were told to stop
    runs: dict[str, dict[str, dict]] = {}
    for sw, _, d in entries:
        runs[sw.name] = {}
        for lf in sorted((d / "logs").glob("*.log")):
            text = lf.read_text(errors="replace")
            m = STOPPED_RE.findall(text)
            t_train = started.get(f"{d}/{lf.stem}")
            steps = int(m[-1].replace(",", "")) if m else None
            rate = (steps / max(1e-9, stop - t_train)) if steps and t_train else None
            runs[sw.name][lf.stem] = {"steps": steps,
                                      "start_s": round(t_train - launch, 1) if t_train else None,
                                      "rate": round(rate, 1) if rate else None}
            log(f"  calibration {sw.name}/{lf.stem}: {steps} steps, start-up "
                f"{runs[sw.name][lf.stem]['start_s']} s, {runs[sw.name][lf.stem]['rate']} steps/s")
    return {"launch": launch, "stop": stop, "seconds": round(time.time() - launch, 1),
            "records": records, "runs": runs}


def step_targets(sw: Sweep, measured: dict[str, dict], train_s: float) -> dict[tuple, int]:
    """Each group's step target: its slowest run's rate x ``train_s``, rounded down to
    ``sw.unit``.  A group with no measured run takes the slowest measured rate of the
    sweep; with none measured at all, ``sw.min_steps``.

    Example:
        >>> sw = Sweep({"name": "t", "games": ["Pong"], "algos": ["a2c", "pg"],
        ...             "seeds": [0], "shaping": ["none"]}, workers=2, unit=100)
        >>> step_targets(sw, {"Pong-a2c-none-s0": {"rate": 50.0},
        ...                   "Pong-pg-none-s0": {"rate": None}}, 10)
        {('a2c',): 500, ('pg',): 500}
    """
    from agents.sweep import parse_config

    specs = parse_config(dict(sw.config, steps=1), sw.name).runs()
    rates: dict[tuple, list[float]] = {}
    for spec in specs:
        key = tuple(spec.facts()[k] for k in sw.group)
        rate = (measured.get(spec.name) or {}).get("rate")
        rates.setdefault(key, [])
        if rate:
            rates[key].append(rate)
    known = [min(v) for v in rates.values() if v]
    floor_rate = min(known) if known else None
    out = {}
    for key, v in rates.items():
        rate = min(v) if v else floor_rate
        steps = int(rate * train_s) // sw.unit * sw.unit if rate else sw.min_steps
        out[key] = max(steps, 0)
    return out


def run_stage(stage: Stage, window: Window, work: Path, log: Log, deadline: float,
              record: dict[str, Any]) -> None:
    """Calibrate, set step targets, run, report; all inside ``deadline``."""
    rec: dict[str, Any] = {"name": stage.name, "deadline_in_s": round(deadline - time.time(), 1)}
    record["stages"].append(rec)
    log(f"== stage {stage.name}: {len(stage.sweeps)} sweep(s), "
        f"{deadline - time.time():.0f} s to its deadline")
    cal = calibrate(stage, work, log, deadline, window.stop_grace_s)
    rec["calibration"] = {k: v for k, v in cal.items() if k not in ("launch", "stop")}
    for sw in stage.sweeps:
        shutil.rmtree(work / f"calibrate-{sw.name}", ignore_errors=True)
    t_launch = time.time()
    entries = []
    rec["sweeps"] = {}
    for sw in stage.sweeps:
        runs = cal["runs"].get(sw.name, {})
        starts = [r["start_s"] for r in runs.values() if r["start_s"] is not None]
        start_s = max(starts) if starts else stage.calibrate_s / 2
        # Time for training: to the deadline, less start-up, evaluation, the stop's grace
        # (kept for runs that miss it) and the report, with 10% kept for runs slower than
        # in the calibration.
        train_s = 0.9 * (deadline - t_launch - start_s - stage.eval_reserve_s
                         - window.stop_grace_s - window.report_s)
        targets = step_targets(sw, runs, train_s)
        srec = {"start_s": start_s, "train_s": round(train_s, 1),
                "steps": {"/".join(map(str, k)) or "all": v for k, v in targets.items()}}
        rec["sweeps"][sw.name] = srec
        log(f"  {sw.name}: {train_s:.0f} s of training -> steps {srec['steps']}")
        if min(targets.values()) < sw.min_steps and window.dry_run:
            # A dry run checks the path, not the budget: a machine slower than planned
            # (start-ups on a busy CI runner) still runs every sweep, at the minimum.
            targets = {k: max(v, sw.min_steps) for k, v in targets.items()}
            srec["steps"] = {"/".join(map(str, k)) or "all": v for k, v in targets.items()}
            srec["raised_to_min_steps"] = True
        if min(targets.values()) < sw.min_steps:
            srec["skipped"] = f"a step target under {sw.min_steps}: no time for this sweep"
            log(f"  {sw.name}: skipped ({srec['skipped']})")
            continue
        d = work / sw.name
        cfg = work / f"{sw.name}.yml"
        write_sweep(sw, cfg, targets)
        entries.append((sw, cfg, d))
    if entries:
        # Stopped early enough that the grace and the report still end by the deadline.
        stop_at = deadline - window.report_s - window.stop_grace_s
        if window.dry_run:
            # As with the step targets above: a dry run checks the path, so its runs get the
            # time to finish (under the full test suite two training runs beside it, window 3's
            # pg run had not finished 64 steps when its artificial deadline came, 31 s).
            stop_at = max(stop_at, time.time() + DRY_SWEEP_FLOOR_S)
        records, _ = run_sweeps(entries, log, stop_at, window.stop_grace_s)
        for name, r in records.items():
            rec["sweeps"][name]["run"] = r
    for sw, _, d in entries:
        frames = 4 * min(rec["sweeps"][sw.name]["steps"].values())
        # A dry run checks that each report is written: on a loaded CPU machine its
        # artificial deadline must not cut one (a report takes 3-4 s on a quiet one).
        floor = DRY_REPORT_FLOOR_S if window.dry_run else 5.0
        r = run_cmd([sys.executable, "-m", "agents.report", str(d), "--out",
                     str(d / "report"), "--at", str(frames)], log,
                    max(floor, deadline - time.time()))
        rec["sweeps"][sw.name]["report"] = r
        rec["sweeps"][sw.name]["results"] = _results(d)


def _results(sweep_dir: Path) -> list[dict[str, str]]:
    path = sweep_dir / "results.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def pack(work: Path, out: Path, sweeps: list[str], log: Log) -> None:
    """``runs.tar.gz`` (no checkpoints) and ``report-<sweep>.md`` into ``out``."""
    for name in sweeps:
        rep = work / name / "report" / "report.md"
        if rep.exists():
            shutil.copyfile(rep, out / f"report-{name}.md")
    for with_tb in (True, False):
        tar_path = out / "runs.tar.gz"
        with tarfile.open(tar_path, "w:gz") as tar:
            for name in sweeps:
                d = work / name
                if not d.exists():
                    continue
                for p in sorted(d.rglob("*")):
                    rel = p.relative_to(work)
                    parts = rel.parts
                    if not p.is_file() or "checkpoints" in parts:
                        continue
                    if "runs" in parts and len(parts) == 4 and parts[3] not in RUN_FILES:
                        continue  # a run's top-level files: only RUN_FILES
                    if "tb" in parts and not with_tb:
                        continue
                    tar.add(p, arcname=str(rel))
        if tar_path.stat().st_size <= MAX_FILE_BYTES:
            return
        log(f"runs.tar.gz is {tar_path.stat().st_size / 2**20:.1f} MiB with tb/: packing "
            "without the TensorBoard files")
    raise WindowError("runs.tar.gz is over 16 MiB even without tb/")


def check_out(out: Path) -> list[dict[str, Any]]:
    """The files under ``out``; raises :class:`WindowError` where they break the limits."""
    files = [p for p in out.rglob("*") if p.is_file()]
    if len(files) > MAX_FILES:
        raise WindowError(f"{len(files)} files under {out}, at most {MAX_FILES} come back")
    listing = []
    for p in files:
        rel = p.relative_to(out)
        if len(rel.parts) > 3:
            raise WindowError(f"{rel}: more than 2 folders down, it would not come back")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", p.name):
            raise WindowError(f"{rel}: a name the device does not bring back")
        if p.stat().st_size > MAX_FILE_BYTES:
            raise WindowError(f"{rel}: {p.stat().st_size} bytes, over 16 MiB")
        listing.append({"file": str(rel), "bytes": p.stat().st_size})
    return listing


def _truncate_log(path: Path) -> None:
    """Keep the log's head and tail within 15 MiB (its middle is sweep output)."""
    size = path.stat().st_size
    limit = 15 * 2**20
    if size <= limit:
        return
    data = path.read_bytes()
    keep = limit // 2
    path.write_bytes(data[:keep] + b"\n[... log cut to 15 MiB ...]\n" + data[-keep:])


def atomic_json(path: Path, data: Any) -> None:
    """Write JSON through a temporary file, so a reader never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def run_window(window: Window, out: Path, work: Path, dry_run: bool) -> dict[str, Any]:
    """Run the window; writes everything under ``out``; returns ``window.json``'s record."""
    t0 = time.time()
    deadline = t0 + window.budget_s
    window.check()
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    log = Log(out / "window.log")
    record: dict[str, Any] = {"window": window.number, "title": window.title,
                              "dry_run": dry_run, "budget_s": window.budget_s,
                              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
                              "plan": asdict(window), "stages": [], "commands": []}
    log(f"window {window.number}: {window.title}; {window.budget_s:.0f} s budget"
        + (" (dry run)" if dry_run else ""))
    try:
        record["machine"] = machine()
        log(f"machine: {record['machine']}")
        if window.digest_games:
            ref = Path(__file__).with_name("fastpath_digests.json")
            r = run_cmd([sys.executable, str(Path(__file__).with_name("fastpath_digest.py")),
                         *window.digest_games, "--reference", str(ref), "--json",
                         str(out / "digest.json")], log, min(90.0, deadline - time.time()))
            record["commands"].append(r)
            record["digest_same"] = r["rc"] == 0
        if window.throughput:
            tp = window.throughput
            rows: list[dict] = []
            t_end = min(deadline, time.time() + tp.time_s)
            for i, n in enumerate(tp.n_envs):
                # What the earlier calls left, shared by this one and the later ones.
                per_call = (t_end - time.time()) / (len(tp.n_envs) - i)
                jpath = work / f"throughput-{n}.json"
                r = run_cmd([sys.executable, str(ROOT / "benchmarks" / "train_throughput.py"),
                             tp.game, "--backends", "envpool", "--shaping", "none", "manual",
                             "--n-envs", str(n), "--steps", str(tp.steps), "--device",
                             tp.device, "--json", str(jpath)], log,
                            per_call)
                record["commands"].append(r)
                if jpath.exists():
                    rows += json.loads(jpath.read_text())
            atomic_json(out / "throughput.json", {"game": tp.game, "algo": "a2c",
                                                  "obs": "pixels", "steps": tp.steps,
                                                  "machine": record["machine"], "runs": rows})
        for i, stage in enumerate(window.stages):
            left = deadline - window.reserve_s - time.time()
            # Shares are weights: this stage's part of what is left to it and the later ones.
            part = stage.share / sum(s.share for s in window.stages[i:])
            if left * part <= (stage.calibrate_s + window.stop_grace_s + stage.eval_reserve_s
                               + window.stop_grace_s + window.report_s):
                record["stages"].append({"name": stage.name, "skipped": f"{left:.0f} s left"})
                log(f"== stage {stage.name}: skipped, {left * part:.0f} s for it")
                continue
            run_stage(stage, window, work, log, time.time() + left * part, record)
    except Exception as err:  # noqa: BLE001  (the window must still bring back what it has)
        record["error"] = f"{type(err).__name__}: {err}"
        log(f"ERROR {record['error']}")
    sweeps = [sw.name for st in window.stages for sw in st.sweeps]
    try:
        pack(work, out, sweeps, log)
    except WindowError as err:
        record["error"] = str(err)
        (out / "runs.tar.gz").unlink(missing_ok=True)
    record["seconds"] = round(time.time() - t0, 1)
    log(f"window {window.number} done in {record['seconds']} s")
    log.f.close()
    _truncate_log(out / "window.log")
    atomic_json(out / "window.json", record)
    record["out"] = check_out(out)
    atomic_json(out / "window.json", record)
    return record


def main(window: Window, argv: list[str] | None = None) -> int:
    """A window script's entry point; returns 0, or 1 when the window recorded an error."""
    p = argparse.ArgumentParser(
        description=f"GPU window {window.number}: {window.title}",
        epilog="On the GPU machine: see benchmarks/gpu/README.md for the exact run command "
               "(wheels from .gpu_bundle, RNR_CACHE_DIR, PYTHONPATH).")
    p.add_argument("--out", type=Path, default=os.environ.get("OUT"),
                   help="folder for what comes back (default: $OUT)")
    p.add_argument("--work", type=Path,
                   help="folder for the sweeps, checkpoints included (default: a temporary "
                        "folder, removed at the end)")
    p.add_argument("--dry-run", action="store_true",
                   help="the same work at a tiny budget on this machine's CPU (seconds of "
                        "training, two envs, one seed, two runs per sweep)")
    p.add_argument("--budget-s", type=float,
                   help=f"wall-clock budget in seconds (default {window.budget_s:.0f}; "
                        f"dry run {dry_budget(window):.0f})")
    args = p.parse_args(argv)
    if args.out is None:
        p.error("--out is required where $OUT is not set")
    plan = dry(window) if args.dry_run else window
    if args.budget_s:
        plan = replace(plan, budget_s=args.budget_s)
    if args.work:
        record = run_window(plan, args.out, args.work, args.dry_run)
    else:
        with tempfile.TemporaryDirectory(prefix=f"rnr-window{window.number}-") as tmp:
            record = run_window(plan, args.out, Path(tmp), args.dry_run)
    return 1 if record.get("error") else 0


def seeds_for(cores: int, cpus_per_run: int, arms: int) -> int:
    """Seeds per arm that fit ``cores`` at ``cpus_per_run`` each (at least one).

    Example:
        >>> seeds_for(16, 2, 2)
        4
    """
    return max(1, math.floor(cores / cpus_per_run / arms))
