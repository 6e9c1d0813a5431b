"""Print the shell commands of the README's Quickstart section, one per line.

CI runs exactly these (``.ci/run``), so the README cannot drift from what is tested.
Exits 1 if the section or its commands are missing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_commands(text: str) -> list[str]:
    """The lines of the ```bash blocks between '## Quickstart' and the next '## ' heading."""
    m = re.search(r"^## Quickstart\n(.*?)(?=^## )", text, flags=re.MULTILINE | re.DOTALL)
    if not m:
        return []
    blocks = re.findall(r"```bash\n(.*?)```", m.group(1), flags=re.DOTALL)
    return [line.strip() for b in blocks for line in b.splitlines() if line.strip()]


if __name__ == "__main__":
    commands = quickstart_commands(README.read_text(encoding="utf-8"))
    if len(commands) != 2:
        print(f"expected the README's two Quickstart commands, found {commands!r}", file=sys.stderr)
        sys.exit(1)
    print("\n".join(commands))
