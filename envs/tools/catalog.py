"""The shipped snapshot of OCAtari's object tables: check it, or rewrite it.

``envs.games`` reads ``envs/ocatari_catalog.json`` instead of importing OCAtari's
60+ game modules.  After upgrading OCAtari::

    python -m envs.tools.catalog          # exit 1 and the stale games if it changed
    python -m envs.tools.catalog --write  # rewrite the snapshot
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from envs.games import CATALOG_FILE, _read_catalog

# OCAtari modules that exist but cannot extract objects.
_UNSUPPORTED = {"Adventure"}


def scan_ocatari() -> dict[str, dict[str, Any]]:
    """Read the object tables of every usable game from the installed OCAtari.

    Returns:
        Game name -> ``{"max_objects": {category: count}, "hud": [category, ...]}``
        for every game with a RAM extractor and an ``ALE/<Game>-v5`` id.
    """
    import ale_py  # noqa: F401  (registers the ALE/... ids with Gymnasium)
    import gymnasium as gym
    import ocatari.ram  # noqa: F401  (puts every ocatari.ram.<game> in sys.modules)
    from ocatari.core import AVAILABLE_GAMES

    games: dict[str, dict[str, Any]] = {}
    for name in sorted(AVAILABLE_GAMES):
        module = sys.modules.get(f"ocatari.ram.{name.lower()}")
        if (
            module is None
            or name in _UNSUPPORTED
            or not hasattr(module, "MAX_NB_OBJECTS")
            or f"ALE/{name}-v5" not in gym.registry
        ):
            continue
        max_objects = dict(module.MAX_NB_OBJECTS)
        # Sorted: OCAtari builds some HUD tables from sets (order varies per process).
        hud = sorted(c for c in getattr(module, "MAX_NB_OBJECTS_HUD", {}) if c not in max_objects)
        games[name] = {"max_objects": max_objects, "hud": hud}
    return games


def main(argv: list[str] | None = None) -> int:
    """``python -m envs.tools.catalog [--write]``: compare (or rewrite) the catalog with OCAtari."""
    p = argparse.ArgumentParser(prog="python -m envs.tools.catalog",
                                description="Check the shipped game catalog against the "
                                "installed OCAtari, or rewrite it.")
    p.add_argument("--write", action="store_true", help=f"rewrite {CATALOG_FILE.name}")
    args = p.parse_args(argv)
    live = scan_ocatari()
    if args.write:
        from importlib.metadata import version

        text = json.dumps({"ocatari": version("ocatari"), "games": live}, indent=1) + "\n"
        tmp = CATALOG_FILE.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(CATALOG_FILE)
        print(f"wrote {CATALOG_FILE} ({len(live)} games)")
        return 0
    shipped = _read_catalog()
    stale = sorted(g for g in set(live) | set(shipped) if live.get(g) != shipped.get(g))
    if stale:
        print(f"{CATALOG_FILE.name} differs from the installed OCAtari for: {', '.join(stale)}; "
              "run python -m envs.tools.catalog --write")
        return 1
    print(f"{CATALOG_FILE.name} matches the installed OCAtari ({len(live)} games)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
