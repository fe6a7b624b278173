"""The scripts in examples/ run cleanly against the current library."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def test_there_are_examples() -> None:
    assert EXAMPLES


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    args = [sys.executable, str(script)]
    if script.name == "quickstart.py":
        args.append(str(tmp_path))
    # The examples import the package as users would; make this checkout importable
    # even when it is not installed.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()
