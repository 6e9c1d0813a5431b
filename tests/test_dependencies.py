"""What a fresh machine needs: every module imports, every import is a declared dependency;
and the code passes the linter (ruff), which no other test would run.

A package that is only present as somebody else's dependency (or only on the
developer's machine) breaks ``pip install -e .`` users at the first import.
These tests name the module or the import that broke.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "agents", "reward_shaping", "manuals")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        names.append(package)
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}.")]
    return sorted(names)


MODULES = _modules()


def test_every_package_has_modules():
    # A walk that finds nothing would make the import test below pass vacuously.
    assert set(PACKAGES) <= set(MODULES)
    assert {"agents.train", "envs.atari", "reward_shaping.table"} <= set(MODULES)
    assert len(MODULES) >= 25


@pytest.mark.parametrize("module", MODULES)
def test_module_imports(module):
    importlib.import_module(module)


def test_every_import_is_declared():
    """deptry: imports in the packages, benchmarks and tests vs pyproject.toml's dependencies."""
    if importlib.util.find_spec("deptry") is None:
        # The check is part of the suite: a missing tool must not pass silently.
        pytest.fail("deptry is not installed: pip install -e '.[test]'")
    proc = subprocess.run([sys.executable, "-m", "deptry", "."], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "NO_COLOR": "1"})
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"undeclared or unused dependencies:\n{report}"
    assert "Scanning" in report  # it really looked at the files


def test_the_code_passes_the_linter():
    """ruff (pyproject.toml's rules) over the packages, benchmarks and tests: an unused
    import, a shadowed name or imports out of order fail the suite, not a later review."""
    if importlib.util.find_spec("ruff") is None:
        # The check is part of the suite: a missing tool must not pass silently.
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 0, f"ruff check . found:\n{proc.stdout}{proc.stderr}"
    assert "All checks passed" in proc.stdout  # it really checked (not an empty selection)
