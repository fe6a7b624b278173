"""Reading the TOML files a deployment configures (catalogue, policy), with typed errors."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from credit_vault.errors import InputError

__all__ = ["build_checked", "load_toml_file", "load_toml_text", "packaged_text"]

_T = TypeVar("_T")


def packaged_text(name: str) -> str:
    """A data file shipped in ``credit_vault/data``."""
    return resources.files("credit_vault.data").joinpath(name).read_text(encoding="utf-8")


def load_toml_text(text: str, error: type[InputError], what: str) -> dict[str, Any]:
    """Parse TOML text; a syntax error becomes ``error`` naming ``what``."""
    if not isinstance(text, str):
        raise error(f"{what} must be given as TOML text (a str)")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} is not valid TOML: {exc}") from None


def load_toml_file(path: str | Path, error: type[InputError], what: str) -> dict[str, Any]:
    """Read and parse a TOML file; unreadable files become ``error`` too."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{what} file cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        # The decode error carries the file's bytes: never let it out.
        raise error(f"{what} file is not UTF-8 text") from None
    except (TypeError, ValueError):  # not a path, or a path with a NUL
        raise error(f"{what} file cannot be read: not a valid path") from None
    return load_toml_text(text, error, what)


def build_checked(build: Callable[[], _T], error: type[InputError], what: str) -> _T:
    """Run ``build`` (a parser of configuration data); any error but a typed one becomes ``error``.

    The parsers check every shape they expect; a shape they did not foresee still
    gives a typed error naming ``what``, never a raw ``TypeError`` and the like.
    """
    try:
        return build()
    except InputError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
        raise error(f"{what} is malformed ({type(exc).__name__})") from None
