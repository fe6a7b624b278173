"""Cryptography: key providers, envelope encryption, field AEAD, blind index.

.. warning::
   This is the low layer. It binds every ciphertext to its record, field and key
   version and never lets a caller choose a nonce, but it still leaves key
   management, rotation sweeps and access control to you. Prefer
   :class:`credit_vault.Vault`; read ``docs/crypto.md`` before using this directly.
"""

from __future__ import annotations

from credit_vault.crypto._blind import BlindIndex
from credit_vault.crypto._envelope import DataKey, Envelope
from credit_vault.crypto._field import FieldCipher, seal_new_records
from credit_vault.crypto._keys import (
    ARGON2_TEST_PARAMS,
    Argon2Params,
    AuditSigner,
    BlindIndexKey,
    EnvKeyProvider,
    FileKeyProvider,
    KeyProvider,
    KeySet,
    PassphraseKeyProvider,
)

__all__ = [
    "ARGON2_TEST_PARAMS",
    "Argon2Params",
    "AuditSigner",
    "BlindIndex",
    "BlindIndexKey",
    "DataKey",
    "EnvKeyProvider",
    "Envelope",
    "FieldCipher",
    "FileKeyProvider",
    "KeyProvider",
    "KeySet",
    "PassphraseKeyProvider",
    "seal_new_records",
]
