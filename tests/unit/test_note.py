"""C2SP signed notes and checkpoints, with Go's sumdb/note known answers."""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit_vault.audit._note import (
    MAX_NOTE_SIGNATURES,
    Checkpoint,
    key_id,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    sign_note,
    verifier_key_line,
)
from credit_vault.crypto._primitives import ed25519_public_key, ed25519_sign
from credit_vault.errors import ConfigurationError, InputError, IntegrityError

# --- known answers from golang.org/x/mod/sumdb/note (note_test.go) -----------

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdng"
    "otpRZb6KE6RyyBwJnAM=\n"
).encode()
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWL"
    "ox33WWd1RvMc+QQ=\n"
).encode()

# A real checkpoint of the Go checksum database, signed by its published key
# (the key built into the go command, cmd/go/internal/modfetch/key.go).
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_CHECKPOINT = (
    "go.sum database tree\n"
    "49189689\n"
    "ftjbAOzaupaIvaPo/G+Dk63nxOZ2s1OPOKIaPtXs7S4=\n"
    "\n"
    "— sum.golang.org Az3grlKZssqRoMNPpZfKt0TphbbcF+pzXqElURJKRNFKfaUAgqeI5k2AORH0QAhg/ebRwy"
    "IqD/OqP4oLtLnNumvOBAM=\n"
).encode()


def peter_seed() -> bytes:
    raw = base64.b64decode(PETER_SKEY.split("+", 4)[4])  # PRIVATE+KEY+name+hash+key
    assert raw[0] == 0x01
    return raw[1:]


def signer(seed: bytes) -> Callable[[bytes], bytes]:
    return functools.partial(ed25519_sign, seed)


def key_pair(n: int) -> tuple[bytes, bytes]:
    seed = bytes([n]) * 32
    return seed, ed25519_public_key(seed)


def test_go_verifier_key_from_private_key() -> None:
    public_key = ed25519_public_key(peter_seed())
    assert verifier_key_line("PeterNeumann", public_key) == PETER_VKEY
    assert key_id("PeterNeumann", public_key) == bytes.fromhex("c74f20a3")
    assert parse_verifier_key(PETER_VKEY) == (
        "PeterNeumann",
        bytes.fromhex("c74f20a3"),
        public_key,
    )


def test_go_signature_is_reproduced_byte_for_byte() -> None:
    seed = peter_seed()
    note = sign_note(GO_TEXT, "PeterNeumann", signer(seed), ed25519_public_key(seed))
    assert note == GO_TEXT + b"\n" + PETER_SIG


def test_go_notes_open() -> None:
    peter = parse_verifier_key(PETER_VKEY)
    enoch = parse_verifier_key(ENOCH_VKEY)
    both = GO_TEXT + b"\n" + PETER_SIG + ENOCH_SIG
    assert open_note(both, (peter[0], peter[2])) == GO_TEXT
    assert open_note(both, (enoch[0], enoch[2])) == GO_TEXT
    assert open_note(both, [(peter[0], peter[2]), (enoch[0], enoch[2])]) == GO_TEXT
    assert open_note(both, {enoch[0]: enoch[2], peter[0]: peter[2]}) == GO_TEXT
    # Go's "duplicated verified and unverified signatures" case.
    enoch_abcd = ENOCH_SIG[:60] + b"ABCD" + ENOCH_SIG[60:]
    messy = GO_TEXT + b"\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd
    assert open_note(messy, (peter[0], peter[2])) == GO_TEXT
    # ...but a trusted key's bad signature rejects the note (spec: SHOULD).
    with pytest.raises(IntegrityError):
        open_note(messy, (enoch[0], enoch[2]))


def test_go_invalid_signature_is_refused() -> None:
    peter = parse_verifier_key(PETER_VKEY)
    bad = GO_TEXT + b"\n" + PETER_SIG[:60] + b"ABCD" + PETER_SIG[60:]
    with pytest.raises(IntegrityError):
        open_note(bad, (peter[0], peter[2]))


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT,
        GO_TEXT + b"\n",
        GO_TEXT + b"\n" + PETER_SIG[:-1],
        b"\x01" + GO_TEXT + b"\n" + PETER_SIG,
        b"\xff" + GO_TEXT + b"\n" + PETER_SIG,
        GO_TEXT + b"\n" + PETER_SIG.replace(b"PeterNeumann", b"Bad Name")[:-1],
        GO_TEXT + b"\n" + PETER_SIG + b"Unexpected line.\n",
        GO_TEXT + b"\n" + PETER_SIG.replace("—".encode(), b"-"),
        GO_TEXT + b"\n" + PETER_SIG.replace("—".encode(), "–".encode()),
        GO_TEXT + b"\n" + PETER_SIG.replace(b" x08go", b"  x08go"),
        GO_TEXT + b"\n" + PETER_SIG.replace(b"AM=\n", b"AM\n"),  # padding removed
        GO_TEXT + b"\n" + PETER_SIG.replace(b"AM=\n", b"AN=\n"),  # non-canonical bits
        GO_TEXT + b"\n" + PETER_SIG + b"\n",
        GO_TEXT + b"\n" + PETER_SIG.replace(b"\n", b"\r\n"),
        GO_TEXT + b"\n" + b"\xe2\x80\x94 PeterNeumann AAAA\n",  # signature too short
        GO_TEXT + b"\n" + PETER_SIG * (MAX_NOTE_SIGNATURES + 1),
        b"",
    ],
)
def test_go_malformed_notes_are_refused(note: bytes) -> None:
    peter = parse_verifier_key(PETER_VKEY)
    with pytest.raises(IntegrityError):
        open_note(note, (peter[0], peter[2]))


def test_signature_count_limit_is_inclusive() -> None:
    peter = parse_verifier_key(PETER_VKEY)
    note = GO_TEXT + b"\n" + PETER_SIG * MAX_NOTE_SIGNATURES
    assert open_note(note, (peter[0], peter[2])) == GO_TEXT


def test_go_verifier_key_manglings_are_refused() -> None:
    raw = PETER_VKEY.encode()
    for i in range(len(raw) + 1):
        for j in range(i + 1, len(raw) + 1):
            if (i, j) != (0, len(raw)):
                with pytest.raises(InputError):
                    parse_verifier_key(raw[i:j].decode())
    for i in range(len(raw)):
        mangled = bytearray(raw)
        mangled[i] += 1
        with pytest.raises(InputError):
            parse_verifier_key(mangled.decode())
    # Wrong key length and unknown algorithm, each with a matching key hash.
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ]:
        with pytest.raises(InputError):
            parse_verifier_key(bad)


def test_verifier_key_hex_is_case_insensitive_like_go() -> None:
    upper = PETER_VKEY.replace("c74f20a3", "C74F20A3")
    assert parse_verifier_key(upper) == parse_verifier_key(PETER_VKEY)


# --- a real checkpoint -------------------------------------------------------


def test_sumdb_checkpoint_opens_and_parses() -> None:
    name, kid, public_key = parse_verifier_key(SUMDB_VKEY)
    assert (name, kid) == ("sum.golang.org", bytes.fromhex("033de0ae"))
    body = open_note(SUMDB_CHECKPOINT, (name, public_key))
    checkpoint = parse_checkpoint(body)
    assert checkpoint.origin == "go.sum database tree"
    assert checkpoint.size == 49189689
    assert checkpoint.root == base64.b64decode("ftjbAOzaupaIvaPo/G+Dk63nxOZ2s1OPOKIaPtXs7S4=")
    assert checkpoint.extensions == ()
    assert checkpoint.body() == body
    tampered = SUMDB_CHECKPOINT.replace(b"49189689", b"49189688")
    with pytest.raises(IntegrityError):
        open_note(tampered, (name, public_key))


# --- our own notes -----------------------------------------------------------


def test_round_trip_and_tampering() -> None:
    seed, public_key = key_pair(1)
    body = Checkpoint("example.org/credit-vault/log", 42, b"\x07" * 32).body()
    note = sign_note(body, "example.org/credit-vault/log", signer(seed), public_key)
    assert open_note(note, ("example.org/credit-vault/log", public_key)) == body

    _, other_key = key_pair(2)
    with pytest.raises(IntegrityError):
        open_note(note, ("example.org/credit-vault/log", other_key))
    with pytest.raises(IntegrityError):
        open_note(note, ("another-name", public_key))

    for i in range(len(body) - 1):  # every byte of the body but its final newline
        edited = bytearray(note)
        edited[i] = ord("Z") if edited[i] != ord("Z") else ord("Y")
        with pytest.raises(IntegrityError):
            open_note(bytes(edited), ("example.org/credit-vault/log", public_key))

    sig_start = note.rindex(b" ") + 1
    for i in range(sig_start, len(note) - 1):
        edited = bytearray(note)
        edited[i] = ord("A") if edited[i] != ord("A") else ord("B")
        with pytest.raises(IntegrityError):
            open_note(bytes(edited), ("example.org/credit-vault/log", public_key))


def test_unknown_cosignatures_are_ignored() -> None:
    seed, public_key = key_pair(3)
    witness_seed, witness_key = key_pair(4)
    body = b"log\n1\n" + base64.b64encode(b"\x01" * 32) + b"\n"
    note = sign_note(body, "log", signer(seed), public_key)
    cosigned = sign_note(body, "witness.example", signer(witness_seed), witness_key)
    both = note + cosigned[len(body) + 1 :]
    assert open_note(both, ("log", public_key)) == body
    assert open_note(both, ("witness.example", witness_key)) == body
    with pytest.raises(IntegrityError):
        open_note(note, ("witness.example", witness_key))


def test_key_rotation_accepts_either_trusted_key() -> None:
    old_seed, old_key = key_pair(5)
    _, new_key = key_pair(6)
    note = sign_note(b"text\n", "log", signer(old_seed), old_key)
    assert open_note(note, [("log", new_key), ("log", old_key)]) == b"text\n"


@pytest.mark.parametrize(
    "body",
    [
        b"one line\n",
        b"blank lines\n\ninside\n",
        "— looks like a signature\n\n— log AAAA\n".encode(),
        "信用\n".encode(),
        b"\n",
    ],
)
def test_bodies_with_blank_lines_or_dashes_round_trip(body: bytes) -> None:
    seed, public_key = key_pair(7)
    note = sign_note(body, "log", signer(seed), public_key)
    assert open_note(note, {"log": public_key}) == body


@settings(max_examples=50)
@given(
    lines=st.lists(
        st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30), min_size=1
    ),
    n=st.integers(1, 255),
)
def test_any_text_round_trips(lines: list[str], n: int) -> None:
    body = ("\n".join(lines) + "\n").encode()
    seed, public_key = key_pair(n)
    note = sign_note(body, "log", signer(seed), public_key)
    assert open_note(note, ("log", public_key)) == body


@pytest.mark.parametrize("body", [b"no newline", b"tab\there\n", b"\xff\n", b"cr\r\n", b""])
def test_sign_refuses_malformed_text(body: bytes) -> None:
    seed, public_key = key_pair(8)
    with pytest.raises(InputError):
        sign_note(body, "log", signer(seed), public_key)


@pytest.mark.parametrize(
    "name", ["", "a b", "a+b", "tab\t", "nbsp\u00a0x", "ideo\u3000x", "\ud800"]
)
def test_invalid_key_names_are_refused(name: str) -> None:
    seed, public_key = key_pair(9)
    with pytest.raises(InputError):
        key_id(name, public_key)
    with pytest.raises(InputError):
        sign_note(b"text\n", name, signer(seed), public_key)
    with pytest.raises(InputError):
        open_note(b"text\n\n\xe2\x80\x94 log AAAAAAA=\n", (name, public_key))


def test_sign_refuses_a_key_pair_that_does_not_match() -> None:
    seed, _ = key_pair(10)
    _, other_key = key_pair(11)
    with pytest.raises(ConfigurationError):
        sign_note(b"text\n", "log", signer(seed), other_key)
    with pytest.raises(ConfigurationError):
        sign_note(b"text\n", "log", lambda _msg: b"\x00" * 64, other_key)


def test_public_key_length_is_checked() -> None:
    with pytest.raises(InputError):
        key_id("log", b"\x00" * 31)
    with pytest.raises(InputError):
        verifier_key_line("log", b"\x00" * 33)


def test_verifier_sets_must_be_usable() -> None:
    seed, public_key = key_pair(12)
    _, other_key = key_pair(13)
    note = sign_note(b"text\n", "log", signer(seed), public_key)
    with pytest.raises(ConfigurationError):
        open_note(note, [])
    with pytest.raises(ConfigurationError):
        open_note(note, {})
    for bad in (verifier_key_line("log", public_key), [("log", public_key, "extra")], ["log"]):
        with pytest.raises(InputError):
            open_note(note, bad)  # type: ignore[arg-type]
    # Same name and key twice is harmless.
    assert open_note(note, [("log", public_key), ("log", public_key)]) == b"text\n"
    # Distinct keys under one name do not collide in practice (different key ids).
    assert open_note(note, [("log", other_key), ("log", public_key)]) == b"text\n"


def test_verifier_key_line_round_trip() -> None:
    _, public_key = key_pair(14)
    line = verifier_key_line("example.org/log", public_key)
    name, kid, key = parse_verifier_key(line)
    assert (name, kid, key) == (
        "example.org/log",
        key_id("example.org/log", public_key),
        public_key,
    )


# --- checkpoints -------------------------------------------------------------


def test_checkpoint_body_format() -> None:
    root = bytes(range(32))
    checkpoint = Checkpoint("example.org/log", 20852163, root, ("ext one", "ext two"))
    expected = b"example.org/log\n20852163\n" + base64.b64encode(root) + b"\next one\next two\n"
    assert checkpoint.body() == expected
    assert parse_checkpoint(expected) == checkpoint
    assert Checkpoint("o", 0, root).body() == b"o\n0\n" + base64.b64encode(root) + b"\n"


@pytest.mark.parametrize("size", [0, 1, 10, 2**63, 2**64 - 1])
def test_checkpoint_sizes_round_trip(size: int) -> None:
    checkpoint = Checkpoint("log", size, b"\x01" * 32)
    assert parse_checkpoint(checkpoint.body()) == checkpoint


ROOT64 = base64.b64encode(b"\x02" * 32)


@pytest.mark.parametrize(
    "body",
    [
        b"log\n1\n",
        b"log\n1\n" + ROOT64,  # no final newline
        b"\n1\n" + ROOT64 + b"\n",  # empty origin
        b"log\n01\n" + ROOT64 + b"\n",
        b"log\n-1\n" + ROOT64 + b"\n",
        b"log\n+1\n" + ROOT64 + b"\n",
        b"log\n 1\n" + ROOT64 + b"\n",
        b"log\n1_000\n" + ROOT64 + b"\n",
        "log\n١\n".encode() + ROOT64 + b"\n",  # non-ASCII digit
        b"log\n18446744073709551616\n" + ROOT64 + b"\n",  # 2**64
        b"log\n" + b"9" * 30 + b"\n" + ROOT64 + b"\n",
        b"log\n1\n" + base64.b64encode(b"\x02" * 31) + b"\n",
        b"log\n1\n" + base64.b64encode(b"\x02" * 33) + b"\n",
        b"log\n1\n" + ROOT64.rstrip(b"=") + b"\n",
        b"log\n1\n" + ROOT64[:-2] + b"j=\n",  # non-canonical trailing bits
        b"log\n1\n" + ROOT64 + b"\n\n",  # empty extension line
        b"log\n1\n" + ROOT64 + b"\next\r\n",
        b"log\n1\n\n" + ROOT64 + b"\n",
    ],
)
def test_parse_checkpoint_refuses_malformed(body: bytes) -> None:
    with pytest.raises(InputError):
        parse_checkpoint(body)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origin": "", "size": 1, "root": b"\x00" * 32},
        {"origin": "two\nlines", "size": 1, "root": b"\x00" * 32},
        {"origin": "log", "size": -1, "root": b"\x00" * 32},
        {"origin": "log", "size": True, "root": b"\x00" * 32},
        {"origin": "log", "size": 2**64, "root": b"\x00" * 32},
        {"origin": "log", "size": 1, "root": b"\x00" * 31},
        {"origin": "log", "size": 1, "root": "00" * 32},
        {"origin": "log", "size": 1, "root": b"\x00" * 32, "extensions": ("",)},
        {"origin": "log", "size": 1, "root": b"\x00" * 32, "extensions": ("a\nb",)},
        {"origin": "log", "size": 1, "root": b"\x00" * 32, "extensions": ["list"]},
    ],
)
def test_checkpoint_refuses_invalid_fields(kwargs: dict[str, object]) -> None:
    with pytest.raises(InputError):
        Checkpoint(**kwargs)  # type: ignore[arg-type]


def test_checkpoint_is_frozen() -> None:
    checkpoint = Checkpoint("log", 1, b"\x00" * 32)
    with pytest.raises(AttributeError):
        checkpoint.size = 2  # type: ignore[misc]
