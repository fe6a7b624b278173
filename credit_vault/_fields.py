"""Typed plaintext encoding of fact values and the packed layout of a record's ciphertexts.

Plaintext of one field (before encryption): a one-byte type tag then UTF-8 text:
``s`` string, ``i`` integer (decimal digits), ``d`` decimal (plain notation),
``t`` date (ISO 8601), ``b`` boolean (``1``/``0``).

Packed ciphertexts of one record version (the ``fields`` column): repeated
``u8 len(name) | name (UTF-8) | u32be len(ct) | ct``. Names are schema, not
personal data; each ``ct`` is a FieldCipher blob bound to (record, field, version).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from credit_vault.errors import IntegrityError

__all__ = ["decode_value", "encode_value", "pack", "unpack"]

_U32 = struct.Struct(">I")


def encode_value(value: Any) -> bytes:
    """Type-tagged UTF-8 plaintext of a coerced fact value."""
    if type(value) is str:  # the common case first
        return b"s" + value.encode("utf-8")
    if isinstance(value, bool):
        return b"b1" if value else b"b0"
    if isinstance(value, int):
        return b"i" + str(value).encode()
    if isinstance(value, Decimal):
        return b"d" + format(value, "f").encode()
    if isinstance(value, date) and not isinstance(value, datetime):
        # A datetime's ISO text ("...T09:30:00") is not a date's: decode_value would
        # refuse it and every later read of the record would fail.
        return b"t" + value.isoformat().encode()
    if isinstance(value, str):
        return b"s" + value.encode("utf-8")
    raise TypeError("fact values are str, int, Decimal, date (not datetime) or bool")


def decode_value(data: bytes) -> Any:
    """Inverse of :func:`encode_value`; a malformed plaintext is an integrity failure."""
    try:
        tag, body = data[:1], data[1:].decode("utf-8")
        if tag == b"s":
            return body
        if tag == b"i":
            return int(body)
        if tag == b"d":
            return Decimal(body)
        if tag == b"t":
            return date.fromisoformat(body)
        if tag == b"b" and body in ("0", "1"):
            return body == "1"
    except (ValueError, ArithmeticError):
        pass
    raise IntegrityError


def pack(items: Iterable[tuple[str, bytes]]) -> bytes:
    """Concatenate (field name, ciphertext) pairs into one blob."""
    parts: list[bytes] = []
    for name, ct in items:
        head = _NAME_HEADS.get(name) or _name_head(name)
        parts += (head, _U32.pack(len(ct)), ct)
    return b"".join(parts)


# Encoded ``u8 len | name`` prefixes: field names come from a small schema.
_NAME_HEADS: dict[str, bytes] = {}


def _name_head(name: str) -> bytes:
    nb = name.encode("utf-8")
    head = bytes((len(nb),)) + nb  # ValueError past 255 bytes (names are at most 64)
    if len(_NAME_HEADS) < 4096:
        _NAME_HEADS[name] = head
    return head


def unpack(blob: bytes, wanted: Iterable[str] | None = None) -> dict[str, bytes]:
    """The (name → ciphertext) pairs of a packed blob, only ``wanted`` ones if given."""
    want = None if wanted is None else set(wanted)
    out: dict[str, bytes] = {}
    pos, n = 0, len(blob)
    try:
        while pos < n:
            ln = blob[pos]
            name = blob[pos + 1 : pos + 1 + ln].decode("utf-8")
            pos += 1 + ln
            (clen,) = _U32.unpack_from(blob, pos)
            pos += 4
            if pos + clen > n:
                raise IntegrityError
            if want is None or name in want:
                out[name] = blob[pos : pos + clen]
            pos += clen
    except (IndexError, UnicodeDecodeError, struct.error):
        raise IntegrityError from None
    return out


def jsonable(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Facts with decimals and dates as strings (for JSON output)."""
    out: dict[str, Any] = {}
    for k, v in facts.items():
        if isinstance(v, Decimal):
            out[k] = format(v, "f")
        elif isinstance(v, date):
            out[k] = v.isoformat()
        else:
            out[k] = v
    return out
