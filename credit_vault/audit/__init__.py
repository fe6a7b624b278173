"""The verifiable access log: canonical entries, Merkle tree, checkpoints, proofs."""
