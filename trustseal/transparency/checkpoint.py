"""C2SP checkpoints (c2sp.org/tlog-checkpoint) and the witness protocol's request body
(c2sp.org/tlog-witness ``add-checkpoint``). Pure, standard library only.

A checkpoint's note text is three lines — origin, decimal tree size, base64 root hash —
optionally followed by extension lines; the log signs it as a note (:mod:`note`) and
witnesses add cosignatures over the same text.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from trustseal.transparency import merkle

__all__ = ["MAX_PROOF_LINES", "AddCheckpoint", "Checkpoint", "CheckpointError", "origin_of"]

MAX_PROOF_LINES = 63
"""The most consistency proof lines an ``add-checkpoint`` request may carry."""

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


class CheckpointError(ValueError):
    """A checkpoint or an ``add-checkpoint`` body that is not in the specified format."""


def origin_of(issuer: str) -> str:
    """The log's origin line for a service whose issuer (base URL) is ``issuer``: its
    scheme-less URL with ``/log`` appended (``https://trustseal.pe/`` → ``trustseal.pe/log``),
    as c2sp.org/tlog-tiles recommends for a log served at ``<issuer>/log/``."""
    bare = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", issuer.strip()).rstrip("/")
    return f"{bare}/log"


def _decimal(text: str, what: str) -> int:
    if not _DECIMAL.fullmatch(text):
        raise CheckpointError(f"{what} is not a decimal without leading zeroes")
    return int(text)


def _hash(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise CheckpointError(f"{what} is not base64") from error
    if len(raw) != merkle.HASH_SIZE:
        raise CheckpointError(f"{what} is not a 32-byte hash")
    return raw


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: who (origin), how many leaves, and their root hash."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The note text, ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint's note text (not the signatures: see :func:`note.open_note`).

        Raises:
            CheckpointError: fewer than three lines, an empty line, a size with leading
                zeroes, or a root that is not a base64 32-byte hash. (An empty tree with
                another root than the empty-tree hash parses: :attr:`possible` says no.)
        """
        if not text.endswith("\n"):
            raise CheckpointError("a checkpoint ends in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise CheckpointError("a checkpoint is at least three non-empty lines")
        size = _decimal(lines[1], "the tree size")
        root = _hash(lines[2], "the root hash")
        return cls(lines[0], size, root, tuple(lines[3:]))

    @property
    def possible(self) -> bool:
        """False for an empty tree whose root is not the hash of the empty string."""
        return self.size > 0 or self.root_hash == merkle.EMPTY_ROOT


@dataclass(frozen=True)
class AddCheckpoint:
    """An ``add-checkpoint`` request: the size the witness last cosigned, the consistency
    proof from it, and the new signed checkpoint (a whole note)."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str

    def encode(self) -> bytes:
        """The request body."""
        lines = [f"old {self.old_size}", *(base64.b64encode(h).decode() for h in self.proof)]
        return ("\n".join(lines) + "\n\n" + self.note).encode()

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """Parse a request body; :class:`CheckpointError` if it is not one."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CheckpointError("the body is not UTF-8") from error
        head, separator, note = text.partition("\n\n")
        if not separator:
            raise CheckpointError("no empty line before the checkpoint")
        lines = head.split("\n")
        if not lines[0].startswith("old "):
            raise CheckpointError("the first line is not 'old <size>'")
        old_size = _decimal(lines[0][4:], "the old size")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise CheckpointError(f"more than {MAX_PROOF_LINES} proof lines")
        proof = tuple(_hash(line, "a proof line") for line in lines[1:])
        return cls(old_size, proof, note)
