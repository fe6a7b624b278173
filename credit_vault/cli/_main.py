"""The ``credit-vault`` command group: lazy subcommands, exit codes, error lines, output.

A subcommand lives in its own module under ``credit_vault.cli`` and is listed in
:data:`COMMANDS` as ``name -> "module:attribute"``; adding one is one line there.
Modules are imported only when their command runs (or help lists it), so
``credit-vault --help`` stays fast.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any, ClassVar, NoReturn

import click

from credit_vault.errors import (
    ConfigurationError,
    CreditVaultError,
    InvalidCatalog,
    InvalidPolicy,
    KeyError_,
)

__all__ = [
    "COMMANDS",
    "EXIT_CONFIG",
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "Output",
    "VaultCommandError",
    "VaultConfigError",
    "exit_code_for",
    "fail",
    "main",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3

COMMANDS: dict[str, str] = {
    "audit": "credit_vault.cli._audit:audit",
    "db": "credit_vault.cli._db:db",
    "demo": "credit_vault.cli._demo:demo",
    "keys": "credit_vault.cli._keys:keys",
    "sweep": "credit_vault.cli._sweep:sweep",
}
"""Subcommands: name -> ``"module:attribute"`` of a :class:`click.Command`."""

_OFF_TERMINAL_WIDTH = 150

_CONFIG_ERRORS: tuple[type[CreditVaultError], ...] = (
    ConfigurationError,
    KeyError_,
    InvalidCatalog,
    InvalidPolicy,
)


def exit_code_for(error: CreditVaultError) -> int:
    """3 for configuration and key errors, 1 for every other library error."""
    return EXIT_CONFIG if isinstance(error, _CONFIG_ERRORS) else EXIT_FAILURE


class VaultCommandError(click.ClickException):
    """A :class:`CreditVaultError` shown as one line, ``error [code]: message``, on stderr.

    Exits 1; :class:`VaultConfigError` is the same for configuration and key errors (exit 3).
    """

    exit_code: ClassVar[int] = EXIT_FAILURE

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    @staticmethod
    def from_error(error: CreditVaultError) -> VaultCommandError:
        """Translate a library error (its message names the rule, never a personal value)."""
        cls = VaultConfigError if exit_code_for(error) == EXIT_CONFIG else VaultCommandError
        return cls(error.code, error.message)

    def format_message(self) -> str:
        """The single line shown to the user."""
        text = " ".join(str(self.message).split())
        return f"error [{self.code}]: {text}"

    def show(self, file: IO[Any] | None = None) -> None:
        """Write the line to stderr (no traceback: the error is an expected one)."""
        click.echo(self.format_message(), file=file, err=file is None)


class VaultConfigError(VaultCommandError):
    """A configuration or key error, shown as one line; exits 3."""

    exit_code: ClassVar[int] = EXIT_CONFIG


def fail(code: str, message: str, *, config: bool = False) -> NoReturn:
    """Stop the command with an ``error [code]: message`` line (exit 1, or 3 with ``config``)."""
    raise (VaultConfigError if config else VaultCommandError)(code, message)


class _LazyGroup(click.Group):
    """A group whose subcommands are imported on first use and whose errors become lines."""

    def __init__(self, *args: Any, lazy: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Eager and lazy subcommands, sorted."""
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import a lazy subcommand when it is asked for."""
        if cmd_name in self._lazy:
            return _load(self._lazy[cmd_name], cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; expected library errors become one line and an exit code."""
        try:
            return super().invoke(ctx)
        except CreditVaultError as exc:
            raise VaultCommandError.from_error(exc) from None


def _load(target: str, name: str) -> click.Command:
    module_name, _, attr = target.partition(":")
    command = getattr(importlib.import_module(module_name), attr)
    if not isinstance(command, click.Command):  # pragma: no cover - a wiring mistake
        raise TypeError(f"{target} is not a click command")
    if command.name != name:  # pragma: no cover - a wiring mistake
        raise TypeError(f"{target} is named {command.name!r}, registered as {name!r}")
    return command


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from credit_vault import __version__

    click.echo(f"credit-vault {__version__}")
    ctx.exit(EXIT_OK)


@click.group(
    cls=_LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
def main() -> None:
    """credit-vault: operate and demonstrate a credit_vault store.

    Progress and information go to stderr; results go to stdout (``--json``
    where a command offers it, for scripts). Secrets are never command-line
    options: keys come from the --keys file; the passphrase of a sealed key
    file from --passphrase-file, $CREDIT_VAULT_PASSPHRASE or a hidden prompt
    (only on a terminal); a database password from stdin (URL -), .pgpass or
    $PGPASSWORD.

    \b
    Exit codes:
      0  success
      1  failure (an operation failed, a check or verification did not pass,
         the database could not be reached or opened: storage_error)
      2  usage error (bad options or arguments)
      3  configuration or key error (a malformed or unsupported database URL, a URL
         with no vault for a maintenance command, key file, catalogue, policy)

    Expected errors print one line on stderr: error [code]: message
    """


# --- output ------------------------------------------------------------------------


class Output:
    """Where a command writes: Rich tables on stdout, progress on stderr, or JSON only.

    With ``json_mode`` the human tables are left out and :meth:`emit_json` writes
    one JSON document to stdout; progress still goes to stderr.
    """

    def __init__(self, *, json_mode: bool = False, quiet: bool = False) -> None:
        from rich.console import Console

        self.json_mode = json_mode
        self.quiet = quiet
        # Looked up now, not at import, so that a test runner's streams are used.
        out, err = sys.stdout, sys.stderr
        # Off a terminal Rich would wrap to 80 columns; a log file reads better wider.
        width = _OFF_TERMINAL_WIDTH
        self._out = Console(
            file=out, highlight=False, width=None if _isatty(out) else width, soft_wrap=False
        )
        self._err = Console(
            file=err, highlight=False, width=None if _isatty(err) else width, soft_wrap=True
        )

    def info(self, message: str) -> None:
        """A progress or information line on stderr."""
        if not self.quiet:
            self._err.print(message, markup=False)

    def warn(self, message: str) -> None:
        """A warning line on stderr (shown even when quiet)."""
        self._err.print(f"warning: {message}", markup=False, style="yellow")

    def heading(self, title: str) -> None:
        """A section heading on stdout (human mode only)."""
        if not self.json_mode:
            from rich.text import Text

            self._out.print()
            self._out.rule(Text(title, style="bold"), align="left", characters="=")

    def line(self, text: str = "", *, style: str | None = None) -> None:
        """A plain line on stdout (human mode only); never parsed as markup.

        Never broken at the terminal's width either: a line may be a command to copy.
        """
        if not self.json_mode:
            self._out.print(text, markup=False, style=style, soft_wrap=True)

    def table(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[object]],
        *,
        title: str | None = None,
        caption: str | None = None,
        wrap: Sequence[str] = (),
    ) -> None:
        """A table on stdout (human mode only). Cells are text, never markup.

        Only the columns named in ``wrap`` wrap their text; the others stay on one line.
        """
        if self.json_mode:
            return
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(
            title=title,
            caption=caption,
            box=box.SIMPLE_HEAD,
            title_justify="left",
            caption_justify="left",
            show_lines=False,
            pad_edge=False,
        )
        for col in columns:
            if col in wrap:
                table.add_column(col, overflow="fold", ratio=1)
            else:
                table.add_column(col, no_wrap=True)
        for row in rows:
            table.add_row(*(Text(_cell(v)) for v in row))
        self._out.print(table)

    def emit_json(self, document: object) -> None:
        """One JSON document on stdout (JSON mode only)."""
        if self.json_mode:
            click.echo(json.dumps(document, ensure_ascii=False, indent=2, default=str))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value) or "-"
    return str(value)


def _isatty(stream: IO[Any]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or wrapped streams
        return False
