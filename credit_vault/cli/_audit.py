"""``credit-vault audit``: offline verification, verifier key, review, export, checkpoints.

``audit verify`` needs only the export and the public verifier key line; it
exits 0 only when every check holds and otherwise prints the first failing
sequence number. The other commands open the vault with its key file and act
as an auditor (role ``auditor``; every export and review is logged).
"""

from __future__ import annotations

import sys
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from credit_vault.cli._db import read_vault_url
from credit_vault.cli._keysource import keys_file_option, open_key_file
from credit_vault.cli._main import Output, fail

if TYPE_CHECKING:
    from credit_vault import Actor, Vault

__all__ = ["audit"]

_ACTOR = click.option(
    "--actor",
    "actor_id",
    default="credit-vault-auditor",
    show_default=True,
    help="Actor id recorded in the access log (acting with the auditor role).",
)
_ORG = click.option(
    "--organisation", "organisation", default=None, help="The auditor's organisation."
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")


def _when(value: str | None, what: str) -> date | datetime | None:
    """A date (YYYY-MM-DD, local to the vault) or an ISO datetime with an offset."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            "use YYYY-MM-DD or an ISO datetime with offset", param_hint=what
        ) from None
    if parsed.tzinfo is None:
        raise click.BadParameter("a datetime needs a UTC offset (e.g. +08:00)", param_hint=what)
    return parsed


def _open(
    url: str, keyfile: Path, passphrase_file: Path | None, policy: Path | None = None
) -> Vault:
    from credit_vault import Policy, Vault

    url = read_vault_url(url)
    return Vault.open(
        url,
        keys=open_key_file(keyfile, passphrase_file),
        policy=Policy.from_file(policy) if policy is not None else None,
    )


def _auditor(actor_id: str, organisation: str | None) -> Actor:
    from credit_vault import Actor

    return Actor(id=actor_id, role="auditor", organisation=organisation)


@click.group("audit")
def audit() -> None:
    """The access log: verify exports offline, review, export, sign checkpoints."""


def _key_line(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """Check --key's form up front: a malformed key line is a usage error (exit 2)."""
    from credit_vault.audit import parse_verifier_key
    from credit_vault.errors import InputError

    try:
        parse_verifier_key(value)
    except InputError as exc:
        raise click.BadParameter(exc.message) from None
    return value


@audit.command("verify")
@click.argument("bundle", metavar="BUNDLE", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--key",
    "key",
    required=True,
    metavar="KEYLINE",
    callback=_key_line,
    help="The vault's verifier key line (name+keyid+base64key; public, see `audit public-key`).",
)
@click.option(
    "--previous",
    "previous",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    metavar="CHECKPOINT_FILE",
    help="A signed checkpoint you kept from before: the bundle must extend it.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes hashing entries (default: CPU count, at most 4).",
)
@_JSON
def verify(
    bundle: Path, key: str, previous: Path | None, workers: int | None, as_json: bool
) -> None:
    """Verify an exported BUNDLE (directory or .zip) or a subject extract offline.

    A file that is not a .zip archive is read as a subject extract, whatever its
    name. Feeds (csv, ocsf, cef) carry no proofs: verify the bundle of their range.

    Checks the checkpoint signatures, the canonical form of every entry, dense
    sequence numbers, timestamps that never go backwards, the Merkle root at
    every signed checkpoint and the consistency proofs between them, and with
    --previous the consistency with your earlier checkpoint (truncation,
    rewritten history). Exits 0 only when all holds; otherwise prints the first
    failing sequence number and exits 1.
    """
    from credit_vault.audit import verify_bundle, verify_subject_extract

    out = Output(json_mode=as_json)
    report: Any
    if bundle.is_file() and not zipfile.is_zipfile(bundle):
        if previous is not None:
            raise click.BadParameter("--previous is for bundles", param_hint="--previous")
        report = verify_subject_extract(bundle, key)
    else:
        report = verify_bundle(bundle, key, previous=previous, workers=workers)
    for text in report.summary().split("\n"):
        out.line(text)
    out.emit_json(report.to_dict())
    if not report.ok:
        fail(
            "audit_verification_failed",
            f"the export does not verify; first failing sequence number: {report.first_bad_seq}",
        )


@audit.command("public-key")
@keys_file_option
@click.option(
    "--origin",
    default=None,
    help="The log's origin, if the vault was opened with its own (default: from the key set).",
)
@click.option(
    "--url",
    "url",
    default=None,
    help="Read the origin from this vault's database instead (- for stdin).",
)
def public_key(
    keyfile: Path, passphrase_file: Path | None, origin: str | None, url: str | None
) -> None:
    """Print the verifier key line auditors need (public; safe to publish)."""
    from credit_vault.audit import verifier_key_line

    if url is not None:
        if origin is not None:
            raise click.BadParameter("give --origin or --url, not both", param_hint="--origin")
        with _open(url, keyfile, passphrase_file) as vault:
            click.echo(vault.audit.verifier_key())
        return
    key_set = open_key_file(keyfile, passphrase_file).key_set()
    name = origin or f"credit-vault/{key_set.fingerprint}"
    click.echo(verifier_key_line(name, key_set.audit_signer.public_key))


@audit.command("checkpoint")
@click.argument("url", metavar="URL")
@keys_file_option
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the signed checkpoint to this file (keep it for --previous).",
)
def checkpoint(
    url: str, keyfile: Path, passphrase_file: Path | None, out_file: Path | None
) -> None:
    """Sign a checkpoint of the log at URL now and print it (signed-note text)."""
    if out_file is not None and not out_file.parent.is_dir():
        # Checked before signing: a checkpoint is stored in the log when it is signed.
        raise click.BadParameter(
            f"{str(out_file.parent)!r} is not an existing directory", param_hint="--out"
        )
    with _open(url, keyfile, passphrase_file) as vault:
        note = vault.audit.checkpoint()
    text = note.decode("utf-8")
    if out_file is not None:
        try:
            out_file.write_bytes(note)
        except OSError as exc:
            click.echo(text, nl=False)  # signed and stored already: do not lose it
            fail(
                "output_error",
                f"the checkpoint was signed and printed but could not be written to "
                f"{str(out_file)!r} ({type(exc).__name__})",
            )
    click.echo(text, nl=False)


@audit.command("export")
@click.argument("url", metavar="URL")
@keys_file_option
@click.option(
    "--dest",
    "dest",
    required=True,
    type=click.Path(path_type=Path),
    help="Where to write: a new directory or .zip (bundle), or a new file.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["bundle", "subject", "csv", "ocsf", "cef"]),
    default="bundle",
    show_default=True,
)
@click.option("--since", default=None, help="First day (YYYY-MM-DD) or ISO datetime.")
@click.option("--until", default=None, help="Last day (inclusive) or ISO datetime (exclusive).")
@click.option(
    "--previous",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Your earlier signed checkpoint: the bundle then carries a proof linking it.",
)
@click.option(
    "--subject-kind",
    type=click.Choice(["person", "organisation"]),
    default=None,
    help="For --format subject: the subject's identifier is read from stdin.",
)
@_ACTOR
@_ORG
@_JSON
def export(
    url: str,
    keyfile: Path,
    passphrase_file: Path | None,
    dest: Path,
    fmt: str,
    since: str | None,
    until: str | None,
    previous: Path | None,
    subject_kind: str | None,
    actor_id: str,
    organisation: str | None,
    as_json: bool,
) -> None:
    """Export the access log at URL as an auditor (the export itself is logged)."""
    from credit_vault import SubjectRef

    out = Output(json_mode=as_json)
    subject = None
    if fmt == "subject":
        if subject_kind is None:
            raise click.BadParameter("--format subject needs --subject-kind", param_hint="--format")
        if url == "-":
            raise click.BadParameter("stdin carries the subject's identifier", param_hint="URL")
        # An identifier is personal data: never a command-line argument.
        ident = sys.stdin.readline().strip()
        if not ident:
            raise click.BadParameter("no identifier on stdin", param_hint="--subject-kind")
        subject = (
            SubjectRef.person(ident) if subject_kind == "person" else SubjectRef.organisation(ident)
        )
    with _open(url, keyfile, passphrase_file) as vault:
        result = vault.audit.export(
            _auditor(actor_id, organisation),
            dest,
            since=_when(since, "--since"),
            until=_when(until, "--until"),
            format=fmt,
            subject=subject,
            previous=previous,
        )
        key = vault.audit.verifier_key()
    out.info(
        f"exported {result.entries} entries to {result.path}; logged as seq {result.export_seq}"
    )
    out.table(
        ("format", "path", "entries", "range", "signed tree size", "root"),
        [
            (
                result.format,
                str(result.path),
                result.entries,
                f"[{result.start}, {result.end})",
                result.tree_size,
                result.root.hex(),
            )
        ],
        wrap=("path",),
    )
    if result.format in ("bundle", "subject"):
        out.line(f"verify with: credit-vault audit verify {result.path} --key {key}")
    else:
        out.line(
            "a feed carries no proofs: to verify these entries, export and verify the "
            "bundle of the same range"
        )
    out.emit_json(
        {
            "format": result.format,
            "path": str(result.path),
            "entries": result.entries,
            "start": result.start,
            "end": result.end,
            "tree_size": result.tree_size,
            "root": result.root.hex(),
            "checkpoint": result.checkpoint.decode("utf-8"),
            "export_seq": result.export_seq,
            "verifier_key": key,
        }
    )


@audit.command("review")
@click.argument("url", metavar="URL")
@keys_file_option
@click.option("--since", required=True, help="First day (YYYY-MM-DD) or ISO datetime.")
@click.option("--until", required=True, help="Last day (inclusive) or ISO datetime (exclusive).")
@click.option(
    "--policy",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Policy TOML whose [review] thresholds to use (default: the built-in policy).",
)
@_ACTOR
@_ORG
@_JSON
def review(
    url: str,
    keyfile: Path,
    passphrase_file: Path | None,
    since: str,
    until: str,
    policy: Path | None,
    actor_id: str,
    organisation: str | None,
    as_json: bool,
) -> None:
    """Review who read what at URL: flags per the policy's [review] thresholds.

    Flags: many distinct subjects per actor and day, reads outside working
    hours, denial bursts, purposes used without the ticket the policy expects,
    reads of records the actor's own organisation supplied, and silent gaps in
    the log. The review itself is logged.
    """
    start, end = _when(since, "--since"), _when(until, "--until")
    if start is None or end is None:  # pragma: no cover - both options are required
        raise click.UsageError("--since and --until are required")
    out = Output(json_mode=as_json)
    with _open(url, keyfile, passphrase_file, policy) as vault:
        report = vault.audit.review(_auditor(actor_id, organisation), start, end)
    out.line(
        f"review of [{report.since}, {report.until}): {report.entries} entries, "
        f"{report.reads} reads, {report.denials} denials, {len(report.findings)} finding(s)"
    )
    counts = report.counts()
    out.line(", ".join(f"{k}: {v}" for k, v in counts.items()))
    if report.findings:
        out.table(report.COLUMNS, report.rows(), wrap=("detail", "sequence numbers"))
    out.emit_json(report.to_dict())
