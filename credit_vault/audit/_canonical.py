"""RFC 8785 (JCS) canonical JSON for the values an access-log entry holds.

The value domain is deliberately narrow: objects with string keys, arrays,
strings, integers within ±(2**53 − 1), booleans and null. Floats are refused:
their JCS form depends on ECMAScript number formatting, and nothing in a log
entry needs them. Every failure raises :class:`~credit_vault.errors.InputError`
(a ``ValueError``); messages name the rule, never the offending content.

Within this domain the standard library's encoder, configured as below, emits
exactly the JCS form: no whitespace, only ``"`` ``\\`` and controls below U+0020
escaped (``\\b \\f \\n \\r \\t`` short forms, others ``\\u00xx`` in lowercase
hex), everything else kept as UTF-8. The one divergence is key order: Python
sorts by code point while JCS sorts by UTF-16 code unit, and the two differ only
when a key holds a character above U+FFFF; such objects take a slower path that
sorts by UTF-16 code units.
"""

from __future__ import annotations

import json

from credit_vault.errors import InputError

__all__ = ["MAX_SAFE_INTEGER", "canonical_json", "parse_canonical"]

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer magnitude I-JSON (RFC 7493) and ECMAScript represent exactly."""

# Log entries are flat or nearly so; a deep value is a mistake or an attack.
_MAX_DEPTH = 32

_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    separators=(",", ":"),
    sort_keys=True,
    allow_nan=False,
    check_circular=False,
)
_encode = _ENCODER.encode


def _check(value: object, depth: int) -> bool:
    """Validate ``value`` against the domain; True when a key needs UTF-16 ordering."""
    if depth > _MAX_DEPTH:
        raise InputError("canonical JSON nesting is too deep")
    astral = False
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InputError("canonical JSON object keys must be strings")
            if not key.isascii() and max(key) > "\uffff":
                astral = True
            kind = type(item)
            if kind is str or kind is bool or item is None:
                continue
            if _check(item, depth + 1):
                astral = True
        return astral
    if isinstance(value, list | tuple):
        for item in value:
            kind = type(item)
            if kind is str or kind is bool or item is None:
                continue
            if _check(item, depth + 1):
                astral = True
        return astral
    if isinstance(value, str | bool) or value is None:
        return False
    if isinstance(value, int):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return False
        raise InputError("canonical JSON integers must be within ±(2**53 − 1)")
    if isinstance(value, float):
        raise InputError("canonical JSON does not accept floats")
    raise InputError(
        "canonical JSON accepts only objects, arrays, strings, integers, booleans, null"
    )


def _utf16_order(item: tuple[str, object]) -> bytes:
    # Big-endian UTF-16 bytes compare exactly as the sequence of code units does.
    return item[0].encode("utf-16-be", "surrogatepass")


def _dump_utf16_sorted(value: object) -> str:
    if isinstance(value, dict):
        members = sorted(value.items(), key=_utf16_order)
        return "{" + ",".join(_encode(k) + ":" + _dump_utf16_sorted(v) for k, v in members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_dump_utf16_sorted(v) for v in value) + "]"
    return _encode(value)


def canonical_json(value: object) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``value`` (restricted domain; see module doc)."""
    text = _dump_utf16_sorted(value) if _check(value, 0) else _encode(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("canonical JSON strings must not contain lone surrogates") from None


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise InputError("canonical JSON objects must not repeat a key")
    return obj


def _refuse_float(_text: str) -> object:
    raise InputError("canonical JSON does not accept floats")


def _refuse_constant(_text: str) -> object:
    raise InputError("canonical JSON does not accept NaN or Infinity")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates,
    parse_float=_refuse_float,
    parse_constant=_refuse_constant,
)


def parse_canonical(data: bytes | bytearray | memoryview) -> dict[str, object]:
    """Parse a JSON object, raising InputError unless ``data`` is exactly its canonical form."""
    try:
        value = _DECODER.decode(bytes(data).decode("utf-8"))
    except InputError:
        raise
    except (ValueError, RecursionError):
        # JSONDecodeError and UnicodeDecodeError messages may quote the input.
        raise InputError("not valid UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise InputError("canonical JSON entry must be an object")
    if canonical_json(value) != data:
        raise InputError("JSON is not in RFC 8785 canonical form")
    return value
