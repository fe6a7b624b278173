"""Time, injectable: the vault asks a :class:`Clock` for ``now()``, never the OS directly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "utc_now"]


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now()`` returning a timezone-aware :class:`~datetime.datetime`."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    """The operating system's clock, in UTC."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


def utc_now(clock: Clock) -> datetime:
    """``clock.now()`` converted to UTC; refuses naive datetimes."""
    from credit_vault.errors import ConfigurationError

    now = clock.now()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ConfigurationError("clock.now() must return a timezone-aware datetime")
    return now.astimezone(UTC)
