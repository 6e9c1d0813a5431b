"""Atomic, self-validating training checkpoints and resumable logs.

A checkpoint is a directory ``checkpoints/step_<N>/`` holding

* ``model.zip``: the SB3 model (parameters, optimiser state, counters);
* ``vecnormalize.pkl``: reward-normalisation statistics, if used;
* ``replay_buffer.pkl``: an off-policy model's replay buffer, if requested;
* ``state.pkl``: step counter, wall time so far, shaping schedule position and
  every RNG state (Python, NumPy, torch CPU and CUDA);
* ``state.json``: the same counters, readable.

It is written into a temporary directory and renamed into place, then
``checkpoints/LATEST`` is replaced atomically, so a crash (even ``kill -9``)
leaves either the old or the new checkpoint, never half of one.  On resume,
the logs (``progress.csv``, ``episodes.csv``, TensorBoard) are cut back to the
checkpoint's step so nothing is counted twice.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import pickle
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reward_shaping.table import atomic_write_text

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
LATEST = "LATEST"
STEP_COLUMN = "time/total_timesteps"


class CheckpointError(RuntimeError):
    """No usable checkpoint (missing, or every candidate corrupt)."""


@dataclass
class Checkpoint:
    """A checkpoint found on disk."""

    path: Path
    step: int
    state: dict[str, Any]

    @property
    def model(self) -> Path:
        return self.path / "model.zip"

    @property
    def replay_buffer(self) -> Path | None:
        p = self.path / "replay_buffer.pkl"
        return p if p.exists() else None

    @property
    def vecnormalize(self) -> Path | None:
        p = self.path / "vecnormalize.pkl"
        return p if p.exists() else None


def rng_state() -> dict[str, Any]:
    """Every RNG state training depends on."""
    # SB3 seeds (and samples from) the legacy global NumPy RNG, so that is the one to save.
    state = {"python": random.getstate(), "numpy": np.random.get_state(),  # noqa: NPY002
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state` output (CUDA states only where CUDA is present)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(state["cuda"])
        except (RuntimeError, IndexError):
            log.warning("checkpoint's CUDA RNG state does not fit this GPU setup; not restored")


def save_checkpoint(run_dir: Path, model, venv_normalize, state: dict[str, Any], keep: int = 3,
                    replay_buffer: bool = False) -> Path:
    """Write a checkpoint atomically and point ``LATEST`` at it; keep the newest ``keep``.

    ``replay_buffer`` also stores an off-policy model's replay buffer.
    """
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    step = int(state["num_timesteps"])
    final = root / f"step_{step:012d}"
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    try:
        model.save(tmp / "model.zip")
        if venv_normalize is not None:
            venv_normalize.save(str(tmp / "vecnormalize.pkl"))
        if replay_buffer:
            model.save_replay_buffer(tmp / "replay_buffer.pkl")
        full = dict(state, rng=rng_state())
        with open(tmp / "state.pkl", "wb") as f:
            pickle.dump(full, f)
            f.flush()
            os.fsync(f.fileno())
        (tmp / "state.json").write_text(json.dumps(state, indent=1, default=str))
        if final.exists():  # same step saved twice (e.g. Ctrl-C right after a save)
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_text(root / LATEST, final.name + "\n")
    old = sorted(p for p in root.glob("step_*") if p.is_dir())
    for p in old[:-keep]:
        shutil.rmtree(p, ignore_errors=True)
    return final


def _read(path: Path) -> Checkpoint:
    with open(path / "state.pkl", "rb") as f:
        state = pickle.load(f)
    if not isinstance(state, dict) or "num_timesteps" not in state or "rng" not in state:
        raise ValueError("state.pkl lacks the step counter or RNG state")
    if not (path / "model.zip").is_file() or (path / "model.zip").stat().st_size == 0:
        raise ValueError("model.zip missing or empty")
    import zipfile

    with zipfile.ZipFile(path / "model.zip") as z:
        bad = z.testzip()
        if bad is not None:
            raise ValueError(f"model.zip member {bad} is corrupt")
    return Checkpoint(path, int(state["num_timesteps"]), state)


def find_checkpoint(run_dir: Path) -> Checkpoint:
    """The newest valid checkpoint of ``run_dir`` (older ones are tried if it is corrupt).

    Raises:
        CheckpointError: no checkpoint, or none readable.
    """
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        raise CheckpointError(f"{run_dir} has no checkpoints/ directory: not a run directory, "
                              "or the run stopped before its first checkpoint")
    candidates = sorted((p for p in root.glob("step_*") if p.is_dir()), reverse=True)
    latest = root / LATEST
    if latest.exists():
        named = root / latest.read_text().strip()
        if named in candidates:
            candidates.remove(named)
            candidates.insert(0, named)
    problems = []
    for path in candidates:
        try:
            ckpt = _read(path)
        except Exception as err:  # any unreadable part makes the checkpoint unusable
            problems.append(f"{path.name}: {err}")
            log.warning("checkpoint %s is unusable (%s); trying an older one", path, err)
            continue
        return ckpt
    detail = "; ".join(problems) if problems else "none found"
    raise CheckpointError(f"no usable checkpoint in {root} ({detail})")


def truncate_csv(path: Path, column: str, max_value: int) -> None:
    """Drop rows of ``path`` whose ``column`` exceeds ``max_value`` (atomically)."""
    if not path.exists():
        return
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    if column not in header:
        return
    col = header.index(column)
    keep = [r for r in body if len(r) > col and r[col] != "" and float(r[col]) <= max_value]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(keep)
    os.replace(tmp, path)


def last_logged_step(run_dir: Path) -> int | None:
    """Step of the last row of ``progress.csv`` (``None`` without rows)."""
    path = Path(run_dir) / "progress.csv"
    if not path.exists():
        return None
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    value = rows[-1].get(STEP_COLUMN) if rows else None
    return int(float(value)) if value else None


def make_logger(run_dir: Path, resume_step: int | None, stdout: bool = False):
    """SB3 logger writing ``progress.csv`` and TensorBoard under ``run_dir``, resumable.

    On resume, CSV rows past ``resume_step`` are removed and appending
    continues; TensorBoard gets a purge step so its later points are dropped.
    """
    from stable_baselines3.common.logger import (
        CSVOutputFormat,
        HumanOutputFormat,
        Logger,
        TensorBoardOutputFormat,
    )

    class ResumableCSV(CSVOutputFormat):
        def __init__(self, filename: Path) -> None:
            if resume_step is not None and filename.exists():
                truncate_csv(filename, STEP_COLUMN, resume_step)
                self.file = open(filename, "r+", encoding="utf-8")  # noqa: SIM115
                header = self.file.readline().strip()
                self.keys = header.split(",") if header else []
                self.file.seek(0, os.SEEK_END)
                self.separator, self.quotechar = ",", '"'
            else:
                super().__init__(str(filename))

    class ResumableTensorBoard(TensorBoardOutputFormat):
        def __init__(self, folder: Path) -> None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(folder), purge_step=resume_step)
            self._is_closed = False

    outputs = [ResumableCSV(Path(run_dir) / "progress.csv"),
               ResumableTensorBoard(Path(run_dir) / "tb")]
    if stdout:
        import sys

        outputs.append(HumanOutputFormat(sys.stdout))
    return Logger(str(run_dir), outputs)
