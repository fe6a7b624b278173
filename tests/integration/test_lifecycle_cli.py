"""``credit-vault sweep`` and the demo's lifecycle steps."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from click.testing import CliRunner, Result

from credit_vault import SubjectRef, Vault
from credit_vault.cli import main
from credit_vault.crypto import FileKeyProvider
from tests.helpers import citizen_id, clerk_for, record_for, register_all_sources

TRAFFIC = "penalty.traffic"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _vault_with_due_records(tmp_path: Path) -> tuple[str, Path, list[str]]:
    """Records past retention on any clock after 2025 (conduct in 2020), and current ones."""
    keys = tmp_path / "vault.keys"
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    with Vault.open(url, keys=FileKeyProvider.create(keys)) as v:
        register_all_sources(v)
        old = v.ingest_many(
            clerk_for(TRAFFIC),
            [
                record_for(
                    v,
                    TRAFFIC,
                    SubjectRef.person(citizen_id(i)),
                    decided_on=date(2020, 3, 1),
                    occurred_on=date(2020, 1, 1),
                )
                for i in range(5)
            ],
        )
        v.ingest(
            clerk_for(TRAFFIC),
            record_for(
                v,
                TRAFFIC,
                SubjectRef.person(citizen_id(9)),
                decided_on=v.today(),
                occurred_on=v.today(),
            ),
        )
    return url, keys, old


def test_sweep_command_purges_and_reports(tmp_path: Path) -> None:
    url, keys, old = _vault_with_due_records(tmp_path)
    result = invoke("sweep", url, "--keys", str(keys), "--batch", "2", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["purged"], doc["expired"], doc["batches"]) == (5, 0, 3)
    assert len(doc["entries"]) == 3
    assert doc["wal_checkpointed"] is True
    assert "sweeping as of" in result.stderr
    assert "purged 5 record(s)" in result.stderr
    with Vault.open(url, keys=FileKeyProvider(keys)) as v:
        log = v.audit.entries()
        purged = [r for e in log if e["op"] == "purge" for r in e["records"]]
        assert sorted(purged) == sorted(old)
        last = log[-1]
        assert (last["op"], last["actor"], last["role"]) == ("sweep", "credit-vault-sweep", "admin")
    again = invoke("sweep", url, "--keys", str(keys), "--json", "--actor", "ops-7")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["purged"] == 0
    human = invoke("sweep", url, "--keys", str(keys), "--quiet")
    assert human.exit_code == 0
    assert "WAL truncated" in human.stdout


def test_sweep_command_errors(tmp_path: Path) -> None:
    url, keys, _ = _vault_with_due_records(tmp_path)
    other = tmp_path / "other.keys"
    FileKeyProvider.create(other)
    wrong = invoke("sweep", url, "--keys", str(other))
    assert wrong.exit_code == 3
    assert wrong.stderr.strip().splitlines()[-1].startswith("error [configuration_error]:")
    assert invoke("sweep", url).exit_code == 2  # --keys is required
    assert invoke("sweep", url, "--keys", str(keys), "--batch", "0").exit_code == 2


def test_demo_lifecycle_sections(tmp_path: Path) -> None:
    result = invoke("demo", "--dir", str(tmp_path / "v"), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    window = doc["lifecycle_window"]
    assert window["licensing_sees_after"] is False
    assert (window["state_after"], window["stored_state_after"]) == ("expired", "active")
    # Local midnight of the end date in Shanghai, while UTC is still the day before.
    assert window["local_date"] == window["ends_on"]
    assert window["utc_date"] < window["ends_on"]
    sweep = doc["lifecycle_sweep"]
    assert sweep["first"]["purged"] > 0
    assert sweep["first"]["expired"] > 0
    assert sweep["featured"]["hidden_before_sweep"] is True
    assert (sweep["featured"]["state_after"], sweep["featured"]["ended_reason"]) == (
        "purged",
        "retention",
    )
    assert sweep["third"] == {"purged": 0, "expired": 0}
    assert doc["audit"]["ok"] is True
    ops = {e["op"] for e in doc["log"]}
    assert {"purge", "expire", "sweep", "status"} <= ops
