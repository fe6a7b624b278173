"""Correction workflows as pure state machines: objection, credit repair, cases, record changes.

Each :class:`StateMachine` lists its states, the transitions between them, which
kind of actor may take each one and the deadline a transition starts. The
services in ``credit_vault._workflows`` ask the machine before they change
anything; an illegal step raises :class:`~credit_vault.errors.InvalidTransition`
naming the state and the step, a step by the wrong kind of actor raises
:class:`~credit_vault.errors.PermissionDenied`. No SQL, no crypto here.

Deadlines are dates in the vault's time zone. A :class:`DeadlineRule` counts
working days (mainland China calendar, :mod:`credit_vault.domain.workdays`),
calendar days or months from the day a step is taken (that day not counted), and
a calendar-day deadline that lands on a rest day moves to the next working day
(民法典 Art 203) unless ``roll_forward`` is off. Every default lives in
:class:`WorkflowSettings`, loaded from the policy's ``[workflows]`` table.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, cast

from credit_vault.domain.catalog import Category
from credit_vault.domain.periods import Period, add_period
from credit_vault.domain.workdays import Beyond, WorkdayCalendar
from credit_vault.errors import (
    ConfigurationError,
    InputError,
    InvalidPolicy,
    InvalidTransition,
    PermissionDenied,
)

__all__ = [
    "CASE",
    "CASE_OUTCOMES",
    "MACHINES",
    "OBJECTION",
    "OBJECTION_OUTCOMES",
    "RECORD",
    "REPAIR",
    "ActorKind",
    "Case",
    "DeadlineRule",
    "Event",
    "Objection",
    "OverdueItem",
    "OverdueReport",
    "RecordChange",
    "RepairApplication",
    "RepairEligibility",
    "StateMachine",
    "Transition",
    "WorkflowSettings",
    "check_reason_code",
    "check_text",
    "parse_workflow_settings",
    "penalty_kind_not_repairable",
    "repair_eligibility",
]

ActorKind = Literal["subject", "handler", "source", "registrar", "admin", "system"]
"""Who takes a step, relative to the object: the record's subject (or their agent with
consent), a handler of the organisation the object is assigned to, a clerk of the
record's source, a registrar (a case role of any organisation), the admin role; or
``system``, the vault itself (a lapse when the record is purged), which no actor is."""

_KINDS: frozenset[str] = frozenset({"subject", "handler", "source", "registrar", "admin", "system"})


@dataclass(frozen=True, slots=True)
class Transition:
    """One step: from which states, to which state (None: unchanged), by whom, what it starts."""

    action: str
    sources: frozenset[str | None]
    target: str | None
    by: frozenset[str]
    reason_required: bool = False
    starts: str | None = None

    def __post_init__(self) -> None:
        if not self.by <= _KINDS:
            raise ValueError("unknown actor kind in a transition")


def _t(
    action: str,
    sources: Iterable[str | None],
    target: str | None,
    by: Iterable[str],
    *,
    reason: bool = False,
    starts: str | None = None,
) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(by), reason, starts)


@dataclass(frozen=True, slots=True)
class StateMachine:
    """States and transitions of one workflow (``None`` is "does not exist yet")."""

    name: str
    states: tuple[str, ...]
    final: frozenset[str]
    transitions: tuple[Transition, ...]

    def __post_init__(self) -> None:
        known = set(self.states)
        for t in self.transitions:
            if not {s for s in t.sources if s is not None} <= known:
                raise ValueError(f"{self.name}: transition '{t.action}' starts from unknown state")
            if t.target is not None and t.target not in known:
                raise ValueError(f"{self.name}: transition '{t.action}' ends in unknown state")

    def transition(self, action: str) -> Transition:
        """The transition named ``action``; :class:`InvalidTransition` if the machine has none."""
        for t in self.transitions:
            if t.action == action:
                return t
        raise InvalidTransition(f"{self.name}: there is no step '{_short(action)}'")

    def allowed(self, state: str | None) -> tuple[str, ...]:
        """The actions possible from ``state``, in declaration order."""
        return tuple(t.action for t in self.transitions if state in t.sources)

    def may(self, action: str, by: Iterable[str]) -> bool:
        """Whether one of the actor kinds ``by`` may take ``action`` (from some state)."""
        return bool(self.transition(action).by & set(by))

    def step(self, state: str | None, action: str, *, by: Iterable[str]) -> str | None:
        """The state after ``action`` from ``state``; refuse the wrong actor, then the wrong state.

        Who may act is checked first, so a refused actor learns nothing about the
        object's state.
        """
        t = self.transition(action)
        kinds = set(by)
        if not t.by & kinds:
            who = ", ".join(sorted(t.by))
            raise PermissionDenied(f"{self.name}: only {who} may take step '{action}'")
        if state not in t.sources:
            allowed_from = ", ".join(sorted(_state_name(s) for s in t.sources))
            raise InvalidTransition(
                f"{self.name}: step '{action}' is not allowed from state '{_state_name(state)}' "
                f"(only from: {allowed_from})"
            )
        return state if t.target is None else t.target

    def mermaid(self) -> str:
        """The machine as a Mermaid ``stateDiagram-v2`` (docs/workflows.md shows these)."""
        lines = ["stateDiagram-v2"]
        for t in self.transitions:
            label = f"{t.action} ({'/'.join(sorted(t.by))})"
            if t.reason_required:
                label += " with reason"
            if t.starts:
                label += f" starts {t.starts}"
            for s in sorted(t.sources, key=lambda x: "" if x is None else x):
                src = "[*]" if s is None else s
                dst = s if t.target is None else t.target
                lines.append(f"    {src} --> {dst if dst is not None else '[*]'}: {label}")
        lines.extend(f"    {s} --> [*]" for s in self.states if s in self.final)
        return "\n".join(lines)


def _state_name(state: str | None) -> str:
    return "(new)" if state is None else state


def _short(text: object) -> str:
    return "".join(ch for ch in str(text) if ch.isprintable())[:64]


OBJECTION = StateMachine(
    name="objection",
    states=("open", "upheld", "rejected", "unresolved", "withdrawn", "lapsed"),
    final=frozenset({"upheld", "rejected", "unresolved", "withdrawn", "lapsed"}),
    transitions=(
        _t("file", [None], "open", ["subject"], reason=True, starts="objection_deadline"),
        _t("uphold", ["open"], "upheld", ["handler"], reason=True),
        _t("reject", ["open"], "rejected", ["handler"], reason=True),
        _t("leave_unresolved", ["open"], "unresolved", ["handler"], reason=True),
        _t("withdraw", ["open"], "withdrawn", ["subject"]),
        _t("lapse", ["open"], "lapsed", ["system"]),
    ),
)
"""异议: filed by the subject (Z6, S4), decided by a handler of the record's source.

``lapse`` is the vault's own step: when the record is purged (retention over, or the
subject erased) while the objection is still open, there is nothing left to decide."""

OBJECTION_OUTCOMES: Mapping[str, str] = {
    "upheld": "uphold",
    "rejected": "reject",
    "unresolved": "leave_unresolved",
}
"""``decide(outcome=...)`` → the objection machine's action."""

REPAIR = StateMachine(
    name="repair",
    states=("applied", "approved", "rejected", "withdrawn", "lapsed"),
    final=frozenset({"approved", "rejected", "withdrawn", "lapsed"}),
    transitions=(
        _t("apply", [None], "applied", ["subject"], reason=True, starts="repair_deadline"),
        _t("approve", ["applied"], "approved", ["handler"]),
        _t(
            "reject",
            ["applied"],
            "rejected",
            ["handler"],
            reason=True,
            starts="repair_refile_after",
        ),
        _t("withdraw", ["applied"], "withdrawn", ["subject"]),
        _t("lapse", ["applied"], "lapsed", ["system"]),
    ),
)
"""信用修复: applied for by the subject (N1), decided by a handler of the listing organisation.

``lapse``: the record was purged while the application was pending (see OBJECTION)."""

CASE = StateMachine(
    name="case",
    states=("open", "closed", "withdrawn"),
    final=frozenset({"closed", "withdrawn"}),
    transitions=(
        _t("open", [None], "open", ["subject", "registrar"], reason=True, starts="case_deadline"),
        _t("assign", ["open"], None, ["handler", "admin"]),
        _t("close", ["open"], "closed", ["handler"], reason=True),
        _t("withdraw", ["open"], "withdrawn", ["subject", "handler"]),
    ),
)
"""行政复议 / 投诉: tracked with a deadline; decided outside the vault, outcome recorded here."""

CASE_OUTCOMES: tuple[str, ...] = ("upheld", "partly_upheld", "rejected", "dismissed")
"""Outcomes a closed case records."""

RECORD = StateMachine(
    name="record",
    states=("active", "expired", "repaired", "revoked", "purged"),
    final=frozenset({"purged"}),
    transitions=(
        _t("correct", ["active", "expired", "repaired"], None, ["source"], reason=True),
        _t("revoke", ["active", "expired", "repaired"], "revoked", ["source"], reason=True),
        _t("repair", ["active", "expired"], "repaired", ["handler"]),
        _t("attach_statement", ["active", "expired", "repaired", "revoked"], None, ["subject"]),
        _t("object", ["active", "expired", "repaired"], None, ["subject"]),
    ),
)
"""The record steps these workflows take (expiry and purge belong to the lifecycle).

``correct`` keeps the state and writes a new version (S5 for revocation); ``repair``
is taken only through an approved repair application; ``object`` marks the record
disputed. The services judge a record's state as of the vault's clock, not as the
sweep last stored it: a record whose window has ended is ``expired`` and one past its
purge date ``purged``, swept or not. ``repair`` from ``expired`` agrees with the
lifecycle (:data:`credit_vault.domain.windows.TRANSITIONS`): an application filed while
the record was disclosed may still be approved after the window ends while it waits,
since repair also lifts the measures (N1); a new application needs a disclosed record."""

MACHINES: tuple[StateMachine, ...] = (OBJECTION, REPAIR, CASE, RECORD)


# ------------------------------------------------------------------ deadlines

DeadlineUnit = Literal["working_days", "days", "months"]
_RULE = re.compile(r"^\s*(\d{1,4})\s+(working\s+days?|days?|months?)\s*$")


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """A time limit: ``amount`` working days, calendar days or months after the start date."""

    amount: int
    unit: DeadlineUnit

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise ValueError("a deadline is a whole, non-negative number of days or months")
        if self.unit not in ("working_days", "days", "months"):
            raise ValueError("a deadline counts working_days, days or months")

    @classmethod
    def parse(cls, text: str) -> DeadlineRule:
        """Parse ``"5 working days"``, ``"20 days"`` or ``"3 months"``."""
        m = _RULE.match(text) if isinstance(text, str) else None
        if m is None:
            raise ValueError("a deadline reads like '5 working days', '20 days' or '3 months'")
        unit = m.group(2).split()[0].rstrip("s")
        kind: DeadlineUnit = (
            "working_days" if unit == "working" else "days" if unit == "day" else "months"
        )
        return cls(int(m.group(1)), kind)

    def due(self, start: date, calendar: WorkdayCalendar, *, roll_forward: bool = True) -> date:
        """The last day to act, counting from ``start`` (``start`` itself not counted).

        Working days skip weekends and holidays and count make-up working weekends.
        A calendar-day or month deadline that falls on a rest day moves to the next
        working day when ``roll_forward`` (民法典 Art 203).
        """
        if self.unit == "working_days":
            return calendar.add_workdays(start, self.amount)
        if self.unit == "days":
            end = add_period(start, Period(days=self.amount))
        else:
            end = add_period(start, Period(months=self.amount))
        return calendar.next_workday(end) if roll_forward else end

    def after(self, start: date) -> date:
        """``start`` plus the period in calendar terms (for waiting periods, not deadlines)."""
        if self.unit == "months":
            return add_period(start, Period(months=self.amount))
        return add_period(start, Period(days=self.amount))

    def __str__(self) -> str:
        word = {"working_days": "working day", "days": "day", "months": "month"}[self.unit]
        return f"{self.amount} {word}{'' if self.amount == 1 else 's'}"


def _rule(raw: object, key: str, default: DeadlineRule) -> DeadlineRule:
    if raw is None:
        return default
    try:
        return DeadlineRule.parse(cast("str", raw))
    except ValueError as exc:
        raise InvalidPolicy(f"workflows.{key}: {exc}") from None


_DEFAULT_REPAIR_DEADLINES: tuple[tuple[str, DeadlineRule], ...] = (
    # C1 (SPC 2017): a defaulting judgment debtor is removed within 3 working days of
    # performance, so the decision on the repair application must fit in them.
    ("court.defaulter", DeadlineRule(3, "working_days")),
)
# The catalogue's code syntax (credit_vault.domain.catalog): dotted lower-case names.
_CATEGORY_CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True, slots=True)
class WorkflowSettings:
    """Deadlines, roles and the working-day calendar of the workflows (policy ``[workflows]``).

    Defaults and where they come from (docs/rules.md): ``objection_deadline`` 5 working
    days (S4; ``"20 days"`` is Z6); ``repair_deadline`` 5 working days and
    ``repair_refile_after`` 30 days (unverified, configurable); ``repair_deadlines``
    per category, ``court.defaulter`` 3 working days (C1: a defaulter is removed
    within 3 working days of performance); ``case_deadline`` 30 days (Z6
    complaints, F5); ``roll_forward`` (民法典 Art 203).
    """

    objection_deadline: DeadlineRule = DeadlineRule(5, "working_days")
    repair_deadline: DeadlineRule = DeadlineRule(5, "working_days")
    repair_deadlines: tuple[tuple[str, DeadlineRule], ...] = _DEFAULT_REPAIR_DEADLINES
    repair_refile_after: DeadlineRule = DeadlineRule(30, "days")
    case_deadline: DeadlineRule = DeadlineRule(30, "days")
    case_types: tuple[str, ...] = ("complaint", "reconsideration")
    case_deadlines: tuple[tuple[str, DeadlineRule], ...] = ()
    case_roles: tuple[str, ...] = ("objection_handler", "admin")
    report_roles: tuple[str, ...] = ("admin", "auditor")
    agent_role: str = "subject_agent"
    roll_forward: bool = True
    calendar: WorkdayCalendar = field(default_factory=WorkdayCalendar.china)

    def deadline(self, name: str) -> DeadlineRule:
        """The rule a transition's ``starts`` names."""
        rule = getattr(self, name, None)
        if not isinstance(rule, DeadlineRule):
            raise KeyError(name)
        return rule

    def repair_deadline_for(self, category: str) -> DeadlineRule:
        """The decision deadline of a repair application on a record of ``category``
        (the category's own when configured, else ``repair_deadline``)."""
        return dict(self.repair_deadlines).get(category, self.repair_deadline)

    def case_deadline_for(self, case_type: str) -> DeadlineRule:
        """The deadline of a case type (its own when configured, else ``case_deadline``)."""
        return dict(self.case_deadlines).get(case_type, self.case_deadline)

    def due(self, rule: DeadlineRule, start: date) -> date:
        """The rule's deadline from ``start`` under this calendar."""
        return rule.due(start, self.calendar, roll_forward=self.roll_forward)


_SETTINGS_KEYS = frozenset(
    {
        "objection_deadline",
        "repair_deadline",
        "repair_deadlines",
        "repair_refile_after",
        "case_deadline",
        "case_types",
        "case_deadlines",
        "case_roles",
        "report_roles",
        "agent_role",
        "roll_forward",
        "calendar",
    }
)


def _names(raw: object, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None:
        return default
    if not isinstance(raw, list) or not all(
        isinstance(x, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,63}", x) for x in raw
    ):
        raise InvalidPolicy(f"workflows.{key} must be a list of names such as 'complaint'")
    return tuple(raw)


def parse_workflow_settings(raw: Mapping[str, Any]) -> WorkflowSettings:
    """Build the settings from the policy's ``[workflows]`` table (every key optional)."""
    if not isinstance(raw, Mapping):
        raise InvalidPolicy("workflows must be a table")
    unknown = set(raw) - _SETTINGS_KEYS
    if unknown:
        raise InvalidPolicy(f"workflows: unknown keys {sorted(unknown)}")
    defaults = {
        "objection_deadline": DeadlineRule(5, "working_days"),
        "repair_deadline": DeadlineRule(5, "working_days"),
        "repair_refile_after": DeadlineRule(30, "days"),
        "case_deadline": DeadlineRule(30, "days"),
    }
    rules = {k: _rule(raw.get(k), k, v) for k, v in defaults.items()}
    case_types = _names(raw.get("case_types"), "case_types", ("complaint", "reconsideration"))
    per_type = raw.get("case_deadlines", {})
    if not isinstance(per_type, Mapping):
        raise InvalidPolicy("workflows.case_deadlines must be a table of case type = deadline")
    case_deadlines: list[tuple[str, DeadlineRule]] = []
    for name, text in per_type.items():
        if name not in case_types:
            raise InvalidPolicy(f"workflows.case_deadlines: '{_short(name)}' is not a case type")
        case_deadlines.append((name, _rule(text, f"case_deadlines.{name}", rules["case_deadline"])))
    repair_deadlines = _repair_deadlines(raw.get("repair_deadlines"), rules["repair_deadline"])
    roll = raw.get("roll_forward", True)
    if not isinstance(roll, bool):
        raise InvalidPolicy("workflows.roll_forward must be true or false")
    agent = raw.get("agent_role", "subject_agent")
    if not isinstance(agent, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", agent):
        raise InvalidPolicy("workflows.agent_role must be a role name")
    return WorkflowSettings(
        objection_deadline=rules["objection_deadline"],
        repair_deadline=rules["repair_deadline"],
        repair_deadlines=repair_deadlines,
        repair_refile_after=rules["repair_refile_after"],
        case_deadline=rules["case_deadline"],
        case_types=case_types,
        case_deadlines=tuple(case_deadlines),
        case_roles=_names(raw.get("case_roles"), "case_roles", ("objection_handler", "admin")),
        report_roles=_names(raw.get("report_roles"), "report_roles", ("admin", "auditor")),
        agent_role=agent,
        roll_forward=roll,
        calendar=_calendar(raw.get("calendar", {})),
    )


def _repair_deadlines(raw: object, default: DeadlineRule) -> tuple[tuple[str, DeadlineRule], ...]:
    """``[workflows.repair_deadlines]``: category code = deadline. Absent: the C1 default.

    A table given replaces the default entirely (an empty table removes it). Codes are
    checked for their syntax only: a policy may serve several catalogues, and an entry
    naming a category the vault's catalogue lacks is simply never used.
    """
    if raw is None:
        return _DEFAULT_REPAIR_DEADLINES
    if not isinstance(raw, Mapping):
        raise InvalidPolicy("workflows.repair_deadlines must be a table of category = deadline")
    out: list[tuple[str, DeadlineRule]] = []
    for name, text in raw.items():
        if not isinstance(name, str) or not _CATEGORY_CODE.match(name):
            raise InvalidPolicy(
                "workflows.repair_deadlines: keys are category codes such as 'court.defaulter'"
            )
        if text is None:
            raise InvalidPolicy(f"workflows.repair_deadlines.{name}: a deadline is required")
        out.append((name, _rule(text, f"repair_deadlines.{name}", default)))
    return tuple(sorted(out))


def _calendar(raw: object) -> WorkdayCalendar:
    if not isinstance(raw, Mapping):
        raise InvalidPolicy("workflows.calendar must be a table")
    unknown = set(raw) - {"beyond_schedule", "years"}
    if unknown:
        raise InvalidPolicy(f"workflows.calendar: unknown keys {sorted(unknown)}")
    beyond = raw.get("beyond_schedule", "weekends")
    if beyond not in ("weekends", "error"):
        raise InvalidPolicy("workflows.calendar.beyond_schedule must be 'weekends' or 'error'")
    try:
        cal = WorkdayCalendar.china(beyond=cast("Beyond", beyond))
        if "years" in raw:
            cal = cal.with_schedule({"years": raw["years"]})
    except ConfigurationError as exc:
        raise InvalidPolicy(f"workflows.calendar: {exc.message}") from None
    return cal


# ------------------------------------------------------------------ input checks

_REASON_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def check_reason_code(code: object, default: str) -> str:
    """A reason code for the log: ``[a-z][a-z0-9_]{0,31}`` (free text never goes to the log)."""
    if code is None:
        return default
    if not isinstance(code, str) or not _REASON_CODE.match(code):
        raise InputError("reason_code must be 1-32 characters of a-z, 0-9 and _")
    return code


def check_text(value: object, what: str, *, required: bool, limit: int = 4000) -> str | None:
    """A free-text input (reasons, evidence, statements): trimmed, bounded, no NUL."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InputError(f"{what} is required")
        return None
    if not isinstance(value, str):
        raise InputError(f"{what} must be text")
    text = value.strip()
    if "\x00" in text:
        raise InputError(f"{what} must not contain NUL characters")
    if len(text) > limit:
        raise InputError(f"{what} is longer than its limit of {limit} characters")
    return text


# ------------------------------------------------------------------ repair eligibility


@dataclass(frozen=True, slots=True)
class RepairEligibility:
    """Whether a record may be repaired today, and if not, every reason code why."""

    eligible: bool
    reasons: tuple[str, ...]
    repair_from: date | None
    refile_after: date | None = None

    def __bool__(self) -> bool:
        return self.eligible


# A ``*`` in a Chinese entry: any run of letters or digits (CJK characters count), so
# the stem and its ending must sit in one phrase, not across punctuation or spaces.
_WILDCARD = r"[^\W_]{0,16}"
_TOKEN_SPLIT = re.compile(r"[^0-9a-z]+")


def _fold(text: str) -> str:
    """Full-width forms to ASCII, case folded (``ＢＡＮ`` and ``Ban`` read as ``ban``)."""
    return unicodedata.normalize("NFKC", text).casefold()


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(t for t in _TOKEN_SPLIT.split(text) if t)


@functools.lru_cache(maxsize=32)
def _kind_matchers(
    entries: tuple[str, ...],
) -> tuple[tuple[re.Pattern[str], ...], tuple[tuple[str, ...], ...]]:
    """Compile the catalogue's list once: Chinese patterns, and ASCII token sequences."""
    patterns: list[re.Pattern[str]] = []
    token_runs: list[tuple[str, ...]] = []
    for raw in entries:
        entry = _fold(raw).strip()
        if not entry:
            continue
        if entry.isascii():
            run = _tokens(entry)
            if run:
                token_runs.append(run)
            continue
        parts = [re.escape(p) for p in entry.split("*")]
        if not any(parts):
            continue
        patterns.append(re.compile(_WILDCARD.join(parts)))
    return tuple(patterns), tuple(token_runs)


def penalty_kind_not_repairable(penalty_kind: str, not_repairable_kinds: Iterable[str]) -> bool:
    """Whether a penalty kind is on the catalogue's ``[repair] not_repairable_kinds`` (N3).

    Both sides are NFKC-normalised and case-folded. An entry with a non-ASCII
    (Chinese) character is a pattern found anywhere in the penalty kind, Chinese
    having no word boundaries; ``*`` in it stands for up to 16 letters or digits, so
    ``吊销*许可证`` matches 吊销许可证件 and 吊销食品经营许可证 but not a phrase
    broken by punctuation. An ASCII entry is a sequence of whole words: both sides
    are split on every character that is not a-z or 0-9, and the entry's words must
    appear consecutively, so ``ban`` matches ``lifetime_ban`` but not
    ``urban_management_fine``, and ``licence_revocation`` matches
    ``Licence revocation``. An entry with no letters or digits matches nothing.
    """
    patterns, token_runs = _kind_matchers(tuple(sorted(not_repairable_kinds)))
    kind = _fold(penalty_kind)
    if any(p.search(kind) for p in patterns):
        return True
    words = _tokens(kind)
    return any(words[i : i + len(run)] == run for run in token_runs for i in range(len(words)))


def repair_eligibility(
    category: Category,
    *,
    not_repairable_kinds: Iterable[str],
    state: str,
    disclosed_today: bool,
    repair_from: date | None,
    today: date,
    penalty_kind: str | None,
    refile_after: date | None,
    application_open: bool,
    at_decision: bool = False,
) -> RepairEligibility:
    """Decide repair eligibility from the catalogue and the record (N1, N3).

    Reason codes: ``category_not_repairable`` (the catalogue sets no repair
    period), ``penalty_kind_not_repairable`` (licence revocation, bans: N3, see
    :func:`penalty_kind_not_repairable`), ``not_disclosed`` (the record is not in
    disclosure: nothing to end early), ``minimum_period_not_passed`` (N1's minimum
    publication period), ``waiting_period`` (a rejected application's refiling
    wait), ``application_open``.

    ``state`` is the record's state as of ``today`` (the clock's, not the sweep's).
    ``at_decision`` re-checks a pending application when a handler approves it: the
    application itself is not counted (``application_open`` and ``waiting_period``
    do not apply), and a record whose window ended while the application waited
    (``expired``) is still eligible, since repair lifts the measures too (N1).
    """
    reasons: list[str] = []
    if not category.repairable:
        reasons.append("category_not_repairable")
    if penalty_kind is not None and penalty_kind_not_repairable(penalty_kind, not_repairable_kinds):
        reasons.append("penalty_kind_not_repairable")
    if at_decision:
        ended = state not in ("active", "expired") or (state == "active" and not disclosed_today)
    else:
        ended = state != "active" or not disclosed_today
    if ended:
        reasons.append("not_disclosed")
    if category.repairable and (repair_from is None or today < repair_from):
        reasons.append("minimum_period_not_passed")
    if not at_decision and refile_after is not None and today < refile_after:
        reasons.append("waiting_period")
    if not at_decision and application_open:
        reasons.append("application_open")
    return RepairEligibility(
        eligible=not reasons,
        reasons=tuple(reasons),
        repair_from=repair_from,
        refile_after=refile_after,
    )


# ------------------------------------------------------------------ what the services return


@dataclass(frozen=True, slots=True)
class Objection:
    """An objection (异议). ``reason`` and ``decision_reason`` are filled only by ``get``."""

    id: str
    record_id: str
    state: str
    assigned_to: str
    filed_on: date
    deadline: date
    deadline_rule: str
    decided_on: date | None = None
    reason_code: str | None = None
    reason: str | None = field(default=None, repr=False)
    decision_reason: str | None = field(default=None, repr=False)

    @property
    def outcome(self) -> str | None:
        """``upheld``, ``rejected`` or ``unresolved`` once decided; None otherwise."""
        return self.state if self.state in OBJECTION_OUTCOMES else None

    @property
    def is_open(self) -> bool:
        """Whether the objection still awaits a decision."""
        return self.state not in OBJECTION.final


@dataclass(frozen=True, slots=True)
class RepairApplication:
    """A credit-repair application (信用修复). Texts are filled only by ``get``."""

    id: str
    record_id: str
    state: str
    assigned_to: str
    applied_on: date
    deadline: date
    deadline_rule: str
    decided_on: date | None = None
    refile_after: date | None = None
    reason_code: str | None = None
    evidence: str | None = field(default=None, repr=False)
    decision_reason: str | None = field(default=None, repr=False)

    @property
    def is_open(self) -> bool:
        """Whether the application still awaits a decision."""
        return self.state not in REPAIR.final


@dataclass(frozen=True, slots=True)
class Case:
    """A reconsideration or complaint case the vault tracks. Texts are filled only by ``get``."""

    id: str
    type: str
    state: str
    assigned_to: str
    record_id: str | None
    opened_on: date
    deadline: date
    deadline_rule: str
    closed_on: date | None = None
    outcome: str | None = None
    reason: str | None = field(default=None, repr=False)
    outcome_reason: str | None = field(default=None, repr=False)

    @property
    def is_open(self) -> bool:
        """Whether the case is still open."""
        return self.state not in CASE.final


@dataclass(frozen=True, slots=True)
class RecordChange:
    """A correction, revocation, repair or statement of a record. ``reason`` only from history."""

    id: str
    record_id: str
    kind: str
    version: int
    state: str
    reason_code: str
    at: datetime
    by: str
    workflow_id: str | None = None
    reason: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Event:
    """One outbox event: ids, types, states and dates only, never a personal value.

    ``seq`` is the sequence number of the access-log entry of the same transition,
    so events are in commit order and a reader resumes with ``poll(after=seq)``.
    """

    seq: int
    at: datetime
    type: str
    kind: str
    object_id: str
    record_id: str | None
    subject: str | None
    state: str
    organisation: str | None
    deadline: date | None


@dataclass(frozen=True, slots=True)
class OverdueItem:
    """An open objection, repair application or case past its deadline."""

    kind: str
    id: str
    state: str
    organisation: str
    deadline: date
    days_overdue: int
    record_id: str | None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class OverdueReport:
    """What :meth:`Cases.overdue` found on a date, by organisation."""

    on: date
    items: tuple[OverdueItem, ...]

    @property
    def by_organisation(self) -> dict[str, tuple[OverdueItem, ...]]:
        """Items grouped by the organisation they are assigned to (sorted by deadline)."""
        out: dict[str, list[OverdueItem]] = {}
        for item in self.items:
            out.setdefault(item.organisation, []).append(item)
        return {
            org: tuple(sorted(v, key=lambda i: (i.deadline, i.kind, i.id)))
            for org, v in sorted(out.items())
        }

    def __len__(self) -> int:
        return len(self.items)
