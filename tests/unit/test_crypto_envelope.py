"""Envelope: data keys wrapped under the current KEK, bound to record and version."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from credit_vault.crypto import DataKey, Envelope, FieldCipher, FileKeyProvider, KeySet
from credit_vault.errors import IntegrityError, KeyNotFound

RID = "r_01J8Z3Q4X5Y6Z7A8B9C0D1E2F3"


@pytest.fixture
def keys() -> KeySet:
    return KeySet.generate()


def test_new_data_key_unwraps_to_the_same_key(keys: KeySet) -> None:
    envelope = Envelope(keys)
    data_key, wrapped = envelope.new_data_key(RID, 1)
    assert (data_key.record_id, data_key.version) == (RID, 1)
    assert len(wrapped) == 2 + len("kek-1") + 12 + 48
    assert wrapped[:7] == b"\x01\x05kek-1"
    again = envelope.unwrap(RID, 1, wrapped)
    assert again._key == data_key._key
    blob = FieldCipher(data_key).encrypt(RID, "name", b"x")
    assert FieldCipher(again).decrypt(RID, "name", blob) == b"x"


def test_data_keys_are_fresh(keys: KeySet) -> None:
    envelope = Envelope(keys)
    made = [envelope.new_data_key(RID, 1) for _ in range(50)]
    made += envelope.new_data_keys([(RID, 1)] * 50)
    assert len({dk._key for dk, _ in made}) == 100
    assert len({w for _, w in made}) == 100
    assert len({w[7:19] for _, w in made}) == 100  # wrap nonces


def test_new_data_keys_batch(keys: KeySet) -> None:
    envelope = Envelope(keys)
    items = [(f"r_{i}", i) for i in range(20)]
    made = envelope.new_data_keys(items)
    assert [(dk.record_id, dk.version) for dk, _ in made] == items
    for (rid, ver), (dk, wrapped) in zip(items, made, strict=True):
        assert envelope.unwrap(rid, ver, wrapped)._key == dk._key
    assert envelope.new_data_keys([]) == []


def test_new_data_keys_validates_everything_first(keys: KeySet) -> None:
    envelope = Envelope(keys)
    with pytest.raises(ValueError, match="record_id"):
        envelope.new_data_keys([("r_ok", 1), ("", 1)])
    with pytest.raises(ValueError, match="key_version"):
        envelope.new_data_keys([("r_ok", 1), ("r_ok2", -1)])
    with pytest.raises(TypeError):
        envelope.new_data_keys([("r_ok", True)])


@pytest.mark.parametrize(
    ("record_id", "version"), [(RID + "X", 1), (RID, 2), ("s_subject", 1), (RID, 0)]
)
def test_moved_wrapped_key_fails(keys: KeySet, record_id: str, version: int) -> None:
    envelope = Envelope(keys)
    _, wrapped = envelope.new_data_key(RID, 1)
    with pytest.raises(IntegrityError):
        envelope.unwrap(record_id, version, wrapped)


def test_other_key_set_cannot_unwrap(keys: KeySet) -> None:
    _, wrapped = Envelope(keys).new_data_key(RID, 1)
    with pytest.raises(IntegrityError):  # same id "kek-1", different key
        Envelope(KeySet.generate()).unwrap(RID, 1, wrapped)


def test_every_flipped_bit_fails_and_never_returns(keys: KeySet) -> None:
    envelope = Envelope(keys)
    _, wrapped = envelope.new_data_key(RID, 1)
    kek_id_bytes = range(2, 2 + len("kek-1"))
    for index in range(len(wrapped)):
        for bit in range(8):
            changed = bytearray(wrapped)
            changed[index] ^= 1 << bit
            # A flip inside the KEK id may name a KEK we do not have; that is all it can do.
            expected = (IntegrityError, KeyNotFound) if index in kek_id_bytes else IntegrityError
            with pytest.raises(expected):
                envelope.unwrap(RID, 1, bytes(changed))


def test_every_truncation_fails(keys: KeySet) -> None:
    envelope = Envelope(keys)
    _, wrapped = envelope.new_data_key(RID, 1)
    for length in range(len(wrapped)):
        with pytest.raises(IntegrityError):
            envelope.unwrap(RID, 1, wrapped[:length])
    with pytest.raises(IntegrityError):
        envelope.unwrap(RID, 1, wrapped + b"\x00")


def test_unknown_kek_is_key_not_found(keys: KeySet) -> None:
    envelope = Envelope(keys)
    _, wrapped = envelope.new_data_key(RID, 1)
    renamed = b"\x01\x05kek-9" + wrapped[7:]
    with pytest.raises(KeyNotFound, match="kek-9"):
        envelope.unwrap(RID, 1, renamed)


def test_kek_id_of(keys: KeySet) -> None:
    _, wrapped = Envelope(keys).new_data_key(RID, 1)
    assert Envelope.kek_id_of(wrapped) == "kek-1"
    with pytest.raises(IntegrityError):
        Envelope.kek_id_of(wrapped[:-1])
    with pytest.raises(IntegrityError):
        Envelope.kek_id_of(b"\x01\x05kek-\xff" + wrapped[7:])
    with pytest.raises(TypeError):
        Envelope.kek_id_of(wrapped.hex())  # type: ignore[arg-type]


def test_rotation_and_rewrap(tmp_path: Path) -> None:
    provider = FileKeyProvider.create(tmp_path / "keys.json")
    keys = provider.key_set()
    envelope = Envelope(keys)
    old_key, old_wrapped = envelope.new_data_key(RID, 1)
    assert Envelope.kek_id_of(old_wrapped) == "kek-1"

    assert provider.rotate() == "kek-2"
    assert keys.current_kek_id == "kek-2"
    assert keys.kek_ids == ("kek-1", "kek-2")
    # old wraps still open; new wraps use the new KEK
    assert envelope.unwrap(RID, 1, old_wrapped)._key == old_key._key
    new_key, new_wrapped = envelope.new_data_key(RID, 2)
    assert Envelope.kek_id_of(new_wrapped) == "kek-2"

    rewrapped = envelope.rewrap(RID, 1, old_wrapped)
    assert Envelope.kek_id_of(rewrapped) == "kek-2"
    assert envelope.unwrap(RID, 1, rewrapped)._key == old_key._key
    assert envelope.rewrap(RID, 1, rewrapped) == rewrapped  # already current: unchanged
    assert envelope.rewrap(RID, 2, new_wrapped) == new_wrapped
    # rewrap authenticates first: no laundering of a moved or forged blob
    with pytest.raises(IntegrityError):
        envelope.rewrap(RID + "X", 1, old_wrapped)
    with pytest.raises(IntegrityError):
        envelope.rewrap(RID, 1, rewrapped[:-1])
    # a fresh process opening the file sees both KEKs
    reopened = Envelope(FileKeyProvider(tmp_path / "keys.json").key_set())
    assert reopened.unwrap(RID, 1, old_wrapped)._key == old_key._key
    assert reopened.unwrap(RID, 2, new_wrapped)._key == new_key._key


def test_envelope_handles(keys: KeySet) -> None:
    envelope = Envelope(keys)
    data_key, _ = envelope.new_data_key(RID, 1)
    for handle in (envelope, data_key):
        with pytest.raises(TypeError):
            pickle.dumps(handle)
        assert data_key._key.hex() not in repr(handle)
    with pytest.raises(TypeError):
        Envelope(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DataKey()
    with pytest.raises(ValueError, match="32 bytes"):
        DataKey._from_bytes(RID, 1, bytes(16))


def test_misuse_raises_plain_errors(keys: KeySet) -> None:
    envelope = Envelope(keys)
    _, wrapped = envelope.new_data_key(RID, 1)
    with pytest.raises(ValueError, match="key_version"):
        envelope.new_data_key(RID, 2**32)
    with pytest.raises(TypeError):
        envelope.new_data_key(RID, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="record_id"):
        envelope.unwrap("x" * 65, 1, wrapped)
    with pytest.raises(TypeError):
        envelope.unwrap(RID, 1, "wrapped")  # type: ignore[arg-type]
    assert envelope.unwrap(RID, 1, memoryview(wrapped)).record_id == RID
