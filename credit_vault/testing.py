"""Helpers for users' own tests: a frozen clock, cheap keys, a temp-file vault.

.. warning::
   :data:`ARGON2_TEST_PARAMS` and :func:`temp_vault` are for tests only: the key
   derivation is deliberately cheap and the key file lives beside the database.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from credit_vault.crypto import ARGON2_TEST_PARAMS, FileKeyProvider

__all__ = ["ARGON2_TEST_PARAMS", "FrozenClock", "temp_vault"]


class FrozenClock:
    """A clock that stands still until moved with :meth:`set` or :meth:`advance`."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _aware(start or datetime(2025, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        """The frozen instant."""
        return self._now

    def set(self, instant: datetime) -> None:
        """Move the clock to ``instant`` (timezone-aware)."""
        self._now = _aware(instant)

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (or back, with a negative delta)."""
        self._now = self._now + delta

    def __repr__(self) -> str:
        return f"FrozenClock({self._now.isoformat()})"


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("FrozenClock needs a timezone-aware datetime")
    return instant


@contextmanager
def temp_vault(**kwargs: Any) -> Iterator[Any]:
    """A vault on a fresh SQLite file in a temporary directory, removed afterwards."""
    from credit_vault.vault import Vault

    with tempfile.TemporaryDirectory(prefix="credit-vault-test-") as d:
        keys = FileKeyProvider.create(Path(d) / "vault.keys")
        vault = Vault.open(f"sqlite:///{Path(d) / 'vault.db'}", keys=keys, **kwargs)
        try:
            yield vault
        finally:
            vault.close()
