"""Every public name is exported and documented; every error class is reachable and coded."""

from __future__ import annotations

import inspect

import credit_vault
import credit_vault.crypto
import credit_vault.errors
import credit_vault.identifiers
import credit_vault.testing


def test_all_is_sorted_and_complete() -> None:
    names = [n for n in credit_vault.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in credit_vault.__all__:
        assert hasattr(credit_vault, name), name
    public = {
        n
        for n, obj in vars(credit_vault).items()
        if not n.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
    }
    assert public <= set(credit_vault.__all__), public - set(credit_vault.__all__)


def test_every_error_is_exported_with_a_code_and_docstring() -> None:
    errors = [
        obj
        for obj in vars(credit_vault.errors).values()
        if inspect.isclass(obj) and issubclass(obj, credit_vault.errors.CreditVaultError)
    ]
    assert len(errors) >= 20
    codes = set()
    for cls in errors:
        assert cls.__name__ in credit_vault.errors.__all__, cls
        assert cls.__doc__, cls
        assert len(cls.__doc__.strip().splitlines()) == 1, cls
        assert cls.code not in codes, f"duplicate code {cls.code}"
        codes.add(cls.code)
        assert cls.__name__ in (credit_vault.errors.__doc__ or ""), (
            f"{cls.__name__} missing from the tree"
        )
    for name in ("InvalidIdentifier", "InvalidRecord", "UnknownPurpose"):
        assert issubclass(getattr(credit_vault.errors, name), ValueError)


def test_public_names_have_docstrings() -> None:
    for module in (
        credit_vault,
        credit_vault.crypto,
        credit_vault.identifiers,
        credit_vault.testing,
    ):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert obj.__doc__, f"{module.__name__}.{name} has no docstring"


def test_acceptance_imports() -> None:
    from credit_vault.crypto import FieldCipher, FileKeyProvider  # noqa: F401
    from credit_vault.errors import CreditVaultError, IntegrityError, InvalidIdentifier  # noqa: F401
    from credit_vault.identifiers import CitizenId, CreditCode  # noqa: F401
