"""Spans and metrics carry operation metadata only — never personal data or exception messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from credit_vault import Actor, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import PermissionDenied, TicketRequired
from credit_vault.telemetry import ALLOWED_ATTRIBUTES
from credit_vault.testing import FrozenClock
from tests.helpers import OFFICER, citizen_id, clerk_for, record_for, register_all_sources


def test_spans_and_metrics_hold_no_personal_data(
    tmp_path: Path, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    idn = citizen_id(77)
    with Vault.open(
        f"sqlite:///{tmp_path / 'v.db'}",
        keys=keys,
        clock=clock,
        tracer_provider=tp,
        meter_provider=mp,
    ) as v:
        register_all_sources(v)
        s = SubjectRef.person(idn, name="TELEMARKER")
        v.ingest(
            clerk_for("tax.major_violation"),
            record_for(v, "tax.major_violation", s, marker="TELEMARKER"),
        )
        v.query(OFFICER, purpose="licensing_review", subject=s, ticket="T-1")
        with pytest.raises(TicketRequired):
            v.query(OFFICER, purpose="licensing_review", subject=s)
        # A role the policy does not define is the caller's string: not recorded.
        odd = Actor(id="a-1", role=f"r{idn}", organisation="x")
        with pytest.raises(PermissionDenied):
            v.query(odd, purpose="licensing_review", subject=s, ticket="T-2")
        with pytest.raises(PermissionDenied):
            v.ingest(odd, record_for(v, "tax.major_violation", s))
    spans = exporter.get_finished_spans()
    names = [sp.name for sp in spans]
    assert names.count("credit_vault.query") == 3
    roles = {(sp.attributes or {}).get("credit_vault.role") for sp in spans}
    assert "(unknown)" in roles
    assert "credit_vault.ingest" in names
    for sp in spans:
        assert set(sp.attributes or {}) <= ALLOWED_ATTRIBUTES
        assert not sp.events, "no exception events (their messages could carry data)"
        dump = repr(sp.to_json())
        assert idn not in dump
        assert "TELEMARKER" not in dump
    denied = [sp for sp in spans if (sp.attributes or {}).get("credit_vault.outcome") == "denied"]
    assert [sp.attributes["error.type"] for sp in denied] == [
        "TicketRequired",
        "PermissionDenied",
        "PermissionDenied",
    ]
    assert all(sp.status.description is None for sp in denied)
    data = reader.get_metrics_data()
    dump = data.to_json()
    assert "credit_vault.operations" in dump
    assert idn not in dump
    assert "TELEMARKER" not in dump
    tp.shutdown()
    mp.shutdown()
