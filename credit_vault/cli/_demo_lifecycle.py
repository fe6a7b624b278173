"""Demo steps for the disclosure lifecycle: a window ending as the clock moves, then a sweep.

The first step moves the demo's frozen clock to local midnight of the day the
featured person's next disclosure window ends (while UTC still shows the day
before) and shows the record leaving the licensing view with no sweep run. The
second runs the sweep: windows that ended are recorded, and records past their
retention are crypto-shredded, leaving tombstones. Record ids are random, so
neither the tables nor the JSON report show them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from credit_vault import Actor, DisclosedRecord

if TYPE_CHECKING:
    from credit_vault._lifecycle import RecordStatus, SweepProgress
    from credit_vault.cli._demo import DemoContext

__all__ = ["step_sweep", "step_window_ends"]

_TICKET = "XN-LIC-2026-0420"
# The record whose window the first step watched end, by run (record ids are random).
_WINDOW_TARGET: dict[int, str] = {}


def _me(ctx: DemoContext) -> Actor:
    return Actor(id="portal-user-0001", role="subject", subject=ctx.person)


def _licensing(ctx: DemoContext) -> dict[str, DisclosedRecord]:
    from credit_vault.cli._demo import LICENSING_OFFICER

    d = ctx.vault.query(
        LICENSING_OFFICER, purpose="licensing_review", subject=ctx.person, ticket=_TICKET
    )
    return {r.record_id: r for r in d.records}


def _midnight(ctx: DemoContext, day: date) -> datetime:
    """Local midnight of ``day`` in the vault's time zone, as a UTC instant."""
    local = datetime(day.year, day.month, day.day, tzinfo=ctx.vault.timezone)
    return local.astimezone(UTC)


def step_window_ends(ctx: DemoContext) -> None:
    """Move the clock past a window's end: the record leaves disclosure at once, no sweep needed."""
    from credit_vault.cli._demo import ADMIN

    v = ctx.vault
    before = _licensing(ctx)
    today = v.today()
    ending = sorted(
        (r for r in before.values() if r.disclosure_ends_on and r.disclosure_ends_on > today),
        key=lambda r: (r.disclosure_ends_on, r.category),
    )
    if not ctx.check(bool(ending), "a licensing review sees a record whose window ends later"):
        return
    target = ending[0]
    ends = target.disclosure_ends_on
    assert ends is not None  # noqa: S101 - chosen for having one
    status_before = v.record_status(ADMIN, target.record_id)
    _WINDOW_TARGET[id(ctx)] = target.record_id

    # One second before local midnight, then midnight itself.
    ctx.clock.set(_midnight(ctx, ends) - timedelta(seconds=1))
    last_day = _licensing(ctx)
    status_last = v.record_status(ADMIN, target.record_id)
    ctx.clock.set(_midnight(ctx, ends))
    after = _licensing(ctx)
    status_after = v.record_status(ADMIN, target.record_id)
    own = ctx.vault.query(_me(ctx), purpose="self_query", subject=ctx.person)
    utc_day = ctx.clock.now().astimezone(UTC).date()

    ctx.check(target.record_id in last_day, "the record is still disclosed on its last day")
    ctx.check(target.record_id not in after, "at local midnight the record leaves disclosure")
    ctx.check(utc_day < ends, "…while the UTC date is still the day before")
    ctx.check(
        status_after.state == "expired" and status_after.stored_state == "active",
        "record_status reports it expired before any sweep recorded it",
    )
    ctx.check(
        target.record_id in {r.record_id for r in own.records},
        "the subject still sees it in their own file (retained, not disclosed)",
    )
    ctx.out.line(
        f"{target.category} decided {target.decided_on}: disclosed until {ends} (exclusive), "
        f"purged on {status_before.purge_on}"
    )
    ctx.out.line(
        f"clock moved to {ctx.clock.now().astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC = "
        f"{ctx.clock.now().astimezone(v.timezone):%Y-%m-%d %H:%M:%S} {v.timezone}"
    )
    rows = [
        (
            "before the move",
            status_before.as_of,
            status_before.state,
            status_before.stored_state,
            target.record_id in before,
        ),
        (
            "23:59:59 on the last day",
            status_last.as_of,
            status_last.state,
            status_last.stored_state,
            target.record_id in last_day,
        ),
        (
            "00:00:00 on the end date",
            status_after.as_of,
            status_after.state,
            status_after.stored_state,
            target.record_id in after,
        ),
    ]
    ctx.out.table(
        ("when", "local date", "state", "recorded state", "licensing sees it"),
        rows,
        caption="windows are judged on every read from the clock; the sweep only records it",
    )
    ctx.report["lifecycle_window"] = {
        "category": target.category,
        "ends_on": ends.isoformat(),
        "clock_utc": ctx.clock.now().astimezone(UTC).isoformat(),
        "utc_date": utc_day.isoformat(),
        "local_date": v.today().isoformat(),
        "state_after": status_after.state,
        "stored_state_after": status_after.stored_state,
        "licensing_sees_after": target.record_id in after,
    }


def step_sweep(ctx: DemoContext) -> None:
    """The sweep records ended windows and purges what is past retention (crypto-shredding)."""
    from credit_vault.cli._demo import ADMIN

    v = ctx.vault
    me = _me(ctx)
    events: list[SweepProgress] = []
    first = v.sweep(ADMIN, batch_size=50, progress=events.append)
    ctx.check(first.purged > 0, "the sweep purges data-set records already past retention")
    ctx.check(first.expired > 0, "the sweep records windows that have ended")
    ctx.check(first.wal_checkpointed is True, "the WAL was checkpointed after the purge")
    _check_entries(ctx, first.entries, first.purged, first.expired)
    target_id = _WINDOW_TARGET.get(id(ctx))
    if target_id is not None:
        st = v.record_status(ADMIN, target_id)
        ctx.check(
            (st.state, st.stored_state, st.ended_reason) == ("expired", "expired", "window_ended"),
            "the sweep recorded the window that ended in the previous step",
        )

    # The featured person's record that reaches its purge date first.
    own = v.query(me, purpose="self_query", subject=ctx.person)
    statuses = [v.record_status(me, r.record_id) for r in own.records]
    dated = sorted(
        (s for s in statuses if s.purge_on is not None),
        key=lambda s: (s.purge_on, s.category, s.decided_on),
    )
    if not ctx.check(bool(dated), "the featured person has a record with a purge date"):
        return
    target = dated[0]
    purge_on = target.purge_on
    assert purge_on is not None  # noqa: S101 - filtered above
    ctx.clock.set(_midnight(ctx, purge_on))
    hidden = target.record_id not in {
        r.record_id for r in v.query(me, purpose="self_query", subject=ctx.person).records
    }
    due = v.record_status(me, target.record_id)
    second = v.sweep(ADMIN, batch_size=50, progress=events.append)
    _check_entries(ctx, second.entries, second.purged, second.expired)
    gone = v.record_status(me, target.record_id)
    third = v.sweep(ADMIN)
    ctx.check(hidden, "from its purge date the record reaches no purpose, before any sweep")
    ctx.check(due.purge_due and due.stored_state != "purged", "record_status shows it due")
    ctx.check(gone.state == "purged", "the sweep purged it")
    ctx.check(gone.ended_reason == "retention", "its tombstone gives the reason")
    ctx.check(third.purged == 0 and third.expired == 0, "a third sweep finds nothing to do")

    ctx.out.line(
        f"sweep as of {first.today}: purged {first.purged} data-set records past retention, "
        f"recorded {first.expired} ended windows, in {first.batches} batches "
        "(one transaction and one log entry each)"
    )
    ctx.out.line(
        f"then the clock moves to {purge_on} 00:00 {v.timezone}, the purge date of the "
        f"featured person's {target.category} record (conduct + 5 years, Z2/S3)"
    )
    ctx.out.table(
        ("when", "state", "recorded", "subject sees it", "reason", "purge date", "purged on"),
        [
            _row("before", target, True, v.timezone),
            _row("purge date, no sweep yet", due, not hidden, v.timezone),
            _row("after the sweep", gone, False, v.timezone),
        ],
        caption="a tombstone keeps category, dates, source and reason; data keys, ciphertexts, "
        "statements and older versions are gone",
    )
    ctx.out.line(
        f"that sweep: purged {second.purged}, recorded {second.expired} ended windows; "
        f"the next: {third.purged} purged, {third.expired} recorded"
    )
    ctx.report["lifecycle_sweep"] = {
        "first": {
            "today": first.today.isoformat(),
            "purged": first.purged,
            "expired": first.expired,
        },
        "featured": {
            "category": target.category,
            "purge_on": purge_on.isoformat(),
            "hidden_before_sweep": hidden,
            "state_after": gone.state,
            "ended_reason": gone.ended_reason,
        },
        "second": {
            "today": second.today.isoformat(),
            "purged": second.purged,
            "expired": second.expired,
        },
        "third": {"purged": third.purged, "expired": third.expired},
        "progress_events": len(events),
    }


def _row(when: str, st: RecordStatus, seen: bool, tz: tzinfo) -> tuple[object, ...]:
    purged_on = st.purged_at.astimezone(tz).date() if st.purged_at else None
    return (when, st.state, st.stored_state, seen, st.ended_reason, st.purge_on, purged_on)


def _check_entries(ctx: DemoContext, seqs: tuple[int, ...], purged: int, expired: int) -> None:
    """Each transition of a sweep is named in exactly one of its log entries."""
    wanted = set(seqs)
    entries = [e for e in ctx.vault.audit.entries(start=min(seqs, default=0)) if e["seq"] in wanted]
    by_op = {"purge": 0, "expire": 0}
    named: set[str] = set()
    for e in entries:
        by_op[e["op"]] += len(e["records"])
        named.update(e["records"])
    ctx.check(
        by_op == {"purge": purged, "expire": expired} and len(named) == purged + expired,
        "each transition is in exactly one access-log entry",
    )
