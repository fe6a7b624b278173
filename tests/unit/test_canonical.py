"""RFC 8785 canonical JSON: known outputs, the accepted domain, canonical-form parsing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit_vault.audit._canonical import MAX_SAFE_INTEGER, canonical_json, parse_canonical
from credit_vault.errors import InputError

# --- an independent JCS serializer, written from RFC 8785 §3.2 ----------------

_SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


def reference_string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20:
            out.append(_SHORT_ESCAPES.get(code, f"\\u{code:04x}"))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def reference_jcs(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return reference_string(value)
    if isinstance(value, list):
        return "[" + ",".join(reference_jcs(v) for v in value) + "]"
    assert isinstance(value, dict)
    # RFC 8785 §3.2.3: sort by the UTF-16 code units of the keys.
    keys = sorted(
        value,
        key=lambda k: [
            int.from_bytes(k.encode("utf-16-be")[i : i + 2])
            for i in range(0, len(k.encode("utf-16-be")), 2)
        ],
    )
    return "{" + ",".join(reference_string(k) + ":" + reference_jcs(value[k]) for k in keys) + "}"


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(), json_values, max_size=6)


# --- known answers ----------------------------------------------------------


def test_rfc8785_string_sample() -> None:
    # RFC 8785 §3.2.2.2 "string" member: "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"
    value = "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/"
    assert canonical_json(value) == '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'.encode()


def test_rfc8785_literals_and_structure() -> None:
    value = {"string": "€$", "literals": [None, True, False]}
    assert canonical_json(value) == '{"literals":[null,true,false],"string":"€$"}'.encode()


def test_rfc8785_key_sorting_sample() -> None:
    # RFC 8785 §3.2.3: keys sort by UTF-16 code units, so the emoji (a surrogate
    # pair, 0xD83D...) comes before U+FB33 although its code point is larger.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical_json(value) == expected.encode()
    assert parse_canonical(expected.encode()) == value


def test_utf16_order_applies_in_nested_objects() -> None:
    value = {"z": [{"\ufb33": 1, "\U0001f600": 2}], "a": {"\uffff": 0, "\U00010000": 0}}
    expected = '{"a":{"\U00010000":0,"\uffff":0},"z":[{"\U0001f600":2,"\ufb33":1}]}'
    assert canonical_json(value) == expected.encode()


@pytest.mark.parametrize("code", range(0x20))
def test_control_characters_escape_as_ecmascript(code: int) -> None:
    expected = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}.get(code, f"\\u{code:04x}")
    assert canonical_json(chr(code)) == f'"{expected}"'.encode()


@pytest.mark.parametrize("ch", ["\x7f", "\u2028", "\u2029", "/", "é", "信", "\U0001f600", "\ufeff"])
def test_other_characters_are_kept_as_utf8(ch: str) -> None:
    assert canonical_json(ch) == f'"{ch}"'.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, b"0"),
        (-1, b"-1"),
        (MAX_SAFE_INTEGER, b"9007199254740991"),
        (-MAX_SAFE_INTEGER, b"-9007199254740991"),
        ({}, b"{}"),
        ([], b"[]"),
        ((1, "a"), b'[1,"a"]'),
        ({"b": [], "a": {}, "": None}, b'{"":null,"a":{},"b":[]}'),
        ({"actor": "u1", "count": 3, "ok": True}, b'{"actor":"u1","count":3,"ok":true}'),
    ],
)
def test_known_outputs(value: object, expected: bytes) -> None:
    assert canonical_json(value) == expected


# --- refused values ---------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        1.0,
        0.5,
        float("nan"),
        float("inf"),
        {"a": 1.5},
        [1, [2.0]],
        MAX_SAFE_INTEGER + 1,
        -MAX_SAFE_INTEGER - 1,
        {"n": 2**64},
        Decimal("1"),
        b"bytes",
        {1, 2},
        object(),
        {1: "int key"},
        {("a",): "tuple key"},
        {None: 1},
        "\ud800",
        {"\udfff": 1},
        ["ok", "lone \udc00 surrogate"],
    ],
)
def test_refused_values(value: object) -> None:
    with pytest.raises(InputError):
        canonical_json(value)


def test_refused_value_messages_do_not_echo_content() -> None:
    with pytest.raises(InputError) as caught:
        canonical_json({"secret-name": "110101199003078888\ud800"})
    assert "110101" not in str(caught.value)
    assert "secret" not in str(caught.value)


def test_excessive_nesting_is_refused() -> None:
    value: object = "leaf"
    for _ in range(100):
        value = [value]
    with pytest.raises(InputError):
        canonical_json(value)
    nested = b"[" * 100 + b"]" * 100
    with pytest.raises(InputError):
        parse_canonical(b'{"a":' + nested + b"}")
    with pytest.raises(InputError):
        parse_canonical(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}")


# --- parsing ----------------------------------------------------------------


def test_parse_round_trip() -> None:
    data = '{"a":[1,-2,"x\\n"],"b":{"c":null,"d":false},"é":"信"}'.encode()
    value = parse_canonical(data)
    assert value == {"a": [1, -2, "x\n"], "b": {"c": None, "d": False}, "é": "信"}
    assert canonical_json(value) == data


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1}',  # whitespace
        b' {"a":1}',
        b'{"a":1}\n',
        b'{"b":1,"a":2}',  # unsorted keys
        b'{"a":"\\u001F"}',  # uppercase hex escape
        b'{"a":"\\u0041"}',  # needless escape
        b'{"a":"\\/"}',  # escaped solidus
        b'{"a":"\\u00e9"}',  # non-ASCII must stay UTF-8
        b'{"a":"\x1f"}',  # raw control character
        b'{"a":1,"a":1}',  # duplicate key, even with equal values
        b'{"a":{"b":1,"b":2}}',
        b'{"a":1.0}',  # floats
        b'{"a":1e2}',
        b'{"a":1E2}',
        b'{"a":-0}',
        b'{"a":01}',
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b'{"a":9007199254740992}',  # beyond the safe integer range
        b'{"a":"\\ud800"}',  # lone surrogate
        b'{"a":"\xed\xa0\x80"}',  # surrogate encoded as UTF-8
        b'{"a":"\xff"}',  # invalid UTF-8
        b'\xef\xbb\xbf{"a":1}',  # byte order mark
        b'{"a":1',
        b"",
        b"[1]",  # not an object
        b'"text"',
        b"1",
        b"null",
        b'{"a":1}{"b":2}',
        b'{"a":' + b"1" * 5000 + b"}",  # beyond Python's int-from-text limit
    ],
)
def test_parse_refuses_non_canonical(data: bytes) -> None:
    with pytest.raises(InputError):
        parse_canonical(data)


def test_parse_accepts_bytes_like() -> None:
    assert parse_canonical(bytearray(b'{"a":1}')) == {"a": 1}
    assert parse_canonical(memoryview(b'{"a":1}')) == {"a": 1}


def test_parse_error_messages_do_not_echo_content() -> None:
    with pytest.raises(InputError) as caught:
        parse_canonical(b'{"id":"110101199003078888" }')
    assert "110101" not in str(caught.value)


# --- properties -------------------------------------------------------------


@settings(max_examples=300)
@given(json_values)
def test_matches_independent_reference(value: object) -> None:
    assert canonical_json(value) == reference_jcs(value).encode("utf-8")


@settings(max_examples=200)
@given(json_objects)
def test_parse_inverts_canonical(value: dict[str, object]) -> None:
    data = canonical_json(value)
    assert parse_canonical(data) == value
    assert canonical_json(parse_canonical(data)) == data


@settings(max_examples=100)
@given(json_objects.filter(bool), st.sampled_from([b" ", b"\n", b"\t"]))
def test_any_inserted_whitespace_is_refused(value: dict[str, object], space: bytes) -> None:
    data = canonical_json(value)
    with pytest.raises(InputError):
        parse_canonical(data[:1] + space + data[1:])


def test_duplicate_keys_are_named_as_the_reason() -> None:
    # Re-serialising would also catch a duplicate; the parser names the rule.
    with pytest.raises(InputError, match="repeat"):
        parse_canonical(b'{"a":1,"a":2}')
