"""Crypto layer micro-benchmark: FieldCipher vs bare AES-GCM vs Fernet, wraps, blind index.

Run: ``/work/venv/bin/python benchmarks/bench_crypto.py [--records N] [--repeat R]``

Every number is microseconds per record (3 fields of 20–60 bytes each) or per
operation, the best of R runs over N records, all measured in the same process.
The "bare AESGCM" baseline is what a plain user would write: a 12-byte nonce
from ``os.urandom`` per call, prepended to ``AESGCM.encrypt(nonce, pt, None)``.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import hmac
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import cryptography
from cryptography.fernet import Fernet
from cryptography.hazmat.backends.openssl.backend import backend as openssl_backend
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Run from a checkout without installing: the repository root holds the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from credit_vault.crypto import BlindIndex, Envelope, FieldCipher, KeySet
from credit_vault.crypto._envelope import DataKey

FIELDS = ("name", "id_number", "address")


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """Best wall time of ``repeat`` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n, repeat = args.records, args.repeat

    rng = random.Random(20240601)
    record_ids = [f"r_01J{rng.getrandbits(100):025X}"[:28] for _ in range(n)]
    values = [[os.urandom(rng.randint(20, 60)) for _ in FIELDS] for _ in range(n)]
    raw_keys = [os.urandom(32) for _ in range(n)]
    hot_key = raw_keys[0]

    per = 1e6 / n
    urandom = os.urandom
    triples = [list(zip(FIELDS, vals, strict=True)) for vals in values]

    # --- one key for every record: the per-call cost in steady state ---------------------
    aead = AESGCM(hot_key)
    hot_rid = record_ids[0]
    hot_cipher = FieldCipher(DataKey._from_bytes(hot_rid, 1, hot_key))
    fernet = Fernet(Fernet.generate_key())

    # Every loop walks the same (field, value) pairs, so the rows differ only in
    # the calls they make; the bare calls ignore the field name.

    def bare_encrypt() -> list[list[bytes]]:
        out = []
        for triple in triples:
            blobs = []
            for _field, pt in triple:
                nonce = urandom(12)
                blobs.append(nonce + aead.encrypt(nonce, pt, None))
            out.append(blobs)
        return out

    def bare_decrypt(all_blobs: list[list[bytes]]) -> None:
        for blobs in all_blobs:
            for _field, blob in zip(FIELDS, blobs, strict=True):
                aead.decrypt(blob[:12], blob[12:], None)

    def fc_encrypt() -> list[list[bytes]]:
        enc = hot_cipher.encrypt
        return [[enc(hot_rid, f, pt) for f, pt in triple] for triple in triples]

    def fc_decrypt(all_blobs: list[list[bytes]]) -> None:
        dec = hot_cipher.decrypt
        for blobs in all_blobs:
            for f, blob in zip(FIELDS, blobs, strict=True):
                dec(hot_rid, f, blob)

    def fc_encrypt_many() -> list[list[bytes]]:
        many = hot_cipher.encrypt_many
        return [many(hot_rid, triple) for triple in triples]

    def fc_decrypt_many(all_blobs: list[list[bytes]]) -> None:
        many = hot_cipher.decrypt_many
        for blobs in all_blobs:
            many(hot_rid, list(zip(FIELDS, blobs, strict=True)))

    def fernet_encrypt() -> list[list[bytes]]:
        return [[fernet.encrypt(pt) for _field, pt in triple] for triple in triples]

    def fernet_decrypt(all_blobs: list[list[bytes]]) -> None:
        for blobs in all_blobs:
            for _field, blob in zip(FIELDS, blobs, strict=True):
                fernet.decrypt(blob)

    # --- a fresh key per record: the envelope model (one data key per record) -----------------
    # The FieldCipher rows include making the DataKey handle (as unwrap does) and
    # the cipher; the bare rows include making the AESGCM object.

    def bare_encrypt_pr() -> list[list[bytes]]:
        out = []
        for key, triple in zip(raw_keys, triples, strict=True):
            a = AESGCM(key)
            blobs = []
            for _field, pt in triple:
                nonce = urandom(12)
                blobs.append(nonce + a.encrypt(nonce, pt, None))
            out.append(blobs)
        return out

    def bare_decrypt_pr(all_blobs: list[list[bytes]]) -> None:
        for key, blobs in zip(raw_keys, all_blobs, strict=True):
            a = AESGCM(key)
            for _field, blob in zip(FIELDS, blobs, strict=True):
                a.decrypt(blob[:12], blob[12:], None)

    rid_parts = [len(r).to_bytes(2, "big") + r.encode() for r in record_ids]
    make = DataKey._make
    per_record = list(zip(record_ids, rid_parts, raw_keys, strict=True))

    def fc_encrypt_pr() -> list[list[bytes]]:
        out = []
        for (rid, part, key), triple in zip(per_record, triples, strict=True):
            enc = FieldCipher(make(rid, part, 1, key)).encrypt
            out.append([enc(rid, f, pt) for f, pt in triple])
        return out

    def fc_decrypt_pr(all_blobs: list[list[bytes]]) -> None:
        for (rid, part, key), blobs in zip(per_record, all_blobs, strict=True):
            dec = FieldCipher(make(rid, part, 1, key)).decrypt
            for f, blob in zip(FIELDS, blobs, strict=True):
                dec(rid, f, blob)

    def fc_encrypt_many_pr() -> list[list[bytes]]:
        return [
            FieldCipher(make(rid, part, 1, key)).encrypt_many(rid, triple)
            for (rid, part, key), triple in zip(per_record, triples, strict=True)
        ]

    def fc_decrypt_many_pr(all_blobs: list[list[bytes]]) -> None:
        for (rid, part, key), blobs in zip(per_record, all_blobs, strict=True):
            FieldCipher(make(rid, part, 1, key)).decrypt_many(
                rid, list(zip(FIELDS, blobs, strict=True))
            )

    fernet_keys = [base64.urlsafe_b64encode(k) for k in raw_keys]

    def fernet_encrypt_pr() -> list[list[bytes]]:
        out = []
        for key, triple in zip(fernet_keys, triples, strict=True):
            f = Fernet(key)
            out.append([f.encrypt(pt) for _field, pt in triple])
        return out

    def fernet_decrypt_pr(all_blobs: list[list[bytes]]) -> None:
        for key, blobs in zip(fernet_keys, all_blobs, strict=True):
            f = Fernet(key)
            for _field, blob in zip(FIELDS, blobs, strict=True):
                f.decrypt(blob)

    def pair(
        encrypt: Callable[[], list[list[bytes]]], decrypt: Callable[[list[list[bytes]]], None]
    ) -> tuple[float, float]:
        blobs = encrypt()
        return best_of(repeat, encrypt) * per, best_of(repeat, lambda: decrypt(blobs)) * per

    one_key = [
        ("bare AESGCM", pair(bare_encrypt, bare_decrypt)),
        ("FieldCipher encrypt / decrypt", pair(fc_encrypt, fc_decrypt)),
        ("FieldCipher encrypt_many / decrypt_many", pair(fc_encrypt_many, fc_decrypt_many)),
        ("Fernet", pair(fernet_encrypt, fernet_decrypt)),
    ]
    fresh_key = [
        ("bare AESGCM (AESGCM(key) per record)", pair(bare_encrypt_pr, bare_decrypt_pr)),
        ("FieldCipher (DataKey + FieldCipher per record)", pair(fc_encrypt_pr, fc_decrypt_pr)),
        ("FieldCipher *_many (idem)", pair(fc_encrypt_many_pr, fc_decrypt_many_pr)),
        ("Fernet (Fernet(key) per record)", pair(fernet_encrypt_pr, fernet_decrypt_pr)),
    ]

    # --- data keys, blind index, whole-record ingest ------------------------------------------
    keys = KeySet.generate()
    envelope = Envelope(keys)
    items = [(rid, 1) for rid in record_ids]
    wrapped = [envelope.new_data_key(rid, 1)[1] for rid in record_ids]
    kek = AESGCM(os.urandom(32))

    def bare_wrap() -> None:
        for _ in record_ids:
            raw = urandom(44)
            kek.encrypt(raw[32:], raw[:32], None)

    def wrap_single() -> None:
        new = envelope.new_data_key
        for rid in record_ids:
            new(rid, 1)

    def wrap_batch() -> None:
        envelope.new_data_keys(items)

    def unwrap_all() -> None:
        unwrap = envelope.unwrap
        for rid, w in zip(record_ids, wrapped, strict=True):
            unwrap(rid, 1, w)

    index = BlindIndex(keys, "subject_id")
    id_numbers = [f"{rng.randrange(10**17):017d}X" for _ in range(n)]
    index_key = keys.blind_index_key("subject_id")._key

    def blind() -> None:
        compute = index.compute
        for v in id_numbers:
            compute(v)

    def bare_hmac() -> None:
        for v in id_numbers:
            hmac.digest(index_key, v.encode(), hashlib.sha256)[:16]

    def ingest() -> None:
        compute = index.compute
        for (dk, _), rid, vals, v in zip(
            envelope.new_data_keys(items), record_ids, values, id_numbers, strict=True
        ):
            FieldCipher(dk).encrypt_many(rid, list(zip(FIELDS, vals, strict=True)))
            compute(v)

    ops = [
        ("bare: urandom(44) + AESGCM wrap", best_of(repeat, bare_wrap) * per),
        ("Envelope.new_data_key", best_of(repeat, wrap_single) * per),
        ("Envelope.new_data_keys (batch), per key", best_of(repeat, wrap_batch) * per),
        ("Envelope.unwrap", best_of(repeat, unwrap_all) * per),
        ("bare: hmac.digest SHA-256, truncated", best_of(repeat, bare_hmac) * per),
        ("BlindIndex.compute", best_of(repeat, blind) * per),
        (
            "ingest: batch wrap + FieldCipher + encrypt_many(3) + 1 blind index",
            best_of(repeat, ingest) * per,
        ),
    ]

    # --- report ---------------------------------------------------------------------------------
    print(
        f"# bench_crypto.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"{cpu_model()}"
    )
    print(
        f"# Python {platform.python_version()} ({sys.implementation.name}), cryptography "
        f"{cryptography.__version__}, {openssl_backend.openssl_version_text()}"
    )
    print(f"# {n:,} records x 3 fields (20-60 B), best of {repeat}; µs per record")
    print()
    width = 48
    for title, rows in (
        ("one key for all records (per-call cost)", one_key),
        ("a fresh data key per record (envelope model)", fresh_key),
    ):
        base_enc, base_dec = rows[0][1]
        print(f"| {title:<{width}} | encrypt | decrypt | vs bare enc | vs bare dec |")
        print(f"|{'-' * (width + 2)}|--------:|--------:|------------:|------------:|")
        for name, (enc, dec) in rows:
            print(
                f"| {name:<{width}} | {enc:7.2f} | {dec:7.2f} | "
                f"{enc / base_enc:10.2f}x | {dec / base_dec:10.2f}x |"
            )
        print()
    print(f"| {'operation':<{width + 20}} | µs/op |")
    print(f"|{'-' * (width + 22)}|------:|")
    for name, value in ops:
        print(f"| {name:<{width + 20}} | {value:5.2f} |")


if __name__ == "__main__":
    main()
