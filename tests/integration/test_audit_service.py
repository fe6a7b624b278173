"""vault.audit on SQLite and PostgreSQL: exports (logged, permissioned) that the offline
verifier accepts, checkpoint cadence and publishing, heartbeats, the access review.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete

from credit_vault import Actor, Policy, SubjectRef, Vault
from credit_vault.audit import (
    DirectoryPublisher,
    MerkleTree,
    canonical_json,
    leaf_hash,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    verify_bundle,
    verify_subject_extract,
)
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import InputError, PermissionDenied
from credit_vault.storage.tables import AuditCheckpoint
from credit_vault.testing import FrozenClock
from tests.helpers import (
    AUDITOR,
    OFFICER,
    THIRD,
    citizen_id,
    clerk_for,
    record_for,
    register_all_sources,
    source_code,
)

TAX = "tax.major_violation"
ROOT = Path(__file__).resolve().parents[2]


def person(i: int) -> SubjectRef:
    return SubjectRef.person(citizen_id(i))


def fill(vault: Vault, n: int = 3, clock: FrozenClock | None = None) -> None:
    for i in range(n):
        s = person(i)
        vault.ingest(clerk_for(TAX), record_for(vault, TAX, s))
        vault.query(OFFICER, purpose="licensing_review", subject=s, ticket=f"T-{i}")
        if clock is not None:
            clock.advance(timedelta(minutes=10))


def last(vault: Vault) -> dict[str, object]:
    return vault.audit.entries(start=vault.audit.head().size - 1)[-1]


@pytest.mark.parametrize("name", ["bundle", "bundle.zip"])
def test_export_is_logged_signed_and_verifies_offline(
    vault: Vault, tmp_path: Path, name: str
) -> None:
    fill(vault)
    before = vault.audit.head().size
    result = vault.audit.export(AUDITOR, tmp_path / name)
    assert result.export_seq == before
    assert result.tree_size == before + 1 == result.end
    assert result.entries == before + 1
    logged = vault.audit.entries(start=before, end=before + 1)[0]
    assert (logged["op"], logged["outcome"], logged["purpose"]) == ("export", "ok", "audit")
    assert logged["x_format"] == "bundle"
    assert logged["actor"] == AUDITOR.id
    name, _kid, public_key = parse_verifier_key(vault.audit.verifier_key())
    cp = parse_checkpoint(open_note(result.checkpoint, (name, public_key)))
    assert (cp.size, cp.root) == (result.tree_size, result.root)
    report = verify_bundle(result.path, vault.audit.verifier_key())
    assert report.ok, report.problems
    assert report.entries == result.entries
    assert vault.audit.verify().ok


def test_export_refused_without_the_audit_purpose_is_logged(vault: Vault, tmp_path: Path) -> None:
    fill(vault, 1)
    with pytest.raises(PermissionDenied):
        vault.audit.export(OFFICER, tmp_path / "b")
    entry = last(vault)
    assert (entry["op"], entry["outcome"], entry["reason"]) == (
        "export",
        "denied",
        "role_not_granted",
    )
    assert not (tmp_path / "b").exists()
    with pytest.raises(PermissionDenied):
        vault.audit.review(THIRD, vault.today(), vault.today())
    assert (last(vault)["op"], last(vault)["outcome"]) == ("review", "denied")


def test_export_argument_errors(vault: Vault, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        vault.audit.export(AUDITOR, tmp_path / "x", format="xml")
    with pytest.raises(InputError):
        vault.audit.export(AUDITOR, tmp_path / "x", format="subject")
    with pytest.raises(InputError):
        vault.audit.export(AUDITOR, tmp_path / "x", subject=person(0))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "f").write_text("x")
    before = vault.audit.head().size
    with pytest.raises(InputError):
        vault.audit.export(AUDITOR, tmp_path / "taken")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError):
        vault.audit.export(AUDITOR, tmp_path / "empty", format="csv")
    with pytest.raises(InputError):
        vault.audit.export(AUDITOR, tmp_path / "no-such-dir" / "b")
    assert vault.audit.head().size == before  # refused before anything was logged


def test_subject_extract_for_the_subject_and_for_an_auditor(vault: Vault, tmp_path: Path) -> None:
    fill(vault, 3)
    me = Actor(id="portal-1", role="subject", subject=person(1))
    result = vault.audit.export(me, tmp_path / "mine.json", format="subject", subject=person(1))
    report = verify_subject_extract(result.path, vault.audit.verifier_key())
    assert report.ok, report.problems
    assert report.subject == vault.pseudonym(person(1))
    ops = [(e["op"], e["role"]) for e in report.items]
    # The ingest, the officer's read and the subject's own request for the extract.
    assert ops == [
        ("ingest", "source_clerk"),
        ("query", "licensing_officer"),
        ("export", "subject"),
    ]
    assert report.items[-1]["purpose"] == "self_query"
    text = result.path.read_text("utf-8")
    assert citizen_id(1) not in text
    by_auditor = vault.audit.export(
        AUDITOR, tmp_path / "audited.json", format="subject", subject=person(1)
    )
    audited = verify_subject_extract(by_auditor.path, vault.audit.verifier_key())
    # The auditor's extract is itself logged against the subject, so it lists itself.
    assert [(e["op"], e["role"]) for e in audited.items[-2:]] == [
        ("export", "subject"),
        ("export", "auditor"),
    ]
    someone_else = Actor(id="portal-2", role="subject", subject=person(2))
    with pytest.raises(PermissionDenied):
        vault.audit.export(someone_else, tmp_path / "x.json", format="subject", subject=person(1))
    assert (last(vault)["op"], last(vault)["outcome"]) == ("export", "denied")


def test_time_range_export_and_the_auditors_previous_checkpoint(
    vault: Vault, db_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    fill(vault, 2, clock)
    kept = vault.audit.checkpoint()
    clock.advance(timedelta(minutes=30))
    since = clock.now()
    fill(vault, 3, clock)
    until = clock.now()
    clock.advance(timedelta(minutes=30))
    fill(vault, 1, clock)
    key = vault.audit.verifier_key()
    ranged = vault.audit.export(AUDITOR, tmp_path / "r", since=since, until=until)
    rows = [json.loads(x) for x in (ranged.path / "entries.jsonl").read_bytes().splitlines()]
    assert rows
    assert all(since.isoformat()[:16] <= r["ts"][:16] < until.isoformat()[:16] for r in rows)
    assert [r["seq"] for r in rows] == list(range(ranged.start, ranged.end))
    assert verify_bundle(ranged.path, key).ok
    # The kept checkpoint is stored too, so the bundle's chain of checkpoints links it.
    assert verify_bundle(ranged.path, key, previous=kept).ok
    # Without the stored copy, only a bundle made with the kept checkpoint links it.
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(delete(AuditCheckpoint))
    engine.dispose()
    later = vault.audit.export(AUDITOR, tmp_path / "u", since=until)
    unlinked = verify_bundle(later.path, key, previous=kept)
    assert not unlinked.ok
    assert any("no proof linking" in p for p in unlinked.problems)
    linked = vault.audit.export(AUDITOR, tmp_path / "l", since=until, previous=kept)
    report = verify_bundle(linked.path, key, previous=kept)
    assert report.ok, report.problems
    # A whole-day range in the vault's time zone.
    day = vault.audit.export(AUDITOR, tmp_path / "d", since=vault.today(), until=vault.today())
    assert day.start == 0
    assert day.end == day.tree_size


@pytest.mark.parametrize("fmt", ["csv", "ocsf", "cef"])
def test_feeds_carry_each_entrys_leaf_hash(vault: Vault, tmp_path: Path, fmt: str) -> None:
    fill(vault, 2)
    result = vault.audit.export(AUDITOR, tmp_path / f"feed.{fmt}", format=fmt)
    stored = [canonical_json(e) for e in vault.audit.entries(end=result.end)]
    hashes = [leaf_hash(b).hex() for b in stored]
    text = result.path.read_text("utf-8")
    if fmt == "csv":
        rows = list(csv.DictReader(text.splitlines()))
        assert [r["leaf_hash"] for r in rows] == hashes
    elif fmt == "ocsf":
        assert [json.loads(x)["metadata"]["uid"] for x in text.splitlines()] == hashes
    else:
        lines = text.splitlines()
        assert len(lines) == len(hashes)
        assert all(f"cs5={h}" in line for h, line in zip(hashes, lines, strict=True))
    assert result.entries == len(hashes)
    assert citizen_id(0) not in text


# --- cadence, publishing, heartbeats ------------------------------------------------------------


class Recorder:
    """A publisher that remembers what it got."""

    def __init__(self) -> None:
        self.got: list[tuple[int, bytes, bytes]] = []

    def publish(self, size: int, root: bytes, note: bytes) -> None:
        self.got.append((size, root, note))


class Broken:
    """A publisher whose destination is gone."""

    def publish(self, size: int, root: bytes, note: bytes) -> None:
        raise OSError("disk on fire")


@pytest.fixture
def open_vault(db_url: str, keys: FileKeyProvider, clock: FrozenClock) -> Iterator[object]:
    opened: list[Vault] = []

    def make(**kw: object) -> Vault:
        v = Vault.open(db_url, keys=keys, clock=clock, **kw)  # type: ignore[arg-type]
        opened.append(v)
        return v

    yield make
    for v in opened:
        v.close()


def test_checkpoint_every_n_entries_published_out_of_the_database(
    open_vault: object, tmp_path: Path
) -> None:
    pub = DirectoryPublisher(tmp_path / "published")
    v: Vault = open_vault(checkpoint_every=5, checkpoint_publisher=pub)  # type: ignore[operator]
    register_all_sources(v)
    fill(v, 4)
    size = v.audit.head().size
    sizes = [c.size for c in v.audit.checkpoints()]
    # Each is signed at the start of the write after the 5th entry: committed state only.
    assert sizes == list(range(5, size, 5))
    files = sorted(p.name for p in (tmp_path / "published").glob("checkpoint-*.txt"))
    assert files == [pub.path_for(s).name for s in sizes]
    tree = MerkleTree([leaf_hash(canonical_json(e)) for e in v.audit.entries()])
    name, _kid, public_key = parse_verifier_key(v.audit.verifier_key())
    for s in sizes:
        cp = parse_checkpoint(open_note(pub.path_for(s).read_bytes(), (name, public_key)))
        assert cp.root == tree.root(s)
    report = v.audit.verify()
    assert report.ok
    assert report.checkpoints_checked == len(sizes)


def test_checkpoint_after_an_interval(open_vault: object, clock: FrozenClock) -> None:
    rec = Recorder()
    v: Vault = open_vault(checkpoint_every=None, checkpoint_interval=60.0, checkpoint_publisher=rec)  # type: ignore[operator]
    register_all_sources(v)
    fill(v, 2)
    assert v.audit.checkpoints() == []
    size = v.audit.head().size
    clock.advance(timedelta(seconds=61))
    fill(v, 1)
    assert [c.size for c in v.audit.checkpoints()] == [size]
    assert [g[0] for g in rec.got] == [size]
    fill(v, 1)  # within the interval: nothing new
    assert len(v.audit.checkpoints()) == 1
    v.audit.checkpoint()  # on demand, published too
    assert [g[0] for g in rec.got] == [size, v.audit.head().size]


def test_publisher_failure_during_a_write_is_counted_not_raised(
    open_vault: object, caplog: pytest.LogCaptureFixture
) -> None:
    v: Vault = open_vault(checkpoint_every=2, checkpoint_publisher=Broken())  # type: ignore[operator]
    register_all_sources(v)
    fill(v, 2)
    assert v.audit.publish_failures >= 1
    assert "OSError" in caplog.text
    assert "disk on fire" not in caplog.text
    assert v.audit.checkpoints()  # stored all the same
    with pytest.raises(OSError, match="disk on fire"):
        v.audit.checkpoint()


def test_bad_cadence_settings_are_refused(open_vault: object) -> None:
    from credit_vault.errors import ConfigurationError

    for kw in (
        {"checkpoint_every": 0},
        {"checkpoint_interval": -1.0},
        {"checkpoint_publisher": object()},
    ):
        with pytest.raises(ConfigurationError):
            open_vault(**kw)  # type: ignore[operator]


def test_heartbeat_before_the_first_entry_after_a_silence(vault: Vault, clock: FrozenClock) -> None:
    fill(vault, 1)
    quiet_since = vault.audit.head().updated_at
    size = vault.audit.head().size
    clock.advance(timedelta(minutes=59))
    fill(vault, 1)
    assert vault.audit.head().size == size + 2  # no heartbeat within the hour
    clock.advance(timedelta(hours=3))
    fill(vault, 1)
    entries = vault.audit.entries(start=size + 2)
    assert entries[0]["op"] == "heartbeat"
    assert entries[0]["actor"] == "vault"
    assert entries[0]["x_idle_since"] > quiet_since.isoformat()[:10]  # type: ignore[union-attr]
    assert [e["op"] for e in entries[1:]] == ["ingest", "query"]
    assert vault.audit.heartbeat() is None  # just written to
    clock.advance(timedelta(hours=2))
    seq = vault.audit.heartbeat()
    assert seq == vault.audit.head().size - 1
    assert vault.audit.verify().ok
    review = vault.audit.review(AUDITOR, vault.today() - timedelta(days=1), vault.today())
    assert review.counts()["silent_gap"] == 0


# --- review ---------------------------------------------------------------------------------------


def test_review_flags_from_the_log(db_url: str, keys: FileKeyProvider, clock: FrozenClock) -> None:
    # Writes happen under a policy that lets licensing reviews go without tickets;
    # the review judges them by today's policy, which expects one.
    raw = (ROOT / "credit_vault" / "data" / "policy_default.toml").read_text("utf-8")
    strict = 'max_tier = "restricted"\nticket = true'
    assert raw.count(strict) == 2
    loose = Policy.from_toml(raw.replace(strict, 'max_tier = "restricted"\nticket = false', 1))
    assert not all(g.ticket for g in loose.grants_for("licensing_officer", "licensing_review"))
    # Saturday 2025-06-07 23:00 in Shanghai.
    clock.set(clock.now() + timedelta(days=6, hours=13))
    insider = Actor(id="insider", role="licensing_officer", organisation=source_code(TAX))
    with Vault.open(db_url, keys=keys, clock=clock, policy=loose) as v:
        register_all_sources(v)
        v.ingest(clerk_for(TAX), record_for(v, TAX, person(0)))
        v.query(insider, purpose="licensing_review", subject=person(0))
        for _ in range(5):
            with pytest.raises(PermissionDenied):
                v.query(THIRD, purpose="licensing_review", subject=person(0), ticket="T")
    with Vault.open(db_url, keys=keys, clock=clock) as v:
        report = v.audit.review(AUDITOR, v.today(), v.today())
        flagged = {f.kind: f for f in report.findings}
        assert set(flagged) == {"off_hours", "denial_burst", "ticket_missing", "same_org_read"}
        assert flagged["same_org_read"].actor == "insider"
        assert flagged["ticket_missing"].actor == "insider"
        assert flagged["denial_burst"].actor == THIRD.id
        assert flagged["denial_burst"].count == 5
        assert last(v)["op"] == "review"
        assert citizen_id(0) not in json.dumps(report.to_dict())
        with pytest.raises(InputError):
            v.audit.review(AUDITOR, v.today(), v.today() - timedelta(days=2))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"until": date.max},
        {"since": date.min},
        {"previous": 123},
        {"previous": "no-such-checkpoint.txt"},
    ],
)
def test_export_arguments_out_of_range_get_typed_errors(
    vault: Vault, tmp_path: Path, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(InputError):
        vault.audit.export(AUDITOR, tmp_path / "b", **kwargs)
    with pytest.raises(InputError):
        vault.audit.export(AUDITOR, None)  # type: ignore[arg-type]
    if "previous" not in kwargs:
        bounds = {"since": date(2025, 1, 1), "until": date(2025, 2, 1), **kwargs}
        with pytest.raises(InputError):
            vault.audit.review(AUDITOR, **bounds)
