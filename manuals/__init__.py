"""Game manuals shipped as data, and a loader that also takes a user's own manual.

Example:
    >>> from manuals import load_manual
    >>> manual = load_manual("Skiing")
    >>> manual.game, manual.source.name
    ('Skiing', 'skiing.md')
    >>> "gate" in manual.text
    True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

MANUAL_DIR = Path(__file__).resolve().parent
#: Manuals larger than this are rejected: real ones are a few kilobytes and the
#: QA step embeds every sentence.
MAX_MANUAL_BYTES = 1_000_000
_SUFFIXES = (".md", ".txt")


class ManualError(ValueError):
    """A manual is missing, empty, binary, too large or of an unsupported type."""


@dataclass(frozen=True)
class Manual:
    """A game manual's text and where it came from.

    Attributes:
        game: Canonical game name the manual is for.
        text: The manual as Unicode text.
        source: File it was read from.
    """

    game: str
    text: str
    source: Path

    @property
    def sha256(self) -> str:
        """Hash of the text: part of the reward table's cache key."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def shipped_manuals() -> dict[str, Path]:
    """Lower-case game name -> shipped manual file."""
    return {p.stem.lower(): p for p in sorted(MANUAL_DIR.iterdir()) if p.suffix in _SUFFIXES}


def read_manual_file(path: str | Path) -> str:
    """Read and validate a manual file (.txt or .md, UTF-8 text).

    Raises:
        ManualError: missing, not a file, wrong suffix, empty, binary or too large.
    """
    path = Path(path)
    if not path.exists():
        raise ManualError(f"manual file not found: {path}")
    if not path.is_file():
        raise ManualError(f"manual path is not a file: {path}")
    if path.suffix.lower() not in _SUFFIXES:
        raise ManualError(f"manual must be a .txt or .md text file, got {path.name!r}")
    size = path.stat().st_size
    if size > MAX_MANUAL_BYTES:
        raise ManualError(
            f"manual {path} is {size:,} bytes; the limit is {MAX_MANUAL_BYTES:,} (is it really a manual?)"
        )
    data = path.read_bytes()
    if b"\x00" in data:
        raise ManualError(f"manual {path} looks binary (contains NUL bytes); give a plain-text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ManualError(f"manual {path} is not UTF-8 text ({err.reason} at byte {err.start})") from None
    if sum(c.isalpha() for c in text) < 40:
        raise ManualError(f"manual {path} is empty or has almost no text")
    return text


def load_manual(game: str, path: str | Path | None = None) -> Manual:
    """The manual for ``game``: the user's file at ``path``, else the shipped one.

    Args:
        game: Any name :func:`envs.games.resolve_game` accepts.
        path: Optional user manual (.txt / .md).

    Raises:
        envs.games.UnknownGameError: unknown game.
        ManualError: bad manual file, or no shipped manual for the game.
    """
    from envs.games import resolve_game

    name = resolve_game(game).name
    if path is None:
        shipped = shipped_manuals().get(name.lower())
        if shipped is None:
            raise ManualError(
                f"no manual ships for {name}; pass one with --manual PATH. "
                f"Shipped: {', '.join(sorted(shipped_manuals()))}"
            )
        path = shipped
    path = Path(path)
    return Manual(game=name, text=read_manual_file(path), source=path)
