"""credit_vault: personal credit information kept encrypted, disclosed by purpose, logged verifiably."""

from __future__ import annotations

from credit_vault.errors import CreditVaultError

__version__ = "0.1.0"

__all__ = ["CreditVaultError", "__version__"]
