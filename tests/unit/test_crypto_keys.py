"""Key sets and providers: files, permissions, rotation, passphrase sealing, env import/export."""

from __future__ import annotations

import base64
import copy
import json
import os
import pickle
import stat
import threading
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretBytes, SecretStr

from credit_vault.crypto import (
    ARGON2_TEST_PARAMS,
    Argon2Params,
    AuditSigner,
    BlindIndex,
    BlindIndexKey,
    Envelope,
    EnvKeyProvider,
    FileKeyProvider,
    KeyProvider,
    KeySet,
    PassphraseKeyProvider,
)
from credit_vault.crypto._primitives import ed25519_verify
from credit_vault.errors import IntegrityError, KeyFileError, KeyNotFound

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def secrets_of(keys: KeySet) -> list[bytes]:
    material = keys._material()
    return [
        *(k for _, k in material.keks),
        material.blind_root,
        material.audit_seed,
        keys.blind_index_key("subject_id")._key,
    ]


def assert_no_secret_in(text: str, keys: KeySet) -> None:
    for secret in secrets_of(keys):
        for form in (secret.hex(), base64.b64encode(secret).decode(), repr(secret)):
            assert form not in text


def rewrite(path: Path, change: Any) -> None:
    doc = json.loads(path.read_text("utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), "utf-8")


# --- file provider ---------------------------------------------------------------------


@posix_only
def test_create_writes_0600_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    old_umask = os.umask(0)  # even with a permissive umask the file is 0600
    try:
        provider = FileKeyProvider.create(path)
    finally:
        os.umask(old_umask)
    assert mode(path) == 0o600
    assert isinstance(provider, KeyProvider)
    keys = provider.key_set()
    assert provider.key_set() is keys  # loaded once, then cached
    assert keys.kek_ids == ("kek-1",)
    assert keys.current_kek_id == "kek-1"
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        FileKeyProvider.create(path)
    assert path.read_bytes() == before
    replaced = FileKeyProvider.create(path, overwrite=True)
    assert replaced.key_set().fingerprint != keys.fingerprint
    assert mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]  # no temp files left


def test_file_contents_follow_the_documented_format(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    keys = FileKeyProvider.create(path).key_set()
    doc = json.loads(path.read_text("utf-8"))
    assert doc["format"] == "credit_vault/key-set"
    assert doc["version"] == 1
    assert doc["current_kek"] == "kek-1"
    assert [k["id"] for k in doc["keks"]] == ["kek-1"]
    assert doc["keks"][0]["alg"] == "AES-256-GCM"
    assert base64.b64decode(doc["keks"][0]["key"]) == keys._material().keks[0][1]
    assert len(base64.b64decode(doc["blind_index_root"])) == 32
    assert len(base64.b64decode(doc["audit_ed25519_seed"])) == 32


@posix_only
@pytest.mark.parametrize("bad_mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o610])
def test_refuses_group_or_other_access(tmp_path: Path, bad_mode: int) -> None:
    path = tmp_path / "keys.json"
    FileKeyProvider.create(path)
    path.chmod(bad_mode)
    with pytest.raises(KeyFileError, match="group or others; chmod 600"):
        FileKeyProvider(path)
    path.chmod(0o400)
    FileKeyProvider(path)  # read-only for the owner is fine


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        FileKeyProvider(tmp_path / "nope.json")


def test_directory_is_not_a_key_file(tmp_path: Path) -> None:
    directory = tmp_path / "dir"
    directory.mkdir(mode=0o700)
    with pytest.raises(KeyFileError):
        FileKeyProvider(directory)


MALFORMED = [
    ("not json", lambda d: "{"),
    ("list", lambda d: "[]"),
    ("wrong format", lambda d: {**d, "format": "other"}),
    ("future version", lambda d: {**d, "version": 2}),
    ("version as string", lambda d: {**d, "version": "1"}),
    ("extra member", lambda d: {**d, "comment": "x"}),
    ("missing member", lambda d: {k: v for k, v in d.items() if k != "blind_index_root"}),
    ("no keks", lambda d: {**d, "keks": []}),
    ("current unknown", lambda d: {**d, "current_kek": "kek-9"}),
    ("short kek", lambda d: {**d, "keks": [{**d["keks"][0], "key": "AAAA"}]}),
    ("bad base64", lambda d: {**d, "blind_index_root": "!!" + d["blind_index_root"][2:]}),
    ("bad alg", lambda d: {**d, "keks": [{**d["keks"][0], "alg": "AES-128-GCM"}]}),
    ("bad id", lambda d: {**d, "keks": [{**d["keks"][0], "id": "kek 1"}], "current_kek": "kek 1"}),
    ("duplicate id", lambda d: {**d, "keks": [d["keks"][0], d["keks"][0]]}),
    ("kek not object", lambda d: {**d, "keks": ["x"]}),
    ("seed not string", lambda d: {**d, "audit_ed25519_seed": 5}),
]


@pytest.mark.parametrize(("name", "change"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_files_are_refused_without_echoing_keys(
    tmp_path: Path, name: str, change: Any
) -> None:
    path = tmp_path / "keys.json"
    keys = FileKeyProvider.create(path).key_set()
    doc = json.loads(path.read_text("utf-8"))
    new = change(doc)
    path.write_text(new if isinstance(new, str) else json.dumps(new), "utf-8")
    with pytest.raises(KeyFileError, match="not valid") as info:
        FileKeyProvider(path)
    assert info.value.__cause__ is None
    assert_no_secret_in(str(info.value), keys)


def test_sealed_file_opened_as_plain_names_the_right_provider(tmp_path: Path) -> None:
    path = tmp_path / "sealed.json"
    PassphraseKeyProvider.create(path, "pw", params=ARGON2_TEST_PARAMS)
    with pytest.raises(KeyFileError, match="PassphraseKeyProvider"):
        FileKeyProvider(path)
    plain = tmp_path / "plain.json"
    FileKeyProvider.create(plain)
    with pytest.raises(KeyFileError, match="FileKeyProvider"):
        PassphraseKeyProvider(plain, "pw")


# --- rotation -------------------------------------------------------------------------------


def test_rotate_persists_and_keeps_old_keks(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    provider = FileKeyProvider.create(path)
    keys = provider.key_set()
    fingerprint = keys.fingerprint
    kek1 = keys._material().keks[0]
    assert provider.rotate() == "kek-2"
    assert provider.rotate() == "kek-3"
    assert keys.kek_ids == ("kek-1", "kek-2", "kek-3")
    assert keys.current_kek_id == "kek-3"
    assert keys.fingerprint == fingerprint
    reopened = FileKeyProvider(path).key_set()
    assert reopened.kek_ids == ("kek-1", "kek-2", "kek-3")
    assert reopened.current_kek_id == "kek-3"
    assert reopened._material().keks[0] == kek1
    if os.name == "posix":
        assert mode(path) == 0o600


def test_concurrent_rotations_lose_no_kek(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    FileKeyProvider.create(path)
    providers = [FileKeyProvider(path) for _ in range(4)]
    barrier = threading.Barrier(len(providers))
    made: list[str] = []
    errors: list[BaseException] = []

    def work(provider: FileKeyProvider) -> None:
        try:
            barrier.wait()
            made.extend(provider.rotate() for _ in range(5))
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in providers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(made) == sorted(f"kek-{n}" for n in range(2, 22))
    final = FileKeyProvider(path).key_set()
    assert len(final.kek_ids) == 21


def test_other_process_rotation_is_picked_up_on_unwrap(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = FileKeyProvider.create(path)
    second = FileKeyProvider(path)  # stands for another process
    second.rotate()
    data_key, wrapped = Envelope(second.key_set()).new_data_key("r_1", 1)
    assert Envelope.kek_id_of(wrapped) == "kek-2"
    assert first.key_set().kek_ids == ("kek-1",)
    assert Envelope(first.key_set()).unwrap("r_1", 1, wrapped)._key == data_key._key
    assert first.key_set().kek_ids == ("kek-1", "kek-2")
    assert first.key_set().current_kek_id == "kek-2"


def test_reload_never_adopts_another_key_set(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = FileKeyProvider.create(path)
    other_path = tmp_path / "other.json"
    other = FileKeyProvider.create(other_path)
    other.rotate()
    _, wrapped = Envelope(other.key_set()).new_data_key("r_1", 1)
    os.replace(other_path, path)  # someone swaps the file for another key set
    with pytest.raises(KeyNotFound):
        Envelope(first.key_set()).unwrap("r_1", 1, wrapped)
    assert first.key_set().kek_ids == ("kek-1",)
    with pytest.raises(KeyFileError, match="no longer holds this key set"):
        first.rotate()


def test_rotate_refuses_a_file_that_dropped_a_kek(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    provider = FileKeyProvider.create(path)
    provider.rotate()

    def drop_first(doc: dict[str, Any]) -> None:
        doc["keks"] = doc["keks"][1:]

    rewrite(path, drop_first)
    with pytest.raises(KeyFileError, match="no longer holds"):
        provider.rotate()
    assert provider.key_set().kek_ids == ("kek-1", "kek-2")


# --- passphrase provider -----------------------------------------------------------------


def test_passphrase_round_trip_and_wrong_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "sealed.json"
    provider = PassphraseKeyProvider.create(path, "正确的 horse", params=ARGON2_TEST_PARAMS)
    keys = provider.key_set()
    if os.name == "posix":
        assert mode(path) == 0o600
    doc = json.loads(path.read_text("utf-8"))
    assert doc["format"] == "credit_vault/sealed-key-set"
    assert doc["kdf"] == {
        "alg": "argon2id",
        "v": 19,
        "t": 1,
        "m": 8,
        "p": 1,
        "salt": doc["kdf"]["salt"],
    }
    assert len(base64.b64decode(doc["kdf"]["salt"])) == 16
    assert_no_secret_in(path.read_text("utf-8"), keys)

    again = PassphraseKeyProvider(path, "正确的 horse").key_set()
    assert again.fingerprint == keys.fingerprint
    with pytest.raises(IntegrityError):
        PassphraseKeyProvider(path, "wrong horse")
    with pytest.raises(IntegrityError):
        PassphraseKeyProvider(path, "正确的 horse ")  # a trailing space is another passphrase


def test_passphrase_types_and_normalisation(tmp_path: Path) -> None:
    path = tmp_path / "sealed.json"
    composed = unicodedata.normalize("NFC", "café")
    decomposed = unicodedata.normalize("NFD", "café")
    assert composed != decomposed
    keys = PassphraseKeyProvider.create(path, composed, params=ARGON2_TEST_PARAMS).key_set()
    for same in (
        decomposed,
        SecretStr(composed),
        composed.encode(),
        SecretBytes(composed.encode()),
    ):
        assert PassphraseKeyProvider(path, same).key_set().fingerprint == keys.fingerprint
    with pytest.raises(ValueError, match="empty"):
        PassphraseKeyProvider(path, "")
    with pytest.raises(TypeError):
        PassphraseKeyProvider(path, 1234)  # type: ignore[arg-type]


def test_tampered_sealed_file(tmp_path: Path) -> None:
    path = tmp_path / "sealed.json"
    PassphraseKeyProvider.create(path, "pw", params=ARGON2_TEST_PARAMS)
    original = path.read_text("utf-8")

    def bump_time(doc: dict[str, Any]) -> None:
        doc["kdf"]["t"] = 2

    def flip_ciphertext(doc: dict[str, Any]) -> None:
        raw = bytearray(base64.b64decode(doc["ciphertext"]))
        raw[10] ^= 1
        doc["ciphertext"] = base64.b64encode(raw).decode()

    for change in (bump_time, flip_ciphertext):
        path.write_text(original, "utf-8")
        rewrite(path, change)
        with pytest.raises(IntegrityError):
            PassphraseKeyProvider(path, "pw")

    def absurd_memory(doc: dict[str, Any]) -> None:
        doc["kdf"]["m"] = 2**40

    path.write_text(original, "utf-8")
    rewrite(path, absurd_memory)
    with pytest.raises(KeyFileError, match="out of range"):
        PassphraseKeyProvider(path, "pw")


def test_passphrase_rotate(tmp_path: Path) -> None:
    path = tmp_path / "sealed.json"
    provider = PassphraseKeyProvider.create(path, "pw", params=ARGON2_TEST_PARAMS)
    _, wrapped = Envelope(provider.key_set()).new_data_key("r_1", 1)
    salt = json.loads(path.read_text("utf-8"))["kdf"]["salt"]
    assert provider.rotate() == "kek-2"
    doc = json.loads(path.read_text("utf-8"))
    assert doc["kdf"]["salt"] == salt
    reopened = PassphraseKeyProvider(path, "pw").key_set()
    assert reopened.kek_ids == ("kek-1", "kek-2")
    assert Envelope(reopened).unwrap("r_1", 1, wrapped).record_id == "r_1"


def test_argon2_params() -> None:
    default = Argon2Params.rfc9106_low_memory()
    assert (default.time_cost, default.memory_cost, default.parallelism) == (3, 65536, 4)
    high = Argon2Params.rfc9106_high_memory()
    assert (high.time_cost, high.memory_cost, high.parallelism) == (1, 2 * 1024 * 1024, 4)
    assert ARGON2_TEST_PARAMS.memory_cost < default.memory_cost
    for bad in (
        {"time_cost": 0, "memory_cost": 64, "parallelism": 1},
        {"time_cost": 1, "memory_cost": 7, "parallelism": 1},
        {"time_cost": 1, "memory_cost": 16, "parallelism": 4},
        {"time_cost": 1, "memory_cost": 64, "parallelism": 0},
        {"time_cost": 1, "memory_cost": 2**40, "parallelism": 1},
    ):
        with pytest.raises(ValueError, match="Argon2"):
            Argon2Params(**bad)
    with pytest.raises(TypeError):
        Argon2Params(time_cost=1.5, memory_cost=64, parallelism=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PassphraseKeyProvider.create("x", "pw", params=(1, 8, 1))  # type: ignore[arg-type]


# --- environment provider --------------------------------------------------------------------


def test_env_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = FileKeyProvider.create(tmp_path / "keys.json")
    provider.rotate()
    value = EnvKeyProvider.export_value(provider)
    assert EnvKeyProvider.export_value(provider.key_set()) == value
    monkeypatch.setenv("CREDIT_VAULT_KEYS", value)
    keys = EnvKeyProvider().key_set()
    assert keys.fingerprint == provider.key_set().fingerprint
    assert keys.kek_ids == ("kek-1", "kek-2")
    _, wrapped = Envelope(provider.key_set()).new_data_key("r_1", 1)
    assert Envelope(keys).unwrap("r_1", 1, wrapped).record_id == "r_1"
    monkeypatch.setenv("OTHER_VAR", value)
    assert EnvKeyProvider("OTHER_VAR").key_set().fingerprint == keys.fingerprint
    assert_no_secret_in(repr(EnvKeyProvider("OTHER_VAR")), keys)


def test_env_errors_do_not_echo_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDIT_VAULT_KEYS", raising=False)
    with pytest.raises(KeyFileError, match="CREDIT_VAULT_KEYS"):
        EnvKeyProvider()
    monkeypatch.setenv("CREDIT_VAULT_KEYS", "not base64 ✗ secretish")
    with pytest.raises(KeyFileError) as info:
        EnvKeyProvider()
    assert "secretish" not in str(info.value)
    monkeypatch.setenv("CREDIT_VAULT_KEYS", base64.b64encode(b'{"a": 1}').decode())
    with pytest.raises(KeyFileError, match="not valid"):
        EnvKeyProvider()
    with pytest.raises(TypeError):
        EnvKeyProvider.export_value(object())  # type: ignore[arg-type]


# --- handles ------------------------------------------------------------------------------------


def test_handles_refuse_pickling_and_copying(tmp_path: Path) -> None:
    provider = FileKeyProvider.create(tmp_path / "keys.json")
    sealed = PassphraseKeyProvider.create(tmp_path / "s.json", "pw", params=ARGON2_TEST_PARAMS)
    keys = provider.key_set()
    handles: list[object] = [
        keys,
        keys.audit_signer,
        keys.blind_index_key("subject_id"),
        keys._current_kek(),
        provider,
        sealed,
        BlindIndex(keys, "subject_id"),
        Envelope(keys),
    ]
    for handle in handles:
        with pytest.raises(TypeError):
            pickle.dumps(handle)
        with pytest.raises(TypeError):
            copy.copy(handle)
        with pytest.raises(TypeError):
            copy.deepcopy(handle)


def test_reprs_show_ids_only(tmp_path: Path) -> None:
    provider = FileKeyProvider.create(tmp_path / "keys.json")
    provider.rotate()
    keys = provider.key_set()
    texts = [
        repr(keys),
        str(keys),
        repr(provider),
        repr(keys.audit_signer),
        repr(keys.blind_index_key("subject_id")),
        repr(keys._current_kek()),
        repr(keys._material()),
        repr(Envelope(keys)),
        repr(BlindIndex(keys, "subject_id")),
    ]
    for text in texts:
        assert_no_secret_in(text, keys)
    assert "kek-1" in repr(keys)
    assert "kek-2" in repr(keys)
    assert keys.fingerprint in repr(keys)
    assert repr(keys._current_kek()) == "Kek(id='kek-2')"


def test_no_public_constructors_from_raw_bytes() -> None:
    with pytest.raises(TypeError):
        KeySet()
    with pytest.raises(TypeError):
        AuditSigner(bytes(32))
    with pytest.raises(TypeError):
        BlindIndexKey("p", bytes(32))


# --- key set contents ----------------------------------------------------------------------------


def test_audit_signer_and_fingerprint() -> None:
    keys = KeySet.generate()
    signer = keys.audit_signer
    assert len(signer.public_key) == 32
    signature = signer.sign(b"checkpoint")
    assert len(signature) == 64
    assert signer.verify(b"checkpoint", signature)
    assert not signer.verify(b"checkpoinT", signature)
    assert ed25519_verify(signer.public_key, signature, b"checkpoint")
    assert len(keys.fingerprint) == 16
    int(keys.fingerprint, 16)
    assert KeySet.generate().fingerprint != keys.fingerprint


def test_blind_index_keys_are_derived_per_purpose() -> None:
    keys = KeySet.generate()
    a = keys.blind_index_key("subject_id")
    assert keys.blind_index_key("subject_id") is a
    assert a.purpose == "subject_id"
    assert a.mac(b"x") != keys.blind_index_key("name").mac(b"x")
    assert a.mac(b"x") == keys.blind_index_key("subject_id").mac(b"x")
    assert len(a.mac(b"x")) == 32
    with pytest.raises(ValueError, match="purpose"):
        keys.blind_index_key("")
    with pytest.raises(ValueError, match="purpose"):
        keys.blind_index_key("p" * 65)
    with pytest.raises(TypeError):
        keys.blind_index_key(b"p")  # type: ignore[arg-type]
