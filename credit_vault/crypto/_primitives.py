"""The only module of credit_vault that imports ``cryptography.hazmat``.

.. warning::
   These are bare primitives. They do not choose nonces, bind associated data or
   manage keys for you. Use :class:`credit_vault.Vault`, or the key providers and
   :class:`~credit_vault.crypto.FieldCipher` built on top of this module.

Every authentication failure is translated to the one opaque
:class:`credit_vault.errors.IntegrityError` here, at the boundary, so that no
caller can tell a wrong key from a flipped bit (no oracle). The one exception is
:data:`AEAD_FAILURES`, exported for the field cipher's hot path, which calls the
bound AES-GCM methods directly and translates the same tuple itself.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
from collections.abc import Callable
from typing import NoReturn

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from credit_vault.errors import IntegrityError

__all__ = [
    "AEAD_FAILURES",
    "AEAD_KEY_BYTES",
    "AEAD_NONCE_BYTES",
    "AEAD_TAG_BYTES",
    "ARGON2_VERSION",
    "ED25519_PUBLIC_BYTES",
    "ED25519_SEED_BYTES",
    "ED25519_SIGNATURE_BYTES",
    "AeadFunction",
    "AesGcm",
    "BytesLike",
    "Ed25519Signer",
    "aes_gcm_functions",
    "argon2id",
    "ed25519_public_key",
    "ed25519_sign",
    "ed25519_verify",
    "hkdf_sha256",
    "hmac_sha256",
]

AEAD_KEY_BYTES = 32
AEAD_NONCE_BYTES = 12
AEAD_TAG_BYTES = 16
ED25519_SEED_BYTES = 32
ED25519_PUBLIC_BYTES = 32
ED25519_SIGNATURE_BYTES = 64
ARGON2_VERSION = 0x13  # Argon2 v1.3, the version RFC 9106 specifies

# What AES-GCM raises for a bad tag, a wrong-size nonce or a non-bytes argument:
# all of them are "this blob does not authenticate" to a decrypting caller.
AEAD_FAILURES: tuple[type[Exception], ...] = (InvalidTag, ValueError, TypeError, OverflowError)

BytesLike = bytes | bytearray | memoryview
AeadFunction = Callable[[BytesLike, BytesLike, BytesLike], bytes]


class AesGcm:
    """AES-256-GCM with a fixed key. Associated data is mandatory."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != AEAD_KEY_BYTES:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._aead = AESGCM(key)

    def encrypt(self, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        """Return ciphertext || tag."""
        return self._aead.encrypt(nonce, plaintext, associated_data)

    def decrypt(self, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
        """Return the plaintext, or raise the opaque :class:`IntegrityError`."""
        try:
            return self._aead.decrypt(nonce, ciphertext, associated_data)
        except AEAD_FAILURES:
            raise IntegrityError from None

    def bound_methods(self) -> tuple[AeadFunction, AeadFunction]:
        """The raw ``(encrypt, decrypt)`` methods, for hot paths that translate errors themselves.

        ``decrypt`` raises one of :data:`AEAD_FAILURES`; the caller must turn it
        into :class:`IntegrityError`.
        """
        return self._aead.encrypt, self._aead.decrypt

    def __reduce__(self) -> NoReturn:
        raise TypeError("key material cannot be pickled")

    def __repr__(self) -> str:
        return "AesGcm(<key hidden>)"


class Ed25519Signer:
    """An Ed25519 private key held once, so signing does not re-parse the seed each time."""

    __slots__ = ("_private", "_public")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != ED25519_SEED_BYTES:
            raise ValueError("an Ed25519 seed is 32 bytes")
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self._public = self._private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key."""
        return self._public

    def sign(self, message: bytes) -> bytes:
        """A 64-byte Ed25519 signature (RFC 8032, pure Ed25519)."""
        return self._private.sign(message)

    def __reduce__(self) -> NoReturn:
        raise TypeError("key material cannot be pickled")

    def __repr__(self) -> str:
        return "Ed25519Signer(<key hidden>)"


def aes_gcm_functions(key: bytes) -> tuple[AeadFunction, AeadFunction]:
    """The raw ``(encrypt, decrypt)`` of a new AES-256-GCM key, without a wrapper object.

    For hot paths that build one object per data key; ``decrypt`` raises one of
    :data:`AEAD_FAILURES`, which the caller must turn into :class:`IntegrityError`.
    """
    if len(key) != AEAD_KEY_BYTES:
        raise ValueError("AES-256-GCM needs a 32-byte key")
    aead = AESGCM(key)
    return aead.encrypt, aead.decrypt


def hkdf_sha256(key: bytes, *, info: bytes, length: int = 32, salt: bytes | None = None) -> bytes:
    """HKDF-SHA256 (RFC 5869)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104), via the standard library's OpenSSL-backed hmac."""
    return _hmac.digest(key, message, hashlib.sha256)


def argon2id(
    secret: bytes,
    salt: bytes,
    *,
    time_cost: int,
    memory_cost: int,
    parallelism: int,
    length: int = 32,
    version: int = ARGON2_VERSION,
) -> bytes:
    """Argon2id (RFC 9106) raw output; ``memory_cost`` is in KiB."""
    # Imported here: only passphrase key sets need it, and the offline log
    # verifier must run with the standard library and cryptography alone.
    from argon2.low_level import Type as _Argon2Type
    from argon2.low_level import hash_secret_raw as _argon2_hash_secret_raw

    return _argon2_hash_secret_raw(
        secret,
        salt,
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        hash_len=length,
        type=_Argon2Type.ID,
        version=version,
    )


def ed25519_public_key(seed: bytes) -> bytes:
    """The raw 32-byte Ed25519 public key for a 32-byte private seed."""
    return Ed25519Signer(seed).public_key


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    """Sign ``message`` with the Ed25519 key whose private seed is ``seed``."""
    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message``."""
    if len(public_key) != ED25519_PUBLIC_BYTES or len(signature) != ED25519_SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
