"""The README and docs/ stay true: their commands run, their paths and links exist.

Every ``python -m MODULE ...`` and ``python benchmarks/X.py ...`` in a code block or an
inline code span of README.md or docs/*.md is checked: the module or script exists, its
``--help`` exits 0 (one subprocess per distinct command, a few at a time), and every
``--option`` the docs pass it appears in that help.  Repository paths named in commands
must exist, and relative links (with their #anchors) must resolve.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", flags=re.MULTILINE | re.DOTALL)
_CLI = re.compile(r"\bpython3? (?:-m ([\w.]+)|(benchmarks/[\w/]+\.py))")
_OPTION = re.compile(r"(?<![\w-])--[a-z][\w-]*")
_REPO_PATH = re.compile(r"^(?:agents|envs|reward_shaping|manuals|benchmarks|tests|docs)/[\w./-]+$")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def commands(page: Path) -> list[str]:
    """Shell lines of the page's code blocks and inline code spans, comments cut."""
    text = page.read_text(encoding="utf-8")
    lines = [line for block in _FENCE.findall(text) for line in block.splitlines()]
    prose = _FENCE.sub("", text)
    lines += re.findall(r"`([^`\n]+)`", prose)
    return [line.split(" #")[0].strip() for line in lines if line.strip()]


def cli_calls() -> dict[str, set[str]]:
    """``python -m`` module or benchmark script -> the options the docs pass it."""
    calls: dict[str, set[str]] = {}
    for page in PAGES:
        for line in commands(page):
            for segment in re.split(r"&&|\|\||;|\|", line):
                m = _CLI.search(segment)
                if m:
                    target = m.group(1) or m.group(2)
                    calls.setdefault(target, set()).update(_OPTION.findall(segment[m.end():]))
    return calls


CALLS = cli_calls()


@cache
def helps() -> dict[str, subprocess.CompletedProcess]:
    """``TARGET --help`` of every documented command, run a few at a time."""
    env = dict(os.environ, HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))

    def run(target: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, target] if target.endswith(".py") else [sys.executable, "-m", target]
        return subprocess.run([*argv, "--help"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return dict(zip(CALLS, pool.map(run, CALLS)))


def test_the_docs_name_the_commands_a_user_runs():
    # The scan itself works: the Quickstart's training run and a benchmark are found.
    assert "agents.train" in CALLS and "benchmarks/train_throughput.py" in CALLS
    assert {p.name for p in PAGES} >= {"README.md", "architecture.md", "environments.md",
                                       "reading-manuals.md", "training.md", "sweeps.md",
                                       "results.md", "gpu.md"}


@pytest.mark.parametrize("target", sorted(CALLS))
def test_documented_command_has_help_with_its_options(target):
    if target.endswith(".py"):
        assert (ROOT / target).is_file(), f"{target} does not exist"
    proc = helps()[target]
    assert proc.returncode == 0, f"{target} --help exited {proc.returncode}:\n{proc.stderr[-2000:]}"
    unknown = sorted(o for o in CALLS[target] if o not in proc.stdout)
    assert not unknown, f"the docs pass {target} options its --help does not list: {unknown}"


def test_paths_in_commands_exist():
    missing = []
    for page in PAGES:
        for line in commands(page):
            for token in line.split():
                token = token.strip("\"'(),")
                if _REPO_PATH.match(token) and not re.search(r"[{}<>*]|\.\.\.", token) \
                        and not (ROOT / token).exists():
                    missing.append(f"{page.name}: {token}")
    assert not missing, "paths in commands that do not exist:\n" + "\n".join(missing)


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of a Markdown page's headings."""
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    out = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def test_relative_links_resolve():
    broken = []
    for page in PAGES:
        for link in _LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+://", link):
                continue
            path, _, anchor = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            if not target.exists():
                broken.append(f"{page.name}: {link} (no such file)")
            elif anchor and target.suffix == ".md" and anchor not in anchors(target):
                broken.append(f"{page.name}: {link} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_quickstart_is_what_ci_runs():
    quickstart = load_script(".ci/quickstart.py", "ci_quickstart")
    assert quickstart.quickstart_commands((ROOT / "README.md").read_text(encoding="utf-8")) == [
        "pip install torch==2.13.0 -e . && python -m agents.train Skiing",
        'pip install torch==2.13.0 -e ".[test]" && python -m pytest',
    ]
