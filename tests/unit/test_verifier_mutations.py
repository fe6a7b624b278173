"""Rules of the offline verifier and the blind index that a mutation review found unguarded.

Each test fails on a copy of the code with that one rule removed:

- a checkpoint signed with the log's own key but whose origin line names another
  log is not a checkpoint of this log;
- two signed checkpoints of one size with different roots are a fork, and the
  report says so;
- a value that cannot be UTF-8 encoded raises an error that carries nothing of
  the codec's error (whose message quotes the offending character).
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

from credit_vault.audit import Checkpoint, MerkleTree, leaf_hash, sign_note, verify_bundle
from credit_vault.crypto import BlindIndex, KeySet
from credit_vault.crypto._primitives import Ed25519Signer
from tests.unit.test_audit_verify import ORIGIN, SEED, build_bundle, entries, key, sign_checkpoint


def _signed_by_this_log(cp: Checkpoint) -> bytes:
    """``cp`` signed with the test log's key, the signature line naming the test log."""
    s = Ed25519Signer(SEED)
    return sign_note(cp.body(), ORIGIN, s.sign, s.public_key)


def test_a_checkpoint_whose_origin_line_names_another_log_does_not_verify(
    tmp_path: Path,
) -> None:
    lines = entries(10)
    b = build_bundle(tmp_path / "b", lines, [4])
    assert verify_bundle(b, key()).ok
    root4 = MerkleTree([leaf_hash(x) for x in lines]).root(4)
    # The right size and root, a valid signature by this log's key under this log's
    # name: only the note's first line (the checkpoint's origin) names another log.
    note = _signed_by_this_log(Checkpoint("other-log", 4, root4))
    assert note.startswith(b"other-log\n4\n")
    (b / "checkpoints" / "4.txt").write_bytes(note)
    r = verify_bundle(b, key())
    assert not r.ok
    assert any("checkpoint at size 4 does not verify" in p for p in r.problems), r.problems
    assert r.checkpoints == 1  # only the one at size 10 counts
    # The auditor's previous checkpoint is held to the same rule.
    fresh = build_bundle(tmp_path / "fresh", lines, [4])
    prev = verify_bundle(fresh, key(), previous=note)
    assert not prev.ok
    assert any("previous checkpoint does not verify" in p for p in prev.problems), prev.problems


def test_two_signed_checkpoints_of_one_size_with_different_roots_are_named_a_fork(
    tmp_path: Path,
) -> None:
    lines = entries(10)
    b = build_bundle(tmp_path / "b", lines, [4])
    assert verify_bundle(b, key()).ok
    # The file the manifest lists for size 4 holds a validly signed checkpoint of
    # size 10 whose root differs from the real checkpoint of size 10: the key
    # holder signed two histories of the same size.
    (b / "checkpoints" / "4.txt").write_bytes(sign_checkpoint(10, b"\x07" * 32))
    r = verify_bundle(b, key())
    assert not r.ok
    assert any("forked history" in p for p in r.problems), r.problems
    assert any("disagree about size 10" in p for p in r.problems), r.problems


SECRET = "张\ud800三110101199003077777"  # a lone surrogate: no UTF-8 form


def test_an_unencodable_value_raises_without_the_encoding_error_behind_it() -> None:
    index = BlindIndex(KeySet.generate(), "name")
    with pytest.raises(ValueError, match="UTF-8") as info:
        index.compute(SECRET)
    err = info.value
    # ``raise ... from None``: no cause, and the UnicodeEncodeError (whose message
    # quotes the character) is not shown as the context either.
    assert err.__cause__ is None
    assert err.__suppress_context__ is True
    shown = "".join(traceback.format_exception(err))
    assert "UnicodeEncodeError" not in shown
    assert "codec can't encode" not in shown
    assert "surrogates not allowed" not in shown
    for part in ("张", "\ud800", "\\ud800", "110101199003077777"):
        assert part not in shown
