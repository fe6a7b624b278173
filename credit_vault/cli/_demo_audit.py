"""Demo step for the verifiable log: an auditor's export checked by the offline verifier.

The auditor keeps a signed checkpoint, the vault exports a bundle (the export is
logged and covered by a fresh checkpoint), and the offline verifier -- the
public key alone -- checks it against the kept checkpoint. A copy with one
entry removed fails, naming the entry. The featured person then receives the
extract "who saw my data", each entry with its inclusion proof, and it verifies
too. An access review closes the step.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from credit_vault import Actor
from credit_vault.audit import verify_bundle, verify_subject_extract

if TYPE_CHECKING:
    from credit_vault.cli._demo import DemoContext

__all__ = ["AUDITOR", "step_audit_export"]

AUDITOR = Actor(id="auditor-001", role="auditor", organisation="xn-audit-office")


def _drop_first_denial(lines: list[bytes]) -> int | None:
    for i, line in enumerate(lines):
        if b'"outcome":"denied"' in line:
            del lines[i]
            return i
    return None


def step_audit_export(ctx: DemoContext) -> None:
    """Export a bundle, verify it offline (and a tampered copy), and a subject's extract."""
    audit = ctx.vault.audit
    key = audit.verifier_key()
    kept = audit.checkpoint()
    kept_file = ctx.directory / "auditor-kept-checkpoint.txt"
    kept_file.write_bytes(kept)

    bundle = audit.export(AUDITOR, ctx.directory / "audit-bundle")
    report = verify_bundle(bundle.path, key, previous=kept_file)
    ctx.check(report.ok, "the exported bundle verifies offline with the public key alone")
    ctx.check(report.entries == bundle.entries, "the verifier read every exported entry")
    ctx.check(
        report.tree_size == bundle.tree_size and report.end == bundle.tree_size,
        "the bundle's newest signed checkpoint covers the export's own log entry",
    )

    tampered = ctx.directory / "audit-bundle-tampered"
    shutil.copytree(bundle.path, tampered)
    entries = tampered / "entries.jsonl"
    lines = entries.read_bytes().splitlines()
    removed = _drop_first_denial(lines)
    entries.write_bytes(b"".join(line + b"\n" for line in lines))
    bad = verify_bundle(tampered, key, previous=kept_file)
    ctx.check(not bad.ok, "a bundle with one entry removed fails verification")
    ctx.check(
        removed is not None and bad.first_bad_seq == removed,
        "the verifier names the removed entry's sequence number",
    )

    me = Actor(id="portal-user-0001", role="subject", subject=ctx.person)
    extract = audit.export(
        me, ctx.directory / "who-saw-my-data.json", format="subject", subject=ctx.person
    )
    seen = verify_subject_extract(extract.path, key)
    ctx.check(seen.ok, "the subject's extract verifies: each entry has its inclusion proof")
    ctx.check(
        any(e.get("role") == "licensing_officer" for e in seen.items),
        "the extract shows the licensing officer's read",
    )

    ctx.out.line(f"verifier key (public): {key}")
    kept_size = kept.split(b"\n")[1].decode("ascii")
    ctx.out.line(f"auditor's kept checkpoint: size {kept_size} ({kept_file.name})")
    ctx.out.table(
        ("check", "result", "entries", "signed tree", "first failing seq"),
        [
            (
                "bundle vs kept checkpoint",
                "OK" if report.ok else "FAILED",
                report.entries,
                report.tree_size,
                report.first_bad_seq,
            ),
            (
                "copy with one entry removed",
                "OK" if bad.ok else "FAILED",
                bad.entries,
                bad.tree_size,
                bad.first_bad_seq,
            ),
            (
                "subject extract",
                "OK" if seen.ok else "FAILED",
                seen.entries,
                seen.tree_size,
                seen.first_bad_seq,
            ),
        ],
        caption="offline verifier: the standard library, cryptography and the public key",
    )
    rows: list[tuple[Any, ...]] = [
        (
            e.get("seq"),
            str(e.get("ts", ""))[:19].replace("T", " ") + " UTC",
            e.get("op"),
            e.get("role"),
            e.get("org") or "-",
            e.get("purpose") or "-",
            e.get("outcome"),
        )
        for e in seen.items
    ]
    ctx.out.table(
        ("seq", "when", "op", "role", "organisation", "purpose", "outcome"),
        rows,
        title="who saw my data (the featured person's extract)",
    )
    review = audit.review(AUDITOR, ctx.vault.today(), ctx.vault.today())
    counts = review.counts()
    ctx.out.line(
        "access review today: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + f" ({review.reads} reads, {review.denials} denials)"
    )
    ctx.check(review.denials >= 1, "the access review sees the refused reads")
    # Only what is the same on every run: roots and pseudonyms depend on the keys.
    keep = ("ok", "entries", "start", "end", "tree_size", "checkpoints", "proofs", "previous_size")
    ctx.report["audit_export"] = {
        "bundle": {k: v for k, v in report.to_dict().items() if k in keep},
        "tampered": {
            "ok": bad.ok,
            "first_bad_seq": bad.first_bad_seq,
            "unproven_from": bad.unproven_from,
            "removed": removed,
        },
        "subject_extract": {"ok": seen.ok, "entries": seen.entries, "tree_size": seen.tree_size},
        "review": counts,
    }
