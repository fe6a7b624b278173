"""credit_vault: personal credit information, encrypted, disclosed by purpose, logged verifiably.

Start with :meth:`Vault.open`::

    from credit_vault import Vault, Actor, SubjectRef, RecordIn
    from credit_vault.crypto import FileKeyProvider

    keys = FileKeyProvider.create("vault.keys")
    with Vault.open("sqlite:///vault.db", keys=keys) as vault:
        ...
"""

from __future__ import annotations

from credit_vault._audit_service import VaultAudit, VerifyReport
from credit_vault._lifecycle import ErasureReport, RecordStatus, SweepProgress, SweepReport
from credit_vault.clock import Clock, SystemClock
from credit_vault.domain.catalog import Catalog, Category, FieldSpec
from credit_vault.domain.models import Actor, DisclosedRecord, Disclosure, RecordIn, SubjectRef
from credit_vault.domain.periods import Period
from credit_vault.domain.policy import AccessDecision, Grant, Policy, Purpose
from credit_vault.domain.workdays import WorkdayCalendar
from credit_vault.domain.workflows import (
    Case,
    Event,
    Objection,
    OverdueItem,
    OverdueReport,
    RecordChange,
    RepairApplication,
    RepairEligibility,
    WorkflowSettings,
)
from credit_vault.errors import CreditVaultError
from credit_vault.identifiers import CitizenId, CreditCode
from credit_vault.vault import Vault

__version__ = "0.1.0"

__all__ = [
    "AccessDecision",
    "Actor",
    "Case",
    "Catalog",
    "Category",
    "CitizenId",
    "Clock",
    "CreditCode",
    "CreditVaultError",
    "DisclosedRecord",
    "Disclosure",
    "ErasureReport",
    "Event",
    "FieldSpec",
    "Grant",
    "Objection",
    "OverdueItem",
    "OverdueReport",
    "Period",
    "Policy",
    "Purpose",
    "RecordChange",
    "RecordIn",
    "RecordStatus",
    "RepairApplication",
    "RepairEligibility",
    "SubjectRef",
    "SweepProgress",
    "SweepReport",
    "SystemClock",
    "Vault",
    "VaultAudit",
    "VerifyReport",
    "WorkdayCalendar",
    "WorkflowSettings",
    "__version__",
]
