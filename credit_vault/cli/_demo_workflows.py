"""Demo steps for the correction workflows: an objection upheld (the record corrected), one
rejected with reasons, and a credit repair approved that ends disclosure early.

The featured person objects to two of the records a licensing review showed, and
applies for repair of a third. Identifiers are never printed; workflow object ids are
random, so neither the tables nor the JSON report show them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from credit_vault import Actor, DisclosedRecord, SubjectRef

if TYPE_CHECKING:
    from credit_vault.cli._demo import DemoContext

__all__ = ["step_objection_rejected", "step_objection_upheld", "step_repair_approved"]

_TICKET = "XN-LIC-2026-0419"
# The records each run's steps work on, chosen by the first step that asks (by run).
_TARGETS: dict[int, dict[str, DisclosedRecord]] = {}


def _subject_actor(ctx: DemoContext) -> Actor:
    return Actor(id="portal-user-0001", role="subject", subject=ctx.person)


def _handler(source: str) -> Actor:
    """A handler at the record's source (objections) or listing unit (repairs)."""
    return Actor(id=f"handler@{source}", role="objection_handler", organisation=source)


def _licensing(ctx: DemoContext, subject: SubjectRef) -> dict[str, DisclosedRecord]:
    from credit_vault.cli._demo import LICENSING_OFFICER

    d = ctx.vault.query(
        LICENSING_OFFICER, purpose="licensing_review", subject=subject, ticket=_TICKET
    )
    return {r.record_id: r for r in d.records}


def _own(ctx: DemoContext) -> dict[str, DisclosedRecord]:
    d = ctx.vault.query(_subject_actor(ctx), purpose="self_query", subject=ctx.person)
    return {r.record_id: r for r in d.records}


def _targets(ctx: DemoContext) -> dict[str, DisclosedRecord]:
    """Three distinct records of the featured person a licensing review sees, chosen once.

    The repair goes to a serious record when one is eligible (the most visible effect:
    joint punishment stops seeing it); the objections go to the others in category order.
    """
    chosen = _TARGETS.setdefault(id(ctx), {})
    if chosen:
        return chosen
    shown = sorted(_licensing(ctx, ctx.person).values(), key=lambda r: (r.category, r.decided_on))
    me = _subject_actor(ctx)
    eligible = [r for r in shown if ctx.vault.repairs.eligibility(me, r.record_id).eligible]
    serious = [r for r in eligible if ctx.vault.catalog.get(r.category).severity == "serious"]
    pool = serious or eligible
    repair = pool[0] if pool else None
    rest = [r for r in shown if r is not repair]
    if repair is not None:
        chosen["repair"] = repair
    if rest:
        chosen["upheld"] = rest[0]
    if len(rest) > 1:
        chosen["rejected"] = rest[1]
    return chosen


def _plain(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: format(v, "f") if isinstance(v, Decimal) else v for k, v in facts.items()}


def step_objection_upheld(ctx: DemoContext) -> None:
    """The subject objects; the record is disputed at once; the source upholds and corrects it."""
    target = _targets(ctx).get("upheld")
    if target is None:
        ctx.check(False, "the featured person has a record to object to")
        return
    v = ctx.vault
    me = _subject_actor(ctx)
    obj = v.objections.file(
        me,
        target.record_id,
        reason="罚款金额与处罚决定书不符",
        statement="我对该记录的罚款金额有异议，已提交决定书复印件。",
    )
    during = _licensing(ctx, ctx.person)[target.record_id]
    ctx.check(during.disputed, "the record is marked disputed as soon as the objection is filed")
    ctx.check(during.statement is not None, "the subject's statement travels with the record")
    facts = _plain(dict(_own(ctx)[target.record_id].facts))
    facts["amount"] = "200.00"
    handler = _handler(target.source)
    v.objections.decide(
        handler,
        obj.id,
        outcome="upheld",
        corrected_facts=facts,
        reason="经核查，决定书载明罚款 200 元，原记录录入有误",
        reason_code="data_entry_error",
    )
    after = _licensing(ctx, ctx.person)[target.record_id]
    ctx.check(after.version == target.version + 1, "the correction is a new record version")
    ctx.check(not after.disputed, "an upheld and corrected record is no longer disputed")
    ctx.check(str(after.facts.get("amount")) == "200.00", "readers see the corrected amount")
    ctx.out.line(
        f"filed by the subject on {obj.filed_on}, assigned to {obj.assigned_to}, "
        f"due {obj.deadline} ({obj.deadline_rule}, S4); decided by {handler.id}"
    )
    ctx.out.table(
        ("licensing view", "category", "version", "disputed", "amount", "statement shown"),
        [
            (
                "while open",
                target.category,
                during.version,
                during.disputed,
                during.facts.get("amount"),
                during.statement is not None,
            ),
            (
                "after upheld",
                target.category,
                after.version,
                after.disputed,
                after.facts.get("amount"),
                after.statement is not None,
            ),
        ],
        caption="version 1 stays encrypted in the version history and is never disclosed again",
    )
    ctx.report.setdefault("workflows", {})["objection_upheld"] = {
        "category": target.category,
        "filed_on": obj.filed_on.isoformat(),
        "deadline": obj.deadline.isoformat(),
        "version_before": during.version,
        "version_after": after.version,
        "disputed_while_open": during.disputed,
        "disputed_after": after.disputed,
    }


def step_objection_rejected(ctx: DemoContext) -> None:
    """Another objection is rejected; the reasons are recorded and the subject reads them."""
    target = _targets(ctx).get("rejected")
    if target is None:
        ctx.check(False, "the featured person has a second record to object to")
        return
    v = ctx.vault
    me = _subject_actor(ctx)
    obj = v.objections.file(me, target.record_id, reason="该处罚不应记入我的信用记录")
    handler = _handler(target.source)
    reasons = "经核查，处罚决定已生效且未被撤销，记录内容与决定书一致"
    done = v.objections.decide(
        handler, obj.id, outcome="rejected", reason=reasons, reason_code="verified_correct"
    )
    seen = v.objections.get(me, obj.id)
    after = _licensing(ctx, ctx.person)[target.record_id]
    ctx.check(done.state == "rejected", "the objection is rejected")
    ctx.check(seen.decision_reason == reasons, "the subject reads the reasons for the refusal")
    ctx.check(not after.disputed, "a rejected objection leaves no mark")
    entry = next(
        e
        for e in reversed(v.audit.entries())
        if e.get("x_object") == obj.id
        and e["op"] == "objection"
        and e["outcome"] == "ok"
        and e.get("x_to") == "rejected"
    )
    ctx.check("经核查" not in str(entry), "the access log holds the reason code, not the text")
    ctx.out.line(
        f"{target.category} at {target.source}: {done.state} on {done.decided_on} "
        f"(due {obj.deadline}); logged as seq {entry['seq']} with reason '{entry['reason']}'"
    )
    ctx.out.line(f"reasons the subject reads: {seen.decision_reason}")
    ctx.report.setdefault("workflows", {})["objection_rejected"] = {
        "category": target.category,
        "state": done.state,
        "deadline": obj.deadline.isoformat(),
        "log_reason": entry["reason"],
    }


def step_repair_approved(ctx: DemoContext) -> None:
    """Credit repair: eligible after the minimum period; approval ends disclosure at once."""
    from credit_vault.cli._demo import ADMIN, ENFORCEMENT_OFFICER, PUNISHMENT_TICKET

    target = _targets(ctx).get("repair")
    if target is None:
        ctx.check(False, "the featured person has a record eligible for repair")
        return
    v = ctx.vault
    me = _subject_actor(ctx)
    cat = v.catalog.get(target.category)
    elig = v.repairs.eligibility(me, target.record_id)
    app = v.repairs.apply(me, target.record_id, evidence="已履行全部义务，附履行证明与整改报告")
    handler = _handler(target.source)
    done = v.repairs.decide(handler, app.id, approve=True, reason="已履行义务，符合修复条件")
    after_lic = _licensing(ctx, ctx.person)
    ctx.check(done.state == "approved", "the repair is approved")
    ctx.check(target.record_id not in after_lic, "the licensing review no longer sees the record")
    if cat.severity == "serious":
        jp = v.query(
            ENFORCEMENT_OFFICER,
            purpose="joint_punishment",
            subject=ctx.person,
            ticket=PUNISHMENT_TICKET,
        )
        ctx.check(
            all(r.record_id != target.record_id for r in jp.records),
            "joint punishment no longer sees the repaired record",
        )
    mine = _own(ctx)[target.record_id]
    ctx.check(mine.state == "repaired", "the subject's own view shows the record as repaired")
    # The record's own lifecycle says so: repaired, ended by the repair, and on a day
    # before its window would have closed.
    status = v.record_status(ADMIN, target.record_id)
    ended_early = (
        status.stored_state == "repaired"
        and status.ended_reason == "repaired"
        and status.state_changed_at is not None
        and target.disclosure_ends_on is not None
        and status.state_changed_at.astimezone(v.timezone).date() < target.disclosure_ends_on
    )
    ctx.check(ended_early, "disclosure ended before its window would have closed")
    ctx.out.line(
        f"{target.category} ({cat.severity}) at {target.source}: repairable from "
        f"{elig.repair_from}; disclosure would have run to {target.disclosure_ends_on}; "
        f"ended on {v.today()} by {handler.id}"
    )
    events = v.events.poll(limit=10_000)
    ctx.out.table(
        ("seq", "event", "state", "organisation", "deadline"),
        [(e.seq, e.type, e.state, e.organisation, e.deadline or "-") for e in events],
        caption="the events outbox: ids and states only, never a personal value",
    )
    ctx.report.setdefault("workflows", {})["repair"] = {
        "category": target.category,
        "repair_from": elig.repair_from.isoformat() if elig.repair_from else None,
        "disclosure_would_end": target.disclosure_ends_on.isoformat()
        if target.disclosure_ends_on
        else None,
        "state": done.state,
        "record_state": mine.state,
    }
    ctx.report["workflows"]["events"] = [e.type for e in events]
    _TARGETS.pop(id(ctx), None)
