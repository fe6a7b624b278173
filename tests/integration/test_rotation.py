"""KEK rotation: rewrap_keys moves every stored data key under the current KEK.

The proof that a rotation is complete is the real one: drop the old KEK from the
key file, open the vault with what is left, and read everything back.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update

from credit_vault import Actor, RewrapProgress, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import InputError, IntegrityError, PermissionDenied
from credit_vault.storage.tables import Record, RecordVersion, Subject
from credit_vault.testing import FrozenClock
from tests.helpers import (
    citizen_id,
    clerk_for,
    full_facts,
    key_file_without,
    record_for,
    register_all_sources,
)

ADMIN = Actor(id="admin-1", role="admin")
TAX = "tax.major_violation"


def _person(i: int) -> SubjectRef:
    return SubjectRef.person(citizen_id(i), name=f"测试{i}")


def _fill(vault: Vault, n: int = 5) -> list[str]:
    """n records for n named subjects, one of them corrected (a superseded version)."""
    rids = vault.ingest_many(
        clerk_for(TAX), [record_for(vault, TAX, _person(i), marker=f"M{i}") for i in range(n)]
    )
    vault.records.correct(
        clerk_for(TAX),
        rids[0],
        facts=full_facts(vault.catalog.get(TAX), "NEWER"),
        reason="re-issued",
    )
    return rids


def _self_view(vault: Vault, i: int) -> tuple[str | None, dict[str, object]]:
    me = Actor(id=f"me-{i}", role="subject", subject=SubjectRef.person(citizen_id(i)))
    d = vault.query(me, purpose="self_query", subject=SubjectRef.person(citizen_id(i)))
    assert len(d.records) == 1
    return d.subject_name, dict(d.records[0].facts)


def test_rotate_rewrap_then_the_old_kek_can_go(
    vault: Vault,
    keys: FileKeyProvider,
    key_path: Path,
    db_url: str,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    _fill(vault)
    before = {i: _self_view(vault, i) for i in range(5)}
    # 5 records + 1 superseded version + 5 subjects, all under kek-1.
    assert vault.kek_usage(ADMIN) == {"kek-1": 11}

    assert keys.rotate() == "kek-2"
    report = vault.rewrap_keys(ADMIN, batch_size=2)
    assert report.kek_id == "kek-2"
    assert report.rewrapped == {"cv_records": 5, "cv_record_versions": 1, "cv_subjects": 5}
    assert report.total == 11
    assert report.remaining == {}
    assert report.batches == 3 + 1 + 3
    assert vault.kek_usage(ADMIN) == {"kek-2": 11}

    again = vault.rewrap_keys(ADMIN)
    assert again.total == 0
    assert again.entries == ()

    # The rotation is complete: a key set without kek-1 reads everything.
    trimmed = key_file_without(key_path, tmp_path / "trimmed.keys", {"kek-1"})
    assert trimmed.key_set().kek_ids == ("kek-2",)
    with Vault.open(db_url, keys=trimmed, clock=clock) as v2:
        assert {i: _self_view(v2, i) for i in range(5)} == before
        assert v2.audit.verify().ok
    # And the superseded version is still readable under the new KEK.
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            (rid, wrapped) = conn.execute(
                select(RecordVersion.record_id, RecordVersion.wrapped_key)
            ).one()
    finally:
        engine.dispose()
    from credit_vault.crypto import Envelope

    Envelope(trimmed.key_set()).unwrap(rid, 1, bytes(wrapped))


def test_without_the_rewrap_the_old_kek_is_still_needed(
    vault: Vault,
    keys: FileKeyProvider,
    key_path: Path,
    db_url: str,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    # The control for the test above: dropping kek-1 before re-wrapping loses access.
    from credit_vault.errors import KeyNotFound

    _fill(vault, 1)
    keys.rotate()
    trimmed = key_file_without(key_path, tmp_path / "trimmed.keys", {"kek-1"})
    with Vault.open(db_url, keys=trimmed, clock=clock) as v2, pytest.raises(KeyNotFound):
        _self_view(v2, 0)


def test_each_batch_is_logged_and_the_log_verifies(vault: Vault, keys: FileKeyProvider) -> None:
    rids = _fill(vault, 3)
    keys.rotate()
    seen: list[RewrapProgress] = []
    report = vault.rewrap_keys(ADMIN, batch_size=2, progress=seen.append)
    entries = {e["seq"]: e for e in vault.audit.entries()}
    batch_entries = [entries[s] for s in report.entries]
    assert all(e["op"] == "maintenance" and e["reason"] == "rewrap" for e in batch_entries)
    by_table: dict[str, int] = {}
    for e in batch_entries:
        by_table[str(e["x_table"])] = by_table.get(str(e["x_table"]), 0) + int(
            str(e["x_rewrapped"])
        )
        assert e["x_kek"] == "kek-2"
    assert by_table == report.rewrapped
    record_batches = [e for e in batch_entries if e["x_table"] == "cv_records"]
    assert sorted(r for e in record_batches for r in e["records"]) == sorted(rids)  # type: ignore[union-attr]
    assert all(e["records"] == [] for e in batch_entries if e["x_table"] == "cv_subjects")
    summary = entries[report.access_seq]
    assert (summary["x_rewrapped"], summary["x_remaining"]) == ("7", "0")
    assert [p.table for p in seen] == [
        "cv_records",
        "cv_records",
        "cv_record_versions",
        "cv_subjects",
        "cv_subjects",
    ]
    assert seen[-1] == RewrapProgress("cv_subjects", 3, 3)
    assert vault.audit.verify().ok


def test_only_the_admin_may_rewrap_or_count_and_refusals_are_logged(vault: Vault) -> None:
    clerk = clerk_for(TAX)
    for call in (lambda: vault.rewrap_keys(clerk), lambda: vault.kek_usage(clerk)):
        head = vault.audit.head().size
        with pytest.raises(PermissionDenied):
            call()
        last = vault.audit.entries()[-1]
        assert vault.audit.head().size == head + 1
        assert (last["op"], last["outcome"], last["reason"]) == (
            "maintenance",
            "denied",
            "role_not_admin",
        )


@pytest.mark.parametrize("bad", [0, -1, 10_001, True, 2.5, "10"])
def test_batch_size_is_checked(vault: Vault, bad: object) -> None:
    with pytest.raises(InputError):
        vault.rewrap_keys(ADMIN, batch_size=bad)  # type: ignore[arg-type]


def test_a_tampered_wrapped_key_stops_the_run_and_leaves_its_batch_untouched(
    vault: Vault, keys: FileKeyProvider, db_url: str
) -> None:
    rids = _fill(vault, 4)
    target = sorted(rids)[1]  # inside the first batch of two, by id order
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            other = conn.execute(
                select(Record.wrapped_key).where(Record.id == sorted(rids)[3])
            ).scalar_one()
            conn.execute(update(Record).where(Record.id == target).values(wrapped_key=other))
        keys.rotate()
        with pytest.raises(IntegrityError, match=target):
            vault.rewrap_keys(ADMIN, batch_size=2)
        with engine.connect() as conn:
            keks = dict(conn.execute(select(Record.id, Record.kek_id)).all())
    finally:
        engine.dispose()
    first_batch = sorted(rids)[:2]
    assert all(keks[r] == "kek-1" for r in first_batch)
    last = vault.audit.entries()[-1]
    assert (last["op"], last["outcome"], last["reason"], last["x_table"]) == (
        "maintenance",
        "error",
        "integrity_error",
        "cv_records",
    )
    assert vault.audit.verify().ok


def test_a_rotation_made_by_another_process_is_picked_up(vault: Vault, key_path: Path) -> None:
    _fill(vault, 2)
    FileKeyProvider(key_path).rotate()  # another process's provider over the same file
    report = vault.rewrap_keys(ADMIN)
    assert report.kek_id == "kek-2"
    assert report.remaining == {}
    assert vault.kek_usage(ADMIN) == {"kek-2": 5}


def test_erased_and_purged_keys_are_not_counted_or_touched(
    vault: Vault, keys: FileKeyProvider, db_url: str
) -> None:
    _fill(vault, 2)
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:  # what a purge leaves: no key
            conn.execute(
                update(Subject)
                .values(wrapped_key=None)
                .where(Subject.id.in_(select(Record.subject_id).limit(1).scalar_subquery()))
            )
    finally:
        engine.dispose()
    assert vault.kek_usage(ADMIN) == {"kek-1": 4}
    keys.rotate()
    assert vault.rewrap_keys(ADMIN).rewrapped["cv_subjects"] == 1


def test_two_rewrap_runs_at_once_share_the_work(
    db_url: str, key_path: Path, clock: FrozenClock
) -> None:
    with Vault.open(db_url, keys=FileKeyProvider(key_path), clock=clock) as v:
        register_all_sources(v)
        v.ingest_many(
            clerk_for(TAX), [record_for(v, TAX, _person(i), marker=f"C{i}") for i in range(60)]
        )
    FileKeyProvider(key_path).rotate()
    reports = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with Vault.open(db_url, keys=FileKeyProvider(key_path), clock=clock) as v:
                reports.append(v.rewrap_keys(ADMIN, batch_size=7))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sum(r.total for r in reports) == 120  # 60 records + 60 subjects, none twice
    with Vault.open(db_url, keys=FileKeyProvider(key_path), clock=clock) as v:
        assert v.kek_usage(ADMIN) == {"kek-2": 120}
        assert v.audit.verify().ok


def test_a_rotation_during_an_ingest_leaves_each_kek_column_true(
    vault: Vault, keys: FileKeyProvider, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rotate right after the batch is sealed (another thread's rotation landing
    # mid-call): the rows must name the KEK their blobs were wrapped under, or a
    # later re-wrap would skip them and removing the old KEK would lose them.
    import credit_vault.vault as vault_module
    from credit_vault.crypto import Envelope

    real = vault_module.seal_new_records

    def seal_then_rotate(*args: object, **kwargs: object) -> object:
        out = real(*args, **kwargs)  # type: ignore[arg-type]
        keys.rotate()
        return out

    monkeypatch.setattr(vault_module, "seal_new_records", seal_then_rotate)
    vault.ingest(clerk_for(TAX), record_for(vault, TAX, _person(1)))
    monkeypatch.undo()
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            record = conn.execute(select(Record.kek_id, Record.wrapped_key)).one()
            subject = conn.execute(select(Subject.kek_id, Subject.wrapped_key)).one()
    finally:
        engine.dispose()
    # The record batch was sealed under kek-1; the subject after the first rotation.
    assert (record.kek_id, subject.kek_id) == ("kek-1", "kek-2")
    for row in (record, subject):
        assert row.kek_id == Envelope.kek_id_of(bytes(row.wrapped_key))
    report = vault.rewrap_keys(ADMIN)
    assert report.kek_id == "kek-3"  # one rotation for the record batch, one for the subject's
    assert report.total == 2
    assert report.remaining == {}
