"""Every error credit_vault raises, in one hierarchy.

Each class carries a stable ``code`` (a short ``snake_case`` string that will not
change between releases, suitable for an API response or a log query) and a
message that names the rule that was broken. Messages never contain the personal
value that broke it: not an ID number, a name, or a field's content.

Errors that describe bad input also subclass :class:`ValueError`, so code that
already catches ``ValueError`` keeps working.

::

    CreditVaultError
    ├── InputError (ValueError)
    │   ├── InvalidIdentifier
    │   ├── InvalidRecord
    │   ├── InvalidCatalog
    │   ├── InvalidPolicy
    │   ├── UnknownCategory
    │   ├── UnknownPurpose
    │   └── InvalidPeriodOverride
    ├── AccessError
    │   ├── PermissionDenied
    │   │   ├── ConsentRequired
    │   │   └── TicketRequired
    │   └── NotFound
    │       ├── RecordNotFound
    │       └── RecordPurged
    ├── WorkflowError
    │   ├── InvalidTransition
    │   └── ConflictError
    ├── IntegrityError
    ├── AuditError
    │   ├── AuditWriteFailed
    │   └── AuditVerificationFailed
    ├── KeyError_
    │   ├── KeyNotFound
    │   └── KeyFileError
    ├── ConfigurationError
    └── StorageError
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccessError",
    "AuditError",
    "AuditVerificationFailed",
    "AuditWriteFailed",
    "ConfigurationError",
    "ConflictError",
    "ConsentRequired",
    "CreditVaultError",
    "InputError",
    "IntegrityError",
    "InvalidCatalog",
    "InvalidIdentifier",
    "InvalidPeriodOverride",
    "InvalidPolicy",
    "InvalidRecord",
    "InvalidTransition",
    "KeyError_",
    "KeyFileError",
    "KeyNotFound",
    "NotFound",
    "PermissionDenied",
    "RecordNotFound",
    "RecordPurged",
    "StorageError",
    "TicketRequired",
    "UnknownCategory",
    "UnknownPurpose",
    "WorkflowError",
]


class CreditVaultError(Exception):
    """Base class of every error raised by credit_vault."""

    code: ClassVar[str] = "credit_vault_error"
    default_message: ClassVar[str] = "credit_vault error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __reduce__(self) -> tuple[type[CreditVaultError], tuple[str]]:
        # Keeps subclasses with extra constructor arguments picklable across
        # processes (multiprocessing workers re-raise them in the parent).
        return (type(self), (self.message,))


# --- input -----------------------------------------------------------------


class InputError(CreditVaultError, ValueError):
    """Input that breaks a rule; nothing was changed."""

    code = "invalid_input"
    default_message = "input breaks a rule"


class InvalidIdentifier(InputError):
    """A citizen ID number or unified social credit code is malformed or fails its check."""

    code = "invalid_identifier"
    default_message = "identifier is not valid"


class InvalidRecord(InputError):
    """A record's facts, dates or legal basis do not match its category."""

    code = "invalid_record"
    default_message = "record is not valid for its category"


class InvalidCatalog(InputError):
    """A catalogue file is malformed or inconsistent."""

    code = "invalid_catalog"
    default_message = "catalogue is not valid"


class InvalidPolicy(InputError):
    """A policy file is malformed or refers to unknown purposes, roles or categories."""

    code = "invalid_policy"
    default_message = "policy is not valid"


class UnknownCategory(InputError):
    """The category code is not in the catalogue."""

    code = "unknown_category"
    default_message = "category is not in the catalogue"


class UnknownPurpose(InputError):
    """The purpose is not defined by the policy."""

    code = "unknown_purpose"
    default_message = "purpose is not defined by the policy"


class InvalidPeriodOverride(InputError):
    """A per-record disclosure period is outside what the category allows."""

    code = "invalid_period_override"
    default_message = "disclosure period override is outside the category's limits"


# --- access ----------------------------------------------------------------


class AccessError(CreditVaultError):
    """An access was refused or its object does not exist."""

    code = "access_error"
    default_message = "access refused"


class PermissionDenied(AccessError):
    """The policy does not grant this actor this access (deny by default)."""

    code = "permission_denied"
    default_message = "the policy does not permit this access"


class ConsentRequired(PermissionDenied):
    """The purpose needs the subject's authorisation, and none is in force."""

    code = "consent_required"
    default_message = "this purpose needs the subject's authorisation"


class TicketRequired(PermissionDenied):
    """The purpose needs a ticket (case or order number), and none was given."""

    code = "ticket_required"
    default_message = "this purpose needs a ticket (case or order number)"


class NotFound(AccessError):
    """The requested object does not exist."""

    code = "not_found"
    default_message = "not found"


class RecordNotFound(NotFound):
    """No record has this id."""

    code = "record_not_found"
    default_message = "no record has this id"


class RecordPurged(NotFound):
    """The record was purged (crypto-shredded); only its tombstone remains."""

    code = "record_purged"
    default_message = "the record was purged; only its tombstone remains"


# --- workflows -------------------------------------------------------------


class WorkflowError(CreditVaultError):
    """A workflow step cannot be taken."""

    code = "workflow_error"
    default_message = "workflow step cannot be taken"


class InvalidTransition(WorkflowError):
    """The workflow is not in a state that allows this step."""

    code = "invalid_transition"
    default_message = "this transition is not allowed from the current state"


class ConflictError(WorkflowError):
    """Another actor changed the object first; reload and retry."""

    code = "conflict"
    default_message = "the object was changed concurrently"


# --- integrity, keys, audit, configuration ------------------------------------


class IntegrityError(CreditVaultError):
    """A ciphertext or signature failed authentication (one opaque error, no oracle)."""

    code = "integrity_error"
    default_message = "authentication failed"


class AuditError(CreditVaultError):
    """The access log could not be written or does not verify."""

    code = "audit_error"
    default_message = "access log error"


class AuditWriteFailed(AuditError):
    """The access log entry could not be written, so nothing was disclosed or changed."""

    code = "audit_write_failed"
    default_message = "access log entry could not be written; nothing was disclosed"


class AuditVerificationFailed(AuditError):
    """The access log does not verify: an entry was edited, removed, reordered or added."""

    code = "audit_verification_failed"
    default_message = "access log does not verify"


class KeyError_(CreditVaultError):  # noqa: N801 - avoids shadowing the builtin KeyError
    """A key could not be found, opened or used."""

    code = "key_error"
    default_message = "key error"


class KeyNotFound(KeyError_):
    """No key with the requested id exists in the key set (it may have been destroyed)."""

    code = "key_not_found"
    default_message = "key not found in the key set"


class KeyFileError(KeyError_):
    """A key-set file is missing, unreadable, malformed or has unsafe permissions."""

    code = "key_file_error"
    default_message = "key-set file cannot be used"


class ConfigurationError(CreditVaultError):
    """The vault, its storage or its keys are configured in a way that cannot work."""

    code = "configuration_error"
    default_message = "configuration error"


class StorageError(CreditVaultError):
    """The database failed in a way the vault could not recover from; nothing was committed."""

    code = "storage_error"
    default_message = "storage error; nothing was committed"
