"""Sign accuracy of the manual reader on real third-party manuals (issue 16).

Usage::

    python benchmarks/read_accuracy.py DIR [--backend NAME] [--split tune|heldout|all]
                                           [--games GAME ...] [--json OUT]
    python benchmarks/read_accuracy.py --check-split

``DIR`` holds one text per game of the manifest (``benchmarks/real_manuals/manifest.yaml``),
named ``<Game>.txt``.  The texts are someone else's words and live outside the repository;
the manifest records where they came from and their SHA-256, and a missing or changed text
is reported and skipped, never scored silently.  For every game, the reward table is built
from the text with the chosen backend (cache off) and compared with the hand labels:

* sign accuracy: positive/negative labels whose reward has that sign (right/total);
* right / 0 / wrong sign: signed labels with that sign, with 0 (the reader abstained) and
  with the opposite sign (the harmful miss);
* neutral paid: neutral labels that got a non-zero reward.

Misses are listed with the first evidence sentence, on the terminal only; ``--json`` writes
the numbers without any manual text.  The exit status is 1 when nothing could be evaluated.

Example (no texts needed; checks that the manifest's split follows its stated rule)::

    $ python benchmarks/read_accuracy.py --check-split
    split OK: seed 17 holds out Frogger, Hero, Kangaroo, MontezumaRevenge, Pong, RoadRunner, Skiing
      seed frozen (...); held out now: 23 non-neutral, 28 neutral labels, BELOW the rule's minimum of 25 / 5
    split OK (split_rule.added[0]): seed 23 holds out Alien, Amidar, Centipede, Gopher, Venture
    split OK (split_rule.added[1]): all ... games held out (no seed): ...
      held out: ... non-neutral, ... neutral labels

Run it from the repository root with ``PYTHONPATH=.`` (or as ``python -m`` from a checkout
that is the installed one): run as a script, ``benchmarks/`` comes first on ``sys.path`` and an
editable install elsewhere would supply the reader being measured.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import inspect
import json
import os
import platform
import random
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from envs.interactions import event_key

MANIFEST = Path(__file__).with_name("real_manuals") / "manifest.yaml"
LABELS = ("positive", "negative", "neutral")
SPLITS = ("tune", "heldout")
SIGN = {"positive": 1, "negative": -1, "neutral": 0}
#: Evidence shown for a miss is cut to this many characters (terminal only).
EVIDENCE_CHARS = 110


class ManifestError(ValueError):
    """The manifest is unreadable or does not follow its schema."""


@dataclass(frozen=True)
class Label:
    """One hand label: a category (or ``Category:event``) of a game."""

    category: str
    label: str
    event: str | None = None
    #: The text's own words for the object, lower case (ground truth for grounding).
    words: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.category}:{self.event}" if self.event else self.category


@dataclass(frozen=True)
class GameEntry:
    """A game of the manifest."""

    name: str
    sha256: str
    split: str
    labels: tuple[Label, ...]


@dataclass
class Item:
    """A label compared with the table's reward."""

    name: str
    label: str
    reward: float
    evidence: str = ""

    @property
    def sign(self) -> int:
        return (self.reward > 0) - (self.reward < 0)

    @property
    def right(self) -> bool:
        return self.sign == SIGN[self.label]


@dataclass
class GameResult:
    """Scores of one evaluated game."""

    game: str
    split: str
    items: list[Item]
    skipped_labels: list[str] = field(default_factory=list)
    text_status: str = "ok"
    seconds: float = 0.0

    @property
    def signed(self) -> list[Item]:
        return [i for i in self.items if i.label != "neutral"]

    @property
    def neutral(self) -> list[Item]:
        return [i for i in self.items if i.label == "neutral"]


@dataclass
class Tally:
    """Totals over several games."""

    games: int = 0
    right: int = 0
    signed: int = 0
    neutral_rewarded: int = 0
    neutral: int = 0
    #: Signed labels that got 0 (the reader abstained) and the opposite sign (the
    #: harmful miss: it pays the agent to seek what the text says hurts it).
    abstained: int = 0
    wrong: int = 0

    def add(self, r: GameResult) -> None:
        self.games += 1
        self.right += sum(i.right for i in r.signed)
        self.signed += len(r.signed)
        self.abstained += sum(i.sign == 0 for i in r.signed)
        self.wrong += sum(i.sign == -SIGN[i.label] for i in r.signed)
        self.neutral_rewarded += sum(not i.right for i in r.neutral)
        self.neutral += len(r.neutral)

    @property
    def accuracy(self) -> float | None:
        return self.right / self.signed if self.signed else None


def load_manifest(path: str | Path = MANIFEST) -> tuple[dict[str, Any], dict[str, GameEntry]]:
    """Read and check the manifest.

    Returns:
        The raw document and the games by canonical name.

    Raises:
        ManifestError: unreadable file or a field out of schema.
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ManifestError(f"cannot read manifest {path}: {err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("games"), dict) or not doc["games"]:
        raise ManifestError(f"manifest {path} has no 'games' mapping")
    games = {}
    for name, entry in doc["games"].items():
        where = f"manifest {path}, game {name}"
        if not isinstance(entry, dict):
            raise ManifestError(f"{where}: entry must be a mapping")
        sha, split, labels = entry.get("sha256"), entry.get("split"), entry.get("labels")
        if not isinstance(sha, str) or len(sha) != 64:
            raise ManifestError(f"{where}: sha256 must be 64 hex digits, got {sha!r}")
        if split not in SPLITS:
            raise ManifestError(f"{where}: split must be one of {SPLITS}, got {split!r}")
        if not isinstance(labels, dict) or not labels:
            raise ManifestError(f"{where}: labels must map categories to labels")
        parsed = []
        for cat, v in labels.items():
            label, words = _label_of(v, f"{where}, {cat}")
            parsed.append(Label(cat, label, words=words))
        for cat, events in (entry.get("events") or {}).items():
            if not isinstance(events, dict):
                raise ManifestError(f"{where}: events of {cat} must map event names to labels")
            parsed += [Label(cat, _label_of(v, f"{where}, {cat}:{ev}")[0], ev)
                       for ev, v in events.items()]
        games[name] = GameEntry(name, sha.lower(), split, tuple(parsed))
    return doc, games


def _label_of(value: Any, where: str) -> tuple[str, tuple[str, ...]]:
    """A label entry's ``(label, words)``, checked."""
    label = value.get("label") if isinstance(value, dict) else value
    words = value.get("words", []) if isinstance(value, dict) else []
    # The text's own words for the object (ground truth for the reader's grounding step).
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise ManifestError(f"{where}: words must be a list of non-empty strings, got {words!r}")
    if label not in LABELS:
        raise ManifestError(f"{where}: label must be one of {LABELS}, got {label!r}")
    return label, tuple(w.strip().lower() for w in words)


def check_text(directory: Path, entry: GameEntry) -> tuple[str, Path]:
    """``("ok" | "missing" | "changed", path)`` for the game's text in ``directory``."""
    path = directory / f"{entry.name}.txt"
    if not path.is_file():
        return "missing", path
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return ("ok" if digest == entry.sha256 else "changed"), path


def score(entry: GameEntry, table: Any, categories: Sequence[str]) -> tuple[list[Item], list[str]]:
    """Compare a reward table with a game's labels.

    Args:
        entry: The game's labels.
        table: A :class:`reward_shaping.table.RewardTable` (``objects``: event key, e.g.
            ``Tree`` or ``Gate:pass``, -> entry with ``reward`` and ``evidence``).
        categories: The categories the game registry knows for this game.

    Returns:
        The scored items and, for labels that cannot be scored, a reason each.
    """
    items, skipped = [], []
    for lab in entry.labels:
        if lab.category not in categories:
            skipped.append(f"{lab.name}: the game registry has no {lab.category} category")
            continue
        key = event_key(lab.category, lab.event or "touch")
        obj = table.objects.get(key)
        if obj is None:
            skipped.append(f"{lab.name}: the reward table has no {key} entry")
            continue
        evidence = obj.evidence[0] if getattr(obj, "evidence", None) else ""
        items.append(Item(lab.name, lab.label, float(obj.reward), evidence))
    return items, skipped


#: ``heldout_fraction`` of a stage whose games are all held out (no draw, no seed).
ALL_HELD_OUT = "all"
#: Fields of a drawn stage that a stage holding out all its games must not have.
_DRAW_FIELDS = ("seed", "first_seed", "seed_frozen", "min_heldout_non_neutral", "min_heldout_neutral")


def holds_out_all(rule: Mapping[str, Any]) -> bool:
    """Whether a stage holds out every one of its games (``heldout_fraction: all``)."""
    return rule.get("heldout_fraction") == ALL_HELD_OUT


def _derive_stage(rule: Mapping[str, Any], games: Mapping[str, GameEntry], where: str) -> tuple[int | None, set[str]]:
    """One stage of the split: per stratum (sorted by name, in the rule's order), one
    ``random.Random(seed)`` samples ``round(n / 3)`` games; the seed counts up from ``first_seed``
    until this stage's held-out games have enough non-neutral and neutral labels.  A stage with
    ``seed_frozen`` keeps its recorded seed (chosen so on an earlier version's labels): only the
    draw is re-derived.  A stage with ``heldout_fraction: all`` holds out all its games: no draw,
    seed ``None``."""
    if not isinstance(rule, Mapping) or not isinstance(rule.get("strata"), Mapping):
        raise ManifestError(f"{where} has no strata")
    strata = [sorted(s) for s in rule["strata"].values()]
    unknown = [g for s in strata for g in s if g not in games]
    if unknown:
        raise ManifestError(f"{where} lists games the manifest does not have: {', '.join(unknown)}")
    if holds_out_all(rule):
        return None, {g for s in strata for g in s}
    if rule.get("seed_frozen") is not None:
        # The seed was chosen (by the search below) on an earlier version's labels and is kept
        # when labels change later; only its draw is re-derived, so a game moved by hand still
        # shows.  _check_split reports the held-out counts under the current labels.
        if not isinstance(rule["seed_frozen"], Mapping) or not isinstance(rule.get("seed"), int):
            raise ManifestError(f"{where}: seed_frozen needs a mapping and an integer seed")
        return rule["seed"], _draw(strata, rule["seed"])
    first = int(rule.get("first_seed", 0))
    for seed in range(first, first + 10_000):
        held = _draw(strata, seed)
        signed, neutral = heldout_counts(held, games)
        if (signed >= rule.get("min_heldout_non_neutral", 0)
                and neutral >= rule.get("min_heldout_neutral", 0)):
            return seed, held
    raise ManifestError(f"no seed satisfies the minimum label counts of {where}")


def _draw(strata: Sequence[Sequence[str]], seed: int) -> set[str]:
    rng = random.Random(seed)
    return {g for s in strata for g in rng.sample(list(s), round(len(s) / 3))}


def heldout_counts(held: set[str], games: Mapping[str, GameEntry]) -> tuple[int, int]:
    """``(non-neutral, neutral)`` category labels (events not counted) of the games ``held``."""
    labels = [lab.label for g in held for lab in games[g].labels if lab.event is None]
    signed = sum(lab != "neutral" for lab in labels)
    return signed, len(labels) - signed


def split_stages(doc: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The manifest's split stages, in order: ``split_rule`` itself (the first 21 games), then
    each entry of ``split_rule.added`` (games added later, each stage with its own generator, or
    with ``heldout_fraction: all`` and no seed when every game of the stage is held out).

    Raises:
        ManifestError: a stage without strata (a mapping of non-empty lists of game names), a
            drawn stage without an integer ``seed``, or a stage holding out all its games that
            also has a seed, a first seed, a frozen seed or minimum counts.
    """
    rule = doc.get("split_rule")
    if not isinstance(rule, Mapping) or not isinstance(rule.get("strata"), Mapping):
        raise ManifestError("manifest has no split_rule with strata")
    added = rule.get("added") or []
    if not isinstance(added, list):
        raise ManifestError("split_rule.added must be a list of stages")
    stages = [("split_rule", rule)] + [(f"split_rule.added[{i}]", r) for i, r in enumerate(added)]
    for where, stage in stages:
        _check_stage(stage, where, first=where == "split_rule")
    return stages


def _check_stage(stage: Any, where: str, first: bool) -> None:
    if not isinstance(stage, Mapping):
        raise ManifestError(f"{where} must be a mapping (strata, heldout_fraction, seed, ...)")
    strata = stage.get("strata")
    if not isinstance(strata, Mapping) or not strata:
        raise ManifestError(f"{where} has no strata (a mapping of stratum name -> games)")
    for name, members in strata.items():
        if (not isinstance(members, list) or not members
                or not all(isinstance(g, str) and g for g in members)):
            raise ManifestError(f"{where}, stratum {name}: must be a non-empty list of game names, got {members!r}")
    if holds_out_all(stage):
        if first:
            raise ManifestError(f"{where}: the first stage must be drawn (tune and held out); "
                                f"heldout_fraction: {ALL_HELD_OUT} is for an added stage only")
        extra = [k for k in _DRAW_FIELDS if k in stage]
        if extra:
            raise ManifestError(f"{where}: heldout_fraction: {ALL_HELD_OUT} holds out every game without a "
                                f"draw, so it takes no {', '.join(extra)}")
    elif not isinstance(stage.get("seed"), int) or isinstance(stage.get("seed"), bool):
        raise ManifestError(f"{where}: a drawn stage needs an integer seed, got {stage.get('seed')!r} "
                            f"(or heldout_fraction: {ALL_HELD_OUT} if every game is held out)")


def derive_splits(doc: Mapping[str, Any], games: Mapping[str, GameEntry]) -> list[tuple[str, int | None, set[str]]]:
    """Re-derive every stage of the split: ``(stage, seed, held-out games)`` per stage (seed
    ``None`` for a stage that holds out all its games).

    Together the stages' strata must list every game of the manifest exactly once.
    """
    stages = split_stages(doc)
    listed = [g for _, r in stages for s in r["strata"].values() for g in s]
    if sorted(listed) != sorted(games):
        twice = sorted({g for g in listed if listed.count(g) > 1})
        missing = sorted(set(games) - set(listed))
        raise ManifestError("split_rule strata (and its added stages') must list every game exactly once"
                            + (f"; listed more than once: {', '.join(twice)}" if twice else "")
                            + (f"; in no stratum: {', '.join(missing)}" if missing else ""))
    return [(where, *_derive_stage(r, games, where)) for where, r in stages]


def derive_split(doc: Mapping[str, Any], games: Mapping[str, GameEntry]) -> tuple[int, set[str]]:
    """The first stage's seed and all held-out games (every stage); kept for callers of the
    one-stage manifest, where it is exactly that stage's seed and held-out games."""
    stages = derive_splits(doc, games)
    return stages[0][1], {g for _, _, held in stages for g in held}


def _check_split(doc: Mapping[str, Any], games: Mapping[str, GameEntry]) -> int:
    stages = derive_splits(doc, games)
    recorded = {g for g, e in games.items() if e.split == "heldout"}
    status = 0
    for (where, seed, held), (_, rule) in zip(stages, split_stages(doc)):
        stage_games = {g for s in rule["strata"].values() for g in s}
        mine = recorded & stage_games
        label = "" if where == "split_rule" else f" ({where})"
        if holds_out_all(rule):
            if held != mine:
                print(f"split MISMATCH in {where}: every game of this stage is held out "
                      f"(heldout_fraction: {ALL_HELD_OUT}); the manifest records tune for "
                      f"{', '.join(sorted(held - mine))}", file=sys.stderr)
                status = 1
            else:
                signed, neutral = heldout_counts(held, games)
                print(f"split OK{label}: all {len(held)} games held out (no seed): {', '.join(sorted(held))}")
                print(f"  held out: {signed} non-neutral, {neutral} neutral labels")
            continue
        if seed != rule.get("seed") or held != mine:
            print(f"split MISMATCH in {where}: the rule gives seed {seed} holding out "
                  f"{', '.join(sorted(held))}; the manifest records seed {rule.get('seed')} holding out "
                  f"{', '.join(sorted(mine))}", file=sys.stderr)
            status = 1
        else:
            print(f"split OK{label}: seed {seed} holds out {', '.join(sorted(held))}")
            if rule.get("seed_frozen") is not None:
                signed, neutral = heldout_counts(held, games)
                short = (signed < rule.get("min_heldout_non_neutral", 0)
                         or neutral < rule.get("min_heldout_neutral", 0))
                print(f"  seed frozen ({rule['seed_frozen'].get('why', 'chosen on earlier labels')}); held out now: "
                      f"{signed} non-neutral, {neutral} neutral labels"
                      + (f", BELOW the rule's minimum of {rule.get('min_heldout_non_neutral', 0)} / "
                         f"{rule.get('min_heldout_neutral', 0)}" if short else ""))
    return status


def _parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        # KEY=VALUE only: a bare word would silently become a boolean or be dropped.
        if not sep or not key.isidentifier():
            raise ValueError(f"--option takes KEY=VALUE, got {pair!r}")
        options[key] = yaml.safe_load(value) if value else ""
    return options


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    from reward_shaping.reasoning import BACKENDS
    from reward_shaping.table import build_reward_table

    # The project's default backend is whatever the table builder uses by default.
    default = inspect.signature(build_reward_table).parameters["backend"].default
    p = argparse.ArgumentParser(
        prog="python benchmarks/read_accuracy.py",
        description="Sign accuracy of the manual reader on real third-party manual texts: reward "
        "tables built from the texts in DIR are compared with the hand labels of the manifest.",
        epilog="Misses are printed with their first evidence sentence (terminal only); --json "
        "writes numbers only. Exit status 1 when no game could be evaluated.")
    p.add_argument("dir", nargs="?", type=Path, metavar="DIR", help="directory with <Game>.txt texts")
    p.add_argument("--backend", choices=sorted(BACKENDS), default=default,
                   help=f"reasoning backend (default: {default}, the table builder's default)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="backend keyword argument, repeatable (e.g. model=llama3.1)")
    p.add_argument("--split", choices=(*SPLITS, "all"), default="all",
                   help="which games to evaluate (default: all, reported per split)")
    p.add_argument("--games", nargs="+", metavar="GAME", help="only these games of the manifest")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the numbers (no manual text) here")
    p.add_argument("--manifest", type=Path, default=MANIFEST,
                   help="default: real_manuals/manifest.yaml beside this script")
    p.add_argument("--allow-changed", action="store_true",
                   help="score texts whose SHA-256 differs from the manifest (marked 'changed')")
    p.add_argument("--check-split", action="store_true",
                   help="only check that the manifest's split follows its rule (no DIR needed)")
    args = p.parse_args(argv)
    if args.dir is None and not args.check_split:
        p.error("DIR is required (or use --check-split)")
    if args.dir is not None and not args.dir.is_dir():
        p.error(f"DIR {args.dir} is not a directory")
    try:
        args.options = _parse_options(args.option)
    except ValueError as err:
        p.error(str(err))
    return args


def _select(games: Mapping[str, GameEntry], names: Sequence[str] | None, split: str) -> list[GameEntry]:
    from envs.games import resolve_game

    chosen = list(games.values())
    if names:
        wanted = set()
        for name in names:
            canonical = resolve_game(name).name
            if canonical not in games:
                raise ManifestError(f"{canonical} is not in the manifest; it has: {', '.join(games)}")
            wanted.add(canonical)
        chosen = [e for e in chosen if e.name in wanted]
    return [e for e in chosen if split == "all" or e.split == split]


def _line(t: Tally) -> str:
    acc = f"{t.accuracy:.1%}" if t.accuracy is not None else "n/a"
    return (f"signs {t.right}/{t.signed} ({acc}) right, {t.abstained} 0, {t.wrong} wrong sign; "
            f"neutral paid {t.neutral_rewarded}/{t.neutral}")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parse_args(argv)
    from envs.games import UnknownGameError, resolve_game
    from manuals import ManualError
    from reward_shaping.encoder import EncoderUnavailableError
    from reward_shaping.reasoning import ReasoningError
    from reward_shaping.table import RewardTableError, atomic_write_text, build_reward_table

    build_errors = (ManualError, RewardTableError, ReasoningError, EncoderUnavailableError, ValueError)

    try:
        doc, games = load_manifest(args.manifest)
        if args.check_split:
            return _check_split(doc, games)
        selected = _select(games, args.games, args.split)
    except (ManifestError, UnknownGameError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not selected:
        print("error: no game of the manifest matches --games/--split", file=sys.stderr)
        return 1
    print(f"{len(selected)} games, {args.backend} backend, texts in {args.dir}")
    results, unavailable, backend_settings = [], {}, None
    for entry in selected:
        status, path = check_text(args.dir, entry)
        if status == "missing" or (status == "changed" and not args.allow_changed):
            why = ("no text" if status == "missing"
                   else "text differs from the manifest's sha256 (re-gathered? use --allow-changed)")
            unavailable[entry.name] = f"{status}: {why} ({path})"
            print(f"SKIPPED {entry.name}: {unavailable[entry.name]}", file=sys.stderr)
            continue
        start = time.perf_counter()
        try:
            table = build_reward_table(entry.name, path, backend=args.backend,
                                       backend_options=args.options, use_cache=False)
        except build_errors as err:  # reported per game; the other games still run
            unavailable[entry.name] = f"build failed: {type(err).__name__}: {err}"
            print(f"SKIPPED {entry.name}: {unavailable[entry.name]}", file=sys.stderr)
            continue
        backend_settings = table.settings
        items, skipped = score(entry, table, resolve_game(entry.name).categories)
        result = GameResult(entry.name, entry.split, items, skipped, status,
                            time.perf_counter() - start)
        results.append(result)
        _print_game(result)
    if not results:
        print("error: no game could be evaluated (see SKIPPED above)", file=sys.stderr)
        return 1
    tallies = {s: Tally() for s in (*SPLITS, "all")}
    for r in results:
        tallies[r.split].add(r)
        tallies["all"].add(r)
    print()
    for name, t in tallies.items():
        if t.games:
            print(f"{name:<8} {t.games:>2} games: {_line(t)}")
    if unavailable:
        print(f"{len(unavailable)} game(s) skipped: {', '.join(unavailable)}", file=sys.stderr)
    if args.json:
        atomic_write_text(args.json, json.dumps(
            _report(args, doc, results, tallies, unavailable, backend_settings), indent=1))
        print(f"wrote {args.json}")
    return 0


def _print_game(r: GameResult) -> None:
    t = _tally(r)
    mark = " [changed text]" if r.text_status == "changed" else ""
    print(f"{r.game:<18}{r.split:<8} {_line(t)}  ({r.seconds:.1f} s){mark}")
    for i in r.items:
        if not i.right:
            ev = i.evidence if len(i.evidence) <= EVIDENCE_CHARS else i.evidence[:EVIDENCE_CHARS - 1] + "…"
            print(f"    miss {i.name:<20} label {i.label:<8} reward {i.reward:+.1f}  {ev!r}")
    for why in r.skipped_labels:
        print(f"    not scored: {why}")


def _report(args: argparse.Namespace, doc: Mapping[str, Any], results: list[GameResult],
            tallies: Mapping[str, Tally], unavailable: Mapping[str, str],
            settings: Mapping[str, Any] | None) -> dict[str, Any]:
    def numbers(t: Tally) -> dict[str, Any]:
        return {**asdict(t), "accuracy": t.accuracy}

    manifest_bytes = Path(args.manifest).read_bytes()
    return {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "backend": args.backend,
        "backend_options": args.options,
        "backend_settings": settings,
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "manifest_version": doc.get("version"),
        "split_filter": args.split,
        "splits": {name: numbers(t) for name, t in tallies.items() if t.games},
        "games": {r.game: {"split": r.split, "text": r.text_status, "seconds": round(r.seconds, 2),
                           **{k: v for k, v in asdict(_tally(r)).items() if k != "games"},
                           "misses": [{"category": i.name, "label": i.label, "reward": i.reward}
                                      for i in r.items if not i.right],
                           "not_scored": r.skipped_labels}
                  for r in results},
        "skipped_games": dict(unavailable),
    }


def _tally(r: GameResult) -> Tally:
    t = Tally()
    t.add(r)
    return t


if __name__ == "__main__":
    sys.exit(main())
