"""Demo step for key maintenance: rotate the KEK, re-wrap every stored data key, read back.

An operator process rotates the key file (as ``credit-vault keys rotate`` would);
the vault picks the new KEK up when it re-wraps, moves every stored data key under
it in logged batches, and the featured person's own view reads the same after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from credit_vault import Actor
from credit_vault.crypto import FileKeyProvider

if TYPE_CHECKING:
    from credit_vault.cli._demo import DemoContext

__all__ = ["step_key_rotation"]


def step_key_rotation(ctx: DemoContext) -> None:
    """Rotate the KEK, re-wrap the vault's data keys, and check that nothing changed for readers."""
    from credit_vault.cli._demo import ADMIN

    v = ctx.vault
    me = Actor(id="portal-user-0001", role="subject", subject=ctx.person)
    before = v.query(me, purpose="self_query", subject=ctx.person)
    usage_before = v.kek_usage(ADMIN)
    new_kek = FileKeyProvider(ctx.key_file).rotate()  # the operator's process
    report = v.rewrap_keys(ADMIN, batch_size=200)
    usage_after = v.kek_usage(ADMIN)
    after = v.query(me, purpose="self_query", subject=ctx.person)
    again = v.rewrap_keys(ADMIN)

    ctx.check(report.kek_id == new_kek, "the re-wrap uses the KEK the other process added")
    ctx.check(report.total == sum(usage_before.values()), "every stored data key was re-wrapped")
    ctx.check(report.remaining == {}, "no data key is left under the old KEK")
    ctx.check(usage_after == {new_kek: report.total}, "kek_usage shows only the new KEK")
    same_view = [(r.record_id, r.facts) for r in after.records] == [
        (r.record_id, r.facts) for r in before.records
    ] and after.subject_name == before.subject_name
    ctx.check(same_view, "the featured person's own view reads the same after the re-wrap")
    ctx.check(again.total == 0, "a second re-wrap finds nothing to do")

    ctx.out.line(
        f"key file rotated: {new_kek} is now current; the vault re-wrapped {report.total} data "
        f"keys in {report.batches} batches (one transaction and one log entry each); field "
        "ciphertexts were not touched"
    )
    keks = sorted({*usage_before, *usage_after})
    ctx.out.table(
        ("", *keks),
        [
            ("data keys before", *(usage_before.get(k, 0) for k in keks)),
            ("data keys after", *(usage_after.get(k, 0) for k in keks)),
        ],
    )
    retired = ", ".join(sorted(set(usage_before) - set(usage_after)))
    ctx.out.line(f"{retired} now wraps nothing: it may be removed from the key file")
    ctx.out.table(
        ("table", "re-wrapped"),
        list(report.rewrapped.items()),
    )
    ctx.report["key_rotation"] = {
        "new_kek": new_kek,
        "usage_before": usage_before,
        "usage_after": usage_after,
        "rewrapped": report.rewrapped,
        "batches": report.batches,
        "remaining": report.remaining,
        "view_unchanged": same_view,
    }
