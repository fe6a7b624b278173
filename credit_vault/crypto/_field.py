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

from credit_vault.crypto._envelope import DataKey
from credit_vault.crypto._format import (
    FIELD_AD_LABEL,
    FIELD_FORMAT_VERSION,
    NoPickle,
    encode_field,
    encode_record_id,
)
from credit_vault.crypto._primitives import (
    AEAD_FAILURES,
    AEAD_NONCE_BYTES,
    BytesLike,
)
from credit_vault.crypto._random import next_nonce, nonce_bytes
from credit_vault.errors import IntegrityError

__all__ = ["FieldCipher"]

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
        suffix = encode_field(field) + self._header[1:]
        if len(self._suffixes) < _MAX_FIELDS:
            self._suffixes[field] = suffix
        return suffix

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
