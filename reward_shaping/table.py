"""Reward tables: manual + backend -> (category, event kind) -> reward, with evidence; cached.

Built offline once per (game, manual text, backend, settings) and stored as
JSON; the online wrappers only look events up.  One row per (category, event
kind), keyed like :func:`envs.interactions.event_key`: ``Tree`` for touching a
tree, ``Gate:pass`` and ``Gate:miss`` for Skiing's gates.  Tables written
before event kinds existed (every key a category) load unchanged: their rows
are touches.  A corrupt cache file is rebuilt, never trusted.  A user overrides
file (YAML or JSON) fixes any entry and is shown as such::

    Tree: -5                              # touching a tree
    Mogul: {reward: 0, note: "harmless"}  # with a note
    Gate: {pass: 5, miss: -5}             # per event kind
    Gate:miss: {reward: -2, note: "..."}  # one kind, flat

Example:
    >>> from reward_shaping.table import build_reward_table
    >>> table = build_reward_table("Skiing", use_cache=False)
    >>> table.objects["Tree"].reward
    -5.0
    >>> table.objects["Clock"].answer   # HUD elements are never rewarded
    'hud'
    >>> table.reward_of("Gate", "pass"), table.reward_of("Gate", "miss")
    (5.0, -5.0)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from envs.games import EVENT_KINDS, GameSpec, resolve_game
from envs.interactions import event_key, split_key
from manuals import Manual, load_manual

log = logging.getLogger(__name__)

#: Bump when the table format or the decision pipeline changes: old caches are then ignored.
TABLE_VERSION = 5
DEFAULT_SCALE = 5.0


class RewardTableError(ValueError):
    """Bad overrides, unreadable table file, or a table for another game."""


@dataclass
class ObjectReward:
    """The reward for one kind of event with one object category (touching a tree).

    Attributes:
        reward: Auxiliary reward per event.
        answer: ``yes`` / ``no`` / ``neutral`` from the backend, or ``hud`` /
            ``avatar`` / ``ignored`` for categories decided by rule.
        confidence: In [0, 1].
        evidence: Manual sentences the decision rests on, best first.
        source: ``backend``, ``rule`` or ``override``.
        note: Backend detail or the override's note.
        question: The question the backend answered (empty for rules).
        p_yes: The backend's probability of "yes" (None if it has none).
        p_no: Its probability of "no".
        p_neutral: Its probability that the evidence says neither.
        kind: The event: ``touch``, ``pass`` or ``miss`` (tables without kinds: ``touch``).
    """

    reward: float
    answer: str
    confidence: float
    evidence: list[str] = field(default_factory=list)
    source: str = "backend"
    note: str = ""
    question: str = ""
    p_yes: float | None = None
    p_no: float | None = None
    p_neutral: float | None = None
    kind: str = "touch"


@dataclass
class RewardTable:
    """A game's reward table and how it was made."""

    game: str
    manual_sha256: str
    manual_source: str
    backend: str
    settings: dict[str, Any]
    scale: float
    key: str
    objects: dict[str, ObjectReward]
    questions: dict[str, list[str]] = field(default_factory=dict)
    version: int = TABLE_VERSION

    def reward_of(self, category: str, kind: str = "touch") -> float:
        """Reward per ``kind`` event with ``category`` (0 for events not in the table)."""
        entry = self.objects.get(event_key(category, kind))
        return entry.reward if entry else 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RewardTable:
        """Rebuild from :meth:`to_json` output; raises on any missing field."""
        # Rows of tables written before event kinds existed are touches.
        objects = {k: ObjectReward(**{"kind": split_key(k)[1], **v})
                   for k, v in data["objects"].items()}
        fields = {k: data[k] for k in ("game", "manual_sha256", "manual_source", "backend",
                                        "settings", "scale", "key", "questions", "version")}
        return cls(objects=objects, **fields)

    @property
    def sha256(self) -> str:
        """Hash of the rewards themselves (what training depends on)."""
        rewards = {k: v.reward for k, v in sorted(self.objects.items())}
        return hashlib.sha256(json.dumps(rewards, sort_keys=True).encode()).hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def default_cache_dir() -> Path:
    """``$RNR_CACHE_DIR`` or ``~/.cache/rnr/reward_tables``."""
    env = os.environ.get("RNR_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "rnr" / "reward_tables"


def _cache_key(spec: GameSpec, manual: Manual, backend_name: str, settings: dict, scale: float) -> str:
    from reward_shaping.grounding import candidates

    # The grounding's candidate words are part of the key: a word added to the game's
    # depicts or the shared synonyms changes which sentences are read.
    words = {c: [w for w, _ in candidates(spec, c)] for c in spec.categories + spec.place_categories}
    # So are the categories decided by rule (avatar, ignored): a category newly ignored
    # must not keep a cached reward.
    fields = {"game": spec.name, "manual": manual.sha256, "backend": backend_name,
              "settings": settings, "scale": scale, "version": TABLE_VERSION,
              "words": words, "interactable": list(spec.interactable)}
    if spec.places:  # only where there are any: the other games' cached tables stay valid
        fields["places"] = [[p.category, list(p.box), p.radius] for p in spec.places]
    blob = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def load_overrides(path: str | Path, spec: GameSpec) -> dict[str, tuple[float, str]]:
    """Read an overrides file: event key (``Tree``, ``Gate:pass``) -> (reward, note).

    Entries are ``category: reward``, ``category: {reward: r, note: "..."}``,
    ``category: {kind: reward or {reward, note}, ...}`` or ``"category:kind": ...``.

    Raises:
        RewardTableError: unreadable file, bad value, or a category or event kind
            the game does not have.
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # YAML is a superset of JSON
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise RewardTableError(f"cannot read overrides file {path}: {err}") from None
    if not isinstance(data, dict) or not data:
        raise RewardTableError(f"overrides file {path} must map object categories to rewards")
    out = {}
    for name, value in data.items():
        cat, kind = split_key(str(name))
        if isinstance(value, dict) and value and set(value) <= set(EVENT_KINDS) and kind == "touch":
            entries = list(value.items())
        elif isinstance(value, dict) and not set(value) <= {"reward", "note"}:
            raise RewardTableError(f"override for {name!r} in {path}: expected a number, "
                                   f"{{reward, note}} or event kinds ({', '.join(EVENT_KINDS)}), "
                                   f"got keys {', '.join(map(str, value))}")
        else:
            entries = [(kind, value)]
        for kind, entry in entries:
            _check_event(spec, cat, kind, path)
            note = ""
            if isinstance(entry, dict):
                note = str(entry.get("note", ""))
                entry = entry.get("reward")
            if isinstance(entry, bool) or not isinstance(entry, (int, float)):
                raise RewardTableError(f"override for {event_key(cat, kind)!r} in {path} must be a "
                                       f"number, got {entry!r}")
            out[event_key(cat, kind)] = (float(entry), note)
    return out


def _check_event(spec: GameSpec, cat: str, kind: str, path: Path) -> None:
    """Raise unless the game reports ``kind`` events with ``cat`` (a typo would never pay)."""
    if cat not in set(spec.categories) | set(spec.place_categories) | set(spec.hud_categories):
        raise RewardTableError(
            f"overrides file {path} names {cat!r}, which {spec.name} does not have; "
            f"categories: {', '.join(spec.categories + spec.place_categories)}"
        )
    kinds = spec.event_kinds(cat) or ("touch",)
    if kind not in kinds:
        raise RewardTableError(f"overrides file {path}: {spec.name}'s {cat} has no {kind!r} events "
                               f"(it has: {', '.join(kinds)})")


def _decide_all(spec: GameSpec, manual: Manual, backend, scale: float
                ) -> tuple[dict[str, ObjectReward], dict[str, list[str]]]:
    """Rewards per (category, event kind), and the evidence for the general questions."""
    from reward_shaping.grounding import candidates, ground_all
    from reward_shaping.qa import AVATAR_QUESTION, OBJECTIVE_QUESTION, ManualIndex

    index = ManualIndex(manual.text)
    objective = index.ask([OBJECTIVE_QUESTION], top_k=2)
    questions = {
        OBJECTIVE_QUESTION: [e.sentence for e in objective],
        AVATAR_QUESTION: [e.sentence for e in index.ask([AVATAR_QUESTION], top_k=2)],
    }
    # The words this manual uses for each object (the avatar's words excluded; head
    # nouns for an object it names by none of its words).
    grounded = ground_all(spec, index.sentences)
    avatar = tuple(grounded[spec.avatar].words) if spec.avatar else ()
    objects: dict[str, ObjectReward] = {}
    for cat in spec.categories + spec.place_categories:
        if cat == spec.avatar:
            objects[cat] = ObjectReward(0.0, "avatar", 1.0, [], "rule", "the player's own avatar")
        elif cat not in spec.readable:
            objects[cat] = ObjectReward(0.0, "ignored", 1.0, [], "rule",
                                        "never reported as a contact (avatar's own, scenery or a point value shown)")
        else:
            depicts = spec.depicts.get(cat, ())
            # Other objects by their specific words only: a bare name such as
            # "submarine" is also what many manuals call the player's own avatar.
            others = tuple(w for c in spec.readable if c != cat
                           for w, _ in candidates(spec, c, ("depicts", "synonym")))
            terms = grounded[cat].words or [cat.lower()]
            evidence = index.evidence_for(cat, top_k=backend.evidence_k,
                                          depicts=depicts, others=others, avatar=avatar,
                                          terms=terms)
            for kind in spec.event_kinds(cat):
                d = backend.decide(spec.name, cat, terms, evidence, objective, kind=kind)
                reward = {"yes": scale, "no": -scale}.get(d.answer, 0.0)
                used = [e.sentence for e in evidence] if d.evidence is None else list(d.evidence)
                objects[event_key(cat, kind)] = ObjectReward(
                    reward, d.answer, d.confidence, used, "backend", d.detail, d.question,
                    d.p_yes, d.p_no, d.p_neutral, kind)
    for cat in spec.hud_categories:
        objects[cat] = ObjectReward(0.0, "hud", 1.0, [], "rule", "heads-up display, not touchable")
    return objects, questions


def build_reward_table(
    game: str,
    manual_path: str | Path | None = None,
    backend: str | None = None,
    backend_options: dict[str, Any] | None = None,
    scale: float = DEFAULT_SCALE,
    overrides: str | Path | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> RewardTable:
    """Build (or load from cache) the reward table of ``game``.

    Args:
        game: Any name the env layer accepts.
        manual_path: A user manual; default: the shipped one.
        backend: ``consequence`` (the default), ``embedding`` or ``openai``.
        backend_options: Keyword arguments for the backend.
        scale: Reward for a "yes" (and minus it for a "no"); the paper uses 5.
        overrides: YAML/JSON file fixing entries; applied after the cache.
        cache_dir: Where tables are cached; default :func:`default_cache_dir`.
        use_cache: Read and write the cache.
    """
    from reward_shaping.reasoning import DEFAULT_BACKEND, get_backend

    # A non-positive scale would silently invert or erase every decision.
    if not isinstance(scale, (int, float)) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    spec = resolve_game(game)
    manual = load_manual(spec.name, manual_path)
    engine = get_backend(backend or DEFAULT_BACKEND, **(backend_options or {}))
    settings = engine.settings()
    key = _cache_key(spec, manual, engine.name, settings, float(scale))
    cache_file = Path(cache_dir or default_cache_dir()) / f"{spec.name}-{key[:16]}.json"
    table = None
    if use_cache and cache_file.exists():
        try:
            table = RewardTable.from_json(json.loads(cache_file.read_text(encoding="utf-8")))
            if table.key != key:
                raise ValueError("cache key mismatch")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
            log.warning("reward table cache %s is corrupt (%s); rebuilding it", cache_file, err)
            table = None
    if table is None:
        objects, questions = _decide_all(spec, manual, engine, float(scale))
        table = RewardTable(spec.name, manual.sha256, str(manual.source), engine.name, settings,
                            float(scale), key, objects, questions)
        if use_cache:
            atomic_write_text(cache_file, json.dumps(table.to_json(), indent=1))
    if overrides is not None:
        for key, (reward, note) in load_overrides(overrides, spec).items():
            old = table.objects.get(key)
            table.objects[key] = ObjectReward(
                reward, old.answer if old else "override", 1.0, old.evidence if old else [],
                "override", note or f"set by {Path(overrides).name}", kind=split_key(key)[1])
    return table
