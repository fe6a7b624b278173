"""Every ``--keys`` command opens a passphrase-sealed key file, with the passphrase from
``--passphrase-file``, ``CREDIT_VAULT_PASSPHRASE`` or a prompt on a terminal, never a flag.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from credit_vault import SubjectRef, Vault
from credit_vault.cli import main
from credit_vault.crypto import FileKeyProvider, PassphraseKeyProvider
from credit_vault.testing import ARGON2_TEST_PARAMS
from tests.helpers import OFFICER, citizen_id, clerk_for, record_for, register_all_sources

TAX = "tax.major_violation"
PASSPHRASE = "correct horse 电池 staple"
WRONG = "wrong-horse-6f1d2c"
ENV = "CREDIT_VAULT_PASSPHRASE"


@pytest.fixture(autouse=True)
def _no_inherited_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)


def invoke(*args: str, env: Mapping[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)


def _private(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture
def sealed(tmp_path: Path) -> Path:
    path = tmp_path / "vault.sealed.keys"
    PassphraseKeyProvider.create(path, PASSPHRASE, params=ARGON2_TEST_PARAMS)
    return path


@pytest.fixture
def pass_file(tmp_path: Path) -> Path:
    return _private(tmp_path / "passphrase", PASSPHRASE + "\n")


@pytest.fixture
def vault_url(db_url: str, sealed: Path) -> str:
    with Vault.open(db_url, keys=PassphraseKeyProvider(sealed, PASSPHRASE)) as v:
        register_all_sources(v)
        for i in range(2):
            s = SubjectRef.person(citizen_id(i))
            v.ingest(clerk_for(TAX), record_for(v, TAX, s))
            v.query(OFFICER, purpose="licensing_review", subject=s, ticket="T-1")
    return db_url


def _assert_clean(result: Result, *secrets: str) -> None:
    assert "Traceback" not in result.output
    for secret in secrets:
        assert secret not in result.output
        assert secret not in result.stderr


def _is_sealed(path: Path) -> bool:
    return bool(json.loads(path.read_text())["format"] == "credit_vault/sealed-key-set")


# --- the commands -------------------------------------------------------------------


def test_keys_usage_rotate_rewrap_with_a_passphrase_file(
    vault_url: str, sealed: Path, pass_file: Path
) -> None:
    keys = ("--keys", str(sealed), "--passphrase-file", str(pass_file))
    usage = invoke("keys", "usage", vault_url, *keys, "--json")
    assert usage.exit_code == 0, usage.output
    assert json.loads(usage.stdout)["usage"] == {"kek-1": 4}

    rotated = invoke("keys", "rotate", *keys, "--json")
    assert rotated.exit_code == 0, rotated.output
    assert json.loads(rotated.stdout) == {"current_kek": "kek-2", "kek_ids": ["kek-1", "kek-2"]}
    assert "(still sealed)" in rotated.stderr
    # Still sealed, under the same passphrase, with the new KEK current.
    assert _is_sealed(sealed)
    assert PassphraseKeyProvider(sealed, PASSPHRASE).key_set().current_kek_id == "kek-2"

    done = invoke("keys", "rewrap", vault_url, *keys, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["remaining"] == {}
    after = invoke("keys", "usage", vault_url, *keys, "--json")
    assert json.loads(after.stdout)["usage"] == {"kek-2": 4}
    for result in (usage, rotated, done, after):
        _assert_clean(result, PASSPHRASE)


def test_sweep_and_keys_with_the_environment_variable(vault_url: str, sealed: Path) -> None:
    env = {ENV: PASSPHRASE}
    swept = invoke("sweep", vault_url, "--keys", str(sealed), "--json", "--quiet", env=env)
    assert swept.exit_code == 0, swept.output
    assert json.loads(swept.stdout)["purged"] == 0

    usage = invoke("keys", "usage", vault_url, "--keys", str(sealed), "--json", env=env)
    assert usage.exit_code == 0, usage.output

    rotated = invoke("keys", "rotate", "--keys", str(sealed), "--json", env=env)
    assert rotated.exit_code == 0, rotated.output
    assert _is_sealed(sealed)
    assert PassphraseKeyProvider(sealed, PASSPHRASE).key_set().kek_ids == ("kek-1", "kek-2")
    for result in (swept, usage, rotated):
        _assert_clean(result, PASSPHRASE)


def test_sweep_with_a_passphrase_file(vault_url: str, sealed: Path, pass_file: Path) -> None:
    swept = invoke(
        "sweep", vault_url, "--keys", str(sealed), "--passphrase-file", str(pass_file), "--quiet"
    )
    assert swept.exit_code == 0, swept.output
    _assert_clean(swept, PASSPHRASE)


def test_audit_commands_with_a_sealed_key_file(
    vault_url: str, sealed: Path, pass_file: Path, tmp_path: Path
) -> None:
    by_file = ("--keys", str(sealed), "--passphrase-file", str(pass_file))
    from_file = invoke("audit", "public-key", *by_file)
    assert from_file.exit_code == 0, from_file.output
    from_env = invoke("audit", "public-key", "--keys", str(sealed), env={ENV: PASSPHRASE})
    assert from_env.exit_code == 0, from_env.output
    from_vault = invoke("audit", "public-key", *by_file, "--url", vault_url)
    assert from_vault.exit_code == 0, from_vault.output
    key = from_file.stdout.strip()
    assert key == from_env.stdout.strip() == from_vault.stdout.strip()

    bundle = tmp_path / "log.zip"
    exported = invoke("audit", "export", vault_url, *by_file, "--dest", str(bundle), "--json")
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["verifier_key"] == key
    assert invoke("audit", "verify", str(bundle), "--key", key).exit_code == 0

    env_bundle = tmp_path / "log-env.zip"
    by_env = invoke(
        "audit", "export", vault_url, "--keys", str(sealed), "--dest", str(env_bundle),
        env={ENV: PASSPHRASE},
    )  # fmt: skip
    assert by_env.exit_code == 0, by_env.output

    note = invoke("audit", "checkpoint", vault_url, *by_file)
    assert note.exit_code == 0, note.output
    review = invoke(
        "audit", "review", vault_url, *by_file, "--since", "2020-01-01", "--until", "2099-12-31"
    )
    assert review.exit_code == 0, review.output
    for result in (from_file, from_env, from_vault, exported, by_env, note, review):
        _assert_clean(result, PASSPHRASE)


def test_db_upgrade_binds_a_new_database_to_a_sealed_key_set(
    tmp_path: Path, sealed: Path, pass_file: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    result = invoke(
        "db", "upgrade", url, "--keys", str(sealed), "--passphrase-file", str(pass_file), "--json"
    )
    assert result.exit_code == 0, result.output
    fingerprint = PassphraseKeyProvider(sealed, PASSPHRASE).key_set().fingerprint
    assert json.loads(result.stdout)["key_set"] == fingerprint
    _assert_clean(result, PASSPHRASE)


# --- where the passphrase comes from --------------------------------------------------


def test_the_passphrase_file_wins_over_the_environment(
    vault_url: str, sealed: Path, pass_file: Path
) -> None:
    result = invoke(
        "keys", "usage", vault_url, "--keys", str(sealed), "--passphrase-file", str(pass_file),
        env={ENV: WRONG},
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_only_the_first_line_of_the_passphrase_file_counts(sealed: Path, tmp_path: Path) -> None:
    crlf = tmp_path / "crlf"
    crlf.write_bytes(PASSPHRASE.encode() + b"\r\nsecond line\n")
    crlf.chmod(0o600)
    no_newline = _private(tmp_path / "bare", PASSPHRASE)
    for path in (crlf, no_newline):
        result = invoke(
            "audit", "public-key", "--keys", str(sealed), "--passphrase-file", str(path)
        )
        assert result.exit_code == 0, result.output


def test_a_prompt_on_a_terminal(
    vault_url: str, sealed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("credit_vault.cli._keysource._stdin_is_tty", lambda: True)
    result = invoke("keys", "usage", vault_url, "--keys", str(sealed), stdin=PASSPHRASE + "\n")
    assert result.exit_code == 0, result.output
    assert f"Passphrase of {sealed}" in result.stderr  # the prompt goes to stderr...
    _assert_clean(result, PASSPHRASE)  # ...and the answer is not echoed
    assert json.loads(
        invoke(
            "keys", "usage", vault_url, "--keys", str(sealed), "--json", stdin=PASSPHRASE + "\n"
        ).stdout
    )["usage"] == {"kek-1": 4}


# --- refusals ---------------------------------------------------------------------------


def test_no_passphrase_and_no_terminal_exits_3(vault_url: str, sealed: Path) -> None:
    for args in (
        ("keys", "usage", vault_url, "--keys", str(sealed)),
        ("keys", "rotate", "--keys", str(sealed)),
        ("sweep", vault_url, "--keys", str(sealed)),
        ("audit", "public-key", "--keys", str(sealed)),
    ):
        result = invoke(*args, env={ENV: ""})  # empty counts as unset
        assert result.exit_code == 3, result.output
        line = result.stderr.strip().splitlines()[-1]
        assert line == (
            f"error [key_file_error]: the key file {str(sealed)!r} is sealed; give "
            "--passphrase-file, set CREDIT_VAULT_PASSPHRASE or run interactively"
        )
        assert "PassphraseKeyProvider" not in result.output
        _assert_clean(result)
    assert PassphraseKeyProvider(sealed, PASSPHRASE).key_set().kek_ids == ("kek-1",)


def test_a_wrong_passphrase_exits_3_without_showing_it(
    vault_url: str, sealed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_file = _private(tmp_path / "wrong", WRONG + "\n")
    expected = (
        "error [integrity_error]: sealed key-set file did not open: wrong passphrase, "
        "or the file was altered"
    )
    results = [
        invoke(
            "keys", "usage", vault_url, "--keys", str(sealed), "--passphrase-file", str(wrong_file)
        ),
        invoke("keys", "rotate", "--keys", str(sealed), env={ENV: WRONG}),
        invoke("sweep", vault_url, "--keys", str(sealed), env={ENV: WRONG}),
    ]
    monkeypatch.setattr("credit_vault.cli._keysource._stdin_is_tty", lambda: True)
    results.append(invoke("audit", "public-key", "--keys", str(sealed), stdin=WRONG + "\n"))
    for result in results:
        assert result.exit_code == 3, result.output
        assert result.stderr.strip().splitlines()[-1] == expected
        _assert_clean(result, WRONG, PASSPHRASE)
    assert PassphraseKeyProvider(sealed, PASSPHRASE).key_set().kek_ids == ("kek-1",)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_a_passphrase_file_others_may_read_is_refused(
    vault_url: str, sealed: Path, pass_file: Path
) -> None:
    for mode in (0o640, 0o604, 0o620):
        pass_file.chmod(mode)
        result = invoke(
            "keys", "usage", vault_url, "--keys", str(sealed), "--passphrase-file", str(pass_file)
        )
        assert result.exit_code == 3, result.output
        assert result.stderr.strip().splitlines()[-1] == (
            f"error [key_file_error]: passphrase file {str(pass_file)!r} is readable or "
            "writable by group or others; chmod 600 it (only its owner may have access)"
        )
        _assert_clean(result, PASSPHRASE)


def test_an_empty_passphrase_file_is_refused(sealed: Path, tmp_path: Path) -> None:
    empty = _private(tmp_path / "empty", "\nnot this line\n")
    result = invoke("audit", "public-key", "--keys", str(sealed), "--passphrase-file", str(empty))
    assert result.exit_code == 3
    assert "is empty" in result.stderr
    _assert_clean(result, "not this line")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_a_sealed_key_file_others_may_read_is_refused_before_any_passphrase(
    sealed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sealed.chmod(0o644)
    monkeypatch.setattr("credit_vault.cli._keysource._stdin_is_tty", lambda: True)
    result = invoke("audit", "public-key", "--keys", str(sealed), stdin=PASSPHRASE + "\n")
    assert result.exit_code == 3
    assert "Passphrase" not in result.stderr  # not asked for
    assert "chmod 600 it" in result.stderr.strip().splitlines()[-1]


# --- plain key files are as before -------------------------------------------------------


def test_a_plain_key_file_needs_no_passphrase(tmp_path: Path, pass_file: Path) -> None:
    plain = tmp_path / "plain.keys"
    FileKeyProvider.create(plain)
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    with Vault.open(url, keys=FileKeyProvider(plain)) as v:
        register_all_sources(v)
    usage = invoke("keys", "usage", url, "--keys", str(plain), "--json", env={ENV: WRONG})
    assert usage.exit_code == 0, usage.output
    assert usage.stderr == ""
    rotated = invoke("keys", "rotate", "--keys", str(plain), "--passphrase-file", str(pass_file))
    assert rotated.exit_code == 0, rotated.output
    assert "is not sealed; --passphrase-file is not used" in rotated.stderr
    assert json.loads(plain.read_text())["format"] == "credit_vault/key-set"  # not sealed by it
    assert FileKeyProvider(plain).key_set().current_kek_id == "kek-2"


# --- help --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("sweep",),
        ("keys", "rotate"),
        ("keys", "rewrap"),
        ("keys", "usage"),
        ("audit", "public-key"),
        ("audit", "checkpoint"),
        ("audit", "export"),
        ("audit", "review"),
        ("db", "upgrade"),
    ],
)
def test_every_keys_command_offers_a_passphrase_file(command: tuple[str, ...]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "--keys" in result.stdout
    assert "--passphrase-file" in result.stdout
    assert ENV in result.stdout


def test_main_help_names_where_the_passphrase_comes_from() -> None:
    text = " ".join(invoke("--help").stdout.split())
    assert "--passphrase-file, $CREDIT_VAULT_PASSPHRASE or a hidden prompt" in text
    assert "never command-line options" in text
