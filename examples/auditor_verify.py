"""An auditor's round trip: export the access log, verify it offline, check the next export.

The vault operator exports a bundle and hands over the verifier key line; the
auditor checks the bundle with nothing but that key (``verify_bundle`` needs only
the standard library and cryptography) and keeps the newest signed checkpoint, so
that a later export which drops or rewrites history is caught (docs/audit.md).

Run:  python examples/auditor_verify.py
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from credit_vault import Actor, RecordIn, SubjectRef, Vault
from credit_vault.audit import verify_bundle
from credit_vault.crypto import FileKeyProvider


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="cv-audit-"))
    keys = FileKeyProvider.create(work / "vault.keys")
    auditor = Actor(id="aud-1", role="auditor", organisation="audit-office")
    with Vault.open(f"sqlite:///{work / 'vault.db'}", keys=keys) as vault:
        vault.register_source("court", name="中级人民法院", categories=["court.defaulter"])
        clerk = Actor(id="clerk-1", role="source_clerk", organisation="court")
        officer = Actor(id="off-1", role="enforcement_officer", organisation="enforcement")
        person = SubjectRef.person("440524188001010014")
        vault.ingest(
            clerk,
            RecordIn(
                subject=person,
                category="court.defaulter",
                legal_basis="最高人民法院关于公布失信被执行人名单信息的若干规定",
                decided_on=vault.today(),
                occurred_on=date(2024, 1, 1),
                facts={"decision_no": "(2025)鄂12执1号", "authority": "中院", "summary": "未履行"},
            ),
        )
        vault.query(officer, purpose="joint_punishment", subject=person, ticket="ZX-2025-1")

        key_line = vault.audit.verifier_key()  # published out of band (website, letter)
        first = vault.audit.export(auditor, work / "export-1")
        print(f"exported entries [{first.start}, {first.end}) to {first.path.name}")

    report = verify_bundle(work / "export-1", key_line)
    print(f"offline verification: ok={report.ok}")
    if not report.ok:
        raise SystemExit(1)
    # Checkpoint files are named by tree size; the largest covers the most.
    kept = (work / "export-1" / "checkpoints").glob("*.txt")
    newest = max(kept, key=lambda p: int(p.stem))
    print(f"auditor keeps {newest.name} as the previous checkpoint for next time")

    # Next quarter: a new export must extend what the auditor already holds.
    with Vault.open(
        f"sqlite:///{work / 'vault.db'}", keys=FileKeyProvider(work / "vault.keys")
    ) as vault:
        vault.audit.export(auditor, work / "export-2")
    again = verify_bundle(work / "export-2", key_line, previous=newest)
    print(f"next export extends the kept checkpoint: ok={again.ok}")
    if not again.ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
