"""Known-answer vectors for the crypto byte formats (tests/vectors/crypto_*.json).

Each expected byte string is checked three ways:

1. rebuilt here from the format as ``docs/crypto.md`` describes it, using the
   bare ``cryptography`` primitives (no credit_vault code), so the documentation
   and the code cannot drift apart;
2. produced by the library with the nonce injected through its private hook;
3. decrypted by the library's public API.

Negative vectors must raise the documented error and never return bytes. The
Python code blocks of ``docs/crypto.md`` run here too.

Regenerate the JSON files (only when a format version changes) with
``python -m tests.vectors.test_crypto_vectors``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import struct
from pathlib import Path
from typing import Any

import pytest
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from credit_vault.crypto import (
    BlindIndex,
    Envelope,
    FieldCipher,
    FileKeyProvider,
    KeySet,
    PassphraseKeyProvider,
)
from credit_vault.crypto._envelope import DataKey
from credit_vault.crypto._keys import _Material
from credit_vault.errors import IntegrityError, KeyNotFound

HERE = Path(__file__).parent
DOC = HERE.parent.parent / "docs" / "crypto.md"
FIELD_FILE = HERE / "crypto_field_v1.json"
DEK_FILE = HERE / "crypto_dek_v1.json"
BLIND_FILE = HERE / "crypto_blind_index_v1.json"
KEY_SET_FILE = HERE / "crypto_key_set_v1.json"


# --- the formats, written from docs/crypto.md with bare primitives -------------------


def doc_field_ad(record_id: str, field: str, key_version: int) -> bytes:
    """Field AD: label 0x00 | u16 len | record_id | u16 len | field | u32 version."""
    rid = record_id.encode("ascii")
    fld = field.encode("utf-8")
    return (
        b"credit_vault/field/v1\x00"
        + struct.pack(">H", len(rid))
        + rid
        + struct.pack(">H", len(fld))
        + fld
        + struct.pack(">I", key_version)
    )


def doc_field_blob(
    key: bytes, nonce: bytes, record_id: str, field: str, key_version: int, plaintext: bytes
) -> bytes:
    """Field ciphertext: 0x01 | u32 version | nonce | AES-256-GCM ciphertext and tag."""
    ad = doc_field_ad(record_id, field, key_version)
    return (
        b"\x01" + struct.pack(">I", key_version) + nonce + AESGCM(key).encrypt(nonce, plaintext, ad)
    )


def doc_field_decrypt(
    key: bytes, record_id: str, field: str, key_version: int, blob: bytes
) -> bytes:
    """What a third party does with a field ciphertext and its data key."""
    assert blob[0] == 0x01
    (version,) = struct.unpack(">I", blob[1:5])
    assert version == key_version
    return AESGCM(key).decrypt(blob[5:17], blob[17:], doc_field_ad(record_id, field, key_version))


def doc_dek_ad(kek_id: str, record_id: str, key_version: int) -> bytes:
    """Wrap AD: label 0x00 | u8 len | kek_id | u16 len | record_id | u32 version."""
    kid = kek_id.encode("ascii")
    rid = record_id.encode("ascii")
    return (
        b"credit_vault/dek/v1\x00"
        + bytes([len(kid)])
        + kid
        + struct.pack(">H", len(rid))
        + rid
        + struct.pack(">I", key_version)
    )


def doc_dek_wrap(
    kek_id: str, kek: bytes, nonce: bytes, record_id: str, key_version: int, data_key: bytes
) -> bytes:
    """Wrapped data key: 0x01 | u8 len | kek_id | nonce | AES-256-GCM(kek, data_key)."""
    kid = kek_id.encode("ascii")
    ad = doc_dek_ad(kek_id, record_id, key_version)
    return b"\x01" + bytes([len(kid)]) + kid + nonce + AESGCM(kek).encrypt(nonce, data_key, ad)


def doc_blind_key(root: bytes, purpose: str) -> bytes:
    """HKDF-SHA256(root, salt=None, info=b"credit_vault/blind-index/v1/" + purpose, L=32)."""
    info = b"credit_vault/blind-index/v1/" + purpose.encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(root)


def doc_blind_index(root: bytes, purpose: str, value: str, length: int) -> bytes:
    """HMAC-SHA256(purpose key, utf-8 value)[:length]."""
    return hmac.digest(doc_blind_key(root, purpose), value.encode("utf-8"), hashlib.sha256)[:length]


def doc_fingerprint(audit_public_key: bytes) -> str:
    """First 16 hex digits of SHA-256(label 0x00 | audit public key)."""
    return hashlib.sha256(
        b"credit_vault/key-set-fingerprint/v1\x00" + audit_public_key
    ).hexdigest()[:16]


def doc_public_key(seed: bytes) -> bytes:
    """The raw Ed25519 public key of a 32-byte seed (RFC 8032)."""
    return (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def doc_sealed_ad(kdf: dict[str, Any]) -> bytes:
    """Sealed AD: label 0x00 | u32 v | u32 t | u32 m | u32 p | u8 len(salt) | salt."""
    salt = base64.b64decode(kdf["salt"])
    return (
        b"credit_vault/sealed-key-set/v1\x00"
        + struct.pack(">IIII", kdf["v"], kdf["t"], kdf["m"], kdf["p"])
        + bytes([len(salt)])
        + salt
    )


def doc_unseal(sealed: dict[str, Any], passphrase: bytes) -> bytes:
    """The key-set JSON inside a sealed file, derived and decrypted as documented."""
    kdf = sealed["kdf"]
    key = hash_secret_raw(
        passphrase,
        base64.b64decode(kdf["salt"]),
        time_cost=kdf["t"],
        memory_cost=kdf["m"],
        parallelism=kdf["p"],
        hash_len=32,
        type=Type.ID,
        version=kdf["v"],
    )
    return AESGCM(key).decrypt(
        base64.b64decode(sealed["nonce"]),
        base64.b64decode(sealed["ciphertext"]),
        doc_sealed_ad(kdf),
    )


# --- loading ------------------------------------------------------------------------


def load(path: Path) -> dict[str, Any]:
    if not path.exists():  # only while regenerating; the size test below then fails
        return {"positive": [], "negative": [], "cases": []}
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def h(value: str) -> bytes:
    return bytes.fromhex(value)


FIELD = load(FIELD_FILE)
DEK = load(DEK_FILE)
BLIND = load(BLIND_FILE)
KEY_SET = load(KEY_SET_FILE)


def data_key(case: dict[str, Any]) -> DataKey:
    return DataKey._from_bytes(case["record_id"], case["key_version"], h(case["key"]))


def key_set_with(kek_id: str, kek: bytes) -> KeySet:
    material = _Material(
        keks=((kek_id, kek),), current=kek_id, blind_root=bytes(32), audit_seed=bytes(32)
    )
    return KeySet._from_material(material)


# --- field ciphertexts ----------------------------------------------------------------


def test_vector_files_are_not_trivially_small() -> None:
    assert len(FIELD["positive"]) >= 5
    assert len(FIELD["negative"]) >= 8
    assert len(DEK["positive"]) >= 3
    assert len(DEK["negative"]) >= 5
    assert len(BLIND["cases"]) >= 4


@pytest.mark.parametrize("case", FIELD["positive"], ids=lambda c: c["name"])
def test_field_positive_rebuilt_from_doc(case: dict[str, Any]) -> None:
    ad = doc_field_ad(case["record_id"], case["field"], case["key_version"])
    assert ad.hex() == case["associated_data"]
    blob = doc_field_blob(
        h(case["key"]),
        h(case["nonce"]),
        case["record_id"],
        case["field"],
        case["key_version"],
        h(case["plaintext"]),
    )
    assert blob.hex() == case["blob"]


@pytest.mark.parametrize("case", FIELD["positive"], ids=lambda c: c["name"])
def test_field_positive_library(case: dict[str, Any]) -> None:
    cipher = FieldCipher(data_key(case))
    blob = cipher._encrypt_with_nonce(
        case["record_id"], case["field"], h(case["plaintext"]), h(case["nonce"])
    )
    assert blob.hex() == case["blob"]
    assert cipher.decrypt(case["record_id"], case["field"], h(case["blob"])) == h(case["plaintext"])
    # and what the library encrypts with its own nonce, a third party decrypts
    fresh = cipher.encrypt(case["record_id"], case["field"], h(case["plaintext"]))
    decrypted = doc_field_decrypt(
        h(case["key"]), case["record_id"], case["field"], case["key_version"], fresh
    )
    assert decrypted == h(case["plaintext"])


@pytest.mark.parametrize("case", FIELD["negative"], ids=lambda c: c["name"])
def test_field_negative(case: dict[str, Any]) -> None:
    cipher = FieldCipher(data_key(case))
    with pytest.raises(IntegrityError):
        cipher.decrypt(case["record_id"], case["field"], h(case["blob"]))


@pytest.mark.parametrize("case", FIELD["negative"], ids=lambda c: c["name"])
def test_field_negative_also_fails_for_a_third_party(case: dict[str, Any]) -> None:
    blob = h(case["blob"])
    with pytest.raises(Exception):  # noqa: B017, PT011 - any failure; the point is no plaintext
        doc_field_decrypt(
            h(case["key"]), case["record_id"], case["field"], case["key_version"], blob
        )


# --- wrapped data keys ----------------------------------------------------------------


@pytest.mark.parametrize("case", DEK["positive"], ids=lambda c: c["name"])
def test_dek_positive_rebuilt_from_doc(case: dict[str, Any]) -> None:
    ad = doc_dek_ad(case["kek_id"], case["record_id"], case["key_version"])
    assert ad.hex() == case["associated_data"]
    wrapped = doc_dek_wrap(
        case["kek_id"],
        h(case["kek"]),
        h(case["nonce"]),
        case["record_id"],
        case["key_version"],
        h(case["data_key"]),
    )
    assert wrapped.hex() == case["wrapped"]


@pytest.mark.parametrize("case", DEK["positive"], ids=lambda c: c["name"])
def test_dek_positive_library(case: dict[str, Any]) -> None:
    envelope = Envelope(key_set_with(case["kek_id"], h(case["kek"])))
    wrapped = envelope._wrap_with_nonce(
        case["record_id"], case["key_version"], h(case["data_key"]), h(case["nonce"])
    )
    assert wrapped.hex() == case["wrapped"]
    dk = envelope.unwrap(case["record_id"], case["key_version"], h(case["wrapped"]))
    assert (dk.record_id, dk.version) == (case["record_id"], case["key_version"])
    assert dk._key == h(case["data_key"])
    assert Envelope.kek_id_of(h(case["wrapped"])) == case["kek_id"]


@pytest.mark.parametrize("case", DEK["negative"], ids=lambda c: c["name"])
def test_dek_negative(case: dict[str, Any]) -> None:
    envelope = Envelope(key_set_with(case["kek_id"], h(case["kek"])))
    error = {"IntegrityError": IntegrityError, "KeyNotFound": KeyNotFound}[case["error"]]
    with pytest.raises(error):
        envelope.unwrap(case["record_id"], case["key_version"], h(case["wrapped"]))


# --- blind index ------------------------------------------------------------------------


@pytest.mark.parametrize("case", BLIND["cases"], ids=lambda c: c["name"])
def test_blind_index(case: dict[str, Any]) -> None:
    root = h(case["root"])
    assert doc_blind_key(root, case["purpose"]).hex() == case["purpose_key"]
    expected = doc_blind_index(root, case["purpose"], case["value"], case["length"])
    assert expected.hex() == case["index"]
    material = _Material(
        keks=(("kek-1", bytes(32)),), current="kek-1", blind_root=root, audit_seed=bytes(32)
    )
    index = BlindIndex(KeySet._from_material(material), case["purpose"], length=case["length"])
    assert index.compute(case["value"]).hex() == case["index"]


# --- key-set files ------------------------------------------------------------------------


def write_0600(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def test_key_set_file(tmp_path: Path) -> None:
    doc = json.loads(KEY_SET["key_set_json"])
    seed = base64.b64decode(doc["audit_ed25519_seed"])
    public = doc_public_key(seed)
    assert public.hex() == KEY_SET["audit_public_key"]
    assert doc_fingerprint(public) == KEY_SET["fingerprint"]
    sig = KEY_SET["signature"]
    assert (
        Ed25519PrivateKey.from_private_bytes(seed).sign(h(sig["message"])).hex() == sig["signature"]
    )

    provider = FileKeyProvider(write_0600(tmp_path / "keys.json", KEY_SET["key_set_json"]))
    keys = provider.key_set()
    assert keys.fingerprint == KEY_SET["fingerprint"]
    assert keys.audit_signer.public_key.hex() == KEY_SET["audit_public_key"]
    assert keys.audit_signer.sign(h(sig["message"])).hex() == sig["signature"]
    assert keys.current_kek_id == doc["current_kek"]
    assert keys.kek_ids == tuple(k["id"] for k in doc["keks"])
    # A wrapped key made by a third party under the file's current KEK opens.
    wrap = KEY_SET["wrapped"]
    kek = next(base64.b64decode(k["key"]) for k in doc["keks"] if k["id"] == doc["current_kek"])
    blob = doc_dek_wrap(
        doc["current_kek"], kek, h(wrap["nonce"]), wrap["record_id"], 7, h(wrap["data_key"])
    )
    assert blob.hex() == wrap["wrapped"]
    assert Envelope(keys).unwrap(wrap["record_id"], 7, blob)._key == h(wrap["data_key"])
    index = BlindIndex(keys, KEY_SET["blind"]["purpose"])
    root = base64.b64decode(doc["blind_index_root"])
    expected = doc_blind_index(root, KEY_SET["blind"]["purpose"], KEY_SET["blind"]["value"], 16)
    assert index.compute(KEY_SET["blind"]["value"]) == expected
    assert expected.hex() == KEY_SET["blind"]["index"]


def test_sealed_key_set_file(tmp_path: Path) -> None:
    sealed = json.loads(KEY_SET["sealed_file"])
    passphrase = KEY_SET["passphrase"]
    assert doc_unseal(sealed, passphrase.encode("utf-8")).decode("utf-8") == KEY_SET["key_set_json"]
    provider = PassphraseKeyProvider(
        write_0600(tmp_path / "sealed.json", KEY_SET["sealed_file"]), passphrase
    )
    assert provider.key_set().fingerprint == KEY_SET["fingerprint"]


def test_env_value_is_base64_of_the_key_set_json(tmp_path: Path) -> None:
    from credit_vault.crypto import EnvKeyProvider

    provider = FileKeyProvider(write_0600(tmp_path / "keys.json", KEY_SET["key_set_json"]))
    value = EnvKeyProvider.export_value(provider)
    assert json.loads(base64.b64decode(value)) == json.loads(KEY_SET["key_set_json"])


# --- the documentation's own examples -----------------------------------------------------


def doc_code_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), flags=re.DOTALL)


def test_doc_has_runnable_examples() -> None:
    assert len(doc_code_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(doc_code_blocks())))
def test_doc_code_block_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = doc_code_blocks()[index]
    exec(compile(code, f"{DOC}:block{index}", "exec"), {"__name__": "__doc_example__"})  # noqa: S102


def test_doc_quotes_the_first_vectors() -> None:
    text = DOC.read_text("utf-8")
    assert FIELD["positive"][0]["blob"] in text
    assert DEK["positive"][0]["wrapped"] in text


# --- regeneration -----------------------------------------------------------------------------


def _flip(blob: bytes, index: int, bit: int = 0) -> bytes:
    changed = bytearray(blob)
    changed[index] ^= 1 << bit
    return bytes(changed)


def _regenerate() -> None:  # pragma: no cover - run by hand when a format version changes
    """Write the crypto_*.json vector files from fixed inputs (built with the doc functions)."""
    key = h("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
    other = h("1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100")
    positives = [
        (
            "ascii",
            key,
            1,
            "r_01J8Z3Q4X5Y6Z7A8B9C0D1E2F3",
            "name",
            "0a0b0c0d0e0f101112131415",
            "张三".encode(),
        ),
        (
            "empty-plaintext",
            key,
            1,
            "r_01J8Z3Q4X5Y6Z7A8B9C0D1E2F3",
            "note",
            "000000000000000000000000",
            b"",
        ),
        (
            "version-zero",
            key,
            0,
            "s_5f1e",
            "id_number",
            "ffffffffffffffffffffffff",
            b"110101199003077777",
        ),
        (
            "version-max",
            other,
            0xFFFFFFFF,
            "r_" + "x" * 62,
            "x" * 64,
            "0102030405060708090a0b0c",
            b"\x00" * 64,
        ),
        (
            "utf8-field-name",
            other,
            3,
            "r_2",
            "住址",
            "a1a2a3a4a5a6a7a8a9aaabac",
            "上海市浦东新区".encode(),
        ),
    ]
    field_pos: list[dict[str, Any]] = []
    for name, k, ver, rid, fld, nonce, pt in positives:
        field_pos.append(
            {
                "name": name,
                "key": k.hex(),
                "key_version": ver,
                "record_id": rid,
                "field": fld,
                "nonce": nonce,
                "plaintext": pt.hex(),
                "associated_data": doc_field_ad(rid, fld, ver).hex(),
                "blob": doc_field_blob(k, h(nonce), rid, fld, ver, pt).hex(),
            }
        )
    base = field_pos[0]
    blob = h(base["blob"])
    rid, fld = base["record_id"], base["field"]

    def neg(name: str, reason: str, b: bytes, **over: Any) -> dict[str, Any]:
        case = {"name": name, "reason": reason, "key": key.hex(), "key_version": 1,
                "record_id": rid, "field": fld, "blob": b.hex()}  # fmt: skip
        case.update(over)
        return case

    v2_blob = doc_field_blob(key, h("0a0b0c0d0e0f101112131415"), rid, fld, 2, "张三".encode())
    field_neg = [
        neg(
            "moved-record",
            "decrypted as another record",
            blob,
            record_id="r_01J8Z3Q4X5Y6Z7A8B9C0D1E2F4",
        ),
        neg("moved-field", "decrypted as another field", blob, field="address"),
        neg(
            "other-key-version", "a version-1 blob read with the version-2 key", blob, key_version=2
        ),
        neg(
            "header-version-rewritten",
            "version-2 blob whose header was edited to 1",
            v2_blob[:1] + struct.pack(">I", 1) + v2_blob[5:],
        ),
        neg("wrong-key", "another data key", blob, key=other.hex()),
        neg("flipped-tag-bit", "last bit of the tag flipped", _flip(blob, len(blob) - 1, 7)),
        neg("flipped-ciphertext-bit", "first ciphertext bit flipped", _flip(blob, 17)),
        neg("flipped-nonce-bit", "a nonce bit flipped", _flip(blob, 5)),
        neg("unknown-format-version", "format byte 0x02", b"\x02" + blob[1:]),
        neg("format-byte-zero", "format byte 0x00", b"\x00" + blob[1:]),
        neg("truncated-tag", "last tag byte removed", blob[:-1]),
        neg("truncated-to-header", "header only", blob[:5]),
        neg("empty", "empty blob", b""),
        neg("extended", "one byte appended", blob + b"\x00"),
    ]
    FIELD_FILE.write_text(
        json.dumps(
            {
                "description": "field ciphertext v1 (docs/crypto.md, 'Field ciphertext')",
                "positive": field_pos,
                "negative": field_neg,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        "utf-8",
    )

    kek = h("4b454b2d6f6e652d666f722d746573742d766563746f72732d6f6e6c79212121")
    dek_cases = [
        ("kek-1", "r_01J8Z3Q4X5Y6Z7A8B9C0D1E2F3", 1, "101112131415161718191a1b", key),
        ("kek-2", "s_5f1e", 0, "000000000000000000000001", other),
        ("kek-123", "r_" + "y" * 62, 0xFFFFFFFF, "ffeeddccbbaa998877665544", bytes(32)),
    ]
    dek_pos: list[dict[str, Any]] = [
        {
            "name": f"{kid}-v{ver}",
            "kek_id": kid,
            "kek": kek.hex(),
            "record_id": r,
            "key_version": ver,
            "nonce": n,
            "data_key": dk.hex(),
            "associated_data": doc_dek_ad(kid, r, ver).hex(),
            "wrapped": doc_dek_wrap(kid, kek, h(n), r, ver, dk).hex(),
        }
        for kid, r, ver, n, dk in dek_cases
    ]
    w = h(dek_pos[0]["wrapped"])
    d0 = dek_pos[0]

    def dneg(name: str, error: str, b: bytes, **over: Any) -> dict[str, Any]:
        case = {"name": name, "error": error, "kek_id": "kek-1", "kek": kek.hex(),
                "record_id": d0["record_id"], "key_version": 1, "wrapped": b.hex()}  # fmt: skip
        case.update(over)
        return case

    dek_neg = [
        dneg("moved-record", "IntegrityError", w, record_id="r_other"),
        dneg("other-key-version", "IntegrityError", w, key_version=2),
        dneg("wrong-kek", "IntegrityError", w, kek=other.hex()),
        dneg("flipped-tag-bit", "IntegrityError", _flip(w, len(w) - 1)),
        dneg("flipped-nonce-bit", "IntegrityError", _flip(w, 7)),
        dneg("unknown-format-version", "IntegrityError", b"\x02" + w[1:]),
        dneg("truncated", "IntegrityError", w[:-1]),
        dneg("extended", "IntegrityError", w + b"\x00"),
        dneg("kek-id-length-lies", "IntegrityError", w[:1] + b"\x06" + w[2:]),
        dneg(
            "unknown-kek",
            "KeyNotFound",
            doc_dek_wrap("kek-9", kek, h(d0["nonce"]), d0["record_id"], 1, key),
        ),
    ]
    DEK_FILE.write_text(
        json.dumps(
            {
                "description": "wrapped data key v1 (docs/crypto.md, 'Wrapped data key')",
                "positive": dek_pos,
                "negative": dek_neg,
            },
            indent=2,
        )
        + "\n",
        "utf-8",
    )

    root = h("b1" * 32)
    blind_cases = [
        ("id-number", root, "subject_id", "110101199003077777", 16),
        ("credit-code", root, "org_code", "91350100M000100Y43", 16),
        ("other-purpose-same-value", root, "org_code", "110101199003077777", 16),
        ("long", root, "subject_id", "110101199003077777", 32),
        ("short", root, "subject_id", "110101199003077777", 8),
        ("chinese-name-purpose", h("02" * 32), "姓名", "张三", 16),
    ]
    BLIND_FILE.write_text(
        json.dumps(
            {
                "description": "credit_vault blind index v1 (docs/crypto.md, 'Blind index')",
                "cases": [
                    {
                        "name": name,
                        "root": r.hex(),
                        "purpose": purpose,
                        "value": value,
                        "length": length,
                        "purpose_key": doc_blind_key(r, purpose).hex(),
                        "index": doc_blind_index(r, purpose, value, length).hex(),
                    }
                    for name, r, purpose, value, length in blind_cases
                ],
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        "utf-8",
    )

    seed = h("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    key_set_json = (
        json.dumps(
            {
                "format": "credit_vault/key-set",
                "version": 1,
                "current_kek": "kek-2",
                "keks": [
                    {"id": "kek-1", "alg": "AES-256-GCM", "key": base64.b64encode(key).decode()},
                    {"id": "kek-2", "alg": "AES-256-GCM", "key": base64.b64encode(kek).decode()},
                ],
                "blind_index_root": base64.b64encode(root).decode(),
                "audit_ed25519_seed": base64.b64encode(seed).decode(),
            },
            indent=2,
        )
        + "\n"
    )
    public = doc_public_key(seed)
    message = b"credit_vault checkpoint vector\n"
    kdf: dict[str, Any] = {"alg": "argon2id", "v": 19, "t": 1, "m": 8, "p": 1,
           "salt": base64.b64encode(b"sixteen byte slt").decode()}  # fmt: skip
    passphrase = "correct horse battery staple 信用"
    derived = hash_secret_raw(passphrase.encode(), b"sixteen byte slt", time_cost=1, memory_cost=8,
                              parallelism=1, hash_len=32, type=Type.ID, version=19)  # fmt: skip
    seal_nonce = h("5ea1ed5ea1ed5ea1ed5ea1ed")
    sealed = {
        "format": "credit_vault/sealed-key-set",
        "version": 1,
        "kdf": kdf,
        "aead": "AES-256-GCM",
        "nonce": base64.b64encode(seal_nonce).decode(),
        "ciphertext": base64.b64encode(
            AESGCM(derived).encrypt(seal_nonce, key_set_json.encode(), doc_sealed_ad(kdf))
        ).decode(),
    }
    wrap_nonce = h("0c0c0c0c0c0c0c0c0c0c0c0c")
    data_key_raw = h("d7" * 32)
    KEY_SET_FILE.write_text(
        json.dumps(
            {
                "description": "credit_vault key-set files v1 (docs/crypto.md, 'Key-set file')",
                "key_set_json": key_set_json,
                "audit_public_key": public.hex(),
                "fingerprint": doc_fingerprint(public),
                "signature": {
                    "message": message.hex(),
                    "signature": Ed25519PrivateKey.from_private_bytes(seed).sign(message).hex(),
                },
                "wrapped": {
                    "record_id": "r_keyset",
                    "nonce": wrap_nonce.hex(),
                    "data_key": data_key_raw.hex(),
                    "wrapped": doc_dek_wrap(
                        "kek-2", kek, wrap_nonce, "r_keyset", 7, data_key_raw
                    ).hex(),
                },
                "blind": {
                    "purpose": "subject_id",
                    "value": "110101199003077777",
                    "index": doc_blind_index(root, "subject_id", "110101199003077777", 16).hex(),
                },
                "passphrase": passphrase,
                "sealed_file": json.dumps(sealed, indent=2) + "\n",
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        "utf-8",
    )


if __name__ == "__main__":  # pragma: no cover
    _regenerate()
