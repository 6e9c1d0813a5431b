"""benchmarks/gpu: the bundle's recipe and limits, the windows' plans, output limits, dry runs.

No network: the slim envpool is built from small fake wheels and from the envpool
installed here (packed into a wheel-shaped zip), never from a download.  The
windows' dry runs (``--dry-run``: the same code path on the CPU, seconds of
training) run as subprocesses and their ``$OUT`` is checked against the device's
limits on what comes back.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
GPU = ROOT / "benchmarks" / "gpu"


def _load(name: str):
    if str(GPU) not in sys.path:
        sys.path.insert(0, str(GPU))  # the window scripts import windowkit from beside them
    return load_script(f"benchmarks/gpu/{name}.py")


bundle = _load("bundle")
windowkit = _load("windowkit")

ENTRY_ALL = "import envpool.atari.registration\nimport envpool.mujoco.gym.registration\n"


def _fake_envpool(path: Path, members: dict[str, bytes] | None = None) -> Path:
    wheel = path / "envpool-1.2.5-cp312-cp312-manylinux_2_28_x86_64.whl"
    files = {
        "envpool/__init__.py": b"import envpool.entry\n",
        "envpool/entry.py": ENTRY_ALL.encode(),
        "envpool/registration.py": b"# registry\n",
        "envpool/py.typed": b"\n",
        "envpool/python/__init__.py": b"",
        "envpool/python/protocol.py": b"# protocol\n",
        "envpool/python/__pycache__/protocol.cpython-312.pyc": b"pyc",
        "envpool/atari/__init__.py": b"",
        "envpool/atari/registration.py": b"# atari\n",
        "envpool/atari/atari_envpool.so": b"\x7fELF atari",
        "envpool/mujoco/mujoco_gym_envpool.so": b"\x7fELF mujoco" * 100,
        "envpool/mujoco/gym/registration.py": b"# mujoco\n",
        "envpool/vizdoom/bin/vizdoom": b"doom",
        "envpool.libs/libEGL-48f73270.so.1.1.0": b"egl",
        "envpool-1.2.5.dist-info/METADATA": (
            b"Metadata-Version: 2.1\nName: envpool\nVersion: 1.2.5\nSummary: EnvPool\n"
            b"Requires-Dist: dm-env >=1.4\nRequires-Dist: envpool-assets <0.4.0,>=0.3.0\n"
            b"Requires-Dist: envpool-assets-mujoco-large <0.4.0,>=0.3.0\n"
            b"Requires-Dist: glfw >=2.10.0\nRequires-Dist: optree >=0.6.0\n"),
        "envpool-1.2.5.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\n",
        "envpool-1.2.5.dist-info/top_level.txt": b"envpool\n",
        "envpool-1.2.5.dist-info/sboms/auditwheel.cdx.json": b"{}",
        "envpool-1.2.5.dist-info/RECORD": b"stale\n",
    }
    if members is not None:
        files = members
    with zipfile.ZipFile(wheel, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    return wheel


def _fake_assets(path: Path) -> Path:
    wheel = path / "envpool_assets-0.3.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("envpool_assets/atari/roms/pong.bin", b"PONG" * 512)
        z.writestr("envpool_assets/atari/roms/skiing.bin", b"SKI" * 512)
        z.writestr("envpool_assets/mujoco/assets_gym/ant.xml", b"<ant/>")
        z.writestr("envpool_assets/vizdoom/maps/D1.wad", b"wad")
    return wheel


def _record_ok(z: zipfile.ZipFile) -> dict[str, str]:
    """RECORD's rows, each file's hash and size checked; name -> hash."""
    record = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
    rows = list(csv.reader(io.StringIO(z.read(record).decode())))
    listed = {r[0] for r in rows}
    assert listed == set(z.namelist())
    out = {}
    for name, digest, size in rows:
        if name == record:
            assert digest == "" and size == ""
            continue
        data = z.read(name)
        want = "sha256=" + base64.urlsafe_b64encode(
            hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert (digest, int(size)) == (want, len(data)), name
        out[name] = digest
    return out


def test_slim_keeps_atari_and_python_layer_only(tmp_path: Path) -> None:
    slim = bundle.slim_envpool(_fake_envpool(tmp_path), _fake_assets(tmp_path), tmp_path / "out")
    assert slim.name == "envpool-1.2.5-cp312-cp312-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(slim) as z:
        names = set(z.namelist())
        assert names == {
            "envpool/__init__.py", "envpool/entry.py", "envpool/registration.py",
            "envpool/py.typed", "envpool/python/__init__.py", "envpool/python/protocol.py",
            "envpool/atari/__init__.py", "envpool/atari/registration.py",
            "envpool/atari/atari_envpool.so", "envpool/atari/roms/pong.bin",
            "envpool/atari/roms/skiing.bin", "envpool-1.2.5.dist-info/METADATA",
            "envpool-1.2.5.dist-info/WHEEL", "envpool-1.2.5.dist-info/top_level.txt",
            "envpool-1.2.5.dist-info/RECORD"}
        entry = z.read("envpool/entry.py").decode()
        assert "envpool.atari.registration" in entry and "mujoco" not in entry
        meta = z.read("envpool-1.2.5.dist-info/METADATA").decode()
        assert "envpool-assets" not in meta and "glfw" not in meta
        assert "Requires-Dist: dm-env >=1.4" in meta and "Requires-Dist: optree" in meta
        assert z.read("envpool/atari/roms/pong.bin") == b"PONG" * 512
        _record_ok(z)


def test_slim_refuses_an_unknown_layout(tmp_path: Path) -> None:
    wheel = _fake_envpool(tmp_path, {"envpool/__init__.py": b"", "envpool/entry.py": b"",
                                     "envpool/registration.py": b"",
                                     "envpool/atari/registration.py": b"",
                                     "envpool/python/protocol.py": b"",
                                     "envpool-1.2.5.dist-info/METADATA": b""})
    with pytest.raises(bundle.BundleError, match="Atari .so"):
        bundle.slim_envpool(wheel, _fake_assets(tmp_path), tmp_path / "out")
    no_roms = tmp_path / "envpool_assets-0.3.0-py3-none-any.whl"
    with zipfile.ZipFile(no_roms, "w") as z:
        z.writestr("envpool_assets/mujoco/a.xml", b"")
    with pytest.raises(bundle.BundleError, match="roms"):
        bundle.slim_envpool(_fake_envpool(tmp_path), no_roms, tmp_path / "out")


def _installed_as_wheels(tmp_path: Path) -> tuple[Path, Path]:
    """envpool and envpool-assets as installed here, zipped into wheel-shaped files."""
    envpool_spec = importlib.util.find_spec("envpool")
    assets_spec = importlib.util.find_spec("envpool_assets")
    if envpool_spec is None or assets_spec is None:
        pytest.skip("envpool with envpool-assets is not installed here")
    site = Path(envpool_spec.origin).parents[1]
    dist = next(site.glob("envpool-*.dist-info"))
    wheel = tmp_path / f"envpool-1.2.5-cp{sys.version_info.major}{sys.version_info.minor}-x.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for p in [*(site / "envpool").rglob("*"), *dist.rglob("*")]:
            rel = p.relative_to(site).as_posix()
            # The families the slim build drops are left out, except one, to see it go.
            if p.is_file() and "__pycache__" not in rel and (
                    bundle.keep_in_slim(rel) or rel.startswith("envpool/toy_text/")
                    or rel == "envpool/entry.py"):
                z.write(p, rel)
    assets = tmp_path / "envpool_assets-0.3.0-py3-none-any.whl"
    with zipfile.ZipFile(assets, "w") as z:
        for p in (site / "envpool_assets" / "atari" / "roms").glob("*.bin"):
            z.write(p, p.relative_to(site).as_posix())
    return wheel, assets


def test_slim_envpool_from_the_installed_one_runs_atari(tmp_path: Path) -> None:
    """The recipe on the real package: the slim wheel, unpacked alone, makes and steps a game."""
    wheel, assets = _installed_as_wheels(tmp_path)
    slim = bundle.slim_envpool(wheel, assets, tmp_path / "slim")
    assert slim.stat().st_size < 6 * 2**20
    site = tmp_path / "site"
    with zipfile.ZipFile(slim) as z:
        _record_ok(z)
        assert not any("toy_text" in n for n in z.namelist())
        z.extractall(site)
    code = ("import envpool, numpy as np\n"
            "ids = envpool.list_all_envs()\n"
            "env = envpool.make_gymnasium('Skiing-v5', num_envs=2)\n"
            "obs, _ = env.reset()\n"
            "obs, *_ = env.step(np.zeros(2, dtype=np.int32))\n"
            "print(envpool.__file__, len(ids), all(i.endswith('-v5') for i in ids), obs.shape)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(site)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    path, n_ids, atari_only, shape = proc.stdout.split(" ", 3)
    assert path.startswith(str(site)) and atari_only == "True" and int(n_ids) > 50
    assert shape.strip() == "(2, 4, 84, 84)"


def test_size_check_refuses_over_the_limit() -> None:
    assert bundle.check_size(10 * 2**20, 20 * 2**20) == 30 * 2**20
    assert bundle.check_size(0, 64 * 2**20) == 64 * 2**20
    with pytest.raises(bundle.BundleError, match="over the 64 MiB"):
        bundle.check_size(5 * 2**20, 59 * 2**20 + 1)


def _fake_downloads(folder: Path) -> None:
    folder.mkdir()
    for name, version in bundle.PINS.items():
        stem = name.replace("-", "_")
        with zipfile.ZipFile(folder / f"{stem}-{version}-py3-none-any.whl", "w") as z:
            z.writestr(f"{stem}/__init__.py", "")
    _fake_envpool(folder)
    _fake_assets(folder)


def test_build_bundle_offline_and_its_refusal(tmp_path: Path) -> None:
    dl = tmp_path / "dl"
    _fake_downloads(dl)
    out = tmp_path / "bundle"
    with pytest.raises(bundle.BundleError, match="over the 1 MiB"):
        bundle.build_bundle(out, "3.12", dl, games=[], fetch=False, limit_mib=1)
    # Nothing over the limit is left where a device call would carry it.
    assert not out.exists() and not (tmp_path / "bundle.partial").exists()
    m = bundle.build_bundle(out, "3.12", dl, games=["Pong"], fetch=False)
    wheels = sorted(p.name for p in (out / "wheels").iterdir())
    assert len(wheels) == len(bundle.PINS) + 1 and not any("assets" in w for w in wheels)
    assert [p.name.split("-")[0] for p in (out / "reward_tables").iterdir()] == ["Pong"]
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert manifest == m and m["travel_bytes"] == m["tracked_bytes"] + m["bundle_bytes"]
    assert m["install"].endswith("bundle/wheels/*.whl")
    assert all(len(f["sha256"]) == 64 for f in m["files"].values())


def test_the_repo_leaves_room_for_the_bundle() -> None:
    """What the repo tracks travels with every device call: it must leave the bundle and a
    window's results their room, and logs are committed compressed (plain, they are ten
    times the size and had crowded the bundle out)."""
    tracked = bundle.tracked_bytes(ROOT)
    assert 0 < tracked <= bundle.TRACKED_BUDGET_MIB * 2**20, \
        f"the repo tracks {tracked / 2**20:.1f} MiB, over {bundle.TRACKED_BUDGET_MIB} MiB"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    plain = [f for f in files if f.endswith(("/episodes.csv", "/progress.csv"))]
    assert not plain, f"commit run logs compressed (benchmarks/export_sweep.py): {plain[:3]}"


def test_find_wheel_wants_exactly_one(tmp_path: Path) -> None:
    for name in ("optree-0.20.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                 "optree-0.20.0-cp312-cp312-manylinux_2_28_x86_64.whl",
                 "optree-0.19.0-cp312-cp312-manylinux_2_28_x86_64.whl"):
        (tmp_path / name).write_bytes(b"")
    assert bundle.find_wheel(tmp_path, "optree", "0.20.0", "3.12").name.startswith(
        "optree-0.20.0-cp312")
    with pytest.raises(bundle.BundleError, match="0 wheels"):
        bundle.find_wheel(tmp_path, "optree", "0.20.0", "3.13")


def test_ensure_excluded_is_idempotent(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    path = bundle.ensure_excluded(tmp_path, ".gpu_bundle")
    bundle.ensure_excluded(tmp_path, ".gpu_bundle")
    assert path.read_text().splitlines().count("/.gpu_bundle/") == 1
    (tmp_path / ".gpu_bundle").mkdir()
    (tmp_path / ".gpu_bundle" / "x").write_text("x")
    status = subprocess.run(["git", "status", "--porcelain"], cwd=tmp_path, capture_output=True,
                            text=True, check=True).stdout
    assert ".gpu_bundle" not in status


def test_check_out_enforces_the_device_limits(tmp_path: Path) -> None:
    for i in range(8):
        (tmp_path / f"f{i}.txt").write_text("x")
    assert len(windowkit.check_out(tmp_path)) == 8
    (tmp_path / "f8.txt").write_text("x")
    with pytest.raises(windowkit.WindowError, match="9 files"):
        windowkit.check_out(tmp_path)
    for p in tmp_path.iterdir():
        p.unlink()
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "f.txt").write_text("x")
    with pytest.raises(windowkit.WindowError, match="2 folders"):
        windowkit.check_out(tmp_path)
    (deep / "f.txt").unlink()
    with open(tmp_path / "big.bin", "wb") as f:
        f.truncate(16 * 2**20 + 1)
    with pytest.raises(windowkit.WindowError, match="over 16 MiB"):
        windowkit.check_out(tmp_path)


def test_window_plans_are_single_waves_of_the_asked_runs(tmp_path: Path) -> None:
    w1, w2, w3 = (_load(f"window{i}").WINDOW for i in (1, 2, 3))
    for w in (w1, w2, w3):
        w.check()
        assert w.budget_s <= 9.5 * 60 - 20  # the install and packing fit in the rest
    (sk,) = w1.stages[0].sweeps
    assert sk.n_runs() == 8 and sk.config["train"]["obs"] == "pixels"
    assert sk.config["train"]["reward_processing"] == "sign" and sk.group == ()
    (abl,) = w2.stages[0].sweeps
    shipped = yaml.safe_load((ROOT / "agents" / "sweeps" / "shaping_ablation.yml").read_text())
    w2_module = _load("window2")
    arms = [a for a in shipped["algos"] if a["name"] in w2_module.ARMS]
    assert abl.config["algos"] == arms and len(arms) == len(w2_module.ARMS) == 6
    assert len(abl.config["seeds"]) >= 5 and abl.n_runs() == 5 * len(arms)
    gone = dict(shipped, algos=[a for a in shipped["algos"] if a["name"] != "ppo_gate4"])
    (tmp_path / "abl.yml").write_text(yaml.safe_dump(gone))
    with pytest.raises(ValueError, match="has no arm ppo_gate4"):  # renamed, not dropped
        w2_module.ablation_config(tmp_path / "abl.yml")
    games, algos = w3.stages[0].sweeps
    assert games.n_runs() == 8 and algos.n_runs() == 16
    bad = windowkit.Window(9, "t", [windowkit.Stage("s", [windowkit.Sweep(
        dict(sk.config), workers=2)])])
    with pytest.raises(windowkit.WindowError, match="every run must start at once"):
        bad.check()


def test_step_targets_reach_the_sweep_by_group(tmp_path: Path) -> None:
    from agents.sweep import load_config

    sw = windowkit.Sweep({"name": "t", "games": ["Pong", "Skiing"], "algos": ["a2c", "pg"],
                          "shaping": ["manual", "none"], "seeds": [0]}, workers=8, unit=100)
    measured = {"Pong-a2c-manual-s0": {"rate": 100.0}, "Skiing-a2c-none-s0": {"rate": 80.0},
                "Pong-pg-none-s0": {"rate": 30.0}}
    targets = windowkit.step_targets(sw, measured, 50.0)
    assert targets == {("a2c",): 4000, ("pg",): 1500}  # the slowest run of each arm
    windowkit.write_sweep(sw, tmp_path / "t.yml", targets)
    steps = {(r.arm, r.game, r.shaping): r.steps for r in load_config(tmp_path / "t.yml").runs()}
    assert set(steps.values()) == {4000, 1500}
    assert all(n == (4000 if arm == "a2c" else 1500) for (arm, _, _), n in steps.items())
    one = windowkit.Sweep(sw.config, workers=8, unit=100, group=())
    assert windowkit.step_targets(one, measured, 50.0) == {(): 1500}


def test_fastpath_digest_flags_a_difference(tmp_path: Path) -> None:
    shipped = json.loads((GPU / "fastpath_digests.json").read_text())
    ref = dict(shipped, obs=["pixels"], digests={"Skiing": {"pixels": "0" * 16}})
    (tmp_path / "ref.json").write_text(json.dumps(ref))
    proc = subprocess.run([sys.executable, str(GPU / "fastpath_digest.py"), "--reference",
                           str(tmp_path / "ref.json"), "--json", str(tmp_path / "d.json")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1 and "DIFFERS" in proc.stdout, proc.stdout + proc.stderr
    got = json.loads((tmp_path / "d.json").read_text())
    assert got["digests"]["Skiing"]["pixels"] == shipped["digests"]["Skiing"]["pixels"]


@pytest.mark.slow
@pytest.mark.parametrize("number", [1, 2, 3])
def test_window_dry_run_brings_back_what_the_device_allows(number: int, tmp_path: Path) -> None:
    out, work = tmp_path / "out", tmp_path / "work"
    proc = subprocess.run([sys.executable, str(GPU / f"window{number}.py"), "--dry-run",
                           "--out", str(out), "--work", str(work)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    listing = windowkit.check_out(out)
    names = {f["file"] for f in listing}
    sweeps = [sw.name for st in _load(f"window{number}").WINDOW.stages for sw in st.sweeps]
    assert {"window.log", "window.json", "runs.tar.gz",
            *(f"report-{s}.md" for s in sweeps)} <= names
    record = json.loads((out / "window.json").read_text())
    assert record["dry_run"] and "error" not in record
    assert record["seconds"] <= windowkit.dry_budget(_load(f"window{number}").WINDOW) + 30
    for stage in record["stages"]:
        for name, sw in stage["sweeps"].items():
            assert len(sw["results"]) == 2, (name, sw)  # both runs finished, evaluated
            targets = set(sw["steps"].values())
            got = [int(r["steps"]) for r in sw["results"]]
            assert min(got) >= min(targets)  # a last rollout may overshoot, never fall short
            if len(targets) == 1:
                assert len(set(got)) == 1  # compared runs trained alike
    with tarfile.open(out / "runs.tar.gz") as tar:
        members = tar.getnames()
    assert members and not any("checkpoints" in m for m in members)
    assert any(m.endswith("summary.json") for m in members)
    if number == 1:
        assert json.loads((out / "digest.json").read_text())["digests"]["Skiing"]
        tp = json.loads((out / "throughput.json").read_text())
        assert {(r["shaping"], r["n_envs"]) for r in tp["runs"]} == {("none", 2), ("manual", 2)}


def test_kit_doctests() -> None:
    import doctest

    for mod in (bundle, windowkit):
        result = doctest.testmod(mod)
        assert result.attempted > 0 and result.failed == 0, mod.__name__
