"""FieldCipher: round trips, binding to (record, field, key version), every failure opaque."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable

import pytest

from credit_vault.crypto import DataKey, Envelope, FieldCipher, KeySet
from credit_vault.errors import IntegrityError

RID = "r_01J8Z3Q4X5Y6Z7A8B9C0D1E2F3"


@pytest.fixture(scope="module")
def envelope() -> Envelope:
    return Envelope(KeySet.generate())


@pytest.fixture
def cipher(envelope: Envelope) -> FieldCipher:
    data_key, _ = envelope.new_data_key(RID, 3)
    return FieldCipher(data_key)


def test_round_trip(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(RID, "name", "张三".encode())
    assert cipher.decrypt(RID, "name", blob) == "张三".encode()
    assert cipher.decrypt(RID, "name", bytearray(blob)) == "张三".encode()
    assert cipher.decrypt(RID, "name", memoryview(blob)) == "张三".encode()


def test_layout(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(RID, "name", b"abc")
    assert blob[0] == 0x01
    assert int.from_bytes(blob[1:5], "big") == 3
    assert len(blob) == 1 + 4 + 12 + 3 + 16


def test_same_plaintext_encrypts_differently(cipher: FieldCipher) -> None:
    a = cipher.encrypt(RID, "name", b"same")
    b = cipher.encrypt(RID, "name", b"same")
    assert a != b
    assert a[5:17] != b[5:17]


def test_empty_and_large_plaintexts(cipher: FieldCipher) -> None:
    for plaintext in (b"", b"\x00", bytes(range(256)) * 400):
        assert cipher.decrypt(RID, "f", cipher.encrypt(RID, "f", plaintext)) == plaintext


def test_encrypt_many_matches_decrypt(cipher: FieldCipher) -> None:
    items = [("name", b"a"), ("address", "上海".encode()), ("name", b"")]
    blobs = cipher.encrypt_many(RID, items)
    assert len(blobs) == 3
    assert len({b[5:17] for b in blobs}) == 3
    for (field, plaintext), blob in zip(items, blobs, strict=True):
        assert cipher.decrypt(RID, field, blob) == plaintext
    assert cipher.encrypt_many(RID, []) == []


def test_decrypt_many(cipher: FieldCipher) -> None:
    items = [("name", b"a"), ("address", "上海".encode()), ("note", b"")]
    blobs = cipher.encrypt_many(RID, items)
    pairs = [(f, b) for (f, _), b in zip(items, blobs, strict=True)]
    assert cipher.decrypt_many(RID, pairs) == [pt for _, pt in items]
    assert cipher.decrypt_many(RID, []) == []
    # one bad blob anywhere fails the whole call, opaquely
    for bad in range(3):
        broken = list(pairs)
        broken[bad] = (broken[bad][0], broken[bad][1][:-1])
        with pytest.raises(IntegrityError):
            cipher.decrypt_many(RID, broken)
    swapped = [(pairs[1][0], pairs[0][1]), pairs[1]]
    with pytest.raises(IntegrityError):
        cipher.decrypt_many(RID, swapped)
    with pytest.raises(IntegrityError):
        cipher.decrypt_many(RID + "X", pairs)
    with pytest.raises(TypeError):
        cipher.decrypt_many(RID, [("name", "text")])  # type: ignore[list-item]


def test_one_cipher_serves_several_records(cipher: FieldCipher) -> None:
    a = cipher.encrypt("r_a", "name", b"A")
    b = cipher.encrypt("r_b", "name", b"B")
    assert cipher.decrypt("r_a", "name", a) == b"A"
    assert cipher.decrypt("r_b", "name", b) == b"B"
    with pytest.raises(IntegrityError):
        cipher.decrypt("r_b", "name", a)


def test_moved_to_another_record(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(RID, "name", b"x")
    with pytest.raises(IntegrityError):
        cipher.decrypt(RID + "0", "name", blob)


def test_moved_to_another_field(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(RID, "name", b"x")
    with pytest.raises(IntegrityError):
        cipher.decrypt(RID, "address", blob)


def test_other_key_version_same_key_bytes() -> None:
    key = bytes(range(32))
    v1 = FieldCipher(DataKey._from_bytes(RID, 1, key))
    v2 = FieldCipher(DataKey._from_bytes(RID, 2, key))
    blob = v1.encrypt(RID, "name", b"x")
    with pytest.raises(IntegrityError):
        v2.decrypt(RID, "name", blob)
    # rewriting the header's version does not help: the version is in the AD
    forged = blob[:1] + (2).to_bytes(4, "big") + blob[5:]
    with pytest.raises(IntegrityError):
        v2.decrypt(RID, "name", forged)


def test_wrong_key(envelope: Envelope, cipher: FieldCipher) -> None:
    other, _ = envelope.new_data_key(RID, 3)
    blob = cipher.encrypt(RID, "name", b"x")
    with pytest.raises(IntegrityError):
        FieldCipher(other).decrypt(RID, "name", blob)


def test_every_flipped_bit_fails(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(RID, "name", b"0123456789")
    for index in range(len(blob)):
        for bit in range(8):
            changed = bytearray(blob)
            changed[index] ^= 1 << bit
            with pytest.raises(IntegrityError):
                cipher.decrypt(RID, "name", bytes(changed))


def test_every_truncation_and_extension_fails(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(RID, "name", b"0123456789")
    for length in range(len(blob)):
        with pytest.raises(IntegrityError):
            cipher.decrypt(RID, "name", blob[:length])
    with pytest.raises(IntegrityError):
        cipher.decrypt(RID, "name", blob + b"\x00")


def test_every_unknown_format_byte_fails(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(RID, "name", b"x")
    for version in range(256):
        if version != 0x01:
            with pytest.raises(IntegrityError):
                cipher.decrypt(RID, "name", bytes([version]) + blob[1:])


def test_failure_message_is_the_same_whatever_the_cause(
    envelope: Envelope, cipher: FieldCipher
) -> None:
    blob = cipher.encrypt(RID, "name", b"secret-value")
    other, _ = envelope.new_data_key(RID, 3)
    messages = set()
    attempts: list[Callable[[], bytes]] = [
        lambda: cipher.decrypt(RID, "other", blob),
        lambda: cipher.decrypt(RID, "name", blob[:-1]),
        lambda: cipher.decrypt(RID, "name", b"\x02" + blob[1:]),
        lambda: FieldCipher(other).decrypt(RID, "name", blob),
    ]
    for attempt in attempts:
        with pytest.raises(IntegrityError) as info:
            attempt()
        messages.add(str(info.value))
        # no chained cause that could tell the failures apart
        assert info.value.__cause__ is None
        assert info.value.__context__ is None or info.value.__suppress_context__
    assert len(messages) == 1
    assert "secret-value" not in messages.pop()


def test_misuse_is_not_an_integrity_error(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(RID, "name", b"x")
    with pytest.raises(ValueError, match="record_id"):
        cipher.encrypt("r_" + "x" * 63, "name", b"x")
    with pytest.raises(ValueError, match="record_id"):
        cipher.encrypt("", "name", b"x")
    with pytest.raises(ValueError, match="record_id"):
        cipher.encrypt("r_张", "name", b"x")
    with pytest.raises(TypeError):
        cipher.encrypt(7, "name", b"x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="field"):
        cipher.encrypt(RID, "", b"x")
    with pytest.raises(ValueError, match="field"):
        cipher.encrypt(RID, "字" * 22, b"x")  # 66 bytes of UTF-8
    with pytest.raises(ValueError, match="field"):
        cipher.encrypt(RID, "\ud800", b"x")
    with pytest.raises(TypeError):
        cipher.encrypt(RID, b"name", b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cipher.encrypt(RID, "name", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cipher.decrypt(RID, "name", blob.hex())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="field"):
        cipher.decrypt(RID, "", blob)
    with pytest.raises(TypeError):
        FieldCipher(b"\x00" * 32)  # type: ignore[arg-type]


def test_limits_are_inclusive(cipher: FieldCipher) -> None:
    rid = "r" * 64
    field = "字" * 21 + "a"  # 64 bytes
    assert cipher.decrypt(rid, field, cipher.encrypt(rid, field, b"ok")) == b"ok"


def test_handles_refuse_pickling_and_hide_keys(cipher: FieldCipher) -> None:
    key = cipher.data_key._key
    for handle in (cipher, cipher.data_key):
        with pytest.raises(TypeError):
            pickle.dumps(handle)
        text = repr(handle)
        assert key.hex() not in text
        assert RID in text
    assert repr(cipher.data_key) == f"DataKey(record_id={RID!r}, version=3)"


def test_data_key_has_no_public_constructor() -> None:
    with pytest.raises(TypeError):
        DataKey(RID, 1, bytes(32))


def test_hundred_thousand_encryptions_never_repeat_a_nonce(cipher: FieldCipher) -> None:
    nonces: set[bytes] = set()
    items = [("name", b"v")] * 100  # 1,200 nonce bytes per call: the buffered path
    for _ in range(800):
        nonces.update(blob[5:17] for blob in cipher.encrypt_many(RID, items))
    big = [("name", b"v")] * 5_000  # large batches read the OS directly
    for _ in range(2):
        nonces.update(blob[5:17] for blob in cipher.encrypt_many(RID, big))
    nonces.update(cipher.encrypt(RID, "name", b"v")[5:17] for _ in range(10_000))
    assert len(nonces) == 100_000


def test_threads_sharing_a_cipher_keep_records_apart(cipher: FieldCipher) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(2_000):
                rid = f"r_{worker}_{i % 7}"
                blob = cipher.encrypt(rid, f"f{i % 3}", rid.encode())
                assert cipher.decrypt(rid, f"f{i % 3}", blob) == rid.encode()
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
