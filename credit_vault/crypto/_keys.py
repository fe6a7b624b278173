"""Key sets and the providers that load them: a key file, an Argon2id-sealed file, an env var.

A key set holds three kinds of secret, each behind a handle:

* key-encryption keys (KEKs), AES-256, versioned ``kek-1``, ``kek-2``, ...; the
  newest is *current* and wraps new data keys, the older ones only unwrap;
* the blind-index root key, from which one HMAC key per purpose is derived;
* the Ed25519 seed that signs audit-log checkpoints.

Handles never show key bytes: no pickling, reprs with ids only. Raw key bytes
leave the process only through the key-set file formats documented in
``docs/crypto.md`` (and :meth:`EnvKeyProvider.export_value`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import stat
import threading
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, Protocol, runtime_checkable

from credit_vault.crypto import _primitives as prim
from credit_vault.crypto._format import (
    DEK_AD_LABEL,
    DEK_FORMAT_VERSION,
    MAX_KEK_ID_CHARS,
    NoPickle,
    check_kek_id,
)
from credit_vault.crypto._random import nonce_bytes, secret_bytes
from credit_vault.errors import IntegrityError, KeyFileError, KeyNotFound

if TYPE_CHECKING:
    from pydantic import SecretBytes, SecretStr

_fcntl: ModuleType | None
try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - not POSIX: rotation has no cross-process lock
    _fcntl = None

__all__ = [
    "ARGON2_TEST_PARAMS",
    "Argon2Params",
    "AuditSigner",
    "BlindIndexKey",
    "EnvKeyProvider",
    "FileKeyProvider",
    "KeyProvider",
    "KeySet",
    "PassphraseKeyProvider",
]

KEY_SET_FORMAT = "credit_vault/key-set"
SEALED_KEY_SET_FORMAT = "credit_vault/sealed-key-set"
KEY_SET_VERSION = 1
SEALED_AD_LABEL = b"credit_vault/sealed-key-set/v1\x00"
BLIND_INDEX_INFO = b"credit_vault/blind-index/v1/"
FINGERPRINT_LABEL = b"credit_vault/key-set-fingerprint/v1\x00"

_MAX_FILE_BYTES = 1 << 20  # a key set with thousands of KEKs is still far below this
_SALT_BYTES = 16  # RFC 9106 recommends 128-bit salts


# --- handles -----------------------------------------------------------------


class _Kek(NoPickle):
    """A key-encryption key handle: its id, its AES-GCM object and its precomputed prefixes."""

    __slots__ = ("aead", "header", "id", "wrap_ad_prefix")

    def __init__(self, kek_id: str, key: bytes) -> None:
        raw_id = check_kek_id(kek_id)
        self.id = kek_id
        self.aead = prim.AesGcm(key)
        id_part = len(raw_id).to_bytes(1, "big") + raw_id
        self.header = bytes([DEK_FORMAT_VERSION]) + id_part
        self.wrap_ad_prefix = DEK_AD_LABEL + id_part

    def __repr__(self) -> str:
        return f"Kek(id={self.id!r})"


class BlindIndexKey(NoPickle):
    """The HMAC-SHA256 key of one blind-index purpose (derived, never stored)."""

    __slots__ = ("_key", "_purpose")

    def __init__(self, purpose: str, key: bytes, *, _token: object = None) -> None:
        if _token is not _INTERNAL:
            raise TypeError("BlindIndexKey objects come from KeySet.blind_index_key()")
        self._purpose = purpose
        self._key = key

    @property
    def purpose(self) -> str:
        """The purpose this key was derived for."""
        return self._purpose

    def mac(self, message: bytes) -> bytes:
        """The full 32-byte HMAC-SHA256 of ``message`` under this key."""
        return prim.hmac_sha256(self._key, message)

    def __repr__(self) -> str:
        return f"BlindIndexKey(purpose={self._purpose!r})"


class AuditSigner(NoPickle):
    """Signs audit-log checkpoints with the key set's Ed25519 key."""

    __slots__ = ("_signer",)

    def __init__(self, seed: bytes, *, _token: object = None) -> None:
        if _token is not _INTERNAL:
            raise TypeError("AuditSigner objects come from KeySet.audit_signer")
        self._signer = prim.Ed25519Signer(seed)

    def sign(self, message: bytes) -> bytes:
        """A 64-byte Ed25519 signature of ``message``."""
        return self._signer.sign(message)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's valid signature of ``message``."""
        return prim.ed25519_verify(self._signer.public_key, signature, message)

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key (safe to publish)."""
        return self._signer.public_key

    def __repr__(self) -> str:
        return f"AuditSigner(public_key={self._signer.public_key.hex()[:16]}...)"


_INTERNAL = object()


# --- key material and its JSON form ---------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class _Material:
    """The raw contents of a key set; lives only inside this module and its file formats."""

    keks: tuple[tuple[str, bytes], ...]
    current: str
    blind_root: bytes
    audit_seed: bytes

    def __repr__(self) -> str:
        return f"_Material(kek_ids={tuple(k for k, _ in self.keks)!r}, current={self.current!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("key material cannot be pickled")

    @classmethod
    def generate(cls) -> _Material:
        """Fresh random material: ``kek-1``, a blind-index root and an Ed25519 seed."""
        raw = secret_bytes(96)
        return cls(
            keks=(("kek-1", raw[:32]),), current="kek-1", blind_root=raw[32:64], audit_seed=raw[64:]
        )

    def rotated(self) -> tuple[_Material, str]:
        """A copy with a new current KEK ``kek-(N+1)``, N the highest numbered id."""
        numbers = [int(k[4:]) for k, _ in self.keks if k.startswith("kek-") and k[4:].isdigit()]
        new_id = f"kek-{max(numbers, default=0) + 1}"
        keks = (*self.keks, (new_id, secret_bytes(prim.AEAD_KEY_BYTES)))
        return _Material(keks, new_id, self.blind_root, self.audit_seed), new_id

    def to_json(self) -> bytes:
        """The key-set file bytes (format ``credit_vault/key-set`` version 1)."""
        doc = {
            "format": KEY_SET_FORMAT,
            "version": KEY_SET_VERSION,
            "current_kek": self.current,
            "keks": [{"id": k, "alg": "AES-256-GCM", "key": _b64(v)} for k, v in self.keks],
            "blind_index_root": _b64(self.blind_root),
            "audit_ed25519_seed": _b64(self.audit_seed),
        }
        return (json.dumps(doc, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> _Material:
        """Parse key-set file bytes strictly; :class:`KeyFileError` naming the broken rule."""
        doc = _load_json(data)
        if doc.get("format") == SEALED_KEY_SET_FORMAT:
            _bad("it is a passphrase-sealed key set; open it with PassphraseKeyProvider")
        _check_header(doc, KEY_SET_FORMAT)
        _check_keys(
            doc,
            {"format", "version", "current_kek", "keks", "blind_index_root", "audit_ed25519_seed"},
        )
        raw_keks = doc["keks"]
        if not isinstance(raw_keks, list) or not raw_keks:
            _bad('"keks" must be a non-empty list')
        keks: list[tuple[str, bytes]] = []
        for entry in raw_keks:
            if not isinstance(entry, dict):
                _bad('each entry of "keks" must be an object')
            _check_keys(entry, {"id", "alg", "key"})
            kek_id = entry["id"]
            try:
                check_kek_id(kek_id)
            except ValueError:
                _bad(
                    "a KEK id breaks the id rule "
                    f"([A-Za-z0-9._:/-], 1 to {MAX_KEK_ID_CHARS} characters)"
                )
            if entry["alg"] != "AES-256-GCM":
                _bad('every KEK must have "alg": "AES-256-GCM"')
            if any(kek_id == k for k, _ in keks):
                _bad("KEK ids must be unique")
            keks.append((kek_id, _unb64(entry["key"], prim.AEAD_KEY_BYTES, "a KEK")))
        current = doc["current_kek"]
        if not any(current == k for k, _ in keks):
            _bad('"current_kek" must name one of "keks"')
        return cls(
            keks=tuple(keks),
            current=current,
            blind_root=_unb64(doc["blind_index_root"], 32, '"blind_index_root"'),
            audit_seed=_unb64(doc["audit_ed25519_seed"], 32, '"audit_ed25519_seed"'),
        )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(value: object, length: int, what: str) -> bytes:
    if not isinstance(value, str):
        _bad(f"{what} must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        _bad(f"{what} is not valid base64")
    if len(raw) != length:
        _bad(f"{what} must decode to {length} bytes")
    return raw


def _bad(rule: str) -> NoReturn:
    raise KeyFileError(f"key-set file is not valid: {rule}")


def _load_json(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        # No ``from`` cause: a JSON error quotes the document, which holds keys.
        _bad("not UTF-8 JSON")
    except RecursionError:
        # Nesting deeper than the interpreter's recursion limit; no key set is nested.
        _bad("JSON nested too deeply")
    if not isinstance(doc, dict):
        _bad("the top level must be a JSON object")
    return doc


def _check_header(doc: dict[str, Any], expected_format: str) -> None:
    if doc.get("format") != expected_format:
        _bad(f'"format" must be "{expected_format}"')
    version = doc.get("version")
    if type(version) is not int or version != KEY_SET_VERSION:
        _bad(f'"version" must be {KEY_SET_VERSION} (this library reads version {KEY_SET_VERSION})')


def _check_keys(doc: dict[str, Any], expected: set[str]) -> None:
    if set(doc) != expected:
        _bad(f"expected exactly the members {sorted(expected)}")


# --- the key set -------------------------------------------------------------------

# (st_dev, st_ino, st_mtime_ns, st_size): a replaced file (rotation renames a new
# one into place) changes the inode; an in-place edit changes mtime or size.
_Stamp = tuple[int, int, int, int]


def _file_stamp(path: Path) -> _Stamp | None:
    """The stat fingerprint of ``path`` (following symlinks), or None if it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class KeySet(NoPickle):
    """A loaded key set: KEKs by id, blind-index keys by purpose, the audit signer.

    Obtain one from a :class:`KeyProvider` (or :meth:`generate` for an ephemeral,
    memory-only set). It is safe to share between threads.
    """

    __slots__ = (
        "_audit",
        "_blind",
        "_blind_root",
        "_fingerprint",
        "_lock",
        "_reload",
        "_seen",
        "_stamp",
        "_state",
    )

    _audit: AuditSigner
    _blind: dict[str, BlindIndexKey]
    _blind_root: bytes
    _fingerprint: str
    _lock: threading.Lock
    _reload: Callable[[], _Material] | None
    # The provider's cheap "has the file changed?" probe (one stat) and what it
    # returned when the file was last read; None when the file cannot be stat'ed.
    _stamp: Callable[[], _Stamp | None] | None
    _seen: _Stamp | None
    # One tuple, replaced whole, so readers never see a current id without its key.
    _state: tuple[str, dict[str, _Kek], _Material]

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        raise TypeError("KeySet objects come from a KeyProvider or KeySet.generate()")

    @classmethod
    def _from_material(
        cls,
        material: _Material,
        reload: Callable[[], _Material] | None = None,
        *,
        stamp: Callable[[], _Stamp | None] | None = None,
        seen: _Stamp | None = None,
    ) -> KeySet:
        """A key set over ``material``; ``reload``/``stamp`` let it follow a key file.

        ``seen`` is what ``stamp()`` returned just before ``material`` was read.
        """
        self = object.__new__(cls)
        self._lock = threading.Lock()
        self._reload = reload
        self._stamp = stamp
        self._seen = seen
        self._blind_root = material.blind_root
        self._blind = {}
        self._audit = AuditSigner(material.audit_seed, _token=_INTERNAL)
        digest = hashlib.sha256(FINGERPRINT_LABEL + self._audit.public_key).hexdigest()
        self._fingerprint = digest[:16]
        self._state = _state_of(material)
        return self

    @classmethod
    def generate(cls) -> KeySet:
        """A fresh random key set held only in memory (lost when the process ends)."""
        return cls._from_material(_Material.generate())

    @property
    def current_kek_id(self) -> str:
        """The id of the KEK that wraps new data keys."""
        return self._state[0]

    @property
    def kek_ids(self) -> tuple[str, ...]:
        """Every KEK id in the set, oldest first."""
        return tuple(self._state[1])

    @property
    def fingerprint(self) -> str:
        """16 hex digits identifying this key set (derived from the audit public key)."""
        return self._fingerprint

    @property
    def audit_signer(self) -> AuditSigner:
        """The Ed25519 signer for audit-log checkpoints."""
        return self._audit

    def blind_index_key(self, purpose: str) -> BlindIndexKey:
        """The blind-index key for ``purpose``: HKDF-SHA256(root, info=label || purpose)."""
        key = self._blind.get(purpose)
        if key is not None:
            return key
        if not isinstance(purpose, str):
            raise TypeError("purpose must be a str")
        raw = _utf8(purpose)
        if not 0 < len(raw) <= 64:
            raise ValueError("a blind-index purpose is 1 to 64 bytes of UTF-8")
        derived = prim.hkdf_sha256(self._blind_root, info=BLIND_INDEX_INFO + raw)
        key = BlindIndexKey(purpose, derived, _token=_INTERNAL)
        with self._lock:
            return self._blind.setdefault(purpose, key)

    def _current_kek(self) -> _Kek:
        """The KEK that wraps new data keys, after adopting a rotation of the key file.

        Every wrap goes through here, so a long-running process never wraps under
        a KEK that another process has rotated away from (and an operator may be
        about to retire). The check is one ``stat`` of the file; the file is read
        again only when its identity, size or modification time changed (see
        :meth:`_follow_locked` for what is adopted). Raises :class:`KeyFileError`
        if the changed file cannot be read or is no longer this key set: refusing
        the write is safer than wrapping under a KEK that may be retired.
        """
        if self._stamp is not None:
            stamp = self._stamp()
            # A file that vanished (stamp None) is not a rotation: keep the keys we have.
            if stamp is not None and stamp != self._seen:
                with self._lock:
                    stamp = self._stamp()  # another thread may have re-read it meanwhile
                    if stamp is not None and stamp != self._seen:
                        self._reload_locked()
        current, keks, _ = self._state
        return keks[current]

    def _kek(self, kek_id: str) -> _Kek:
        kek = self._state[1].get(kek_id)
        if kek is not None:
            return kek
        # Another process may have rotated the shared key file since we loaded it.
        if self._reload is not None:
            with self._lock:
                kek = self._state[1].get(kek_id)
                if kek is None:
                    with contextlib.suppress(KeyFileError):
                        self._reload_locked()
                    kek = self._state[1].get(kek_id)
            if kek is not None:
                return kek
        raise KeyNotFound(f"KEK {kek_id!r} is not in the key set (it may have been destroyed)")

    def _refresh(self) -> None:
        """Adopt KEKs added to the provider's file since it was loaded (no-op without a file).

        For maintenance that must use the newest KEK even when another process
        rotated (the re-wrap); raises :class:`KeyFileError` if the file no longer
        holds this key set.
        """
        if self._reload is not None:
            with self._lock:
                self._reload_locked()

    def _reload_locked(self) -> None:
        """Re-read the provider's file and adopt it (the caller holds ``_lock``)."""
        if self._reload is None:
            return
        # Stamp first: if the file changes while we read it, the next check differs
        # from ``_seen`` and reads it again; never the other way round.
        stamp = self._stamp() if self._stamp is not None else None
        self._follow_locked(self._reload())
        self._seen = stamp

    def _follow_locked(self, material: _Material) -> None:
        """Take a re-read file's new KEKs and its current KEK; keep every KEK already loaded.

        The file must still be this key set: the same blind-index root and audit
        seed, and the same bytes under every KEK id both hold (else
        :class:`KeyFileError`). A KEK removed from the file (retired by an
        operator) stays loaded for unwrapping until the process restarts, but it
        can no longer be current unless the file says so.
        """
        old = self._state[2]
        if not self._same_key_set(material, removed_ok=True):
            raise KeyFileError(
                "key-set file no longer holds this key set (keys were replaced); "
                "refusing to switch keys under a running process"
            )
        known = {kek_id for kek_id, _ in old.keks}
        keks = (*old.keks, *((k, v) for k, v in material.keks if k not in known))
        self._state = _state_of(_Material(keks, material.current, old.blind_root, old.audit_seed))

    def _material(self) -> _Material:
        return self._state[2]

    def _adopt(self, material: _Material) -> None:
        with self._lock:
            self._adopt_locked(material)

    def _adopt_locked(self, material: _Material) -> None:
        self._check_successor(material)
        self._state = _state_of(material)

    def _same_key_set(self, material: _Material, *, removed_ok: bool) -> bool:
        """Whether ``material`` is this key set: the same blind-index root and audit seed,
        and the same bytes under every KEK id both hold; a KEK it lacks is allowed only
        with ``removed_ok``."""
        old = self._state[2]
        same = hmac.compare_digest(old.blind_root, material.blind_root) and hmac.compare_digest(
            old.audit_seed, material.audit_seed
        )
        new_keks = dict(material.keks)
        for kek_id, key in old.keks:
            other = new_keks.get(kek_id)
            if other is None:
                same = same and removed_ok
            else:
                same = same and hmac.compare_digest(key, other)
        return same

    def _check_successor(self, material: _Material) -> None:
        """Refuse a file that is not this key set with zero or more KEKs added."""
        if not self._same_key_set(material, removed_ok=False):
            raise KeyFileError(
                "key-set file no longer holds this key set (keys were replaced or removed); "
                "refusing to switch keys under a running process"
            )

    def __repr__(self) -> str:
        current, keks, _ = self._state
        return (
            f"KeySet(fingerprint={self._fingerprint!r}, kek_ids={tuple(keks)!r}, "
            f"current_kek_id={current!r})"
        )


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid UTF-8 (no lone surrogates)") from None


def _state_of(material: _Material) -> tuple[str, dict[str, _Kek], _Material]:
    return material.current, {k: _Kek(k, v) for k, v in material.keks}, material


# --- providers ---------------------------------------------------------------------


@runtime_checkable
class KeyProvider(Protocol):
    """Anything that yields a :class:`KeySet` (loaded once, then cached)."""

    def key_set(self) -> KeySet:
        """The provider's key set."""
        ...


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """Argon2id cost parameters (RFC 9106): iterations, memory in KiB, lanes."""

    time_cost: int
    memory_cost: int
    parallelism: int

    _MAX_MEMORY_KIB: ClassVar[int] = 4 * 1024 * 1024  # 4 GiB
    _MAX_TIME: ClassVar[int] = 1000

    def __post_init__(self) -> None:
        for name in ("time_cost", "memory_cost", "parallelism"):
            value = getattr(self, name)
            if type(value) is not int:
                raise TypeError(f"Argon2Params.{name} must be an int")
        if not 1 <= self.parallelism <= 255:
            raise ValueError("Argon2 parallelism must be 1 to 255 lanes")
        if not 1 <= self.time_cost <= self._MAX_TIME:
            raise ValueError("Argon2 time_cost must be 1 to 1000 passes")
        if not 8 * self.parallelism <= self.memory_cost <= self._MAX_MEMORY_KIB:
            raise ValueError("Argon2 memory_cost must be 8 KiB per lane to 4 GiB (in KiB)")

    @classmethod
    def rfc9106_low_memory(cls) -> Argon2Params:
        """RFC 9106's second recommended option: t=3, p=4, m=64 MiB (the default)."""
        return cls(time_cost=3, memory_cost=64 * 1024, parallelism=4)

    @classmethod
    def rfc9106_high_memory(cls) -> Argon2Params:
        """RFC 9106's first recommended option: t=1, p=4, m=2 GiB."""
        return cls(time_cost=1, memory_cost=2 * 1024 * 1024, parallelism=4)


#: Cheap Argon2id parameters for tests only. INSECURE: never protect real keys with them.
ARGON2_TEST_PARAMS = Argon2Params(time_cost=1, memory_cost=8, parallelism=1)
_DEFAULT_PARAMS = Argon2Params.rfc9106_low_memory()


class _FileBackedProvider(NoPickle):
    """Shared file handling: atomic 0600 writes, permission checks, locked rotation."""

    __slots__ = ("_key_set", "_path")

    _path: Path
    _key_set: KeySet

    def key_set(self) -> KeySet:
        """The key set loaded from the file (the same object on every call)."""
        return self._key_set

    @property
    def path(self) -> Path:
        """The key-set file, as given (a symlink is followed at every read)."""
        return self._path

    def _file_stamp(self) -> _Stamp | None:
        return _file_stamp(self._path)

    def rotate(self) -> str:
        """Add KEK ``kek-(N+1)``, make it current, keep older KEKs for unwrapping; return its id.

        The file is re-read under an exclusive lock (POSIX ``flock``) so that two
        processes rotating at once both keep every KEK; the new file replaces the
        old one atomically (the file a symlink points to, never the symlink).
        Other processes using the file wrap under the new KEK from their next write.
        """
        # The file the path points to now: a symlink stays a symlink, its target is
        # replaced. (Reads follow the link each time, so a link re-pointed by the
        # deployment, as Kubernetes does for secrets, is followed too.)
        real = _real_path(self._path)
        with _locked_file(real) as fd:
            material = self._decode(_read_fd(fd, real))
            self._key_set._check_successor(material)
            rotated, new_id = material.rotated()
            _write_file(real, self._encode(rotated), overwrite=True)
        self._key_set._adopt(rotated)
        return new_id

    def _load(self) -> _Material:
        return self._decode(_read_private_file(self._path))

    def _decode(self, data: bytes) -> _Material:
        raise NotImplementedError

    def _encode(self, material: _Material) -> bytes:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={str(self._path)!r}, key_set={self._key_set!r})"


class FileKeyProvider(_FileBackedProvider):
    """A key set in a plain JSON file readable only by its owner (mode 0600)."""

    __slots__ = ()

    def __init__(self, path: str | os.PathLike[str]) -> None:
        # Absolute (a later chdir must not lose the file) but not resolved: a symlink
        # is followed at every read.
        self._path = Path(os.path.abspath(path))
        seen = self._file_stamp()
        self._key_set = KeySet._from_material(
            self._load(), reload=self._load, stamp=self._file_stamp, seen=seen
        )

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, overwrite: bool = False) -> FileKeyProvider:
        """Write a new random key set to ``path`` (mode 0600, atomically) and open it."""
        _write_file(_real_path(path), _Material.generate().to_json(), overwrite=overwrite)
        return cls(path)

    def _decode(self, data: bytes) -> _Material:
        return _Material.from_json(data)

    def _encode(self, material: _Material) -> bytes:
        return material.to_json()


class PassphraseKeyProvider(_FileBackedProvider):
    """A key set sealed with AES-256-GCM under an Argon2id key derived from a passphrase."""

    __slots__ = ("_kdf",)

    _kdf: _SealingKey

    def __init__(
        self, path: str | os.PathLike[str], passphrase: str | bytes | SecretStr | SecretBytes
    ) -> None:
        # Absolute (a later chdir must not lose the file) but not resolved: a symlink
        # is followed at every read.
        self._path = Path(os.path.abspath(path))
        secret = _passphrase_bytes(passphrase)
        seen = self._file_stamp()
        sealed = _Sealed.parse(_read_private_file(self._path))
        self._kdf = _SealingKey.derive(secret, sealed.params, sealed.salt)
        material = _Material.from_json(self._kdf.open(sealed))
        self._key_set = KeySet._from_material(
            material, reload=self._load, stamp=self._file_stamp, seen=seen
        )

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        passphrase: str | bytes | SecretStr | SecretBytes,
        *,
        params: Argon2Params = _DEFAULT_PARAMS,
        overwrite: bool = False,
    ) -> PassphraseKeyProvider:
        """Write a new random key set sealed under ``passphrase`` (default RFC 9106 low-memory)."""
        if not isinstance(params, Argon2Params):
            raise TypeError("params must be an Argon2Params")
        secret = _passphrase_bytes(passphrase)
        kdf = _SealingKey.derive(secret, params, secret_bytes(_SALT_BYTES))
        _write_file(_real_path(path), kdf.seal(_Material.generate().to_json()), overwrite=overwrite)
        return cls(path, passphrase)

    def _decode(self, data: bytes) -> _Material:
        sealed = _Sealed.parse(data)
        if sealed.params != self._kdf.params or not hmac.compare_digest(
            sealed.salt, self._kdf.salt
        ):
            raise KeyFileError(
                "sealed key-set file was re-sealed with other Argon2 parameters or salt; "
                "reopen it with its passphrase"
            )
        return _Material.from_json(self._kdf.open(sealed))

    def _encode(self, material: _Material) -> bytes:
        return self._kdf.seal(material.to_json())


class EnvKeyProvider(NoPickle):
    """A key set given as base64 of the key-set JSON in an environment variable."""

    __slots__ = ("_key_set", "_var")

    def __init__(self, var: str = "CREDIT_VAULT_KEYS") -> None:
        self._var = var
        value = os.environ.get(var)
        if not value:
            raise KeyFileError(f"environment variable {var} is not set or empty")
        try:
            data = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyFileError(
                f"environment variable {var} is not base64 of a key-set JSON document"
            ) from None
        self._key_set = KeySet._from_material(_Material.from_json(data))

    def key_set(self) -> KeySet:
        """The key set decoded from the environment variable at construction."""
        return self._key_set

    @staticmethod
    def export_value(provider: KeyProvider | KeySet) -> str:
        """The value to put in the variable: base64 of the key-set JSON. It IS the secret keys."""
        key_set: object = provider
        if not isinstance(provider, KeySet) and isinstance(provider, KeyProvider):
            key_set = provider.key_set()
        if not isinstance(key_set, KeySet):
            raise TypeError("export_value needs a KeyProvider or a KeySet")
        return base64.b64encode(key_set._material().to_json()).decode("ascii")

    def __repr__(self) -> str:
        return f"EnvKeyProvider(var={self._var!r}, key_set={self._key_set!r})"


# --- the sealed (passphrase) format ----------------------------------------------------


def _passphrase_bytes(passphrase: object) -> bytes:
    get_secret = getattr(passphrase, "get_secret_value", None)
    if callable(get_secret):
        passphrase = get_secret()
    if isinstance(passphrase, str):
        # NFC so that the same visible passphrase typed on different systems
        # (composed or decomposed accents) derives the same key.
        raw = _utf8(unicodedata.normalize("NFC", passphrase))
    elif isinstance(passphrase, bytes | bytearray):
        raw = bytes(passphrase)
    else:
        raise TypeError("passphrase must be str, bytes, SecretStr or SecretBytes")
    if not raw:
        raise ValueError("passphrase must not be empty")
    return raw


@dataclass(frozen=True, slots=True)
class _Sealed:
    params: Argon2Params
    salt: bytes
    nonce: bytes
    ciphertext: bytes

    @classmethod
    def parse(cls, data: bytes) -> _Sealed:
        """Parse sealed key-set file bytes strictly (nothing is decrypted here)."""
        doc = _load_json(data)
        if doc.get("format") == KEY_SET_FORMAT:
            _bad("it is an unsealed key set; open it with FileKeyProvider")
        _check_header(doc, SEALED_KEY_SET_FORMAT)
        _check_keys(doc, {"format", "version", "kdf", "aead", "nonce", "ciphertext"})
        kdf = doc["kdf"]
        if not isinstance(kdf, dict):
            _bad('"kdf" must be an object')
        _check_keys(kdf, {"alg", "v", "t", "m", "p", "salt"})
        if kdf["alg"] != "argon2id" or kdf["v"] != prim.ARGON2_VERSION:
            _bad('"kdf" must be argon2id version 19 (0x13)')
        if doc["aead"] != "AES-256-GCM":
            _bad('"aead" must be "AES-256-GCM"')
        try:
            params = Argon2Params(time_cost=kdf["t"], memory_cost=kdf["m"], parallelism=kdf["p"])
        except (TypeError, ValueError):
            _bad('"kdf" parameters are out of range')
        salt = kdf["salt"]
        if not isinstance(salt, str):
            _bad('"kdf.salt" must be a base64 string')
        try:
            salt_raw = base64.b64decode(salt, validate=True)
        except (binascii.Error, ValueError):
            _bad('"kdf.salt" is not valid base64')
        if not 8 <= len(salt_raw) <= 64:
            _bad('"kdf.salt" must be 8 to 64 bytes')
        nonce = _unb64(doc["nonce"], prim.AEAD_NONCE_BYTES, '"nonce"')
        ct = doc["ciphertext"]
        if not isinstance(ct, str):
            _bad('"ciphertext" must be a base64 string')
        try:
            ct_raw = base64.b64decode(ct, validate=True)
        except (binascii.Error, ValueError):
            _bad('"ciphertext" is not valid base64')
        return cls(params, salt_raw, nonce, ct_raw)


class _SealingKey(NoPickle):
    """The Argon2id-derived key of one sealed file, kept so rotation need not re-ask for it."""

    __slots__ = ("_aead", "params", "salt")

    def __init__(self, key: bytes, params: Argon2Params, salt: bytes) -> None:
        self._aead = prim.AesGcm(key)
        self.params = params
        self.salt = salt

    @classmethod
    def derive(cls, secret: bytes, params: Argon2Params, salt: bytes) -> _SealingKey:
        """Run Argon2id over the passphrase (the slow step)."""
        key = prim.argon2id(
            secret,
            salt,
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
        )
        return cls(key, params, salt)

    def _ad(self) -> bytes:
        p = self.params
        return (
            SEALED_AD_LABEL
            + prim.ARGON2_VERSION.to_bytes(4, "big")
            + p.time_cost.to_bytes(4, "big")
            + p.memory_cost.to_bytes(4, "big")
            + p.parallelism.to_bytes(4, "big")
            + len(self.salt).to_bytes(1, "big")
            + self.salt
        )

    def seal(self, plaintext: bytes) -> bytes:
        """The sealed-file bytes for ``plaintext``, under a fresh nonce."""
        nonce = nonce_bytes(prim.AEAD_NONCE_BYTES)
        doc = {
            "format": SEALED_KEY_SET_FORMAT,
            "version": KEY_SET_VERSION,
            "kdf": {
                "alg": "argon2id",
                "v": prim.ARGON2_VERSION,
                "t": self.params.time_cost,
                "m": self.params.memory_cost,
                "p": self.params.parallelism,
                "salt": _b64(self.salt),
            },
            "aead": "AES-256-GCM",
            "nonce": _b64(nonce),
            "ciphertext": _b64(self._aead.encrypt(nonce, plaintext, self._ad())),
        }
        return (json.dumps(doc, indent=2) + "\n").encode("utf-8")

    def open(self, sealed: _Sealed) -> bytes:
        """The sealed plaintext, or the opaque IntegrityError (wrong passphrase or tampering)."""
        try:
            return self._aead.decrypt(sealed.nonce, sealed.ciphertext, self._ad())
        except IntegrityError:
            raise IntegrityError(
                "sealed key-set file did not open: wrong passphrase, or the file was altered"
            ) from None

    def __repr__(self) -> str:
        return f"_SealingKey(params={self.params!r})"


# --- file I/O ---------------------------------------------------------------------------


def _real_path(path: str | os.PathLike[str]) -> Path:
    """``path`` with symlinks resolved now: the file a write must replace, not the link."""
    return Path(os.path.realpath(os.fspath(path)))


def _read_private_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise KeyFileError(f"key-set file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise KeyFileError(
            f"key-set file {str(path)!r} cannot be opened ({type(exc).__name__})"
        ) from None
    try:
        return _read_fd(fd, path)
    finally:
        os.close(fd)


def _read_fd(fd: int, path: Path) -> bytes:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"key-set file {str(path)!r} is not a regular file")
    if os.name == "posix" and st.st_mode & 0o077:
        raise KeyFileError(
            f"key-set file {str(path)!r} is readable or writable by group or others; "
            "chmod 600 it (only its owner may have access)"
        )
    if st.st_size > _MAX_FILE_BYTES:
        raise KeyFileError(f"key-set file {str(path)!r} is larger than 1 MiB")
    os.lseek(fd, 0, os.SEEK_SET)
    with open(fd, "rb", closefd=False) as stream:
        return stream.read(_MAX_FILE_BYTES + 1)


def _write_file(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Write ``data`` to ``path`` with mode 0600, atomically: a complete file or none."""
    directory = path.parent if str(path.parent) else Path()
    if not overwrite and path.exists():
        raise KeyFileError(
            f"key-set file {str(path)!r} already exists; refusing to overwrite it "
            "(pass overwrite=True to replace its keys, losing access to data they protect)"
        )
    tmp = directory / f".{path.name}.{secret_bytes(8).hex()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, 0o600)
    except OSError as exc:
        raise KeyFileError(
            f"cannot create a file in {str(directory)!r} ({type(exc).__name__})"
        ) from None
    try:
        try:
            if os.name == "posix":
                os.fchmod(fd, 0o600)  # the umask can only remove bits; make it exact
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, path)
        else:
            # link() fails if the name exists, so a racing create cannot be clobbered.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise KeyFileError(
                    f"key-set file {str(path)!r} already exists; refusing to overwrite it"
                ) from None
    except OSError as exc:
        raise KeyFileError(
            f"cannot write key-set file {str(path)!r} ({type(exc).__name__})"
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _locked_file(path: Path) -> Iterator[int]:
    """An fd of ``path`` held under an exclusive flock, re-checked to be the live file."""
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise KeyFileError(
                f"key-set file {str(path)!r} cannot be opened ({type(exc).__name__})"
            ) from None
        try:
            if _fcntl is not None:
                _fcntl.flock(fd, _fcntl.LOCK_EX)
            # A rotation in another process may have renamed a new file over the one
            # we locked; only a lock on the file currently at ``path`` counts.
            try:
                live = os.stat(path)
            except OSError as exc:
                raise KeyFileError(
                    f"key-set file {str(path)!r} disappeared during rotation ({type(exc).__name__})"
                ) from None
            mine = os.fstat(fd)
            if (live.st_dev, live.st_ino) == (mine.st_dev, mine.st_ino):
                yield fd
                return
        finally:
            os.close(fd)  # closing releases the flock
