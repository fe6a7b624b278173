"""OpenTelemetry spans and metrics for vault operations — never personal data.

Depends on ``opentelemetry-api`` only; pass your own ``tracer_provider`` and
``meter_provider`` to :meth:`credit_vault.Vault.open`, or the global ones are used
(no-ops until an SDK is configured).

Attributes pass an allow-list (:data:`ALLOWED_ATTRIBUTES`): operation, purpose,
role, outcome, counts, dialect and error *type*. An exception's message is never
recorded on a span (the SDK's default would), because messages could one day
carry something they should not; only its class name is set.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, Status, StatusCode

from credit_vault.errors import CreditVaultError

__all__ = ["ALLOWED_ATTRIBUTES", "Telemetry"]

ALLOWED_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "credit_vault.operation",
        "credit_vault.purpose",
        "credit_vault.role",
        "credit_vault.outcome",
        "credit_vault.records",
        "credit_vault.categories",
        "credit_vault.batch_size",
        "credit_vault.dialect",
        "credit_vault.error_code",
        "error.type",
    }
)

_SCOPE = "credit_vault"


def _version() -> str:
    from credit_vault import __version__

    return __version__


class Telemetry:
    """Spans and counters for one vault, filtered through the allow-list."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self._tracer = trace.get_tracer(_SCOPE, _version(), tracer_provider=tracer_provider)
        meter = metrics.get_meter(_SCOPE, _version(), meter_provider=meter_provider)
        self._ops = meter.create_counter(
            "credit_vault.operations", unit="{operation}", description="vault calls by outcome"
        )
        self._records = meter.create_counter(
            "credit_vault.records", unit="{record}", description="records ingested or disclosed"
        )
        self._duration = meter.create_histogram(
            "credit_vault.operation.duration", unit="s", description="time per vault call"
        )

    @staticmethod
    def clean(attrs: Mapping[str, Any]) -> dict[str, Any]:
        """Drop any attribute not on the allow-list, and non-scalar values."""
        return {
            k: v
            for k, v in attrs.items()
            if k in ALLOWED_ATTRIBUTES and isinstance(v, (str, int, bool)) and v is not None
        }

    @contextmanager
    def span(self, name: str, **attrs: Any) -> Iterator[Span]:
        """A span around one vault call; outcome and error type are set on exit."""
        import time

        base = self.clean({f"credit_vault.{k}": v for k, v in attrs.items()})
        start = time.perf_counter()
        with self._tracer.start_as_current_span(
            name, attributes=base, record_exception=False, set_status_on_exception=False
        ) as span:
            outcome = "ok"
            try:
                yield span
            except CreditVaultError as exc:
                outcome = "denied" if exc.code in _DENIAL_CODES else "error"
                span.set_attribute("error.type", type(exc).__name__)
                span.set_attribute("credit_vault.error_code", exc.code)
                span.set_status(Status(StatusCode.ERROR))
                raise
            except BaseException as exc:
                outcome = "error"
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR))
                raise
            finally:
                span.set_attribute("credit_vault.outcome", outcome)
                labels = {
                    "credit_vault.operation": attrs.get("operation", name),
                    "credit_vault.outcome": outcome,
                }
                self._ops.add(1, labels)
                self._duration.record(time.perf_counter() - start, labels)

    def count_records(self, operation: str, n: int) -> None:
        """Add ``n`` to the records counter for ``operation``."""
        if n:
            self._records.add(n, {"credit_vault.operation": operation})


_DENIAL_CODES = frozenset(
    {"permission_denied", "consent_required", "ticket_required", "unknown_purpose"}
)
