"""Prepare what travels to a lent GPU machine: the wheels it lacks and the reward tables.

The GPU machine (one H200, 16 cores, Python 3.12, torch, numpy 2) has none of
gymnasium, ale-py, envpool, stable-baselines3, sb3-contrib or ocatari, and no
network; what a window command needs beyond the repo's tracked files travels in
one git-ignored folder of the repo root (default ``.gpu_bundle/``), 64 MiB at most
together with the tracked files.  This script fills that folder:

* ``wheels/``: the pinned wheels for CPython 3.12 on x86-64 Linux (``PINS``), and
  an **Atari-only slim envpool**.  envpool 1.2.5's wheel is 53 MB, mostly
  MuJoCo, VizDoom, procgen and football engines, and it needs envpool-assets
  (62 MB); the slim wheel keeps envpool's Python layer, its Atari engine (one
  ~10 MB ``.so``) and the Atari ROMs (from envpool-assets, in
  ``envpool/atari/roms``, where envpool's registration looks first), and its
  ``entry.py`` registers the Atari games alone (the original imports every
  family's registration, which would fail on the missing modules).
* ``reward_tables/``: the reward tables of the windows' games, built here with the
  manual reader, so the GPU machine needs no sentence-transformers model
  (``RNR_CACHE_DIR`` points there; ``reward_shaping.table`` finds them by key).
* ``MANIFEST.json``: every file with its size and SHA-256, the install command and
  the size that travels.

OCAtari is not carried: the fast path (``--env-backend envpool``) reads objects
with rnr's own batched extractor, and a training run with evaluation was checked
to run with ``ocatari``, ``ale_py`` and the sentence encoder unimportable.

The script refuses (exit 1) when the tracked files plus the bundle exceed the
limit; nothing over it is left behind as the bundle.

Usage::

    python benchmarks/gpu/bundle.py                          # .gpu_bundle/ for CPython 3.12
    python benchmarks/gpu/bundle.py --python-version 3.11 --out /tmp/bundle311 --check
    python benchmarks/gpu/bundle.py --no-download --download-dir ~/wheels   # offline, from a cache

``--check`` installs the bundle's wheels into a temporary folder and steps a slim
envpool Atari game there; it needs this Python to be the bundle's version.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: What travels, pinned: the versions rnr's tests ran on (pyproject.toml's ranges admit them).
PINS: dict[str, str] = {
    "gymnasium": "1.4.0",
    "farama-notifications": "0.0.6",  # gymnasium's
    "ale-py": "0.12.1",  # the gymnasium backend's emulator (the fast path does not need it)
    "stable-baselines3": "2.9.2",
    "sb3-contrib": "2.9.2",
    "dm-env": "1.6",  # envpool's Python layer imports dm_env and optree
    "dm-tree": "0.1.10",  # dm-env's
    "optree": "0.20.0",
}
ENVPOOL = ("envpool", "1.2.5")
ENVPOOL_ASSETS = ("envpool-assets", "0.3.0")
#: The games the windows train (benchmarks/gpu/windowkit.py): their tables travel.
GAMES = ("Skiing", "MsPacman", "Freeway", "Seaquest", "Breakout")
LIMIT_MIB = 64
#: The most the repo's tracked files may take of :data:`LIMIT_MIB` (a test holds the repo to
#: it): the bundle (7.8 MiB) travels beside them, and each window's results are committed
#: before the next window runs.  Past it, exports were crowding the bundle out: the tracked
#: files had reached 44.5 MiB on 2026-12-07, 39.5 MB of it plain run logs
#: (``benchmarks/export_sweep.py`` now compresses them).
TRACKED_BUDGET_MIB = 32
BUNDLE = ".gpu_bundle"
#: The manylinux tags pip may match for the GPU machine (x86-64, glibc >= 2.28 there).
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64",
             "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64")
#: The slim envpool's entry.py: the Atari registration alone.
SLIM_ENTRY = ('"""Entry point of envpool\'s registration: Atari only (rnr\'s slim build, '
              'benchmarks/gpu/bundle.py)."""\n\nimport envpool.atari.registration  # noqa: F401\n')
#: Requirements the slim envpool drops: the asset packages it replaces, and what only the
#: other env families import (glfw for MuJoCo rendering).
SLIM_DROPPED_REQUIRES = ("envpool-assets", "glfw", "types-protobuf")
INSTALL = ("python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir "
           "--upgrade --target /tmp/site {bundle}/wheels/*.whl")


class BundleError(RuntimeError):
    """The bundle cannot be built as asked (a download failed, it would not fit, ...)."""


def keep_in_slim(name: str) -> bool:
    """Whether a member of envpool's wheel goes into the Atari-only slim wheel.

    Kept: the package's top-level modules, its Python layer (``envpool/python``), the
    Atari module and the dist-info (its RECORD is rewritten).  Dropped: every other env
    family, the bundled OpenGL libraries (``envpool.libs``, used by MuJoCo rendering; the
    Atari ``.so`` links none of them), the audit SBOM, and ``entry.py`` (rewritten).

    Example:
        >>> keep_in_slim("envpool/atari/atari_envpool.so"), keep_in_slim("envpool/mujoco/x.so")
        (True, False)
    """
    parts = name.split("/")
    if parts[0].endswith(".dist-info"):
        return parts[-1] != "RECORD" and "sboms" not in parts
    if parts[0] != "envpool" or "__pycache__" in parts:
        return False
    if len(parts) == 2:
        return parts[1] != "entry.py"
    return parts[1] in ("python", "atari")


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _slim_metadata(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith("Requires-Dist:"):
            req = line.split(":", 1)[1].strip().lower().replace("_", "-")
            if any(req.startswith(d) for d in SLIM_DROPPED_REQUIRES):
                continue
        if line.startswith("Summary:"):
            line += " (Atari-only slim build by rnr's benchmarks/gpu/bundle.py)"
        lines.append(line)
    return "\n".join(lines) + "\n"


def slim_envpool(wheel: Path, assets_wheel: Path, dest_dir: Path) -> Path:
    """Write the Atari-only slim envpool wheel (same file name) into ``dest_dir``.

    Args:
        wheel: envpool's wheel.
        assets_wheel: envpool-assets' wheel; its ``atari/roms/*.bin`` go to
            ``envpool/atari/roms/``, where envpool's registration looks first.
        dest_dir: Output folder.

    Returns:
        The slim wheel's path.

    Raises:
        BundleError: a wheel lacks what the slim build needs.
    """
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(assets_wheel) as assets:
        names = src.namelist()
        # A layout other than the one this recipe was checked on must not yield a
        # package that imports but cannot make a game.
        needed = ["envpool/__init__.py", "envpool/registration.py", "envpool/entry.py",
                  "envpool/atari/registration.py", "envpool/python/protocol.py"]
        missing = [n for n in needed if n not in names]
        if missing or not any(n.startswith("envpool/atari/") and n.endswith(".so") for n in names):
            raise BundleError(f"{wheel.name}: not the envpool layout this recipe knows "
                              f"(missing {missing or 'the Atari .so'})")
        roms = [n for n in assets.namelist()
                if n.startswith("envpool_assets/atari/roms/") and n.endswith(".bin")]
        if not roms:
            raise BundleError(f"{assets_wheel.name}: no envpool_assets/atari/roms/*.bin")
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        files: dict[str, bytes] = {}
        for n in names:
            if n.endswith("/") or not keep_in_slim(n):
                continue
            data = src.read(n)
            if n == f"{dist_info}/METADATA":
                data = _slim_metadata(data.decode()).encode()
            files[n] = data
        files["envpool/entry.py"] = SLIM_ENTRY.encode()
        for n in roms:
            files["envpool/atari/roms/" + n.rsplit("/", 1)[1]] = assets.read(n)
        modes = {i.filename: i.external_attr for i in src.infolist()}
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for n, data in files.items():
        writer.writerow([n, _record_hash(data), len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    files[f"{dist_info}/RECORD"] = record.getvalue().encode()
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / wheel.name
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for n, data in files.items():
            info = zipfile.ZipInfo(n, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = modes.get(n, 0o644 << 16)
            dst.writestr(info, data)
    os.replace(tmp, out)
    return out


def tracked_bytes(repo: Path) -> int:
    """Bytes of the repo's tracked files as they are on disk (what travels besides carry)."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True)
    total = 0
    for rel in out.stdout.decode().split("\0"):
        p = repo / rel
        if rel and p.is_file() and not p.is_symlink():
            total += p.stat().st_size
    return total


def tree_bytes(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def check_size(tracked: int, bundle: int, limit_mib: float = LIMIT_MIB) -> int:
    """The bytes that travel; raises :class:`BundleError` when they exceed the limit.

    Example:
        >>> check_size(5 << 20, 10 << 20)
        15728640
    """
    total = tracked + bundle
    if total > limit_mib * 2**20:
        # The device refuses the whole call when the working tree is over its limit.
        raise BundleError(f"tracked files ({tracked / 2**20:.1f} MiB) + bundle "
                          f"({bundle / 2**20:.1f} MiB) = {total / 2**20:.1f} MiB, over the "
                          f"{limit_mib} MiB a device call carries")
    return total


def download(reqs: Iterable[str], python_version: str, dest: Path) -> None:
    """``pip download`` binary wheels of ``reqs`` for CPython ``python_version`` on x86-64."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           "--python-version", python_version, "--implementation", "cp", "-d", str(dest)]
    for plat in PLATFORMS:
        cmd += ["--platform", plat]
    proc = subprocess.run(cmd + list(reqs), capture_output=True, text=True)
    if proc.returncode != 0:
        raise BundleError(f"pip download failed:\n{proc.stderr[-2000:]}")


def find_wheel(folder: Path, name: str, version: str, python_version: str) -> Path:
    """The wheel of ``name==version`` in ``folder`` that fits CPython ``python_version``."""
    stem = name.replace("-", "_").lower()
    tag = "cp" + python_version.replace(".", "")
    found = []
    for w in folder.glob("*.whl"):
        parts = w.name[:-4].split("-")
        if parts[0].lower().replace("-", "_") != stem or parts[1] != version:
            continue
        if parts[-3] in (tag, "py3", "py2.py3") or parts[-3].startswith("py3"):
            found.append(w)
    if len(found) != 1:
        raise BundleError(f"{folder}: {len(found)} wheels of {name}=={version} for CPython "
                          f"{python_version} ({[w.name for w in found]}); expected one")
    return found[0]


def build_tables(games: Sequence[str], dest: Path) -> list[Path]:
    """Build (or load from the usual cache) each game's reward table into ``dest``."""
    # This checkout's reader, not an installed copy's: the tables' cache keys hash its files.
    sys.path.insert(0, str(ROOT))
    from reward_shaping.table import build_reward_table

    dest.mkdir(parents=True, exist_ok=True)
    for game in games:
        build_reward_table(game, cache_dir=dest)
    return sorted(dest.glob("*.json"))


def ensure_excluded(repo: Path, folder: str) -> Path:
    """Add ``/folder/`` to the repo's shared ``info/exclude`` (worktrees share it)."""
    common = subprocess.run(["git", "rev-parse", "--git-common-dir"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout.strip()
    exclude = (repo / common).resolve() / "info" / "exclude"
    line = f"/{folder}/"
    text = exclude.read_text() if exclude.exists() else ""
    if line not in text.splitlines():
        exclude.parent.mkdir(parents=True, exist_ok=True)
        exclude.write_text(text + ("" if not text or text.endswith("\n") else "\n") + line + "\n")
    return exclude


def check_bundle(bundle: Path) -> str:
    """Install the bundle's wheels into a temporary folder and step Pong in slim envpool.

    Returns:
        The check's output (envpool's version, the number of registered games, shapes).

    Raises:
        BundleError: the install or the game failed.
    """
    code = ("import envpool, numpy as np\n"
            "ids = envpool.list_all_envs()\n"
            "assert all(i.endswith('-v5') for i in ids), ids\n"
            "env = envpool.make_gymnasium('Skiing-v5', num_envs=2)\n"
            "obs, info = env.reset()\n"
            "obs, r, term, trunc, info = env.step(np.zeros(2, dtype=np.int32))\n"
            "print('envpool', envpool.__version__, len(ids), 'games', obs.shape, "
            "info['ram'].shape if 'ram' in info else '')\n"
            "import gymnasium, stable_baselines3, sb3_contrib, ale_py\n"
            "print('gymnasium', gymnasium.__version__, 'sb3', stable_baselines3.__version__)\n")
    with tempfile.TemporaryDirectory() as site:
        wheels = sorted(str(w) for w in (bundle / "wheels").glob("*.whl"))
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index",
                               "--no-deps", "--no-compile", "--no-cache-dir", "--target", site,
                               *wheels], capture_output=True, text=True)
        if proc.returncode != 0:
            raise BundleError(f"installing the bundle failed:\n{proc.stderr[-2000:]}")
        env = dict(os.environ, PYTHONPATH=site)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, cwd=site)
        if proc.returncode != 0:
            raise BundleError(f"the slim envpool did not run:\n{proc.stderr[-2000:]}")
        return proc.stdout.strip()


def build_bundle(out: Path, python_version: str, download_dir: Path, games: Sequence[str],
                 fetch: bool = True, limit_mib: float = LIMIT_MIB, repo: Path = ROOT) -> dict:
    """Build the bundle into ``out`` (replacing it); returns its manifest.

    Raises:
        BundleError: a download failed, a wheel is missing, or it would not fit.
    """
    pins = dict(PINS, **{ENVPOOL[0]: ENVPOOL[1], ENVPOOL_ASSETS[0]: ENVPOOL_ASSETS[1]})
    if fetch:
        download([f"{n}=={v}" for n, v in pins.items()], python_version, download_dir)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "wheels").mkdir(parents=True)
    for name, version in PINS.items():
        shutil.copy2(find_wheel(download_dir, name, version, python_version), tmp / "wheels")
    slim_envpool(find_wheel(download_dir, *ENVPOOL, python_version),
                 find_wheel(download_dir, *ENVPOOL_ASSETS, python_version), tmp / "wheels")
    build_tables(games, tmp / "reward_tables")
    tracked = tracked_bytes(repo)
    try:
        total = check_size(tracked, tree_bytes(tmp), limit_mib)
    except BundleError:
        shutil.rmtree(tmp)  # an oversized bundle would make every device call fail
        raise
    files = {str(p.relative_to(tmp)): {"bytes": p.stat().st_size,
                                       "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
             for p in sorted(tmp.rglob("*")) if p.is_file()}
    manifest = {"python_version": python_version, "pins": pins, "games": list(games),
                "install": INSTALL.format(bundle=out.name), "tracked_bytes": tracked,
                "bundle_bytes": tree_bytes(tmp), "travel_bytes": total,
                "limit_bytes": int(limit_mib * 2**20), "files": files}
    (tmp / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (1 when the bundle cannot be built or fails)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("--out", type=Path, default=ROOT / BUNDLE,
                   help=f"bundle folder (default: {BUNDLE}/ in the repo root, added to the "
                        "repo's info/exclude)")
    p.add_argument("--python-version", default="3.12",
                   help="CPython version of the wheels (default: 3.12, the GPU machine's)")
    p.add_argument("--download-dir", type=Path,
                   help="where downloaded wheels are kept (default: "
                        "~/.cache/rnr/gpu_wheels/cpXY); the 62 MB asset wheel stays here")
    p.add_argument("--no-download", action="store_true",
                   help="use the wheels already in --download-dir (no network)")
    p.add_argument("--games", nargs="+", default=list(GAMES),
                   help="games whose reward tables travel (default: the windows' games)")
    p.add_argument("--limit-mib", type=float, default=LIMIT_MIB,
                   help=f"refuse when tracked files + bundle exceed this (default {LIMIT_MIB})")
    p.add_argument("--check", action="store_true",
                   help="install the wheels into a temporary folder and step a slim envpool "
                        "game (needs this Python to be --python-version)")
    args = p.parse_args(argv)
    tag = "cp" + args.python_version.replace(".", "")
    download_dir = args.download_dir or Path.home() / ".cache" / "rnr" / "gpu_wheels" / tag
    try:
        if args.out.resolve().parent == ROOT.resolve():
            # Inside the repo it must be ignored, or it would travel as untracked files
            # without being named in carry (and could be committed by mistake).
            print(f"ignored via {ensure_excluded(ROOT, args.out.name)}")
        m = build_bundle(args.out, args.python_version, download_dir, args.games,
                         fetch=not args.no_download, limit_mib=args.limit_mib)
        print(f"{args.out}: {len(m['files'])} files, bundle {m['bundle_bytes'] / 2**20:.1f} MiB, "
              f"tracked {m['tracked_bytes'] / 2**20:.1f} MiB, travels "
              f"{m['travel_bytes'] / 2**20:.1f} of {args.limit_mib} MiB")
        for rel, f in m["files"].items():
            print(f"  {rel:<80} {f['bytes'] / 2**20:7.2f} MiB")
        if args.check:
            if f"{sys.version_info.major}.{sys.version_info.minor}" != args.python_version:
                raise BundleError(f"--check needs Python {args.python_version}, this is "
                                  f"{sys.version.split()[0]}")
            print(check_bundle(args.out))
    except BundleError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
