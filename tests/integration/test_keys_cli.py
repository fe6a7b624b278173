"""``credit-vault keys``: rotate, rewrap and usage from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from credit_vault import SubjectRef, Vault
from credit_vault.cli import main
from credit_vault.crypto import FileKeyProvider
from tests.helpers import citizen_id, clerk_for, record_for, register_all_sources

TAX = "tax.major_violation"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _vault(tmp_path: Path, n: int = 3) -> tuple[str, Path]:
    keys = tmp_path / "vault.keys"
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    with Vault.open(url, keys=FileKeyProvider.create(keys)) as v:
        register_all_sources(v)
        v.ingest_many(
            clerk_for(TAX), [record_for(v, TAX, SubjectRef.person(citizen_id(i))) for i in range(n)]
        )
    return url, keys


def test_rotate_rewrap_usage(tmp_path: Path) -> None:
    url, keys = _vault(tmp_path)
    usage = invoke("keys", "usage", url, "--keys", str(keys), "--json")
    assert usage.exit_code == 0, usage.output
    assert json.loads(usage.stdout) == {"current_kek": "kek-1", "usage": {"kek-1": 6}, "unused": []}

    rotated = invoke("keys", "rotate", "--keys", str(keys), "--json")
    assert rotated.exit_code == 0, rotated.output
    assert json.loads(rotated.stdout) == {"current_kek": "kek-2", "kek_ids": ["kek-1", "kek-2"]}
    assert "run `credit-vault keys rewrap` next" in rotated.stderr

    done = invoke("keys", "rewrap", url, "--keys", str(keys), "--batch", "2", "--json")
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert doc["kek_id"] == "kek-2"
    assert doc["rewrapped"] == {"cv_records": 3, "cv_record_versions": 0, "cv_subjects": 3}
    assert doc["remaining"] == {}
    assert len(doc["entries"]) == 4

    after = json.loads(invoke("keys", "usage", url, "--keys", str(keys), "--json").stdout)
    assert after == {"current_kek": "kek-2", "usage": {"kek-2": 6}, "unused": ["kek-1"]}

    human = invoke("keys", "usage", url, "--keys", str(keys))
    assert "wrapping nothing in this vault: kek-1" in human.stderr
    assert "kek-2" in human.stdout
    with Vault.open(url, keys=FileKeyProvider(keys)) as v:
        last = v.audit.entries()[-1]
        assert (last["op"], last["reason"], last["actor"], last["role"]) == (
            "maintenance",
            "kek_usage",
            "credit-vault-keys",
            "admin",
        )
        assert v.audit.verify().ok


def test_keys_errors(tmp_path: Path) -> None:
    url, _ = _vault(tmp_path, 1)
    other = tmp_path / "other.keys"
    FileKeyProvider.create(other)
    wrong = invoke("keys", "rewrap", url, "--keys", str(other))
    assert wrong.exit_code == 3
    assert wrong.stderr.strip().splitlines()[-1].startswith("error [configuration_error]:")
    assert invoke("keys", "rewrap", url).exit_code == 2  # --keys is required
    assert invoke("keys", "rotate").exit_code == 2
    assert invoke("keys", "rewrap", url, "--keys", str(other), "--batch", "0").exit_code == 2


def test_demo_key_rotation_section(tmp_path: Path) -> None:
    result = invoke("demo", "--dir", str(tmp_path / "v"), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert "key_rotation" in doc["steps"]
    assert doc["steps"][-1] == "audit"  # the log is still verified last
    section = doc["key_rotation"]
    assert section["new_kek"] == "kek-2"
    assert section["usage_after"] == {"kek-2": sum(section["usage_before"].values())}
    assert set(section["usage_before"]) == {"kek-1"}
    assert section["remaining"] == {}
    assert section["rewrapped"]["cv_record_versions"] >= 1  # the demo corrects a record
    assert section["view_unchanged"] is True
    assert doc["audit"]["ok"] is True
    assert FileKeyProvider(tmp_path / "v" / "vault.keys").key_set().current_kek_id == "kek-2"


def test_keys_create_writes_a_private_key_file_that_opens_a_vault(tmp_path: Path) -> None:
    path = tmp_path / "new.keys"
    r = invoke("keys", "create", "--keys", str(path), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"file": str(path), "sealed": False, "current_kek": "kek-1"}
    assert path.stat().st_mode & 0o777 == 0o600
    with Vault.open(f"sqlite:///{tmp_path / 'v.db'}", keys=FileKeyProvider(path)) as v:
        assert v.audit.verify().ok
    before = path.read_bytes()
    again = invoke("keys", "create", "--keys", str(path))
    assert again.exit_code == 3
    assert "already exists" in again.output
    assert path.read_bytes() == before  # never overwritten


def test_keys_create_sealed_takes_the_passphrase_from_a_file_never_a_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from credit_vault.crypto import PassphraseKeyProvider

    monkeypatch.delenv("CREDIT_VAULT_PASSPHRASE", raising=False)
    secret = tmp_path / "pass"
    secret.write_text("a long passphrase 口令\n", encoding="utf-8")
    secret.chmod(0o600)
    path = tmp_path / "sealed.keys"
    r = invoke("keys", "create", "--keys", str(path), "--sealed", "--passphrase-file", str(secret))
    assert r.exit_code == 0, r.output
    assert "a long passphrase" not in path.read_text(encoding="utf-8")
    assert PassphraseKeyProvider(path, "a long passphrase 口令").key_set().current_kek_id == "kek-1"
    # No passphrase to be had (no file, no variable, no terminal): refused, nothing written.
    missing = tmp_path / "other.keys"
    r = invoke("keys", "create", "--keys", str(missing), "--sealed")
    assert r.exit_code == 3
    assert not missing.exists()
    # A passphrase file without --sealed is a usage error.
    r = invoke("keys", "create", "--keys", str(missing), "--passphrase-file", str(secret))
    assert r.exit_code == 2
    assert not missing.exists()


def test_keys_create_refuses_a_short_passphrase_and_an_existing_file_before_asking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "short.keys"
    monkeypatch.setenv("CREDIT_VAULT_PASSPHRASE", "x")
    r = invoke("keys", "create", "--keys", str(path), "--sealed")
    assert r.exit_code == 3
    assert "at least 12 characters" in r.output
    assert not path.exists()
    # An existing file: refused in the command's terms, and no passphrase is read.
    monkeypatch.delenv("CREDIT_VAULT_PASSPHRASE")
    path.write_text("{}", encoding="utf-8")
    r = invoke("keys", "create", "--keys", str(path), "--sealed")
    assert r.exit_code == 3
    assert "never replaces a key file" in r.output
    assert "overwrite=True" not in r.output
    assert path.read_text(encoding="utf-8") == "{}"


def test_keys_create_does_not_follow_a_dangling_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.keys"
    link = tmp_path / "vault.keys"
    link.symlink_to(target)
    r = invoke("keys", "create", "--keys", str(link))
    assert r.exit_code == 3
    assert "already exists" in r.output
    assert not target.exists()
