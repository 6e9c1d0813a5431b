"""Read a game's manual and print its reward table.

Usage::

    python -m reward_shaping.read Skiing
    python -m reward_shaping.read Seaquest --evidence 3   # evidence, question and probabilities
    python -m reward_shaping.read MsPacman --manual my_manual.txt --json table.json
    python -m reward_shaping.read Pong --backend openai --base-url http://127.0.0.1:11434/v1 --model llama3.1
    python -m reward_shaping.read Venture --manual venture.txt --grounding  # the words found per object
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from envs.games import UnknownGameError
from manuals import ManualError
from reward_shaping.encoder import EncoderUnavailableError
from reward_shaping.reasoning import BACKENDS, DEFAULT_BACKEND, ReasoningError
from reward_shaping.table import (
    DEFAULT_SCALE,
    RewardTableError,
    atomic_write_text,
    build_reward_table,
    default_cache_dir,
)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m reward_shaping.read",
        description="Build the manual-derived reward table of a game: for every object the "
        "detector can see, whether touching it is good (+scale), bad (-scale) or neutral (0), "
        "with the manual sentences the decision rests on.",
    )
    p.add_argument("game", help="game name, e.g. Skiing, MsPacman, ALE/Pong-v5")
    p.add_argument("--manual", type=Path, help="your own manual (.txt/.md); default: the shipped one")
    p.add_argument("--backend", choices=sorted(BACKENDS), default=DEFAULT_BACKEND,
                   help=f"reasoning backend (default: {DEFAULT_BACKEND}, offline; embedding: "
                   "the older, faster similarity rule; consensus: pays only where those two "
                   "agree, fewer wrong signs; openai: a served model)")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the table as JSON")
    p.add_argument("--scale", type=float, default=DEFAULT_SCALE,
                   help=f"reward magnitude for yes/no (default {DEFAULT_SCALE:g}, as in the paper)")
    p.add_argument("--overrides", type=Path, help="YAML/JSON file {category: reward} fixing entries")
    p.add_argument("--cache-dir", type=Path, help=f"table cache (default {default_cache_dir()})")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--grounding", action="store_true",
                   help="show, per object, the words the manual uses for it, where they came "
                   "from (depicts, synonym, name, spelling) and the first sentence using them, "
                   "instead of the table (no backend is run; --json writes this instead)")
    p.add_argument("--evidence", type=int, default=1, metavar="K",
                   help="evidence sentences printed per object (default 1); with K > 1 the "
                   "question asked and the backend's detail are printed too")
    g = p.add_argument_group("openai backend")
    g.add_argument("--base-url", default="http://127.0.0.1:11434/v1",
                   help="OpenAI-compatible server (default: local Ollama)")
    g.add_argument("--model", default="llama3.1", help="model name on that server")
    g.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the API key (never printed)")
    g.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = p.parse_args(argv)
    if args.scale <= 0:
        p.error("--scale must be > 0")
    if args.evidence < 0:
        p.error("--evidence must be >= 0")
    return args


def _show_grounding(args: argparse.Namespace) -> int:
    """Print (and with ``--json`` write) the grounding of every category; the exit code."""
    from envs.games import resolve_game
    from manuals import load_manual
    from reward_shaping.grounding import ground_all
    from reward_shaping.qa import split_sentences

    try:
        spec = resolve_game(args.game)
        manual = load_manual(spec.name, args.manual)
    except (UnknownGameError, ManualError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sentences = split_sentences(manual.text)
    grounded = ground_all(spec, sentences)
    print(f"{spec.name} grounding (manual {manual.source}, sha {manual.sha256[:10]}, "
          f"{len(sentences)} sentences): the words the manual uses for each object")
    print(f"{'object':<20}found (source, sentences)")
    for cat, g in grounded.items():
        label = f"{cat} (avatar)" if cat == spec.avatar else cat
        found = ", ".join(f"{t.text} ({t.source}, {t.count})" for t in g.found) or "-- none"
        print(f"{label:<20}{found}")
        missing = [t.text for t in g.terms if not t.count]
        if missing:
            print(f"{'':<20}not in the text: {', '.join(missing)}")
        if g.first >= 0:
            first = sentences[g.first]
            print(f"{'':<20}first: {first[:96]}{'...' if len(first) > 96 else ''}")
    objects = [c for c in grounded if c != spec.avatar]
    unfound = [c for c in objects if not grounded[c].found]
    print(f"{len(objects) - len(unfound)} of {len(objects)} objects grounded"
          + (f"; no word found for: {', '.join(unfound)}" if unfound else ""))
    if args.json:
        doc = {"game": spec.name, "manual": str(manual.source), "manual_sha256": manual.sha256,
               "avatar": spec.avatar,
               "objects": {c: {"terms": [{"text": t.text, "source": t.source, "sentences": t.count}
                                         for t in g.terms],
                               "found": [t.text for t in g.found]}
                           for c, g in grounded.items()}}
        atomic_write_text(args.json, json.dumps(doc, indent=1))
        print(f"wrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parse_args(argv)
    if args.grounding:
        return _show_grounding(args)
    options = {}
    if args.backend == "openai":
        options = {"base_url": args.base_url, "model": args.model,
                   "api_key_env": args.api_key_env, "timeout": args.timeout}
    try:
        table = build_reward_table(args.game, args.manual, args.backend, options, args.scale,
                                   args.overrides, args.cache_dir, use_cache=not args.no_cache)
    except (UnknownGameError, ManualError, RewardTableError, ReasoningError,
            EncoderUnavailableError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{table.game} reward table ({table.backend} backend, manual {table.manual_source}, "
          f"sha {table.manual_sha256[:10]})")
    for question, sentences in table.questions.items():
        print(f"  {question} -> {sentences[0] if sentences else '(no evidence)'}")
    print(f"{'object':<18}{'reward':>7}  {'answer':<8}{'conf':>5}{'p(yes)':>7}{'p(no)':>6}  evidence")
    indent = " " * 53
    for cat, e in table.objects.items():
        marker = " [override]" if e.source == "override" else ""
        first = e.evidence[0] if e.evidence and args.evidence else f"({e.note})"
        probs = "".join(f"{p:>{w}.2f}" if p is not None else f"{'-':>{w}}"
                        for p, w in ((e.p_yes, 7), (e.p_no, 6)))
        print(f"{cat:<18}{e.reward:>+7.1f}  {e.answer:<8}{e.confidence:>5.2f}{probs}  {first}{marker}")
        for extra in e.evidence[1:args.evidence]:
            print(f"{indent}{extra}")
        if args.evidence > 1 and e.source != "rule":
            if e.question:
                print(f"{indent}Q: {e.question}")
            print(f"{indent}-> {e.note}")
    if args.json:
        atomic_write_text(args.json, json.dumps(table.to_json(), indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
