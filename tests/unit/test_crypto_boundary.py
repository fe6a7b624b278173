"""Module boundaries: one hazmat importer, the documented public names exported."""

from __future__ import annotations

import ast
from pathlib import Path

import credit_vault
import credit_vault.crypto

PACKAGE = Path(credit_vault.__file__).parent
ALLOWED = PACKAGE / "crypto" / "_primitives.py"


def hazmat_imports(path: Path) -> list[int]:
    """Line numbers where ``path`` imports anything under ``cryptography.hazmat``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif (
            # a dynamic import by importlib.import_module or __import__ with a literal name
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        else:
            continue
        if any(
            name == "cryptography.hazmat" or name.startswith("cryptography.hazmat.")
            for name in names
        ):
            lines.append(node.lineno)
    return lines


def test_the_scan_sees_imports(tmp_path: Path) -> None:
    # The detector must find the imports the allowed module really has, and the
    # other spellings of a hazmat import.
    assert hazmat_imports(ALLOWED)
    for spelling in (
        "import cryptography.hazmat.primitives",
        "from cryptography.hazmat.primitives.ciphers.aead import AESGCM",
        "from cryptography import hazmat",
        "import importlib\nimportlib.import_module('cryptography.hazmat.primitives')",
        "__import__('cryptography.hazmat')",
    ):
        probe = tmp_path / "probe.py"
        probe.write_text(spelling + "\n", "utf-8")
        assert hazmat_imports(probe), spelling
    probe.write_text("from cryptography.exceptions import InvalidTag\n", "utf-8")
    assert not hazmat_imports(probe)


def test_only_primitives_imports_hazmat() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != ALLOWED and (lines := hazmat_imports(path))
    }
    assert offenders == {}


def test_crypto_exports() -> None:
    expected = {
        "ARGON2_TEST_PARAMS",
        "Argon2Params",
        "AuditSigner",
        "BlindIndex",
        "BlindIndexKey",
        "DataKey",
        "EnvKeyProvider",
        "Envelope",
        "FieldCipher",
        "FileKeyProvider",
        "KeyProvider",
        "KeySet",
        "PassphraseKeyProvider",
        "seal_new_records",
    }
    assert set(credit_vault.crypto.__all__) == expected
    for name in expected:
        obj = getattr(credit_vault.crypto, name)
        assert obj.__doc__, name
    assert all(not name.startswith("_") for name in credit_vault.crypto.__all__)
