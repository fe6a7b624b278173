"""``credit-vault demo``: a fresh vault, the synthetic data set, readers with different purposes.

The demo is a list of steps (:data:`STEPS`) that share one :class:`DemoContext`.
Later features add their own step functions to the list (before ``audit``, which
verifies the log last). A step prints through ``ctx.out``, records what scripts
may want in ``ctx.report`` and states its expectations with ``ctx.check``; any
failed check makes the command exit 1.

Privacy: identifiers are printed masked (the library's reprs); the subject's name
appears only in the subject's own view; the access-log summary shows field
*names*, never values.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from credit_vault import Actor, Disclosure, SubjectRef, Vault
from credit_vault.cli import _demo_lifecycle as _lc
from credit_vault.cli import _demo_workflows as _wf
from credit_vault.cli._dataset import Dataset, load_dataset
from credit_vault.cli._demo_audit import step_audit_export
from credit_vault.cli._demo_keys import step_key_rotation
from credit_vault.cli._main import Output, fail
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import CreditVaultError
from credit_vault.testing import FrozenClock

__all__ = [
    "DEMO_NOW",
    "STEPS",
    "DemoContext",
    "DemoStep",
    "demo",
    "run_demo",
]

DEMO_NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
"""The demo's frozen clock (10:00 in Xianning), so every run prints the same views."""

ADMIN = Actor(id="demo-admin", role="admin")
LICENSING_OFFICER = Actor(
    id="licensing-officer-017", role="licensing_officer", organisation="xn-approval"
)
ENFORCEMENT_OFFICER = Actor(
    id="enforcement-officer-003", role="enforcement_officer", organisation="xn-ndrc"
)
THIRD_PARTY = Actor(id="lender-credit-desk-9", role="third_party", organisation="demo-bank")
LICENSING_TICKET = "XN-LIC-2026-0418"
PUNISHMENT_TICKET = "XN-JP-2026-0031"


def clerk(source: str) -> Actor:
    """The source clerk who pushes one source's records."""
    return Actor(id=f"clerk@{source}", role="source_clerk", organisation=source)


def masked(subject: SubjectRef) -> str:
    """A subject as the library masks it (never the full identifier)."""
    return repr(subject.parsed)


@dataclass
class DemoContext:
    """What the steps share: the vault, its clock, the data set, the output and the report."""

    vault: Vault
    clock: FrozenClock
    data: Dataset
    directory: Path
    database: Path
    key_file: Path
    out: Output
    report: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    checks: int = 0
    views: dict[str, Disclosure] = field(default_factory=dict, repr=False)

    def check(self, ok: bool, what: str) -> bool:
        """Record an expectation; a failed one is reported and makes the demo exit 1."""
        self.checks += 1
        if not ok:
            self.failures.append(what)
            self.out.warn(f"check failed: {what}")
        return ok

    @property
    def person(self) -> SubjectRef:
        """The featured person (index 0 of the data set)."""
        return self.data.persons[0]

    @property
    def organisation(self) -> SubjectRef:
        """The featured organisation: the first one with a linked person (on the serious list)."""
        if self.data.links:
            return self.data.organisations[self.data.links[0].organisation_index]
        return self.data.organisations[0]

    @property
    def legal_representative(self) -> SubjectRef | None:
        """The person linked to the featured organisation, if the data set has links."""
        if self.data.links:
            return self.data.persons[self.data.links[0].person_index]
        return None

    def last_entry(self) -> dict[str, Any]:
        """The newest access-log entry (decoded)."""
        size = self.vault.audit.head().size
        entries = self.vault.audit.entries(start=max(size - 1, 0))
        return entries[-1] if entries else {}


@dataclass(frozen=True, slots=True)
class DemoStep:
    """One step of the demo: a name (for JSON and tests), a title and the function."""

    name: str
    title: str
    run: Callable[[DemoContext], None]


# --- helpers -------------------------------------------------------------------------


def _tier_of(ctx: DemoContext, category: str, field_name: str) -> str:
    return ctx.vault.catalog.get(category).field_spec(field_name).tier


def _window(rec: Any, today: Any) -> str:
    ends = rec.disclosure_ends_on
    if ends is None:
        return "never public"
    if rec.disclosable:
        return f"open to {ends}"
    return f"ended {ends}" if ends <= today else "closed"


def _view_json(d: Disclosure) -> dict[str, Any]:
    return {
        "purpose": d.purpose,
        "access_seq": d.access_seq,
        "subject_name_shown": d.subject_name is not None,
        "records": [
            {
                "category": r.category,
                "decided_on": r.decided_on.isoformat(),
                "disclosure_ends_on": r.disclosure_ends_on.isoformat()
                if r.disclosure_ends_on
                else None,
                "disclosable": r.disclosable,
                "fields": sorted(r.facts),
                "withheld": list(r.withheld_fields),
            }
            for r in d.records
        ],
    }


def _outcome(entry: dict[str, Any]) -> str:
    outcome = str(entry.get("outcome", ""))
    reason = entry.get("reason")
    return f"{outcome}\n({reason})" if reason and outcome != "ok" else outcome


def _short(value: object, limit: int = 28) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- steps ---------------------------------------------------------------------------


def step_sources(ctx: DemoContext) -> None:
    """Register every source of the data set and the categories it may push."""
    rows = []
    for s in ctx.data.sources:
        ctx.vault.register_source(s.code, name=s.name, categories=s.categories, actor=ADMIN)
        rows.append((s.code, s.name, ", ".join(s.categories)))
    registered = ctx.vault.sources()
    covered = {c for cats in registered.values() for c in cats}
    missing = sorted(set(ctx.vault.catalog.codes) - covered)
    ctx.check(len(registered) >= 5, "at least five sources are registered")
    ctx.check(not missing, f"every catalogue category has a source (missing: {missing})")
    ctx.out.table(
        ("source", "name", "categories it may push"), rows, wrap=("categories it may push",)
    )
    ctx.report["sources"] = [
        {"code": s.code, "name": s.name, "categories": list(s.categories)} for s in ctx.data.sources
    ]


def step_ingest(ctx: DemoContext) -> None:
    """Each source pushes its records in one transaction (all or nothing, one log entry)."""
    per_category: Counter[str] = Counter()
    sources_of: dict[str, set[str]] = {}
    total = 0
    for s in ctx.data.sources:
        records = ctx.data.records_of(s.code)
        if not records:
            continue
        started = time.perf_counter()
        ids = ctx.vault.ingest_many(clerk(s.code), records)
        ctx.check(len(ids) == len(records), f"{s.code}: every record got an id")
        ctx.out.info(
            f"ingested {len(ids):4d} records from {s.code} in one transaction "
            f"({time.perf_counter() - started:.2f} s)"
        )
        total += len(ids)
        for r in records:
            per_category[r.category] += 1
            sources_of.setdefault(r.category, set()).add(s.code)
    rows = []
    for cat in ctx.vault.catalog:
        kind = cat.polarity + (f" / {cat.severity}" if cat.severity else "")
        rows.append(
            (
                cat.code,
                cat.name,
                kind,
                str(cat.disclosure),
                ", ".join(sorted(sources_of.get(cat.code, ()))),
                per_category[cat.code],
            )
        )
    ctx.check(
        all(per_category[c] > 0 for c in ctx.vault.catalog.codes),
        "the data set has records in every category",
    )
    ctx.out.table(
        ("category", "name", "polarity", "disclosure", "source", "records"),
        rows,
        wrap=("name", "source"),
        caption=f"{total} records for {len(ctx.data.persons)} persons and "
        f"{len(ctx.data.organisations)} organisations",
    )
    ctx.report["ingested"] = {"total": total, "by_category": dict(sorted(per_category.items()))}


def step_licensing(ctx: DemoContext) -> None:
    """(a) A licensing officer, with a ticket, sees negative records up to the restricted tier."""
    d = ctx.vault.query(
        LICENSING_OFFICER,
        purpose="licensing_review",
        subject=ctx.person,
        ticket=LICENSING_TICKET,
    )
    ctx.views["licensing_review"] = d
    today = ctx.vault.today()
    ctx.out.line(
        f"reader: {LICENSING_OFFICER.role} {LICENSING_OFFICER.id}, ticket {LICENSING_TICKET}; "
        f"subject {masked(ctx.person)}; logged as seq {d.access_seq}"
    )
    rows = []
    for r in d.records:
        cat = ctx.vault.catalog.get(r.category)
        ctx.check(
            cat.polarity == "negative", f"licensing sees only negative records ({r.category})"
        )
        ctx.check(r.disclosable, f"licensing sees only records inside their window ({r.category})")
        ctx.check(
            all(_tier_of(ctx, r.category, n) != "confidential" for n in r.facts),
            f"licensing sees no confidential field ({r.category})",
        )
        rows.append(
            (
                r.category,
                r.decided_on,
                _window(r, today),
                _short(r.facts.get("summary")),
                r.facts.get("amount"),
                sorted(r.facts),
                r.withheld_fields,
            )
        )
    ctx.check(bool(d.records), "the featured person has records a licensing review may see")
    ctx.check(d.subject_name is None, "licensing does not see the subject's name")
    ctx.out.table(
        ("category", "decided", "window", "summary", "amount", "fields shown", "withheld"),
        rows,
        wrap=("fields shown", "withheld"),
        caption="withheld: fields above the purpose's tier (confidential), never decrypted",
    )
    ctx.report.setdefault("views", {})["licensing_review"] = _view_json(d)


def step_self_view(ctx: DemoContext) -> None:
    """(b) The subject's own view (every tier, every retained record) beside the licensing view."""
    me = Actor(id="portal-user-0001", role="subject", subject=ctx.person)
    own = ctx.vault.query(me, purpose="self_query", subject=ctx.person)
    ctx.views["self_query"] = own
    lic = ctx.views.get("licensing_review")
    lic_by_id = {r.record_id: r for r in lic.records} if lic else {}
    today = ctx.vault.today()
    ctx.out.line(
        f"reader: the subject themself (role subject), logged as seq {own.access_seq}; "
        f"subject {masked(ctx.person)}"
    )
    # The subject's own name, in the subject's own view only.
    ctx.out.line(f"name (shown to the subject only): {own.subject_name}")
    rows = []
    for r in own.records:
        other = lic_by_id.get(r.record_id)
        if other is not None:
            lic_cell: object = sorted(other.facts)
        elif ctx.vault.catalog.get(r.category).polarity != "negative":
            lic_cell = "not returned (not a negative category)"
        elif r.disclosure_ends_on is None:
            lic_cell = "not returned (never disclosed publicly)"
        elif not r.disclosable:
            lic_cell = "not returned (outside its window)"
        else:
            lic_cell = "not returned"
        rows.append((r.category, r.decided_on, _window(r, today), sorted(r.facts), lic_cell))
    confidential = {
        n for r in own.records for n in r.facts if _tier_of(ctx, r.category, n) == "confidential"
    }
    ctx.check(own.subject_name is not None, "the subject sees their own name")
    ctx.check(bool(confidential), "the subject sees confidential fields of their own file")
    ctx.check(len(own.records) > len(lic_by_id), "the subject sees more records than licensing")
    ctx.check(
        any(not r.disclosable and r.disclosure_ends_on for r in own.records),
        "the file holds a record whose disclosure window has ended",
    )
    ctx.check(
        all(rid in {r.record_id for r in own.records} for rid in lic_by_id),
        "every record licensing saw is in the subject's own view",
    )
    ctx.out.table(
        ("category", "decided", "window", "the subject sees", "the licensing officer sees"),
        rows,
        wrap=("the subject sees", "the licensing officer sees"),
        caption="confidential fields only the subject sees here: "
        + ", ".join(sorted(confidential)),
    )
    ctx.report.setdefault("views", {})["self_query"] = _view_json(own)


def step_joint_punishment(ctx: DemoContext) -> None:
    """(c) An enforcement officer sees serious records only: a listed company and its legal rep."""
    targets: list[tuple[str, SubjectRef]] = [("listed organisation", ctx.organisation)]
    if ctx.legal_representative is not None:
        targets.append(("its legal representative", ctx.legal_representative))
    rows = []
    views = []
    today = ctx.vault.today()
    for label, subject in targets:
        d = ctx.vault.query(
            ENFORCEMENT_OFFICER,
            purpose="joint_punishment",
            subject=subject,
            ticket=PUNISHMENT_TICKET,
        )
        ctx.check(bool(d.records), f"joint punishment finds serious records for the {label}")
        for r in d.records:
            ctx.check(
                ctx.vault.catalog.get(r.category).severity == "serious",
                f"joint punishment sees serious categories only ({r.category})",
            )
            rows.append(
                (
                    f"{label}\n{masked(subject)}",
                    r.category,
                    r.decided_on,
                    _window(r, today),
                    r.facts.get("list_name") or _short(r.facts.get("summary")),
                    r.facts.get("responsible_role"),
                    r.withheld_fields,
                )
            )
        views.append({"subject": label, **_view_json(d)})
    ctx.out.line(
        f"reader: {ENFORCEMENT_OFFICER.role} {ENFORCEMENT_OFFICER.id}, ticket {PUNISHMENT_TICKET}"
    )
    ctx.out.table(
        ("subject", "category", "decided", "window", "list / summary", "role", "withheld"),
        rows,
        wrap=("subject", "withheld"),
        caption="general records (e.g. environment penalties) are not part of this purpose",
    )
    ctx.report.setdefault("views", {})["joint_punishment"] = views


@dataclass(frozen=True, slots=True)
class _Attempt:
    label: str
    actor: Actor
    purpose: str
    ticket: str | None
    expected: str


def step_denials(ctx: DemoContext) -> None:
    """(d) Refused reads: each raises a typed error and is logged before anything is read."""
    someone_else = ctx.data.persons[2]
    attempts = [
        _Attempt(
            "licensing review without a ticket",
            LICENSING_OFFICER,
            "licensing_review",
            None,
            "ticket_required",
        ),
        _Attempt(
            "a lender tries a licensing review (wrong role)",
            THIRD_PARTY,
            "licensing_review",
            LICENSING_TICKET,
            "permission_denied",
        ),
        _Attempt(
            "authorized query without the subject's consent",
            THIRD_PARTY,
            "authorized_query",
            None,
            "consent_required",
        ),
        _Attempt(
            "another person's self query",
            Actor(id="portal-user-0002", role="subject", subject=someone_else),
            "self_query",
            None,
            "permission_denied",
        ),
    ]
    rows = []
    report = []
    for a in attempts:
        before = ctx.vault.audit.head().size
        code = "(not denied)"
        try:
            ctx.vault.query(a.actor, purpose=a.purpose, subject=ctx.person, ticket=a.ticket)
        except CreditVaultError as exc:
            code = exc.code
        entry = ctx.last_entry()
        logged = entry.get("seq") == before and entry.get("outcome") == "denied"
        ctx.check(code == a.expected, f"{a.label}: refused with {a.expected}")
        ctx.check(logged, f"{a.label}: the refusal is in the access log")
        seq = entry.get("seq") if logged else None
        rows.append((a.label, a.actor.role, a.purpose, code, seq, entry.get("reason")))
        report.append(
            {
                "attempt": a.label,
                "role": a.actor.role,
                "purpose": a.purpose,
                "error": code,
                "logged_seq": seq,
                "reason": entry.get("reason"),
            }
        )
    ctx.out.table(
        ("attempt", "role", "purpose", "error code", "logged as seq", "reason"),
        rows,
        wrap=("attempt",),
    )
    ctx.report["denials"] = report


def step_audit(ctx: DemoContext) -> None:
    """Verify the access log, sign a checkpoint, show the verifier key and the log's entries."""
    audit = ctx.vault.audit
    first = audit.verify()
    ctx.check(first.ok, "the access log verifies")
    note = audit.checkpoint()
    second = audit.verify()
    ctx.check(second.ok, "the access log verifies against the signed checkpoint")
    ctx.check(second.checkpoints_checked >= 1, "the signed checkpoint was checked")
    key = audit.verifier_key()
    ctx.out.line(
        f"verify: {'OK' if second.ok else 'FAILED'} - {second.entries} entries, "
        f"root {second.root.hex()}, {second.checkpoints_checked} signed checkpoint(s) checked"
    )
    for problem in second.problems:
        ctx.out.line(f"  problem: {problem}")
    ctx.out.line("signed checkpoint:")
    for text_line in note.decode("utf-8").rstrip("\n").split("\n"):
        ctx.out.line(f"  {text_line}")
    ctx.out.line(f"verifier key (public): {key}")

    rows = []
    log = []
    for e in audit.entries():
        fields = list(e.get("fields", []))
        shown = ", ".join(fields)
        rows.append(
            (
                e.get("seq"),
                e.get("op"),
                e.get("actor"),
                e.get("role"),
                e.get("purpose") or "-",
                _outcome(e),
                len(e.get("records", [])),
                shown or "-",
            )
        )
        log.append(
            {
                "seq": e.get("seq"),
                "op": e.get("op"),
                "actor": e.get("actor"),
                "role": e.get("role"),
                "purpose": e.get("purpose"),
                "outcome": e.get("outcome"),
                "reason": e.get("reason"),
                "records": len(e.get("records", [])),
                "fields": fields,
            }
        )
    ctx.out.table(
        ("seq", "op", "actor", "role", "purpose", "outcome", "#records", "fields (names only)"),
        rows,
        wrap=("outcome", "fields (names only)"),
        caption="subjects appear in the log as keyed pseudonyms; field values never do",
    )
    ctx.report["audit"] = {
        "ok": second.ok,
        "entries": second.entries,
        "root": second.root.hex(),
        "checkpoints_checked": second.checkpoints_checked,
        "checkpoint": note.decode("utf-8"),
        "verifier_key": key,
        "problems": list(second.problems),
    }
    ctx.report["log"] = log


STEPS: list[DemoStep] = [
    DemoStep("sources", "Sources registered (admin)", step_sources),
    DemoStep("ingest", "Records ingested, one transaction per source", step_ingest),
    DemoStep("licensing", "(a) Licensing review, with a ticket", step_licensing),
    DemoStep("self_query", "(b) The subject's own view vs the licensing view", step_self_view),
    DemoStep(
        "joint_punishment", "(c) Joint punishment: serious records only", step_joint_punishment
    ),
    DemoStep("denials", "(d) Refused reads, each logged", step_denials),
    DemoStep("objection_upheld", "Objection upheld, record corrected", _wf.step_objection_upheld),
    DemoStep("objection_rejected", "Objection rejected, with reasons", _wf.step_objection_rejected),
    DemoStep("repair", "Credit repair approved: disclosure ends early", _wf.step_repair_approved),
    DemoStep("audit_export", "Audit export verified offline; who saw my data", step_audit_export),
    DemoStep("window_ends", "A record leaves disclosure as the clock passes", _lc.step_window_ends),
    DemoStep("sweep", "Sweep: windows closed, records past retention purged", _lc.step_sweep),
    DemoStep("key_rotation", "Key rotation: new KEK, every data key re-wrapped", step_key_rotation),
    DemoStep("audit", "Access log: verify, checkpoint, summary", step_audit),
]
"""The demo's steps, in order. Insert new ones before ``audit`` so the log is verified last."""


# --- driver --------------------------------------------------------------------------


def prepare_directory(directory: Path | None) -> Path:
    """A new temporary directory, or ``directory`` if it is empty or does not exist yet."""
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="credit-vault-demo-"))
    if directory.exists():
        if not directory.is_dir() or any(directory.iterdir()):
            raise click.BadParameter(
                "must be an empty directory or a path that does not exist", param_hint="--dir"
            )
    else:
        try:
            directory.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot create it ({exc.strerror or type(exc).__name__})", param_hint="--dir"
            ) from None
    return directory


def run_demo(directory: Path, out: Output, steps: Sequence[DemoStep] | None = None) -> DemoContext:
    """Create the vault in ``directory`` and run ``steps`` (default :data:`STEPS`).

    Returns the context, with its report and the checks that failed.
    """
    if steps is None:
        steps = STEPS
    key_file = directory / "vault.keys"
    database = directory / "vault.db"
    keys = FileKeyProvider.create(key_file)
    clock = FrozenClock(DEMO_NOW)
    data = load_dataset()
    out.info(f"demo directory: {directory}")
    with Vault.open(
        f"sqlite:///{database}", keys=keys, clock=clock, origin="credit-vault-demo"
    ) as vault:
        ctx = DemoContext(
            vault=vault,
            clock=clock,
            data=data,
            directory=directory,
            database=database,
            key_file=key_file,
            out=out,
        )
        ctx.report.update(
            {
                "directory": str(directory),
                "database": str(database),
                "key_file": str(key_file),
                "now": DEMO_NOW.isoformat(),
                "today": vault.today().isoformat(),
                "steps": [s.name for s in steps],
            }
        )
        out.heading("credit-vault demo")
        out.line(f"directory : {directory}")
        out.line(f"database  : {database}")
        out.line(f"key file  : {key_file} (mode 0600; keep it apart from the database in real use)")
        out.line(
            f"clock     : frozen at {DEMO_NOW.isoformat()} "
            f"(today is {vault.today()} in {vault.timezone})"
        )
        out.line(
            f"data set  : {len(data.persons)} persons, {len(data.organisations)} organisations, "
            f"{len(data.records)} records (synthetic)"
        )
        for number, step in enumerate(steps, start=1):
            title = f"{number}. {step.title}"
            out.info(f"step: {title}")
            out.heading(title)
            step.run(ctx)
    return ctx


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to create the demo vault (empty or new); default: a new temporary directory.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON report on stdout instead of tables."
)
def demo(directory: Path | None, as_json: bool) -> None:
    """Run a demonstration on a fresh vault with synthetic data.

    Creates a SQLite vault and a key file, ingests the bundled synthetic data set
    from several sources, reads it for several purposes (licensing review, the
    subject's own view, joint punishment), shows refused reads, and verifies and
    signs the access log. The clock is frozen, so the output is reproducible.
    Exits 1 if any of the demo's checks fails.
    """
    out = Output(json_mode=as_json)
    started = time.perf_counter()
    target = prepare_directory(directory)
    ctx = run_demo(target, out)
    ctx.report["ok"] = not ctx.failures
    ctx.report["checks"] = ctx.checks
    ctx.report["failures"] = list(ctx.failures)
    out.emit_json(ctx.report)
    elapsed = time.perf_counter() - started
    if ctx.failures:
        out.line()
        out.line(f"demo FAILED: {len(ctx.failures)} of {ctx.checks} checks failed", style="red")
        fail(
            "demo_check_failed",
            f"{len(ctx.failures)} demo check(s) failed, first: {ctx.failures[0]}",
        )
    out.line()
    out.line(f"demo OK: all {ctx.checks} checks passed", style="green")
    out.info(f"done in {elapsed:.1f} s; the demo vault is kept in {target} (delete it when done)")
