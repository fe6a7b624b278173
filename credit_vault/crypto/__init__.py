"""Cryptography: key providers, envelope encryption, field AEAD, blind index."""
