"""Review fixes seen from a vault and from the ``credit-vault`` command: a writer that
outlives a rotation, maintenance commands on a URL without a vault, URLs that do not
parse, a checkpoint ``--out`` that cannot be written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, inspect

from credit_vault import Actor, SubjectRef, Vault
from credit_vault.cli import main
from credit_vault.crypto import FileKeyProvider
from credit_vault.testing import FrozenClock
from tests.helpers import citizen_id, clerk_for, record_for, register_all_sources

ADMIN = Actor(id="ops-1", role="admin")
TAX = "tax.major_violation"


def invoke(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def _drop_kek(path: Path, kek_id: str) -> None:
    """Retire a KEK by hand, editing the file in place as an operator would."""
    doc = json.loads(path.read_text("utf-8"))
    doc["keks"] = [k for k in doc["keks"] if k["id"] != kek_id]
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, json.dumps(doc).encode("utf-8"))
    finally:
        os.close(fd)


def _reads_back(vault: Vault, people: range) -> None:
    for i in people:
        subject = SubjectRef.person(citizen_id(i))
        me = Actor(id=f"me-{i}", role="subject", subject=subject)
        assert len(vault.query(me, purpose="self_query", subject=subject).records) == 1


# --- finding 1: a long-running writer and a KEK retirement ------------------------------


@pytest.mark.parametrize("write_before_retiring", [True, False])
def test_a_writer_opened_before_the_rotation_never_wraps_under_the_retired_kek(
    db_url: str, key_path: Path, clock: FrozenClock, write_before_retiring: bool
) -> None:
    worker = Vault.open(db_url, keys=FileKeyProvider(key_path), clock=clock)
    try:
        register_all_sources(worker)
        worker.ingest(clerk_for(TAX), record_for(worker, TAX, SubjectRef.person(citizen_id(0))))

        operator = FileKeyProvider(key_path)  # another process
        assert operator.rotate() == "kek-2"
        with Vault.open(db_url, keys=operator, clock=clock) as ops:
            assert ops.rewrap_keys(ADMIN).remaining == {}
            assert ops.kek_usage(ADMIN) == {"kek-2": 2}
        if not write_before_retiring:
            _drop_kek(key_path, "kek-1")

        worker.ingest(clerk_for(TAX), record_for(worker, TAX, SubjectRef.person(citizen_id(1))))
        assert worker.kek_usage(ADMIN) == {"kek-2": 4}
        if write_before_retiring:
            _drop_kek(key_path, "kek-1")
            worker.ingest(clerk_for(TAX), record_for(worker, TAX, SubjectRef.person(citizen_id(2))))
            assert worker.kek_usage(ADMIN) == {"kek-2": 6}
    finally:
        worker.close()

    people = range(3 if write_before_retiring else 2)
    with Vault.open(db_url, keys=FileKeyProvider(key_path), clock=clock) as fresh:
        assert fresh.rewrap_keys(ADMIN).total == 0
        _reads_back(fresh, people)


# --- finding 4: the longest KEK id fits the kek_id columns ------------------------------


def test_a_32_character_kek_id_is_stored(db_url: str, key_path: Path, clock: FrozenClock) -> None:
    long_id = "kms:prod/credit-vault/2025q1-k01"
    assert len(long_id) == 32
    doc = json.loads(key_path.read_text("utf-8"))
    doc["keks"][0]["id"] = doc["current_kek"] = long_id
    key_path.write_text(json.dumps(doc), "utf-8")
    with Vault.open(db_url, keys=FileKeyProvider(key_path), clock=clock) as vault:
        register_all_sources(vault)
        vault.ingest(clerk_for(TAX), record_for(vault, TAX, SubjectRef.person(citizen_id(0))))
        assert vault.kek_usage(ADMIN) == {long_id: 2}
        _reads_back(vault, range(1))


# --- finding 2: maintenance on a URL without a vault ---------------------------------------


def _sqlite_vault(tmp_path: Path) -> tuple[str, Path]:
    keys = tmp_path / "vault.keys"
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    with Vault.open(url, keys=FileKeyProvider.create(keys)) as v:
        register_all_sources(v)
        v.ingest(clerk_for(TAX), record_for(v, TAX, SubjectRef.person(citizen_id(0))))
    return url, keys


@pytest.mark.parametrize("command", ["usage", "rewrap"])
def test_keys_maintenance_refuses_a_mistyped_sqlite_path(tmp_path: Path, command: str) -> None:
    _, keys = _sqlite_vault(tmp_path)
    assert invoke("keys", "rotate", "--keys", str(keys)).exit_code == 0
    typo = tmp_path / "vualt.db"
    result = invoke("keys", command, f"sqlite:///{typo}", "--keys", str(keys), "--json")
    assert result.exit_code == 3
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error [configuration_error]: no vault at sqlite:///")
    assert "does not exist" in line
    assert not typo.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vault.db", "vault.keys"]


def test_keys_maintenance_refuses_a_memory_url(tmp_path: Path) -> None:
    _, keys = _sqlite_vault(tmp_path)
    result = invoke("keys", "usage", "sqlite://", "--keys", str(keys))
    assert result.exit_code == 3
    assert result.stderr.startswith("error [configuration_error]: an in-memory SQLite")


def test_keys_maintenance_still_works_on_an_existing_vault_read_from_stdin(
    tmp_path: Path,
) -> None:
    url, keys = _sqlite_vault(tmp_path)
    result = invoke("keys", "usage", "-", "--keys", str(keys), "--json", stdin=url + "\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["usage"] == {"kek-1": 2}


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["usage", "rewrap"])
def test_keys_maintenance_refuses_an_empty_postgres_schema(
    pg_url: str, key_path: Path, command: str
) -> None:
    result = invoke("keys", command, "-", "--keys", str(key_path), stdin=pg_url + "\n")
    assert result.exit_code == 3
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error [configuration_error]: no vault at postgresql+psycopg://")
    assert "no credit_vault schema" in line
    engine = create_engine(pg_url)
    try:
        assert inspect(engine).get_table_names() == []  # nothing was created
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_keys_usage_on_a_postgres_vault(pg_url: str, key_path: Path) -> None:
    with Vault.open(pg_url, keys=FileKeyProvider(key_path)) as v:
        register_all_sources(v)
        v.ingest(clerk_for(TAX), record_for(v, TAX, SubjectRef.person(citizen_id(0))))
    result = invoke("keys", "usage", "-", "--keys", str(key_path), "--json", stdin=pg_url + "\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["usage"] == {"kek-1": 2}


# --- finding 6: tracebacks ------------------------------------------------------------------


def test_a_url_with_a_bad_port_is_a_configuration_error(key_path: Path) -> None:
    result = invoke(
        "keys", "usage", "postgresql+psycopg://u@db.example:5432x/vault", "--keys", str(key_path)
    )
    assert result.exit_code == 3
    assert result.stderr.strip() == "error [configuration_error]: the database URL is not valid"


def test_a_bad_port_on_stdin_never_echoes_the_password(key_path: Path) -> None:
    url = "postgresql+psycopg://u:s3cr3t-pw@db.example:5432x/vault"
    for command in (("keys", "rewrap"), ("db", "upgrade")):
        result = invoke(*command, "-", "--keys", str(key_path), stdin=url + "\n")
        assert result.exit_code == 3
        assert "s3cr3t-pw" not in result.output
        assert "Traceback" not in result.output
        assert result.stderr.startswith("error [configuration_error]:")


def _checkpoints(url: str, keys: Path) -> int:
    with Vault.open(url, keys=FileKeyProvider(keys)) as v:
        return len(v.audit.checkpoints())


def test_checkpoint_out_into_a_missing_directory_fails_before_signing(tmp_path: Path) -> None:
    url, keys = _sqlite_vault(tmp_path)
    before = _checkpoints(url, keys)
    out = tmp_path / "missing" / "cp.txt"
    result = invoke("audit", "checkpoint", url, "--keys", str(keys), "--out", str(out))
    assert result.exit_code == 2
    assert "--out" in result.stderr
    assert "is not an existing directory" in result.stderr
    assert result.stdout == ""
    assert _checkpoints(url, keys) == before
    assert not out.parent.exists()


def test_checkpoint_out_write_failure_keeps_the_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, keys = _sqlite_vault(tmp_path)
    before = _checkpoints(url, keys)

    def refuse(_self: Path, _data: bytes) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_bytes", refuse)
    out = tmp_path / "cp.txt"
    result = invoke("audit", "checkpoint", url, "--keys", str(keys), "--out", str(out))
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error [output_error]: the checkpoint was signed and printed")
    assert "PermissionError" in line
    assert result.stdout.startswith("credit-vault/")  # the signed note, not lost
    monkeypatch.undo()
    assert _checkpoints(url, keys) == before + 1


def test_checkpoint_out_still_writes_the_file(tmp_path: Path) -> None:
    url, keys = _sqlite_vault(tmp_path)
    out = tmp_path / "cp.txt"
    result = invoke("audit", "checkpoint", url, "--keys", str(keys), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text("utf-8") == result.stdout
