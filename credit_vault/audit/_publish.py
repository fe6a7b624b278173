"""Copying signed checkpoints out of the database, so a rewritten log cannot hide.

Whoever holds the signing key (or the database) could rewrite the log and sign
fresh checkpoints; copies already held elsewhere (an auditor's mailbox, a bucket
with object lock, a witness) are what prove the rewrite. A
:class:`CheckpointPublisher` receives every checkpoint the vault signs.

The vault only publishes checkpoints of committed log state: a checkpoint due by
cadence is signed at the start of the *next* write, before that write appends,
so a rolled-back transaction never leaves a published checkpoint of a tree that
does not exist.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable

from credit_vault.errors import AuditVerificationFailed, ConfigurationError

__all__ = ["CheckpointPublisher", "DirectoryPublisher"]


@runtime_checkable
class CheckpointPublisher(Protocol):
    """Receives each signed checkpoint: ``publish(size, root, note)``.

    ``note`` is the complete signed-note text. Implementations should be
    idempotent per size (the same checkpoint may be offered again) and must not
    block for long: the cadence checkpoint is published inside a write.
    """

    def publish(self, size: int, root: bytes, note: bytes) -> None:
        """Copy one signed checkpoint somewhere outside the database."""


class DirectoryPublisher:
    """Writes each checkpoint to ``<directory>/checkpoint-<size, 20 digits>.txt``.

    Files are written atomically (temporary file, fsync, rename) and never
    overwritten: offering a different checkpoint for a size already published
    raises :class:`~credit_vault.errors.AuditVerificationFailed`, because two
    signed trees of one size mean the log was rewritten. ``latest`` holds the
    newest file's name.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        path = Path(directory)
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:
            raise ConfigurationError("the checkpoint directory cannot be created") from None
        if not path.is_dir():
            raise ConfigurationError("the checkpoint directory is not a directory")
        self.directory = path

    def path_for(self, size: int) -> Path:
        """Where the checkpoint of ``size`` is (or would be) published."""
        return self.directory / f"checkpoint-{size:020d}.txt"

    def publish(self, size: int, root: bytes, note: bytes) -> None:
        """Write the checkpoint file unless an identical one is there already."""
        target = self.path_for(size)
        if target.exists():
            if target.read_bytes() != note:
                raise AuditVerificationFailed(
                    f"a different signed checkpoint for size {size} was published before"
                )
            return
        self._write(target, note)
        latest = self.directory / "latest"
        current = self._latest_size(latest)
        if current is None or size >= current:
            self._write(latest, (target.name + "\n").encode("ascii"), replace=True)

    @staticmethod
    def _latest_size(latest: Path) -> int | None:
        try:
            name = latest.read_text("ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        digits = name.removeprefix("checkpoint-").removesuffix(".txt")
        return int(digits) if digits.isdigit() else None

    def _write(self, target: Path, data: bytes, *, replace: bool = False) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if replace:
                os.replace(tmp, target)
            else:
                # link() fails if the target appeared meanwhile: never overwrite.
                try:
                    os.link(tmp, target)
                except FileExistsError:
                    if target.read_bytes() != data:
                        raise AuditVerificationFailed(
                            "a different signed checkpoint was published concurrently"
                        ) from None
                os.unlink(tmp)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __repr__(self) -> str:
        return f"DirectoryPublisher({str(self.directory)!r})"
