"""A deployment's own catalogue and policy: narrow what licensing officers see.

A city's market regulator only needs food and drug penalties for food licences,
and only at the public tier. The deployment ships its own policy file; the vault
denies everything it does not grant.

Run:  python examples/deployment_policy.py
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from credit_vault import Actor, Catalog, Policy, RecordIn, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider

POLICY = """
roles = ["source_clerk", "licensing_officer", "admin"]

[purposes.licensing_review]
description = "food business licence review"
scope = "disclosable"

[[grants]]
role = "licensing_officer"
purpose = "licensing_review"
categories = ["penalty.food_drug"]
max_tier = "public"
ticket = true
"""


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="cv-policy-"))
    (work / "policy.toml").write_text(POLICY, encoding="utf-8")
    policy = Policy.from_file(work / "policy.toml")
    keys = FileKeyProvider.create(work / "vault.keys")
    with Vault.open(
        f"sqlite:///{work / 'vault.db'}", keys=keys, catalog=Catalog.default(), policy=policy
    ) as vault:
        vault.register_source(
            "samr", name="市场监管局", categories=["penalty.food_drug", "penalty.market"]
        )
        clerk = Actor(id="c1", role="source_clerk", organisation="samr")
        shop = SubjectRef.organisation("91420684MA4927PJ7B", name="某某餐饮店")
        day = vault.today()
        for category, basis in (
            ("penalty.food_drug", "食品安全法"),
            ("penalty.market", "电子商务法"),
        ):
            vault.ingest(
                clerk,
                RecordIn(
                    subject=shop,
                    category=category,
                    legal_basis=basis,
                    decided_on=day,
                    occurred_on=date(day.year - 1, 1, 1),
                    facts={
                        "decision_no": f"{category}-1",
                        "authority": "市场监管局",
                        "summary": "概要",
                        "amount": "5000",
                    },
                ),
            )
        officer = Actor(id="o1", role="licensing_officer", organisation="samr-licensing")
        d = vault.query(officer, purpose="licensing_review", subject=shop, ticket="SP-2025-7")
        for r in d.records:
            print(r.category, sorted(r.facts), "withheld:", list(r.withheld_fields))
        if [r.category for r in d.records] != ["penalty.food_drug"] or "amount" in d.records[
            0
        ].facts:
            raise SystemExit("the deployment policy was not applied")


if __name__ == "__main__":
    main()
