"""Quick start: a department pushes records, a licensing officer reads them, the log verifies.

Run:  python examples/quickstart.py [DIRECTORY]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from credit_vault import Actor, RecordIn, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import CreditVaultError


def main(work: Path) -> None:
    keys_path = work / "vault.keys"
    keys = FileKeyProvider(keys_path) if keys_path.exists() else FileKeyProvider.create(keys_path)
    with Vault.open(f"sqlite:///{work / 'vault.db'}", keys=keys) as vault:
        vault.register_source("tax-bureau", name="市税务局", categories=["tax.major_violation"])
        clerk = Actor(id="clerk-7", role="source_clerk", organisation="tax-bureau")
        person = SubjectRef.person("11010519491231002X", name="张三")
        today = vault.today()
        record_id = vault.ingest(
            clerk,
            RecordIn(
                subject=person,
                category="tax.major_violation",
                legal_basis="税收征收管理法",
                decided_on=today,
                occurred_on=today,
                facts={
                    "decision_no": "咸税罚〔2025〕1号",
                    "authority": "市税务局",
                    "summary": "逃避缴纳税款",
                    "amount": "120000.00",
                    "detail": "处理人员可见的细节",
                },
            ),
        )
        print(f"ingested {record_id} for {person!r}")

        officer = Actor(id="off-1", role="licensing_officer", organisation="market-bureau")
        disclosure = vault.query(
            officer, purpose="licensing_review", subject=person, ticket="XK-2025-001"
        )
        for r in disclosure.records:
            print(f"{r.category}: fields {sorted(r.facts)}; withheld {list(r.withheld_fields)}")
        print(f"this read is access-log entry #{disclosure.access_seq}")

        try:
            vault.query(officer, purpose="licensing_review", subject=person)
        except CreditVaultError as exc:
            print(f"refused and logged: {exc}")

        report = vault.audit.verify()
        print(f"access log: {report.entries} entries, verified={report.ok}")
        if not report.ok:
            raise SystemExit(1)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="cv-quick-")))
