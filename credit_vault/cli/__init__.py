"""The ``credit-vault`` command (auditor and operator tasks, and the demo).

Run ``credit-vault --help`` for the commands and the documented exit codes. To
add a subcommand, write a module here exposing a :class:`click.Command` and add
one line to :data:`credit_vault.cli._main.COMMANDS`.
"""

from __future__ import annotations

from credit_vault.cli._main import main

__all__ = ["main"]
