"""Field encryption: AES-256-GCM bound by associated data to its record, field and key version.

Field ciphertext, version 1 (``docs/crypto.md``)::

    0x01 | u32be key_version | nonce (12) | ciphertext | tag (16)
    AD = b"credit_vault/field/v1" 0x00 | u16be len(record_id) | record_id
         | u16be len(field) | field (UTF-8) | u32be key_version

The hot path is kept thin on purpose (the ingest budget is a few microseconds
per record): the header and the AD of each (record, field) pair are computed
once per cipher, nonces come from the buffered source in :mod:`._random`, and
the AES-GCM object is built once per data key.
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
    AEAD_TAG_BYTES,
    BytesLike,
)
from credit_vault.crypto._random import nonce_bytes
from credit_vault.errors import IntegrityError

__all__ = ["FieldCipher"]

_HEADER = 5  # version byte + u32 key_version
_BODY = _HEADER + AEAD_NONCE_BYTES  # where the ciphertext starts
_MIN_BLOB = _BODY + AEAD_TAG_BYTES  # an empty plaintext
_FAILED = "field ciphertext failed authentication (wrong record, field, key or version, or altered)"
_MAX_CACHED_FIELDS = 256

# (record_id, AD prefix for that record, {field: full AD}); replaced whole, never
# mutated except by adding a field's AD, so concurrent threads stay consistent.
_Cache = tuple[str | None, bytes, dict[str, bytes]]


class FieldCipher(NoPickle):
    """Encrypts and decrypts the fields of one record version under its :class:`DataKey`."""

    __slots__ = ("_cache", "_data_key", "_decrypt", "_encrypt", "_header", "_version_tail")

    _cache: _Cache

    def __init__(self, data_key: DataKey) -> None:
        if not isinstance(data_key, DataKey):
            raise TypeError("FieldCipher needs a DataKey (from Envelope)")
        self._data_key = data_key
        self._encrypt, self._decrypt = data_key._aead_methods()
        tail = data_key.version.to_bytes(4, "big")
        self._version_tail = tail
        self._header = bytes([FIELD_FORMAT_VERSION]) + tail
        self._cache = (None, b"", {})

    def encrypt(self, record_id: str, field: str, plaintext: bytes) -> bytes:
        """The versioned ciphertext of ``plaintext`` for ``field`` of ``record_id``."""
        cache = self._cache
        if cache[0] != record_id:
            cache = self._for_record(record_id)
        ad = cache[2].get(field)
        if ad is None:
            ad = self._add_field(cache, field)
        nonce = nonce_bytes(AEAD_NONCE_BYTES)
        return self._header + nonce + self._encrypt(nonce, plaintext, ad)

    def encrypt_many(self, record_id: str, items: Sequence[tuple[str, bytes]]) -> list[bytes]:
        """:meth:`encrypt` for several fields of one record, with one randomness read."""
        cache = self._cache
        if cache[0] != record_id:
            cache = self._for_record(record_id)
        ads = cache[2]
        header = self._header
        encrypt = self._encrypt
        nonces = nonce_bytes(AEAD_NONCE_BYTES * len(items))
        out: list[bytes] = []
        at = 0
        for field, plaintext in items:
            ad = ads.get(field)
            if ad is None:
                ad = self._add_field(cache, field)
            nonce = nonces[at : at + AEAD_NONCE_BYTES]
            at += AEAD_NONCE_BYTES
            out.append(header + nonce + encrypt(nonce, plaintext, ad))
        return out

    def decrypt(self, record_id: str, field: str, blob: BytesLike) -> bytes:
        """The plaintext of ``blob``; :class:`IntegrityError` on any failure, whatever its cause."""
        cache = self._cache
        if cache[0] != record_id:
            cache = self._for_record(record_id)
        ad = cache[2].get(field)
        if ad is None:
            ad = self._add_field(cache, field)
        # A blob too short to hold nonce and tag must not reach AES-GCM, which
        # accepts nonces shorter than 12 bytes.
        if blob[:_HEADER] == self._header and len(blob) >= _MIN_BLOB:
            try:
                return self._decrypt(blob[_HEADER:_BODY], blob[_BODY:], ad)
            except AEAD_FAILURES:
                pass
        elif not isinstance(blob, bytes | bytearray | memoryview):
            raise TypeError("a field ciphertext is bytes")
        raise IntegrityError(_FAILED)

    @property
    def data_key(self) -> DataKey:
        """The data key this cipher uses."""
        return self._data_key

    def _for_record(self, record_id: str) -> _Cache:
        cache: _Cache = (record_id, FIELD_AD_LABEL + encode_record_id(record_id), {})
        self._cache = cache
        return cache

    def _add_field(self, cache: _Cache, field: str) -> bytes:
        ad = cache[1] + encode_field(field) + self._version_tail
        ads = cache[2]
        if len(ads) < _MAX_CACHED_FIELDS:
            ads[field] = ad
        return ad

    def _encrypt_with_nonce(
        self, record_id: str, field: str, plaintext: bytes, nonce: bytes
    ) -> bytes:
        """Private, for known-answer vectors only: encrypt with a caller-chosen nonce."""
        if len(nonce) != AEAD_NONCE_BYTES:
            raise ValueError("a nonce is 12 bytes")
        ad = FIELD_AD_LABEL + encode_record_id(record_id) + encode_field(field) + self._version_tail
        return self._header + nonce + self._encrypt(nonce, plaintext, ad)

    def __repr__(self) -> str:
        return f"FieldCipher(data_key={self._data_key!r})"
