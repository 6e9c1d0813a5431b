"""A run directory's CSV logs, plain as training writes them or gzip-compressed as exported.

Training appends to ``episodes.csv`` and ``progress.csv`` in the run directory.
``benchmarks/export_sweep.py`` commits them compressed (``episodes.csv.gz``,
``progress.csv.gz``: a tenth of the size, which keeps the repo small enough to travel to
a GPU machine: ``benchmarks/gpu/README.md``).  Every reader opens them through
:func:`open_log`, so reports, health checks and the benchmark scripts read a live run and
an exported one alike.  Standard library only: the report imports it without torch.

Example:
    >>> import csv, gzip, tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> with gzip.open(run / "episodes.csv.gz", "wt", newline="") as f:
    ...     _ = f.write("step,score\\n128,-9000.0\\n")
    >>> log_path(run, EPISODES).name
    'episodes.csv.gz'
    >>> with open_log(run, EPISODES) as f:
    ...     [row["score"] for row in csv.DictReader(f)]
    ['-9000.0']
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path
from typing import TextIO

#: Every finished training episode (``agents.callbacks.RunCallback`` appends it).
EPISODES = "episodes.csv"
#: SB3's metrics, one row per log interval (the logger of ``agents.checkpoint``).
PROGRESS = "progress.csv"
#: The suffix of a compressed log (``episodes.csv.gz``).
GZ = ".gz"


class CorruptLog(ValueError):
    """A compressed log that cannot be read (truncated, not gzip, not UTF-8)."""


def log_path(run_dir: Path | str, name: str) -> Path | None:
    """The file that holds the log ``name`` of ``run_dir``: the plain one where training
    writes it, else the compressed copy an export left; ``None`` where neither exists.

    A run directory holds one of the two: the plain file wins if both are there (it is the
    one a training run still appends to).
    """
    plain = Path(run_dir) / name
    if plain.is_file():
        return plain
    packed = plain.with_name(name + GZ)
    return packed if packed.is_file() else None


def has_log(run_dir: Path | str, name: str) -> bool:
    """Whether ``run_dir`` holds the log ``name``, plain or compressed."""
    return log_path(run_dir, name) is not None


def open_log(run_dir: Path | str, name: str) -> TextIO:
    """The log ``name`` of ``run_dir`` opened for reading as text, ready for ``csv``.

    A compressed log is decompressed whole here (the largest committed one is 1.6 MB of
    text), so that a damaged file fails at once with its name rather than midway through
    a reader's loop.

    Raises:
        FileNotFoundError: neither ``name`` nor ``name.gz`` is in ``run_dir`` (the message
            names both, so that a reader can say what is missing).
        CorruptLog: the compressed log is truncated, not gzip or not UTF-8 text.
    """
    path = log_path(run_dir, name)
    if path is None:
        raise FileNotFoundError(f"{Path(run_dir) / name} not found (nor {name}{GZ})")
    if path.name.endswith(GZ):
        try:
            text = gzip.decompress(path.read_bytes()).decode("utf-8")
        except (gzip.BadGzipFile, EOFError, zlib.error, UnicodeDecodeError) as err:
            raise CorruptLog(f"{path} is corrupt ({err}); export the run again "
                             "(benchmarks/export_sweep.py)") from None
        return io.StringIO(text, newline="")
    return open(path, encoding="utf-8", newline="")


def compress_log(src: Path, dest: Path) -> Path:
    """Write ``src`` gzip-compressed to ``dest`` (which ends in ``.gz``), atomically and
    byte-for-byte reproducibly (no file name or time in the gzip header, so exporting the
    same log twice gives the same bytes and git sees no change).  Returns ``dest``.
    """
    if not dest.name.endswith(GZ):
        # A compressed copy under a plain name would be read as text and fail far from here.
        raise ValueError(f"{dest} must end in {GZ}")
    tmp = dest.with_name(f".{dest.name}.tmp")
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9,
                               mtime=0) as fout:
                while chunk := fin.read(1 << 20):
                    fout.write(chunk)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest

