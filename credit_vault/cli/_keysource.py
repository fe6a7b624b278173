"""Opening the ``--keys`` file of a command: plain, or sealed under a passphrase.

A plain key-set file opens with :class:`~credit_vault.crypto.FileKeyProvider`. A
sealed one (format ``credit_vault/sealed-key-set``) opens with
:class:`~credit_vault.crypto.PassphraseKeyProvider`, the passphrase taken from, in
order: ``--passphrase-file`` (its first line), the ``CREDIT_VAULT_PASSPHRASE``
environment variable, or a hidden prompt when stdin is a terminal. The passphrase
is never a command-line argument and never echoed.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

import click

from credit_vault.cli._main import VaultConfigError, fail

if TYPE_CHECKING:
    from credit_vault.crypto import FileKeyProvider, PassphraseKeyProvider

__all__ = [
    "PASSPHRASE_ENV",
    "keys_file_option",
    "new_passphrase",
    "open_key_file",
    "passphrase_file_option",
]

PASSPHRASE_ENV = "CREDIT_VAULT_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret

# A key-set file is at most 1 MiB (the library refuses larger ones); a passphrase
# file holds one line.
_MAX_KEY_FILE_BYTES = 1 << 20
_MAX_PASSPHRASE_FILE_BYTES = 64 * 1024

_F = TypeVar("_F", bound=Callable[..., object])

_KEYS_OPTION = click.option(
    "--keys",
    "keyfile",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=(
        "Key-set file of the vault (the database must belong to it); plain, or sealed "
        "under a passphrase (see --passphrase-file)."
    ),
)

_PASSPHRASE_OPTION = click.option(
    "--passphrase-file",
    "passphrase_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help=(
        "For a sealed key file: read its passphrase from this file's first line (only "
        f"its owner may have access, as for the key file). Without it: ${PASSPHRASE_ENV}, "
        "else a hidden prompt on a terminal."
    ),
)


def keys_file_option(func: _F) -> _F:
    """``--keys KEYFILE`` (required, must exist) and ``--passphrase-file PATH``."""
    return _KEYS_OPTION(_PASSPHRASE_OPTION(func))


def passphrase_file_option(func: _F) -> _F:
    """``--passphrase-file PATH``, for a command whose ``--keys`` option is its own."""
    return _PASSPHRASE_OPTION(func)


def open_key_file(
    keyfile: Path, passphrase_file: Path | None = None
) -> FileKeyProvider | PassphraseKeyProvider:
    """The provider of ``keyfile``: plain as it is, sealed with the operator's passphrase.

    Every error is one ``error [code]: message`` line with exit 3: the library's
    :class:`~credit_vault.errors.KeyFileError` for a missing, unsafe or malformed
    file, its :class:`~credit_vault.errors.IntegrityError` (message without the
    passphrase) for a wrong passphrase, ``key_file_error`` when no passphrase can
    be had.
    """
    from credit_vault.crypto import FileKeyProvider
    from credit_vault.errors import KeyFileError

    try:
        provider = FileKeyProvider(keyfile)
    except KeyFileError:
        # FileKeyProvider refuses a sealed file only after its file-type and
        # permission checks, so a sealed file that fails those keeps that (more
        # useful) error and is never asked a passphrase for; nor is a FIFO re-read.
        if not _private_regular_file(keyfile) or not _is_sealed(keyfile):
            raise
        return _open_sealed(keyfile, passphrase_file)
    if passphrase_file is not None:
        click.echo(f"warning: {keyfile} is not sealed; --passphrase-file is not used", err=True)
    return provider


def _open_sealed(keyfile: Path, passphrase_file: Path | None) -> PassphraseKeyProvider:
    from credit_vault.crypto import PassphraseKeyProvider
    from credit_vault.errors import IntegrityError

    passphrase = _passphrase(keyfile, passphrase_file)
    try:
        return PassphraseKeyProvider(keyfile, passphrase)
    except IntegrityError as exc:
        # Its message says "wrong passphrase, or the file was altered" and nothing
        # else; a key error, so exit 3 like the other key-file errors.
        raise VaultConfigError(exc.code, exc.message) from None


def _passphrase(keyfile: Path, passphrase_file: Path | None, *, new: bool = False) -> str:
    """The operator's passphrase: ``--passphrase-file``, the variable, or a prompt.

    With ``new`` (sealing a new file) the prompt asks twice: a typo would lock the
    keys away for good.
    """
    if passphrase_file is not None:
        return _read_passphrase_file(passphrase_file)
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return _checked(from_env, f"${PASSPHRASE_ENV}")
    if _stdin_is_tty():
        entered: str = click.prompt(
            f"Passphrase {'for' if new else 'of'} {keyfile}",
            hide_input=True,
            confirmation_prompt=new,
            err=True,
            show_default=False,
        )
        return _checked(entered, "the prompt")
    what = "sealing" if new else "the key file"
    why = "needs a passphrase" if new else "is sealed"
    raise VaultConfigError(
        "key_file_error",
        f"{what} {str(keyfile)!r} {why}; give --passphrase-file, set "
        f"{PASSPHRASE_ENV} or run interactively",
    )


def new_passphrase(keyfile: Path, passphrase_file: Path | None) -> str:
    """The passphrase to seal a new key file under (see :func:`_passphrase`)."""
    return _passphrase(keyfile, passphrase_file, new=True)


def _read_passphrase_file(path: Path) -> str:
    """The first line of ``path`` (newline stripped), if only its owner may read it."""
    shown = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        _refuse(f"passphrase file {shown!r} cannot be opened ({type(exc).__name__})")
    try:
        # The key-file rule (docs/crypto.md): nothing for group or others. Checked
        # on the open descriptor, so the file read is the file checked.
        if os.name == "posix" and os.fstat(fd).st_mode & 0o077:
            _refuse(
                f"passphrase file {shown!r} is readable or writable by group or others; "
                "chmod 600 it (only its owner may have access)"
            )
        with open(fd, "rb", closefd=False) as stream:
            data = stream.read(_MAX_PASSPHRASE_FILE_BYTES + 1)
    except OSError as exc:
        _refuse(f"passphrase file {shown!r} cannot be read ({type(exc).__name__})")
    finally:
        os.close(fd)
    if len(data) > _MAX_PASSPHRASE_FILE_BYTES:
        _refuse(f"passphrase file {shown!r} is larger than 64 KiB")
    line = data.split(b"\n", 1)[0].removesuffix(b"\r")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        _refuse(f"the first line of passphrase file {shown!r} is not UTF-8")
    if not text:
        _refuse(f"the first line of passphrase file {shown!r} is empty")
    return text


def _checked(passphrase: str, where: str) -> str:
    # A non-UTF-8 environment value arrives with lone surrogates, which the library
    # would refuse with a bare ValueError.
    try:
        passphrase.encode("utf-8")
    except UnicodeEncodeError:
        _refuse(f"the passphrase from {where} is not valid UTF-8")
    return passphrase


def _refuse(message: str) -> NoReturn:
    fail("key_file_error", message, config=True)


def _is_sealed(path: Path) -> bool:
    """Whether ``path`` holds a sealed key set, told the way the library tells it: its format."""
    from credit_vault.crypto._keys import SEALED_KEY_SET_FORMAT

    try:
        with open(path, "rb") as stream:
            doc = json.loads(stream.read(_MAX_KEY_FILE_BYTES + 1).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and doc.get("format") == SEALED_KEY_SET_FORMAT


def _private_regular_file(path: Path) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and (os.name != "posix" or not mode & 0o077)


def _stdin_is_tty() -> bool:
    try:
        return bool(sys.stdin.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False
