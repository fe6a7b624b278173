"""The vault's ids: a short lower-case prefix, ``_``, and 24 hex digits (96 random bits).

Records (``r``), subjects (``s``), objections (``ob``), repairs (``rp``), cases
(``cs``) and record changes (``ch``) share the shape, so a caller's text that does
not have it is never one of them.
"""

from __future__ import annotations

import os
import re

__all__ = ["is_id", "new_id", "new_ids"]

_ID = re.compile(r"[a-z]{1,3}_[0-9a-f]{24}")


def new_ids(prefix: str, n: int) -> list[str]:
    """``n`` random ids with ``prefix`` from one read of the OS random source."""
    raw = os.urandom(12 * n)
    return [f"{prefix}_{raw[i : i + 12].hex()}" for i in range(0, 12 * n, 12)]


def new_id(prefix: str) -> str:
    """One random id with ``prefix``."""
    return new_ids(prefix, 1)[0]


def is_id(value: object) -> bool:
    """Whether ``value`` has the shape of an id the vault makes."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None
