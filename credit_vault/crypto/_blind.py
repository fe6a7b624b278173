"""Blind index: a keyed, truncated HMAC-SHA256 of a normalised value, for equality lookups.

``compute(value) = HMAC-SHA256(K_purpose, utf8(value))[:length]`` where
``K_purpose = HKDF-SHA256(blind_index_root, salt=None,
info=b"credit_vault/blind-index/v1/" || utf8(purpose), L=32)``.

The caller normalises (for example, an ID number upper-cased, spaces removed)
before computing; equal normalised values give equal indexes under one key set,
and nothing can be learned from an index without the key.
"""

from __future__ import annotations

import hashlib
import hmac

from credit_vault.crypto._format import NoPickle
from credit_vault.crypto._keys import KeySet

__all__ = ["BlindIndex"]

MIN_LENGTH = 8  # below 64 bits, collisions among a city's population become likely
MAX_LENGTH = 32  # the full HMAC-SHA256 output

_digest = hmac.digest
_sha256 = hashlib.sha256


class BlindIndex(NoPickle):
    """Computes one purpose's blind index under a key set."""

    __slots__ = ("_key", "_length", "_purpose")

    def __init__(self, keys: KeySet, purpose: str, *, length: int = 16) -> None:
        if not isinstance(keys, KeySet):
            raise TypeError("BlindIndex needs a KeySet (from a KeyProvider)")
        if type(length) is not int:
            raise TypeError("length must be an int")
        if not MIN_LENGTH <= length <= MAX_LENGTH:
            raise ValueError("blind-index length must be 8 to 32 bytes")
        self._purpose = purpose
        self._length = length
        # The raw derived key is kept (not the handle) so that compute() is one C call.
        self._key = keys.blind_index_key(purpose)._key

    @property
    def purpose(self) -> str:
        """The purpose whose key this index uses."""
        return self._purpose

    @property
    def length(self) -> int:
        """Bytes of HMAC output kept."""
        return self._length

    def compute(self, normalised: str) -> bytes:
        """The blind index of an already-normalised value."""
        try:
            message = normalised.encode("utf-8")
        except UnicodeEncodeError:
            # The codec's message quotes the offending character: personal data.
            raise ValueError("value must be valid UTF-8 text (no lone surrogates)") from None
        except AttributeError:
            raise TypeError("a blind-index value is a str") from None
        return _digest(self._key, message, _sha256)[: self._length]

    def __repr__(self) -> str:
        return f"BlindIndex(purpose={self._purpose!r}, length={self._length})"
