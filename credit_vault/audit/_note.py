"""C2SP signed notes (Ed25519) and transparency-log checkpoints.

Formats: https://c2sp.org/signed-note and https://c2sp.org/tlog-checkpoint, as
implemented by Go's ``golang.org/x/mod/sumdb/note``, so Go, Sigstore and Tessera
tooling can read the checkpoints this library signs.

A signed note is its text (ending in a newline), a blank line, then one line per
signature: ``— <key name> base64(key id ‖ signature)``. The key id is the first
four bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ Ed25519 public key).

Error policy: :func:`open_note` raises :class:`~credit_vault.errors.IntegrityError`
for every way a note can fail, malformed or forged, so a caller has one thing to
catch and nothing unverified gets through. Building or parsing the parts we
produce ourselves (names, verifier keys, checkpoint bodies) raises
:class:`~credit_vault.errors.InputError`, a ``ValueError``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from hashlib import sha256

from credit_vault.crypto._primitives import (
    ED25519_PUBLIC_BYTES,
    ED25519_SIGNATURE_BYTES,
    ed25519_verify,
)
from credit_vault.errors import ConfigurationError, InputError, IntegrityError

__all__ = [
    "ED25519_ALGORITHM",
    "MAX_CHECKPOINT_SIZE",
    "MAX_NOTE_SIGNATURES",
    "Checkpoint",
    "Verifiers",
    "key_id",
    "open_note",
    "parse_checkpoint",
    "parse_verifier_key",
    "sign_note",
    "verifier_key_line",
]

ED25519_ALGORITHM = 0x01
"""Signed-note signature type byte for Ed25519."""

MAX_NOTE_SIGNATURES = 100
"""Notes with more signature lines are refused (Go's limit; the spec asks for at least 16)."""

MAX_CHECKPOINT_SIZE = 2**64 - 1
"""Largest tree size a checkpoint may carry (Go and Tessera read it as uint64)."""

_SIGNATURE_PREFIX = "— "  # em dash U+2014, space
_FORBIDDEN_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")
_HEX8 = re.compile("[0-9a-fA-F]{8}")
_DECIMAL = re.compile("0|[1-9][0-9]{0,19}")

Verifiers = Mapping[str, bytes] | tuple[str, bytes] | Iterable[tuple[str, bytes]]
"""Trusted keys for :func:`open_note`: ``{name: public_key}``, one ``(name, key)``, or pairs."""


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode_canonical(text: str) -> bytes | None:
    """Standard padded base64, refusing any text that is not the canonical encoding."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if _b64encode(raw) == text else None


def _is_valid_name(name: str) -> bool:
    # C2SP: non-empty, no Unicode spaces, no plus; notes also forbid ASCII
    # controls. str.isspace() covers exactly Go's unicode.IsSpace once controls
    # are excluded.
    if not name or "+" in name or _FORBIDDEN_CONTROL.search(name) or "\n" in name:
        return False
    if any(ch.isspace() for ch in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_name(name: str) -> bytes:
    if not isinstance(name, str) or not _is_valid_name(name):
        raise InputError("key name must be non-empty, without spaces, plus signs or controls")
    return name.encode("utf-8")


def _check_public_key(public_key: bytes) -> bytes:
    if not isinstance(public_key, bytes | bytearray) or len(public_key) != ED25519_PUBLIC_BYTES:
        raise InputError("Ed25519 public keys are 32 bytes")
    return bytes(public_key)


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte signed-note key id: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]."""
    encoded = _check_name(name)
    key = _check_public_key(public_key)
    return sha256(encoded + b"\n" + bytes([ED25519_ALGORITHM]) + key).digest()[:4]


def verifier_key_line(name: str, public_key: bytes) -> str:
    """The verifier key text ``name+hex8(key id)+base64(0x01 ‖ public key)``."""
    kid = key_id(name, public_key)
    return f"{name}+{kid.hex()}+{_b64encode(bytes([ED25519_ALGORITHM]) + bytes(public_key))}"


def parse_verifier_key(line: str) -> tuple[str, bytes, bytes]:
    """Parse a verifier key line into ``(name, key id, public key)``; InputError if invalid."""
    if not isinstance(line, str):
        raise InputError("verifier key must be text")
    name, _, rest = line.partition("+")
    hash16, _, key64 = rest.partition("+")
    if not _is_valid_name(name) or not _HEX8.fullmatch(hash16):
        raise InputError("verifier key must read name+hex8+base64")
    raw = _b64decode_canonical(key64)
    if raw is None or len(raw) != 1 + ED25519_PUBLIC_BYTES:
        raise InputError("verifier key must hold a base64 Ed25519 key")
    if raw[0] != ED25519_ALGORITHM:
        raise InputError("verifier key algorithm is not Ed25519")
    public_key = raw[1:]
    kid = key_id(name, public_key)
    if kid != bytes.fromhex(hash16):
        raise InputError("verifier key id does not match its name and key")
    return name, kid, public_key


def _check_text(text: bytes) -> str:
    """Decode note text; InputError unless it is UTF-8, ends in newline, has no controls."""
    try:
        decoded = bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("note text must be UTF-8") from None
    if not decoded.endswith("\n") or _FORBIDDEN_CONTROL.search(decoded):
        raise InputError("note text must end in a newline and hold no control characters")
    return decoded


def sign_note(body: bytes, name: str, sign: Callable[[bytes], bytes], public_key: bytes) -> bytes:
    """Sign ``body`` as a C2SP note: ``body ‖ \\n ‖ — name base64(key id ‖ sign(body))\\n``.

    ``sign`` must produce Ed25519 signatures for ``public_key``; the result is
    verified before it is returned, so a mismatched key pair cannot publish a note
    that nobody can open (ConfigurationError).
    """
    _check_text(body)
    kid = key_id(name, public_key)
    text = bytes(body)
    signature = sign(text)
    if len(signature) != ED25519_SIGNATURE_BYTES or not ed25519_verify(
        bytes(public_key), signature, text
    ):
        raise ConfigurationError("note signing key does not match the given public key")
    line = f"{_SIGNATURE_PREFIX}{name} {_b64encode(kid + signature)}\n"
    return text + b"\n" + line.encode("utf-8")


def _known_keys(verifiers: Verifiers) -> dict[tuple[str, bytes], bytes]:
    pairs: Iterable[tuple[str, bytes]]
    if isinstance(verifiers, str | bytes | bytearray):
        # A verifier key line is text; it must be parsed (and its key id checked) first.
        raise InputError("trusted keys are (name, public key) pairs; see parse_verifier_key")
    if isinstance(verifiers, Mapping):
        pairs = verifiers.items()
    elif isinstance(verifiers, tuple) and len(verifiers) == 2 and isinstance(verifiers[0], str):
        pairs = [verifiers]
    else:
        pairs = verifiers
    known: dict[tuple[str, bytes], bytes] = {}
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InputError("trusted keys are (name, public key) pairs")
        name, public_key = pair
        kid = key_id(name, public_key)
        previous = known.setdefault((name, kid), bytes(public_key))
        if previous != public_key:
            raise ConfigurationError("two trusted keys share a key name and key id")
    if not known:
        raise ConfigurationError("at least one trusted key is needed to open a note")
    return known


def _malformed() -> IntegrityError:
    return IntegrityError("signed note is malformed")


def open_note(note: bytes, verifiers: Verifiers) -> bytes:
    """Verify a signed note and return its text (ending in newline).

    At least one signature must come from a trusted key and verify; signatures
    from unknown keys are ignored; any signature from a trusted key that fails
    rejects the whole note. Every failure is IntegrityError.
    """
    known = _known_keys(verifiers)
    try:
        decoded = bytes(note).decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed() from None
    if _FORBIDDEN_CONTROL.search(decoded):
        raise _malformed()
    # The signature block follows the note's last blank line.
    split = decoded.rfind("\n\n")
    if split < 0:
        raise _malformed()
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block.endswith("\n"):
        raise _malformed()
    lines = block[:-1].split("\n")
    if len(lines) > MAX_NOTE_SIGNATURES:
        raise _malformed()
    text_bytes = text.encode("utf-8")
    verified = 0
    for line in lines:
        if not line.startswith(_SIGNATURE_PREFIX):
            raise _malformed()
        name, space, sig64 = line[len(_SIGNATURE_PREFIX) :].partition(" ")
        raw = _b64decode_canonical(sig64) if space else None
        if raw is None or len(raw) < 5 or not _is_valid_name(name):
            raise _malformed()
        public_key = known.get((name, raw[:4]))
        if public_key is None:
            continue  # the spec requires ignoring signatures from unknown keys
        if not ed25519_verify(public_key, raw[4:], text_bytes):
            raise IntegrityError
        verified += 1
    if verified == 0:
        raise IntegrityError
    return text_bytes


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A C2SP tlog checkpoint: the log's origin, tree size and RFC 6962 root."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not _is_single_line(self.origin):
            raise InputError("checkpoint origin must be one non-empty line of text")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise InputError("checkpoint size must be an integer")
        if not 0 <= self.size <= MAX_CHECKPOINT_SIZE:
            raise InputError("checkpoint size must be between 0 and 2**64 - 1")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise InputError("checkpoint root must be a 32-byte SHA-256 hash")
        if not isinstance(self.extensions, tuple) or not all(
            isinstance(ext, str) and _is_single_line(ext) for ext in self.extensions
        ):
            raise InputError("checkpoint extension lines must be non-empty single lines")

    def body(self) -> bytes:
        """The note text: ``origin\\nsize\\nbase64(root)\\n`` plus extension lines."""
        lines = [self.origin, str(self.size), _b64encode(self.root), *self.extensions]
        return ("\n".join(lines) + "\n").encode("utf-8")


def _is_single_line(text: str) -> bool:
    if not text or "\n" in text or _FORBIDDEN_CONTROL.search(text):
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_checkpoint(body: bytes) -> Checkpoint:
    """Parse checkpoint note text (as :func:`open_note` returns it); InputError if malformed."""
    text = _check_text(body)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise InputError("checkpoint needs origin, size and root lines")
    origin, size_text, root64, *extensions = lines
    if not _DECIMAL.fullmatch(size_text):
        raise InputError("checkpoint size must be decimal without leading zeros")
    root = _b64decode_canonical(root64)
    if root is None or len(root) != 32:
        raise InputError("checkpoint root must be a base64 32-byte hash")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))
