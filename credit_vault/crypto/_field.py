"""Field encryption: AES-256-GCM bound by associated data to its record, field and key version.

Field ciphertext, version 1 (``docs/crypto.md``)::

    0x01 | u32be key_version | nonce (12) | ciphertext | tag (16)
    AD = b"credit_vault/field/v1" 0x00 | u16be len(record_id) | record_id
         | u16be len(field) | field (UTF-8) | u32be key_version

The hot path is kept thin on purpose (the ingest budget is a few microseconds
per record). The AD is split as ``prefix || suffix``: the prefix (label and
record id) is built once per cipher from its data key, the suffix (field name
and key version) once per process for each (version, field) pair. Nonces come
from the pool in :mod:`._random`, and the AES-GCM object is built once per data
key.
"""

from __future__ import annotations

from collections.abc import Sequence

from credit_vault.crypto import _primitives as prim
from credit_vault.crypto._envelope import DataKey, Envelope, _wrap
from credit_vault.crypto._format import (
    FIELD_AD_LABEL,
    FIELD_FORMAT_VERSION,
    NoPickle,
    check_key_version,
    encode_field,
    encode_record_id,
)
from credit_vault.crypto._primitives import (
    AEAD_FAILURES,
    AEAD_KEY_BYTES,
    AEAD_NONCE_BYTES,
    BytesLike,
)
from credit_vault.crypto._random import next_nonce, nonce_bytes, secret_bytes
from credit_vault.errors import IntegrityError

__all__ = ["FieldCipher", "seal_new_records"]

_HEADER = 5  # version byte + u32 key_version
_BODY = _HEADER + AEAD_NONCE_BYTES  # where the ciphertext starts
_FAILED = "field ciphertext failed authentication (wrong record, field, key or version, or altered)"

# {key_version: (header, {field: u16be(len) || field || u32be(key_version)})}.
# Field names come from a small schema and versions are few, so both levels stay
# small; the caps only guard against callers that invent names or versions
# without bound. Readers and writers rely on dict get/set being atomic.
_BY_VERSION: dict[int, tuple[bytes, dict[str, bytes]]] = {}
_MAX_VERSIONS = 64
_MAX_FIELDS = 4096


def _version_state(version: int) -> tuple[bytes, dict[str, bytes]]:
    if len(_BY_VERSION) >= _MAX_VERSIONS:
        _BY_VERSION.clear()
    header = bytes([FIELD_FORMAT_VERSION]) + version.to_bytes(4, "big")
    return _BY_VERSION.setdefault(version, (header, {}))


def _new_suffix(header: bytes, suffixes: dict[str, bytes], field: str) -> bytes:
    """The AD suffix of ``field`` under a version's header (validated, then cached)."""
    suffix = encode_field(field) + header[1:]
    if len(suffixes) < _MAX_FIELDS:
        suffixes[field] = suffix
    return suffix


class FieldCipher(NoPickle):
    """Encrypts and decrypts the fields of one record version under its :class:`DataKey`."""

    __slots__ = (
        "_data_key",
        "_decrypt",
        "_encrypt",
        "_header",
        "_prefix",
        "_record_id",
        "_suffixes",
    )

    def __init__(self, data_key: DataKey) -> None:
        if not isinstance(data_key, DataKey):
            raise TypeError("FieldCipher needs a DataKey (from Envelope)")
        self._data_key = data_key
        self._encrypt, self._decrypt = data_key._aead or data_key._aead_methods()
        self._header, self._suffixes = _BY_VERSION.get(data_key._version) or _version_state(
            data_key._version
        )
        self._record_id = data_key._record_id
        self._prefix = FIELD_AD_LABEL + data_key._rid_part

    def encrypt(self, record_id: str, field: str, plaintext: bytes) -> bytes:
        """The versioned ciphertext of ``plaintext`` for ``field`` of ``record_id``."""
        prefix = self._prefix if record_id == self._record_id else self._other_prefix(record_id)
        suffix = self._suffixes.get(field) or self._new_suffix(field)
        nonce = next_nonce()
        return self._header + nonce + self._encrypt(nonce, plaintext, prefix + suffix)

    def encrypt_many(self, record_id: str, items: Sequence[tuple[str, bytes]]) -> list[bytes]:
        """:meth:`encrypt` for several fields of one record, with one randomness read."""
        prefix = self._prefix if record_id == self._record_id else self._other_prefix(record_id)
        suffixes = self._suffixes
        header = self._header
        encrypt = self._encrypt
        nonces = nonce_bytes(AEAD_NONCE_BYTES * len(items))
        out: list[bytes] = []
        at = 0
        for field, plaintext in items:
            suffix = suffixes.get(field) or self._new_suffix(field)
            nonce = nonces[at : at + AEAD_NONCE_BYTES]
            at += AEAD_NONCE_BYTES
            out.append(header + nonce + encrypt(nonce, plaintext, prefix + suffix))
        return out

    def decrypt(self, record_id: str, field: str, blob: BytesLike) -> bytes:
        """The plaintext of ``blob``; :class:`IntegrityError` on any failure, whatever its cause."""
        prefix = self._prefix if record_id == self._record_id else self._other_prefix(record_id)
        suffix = self._suffixes.get(field) or self._new_suffix(field)
        # No length check is needed: a blob shorter than header + nonce + tag
        # leaves fewer than 16 bytes after the nonce, which never authenticates.
        if blob[:_HEADER] == self._header:
            try:
                return self._decrypt(blob[_HEADER:_BODY], blob[_BODY:], prefix + suffix)
            except AEAD_FAILURES:
                pass
        elif not isinstance(blob, bytes | bytearray | memoryview):
            raise TypeError("a field ciphertext is bytes")
        raise IntegrityError(_FAILED)

    def decrypt_many(self, record_id: str, items: Sequence[tuple[str, BytesLike]]) -> list[bytes]:
        """:meth:`decrypt` for several fields of one record; fails whole on the first bad blob."""
        prefix = self._prefix if record_id == self._record_id else self._other_prefix(record_id)
        suffixes = self._suffixes
        header = self._header
        decrypt = self._decrypt
        out: list[bytes] = []
        for field, blob in items:
            suffix = suffixes.get(field) or self._new_suffix(field)
            if blob[:_HEADER] == header:
                try:
                    out.append(decrypt(blob[_HEADER:_BODY], blob[_BODY:], prefix + suffix))
                    continue
                except AEAD_FAILURES:
                    pass
            elif not isinstance(blob, bytes | bytearray | memoryview):
                raise TypeError("a field ciphertext is bytes")
            raise IntegrityError(_FAILED)
        return out

    @property
    def data_key(self) -> DataKey:
        """The data key this cipher uses."""
        return self._data_key

    @staticmethod
    def _other_prefix(record_id: str) -> bytes:
        # A record id other than the data key's own: validated and encoded per call.
        return FIELD_AD_LABEL + encode_record_id(record_id)

    def _new_suffix(self, field: str) -> bytes:
        return _new_suffix(self._header, self._suffixes, field)

    def _encrypt_with_nonce(
        self, record_id: str, field: str, plaintext: bytes, nonce: bytes
    ) -> bytes:
        """Private, for known-answer vectors only: encrypt with a caller-chosen nonce."""
        if len(nonce) != AEAD_NONCE_BYTES:
            raise ValueError("a nonce is 12 bytes")
        ad = FIELD_AD_LABEL + encode_record_id(record_id) + encode_field(field) + self._header[1:]
        return self._header + nonce + self._encrypt(nonce, plaintext, ad)

    def __repr__(self) -> str:
        return f"FieldCipher(data_key={self._data_key!r})"


def seal_new_records(
    envelope: Envelope,
    key_version: int,
    records: Sequence[tuple[str, Sequence[tuple[str, bytes]]]],
) -> list[tuple[bytes, list[bytes]]]:
    """A fresh data key per record, wrapped under the current KEK, and its field ciphertexts.

    ``records`` is ``[(record_id, [(field, plaintext), ...]), ...]``; the result
    is ``[(wrapped_key, [ciphertext, ...]), ...]`` in the same order. The bytes are
    exactly those of :meth:`Envelope.new_data_keys` followed by
    :meth:`FieldCipher.encrypt_many` for each record (same formats, same
    associated data), so :meth:`Envelope.unwrap` and :class:`FieldCipher` read
    them back. This is the bulk-ingest path: one read of the OS random source
    for all keys, one nonce read for all fields, and no key handle or cipher
    object per record. Invalid record ids, field names or key version raise
    before anything is returned.
    """
    check_key_version(key_version)
    header, suffixes = _BY_VERSION.get(key_version) or _version_state(key_version)
    kek = envelope._keys._current_kek()
    step = AEAD_KEY_BYTES + AEAD_NONCE_BYTES
    secrets = secret_bytes(step * len(records))
    nonces = nonce_bytes(AEAD_NONCE_BYTES * sum(len(items) for _, items in records))
    aead_functions = prim.aes_gcm_functions
    out: list[tuple[bytes, list[bytes]]] = []
    at = 0
    n_at = 0
    for record_id, items in records:
        rid = encode_record_id(record_id)
        key = secrets[at : at + AEAD_KEY_BYTES]
        wrap_nonce = secrets[at + AEAD_KEY_BYTES : at + step]
        at += step
        wrapped = _wrap(kek, rid, key_version, key, wrap_nonce)
        encrypt = aead_functions(key)[0]
        prefix = FIELD_AD_LABEL + rid
        cts: list[bytes] = []
        for field, plaintext in items:
            suffix = suffixes.get(field) or _new_suffix(header, suffixes, field)
            nonce = nonces[n_at : n_at + AEAD_NONCE_BYTES]
            n_at += AEAD_NONCE_BYTES
            cts.append(header + nonce + encrypt(nonce, plaintext, prefix + suffix))
        out.append((wrapped, cts))
    return out
