"""Crypto-layer fixes from the review: key files that change under a running process,
symlinked key files, the KEK-id length, deeply nested key files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from credit_vault.crypto import (
    ARGON2_TEST_PARAMS,
    Envelope,
    FileKeyProvider,
    PassphraseKeyProvider,
    seal_new_records,
)
from credit_vault.crypto._format import check_kek_id
from credit_vault.errors import KeyFileError


def _write_doc(path: Path, doc: dict[str, Any]) -> None:
    # In place, as an operator's editor would (not an atomic rename).
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, json.dumps(doc).encode("utf-8"))
    finally:
        os.close(fd)


def _kek_ids_in(path: Path) -> list[str]:
    return [k["id"] for k in json.loads(path.read_text("utf-8"))["keks"]]


# --- finding 1: a long-running process follows a rotation at its next write ---------


def test_another_processs_rotation_is_used_for_the_next_wrap(tmp_path: Path) -> None:
    path = tmp_path / "vault.keys"
    worker = FileKeyProvider.create(path)  # a long-running writer
    operator = FileKeyProvider(path)  # another process, same file
    envelope = Envelope(worker.key_set())
    _, before = envelope.new_data_key("r_1", 1)
    assert Envelope.kek_id_of(before) == "kek-1"

    assert operator.rotate() == "kek-2"

    # No unknown KEK was met, yet every wrapping path uses the new KEK.
    _, single = envelope.new_data_key("r_2", 1)
    ((_, batch),) = envelope.new_data_keys([("r_3", 1)])
    ((sealed, _),) = seal_new_records(envelope, 1, [("r_4", [("name", b"x")])])
    rewrapped = envelope.rewrap("r_1", 1, before)
    assert {Envelope.kek_id_of(b) for b in (single, batch, sealed, rewrapped)} == {"kek-2"}
    assert worker.key_set().current_kek_id == "kek-2"
    assert worker.key_set().kek_ids == ("kek-1", "kek-2")
    # What the worker wrapped, the operator unwraps, and the other way round.
    Envelope(operator.key_set()).unwrap("r_4", 1, sealed)
    envelope.unwrap("r_1", 1, before)


def test_a_rotation_is_followed_through_a_passphrase_sealed_file(tmp_path: Path) -> None:
    path = tmp_path / "sealed.keys"
    worker = PassphraseKeyProvider.create(path, "pass phrase", params=ARGON2_TEST_PARAMS)
    PassphraseKeyProvider(path, "pass phrase").rotate()
    _, wrapped = Envelope(worker.key_set()).new_data_key("r_1", 1)
    assert Envelope.kek_id_of(wrapped) == "kek-2"


def test_a_retired_kek_stays_loaded_but_is_no_longer_current(tmp_path: Path) -> None:
    path = tmp_path / "vault.keys"
    worker = FileKeyProvider.create(path)
    envelope = Envelope(worker.key_set())
    _, old = envelope.new_data_key("r_1", 1)
    FileKeyProvider(path).rotate()
    # The operator retires kek-1 by hand before the worker writes again.
    doc = json.loads(path.read_text("utf-8"))
    doc["keks"] = [k for k in doc["keks"] if k["id"] != "kek-1"]
    _write_doc(path, doc)

    _, new = envelope.new_data_key("r_2", 1)
    assert Envelope.kek_id_of(new) == "kek-2"
    assert worker.key_set().current_kek_id == "kek-2"
    envelope.unwrap("r_1", 1, old)  # still loaded in this process until it restarts
    assert FileKeyProvider(path).key_set().kek_ids == ("kek-2",)  # a restart drops it


def test_a_file_replaced_by_another_key_set_refuses_the_write(tmp_path: Path) -> None:
    path = tmp_path / "vault.keys"
    worker = FileKeyProvider.create(path)
    other = tmp_path / "other.keys"
    FileKeyProvider.create(other).rotate()
    os.replace(other, path)
    with pytest.raises(KeyFileError, match="no longer holds this key set"):
        Envelope(worker.key_set()).new_data_key("r_1", 1)
    assert worker.key_set().kek_ids == ("kek-1",)
    # Refused again on the next write: the change is not forgotten.
    with pytest.raises(KeyFileError):
        Envelope(worker.key_set()).new_data_keys([("r_1", 1)])


def test_a_kek_id_reused_with_other_bytes_refuses_the_write(tmp_path: Path) -> None:
    path = tmp_path / "vault.keys"
    worker = FileKeyProvider.create(path)
    doc = json.loads(path.read_text("utf-8"))
    other = json.loads(FileKeyProvider.create(tmp_path / "o.keys").path.read_text("utf-8"))
    doc["keks"][0]["key"] = other["keks"][0]["key"]
    _write_doc(path, doc)
    with pytest.raises(KeyFileError, match="no longer holds this key set"):
        Envelope(worker.key_set()).new_data_key("r_1", 1)


def test_a_deleted_key_file_keeps_the_loaded_keys(tmp_path: Path) -> None:
    path = tmp_path / "vault.keys"
    worker = FileKeyProvider.create(path)
    path.unlink()  # some deployments remove the secret once it is loaded
    _, wrapped = Envelope(worker.key_set()).new_data_key("r_1", 1)
    assert Envelope.kek_id_of(wrapped) == "kek-1"


def test_an_unchanged_file_is_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "vault.keys"
    provider = FileKeyProvider.create(path)
    envelope = Envelope(provider.key_set())
    reads: list[Path] = []
    import credit_vault.crypto._keys as keys_module

    real = keys_module._read_private_file

    def counting(p: Path) -> bytes:
        reads.append(p)
        return real(p)

    monkeypatch.setattr(keys_module, "_read_private_file", counting)
    for i in range(5):
        envelope.new_data_key(f"r_{i}", 1)
    assert reads == []
    FileKeyProvider(path).rotate()
    reads.clear()
    for i in range(5):
        envelope.new_data_key(f"r_{i}", 1)
    assert reads == [path.resolve()]  # the rotated file is read once, then stat'ed only


# --- finding 3: a key file reached through a symlink --------------------------------


def test_rotation_through_a_symlink_replaces_the_real_file(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    real = secrets / "vault.keys"
    FileKeyProvider.create(real)
    link = tmp_path / "vault.keys"
    link.symlink_to(real)

    provider = FileKeyProvider(link)
    assert provider.rotate() == "kek-2"
    assert link.is_symlink()
    assert _kek_ids_in(real) == ["kek-1", "kek-2"]
    assert provider.path == link  # as given: every read follows the link
    # A process configured with the real path sees the same key set and rotates onward.
    other = FileKeyProvider(real)
    assert other.key_set().kek_ids == ("kek-1", "kek-2")
    assert other.rotate() == "kek-3"
    assert link.is_symlink()
    assert FileKeyProvider(link).key_set().kek_ids == ("kek-1", "kek-2", "kek-3")
    _, wrapped = Envelope(provider.key_set()).new_data_key("r_1", 1)
    assert Envelope.kek_id_of(wrapped) == "kek-3"
    Envelope(other.key_set()).unwrap("r_1", 1, wrapped)


def test_create_through_a_symlink_writes_the_target(tmp_path: Path) -> None:
    real = tmp_path / "real.keys"
    link = tmp_path / "link.keys"
    link.symlink_to(real)  # dangling until the key set is created
    provider = FileKeyProvider.create(link)
    assert link.is_symlink()
    assert real.is_file()
    assert provider.path == link


def test_a_symlink_re_pointed_by_the_deployment_is_followed(tmp_path: Path) -> None:
    """Kubernetes updates a secret by swapping the directory a symlink points through."""
    first = tmp_path / "..data-1"
    first.mkdir(mode=0o700)
    FileKeyProvider.create(first / "vault.keys")
    data = tmp_path / "..data"
    data.symlink_to(first)
    link = tmp_path / "vault.keys"
    link.symlink_to(data / "vault.keys")
    running = FileKeyProvider(link)  # a long-running process

    second = tmp_path / "..data-2"
    second.mkdir(mode=0o700)
    (second / "vault.keys").write_bytes((first / "vault.keys").read_bytes())
    os.chmod(second / "vault.keys", 0o600)
    assert FileKeyProvider(second / "vault.keys").rotate() == "kek-2"
    swap = tmp_path / "..data-new"
    swap.symlink_to(second)
    os.replace(swap, data)  # the atomic swap
    for p in first.iterdir():
        p.unlink()
    first.rmdir()

    _, wrapped = Envelope(running.key_set()).new_data_key("r_1", 1)
    assert Envelope.kek_id_of(wrapped) == "kek-2"  # the running process followed


# --- finding 4: KEK ids fit the database's VARCHAR(32) columns -------------------------


def test_kek_id_is_at_most_32_characters() -> None:
    assert check_kek_id("k" * 32) == b"k" * 32
    with pytest.raises(ValueError, match="1 to 32 characters") as info:
        check_kek_id("kms:prod/credit-vault/2025-q1/kek-0001")
    assert "kms:prod" not in str(info.value)


@pytest.mark.parametrize(("length", "ok"), [(32, True), (33, False), (64, False)])
def test_key_file_with_a_long_kek_id(tmp_path: Path, length: int, ok: bool) -> None:
    path = tmp_path / "vault.keys"
    FileKeyProvider.create(path)
    doc = json.loads(path.read_text("utf-8"))
    long_id = ("kek-" + "x" * 64)[:length]
    doc["keks"][0]["id"] = doc["current_kek"] = long_id
    _write_doc(path, doc)
    if ok:
        assert FileKeyProvider(path).key_set().current_kek_id == long_id
        return
    with pytest.raises(KeyFileError, match="1 to 32 characters") as info:
        FileKeyProvider(path)
    assert long_id not in str(info.value)


# --- finding 5: a deeply nested key file ------------------------------------------------


def test_deeply_nested_key_file_is_a_key_file_error(tmp_path: Path) -> None:
    path = tmp_path / "vault.keys"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, b"[" * 100_000 + b"]" * 100_000)
    finally:
        os.close(fd)
    with pytest.raises(KeyFileError, match="nested too deeply"):
        FileKeyProvider(path)
    with pytest.raises(KeyFileError, match="nested too deeply"):
        PassphraseKeyProvider(path, "pass phrase")


def test_a_relative_path_survives_a_change_of_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    FileKeyProvider.create("vault.keys")
    running = FileKeyProvider("vault.keys")
    assert running.path == tmp_path / "vault.keys"
    monkeypatch.chdir("/")  # as a daemon does
    assert FileKeyProvider(tmp_path / "vault.keys").rotate() == "kek-2"
    _, wrapped = Envelope(running.key_set()).new_data_key("r_1", 1)
    assert Envelope.kek_id_of(wrapped) == "kek-2"
    assert running.rotate() == "kek-3"
