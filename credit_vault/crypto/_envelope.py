"""Envelope encryption: one random data key per record version, wrapped by the current KEK.

Destroying a record's wrapped data key (or a KEK that nothing was re-wrapped
from) makes its field ciphertexts undecryptable: crypto-shredding.

Wrapped data key, version 1 (``docs/crypto.md``)::

    0x01 | u8 len(kek_id) | kek_id | nonce (12) | AES-256-GCM(kek, data_key) (32 + 16)
    AD = b"credit_vault/dek/v1" 0x00 | u8 len(kek_id) | kek_id
         | u16be len(record_id) | record_id | u32be key_version
"""

from __future__ import annotations

from collections.abc import Sequence

from credit_vault.crypto import _primitives as prim
from credit_vault.crypto._format import (
    DEK_FORMAT_VERSION,
    NoPickle,
    check_key_version,
    encode_record_id,
)
from credit_vault.crypto._keys import KeySet, _Kek
from credit_vault.crypto._random import nonce_bytes, secret_bytes
from credit_vault.errors import IntegrityError

__all__ = ["DataKey", "Envelope"]

_KEY = prim.AEAD_KEY_BYTES
_NONCE = prim.AEAD_NONCE_BYTES
_WRAPPED_BODY = _NONCE + _KEY + prim.AEAD_TAG_BYTES  # nonce + ciphertext + tag = 60
_WRAP_FAILED = "wrapped data key failed authentication (tampered, or moved to another record)"

_AeadFn = prim.AeadFunction
_Blob = prim.BytesLike


class DataKey(NoPickle):
    """A record version's 256-bit data key (a handle: the bytes never leave it)."""

    __slots__ = ("_aead", "_key", "_record_id", "_rid_part", "_version")

    _aead: tuple[_AeadFn, _AeadFn] | None
    _key: bytes
    _record_id: str
    _rid_part: bytes  # u16be(len) || record_id, as it appears in associated data
    _version: int

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        raise TypeError("DataKey objects come from Envelope.new_data_key() or Envelope.unwrap()")

    @classmethod
    def _from_bytes(cls, record_id: str, version: int, key: bytes) -> DataKey:
        """Private: wrap raw key bytes in a handle (used by the envelope and by vector tests)."""
        rid = encode_record_id(record_id)
        check_key_version(version)
        if not isinstance(key, bytes) or len(key) != _KEY:
            raise ValueError("a data key is 32 bytes")
        return cls._make(record_id, rid, version, key)

    @classmethod
    def _make(cls, record_id: str, rid_part: bytes, version: int, key: bytes) -> DataKey:
        """Private: :meth:`_from_bytes` for arguments the envelope has already checked."""
        self = object.__new__(cls)
        self._record_id = record_id
        self._rid_part = rid_part
        self._version = version
        self._key = key
        self._aead = None
        return self

    @property
    def record_id(self) -> str:
        """The record this key belongs to."""
        return self._record_id

    @property
    def version(self) -> int:
        """The record version (``key_version``) this key belongs to."""
        return self._version

    def _aead_methods(self) -> tuple[_AeadFn, _AeadFn]:
        """The key's AES-GCM ``(encrypt, decrypt)``, built once on first use."""
        methods = self._aead
        if methods is None:
            # Two threads may race here; both build an equivalent object, one wins.
            methods = self._aead = prim.aes_gcm_functions(self._key)
        return methods

    def __repr__(self) -> str:
        return f"DataKey(record_id={self._record_id!r}, version={self._version})"


class Envelope(NoPickle):
    """Creates, wraps, unwraps and re-wraps data keys under a key set's KEKs."""

    __slots__ = ("_keys",)

    def __init__(self, keys: KeySet) -> None:
        if not isinstance(keys, KeySet):
            raise TypeError("Envelope needs a KeySet (from a KeyProvider)")
        self._keys = keys

    def new_data_key(self, record_id: str, key_version: int) -> tuple[DataKey, bytes]:
        """A fresh random data key for ``(record_id, key_version)`` and its wrapped blob."""
        rid = encode_record_id(record_id)
        check_key_version(key_version)
        raw = secret_bytes(_KEY + _NONCE)
        key = raw[:_KEY]
        wrapped = _wrap(self._keys._current_kek(), rid, key_version, key, raw[_KEY:])
        return DataKey._make(record_id, rid, key_version, key), wrapped

    def new_data_keys(self, items: Sequence[tuple[str, int]]) -> list[tuple[DataKey, bytes]]:
        """:meth:`new_data_key` for many records, with one OS randomness read for all of them.

        Every item is validated before any key is made, so bad input yields nothing.
        """
        checked = [(rid, encode_record_id(rid), check_key_version(ver)) for rid, ver in items]
        kek = self._keys._current_kek()
        step = _KEY + _NONCE
        raw = secret_bytes(step * len(checked))
        out: list[tuple[DataKey, bytes]] = []
        for i, (record_id, rid, version) in enumerate(checked):
            at = i * step
            key = raw[at : at + _KEY]
            wrapped = _wrap(kek, rid, version, key, raw[at + _KEY : at + step])
            out.append((DataKey._make(record_id, rid, version, key), wrapped))
        return out

    def unwrap(self, record_id: str, key_version: int, wrapped: _Blob) -> DataKey:
        """The data key inside ``wrapped``.

        Raises :class:`IntegrityError` if the blob was tampered with or belongs
        to another record or version, :class:`KeyNotFound` if its KEK is not in
        the key set.
        """
        rid = encode_record_id(record_id)
        check_key_version(key_version)
        kek, nonce, body = self._parse(wrapped)
        try:
            key = kek.aead.decrypt(nonce, body, _wrap_ad(kek, rid, key_version))
        except IntegrityError:
            raise IntegrityError(_WRAP_FAILED) from None
        return DataKey._make(record_id, rid, key_version, key)

    def rewrap(self, record_id: str, key_version: int, wrapped: _Blob) -> bytes:
        """``wrapped`` re-wrapped under the current KEK (returned unchanged if already current).

        The blob is authenticated first, so rotation never launders a forged key.
        """
        data_key = self.unwrap(record_id, key_version, wrapped)
        current = self._keys._current_kek()
        if bytes(wrapped[: len(current.header)]) == current.header:
            return bytes(wrapped)
        rid = encode_record_id(record_id)
        return _wrap(current, rid, key_version, data_key._key, nonce_bytes(_NONCE))

    @staticmethod
    def kek_id_of(wrapped: _Blob) -> str:
        """The KEK id a wrapped data key names (unauthenticated; for finding blobs to re-wrap)."""
        raw = _as_bytes(wrapped)
        if len(raw) < 2 or raw[0] != DEK_FORMAT_VERSION or len(raw) != 2 + raw[1] + _WRAPPED_BODY:
            raise IntegrityError(_WRAP_FAILED)
        try:
            return raw[2 : 2 + raw[1]].decode("ascii")
        except UnicodeDecodeError:
            raise IntegrityError(_WRAP_FAILED) from None

    def _parse(self, wrapped: _Blob) -> tuple[_Kek, bytes, bytes]:
        raw = _as_bytes(wrapped)
        kek_id = self.kek_id_of(raw)
        kek = self._keys._kek(kek_id)
        at = 2 + raw[1]
        return kek, raw[at : at + _NONCE], raw[at + _NONCE :]

    def _wrap_with_nonce(self, record_id: str, key_version: int, key: bytes, nonce: bytes) -> bytes:
        """Private, for known-answer vectors only: wrap ``key`` with a caller-chosen nonce."""
        rid = encode_record_id(record_id)
        check_key_version(key_version)
        return _wrap(self._keys._current_kek(), rid, key_version, key, nonce)

    def __repr__(self) -> str:
        return f"Envelope(keys={self._keys!r})"


def _as_bytes(blob: object) -> bytes:
    if isinstance(blob, bytes):
        return blob
    if isinstance(blob, bytearray | memoryview):
        return bytes(blob)
    raise TypeError("a wrapped data key is bytes")


def _wrap_ad(kek: _Kek, rid: bytes, key_version: int) -> bytes:
    return kek.wrap_ad_prefix + rid + key_version.to_bytes(4, "big")


def _wrap(kek: _Kek, rid: bytes, key_version: int, key: bytes, nonce: bytes) -> bytes:
    return kek.header + nonce + kek.aead.encrypt(nonce, key, _wrap_ad(kek, rid, key_version))
