"""Transparency log: an append-only RFC 9162 Merkle log of public events."""
