"""The benchmark scripts still run (tiny sizes, no timing assertions: numbers live in RESULTS.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"

CASES = {
    "bench_core.py": ["--records", "200", "--subjects", "40", "--queries", "5"],
    "bench_audit.py": ["--entries", "2000", "--appends", "50", "--repeat", "1", "--postgres", ""],
    "bench_crypto.py": ["--records", "100", "--repeat", "1"],
    "bench_lifecycle.py": ["--rows", "2000"],
}


def test_every_script_has_a_smoke_case() -> None:
    assert {p.name for p in BENCH.glob("bench_*.py")} == set(CASES)


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_runs_and_prints_a_table(script: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CREDIT_VAULT_TEST_POSTGRES_URL"}
    env["TMPDIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *CASES[script]],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "|---" in result.stdout, result.stdout[-2000:]
