"""Review fixes in the key re-wrap and the demo, each failing before its fix:

- a rotation during a re-wrap made ``remaining`` name the newest KEK as an older one;
- on SQLite the old wrapped keys stayed in the WAL after a re-wrap while the vault ran;
- ``demo --dir`` on a path that cannot be created printed a traceback;
- one demo check could never fail.
"""

from __future__ import annotations

import json
import sqlite3
import types
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import credit_vault._workflows as workflows_mod
from credit_vault import Actor, SubjectRef, Vault
from credit_vault.cli import main
from credit_vault.crypto import FileKeyProvider
from credit_vault.testing import FrozenClock
from tests.helpers import citizen_id, clerk_for, record_for, register_all_sources

TAX = "tax.major_violation"
ADMIN = Actor(id="adm-1", role="admin")


def _vault(tmp_path: Path, keys: FileKeyProvider, clock: FrozenClock, n: int) -> Vault:
    v = Vault.open(f"sqlite:///{tmp_path / 'v.db'}", keys=keys, clock=clock)
    register_all_sources(v)
    v.ingest_many(
        clerk_for(TAX), [record_for(v, TAX, SubjectRef.person(citizen_id(i))) for i in range(n)]
    )
    return v


def test_a_rotation_during_the_rewrap_is_reported_against_the_newest_kek(
    tmp_path: Path, key_path: Path, clock: FrozenClock
) -> None:
    keys = FileKeyProvider(key_path)
    v = _vault(tmp_path, keys, clock, 6)
    try:
        FileKeyProvider(key_path).rotate()  # kek-2: the re-wrap's target
        rotated: list[str] = []

        def rotate_once(_p: Any) -> None:
            if not rotated:
                rotated.append(FileKeyProvider(key_path).rotate())  # another process: kek-3

        report = v.rewrap_keys(ADMIN, batch_size=2, progress=rotate_once)
        assert rotated == ["kek-3"]
        assert report.kek_id == "kek-3"
        usage = v.kek_usage(ADMIN)
        assert report.remaining == {k: n for k, n in usage.items() if k != "kek-3"}
    finally:
        v.close()


def test_old_wrapped_keys_leave_the_sqlite_files_while_the_vault_runs(
    tmp_path: Path, key_path: Path, clock: FrozenClock
) -> None:
    v = _vault(tmp_path, FileKeyProvider(key_path), clock, 20)
    try:
        db = sqlite3.connect(f"file:{tmp_path / 'v.db'}?mode=ro", uri=True)
        old = [
            bytes(b)
            for (b,) in db.execute(
                "SELECT wrapped_key FROM cv_records UNION ALL SELECT wrapped_key FROM cv_subjects"
            )
        ]
        db.close()
        FileKeyProvider(key_path).rotate()
        assert sum(v.rewrap_keys(ADMIN).rewrapped.values()) == len(old)
        on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("v.db"))
        assert [o for o in old if o in on_disk] == []
    finally:
        v.close()


def test_demo_dir_that_cannot_be_created_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    result = CliRunner().invoke(main, ["demo", "--dir", str(blocker / "sub")])
    assert result.exit_code == 2
    assert "cannot create it" in result.output
    assert "Traceback" not in result.output


def test_the_demo_notices_a_repair_that_changed_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_op(self: Any, actor: Any, app_id: str, **kw: Any) -> Any:
        return types.SimpleNamespace(state="approved")  # the repair is never applied

    monkeypatch.setattr(workflows_mod.Repairs, "decide", no_op)
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path / "demo"), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert "disclosure ended before its window would have closed" in report["failures"]
