"""``credit-vault audit``: verify (exit codes, first failing entry), public-key, checkpoint,
export and review, as an auditor would run them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from credit_vault import SubjectRef, Vault
from credit_vault.cli import main
from credit_vault.crypto import FileKeyProvider
from credit_vault.testing import FrozenClock
from tests.helpers import OFFICER, citizen_id, clerk_for, record_for, register_all_sources

TAX = "tax.major_violation"


def invoke(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


@pytest.fixture
def setup(tmp_path: Path, key_path: Path, clock: FrozenClock) -> tuple[str, Path]:
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    with Vault.open(url, keys=FileKeyProvider(key_path), clock=clock) as v:
        register_all_sources(v)
        for i in range(3):
            s = SubjectRef.person(citizen_id(i))
            v.ingest(clerk_for(TAX), record_for(v, TAX, s))
            v.query(OFFICER, purpose="licensing_review", subject=s, ticket="T-1")
    return url, key_path


def public_key(url: str, keys: Path) -> str:
    result = invoke("audit", "public-key", "--keys", str(keys), "--url", url)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_help_lists_the_audit_commands() -> None:
    result = invoke("audit", "--help")
    assert result.exit_code == 0
    for name in ("verify", "public-key", "review", "export", "checkpoint"):
        assert name in result.stdout


def test_public_key_from_the_key_file_matches_the_vault(setup: tuple[str, Path]) -> None:
    url, keys = setup
    key = public_key(url, keys)
    with Vault.open(url, keys=FileKeyProvider(keys)) as v:
        assert key == v.audit.verifier_key()
    # Default origin is derived from the key set, so the URL is not needed.
    plain = invoke("audit", "public-key", "--keys", str(keys))
    assert plain.stdout.strip() == key
    named = invoke("audit", "public-key", "--keys", str(keys), "--origin", "other")
    assert named.stdout.startswith("other+")
    both = invoke("audit", "public-key", "--keys", str(keys), "--origin", "x", "--url", url)
    assert both.exit_code == 2


def test_export_then_verify_exits_0_and_a_tampered_copy_exits_1(
    setup: tuple[str, Path], tmp_path: Path
) -> None:
    url, keys = setup
    key = public_key(url, keys)
    prev = tmp_path / "kept.txt"
    cp = invoke("audit", "checkpoint", url, "--keys", str(keys), "--out", str(prev))
    assert cp.exit_code == 0, cp.output
    assert prev.read_text("utf-8") == cp.stdout
    dest = tmp_path / "bundle"
    exported = invoke("audit", "export", url, "--keys", str(keys), "--dest", str(dest), "--json")
    assert exported.exit_code == 0, exported.output
    doc = json.loads(exported.stdout)
    assert doc["verifier_key"] == key
    assert doc["entries"] == doc["tree_size"]

    ok = invoke("audit", "verify", str(dest), "--key", key, "--previous", str(prev))
    assert ok.exit_code == 0, ok.output
    assert "bundle OK" in ok.stdout

    entries = dest / "entries.jsonl"
    lines = entries.read_bytes().splitlines()
    del lines[4]
    entries.write_bytes(b"".join(x + b"\n" for x in lines))
    bad = invoke("audit", "verify", str(dest), "--key", key, "--json")
    assert bad.exit_code == 1
    report = json.loads(bad.stdout)
    assert report["ok"] is False
    assert report["first_bad_seq"] == 4
    assert bad.stderr.strip().splitlines()[-1] == (
        "error [audit_verification_failed]: the export does not verify; "
        "first failing sequence number: 4"
    )
    human = invoke("audit", "verify", str(dest), "--key", key)
    assert "first failing sequence number: 4" in human.stdout


def test_verify_usage_and_key_errors(setup: tuple[str, Path], tmp_path: Path) -> None:
    url, keys = setup
    dest = tmp_path / "b.zip"
    assert invoke("audit", "export", url, "--keys", str(keys), "--dest", str(dest)).exit_code == 0
    bad_key = invoke("audit", "verify", str(dest), "--key", "nonsense")
    assert bad_key.exit_code == 2  # a malformed option, as docs/audit.md says
    assert "name+hex8+base64" in bad_key.stderr
    assert invoke("audit", "verify", str(tmp_path / "missing"), "--key", "x").exit_code == 2
    assert invoke("audit", "verify", str(dest)).exit_code == 2


def test_subject_extract_identifier_comes_from_stdin(
    setup: tuple[str, Path], tmp_path: Path
) -> None:
    url, keys = setup
    key = public_key(url, keys)
    dest = tmp_path / "subject.json"
    args = ("audit", "export", url, "--keys", str(keys), "--dest", str(dest), "--format", "subject")
    missing_kind = invoke(*args)
    assert missing_kind.exit_code == 2
    result = invoke(*args, "--subject-kind", "person", stdin=citizen_id(1) + "\n")
    assert result.exit_code == 0, result.output
    assert citizen_id(1) not in result.output
    assert citizen_id(1) not in dest.read_text("utf-8")
    verified = invoke("audit", "verify", str(dest), "--key", key, "--json")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["kind"] == "subject"


@pytest.mark.parametrize("fmt", ["csv", "ocsf", "cef"])
def test_feed_exports(setup: tuple[str, Path], tmp_path: Path, fmt: str) -> None:
    url, keys = setup
    dest = tmp_path / f"feed.{fmt}"
    result = invoke(
        "audit", "export", url, "--keys", str(keys), "--dest", str(dest), "--format", fmt
    )
    assert result.exit_code == 0, result.output
    assert dest.stat().st_size > 0


def test_review_table_and_json(setup: tuple[str, Path]) -> None:
    url, keys = setup
    # The fixture's clock was a Sunday: every read is outside working hours.
    table = invoke(
        "audit",
        "review",
        url,
        "--keys",
        str(keys),
        "--since",
        "2025-06-01",
        "--until",
        "2025-06-01",
    )
    assert table.exit_code == 0, table.output
    assert "off_hours" in table.stdout
    as_json = invoke(
        "audit",
        "review",
        url,
        "--keys",
        str(keys),
        "--since",
        "2025-06-01T00:00:00+08:00",
        "--until",
        "2025-06-02T00:00:00+08:00",
        "--json",
    )
    doc = json.loads(as_json.stdout)
    assert doc["reads"] == 3
    assert doc["counts"]["off_hours"] == 1
    assert (
        invoke(
            "audit", "review", url, "--keys", str(keys), "--since", "yesterday", "--until", "x"
        ).exit_code
        == 2
    )
    naive = invoke(
        "audit",
        "review",
        url,
        "--keys",
        str(keys),
        "--since",
        "2025-06-01T00:00:00",
        "--until",
        "2025-06-02",
    )
    assert naive.exit_code == 2


def test_the_verify_hint_of_an_export_works_and_feeds_get_none(
    setup: tuple[str, Path], tmp_path: Path
) -> None:
    url, keys = setup
    key = public_key(url, keys)
    # A subject extract saved under a name without .json: the printed command works.
    dest = tmp_path / "extract-for-zhang"
    exported = invoke(
        "audit", "export", url, "--keys", str(keys), "--dest", str(dest),
        "--format", "subject", "--subject-kind", "person", stdin=citizen_id(0) + "\n",
    )  # fmt: skip
    assert exported.exit_code == 0, exported.output
    hint = next(ln for ln in exported.stdout.splitlines() if ln.startswith("verify with: "))
    args = hint.removeprefix("verify with: credit-vault ").split(" ")
    assert args[:3] == ["audit", "verify", str(dest)]
    assert args[-1] == key
    checked = invoke(*args)
    assert checked.exit_code == 0, checked.output
    # A feed carries no proofs: no verify command is suggested for it.
    feed = invoke(
        "audit", "export", url, "--keys", str(keys), "--dest", str(tmp_path / "feed.csv"),
        "--format", "csv",
    )  # fmt: skip
    assert feed.exit_code == 0, feed.output
    assert "verify with:" not in feed.stdout
    assert "carries no proofs" in feed.stdout
