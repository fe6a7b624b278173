"""Spans and metrics carry operation metadata only — never personal data or exception messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from credit_vault import SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import TicketRequired
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
    spans = exporter.get_finished_spans()
    names = [sp.name for sp in spans]
    assert names.count("credit_vault.query") == 2
    assert "credit_vault.ingest" in names
    for sp in spans:
        assert set(sp.attributes or {}) <= ALLOWED_ATTRIBUTES
        assert not sp.events, "no exception events (their messages could carry data)"
        dump = repr(sp.to_json())
        assert idn not in dump
        assert "TELEMARKER" not in dump
    denied = [sp for sp in spans if (sp.attributes or {}).get("credit_vault.outcome") == "denied"]
    assert len(denied) == 1
    assert denied[0].attributes["error.type"] == "TicketRequired"
    assert denied[0].status.description is None
    data = reader.get_metrics_data()
    dump = data.to_json()
    assert "credit_vault.operations" in dump
    assert idn not in dump
    assert "TELEMARKER" not in dump
    tp.shutdown()
    mp.shutdown()
