"""Hypothesis properties of the field cipher, the envelope and the blind index.

Round trips hold for any bytes and any valid names; every way of moving or
altering a ciphertext raises the opaque IntegrityError and never returns bytes.
"""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from credit_vault.crypto import BlindIndex, Envelope, FieldCipher, KeySet
from credit_vault.crypto._envelope import DataKey
from credit_vault.errors import IntegrityError, KeyNotFound

# --- strategies ---------------------------------------------------------------------

record_ids = st.text(alphabet=st.characters(max_codepoint=127), min_size=1, max_size=64)
field_names = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=64).filter(
    lambda s: len(s.encode("utf-8")) <= 64
)
key_versions = st.integers(min_value=0, max_value=2**32 - 1)
plaintexts = st.binary(max_size=300)
raw_keys = st.binary(min_size=32, max_size=32)

KEYS = KeySet.generate()
ENVELOPE = Envelope(KEYS)
SETTINGS = settings(max_examples=150, deadline=None)


def cipher(key: bytes, record_id: str, version: int) -> FieldCipher:
    return FieldCipher(DataKey._from_bytes(record_id, version, key))


def fails(c: FieldCipher, record_id: str, field: str, blob: bytes) -> bool:
    """True when decrypting raises IntegrityError (and, by construction, returns nothing)."""
    try:
        c.decrypt(record_id, field, blob)
    except IntegrityError:
        return True
    return False


def reference_ad(record_id: str, field: str, version: int) -> bytes:
    rid, fld = record_id.encode("ascii"), field.encode("utf-8")
    return (
        b"credit_vault/field/v1\x00"
        + struct.pack(">H", len(rid))
        + rid
        + struct.pack(">H", len(fld))
        + fld
        + struct.pack(">I", version)
    )


# --- field cipher ---------------------------------------------------------------------


@SETTINGS
@given(raw_keys, record_ids, field_names, key_versions, plaintexts)
def test_field_round_trip(key: bytes, rid: str, field: str, version: int, pt: bytes) -> None:
    c = cipher(key, rid, version)
    blob = c.encrypt(rid, field, pt)
    assert len(blob) == len(pt) + 33
    assert c.decrypt(rid, field, blob) == pt
    # a third party with the key and docs/crypto.md decrypts it too
    assert AESGCM(key).decrypt(blob[5:17], blob[17:], reference_ad(rid, field, version)) == pt


@SETTINGS
@given(raw_keys, record_ids, st.lists(st.tuples(field_names, plaintexts), max_size=8))
def test_encrypt_many_round_trip(key: bytes, rid: str, items: list[tuple[str, bytes]]) -> None:
    c = cipher(key, rid, 1)
    blobs = c.encrypt_many(rid, items)
    assert [c.decrypt(rid, f, b) for (f, _), b in zip(items, blobs, strict=True)] == [
        pt for _, pt in items
    ]
    assert len({b[5:17] for b in blobs}) == len(blobs)
    pairs = [(f, b) for (f, _), b in zip(items, blobs, strict=True)]
    assert c.decrypt_many(rid, pairs) == [pt for _, pt in items]


@SETTINGS
@given(raw_keys, record_ids, record_ids, field_names, plaintexts)
def test_moved_to_another_record(key: bytes, rid: str, other: str, field: str, pt: bytes) -> None:
    assume(rid != other)
    c = cipher(key, rid, 1)
    assert fails(c, other, field, c.encrypt(rid, field, pt))


@SETTINGS
@given(raw_keys, record_ids, field_names, field_names, plaintexts)
def test_moved_to_another_field(key: bytes, rid: str, field: str, other: str, pt: bytes) -> None:
    assume(field != other)
    c = cipher(key, rid, 1)
    assert fails(c, rid, other, c.encrypt(rid, field, pt))


@SETTINGS
@given(raw_keys, record_ids, field_names, st.tuples(key_versions, key_versions), plaintexts)
def test_other_key_version(
    key: bytes, rid: str, field: str, versions: tuple[int, int], pt: bytes
) -> None:
    version, other = versions
    assume(version != other)
    blob = cipher(key, rid, version).encrypt(rid, field, pt)
    reader = cipher(key, rid, other)
    assert fails(reader, rid, field, blob)
    # rewriting the header to the reader's version does not help
    assert fails(reader, rid, field, blob[:1] + other.to_bytes(4, "big") + blob[5:])


@SETTINGS
@given(raw_keys, raw_keys, record_ids, field_names, plaintexts)
def test_wrong_key(key: bytes, other: bytes, rid: str, field: str, pt: bytes) -> None:
    assume(key != other)
    blob = cipher(key, rid, 1).encrypt(rid, field, pt)
    assert fails(cipher(other, rid, 1), rid, field, blob)


@SETTINGS
@given(raw_keys, record_ids, field_names, plaintexts, st.data())
def test_flipped_bit_anywhere(
    key: bytes, rid: str, field: str, pt: bytes, data: st.DataObject
) -> None:
    c = cipher(key, rid, 1)
    blob = c.encrypt(rid, field, pt)
    index = data.draw(st.integers(0, len(blob) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    changed = bytearray(blob)
    changed[index] ^= 1 << bit
    assert fails(c, rid, field, bytes(changed))


@SETTINGS
@given(raw_keys, record_ids, field_names, plaintexts, st.data())
def test_truncated_or_extended(
    key: bytes, rid: str, field: str, pt: bytes, data: st.DataObject
) -> None:
    c = cipher(key, rid, 1)
    blob = c.encrypt(rid, field, pt)
    length = data.draw(st.integers(0, len(blob) - 1), label="length")
    assert fails(c, rid, field, blob[:length])
    assert fails(c, rid, field, blob + data.draw(st.binary(min_size=1, max_size=16)))


@SETTINGS
@given(raw_keys, record_ids, field_names, plaintexts, st.integers(0, 255))
def test_unknown_format_byte(key: bytes, rid: str, field: str, pt: bytes, version: int) -> None:
    assume(version != 0x01)
    c = cipher(key, rid, 1)
    blob = c.encrypt(rid, field, pt)
    assert fails(c, rid, field, bytes([version]) + blob[1:])


@SETTINGS
@given(raw_keys, record_ids, field_names, st.binary(max_size=80))
def test_arbitrary_bytes_never_decrypt(key: bytes, rid: str, field: str, junk: bytes) -> None:
    assert fails(cipher(key, rid, 1), rid, field, junk)


# --- envelope -----------------------------------------------------------------------------


@SETTINGS
@given(record_ids, key_versions)
def test_wrap_round_trip(rid: str, version: int) -> None:
    data_key, wrapped = ENVELOPE.new_data_key(rid, version)
    assert ENVELOPE.unwrap(rid, version, wrapped)._key == data_key._key
    assert ENVELOPE.rewrap(rid, version, wrapped) == wrapped


@SETTINGS
@given(record_ids, key_versions, record_ids, key_versions)
def test_wrapped_key_bound_to_its_place(rid: str, version: int, rid2: str, version2: int) -> None:
    assume((rid, version) != (rid2, version2))
    _, wrapped = ENVELOPE.new_data_key(rid, version)
    try:
        ENVELOPE.unwrap(rid2, version2, wrapped)
    except IntegrityError:
        return
    raise AssertionError("a wrapped key opened for another record or version")


@SETTINGS
@given(record_ids, st.data())
def test_wrapped_key_tampering(rid: str, data: st.DataObject) -> None:
    _, wrapped = ENVELOPE.new_data_key(rid, 1)
    index = data.draw(st.integers(0, len(wrapped) - 1), label="byte")
    changed = bytearray(wrapped)
    changed[index] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    try:
        ENVELOPE.unwrap(rid, 1, bytes(changed))
    except (IntegrityError, KeyNotFound):
        return
    raise AssertionError("a tampered wrapped key opened")


# --- blind index --------------------------------------------------------------------------


texts = st.text(alphabet=st.characters(codec="utf-8"))


@SETTINGS
@given(texts, texts, st.integers(8, 32))
def test_blind_index_is_a_function_of_the_value(a: str, b: str, length: int) -> None:
    index = BlindIndex(KEYS, "props", length=length)
    assert len(index.compute(a)) == length
    assert index.compute(a) == index.compute(a)
    if a != b and length >= 16:
        assert index.compute(a) != index.compute(b)
