"""The ``credit-vault`` command: help, exit codes, one-line errors, ``db upgrade``, the demo.

Also checks the demo's synthetic data set: valid identifiers, every category,
the catalogue's rules, and that the committed file is what the generator makes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from credit_vault import Catalog, CitizenId, CreditCode
from credit_vault.cli import _demo, main
from credit_vault.cli._dataset import load_dataset, parse_dataset
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import InputError, InvalidIdentifier
from credit_vault.storage.engine import head_revision

ROOT = Path(__file__).resolve().parents[2]
DATASET_FILE = ROOT / "credit_vault" / "data" / "demo_dataset.json"
XIANNING = {"421202", "421221", "421222", "421223", "421224", "421281"}


def invoke(*args: str, stdin: str | None = None) -> Result:
    """Run the command as a user would (errors handled by the command, not re-raised)."""
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


@pytest.fixture(scope="module")
def raw_dataset() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATASET_FILE.read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class DemoRun:
    result: Result
    directory: Path


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    directory = tmp_path_factory.mktemp("demo") / "vault"  # does not exist yet
    return DemoRun(invoke("demo", "--dir", str(directory)), directory)


# --- the group -------------------------------------------------------------------------


def test_help_lists_commands_and_exit_codes() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    out = result.stdout
    assert "db" in out
    assert "demo" in out
    assert "Exit codes" in out
    for line in ("0  success", "1  failure", "2  usage error", "3  configuration or key error"):
        assert line in out


def test_unknown_command_is_a_usage_error() -> None:
    result = invoke("no-such-command")
    assert result.exit_code == 2


def test_version() -> None:
    from credit_vault import __version__

    result = invoke("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout


# --- db upgrade --------------------------------------------------------------------------


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    first = invoke("db", "upgrade", url)
    second = invoke("db", "upgrade", url)
    for result in (first, second):
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == f"revision {head_revision()}"
        assert f"revision {head_revision()}" in result.stderr
    assert (tmp_path / "vault.db").exists()


def test_db_upgrade_json_and_url_from_stdin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    result = invoke("db", "upgrade", "-", "--json", stdin=url + "\n")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["revision"] == head_revision()
    assert doc["dialect"] == "sqlite"
    assert doc["key_set"] is None


def test_db_upgrade_binds_and_checks_the_key_set(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    keys = FileKeyProvider.create(tmp_path / "a.keys")
    FileKeyProvider.create(tmp_path / "b.keys")
    ok = invoke("db", "upgrade", url, "--keys", str(tmp_path / "a.keys"), "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["key_set"] == keys.key_set().fingerprint
    again = invoke("db", "upgrade", url, "--keys", str(tmp_path / "a.keys"))
    assert again.exit_code == 0, again.output
    wrong = invoke("db", "upgrade", url, "--keys", str(tmp_path / "b.keys"))
    assert wrong.exit_code == 3
    assert wrong.stderr.strip().splitlines()[-1].startswith("error [configuration_error]: ")


@pytest.mark.parametrize(
    ("url", "code", "exit_code"),
    [
        ("mysql://user@localhost/credit", "configuration_error", 3),
        ("sqlite:////nonexistent-credit-vault-dir/sub/vault.db", "storage_error", 1),
    ],
)
def test_db_upgrade_errors_are_one_line_with_documented_exit_code(
    url: str, code: str, exit_code: int
) -> None:
    result = invoke("db", "upgrade", url)
    assert result.exit_code == exit_code
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error [{code}]: ")
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_db_upgrade_missing_key_file_is_a_key_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    result = invoke("db", "upgrade", url, "--keys", str(tmp_path / "missing.keys"))
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines()[-1].startswith("error [key_file_error]: ")


def test_db_upgrade_refuses_a_password_on_the_command_line() -> None:
    result = invoke("db", "upgrade", "postgresql+psycopg://user:hunter2@localhost/credit")
    assert result.exit_code == 2
    assert "password" in result.stderr
    # The secret is not echoed back either.
    assert "hunter2" not in result.output


# --- demo -----------------------------------------------------------------------------------


def test_demo_exits_0_and_prints_every_section(demo_run: DemoRun) -> None:
    result = demo_run.result
    assert result.exit_code == 0, result.output
    out = result.stdout
    for section in (
        "Sources registered",
        "Records ingested",
        "Licensing review",
        "own view",
        "Joint punishment",
        "Refused reads",
        "Access log",
        "verify: OK",
        "signed checkpoint",
        "verifier key (public): credit-vault-demo+",
        "demo OK",
    ):
        assert section in out, section
    for code in ("ticket_required", "permission_denied", "consent_required"):
        assert code in out
    assert f"demo directory: {demo_run.directory}" in result.stderr
    assert "in one transaction" in result.stderr


def test_demo_prints_masked_identifiers_and_only_the_subjects_own_name(
    demo_run: DemoRun, raw_dataset: dict[str, Any]
) -> None:
    out = demo_run.result.stdout
    for p in raw_dataset["persons"]:
        assert p["id_number"] not in out
    for o in raw_dataset["organisations"]:
        assert o["credit_code"] not in out
    featured = raw_dataset["persons"][0]
    assert out.count(featured["name"]) == 1
    assert f"name (shown to the subject only): {featured['name']}" in out
    assert "CitizenId('421202********" in out
    others = [p["name"] for p in raw_dataset["persons"][1:] if p["name"] not in featured["name"]]
    assert not [n for n in others if n in out]


def test_demo_database_holds_no_name_or_id_number(
    demo_run: DemoRun, raw_dataset: dict[str, Any]
) -> None:
    assert demo_run.result.exit_code == 0
    files = [demo_run.directory / name for name in ("vault.db", "vault.db-wal", "vault.db-shm")]
    blob = b"".join(f.read_bytes() for f in files if f.exists())
    # The search works: text the vault keeps in clear on purpose is found.
    assert "咸宁市公安局".encode() in blob
    assert "税收征收管理法".encode() in blob
    leaked = [
        i
        for i, p in enumerate(raw_dataset["persons"])
        if p["id_number"].encode("utf-8") in blob or p["name"].encode("utf-8") in blob
    ]
    assert leaked == []
    assert not [
        o
        for o in raw_dataset["organisations"]
        if o["credit_code"].encode() in blob or o["name"].encode("utf-8") in blob
    ]


def test_demo_json_report(tmp_path: Path, raw_dataset: dict[str, Any]) -> None:
    result = invoke("demo", "--dir", str(tmp_path / "v"), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["failures"] == []
    assert doc["audit"]["ok"] is True
    assert doc["audit"]["checkpoints_checked"] >= 1
    assert doc["now"] == "2026-06-01T02:00:00+00:00"
    assert {d["error"] for d in doc["denials"]} == {
        "ticket_required",
        "permission_denied",
        "consent_required",
    }
    assert all(isinstance(d["logged_seq"], int) for d in doc["denials"])
    assert doc["ingested"]["total"] == len(raw_dataset["records"])
    assert set(doc["ingested"]["by_category"]) == set(Catalog.default().codes)
    licensing = doc["views"]["licensing_review"]
    assert licensing["subject_name_shown"] is False
    assert doc["views"]["self_query"]["subject_name_shown"] is True
    assert len(doc["log"]) == doc["audit"]["entries"]
    # Scripts get names of fields, never names of people or ID numbers.
    for p in raw_dataset["persons"]:
        assert p["id_number"] not in result.stdout
        assert p["name"] not in result.stdout


def test_demo_is_reproducible_apart_from_keys_and_paths(tmp_path: Path) -> None:
    a = json.loads(invoke("demo", "--dir", str(tmp_path / "a"), "--json").stdout)
    b = json.loads(invoke("demo", "--dir", str(tmp_path / "b"), "--json").stdout)
    for doc in (a, b):
        for key in ("directory", "database", "key_file", "audit"):
            doc.pop(key)
    assert a == b


def test_demo_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    result = invoke("demo", "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert "empty" in result.stderr
    assert not (tmp_path / "vault.db").exists()


def test_demo_exits_1_when_a_check_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: _demo.DemoContext) -> None:
        ctx.check(False, "a deliberately failing check")

    steps = [*_demo.STEPS[:1], _demo.DemoStep("broken", "broken", broken)]
    monkeypatch.setattr(_demo, "STEPS", steps)
    result = invoke("demo", "--dir", str(tmp_path / "v"))
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error [demo_check_failed]: ")
    assert "demo FAILED" in result.stdout


def test_library_errors_inside_a_step_become_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def query_without_ticket(ctx: _demo.DemoContext) -> None:
        ctx.vault.query(_demo.LICENSING_OFFICER, purpose="licensing_review", subject=ctx.person)

    steps = [_demo.DemoStep("raise", "raise", query_without_ticket)]
    monkeypatch.setattr(_demo, "STEPS", steps)
    result = invoke("demo", "--dir", str(tmp_path / "v"))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error [ticket_required]: purpose 'licensing_review' needs a ticket (case or order number)"
    )
    assert "Traceback" not in result.output


# --- the data set ------------------------------------------------------------------------------


def test_dataset_size_identifiers_and_sources(raw_dataset: dict[str, Any]) -> None:
    persons = raw_dataset["persons"]
    orgs = raw_dataset["organisations"]
    assert len(persons) >= 200
    assert len(orgs) >= 10
    assert len(raw_dataset["records"]) >= 400
    assert len(raw_dataset["sources"]) >= 5
    assert len({p["id_number"] for p in persons}) == len(persons)
    for p in persons:
        cid = CitizenId.parse(p["id_number"])
        assert cid.value == p["id_number"]  # already normalised
        assert cid.region_code in XIANNING
        assert date(1950, 1, 1) <= cid.birth_date <= date(2004, 12, 31)
        assert 2 <= len(p["name"]) <= 3
    for o in orgs:
        code = CreditCode.parse(o["credit_code"])
        assert code.value == o["credit_code"]
        assert code.region_code in XIANNING


def test_dataset_covers_every_category_with_the_catalogues_rules(
    raw_dataset: dict[str, Any],
) -> None:
    catalog = Catalog.default()
    records = raw_dataset["records"]
    assert {r["category"] for r in records} == set(catalog.codes)
    registered = {c for s in raw_dataset["sources"] for c in s["categories"]}
    assert registered == set(catalog.codes)
    for r in records:
        cat = catalog.get(r["category"])
        assert r["legal_basis"] in cat.legal_bases
        occurred, decided = (
            date.fromisoformat(r["occurred_on"]),
            date.fromisoformat(r["decided_on"]),
        )
        assert date(2020, 1, 1) <= occurred <= decided < _demo.DEMO_NOW.date()
        if cat.code in ("education.misconduct", "volunteer.service", "profession.discipline"):
            assert r["subject_kind"] == "person"
        if "amount" in r["facts"]:
            assert isinstance(r["facts"]["amount"], str)
    # The loader applies the same rules (subject kinds, facts, minimum ages) and says where.
    data = load_dataset(DATASET_FILE, catalog=catalog)
    assert len(data.records) == len(records)
    for rec in data.records:
        cat = catalog.get(rec.record.category)
        born = rec.record.subject.birth_date
        if cat.min_age is not None and born is not None:
            assert (
                CitizenId.parse(rec.record.subject.identifier).age_on(rec.record.occurred_on)
                >= cat.min_age
            )


def test_dataset_links_legal_representatives_to_listed_organisations(
    raw_dataset: dict[str, Any],
) -> None:
    links = raw_dataset["links"]
    assert len(links) >= 3
    serious = {
        (r["subject_kind"], r["subject_index"])
        for r in raw_dataset["records"]
        if r["category"] == "list.serious"
    }
    for link in links:
        assert ("organisation", link["organisation_index"]) in serious
        assert ("person", link["person_index"]) in serious


def test_dataset_file_is_what_the_generator_makes() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_demo_dataset.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_dataset_loader_reports_shape_errors_with_their_place(
    raw_dataset: dict[str, Any],
) -> None:
    with pytest.raises(InputError, match="lacks the key"):
        parse_dataset({"persons": []})
    bad_id = dict(raw_dataset, persons=[{"id_number": "421202198307142350", "name": "甲乙"}])
    with pytest.raises(InvalidIdentifier, match=r"persons\[0\]") as info:
        parse_dataset(bad_id)
    assert "421202198307142350" not in str(info.value)
    bad_index = dict(raw_dataset, records=[dict(raw_dataset["records"][0], subject_index=10_000)])
    with pytest.raises(InputError, match=r"records\[0\]\.subject_index is out of range"):
        parse_dataset(bad_index)
    bad_date = dict(raw_dataset, records=[dict(raw_dataset["records"][0], decided_on="2025/01/01")])
    with pytest.raises(InputError, match=r"records\[0\]\.decided_on must be an ISO date"):
        parse_dataset(bad_date)
    minor = dict(raw_dataset["records"][0], category="court.defaulter", source="xn-court")
    with pytest.raises(InputError, match=r"records\[0\]"):
        parse_dataset(dict(raw_dataset, records=[minor]), catalog=Catalog.default())
