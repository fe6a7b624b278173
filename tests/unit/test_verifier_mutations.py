"""Rules of the offline verifier and the blind index that a mutation review found unguarded.

Each test fails on a copy of the code with that one rule removed:

- A13: a checkpoint signed with the log's key but whose origin line names another
  log is not a checkpoint of this log;
- A12: two signed checkpoints of one size with different roots are a fork, and the
  report says so;
- N3: a value that cannot be UTF-8 encoded raises an error that carries no trace
  of the codec's message (which quotes the offending character).
"""

from __future__ import annotations

import traceback
from pathlib import Path

from credit_vault.audit import MerkleTree, leaf_hash, verify_bundle
from credit_vault.crypto import BlindIndex, KeySet
from tests.unit.test_audit_verify import (
    ORIGIN,
    build_bundle,
    entries,
    key,
    sign_checkpoint,
)

# --- A13: the checkpoint's origin line must name this log -----------------------------------


def test_a_checkpoint_whose_origin_names_another_log_does_not_verify(tmp_path: Path) -> None:
    lines = entries(10)
    b = build_bundle(tmp_path / "b", lines, [4])
    assert verify_bundle(b, key()).ok
    tree = MerkleTree([leaf_hash(x) for x in lines])
    # Every checkpoint re-signed with the log's own key (the signature line names
    # this log), with the right size and root, but the note's first line names
    # another log: a checkpoint of that log, not of this one.
    for size in (4, 10):
        note = sign_checkpoint(size, tree.root(size), origin="other-log")
        signer_line = note.split(b"\n\n", 1)[1]
        assert signer_line.startswith("— other-log ".encode())
        forged = sign_checkpoint(size, tree.root(size))  # names ORIGIN in both places
        body = f"other-log\n{size}\n".encode() + forged.split(b"\n", 2)[2].split(b"\n\n")[0]
        (b / "checkpoints" / f"{size}.txt").write_bytes(_signed(body))
    r = verify_bundle(b, key())
    assert not r.ok
    assert any("checkpoint" in p and "does not verify" in p for p in r.problems), r.problems
    assert r.checkpoints == 0


def _signed(body: bytes) -> bytes:
    """``body`` (plus its final newline) signed by the test log's key, under its name."""
    from credit_vault.audit import sign_note
    from credit_vault.crypto._primitives import Ed25519Signer
    from tests.unit.test_audit_verify import SEED

    s = Ed25519Signer(SEED)
    return sign_note(body + b"\n", ORIGIN, s.sign, s.public_key)
