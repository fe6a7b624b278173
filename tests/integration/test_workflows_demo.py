"""The demo's workflow steps: an objection upheld and corrected, one rejected, a repair approved."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from credit_vault.cli import _demo, main


def test_demo_shows_the_three_workflows(tmp_path: Path) -> None:
    names = [s.name for s in _demo.STEPS]
    assert names.index("objection_upheld") < names.index("repair") < names.index("audit")
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path / "v"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    wf = doc["workflows"]
    assert wf["objection_upheld"]["version_after"] == wf["objection_upheld"]["version_before"] + 1
    assert wf["objection_upheld"]["disputed_while_open"] is True
    assert wf["objection_upheld"]["disputed_after"] is False
    assert wf["objection_rejected"]["state"] == "rejected"
    assert wf["objection_rejected"]["log_reason"] == "objection.rejected:verified_correct"
    assert wf["repair"]["record_state"] == "repaired"
    assert wf["repair"]["disclosure_would_end"] > doc["today"]
    assert wf["events"] == [
        "objection.filed",
        "record.statement",
        "objection.upheld",
        "record.corrected",
        "objection.filed",
        "objection.rejected",
        "repair.applied",
        "repair.approved",
        "record.repaired",
    ]
    ops = {e["op"] for e in doc["log"]}
    assert {"objection", "correct", "repair", "transition", "workflow_read"} <= ops
    assert doc["audit"]["ok"] is True


def test_demo_prints_the_workflow_sections(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path / "v")])
    assert result.exit_code == 0, result.output
    for text in (
        "Objection upheld, record corrected",
        "Objection rejected, with reasons",
        "reasons the subject reads:",
        "Credit repair approved: disclosure ends early",
        "record.repaired",
        "demo OK",
    ):
        assert text in result.stdout, text
