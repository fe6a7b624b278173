"""The verifiable access log: canonical entries, Merkle tree, checkpoints, proofs, exports.

Everything here is pure: the standard library and ``cryptography`` only, no
database. The offline verifier (:func:`verify_bundle`,
:func:`verify_subject_extract`) is what an auditor runs on an export with the
vault's verifier key line; docs/audit.md specifies the formats and the
algorithm.
"""

from __future__ import annotations

from credit_vault.audit._canonical import MAX_SAFE_INTEGER, canonical_json, parse_canonical
from credit_vault.audit._entry import (
    ENTRY_FORMAT,
    OPERATIONS,
    OUTCOMES,
    AccessEntry,
    format_ts,
)
from credit_vault.audit._export import (
    CSV_COLUMNS,
    EXPORT_FORMATS,
    BundleWriter,
    FeedWriter,
    cef_line,
    csv_row,
    ocsf_event,
    subject_extract,
)
from credit_vault.audit._merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    MerkleTree,
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    inclusion_proof_from,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from credit_vault.audit._note import (
    Checkpoint,
    key_id,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    sign_note,
    verifier_key_line,
)
from credit_vault.audit._publish import CheckpointPublisher, DirectoryPublisher
from credit_vault.audit._ranges import IntervalRange, ProofPlan, perfect_pieces
from credit_vault.audit._review import (
    FINDING_KINDS,
    AccessReview,
    Finding,
    ReviewReport,
    review_entries,
)
from credit_vault.audit._verify import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    EXTRACT_FORMAT,
    EXTRACT_VERSION,
    BundleReport,
    ExtractReport,
    is_canonical_entry,
    verify_bundle,
    verify_subject_extract,
)

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "CSV_COLUMNS",
    "EMPTY_ROOT",
    "ENTRY_FORMAT",
    "EXPORT_FORMATS",
    "EXTRACT_FORMAT",
    "EXTRACT_VERSION",
    "FINDING_KINDS",
    "HASH_SIZE",
    "MAX_SAFE_INTEGER",
    "OPERATIONS",
    "OUTCOMES",
    "AccessEntry",
    "AccessReview",
    "BundleReport",
    "BundleWriter",
    "Checkpoint",
    "CheckpointPublisher",
    "CompactRange",
    "DirectoryPublisher",
    "ExtractReport",
    "FeedWriter",
    "Finding",
    "IntervalRange",
    "MerkleTree",
    "ProofPlan",
    "ReviewReport",
    "canonical_json",
    "cef_line",
    "consistency_proof",
    "consistency_proof_from",
    "csv_row",
    "format_ts",
    "inclusion_proof",
    "inclusion_proof_from",
    "is_canonical_entry",
    "key_id",
    "leaf_hash",
    "node_hash",
    "ocsf_event",
    "open_note",
    "parse_canonical",
    "parse_checkpoint",
    "parse_verifier_key",
    "perfect_pieces",
    "review_entries",
    "root_from_leaf_hashes",
    "sign_note",
    "subject_extract",
    "verifier_key_line",
    "verify_bundle",
    "verify_consistency",
    "verify_inclusion",
    "verify_subject_extract",
]
