"""A run's logs exported compressed (``episodes.csv.gz``) read like the plain ones, by
every reader: the report, the health checks, the sweep's best score, the benchmark
scripts; and the export is reproducible and leaves no stale plain copy behind."""

from __future__ import annotations

import csv
import gzip

import pytest
from conftest import load_script

from agents.health import check_run
from agents.runlogs import EPISODES, PROGRESS, compress_log, has_log, log_path, open_log
from agents.sweep import _best_score


def skiing_run(run_dir, episodes=120):
    """A Skiing run directory as training leaves it: a config, episodes (the last half at
    the clock: a stall), progress rows."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text("game: Skiing\nshaping: none\nenv: {frame_skip: 4}\n")
    rows = ["step,env,score,length,aux_return,contacts,paid"]
    rows += [f"{1000 * k},0,{-16000 + k if k < episodes // 2 else -29970},"
             f"{1150 if k < episodes // 2 else 4503},0,{{}},{{}}" for k in range(1, episodes + 1)]
    (run_dir / EPISODES).write_text("\n".join(rows) + "\n")
    (run_dir / PROGRESS).write_text("time/total_timesteps,time/time_elapsed\n"
                                    + "".join(f"{s},{s / 1000}\n" for s in range(0, 120_001, 10_000)))
    return run_dir


def pack(run_dir):
    """Replace the plain logs by compressed ones, as an export leaves them."""
    for name in (EPISODES, PROGRESS):
        compress_log(run_dir / name, run_dir / (name + ".gz"))
        (run_dir / name).unlink()
    return run_dir


def test_the_plain_log_wins_and_a_missing_one_is_named(tmp_path):
    run = skiing_run(tmp_path / "r")
    assert log_path(run, EPISODES) == run / EPISODES
    compress_log(run / EPISODES, run / "episodes.csv.gz")
    assert log_path(run, EPISODES) == run / EPISODES  # the one training still appends to
    (run / EPISODES).unlink()
    assert log_path(run, EPISODES) == run / "episodes.csv.gz"
    (run / "episodes.csv.gz").unlink()
    assert not has_log(run, EPISODES) and log_path(run, EPISODES) is None
    with pytest.raises(FileNotFoundError, match=r"episodes\.csv not found \(nor episodes\.csv\.gz\)"):
        open_log(run, EPISODES)
    with pytest.raises(ValueError, match="must end in .gz"):
        compress_log(run / PROGRESS, run / "progress.csv.copy")


def test_compression_is_reproducible_and_lossless(tmp_path):
    run = skiing_run(tmp_path / "r")
    first = compress_log(run / EPISODES, tmp_path / "a.csv.gz").read_bytes()
    second = compress_log(run / EPISODES, tmp_path / "b.csv.gz").read_bytes()
    assert first == second  # no name or time in the header: a re-export changes nothing
    assert gzip.decompress(first) == (run / EPISODES).read_bytes()
    assert len(first) < (run / EPISODES).stat().st_size / 3
    assert not list(tmp_path.glob(".*.tmp"))


def test_every_reader_reads_a_compressed_run_as_the_plain_one(tmp_path):
    plain = skiing_run(tmp_path / "plain")
    packed = pack(skiing_run(tmp_path / "packed"))
    assert not (packed / EPISODES).exists()
    # The health checks (python -m agents.health, the report's flag recheck).
    report = check_run(packed)
    assert report == check_run(plain) and report["stall"]
    # The sweep's best score.
    assert _best_score(packed) == _best_score(plain) is not None
    # The report's curves.
    from agents.report import episodes
    assert all((a == b).all() for a, b in zip(episodes(packed, 4), episodes(plain, 4)))
    assert len(episodes(packed, 4)[0]) == 120
    # benchmarks/skiing_hour.py: the episodes and the training clock from progress.csv.
    hour = load_script("benchmarks/skiing_hour.py")
    for read in (hour.training_curve, hour.training_clock):
        assert all((a == b).all() for a, b in zip(read(packed), read(plain)))
    # benchmarks/plot_curves.py.
    binned = load_script("benchmarks/plot_curves.py").binned
    assert binned(packed, 10_000) == binned(plain, 10_000)


def test_export_compresses_the_logs_and_replaces_a_stale_plain_copy(tmp_path):
    export_sweep = load_script("benchmarks/export_sweep.py")
    sweep = tmp_path / "sweep"
    skiing_run(sweep / "runs" / "Skiing-ppo-none-s0")
    with open(sweep / "results.csv", "w", newline="") as f:
        csv.writer(f).writerows([["run_dir"], ["runs/Skiing-ppo-none-s0"]])
    dest = tmp_path / "out"
    stale = dest / "runs" / "Skiing-ppo-none-s0" / EPISODES
    stale.parent.mkdir(parents=True)
    stale.write_text("step,score\n1,0\n")  # an earlier export's plain copy
    assert export_sweep.main([str(sweep), str(dest)]) == 0
    run = dest / "runs" / "Skiing-ppo-none-s0"
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml", "episodes.csv.gz",
                                                     "progress.csv.gz"]
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    with open_log(run, EPISODES) as f:
        assert len(list(csv.DictReader(f))) == 120
    # Exporting again changes no byte; exporting the export copies its compressed logs.
    assert export_sweep.main([str(sweep), str(dest)]) == 0
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    (dest / "results.csv").write_text("run_dir\nruns/Skiing-ppo-none-s0\n")
    assert export_sweep.main([str(dest), str(tmp_path / "again")]) == 0
    again = tmp_path / "again" / "runs" / "Skiing-ppo-none-s0"
    assert {p.name: p.read_bytes() for p in again.iterdir()} == before


def test_a_damaged_compressed_log_is_a_clear_error_everywhere(tmp_path, capsys):
    from agents.report import main as report_main
    from agents.runlogs import CorruptLog
    from agents.runs import TrainError

    run = pack(skiing_run(tmp_path / "sweep" / "runs" / "Skiing-ppo-none-s0"))
    good = (run / "episodes.csv.gz").read_bytes()
    (tmp_path / "sweep" / "results.csv").write_text(
        "game,algo,shaping,seed,steps,frames,final_score,final_score_std,best_score,"
        "human_normalized,flags,wall_time_s,steps_per_s,run_dir\n"
        "Skiing,ppo,none,0,120000,480000,-29970,0,-15941,,,1,1,runs/Skiing-ppo-none-s0\n")
    for damaged in (good[: len(good) // 2], b"step,score\n1,2\n",
                    gzip.compress("step,score\n1,\xff\n".encode("latin-1"))):
        (run / "episodes.csv.gz").write_bytes(damaged)
        with pytest.raises(CorruptLog, match=r"episodes\.csv\.gz is corrupt .*export the run"):
            open_log(run, EPISODES)
        with pytest.raises(TrainError, match="is corrupt"):
            check_run(run)
        assert report_main([str(tmp_path / "sweep")]) == 2
        assert "episodes.csv.gz is corrupt" in capsys.readouterr().err
    (run / "episodes.csv.gz").write_bytes(good)
    assert report_main([str(tmp_path / "sweep")]) == 0
