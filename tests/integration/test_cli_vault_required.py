"""Commands that act on an existing vault refuse a URL where there is none.

Opening a vault creates its schema, so before this a mistyped path made a new,
empty vault: a sweep reported nothing due, an export verified an empty log.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from credit_vault.cli import main


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    "command",
    [
        ("sweep", "{url}", "--keys", "{keys}"),
        ("audit", "checkpoint", "{url}", "--keys", "{keys}"),
        ("audit", "export", "{url}", "--keys", "{keys}", "--dest", "{dest}"),
        (
            "audit",
            "review",
            "{url}",
            "--keys",
            "{keys}",
            "--since",
            "2025-01-01",
            "--until",
            "2025-02-01",
        ),
        ("audit", "public-key", "--keys", "{keys}", "--url", "{url}"),
    ],
)
def test_a_command_on_a_mistyped_sqlite_path_creates_nothing(
    tmp_path: Path, key_path: Path, command: tuple[str, ...]
) -> None:
    typo = tmp_path / "vualt.db"
    fill = {"url": f"sqlite:///{typo}", "keys": str(key_path), "dest": str(tmp_path / "out")}
    result = invoke(*(part.format(**fill) for part in command))
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("error [configuration_error]: no vault at sqlite:///")
    assert not typo.exists()
    assert not (tmp_path / "out").exists()


def test_a_bad_port_is_a_configuration_error_from_the_library(key_path: Path) -> None:
    from credit_vault import Vault
    from credit_vault.crypto import FileKeyProvider
    from credit_vault.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="URL is not valid"):
        Vault.open("postgresql+psycopg://u:secret@db.example:54x/v", keys=FileKeyProvider(key_path))
