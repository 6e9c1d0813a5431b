"""Calibrate the ``consequence`` reader to abstain rather than pay a wrong sign (issue 23).

Usage::

    python benchmarks/calibrate_reader.py DIR [--allow-changed] [--json OUT] [--record FILE]
    python benchmarks/calibrate_reader.py --from-record FILE [--json OUT]

A wrong sign is far worse for an agent than a 0: it pays the agent to seek what the manual
says kills it, and a paid neutral object teaches it to chase scenery.  The backend answers
yes/no only when one evidence sentence is at least ``min_stated`` clear, the weighted
p(yes) and p(no) differ by at least ``margin`` of their sum, and the weighted p(none) (the
sentences name the object without saying what touching it does) is at most ``max_neutral``;
otherwise 0, "uncertain" (:func:`reward_shaping.consequence.verdict`).  This script reads
every real-manual text of ``benchmarks/real_manuals/`` once, records the probabilities the
verdict rests on (``--record`` keeps them, numbers and labels only, for ``--from-record``),
and scores a grid of the three thresholds without reading again:

* on the **tune** split it picks the setting with the most right signs among those with
  **zero wrong signs and zero neutral objects paid** (the fewest of those two if none has
  zero; ties go to the lower thresholds, which answer more);
* it then reports that setting, and the shipped default, on the **held-out** split:
  right / 0 (abstained) / wrong sign, and neutral objects paid.

The held-out numbers never take part in the choice.  No manual text reaches ``--json``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from read_accuracy import (  # noqa: E402
    MANIFEST,
    SPLITS,
    GameResult,
    Item,
    ManifestError,
    Tally,
    check_text,
    load_manifest,
    split_stages,
)

from envs.interactions import event_key  # noqa: E402
from reward_shaping import reasoning  # noqa: E402
from reward_shaping.consequence import ConsequenceBackend, verdict  # noqa: E402

#: The grid: every pair is scored from the same recorded probabilities.
MIN_STATED = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MARGINS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
MAX_NEUTRAL = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)
#: The shipped thresholds (ConsequenceBackend's defaults): min_stated, margin, max_neutral.
DEFAULT = (0.3, 0.1, 1.0)


@dataclass(frozen=True)
class Reading:
    """What the backend computed for one labelled event: the verdict's inputs."""

    game: str
    split: str
    name: str
    label: str
    p_yes: float | None = None   # None: no sentence names the object (always 0)
    p_no: float | None = None
    p_max: float | None = None
    p_neutral: float | None = None


class RecordingBackend(ConsequenceBackend):
    """The consequence backend with its thresholds at 0, keeping each verdict's inputs."""

    name = "calibrate-record"

    def __init__(self, **kwargs) -> None:
        super().__init__(min_stated=0.0, margin=0.0, **kwargs)
        self.records: dict[tuple[str, str], tuple[float, float, float] | None] = {}
        self._last = None

    def probabilities(self, sentences, terms, kind="touch"):
        self._last = super().probabilities(sentences, terms, kind)
        return self._last

    def decide(self, game, category, terms, evidence, objective, kind="touch"):
        self._last = None
        d = super().decide(game, category, terms, evidence, objective, kind)
        key = (game, event_key(category, kind))
        if self._last is None or not len(self._last):
            self.records[key] = None
        else:
            self.records[key] = (d.p_yes, d.p_no, float(self._last[:, :2].max()), d.p_neutral)
        return d


def read_all(directory: Path, manifest: Path, allow_changed: bool) -> tuple[list[Reading], dict[str, str]]:
    """Read every available text once; the labelled events' readings and the skipped games."""
    from envs.games import resolve_game
    from reward_shaping.table import build_reward_table

    _, games = load_manifest(manifest)
    readings, skipped = [], {}
    recorder = {}

    def make(**kwargs):
        recorder["backend"] = RecordingBackend(**kwargs)
        return recorder["backend"]

    reasoning.BACKENDS[RecordingBackend.name] = make
    try:
        for name, entry in sorted(games.items()):
            status, path = check_text(directory, entry)
            if status == "missing" or (status == "changed" and not allow_changed):
                skipped[name] = f"text {status}"
                continue
            build_reward_table(name, path, backend=RecordingBackend.name, use_cache=False)
            records = recorder["backend"].records
            cats = resolve_game(name).categories
            for lab in entry.labels:
                if lab.category not in cats:
                    continue
                rec = records.get((name, event_key(lab.category, lab.event or "touch")))
                readings.append(Reading(name, entry.split, lab.name, lab.label, *(rec or (None,) * 4)))
    finally:
        reasoning.BACKENDS.pop(RecordingBackend.name, None)
    return readings, skipped


def tally(readings: Sequence[Reading], min_stated: float, margin: float,
          max_neutral: float = 1.0) -> dict[str, int]:
    """Right / abstained / wrong sign over signed labels, neutral paid, at these thresholds
    (counted by ``read_accuracy``'s :class:`Tally`, as the harness counts a table)."""
    items = []
    for r in readings:
        answer = "neutral" if r.p_yes is None else verdict(
            r.p_yes, r.p_no, r.p_max, min_stated, margin, r.p_neutral or 0.0, max_neutral)[0]
        items.append(Item(r.name, r.label, {"yes": 1.0, "no": -1.0, "neutral": 0.0}[answer]))
    t = Tally()
    t.add(GameResult("", "", items))
    return {"signed": t.signed, "right": t.right, "abstained": t.abstained, "wrong": t.wrong,
            "neutral": t.neutral, "neutral_paid": t.neutral_rewarded}


def grid() -> list[tuple[float, float, float]]:
    """Every (min_stated, margin, max_neutral) scored, the loosest first."""
    return [(s, m, n) for s in MIN_STATED for m in MARGINS for n in MAX_NEUTRAL]


def choose(readings: Sequence[Reading], points: Sequence[tuple[float, float, float]] | None = None
           ) -> tuple[float, float, float]:
    """The point of ``points`` (default: the whole :func:`grid`) with the most right signs
    among the safest (see the module docstring)."""
    def key(point):
        t = tally(readings, *point)
        # Ties: lower min_stated and margin, higher max_neutral (the point that answers more).
        return (t["wrong"] + t["neutral_paid"], -t["right"], point[0], point[1], -point[2])
    return min(grid() if points is None else points, key=key)


def save_record(path: Path, readings: Sequence[Reading], skipped: Mapping[str, str]) -> None:
    """Write the readings (game, split, label and the verdict's numbers; no text) atomically."""
    import json
    from dataclasses import asdict

    from reward_shaping.table import atomic_write_text
    atomic_write_text(path, json.dumps({"readings": [asdict(r) for r in readings],
                                        "skipped": dict(skipped)}, indent=0))


def load_record(path: Path) -> tuple[list[Reading], dict[str, str]]:
    """The readings :func:`save_record` wrote.

    Raises:
        ManifestError: the file is unreadable or not a record (a half-written or foreign
            file must not calibrate anything).
    """
    import json
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return [Reading(**r) for r in doc["readings"]], dict(doc.get("skipped", {}))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ManifestError(f"{path}: not a calibrate_reader record ({err})") from err


def _line(t: Mapping[str, int]) -> str:
    pct = f" ({100 * t['right'] / t['signed']:.0f}%)" if t["signed"] else ""
    return (f"right {t['right']}/{t['signed']}{pct}, 0 {t['abstained']}, wrong sign {t['wrong']}; "
            f"neutral paid {t['neutral_paid']}/{t['neutral']}")


def stages_of(manifest: Path) -> dict[str, str]:
    """Each game's split stage (``split_rule``, ``split_rule.added[0]``, ...)."""
    doc, _ = load_manifest(manifest)
    if "split_rule" not in doc:  # a manifest with splits recorded but no rule: no stages
        return {}
    return {g: where for where, rule in split_stages(doc)
            for stratum in rule["strata"].values() for g in stratum}


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 done, 1 nothing to calibrate on, 2 bad input."""
    p = argparse.ArgumentParser(prog="python benchmarks/calibrate_reader.py", description=(
        "Pick the consequence reader's abstention thresholds on the tune split (most right "
        "signs with zero wrong signs and zero neutral objects paid); report held out, "
        "in all and per stage of the real-manual set."))
    p.add_argument("dir", type=Path, metavar="DIR", nargs="?",
                   help="directory with <Game>.txt texts (not with --from-record)")
    p.add_argument("--manifest", type=Path, default=MANIFEST, help="labels (default: the shipped set)")
    p.add_argument("--allow-changed", action="store_true",
                   help="also read texts whose SHA-256 differs from the manifest's (re-gathered)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the numbers here")
    p.add_argument("--record", type=Path, metavar="FILE",
                   help="also keep what each verdict rests on (numbers and labels, no text) here")
    p.add_argument("--from-record", type=Path, metavar="FILE",
                   help="score a --record file instead of reading the texts again")
    args = p.parse_args(argv)
    # Exactly one source of readings: a record scored against texts would mix two runs.
    if (args.dir is None) == (args.from_record is None):
        p.error("give DIR or --from-record FILE (one of them)")
    try:
        if args.from_record:
            readings, skipped = load_record(args.from_record)
        else:
            readings, skipped = read_all(args.dir, args.manifest, args.allow_changed)
            if args.record:
                save_record(args.record, readings, skipped)
        stage = stages_of(args.manifest)
    except ManifestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    split = {s: [r for r in readings if r.split == s] for s in SPLITS}
    if not split["tune"]:
        print("error: no tune-split text to calibrate on", file=sys.stderr)
        return 1
    best = choose(split["tune"])
    print("tune, the best point per max_neutral (min_stated, margin, max_neutral):")
    for n in MAX_NEUTRAL:
        point = choose(split["tune"], [p for p in grid() if p[2] == n])
        mark = "  <- chosen" if point == best else ""
        print(f"  {point}: {_line(tally(split['tune'], *point))}{mark}")
    # The trade-off max_neutral alone buys at the shipped min_stated and margin (not a choice:
    # held out is shown beside tune so that the price is visible where it was not tuned).
    print("at the shipped min_stated and margin, per max_neutral:")
    trade = {}
    for n in MAX_NEUTRAL:
        point = (*DEFAULT[:2], n)
        trade[n] = {name: tally(rows, *point) for name, rows in split.items() if rows}
        print(f"  {n:.1f}  " + "  |  ".join(f"{name} {_line(t)}" for name, t in trade[n].items()))
    report = {"date": datetime.date.today().isoformat(),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
              "chosen": dict(zip(("min_stated", "margin", "max_neutral"), best)),
              "default": dict(zip(("min_stated", "margin", "max_neutral"), DEFAULT)),
              "skipped": skipped, "max_neutral_at_shipped": trade, "splits": {}}
    groups = [(name, rows) for name, rows in split.items()]
    groups += [(f"heldout {where}", [r for r in split["heldout"] if stage.get(r.game) == where])
               for where in sorted({stage.get(r.game) for r in split["heldout"]}, key=str)]
    for name, rows in groups:
        if not rows:
            continue
        chosen, default = tally(rows, *best), tally(rows, *DEFAULT)
        report["splits"][name] = {"chosen": chosen, "default": default,
                                  "games": len({r.game for r in rows})}
        print(f"{name}: {len({r.game for r in rows})} games")
        print(f"  chosen  {best}: {_line(chosen)}")
        print(f"  shipped {DEFAULT}: {_line(default)}")
    if args.json:
        import json

        from reward_shaping.table import atomic_write_text

        atomic_write_text(args.json, json.dumps(report, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
