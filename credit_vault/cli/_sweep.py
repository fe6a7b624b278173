"""``credit-vault sweep``: mark ended disclosure windows and purge records past retention."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from credit_vault.cli._db import read_vault_url
from credit_vault.cli._keysource import keys_file_option, open_key_file
from credit_vault.cli._main import Output

if TYPE_CHECKING:
    from credit_vault._lifecycle import SweepProgress

__all__ = ["sweep"]


class _Bar:
    """A Rich progress bar on stderr, one task per sweep phase."""

    def __init__(self, *, quiet: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(file=sys.stderr),
            disable=quiet,
        )
        self._tasks: dict[str, Any] = {}
        self._started = False

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._started:
            self._progress.stop()

    def __call__(self, event: SweepProgress) -> None:
        # Started on the first batch, so that a sweep with nothing due draws nothing.
        if not self._started:
            self._progress.start()
            self._started = True
        task = self._tasks.get(event.phase)
        label = "purging records past retention" if event.phase == "purge" else "closing windows"
        if task is None:
            task = self._tasks[event.phase] = self._progress.add_task(label, total=event.total)
        self._progress.update(task, completed=event.done, total=event.total)


@click.command("sweep")
@click.argument("url", metavar="URL")
@keys_file_option
@click.option(
    "--batch",
    "batch_size",
    type=click.IntRange(1, 10_000),
    default=500,
    show_default=True,
    help="Records per transaction (and per access-log entry).",
)
@click.option(
    "--actor",
    "actor_id",
    default="credit-vault-sweep",
    show_default=True,
    help="Actor id recorded in the access log (the sweep runs with the admin role).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def sweep(
    url: str,
    keyfile: Path,
    passphrase_file: Path | None,
    batch_size: int,
    actor_id: str,
    as_json: bool,
    quiet: bool,
) -> None:
    """Purge records past retention (crypto-shredding) and mark ended windows at URL.

    Reads never depend on the sweep (windows and purge dates are judged on every
    read); the sweep makes retention real: a purged record's data keys and
    ciphertexts are deleted and a tombstone without personal data stays. Safe to
    run from several processes or hosts at once, and to interrupt: the next run
    continues. Each batch is one transaction with one access-log entry. URL as
    for ``db upgrade`` (- reads it from stdin).
    """
    from credit_vault import Actor, Vault

    out = Output(json_mode=as_json, quiet=quiet)
    url = read_vault_url(url)
    actor = Actor(id=actor_id, role="admin")
    with Vault.open(url, keys=open_key_file(keyfile, passphrase_file)) as vault:
        out.info(f"sweeping as of {vault.today()} ({vault.timezone})")
        with _Bar(quiet=quiet) as bar:
            report = vault.sweep(actor, batch_size=batch_size, progress=bar)
    out.info(
        f"purged {report.purged} record(s), closed {report.expired} window(s) "
        f"in {report.batches} batch(es); summary logged as seq {report.access_seq}"
    )
    if report.wal_checkpointed is False:
        out.warn(
            "the SQLite WAL could not be truncated (another connection was reading); "
            "run the sweep again later so old pages leave the WAL"
        )
    out.table(
        ("as of", "purged", "windows closed", "batches", "log entries", "WAL truncated"),
        [
            (
                report.today,
                report.purged,
                report.expired,
                report.batches,
                len(report.entries),
                report.wal_checkpointed,
            )
        ],
    )
    out.emit_json(
        {
            "today": report.today.isoformat(),
            "purged": report.purged,
            "expired": report.expired,
            "batches": report.batches,
            "entries": list(report.entries),
            "wal_checkpointed": report.wal_checkpointed,
            "access_seq": report.access_seq,
        }
    )
