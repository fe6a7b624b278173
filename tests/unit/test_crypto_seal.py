"""seal_new_records: the bulk-ingest path yields exactly the envelope and field formats."""

from __future__ import annotations

from unittest import mock

import pytest

from credit_vault.crypto import Envelope, FieldCipher, KeySet, seal_new_records
from credit_vault.crypto import _field as field_module
from credit_vault.errors import IntegrityError

RECORDS = [
    ("r_aaaaaaaaaaaa", [("decision_no", b"sA-1"), ("summary", "逃税".encode())]),
    ("r_bbbbbbbbbbbb", [("decision_no", b"sB-2")]),
    ("r_cccccccccccc", []),
]


@pytest.fixture(scope="module")
def keys() -> KeySet:
    return KeySet.generate()


def test_round_trip_through_unwrap_and_field_cipher(keys: KeySet) -> None:
    env = Envelope(keys)
    sealed = seal_new_records(env, 7, RECORDS)
    assert len(sealed) == len(RECORDS)
    for (rid, items), (wrapped, cts) in zip(RECORDS, sealed, strict=True):
        assert Envelope.kek_id_of(wrapped) == keys.current_kek_id
        cipher = FieldCipher(env.unwrap(rid, 7, wrapped))
        assert len(cts) == len(items)
        assert cipher.decrypt_many(
            rid, [(f, ct) for (f, _), ct in zip(items, cts, strict=True)]
        ) == [pt for _, pt in items]
        for ct in cts:
            assert ct[0] == 0x01
            assert int.from_bytes(ct[1:5], "big") == 7


def test_same_layout_as_the_per_record_path(keys: KeySet) -> None:
    env = Envelope(keys)
    ((wrapped, cts),) = seal_new_records(env, 1, RECORDS[:1])
    ((_, reference_wrapped),) = env.new_data_keys([(RECORDS[0][0], 1)])
    assert len(wrapped) == len(reference_wrapped)
    assert wrapped[: 2 + wrapped[1]] == reference_wrapped[: 2 + reference_wrapped[1]]
    reference = FieldCipher(env.new_data_key(RECORDS[0][0], 1)[0]).encrypt_many(
        RECORDS[0][0], RECORDS[0][1]
    )
    assert [len(c) for c in cts] == [len(c) for c in reference]


def test_keys_nonces_and_ciphertexts_are_fresh(keys: KeySet) -> None:
    env = Envelope(keys)
    a = seal_new_records(env, 1, RECORDS)
    b = seal_new_records(env, 1, RECORDS)
    assert a[0][0] != b[0][0]
    nonces = [ct[5:17] for _, cts in a + b for ct in cts]
    assert len(set(nonces)) == len(nonces)
    wrap_nonces = [w[2 + w[1] : 14 + w[1]] for w, _ in a + b]
    assert len(set(wrap_nonces)) == len(wrap_nonces)


def test_bound_to_record_field_and_version(keys: KeySet) -> None:
    env = Envelope(keys)
    (wa, cts_a), (_wb, cts_b), _ = seal_new_records(env, 1, RECORDS)
    with pytest.raises(IntegrityError):
        env.unwrap("r_bbbbbbbbbbbb", 1, wa)  # a wrapped key moved to another record
    with pytest.raises(IntegrityError):
        env.unwrap("r_aaaaaaaaaaaa", 2, wa)  # or another version
    cipher_a = FieldCipher(env.unwrap("r_aaaaaaaaaaaa", 1, wa))
    with pytest.raises(IntegrityError):
        cipher_a.decrypt("r_aaaaaaaaaaaa", "summary", cts_a[0])  # another field's ciphertext
    with pytest.raises(IntegrityError):
        cipher_a.decrypt("r_aaaaaaaaaaaa", "decision_no", cts_b[0])  # another record's


def test_one_os_read_for_all_keys(keys: KeySet) -> None:
    env = Envelope(keys)
    with mock.patch.object(field_module, "secret_bytes", wraps=field_module.secret_bytes) as spy:
        seal_new_records(env, 1, RECORDS)
    spy.assert_called_once_with(44 * len(RECORDS))


@pytest.mark.parametrize(
    ("records", "version", "error"),
    [
        ([("", [("f", b"x")])], 1, ValueError),
        ([("r_" + "x" * 70, [("f", b"x")])], 1, ValueError),
        ([("r_ok", [("", b"x")])], 1, ValueError),
        ([("r_ok", [("f", b"x")])], -1, ValueError),
        ([("r_ok", [("f", b"x")])], 2**32, ValueError),
    ],
)
def test_bad_input_raises_and_returns_nothing(
    keys: KeySet, records: list[tuple[str, list[tuple[str, bytes]]]], version: int, error: type
) -> None:
    with pytest.raises(error):
        seal_new_records(Envelope(keys), version, records)
