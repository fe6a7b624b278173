"""Byte-format constants, validation of names that go into associated data, handle base.

Every layout here is specified in ``docs/crypto.md``; change both together (the
vector tests rebuild each format from the documentation's description).
"""

from __future__ import annotations

import re
from typing import NoReturn

__all__ = [
    "DEK_AD_LABEL",
    "DEK_FORMAT_VERSION",
    "FIELD_AD_LABEL",
    "FIELD_FORMAT_VERSION",
    "MAX_FIELD_BYTES",
    "MAX_KEK_ID_CHARS",
    "MAX_KEY_VERSION",
    "MAX_RECORD_ID_CHARS",
    "NoPickle",
    "check_kek_id",
    "check_key_version",
    "encode_field",
    "encode_record_id",
]

FIELD_FORMAT_VERSION = 0x01
DEK_FORMAT_VERSION = 0x01
FIELD_AD_LABEL = b"credit_vault/field/v1\x00"
DEK_AD_LABEL = b"credit_vault/dek/v1\x00"

MAX_RECORD_ID_CHARS = 64
MAX_FIELD_BYTES = 64
MAX_KEY_VERSION = 0xFFFFFFFF
# The storage's kek_id columns are VARCHAR(32): a longer id could wrap a key that
# PostgreSQL then refuses to store.
MAX_KEK_ID_CHARS = 32

_KEK_ID = re.compile(rf"[A-Za-z0-9._:/-]{{1,{MAX_KEK_ID_CHARS}}}")

# Field names come from a small schema, so their encodings are cached; the cap
# only guards against a caller that invents names without bound.
_FIELD_CACHE: dict[str, bytes] = {}
_FIELD_CACHE_MAX = 4096


def encode_record_id(record_id: str) -> bytes:
    """``u16be(len) || ascii(record_id)`` after checking the record-id rule."""
    if not isinstance(record_id, str):
        raise TypeError("record_id must be a str")
    if not (0 < len(record_id) <= MAX_RECORD_ID_CHARS and record_id.isascii()):
        raise ValueError("record_id must be 1 to 64 ASCII characters")
    raw = record_id.encode("ascii")
    return len(raw).to_bytes(2, "big") + raw


def encode_field(field: str) -> bytes:
    """``u16be(len) || utf8(field)`` after checking the field-name rule (cached)."""
    part = _FIELD_CACHE.get(field) if isinstance(field, str) else None
    if part is not None:
        return part
    if not isinstance(field, str):
        raise TypeError("field must be a str")
    try:
        raw = field.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("field name must be valid UTF-8 text") from None
    if not 0 < len(raw) <= MAX_FIELD_BYTES:
        raise ValueError("field name must be 1 to 64 bytes of UTF-8")
    part = len(raw).to_bytes(2, "big") + raw
    if len(_FIELD_CACHE) >= _FIELD_CACHE_MAX:
        _FIELD_CACHE.clear()
    _FIELD_CACHE[field] = part
    return part


def check_key_version(key_version: int) -> int:
    """Return ``key_version`` if it is an int that fits in an unsigned 32-bit field."""
    if not isinstance(key_version, int) or isinstance(key_version, bool):
        raise TypeError("key_version must be an int")
    if not 0 <= key_version <= MAX_KEY_VERSION:
        raise ValueError("key_version must fit in an unsigned 32-bit integer")
    return key_version


def check_kek_id(kek_id: str) -> bytes:
    """The ASCII bytes of a KEK id, after checking the id rule."""
    if not isinstance(kek_id, str) or _KEK_ID.fullmatch(kek_id) is None:
        raise ValueError(f"a KEK id is 1 to {MAX_KEK_ID_CHARS} characters of [A-Za-z0-9._:/-]")
    return kek_id.encode("ascii")


class NoPickle:
    """Refuses pickling and copying: key material stays in the process that loaded it."""

    __slots__ = ()

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError(f"{type(self).__name__} holds key material and cannot be pickled")

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} holds key material and cannot be pickled")

    def __getstate__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} holds key material and cannot be pickled")
