"""How often grounding finds a real manual's words for its labelled objects (issue 23).

Usage::

    python benchmarks/grounding.py DIR [--split tune|heldout|all] [--games GAME ...]
                                       [--allow-changed] [--json OUT]

``DIR`` holds the real-manual texts of ``benchmarks/real_manuals/manifest.yaml`` (see its
README; the texts stay outside the repository).  For every labelled category whose label is
positive or negative, the text says what touching it does, so it must use *some* word for it:

* **grounded**: grounding (:mod:`reward_shaping.grounding`) found at least one of the
  category's candidate words in the text;
* **right words**, where the label lists the text's own ``words`` for the object: a found
  word is one of them (or one contains the other: "enemy sub" and "sub").

Neutral labels are counted apart (a neutral object is often never mentioned).  No backend is
run and no model is loaded: this takes seconds.  ``--json`` writes the numbers and the found
words per category (single words, never the text's sentences).

Example (the harness on a made-up text; real numbers need the real texts)::

    python benchmarks/grounding.py ~/real_manuals --split heldout
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from read_accuracy import MANIFEST, SPLITS, ManifestError, check_text, load_manifest  # noqa: E402

from envs.games import UnknownGameError, resolve_game  # noqa: E402
from reward_shaping.grounding import SOURCES, ground, ground_all  # noqa: E402
from reward_shaping.qa import split_sentences, term_pattern  # noqa: E402
from reward_shaping.table import atomic_write_text  # noqa: E402


@dataclass
class CategoryResult:
    """Grounding of one labelled category."""

    category: str
    label: str
    found: list[str]
    words: list[str] = field(default_factory=list)

    @property
    def grounded(self) -> bool:
        return bool(self.found)

    @property
    def right_words(self) -> bool | None:
        """Whether a found word is one of the labelled ``words``; None without ``words``."""
        if not self.words:
            return None
        return any(_same(f, w) for f in self.found for w in self.words)


def _same(found: str, word: str) -> bool:
    """One names the other: plurals count, and a multi-word name contains its head."""
    a, b = term_pattern([found]), term_pattern([word])
    return bool(a.search(word.lower()) or b.search(found.lower()))


def evaluate(directory: Path, games: Mapping[str, Any], names: Sequence[str],
             allow_changed: bool, sources: Sequence[str] = SOURCES
             ) -> tuple[dict[str, list[CategoryResult]], dict[str, str]]:
    """Grounding results per game, and the games skipped with the reason."""
    results, skipped = {}, {}
    for name in names:
        entry = games[name]
        status, path = check_text(directory, entry)
        if status == "missing" or (status == "changed" and not allow_changed):
            skipped[name] = f"text {status} ({path})"
            continue
        try:
            spec = resolve_game(name)
        except UnknownGameError as err:
            skipped[name] = str(err)
            continue
        sentences = split_sentences(path.read_text(encoding="utf-8"))
        # As the table builder grounds: the avatar's words excluded, head nouns last.
        grounded = ground_all(spec, sentences, sources)
        rows, seen = [], set()
        for label in entry.labels:
            if label.category in seen:
                continue
            seen.add(label.category)
            if label.category not in spec.categories:
                skipped[f"{name}.{label.category}"] = "not a category of the game registry"
                continue
            g = grounded.get(label.category) or ground(spec, label.category, sentences,
                                                       sources=sources)
            rows.append(CategoryResult(label.category, label.label, [t.text for t in g.found],
                                       list(label.words)))
        results[name] = rows
    return results, skipped


def summary(rows: Sequence[CategoryResult]) -> dict[str, Any]:
    """Counts over ``rows``: signed labels grounded, right words where labelled, neutral found."""
    signed = [r for r in rows if r.label != "neutral"]
    worded = [r for r in signed if r.right_words is not None]
    neutral = [r for r in rows if r.label == "neutral"]
    return {"signed": len(signed), "grounded": sum(r.grounded for r in signed),
            "with_words": len(worded), "right_words": sum(bool(r.right_words) for r in worded),
            "neutral": len(neutral), "neutral_found": sum(r.grounded for r in neutral)}


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.0f}%)" if b else "0/0"


def main(argv: list[str] | None = None) -> int:
    """Entry point; the exit status is 1 when no game could be evaluated, 2 on bad input."""
    p = argparse.ArgumentParser(prog="python benchmarks/grounding.py", description=(
        "How often grounding finds a real manual's words for its labelled objects."))
    p.add_argument("dir", type=Path, metavar="DIR", help="directory with <Game>.txt texts")
    p.add_argument("--split", choices=(*SPLITS, "all"), default="all", help="games to evaluate")
    p.add_argument("--games", nargs="+", metavar="GAME", help="only these games of the manifest")
    p.add_argument("--manifest", type=Path, default=MANIFEST, help="labels (default: the shipped set)")
    p.add_argument("--allow-changed", action="store_true",
                   help="also evaluate texts whose SHA-256 differs from the manifest's")
    p.add_argument("--sources", default=",".join(SOURCES), metavar="S[,S...]",
                   help=f"grounding sources to use, an ablation (default all: {','.join(SOURCES)})")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the numbers here")
    args = p.parse_args(argv)
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    if not sources or set(sources) - set(SOURCES):
        # A typo would silently ground with fewer sources than asked for.
        p.error(f"--sources takes a comma-separated subset of {','.join(SOURCES)}, got {args.sources!r}")
    try:
        _, games = load_manifest(args.manifest)
    except ManifestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    unknown = sorted(set(args.games or ()) - set(games))
    if unknown:
        print(f"error: not in the manifest: {', '.join(unknown)}", file=sys.stderr)
        return 2
    names = [g for g in (args.games or sorted(games))
             if args.split == "all" or games[g].split == args.split]
    results, skipped = evaluate(args.dir, games, names, args.allow_changed, sources)
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    if not results:
        print("nothing evaluated", file=sys.stderr)
        return 1
    per_split: dict[str, list[CategoryResult]] = {}
    for name, rows in results.items():
        per_split.setdefault(games[name].split, []).extend(rows)
        missed = [r.category for r in rows if r.label != "neutral" and not r.grounded]
        wrong = [r.category for r in rows if r.right_words is False]
        s = summary(rows)
        print(f"{name:<18} {games[name].split:<8} grounded {_pct(s['grounded'], s['signed']):<12}"
              + (f" not found: {', '.join(missed)}" if missed else "")
              + (f" other words: {', '.join(wrong)}" if wrong else ""))
    report = {}
    for split, rows in sorted(per_split.items()) + [("all", [r for v in results.values() for r in v])]:
        s = report[split] = summary(rows)
        print(f"{split:<8} signed labels grounded {_pct(s['grounded'], s['signed'])}; "
              f"right words {_pct(s['right_words'], s['with_words'])}; "
              f"neutral labels found {_pct(s['neutral_found'], s['neutral'])}")
    if args.json:
        out = {"date": datetime.date.today().isoformat(), "machine": platform.node(), "sources": sources,
               "summary": report, "skipped": skipped,
               "games": {n: [asdict(r) for r in rows] for n, rows in results.items()}}
        atomic_write_text(args.json, json.dumps(out, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
