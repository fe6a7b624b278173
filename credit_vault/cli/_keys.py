"""``credit-vault keys``: rotate the KEK, re-wrap stored data keys, show which KEKs are in use."""

from __future__ import annotations

from pathlib import Path

import click

from credit_vault.cli._db import read_vault_url
from credit_vault.cli._keysource import (
    keys_file_option,
    new_passphrase,
    open_key_file,
    passphrase_file_option,
)
from credit_vault.cli._main import Output, fail

__all__ = ["keys"]

_ACTOR = click.option(
    "--actor",
    "actor_id",
    default="credit-vault-keys",
    show_default=True,
    help="Actor id recorded in the access log (key maintenance runs with the admin role).",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")

#: The shortest passphrase ``keys create --sealed`` accepts (Argon2id slows guessing;
#: it cannot make a short passphrase long).
MIN_NEW_PASSPHRASE = 12


@click.group("keys")
def keys() -> None:
    """Key files: `create` one; KEK rotation: `rotate` it, `rewrap` the vault, check `usage`.

    A rotation is three steps: `keys rotate --keys FILE` adds a new KEK and makes
    it current (new records are wrapped under it); `keys rewrap URL --keys FILE`
    re-wraps every stored data key under it; `keys usage URL --keys FILE` then
    shows no key under the old KEK, and only then may the old KEK be removed
    from the file (by hand: the library never deletes a KEK, and a KEK that still
    wraps keys takes their data with it).
    """


@keys.command("create")
@click.option(
    "--keys",
    "keyfile",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the new key-set file (it must not exist yet).",
)
@click.option(
    "--sealed",
    is_flag=True,
    help="Seal the file under a passphrase (Argon2id; at least 12 characters): from "
    "--passphrase-file, $CREDIT_VAULT_PASSPHRASE, or a prompt that asks twice.",
)
@passphrase_file_option
@_JSON
def create(keyfile: Path, sealed: bool, passphrase_file: Path | None, as_json: bool) -> None:
    """Write a new key-set file (a first KEK and the audit signing key), mode 0600.

    Keep it away from the database and back it up: without it nothing in the vault
    can be decrypted. An existing file is never overwritten.
    """
    from credit_vault.crypto import FileKeyProvider, PassphraseKeyProvider

    out = Output(json_mode=as_json)
    if passphrase_file is not None and not sealed:
        raise click.UsageError("--passphrase-file is only for --sealed")
    if keyfile.exists() or keyfile.is_symlink():
        # Before any prompt; the library refuses too (an existing file's keys may
        # protect data), this says it in the command's terms.
        fail(
            "key_file_error",
            f"{str(keyfile)!r} already exists; keys create never replaces a key file",
            config=True,
        )
    provider: FileKeyProvider | PassphraseKeyProvider
    if sealed:
        passphrase = new_passphrase(keyfile, passphrase_file)
        if len(passphrase) < MIN_NEW_PASSPHRASE:
            fail(
                "key_file_error",
                f"a new key file's passphrase must be at least {MIN_NEW_PASSPHRASE} characters",
                config=True,
            )
        provider = PassphraseKeyProvider.create(keyfile, passphrase)
    else:
        provider = FileKeyProvider.create(keyfile)
    current = provider.key_set().current_kek_id
    kind = "sealed" if sealed else "plain"
    out.info(f"{keyfile}: new {kind} key set, mode 0600, current KEK {current}")
    out.table(("file", "kind", "current KEK"), [(str(keyfile), kind, current)])
    out.emit_json({"file": str(keyfile), "sealed": sealed, "current_kek": current})


@keys.command("rotate")
@keys_file_option
@_JSON
def rotate(keyfile: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Add a KEK to the key file and make it current (older KEKs stay for unwrapping).

    A sealed key file stays sealed under the same passphrase.
    """
    from credit_vault.crypto import PassphraseKeyProvider

    out = Output(json_mode=as_json)
    provider = open_key_file(keyfile, passphrase_file)
    new_id = provider.rotate()
    kek_ids = provider.key_set().kek_ids
    sealed = " (still sealed)" if isinstance(provider, PassphraseKeyProvider) else ""
    out.info(f"{keyfile}{sealed}: current KEK is now {new_id}; run `credit-vault keys rewrap` next")
    out.table(("current KEK", "KEKs in the file"), [(new_id, ", ".join(kek_ids))])
    out.emit_json({"current_kek": new_id, "kek_ids": list(kek_ids)})


@keys.command("rewrap")
@click.argument("url", metavar="URL")
@keys_file_option
@click.option(
    "--batch",
    "batch_size",
    type=click.IntRange(1, 10_000),
    default=500,
    show_default=True,
    help="Keys per transaction (and per access-log entry).",
)
@_ACTOR
@_JSON
def rewrap(
    url: str,
    keyfile: Path,
    passphrase_file: Path | None,
    batch_size: int,
    actor_id: str,
    as_json: bool,
) -> None:
    """Re-wrap every data key stored at URL under the key file's current KEK.

    Each key is authenticated as it is unwrapped; field ciphertexts are not
    touched. Safe to run from several processes at once and to interrupt: the
    next run continues. URL as for ``db upgrade`` (- reads it from stdin); it
    must hold a vault already (a mistyped path is refused, exit 3).
    """
    from credit_vault import Actor, Vault

    out = Output(json_mode=as_json)
    actor = Actor(id=actor_id, role="admin")
    url = read_vault_url(url)
    with Vault.open(url, keys=open_key_file(keyfile, passphrase_file)) as vault:
        report = vault.rewrap_keys(actor, batch_size=batch_size)
    out.info(
        f"re-wrapped {report.total} data key(s) under {report.kek_id} in {report.batches} "
        f"batch(es); summary logged as seq {report.access_seq}"
    )
    if report.remaining:
        left = ", ".join(f"{k}: {n}" for k, n in report.remaining.items())
        out.warn(f"keys still under older KEKs ({left}); run `keys rewrap` again")
    out.table(
        ("table", "re-wrapped"),
        [(table, n) for table, n in report.rewrapped.items()],
    )
    out.emit_json(
        {
            "kek_id": report.kek_id,
            "rewrapped": report.rewrapped,
            "batches": report.batches,
            "entries": list(report.entries),
            "remaining": report.remaining,
            "access_seq": report.access_seq,
        }
    )


@keys.command("usage")
@click.argument("url", metavar="URL")
@keys_file_option
@_ACTOR
@_JSON
def usage(
    url: str, keyfile: Path, passphrase_file: Path | None, actor_id: str, as_json: bool
) -> None:
    """How many stored data keys each KEK wraps at URL (a KEK not listed wraps none).

    URL must hold a vault already (a mistyped path is refused, exit 3). Run this
    right before removing an old KEK from the file.
    """
    from credit_vault import Actor, Vault

    out = Output(json_mode=as_json)
    url = read_vault_url(url)
    provider = open_key_file(keyfile, passphrase_file)
    with Vault.open(url, keys=provider) as vault:
        counts = vault.kek_usage(Actor(id=actor_id, role="admin"))
    current = provider.key_set().current_kek_id
    unused = [k for k in provider.key_set().kek_ids if k not in counts and k != current]
    out.table(
        ("KEK", "data keys", "current"),
        [(k, n, k == current) for k, n in counts.items()],
    )
    if unused:
        out.info(f"wrapping nothing in this vault: {', '.join(unused)}")
    out.emit_json({"current_kek": current, "usage": counts, "unused": unused})
