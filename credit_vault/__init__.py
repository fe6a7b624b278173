"""credit_vault: personal credit information, encrypted, disclosed by purpose, logged verifiably.

Start with :meth:`Vault.open`::

    from credit_vault import Vault, Actor, SubjectRef, RecordIn
    from credit_vault.crypto import FileKeyProvider

    keys = FileKeyProvider.create("vault.keys")
    with Vault.open("sqlite:///vault.db", keys=keys) as vault:
        ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any as _Any

if TYPE_CHECKING:
    from credit_vault._audit_service import VaultAudit, VerifyReport
    from credit_vault._lifecycle import ErasureReport, RecordStatus, SweepProgress, SweepReport
    from credit_vault._rotation import RewrapProgress, RewrapReport
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

# Public names resolve on first use (PEP 562), so that ``import credit_vault.audit``
# or ``credit_vault.errors`` does not load SQLAlchemy and pydantic: the offline
# log verifier runs on the standard library and cryptography alone.
_LAZY: dict[str, str] = {
    "AccessDecision": "credit_vault.domain.policy",
    "Actor": "credit_vault.domain.models",
    "Case": "credit_vault.domain.workflows",
    "Catalog": "credit_vault.domain.catalog",
    "Category": "credit_vault.domain.catalog",
    "CitizenId": "credit_vault.identifiers",
    "Clock": "credit_vault.clock",
    "CreditCode": "credit_vault.identifiers",
    "CreditVaultError": "credit_vault.errors",
    "DisclosedRecord": "credit_vault.domain.models",
    "Disclosure": "credit_vault.domain.models",
    "ErasureReport": "credit_vault._lifecycle",
    "Event": "credit_vault.domain.workflows",
    "FieldSpec": "credit_vault.domain.catalog",
    "Grant": "credit_vault.domain.policy",
    "Objection": "credit_vault.domain.workflows",
    "OverdueItem": "credit_vault.domain.workflows",
    "OverdueReport": "credit_vault.domain.workflows",
    "Period": "credit_vault.domain.periods",
    "Policy": "credit_vault.domain.policy",
    "Purpose": "credit_vault.domain.policy",
    "RecordChange": "credit_vault.domain.workflows",
    "RecordIn": "credit_vault.domain.models",
    "RecordStatus": "credit_vault._lifecycle",
    "RepairApplication": "credit_vault.domain.workflows",
    "RepairEligibility": "credit_vault.domain.workflows",
    "RewrapProgress": "credit_vault._rotation",
    "RewrapReport": "credit_vault._rotation",
    "SubjectRef": "credit_vault.domain.models",
    "SweepProgress": "credit_vault._lifecycle",
    "SweepReport": "credit_vault._lifecycle",
    "SystemClock": "credit_vault.clock",
    "Vault": "credit_vault.vault",
    "VaultAudit": "credit_vault._audit_service",
    "VerifyReport": "credit_vault._audit_service",
    "WorkdayCalendar": "credit_vault.domain.workdays",
    "WorkflowSettings": "credit_vault.domain.workflows",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'credit_vault' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "RewrapProgress",
    "RewrapReport",
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
