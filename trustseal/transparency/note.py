"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 and cosignature/v1 signatures.

Pure functions over the standard library and ``cryptography``, so the log, the witness
(``trustseal witness serve``) and the offline clients share one implementation. A note is
a text ending in a newline, a blank line, then one or more signature lines::

    — <key name> base64(key ID || signature)

Two signature types are supported, each keyed by ``SHA-256(name || 0x0A || type ||
public key)[:4]``:

* ``0x01`` (:data:`ED25519`): an Ed25519 signature of the note text (the log's own key);
* ``0x04`` (:data:`COSIGNATURE_V1`): c2sp.org/tlog-cosignature, an 8-byte big-endian
  POSIX timestamp followed by an Ed25519 signature of ``cosignature/v1\\ntime <t>\\n``
  and the note text (a witness's key).

Verification follows the specification: signatures from unknown keys are ignored, a
known key's bad signature rejects the whole note, and a note with no verified signature
is rejected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

__all__ = [
    "COSIGNATURE_V1",
    "ED25519",
    "MAX_SIGNATURES",
    "Note",
    "NoteError",
    "Signature",
    "Signer",
    "UnverifiedNoteError",
    "Verifier",
    "cosignature_message",
    "is_valid_name",
    "key_id",
    "open_note",
    "parse_line",
    "parse_pair",
    "sign",
    "split",
    "verifier_of_type",
]

ED25519 = 0x01
"""Signature type of a plain Ed25519 note signature."""

COSIGNATURE_V1 = 0x04
"""Signature type of a timestamped Ed25519 checkpoint cosignature (tlog-cosignature)."""

MAX_SIGNATURES = 100
"""The most signature lines a note may carry (the spec asks for at least 16)."""

DASH = "\u2014"
_SIGNATURE_SIZE = 64
_TIMESTAMP_SIZE = 8
_MAX_TIMESTAMP = 2**63 - 1
_SKEY_PREFIX = "PRIVATE+KEY+"


class NoteError(ValueError):
    """A malformed note or key, or a note whose known signatures do not verify."""


class UnverifiedNoteError(NoteError):
    """A well-formed note that no trusted key signed; ``note`` holds what was found."""

    def __init__(self, note: Note) -> None:
        super().__init__("note has no verifiable signatures")
        self.note = note


def is_valid_name(name: str) -> bool:
    """A key name: non-empty, with no Unicode space, no ``+`` and no control character."""
    return (
        bool(name)
        and "+" not in name
        and not any(char.isspace() or unicodedata.category(char) == "Cc" for char in name)
    )


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """``SHA-256(name || 0x0A || sig_type || public_key)[:4]`` as a big-endian uint32."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def cosignature_message(text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: a header line, a time line, then the note text."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise NoteError("not standard base64") from error


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Signature:
    """One signature line: the key's name and ID, and the signature bytes after the ID."""

    name: str
    key_id: int
    data: bytes

    def line(self) -> str:
        """The line as it appears in a note, ending in a newline."""
        encoded = base64.b64encode(struct.pack(">I", self.key_id) + self.data).decode()
        return f"{DASH} {self.name} {encoded}\n"

    @property
    def timestamp(self) -> int | None:
        """The POSIX time a cosignature carries (None if too short to be one)."""
        if len(self.data) != _TIMESTAMP_SIZE + _SIGNATURE_SIZE:
            return None
        return int(struct.unpack(">Q", self.data[:_TIMESTAMP_SIZE])[0])


@dataclass(frozen=True)
class Verifier:
    """A trusted public key: its name, ID, signature type and 32-byte Ed25519 key."""

    name: str
    key_id: int
    sig_type: int
    public_key: bytes

    @classmethod
    def for_key(cls, name: str, public_key: bytes, sig_type: int = ED25519) -> Verifier:
        """The verifier of an Ed25519 ``public_key`` under ``name`` for ``sig_type``."""
        if not is_valid_name(name):
            raise NoteError(f"invalid key name {name!r}")
        if sig_type not in (ED25519, COSIGNATURE_V1) or len(public_key) != 32:
            raise NoteError("only 32-byte Ed25519 keys of type 0x01 or 0x04 are supported")
        return cls(name, key_id(name, sig_type, public_key), sig_type, bytes(public_key))

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse ``<name>+<hex key ID>+base64(type || public key)``; raise :class:`NoteError`
        unless the name is valid, the type known and the ID the one the key gives."""
        name, _, rest = vkey.partition("+")
        id_hex, _, key_b64 = rest.partition("+")
        if len(id_hex) != 8 or any(c not in "0123456789abcdefABCDEF" for c in id_hex):
            raise NoteError("malformed verifier key")
        material = _b64decode(key_b64)
        if not material:
            raise NoteError("malformed verifier key")
        verifier = cls.for_key(name, material[1:], material[0])
        if verifier.key_id != int(id_hex, 16):
            raise NoteError("verifier key ID does not match its key")
        return verifier

    @property
    def vkey(self) -> str:
        """The verifier key text (signed-note "Verifier keys")."""
        material = base64.b64encode(bytes([self.sig_type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{material}"

    def verify(self, text: str, data: bytes) -> bool:
        """True if ``data`` (a signature line's bytes after the key ID) signs ``text``."""
        key = Ed25519PublicKey.from_public_bytes(self.public_key)
        if self.sig_type == COSIGNATURE_V1:
            if len(data) != _TIMESTAMP_SIZE + _SIGNATURE_SIZE:
                return False
            timestamp = int(struct.unpack(">Q", data[:_TIMESTAMP_SIZE])[0])
            if timestamp > _MAX_TIMESTAMP:
                return False
            message, signature = cosignature_message(text, timestamp), data[_TIMESTAMP_SIZE:]
        else:
            message, signature = text.encode(), data
        if len(signature) != _SIGNATURE_SIZE:
            return False
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def verifier_of_type(vkey: str, sig_type: int) -> Verifier:
    """Parse a verifier key that must be of ``sig_type``; :class:`NoteError` otherwise."""
    verifier = Verifier.from_vkey(vkey)
    if verifier.sig_type != sig_type:
        names = {ED25519: "an Ed25519 (0x01) note key", COSIGNATURE_V1: "a cosignature/v1 key"}
        raise NoteError(f"{vkey} is not {names.get(sig_type, hex(sig_type))}")
    return verifier


def parse_pair(text: str, sig_type: int) -> tuple[str, Verifier]:
    """Parse ``NAME=VKEY`` (a URL or an origin, then a verifier key of ``sig_type``)."""
    name, separator, vkey = text.partition("=")
    if not separator or not name:
        raise NoteError(f"{text!r} is not NAME=VKEY")
    return name, verifier_of_type(vkey, sig_type)


@dataclass(frozen=True)
class Signer:
    """A private key that signs notes under ``name`` as ``sig_type``."""

    name: str
    sig_type: int
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str, sig_type: int = ED25519) -> Signer:
        """A new random key."""
        Verifier.for_key(name, bytes(32), sig_type)  # validates the name and the type
        return cls(name, sig_type, Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, name: str, seed: bytes, sig_type: int = ED25519) -> Signer:
        """The key of a 32-byte Ed25519 seed."""
        Verifier.for_key(name, bytes(32), sig_type)
        return cls(name, sig_type, Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_skey(cls, skey: str, sig_type: int | None = None) -> Signer:
        """Parse ``PRIVATE+KEY+<name>+<hex ID>+base64(type || seed)`` (golang.org/x/mod's
        format). ``sig_type`` overrides the encoded type: a type 0x01 key can be used for
        cosignatures (with the type 0x04 key ID), as transparency-dev/formats allows."""
        if not skey.startswith(_SKEY_PREFIX):
            raise NoteError("malformed signer key")
        name, _, rest = skey[len(_SKEY_PREFIX) :].strip().partition("+")
        id_hex, _, key_b64 = rest.partition("+")
        material = _b64decode(key_b64)
        if len(id_hex) != 8 or len(material) != 33 or material[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError("malformed signer key")
        signer = cls.from_seed(name, material[1:], material[0])
        if signer.verifier.key_id != int(id_hex, 16):
            raise NoteError("signer key ID does not match its key")
        if sig_type is not None and sig_type != signer.sig_type:
            signer = cls.from_seed(name, material[1:], sig_type)
        return signer

    @property
    def skey(self) -> str:
        """The signer key text (keep it secret)."""
        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        material = base64.b64encode(bytes([self.sig_type]) + seed).decode()
        return f"{_SKEY_PREFIX}{self.name}+{self.verifier.key_id:08x}+{material}"

    @property
    def verifier(self) -> Verifier:
        """The matching public key."""
        public_key = _raw_public(self.private_key.public_key())
        return Verifier.for_key(self.name, public_key, self.sig_type)

    def sign(self, text: str, timestamp: int | None = None) -> Signature:
        """Sign a note text; a cosignature needs ``timestamp`` (POSIX seconds, > 0)."""
        _check_text(text)
        if self.sig_type == COSIGNATURE_V1:
            if timestamp is None or not 0 < timestamp <= _MAX_TIMESTAMP:
                raise NoteError("a cosignature needs a positive timestamp")
            data = struct.pack(">Q", timestamp) + self.private_key.sign(
                cosignature_message(text, timestamp)
            )
        else:
            data = self.private_key.sign(text.encode())
        return Signature(self.name, self.verifier.key_id, data)


@dataclass
class Note:
    """An opened note: its text, the signatures that verified and those from unknown keys."""

    text: str
    signatures: list[Signature] = field(default_factory=list)
    unverified: list[Signature] = field(default_factory=list)


def _check_text(text: str) -> None:
    if not text.endswith("\n") or any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("malformed note")


def parse_line(line: str) -> Signature:
    """One signature line (its final newline optional); :class:`NoteError` if malformed."""
    line = line.removesuffix("\n")
    if not line.startswith(DASH + " "):
        raise NoteError("malformed note")
    name, _, encoded = line[2:].partition(" ")
    if not is_valid_name(name) or not encoded or " " in encoded:
        raise NoteError("malformed note")
    raw = _b64decode(encoded)
    if len(raw) < 5:
        raise NoteError("malformed note")
    return Signature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def split(note: str | bytes) -> tuple[str, list[Signature]]:
    """A note's text and its signature lines, unverified; :class:`NoteError` if malformed."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as error:
            raise NoteError("malformed note") from error
    if any(ord(c) < 0x20 and c != "\n" for c in note) or not note.endswith("\n"):
        raise NoteError("malformed note")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("malformed note")
    text, lines = note[: cut + 1], note[cut + 2 :].split("\n")[:-1]
    if not lines or len(lines) > MAX_SIGNATURES:
        raise NoteError("malformed note")
    return text, [parse_line(line) for line in lines]


def open_note(note: str | bytes, verifiers: Iterable[Verifier]) -> Note:
    """Parse a note and verify it with the trusted ``verifiers``.

    Signatures from unknown keys (name and ID not both matching) go to
    ``Note.unverified``; a repeated signature is counted once. A name and ID given twice
    in ``verifiers`` is ambiguous, as in golang.org/x/mod/sumdb/note.

    Raises:
        NoteError: the note is malformed, two trusted keys share a name and ID, or a
            trusted key's signature fails (``invalid signature for key NAME+ID``).
        UnverifiedNoteError: no trusted key signed the note.
    """
    text, signatures = split(note)
    trusted: dict[tuple[str, int], Verifier] = {}
    ambiguous: set[tuple[str, int]] = set()
    for verifier in verifiers:
        slot = (verifier.name, verifier.key_id)
        if slot in trusted:
            ambiguous.add(slot)
        trusted[slot] = verifier
    opened = Note(text)
    for signature in signatures:
        slot = (signature.name, signature.key_id)
        if slot in ambiguous:
            raise NoteError(f"ambiguous key {signature.name}+{signature.key_id:08x}")
        known = trusted.get(slot)
        if known is None:
            if signature not in opened.unverified:
                opened.unverified.append(signature)
            continue
        if not known.verify(text, signature.data):
            raise NoteError(f"invalid signature for key {signature.name}+{signature.key_id:08x}")
        if signature not in opened.signatures:
            opened.signatures.append(signature)
    if not opened.signatures:
        raise UnverifiedNoteError(opened)
    return opened


def sign(
    text: str,
    signers: Sequence[Signer],
    *,
    timestamp: int | None = None,
    keep: Iterable[Signature] = (),
) -> str:
    """A signed note: ``text`` with the signatures of ``signers`` and then those in
    ``keep`` (each kept signature from a key not among the signers).

    ``timestamp`` is required when a signer makes cosignatures.
    """
    _check_text(text)
    made = [signer.sign(text, timestamp) for signer in signers]
    slots = {(signature.name, signature.key_id) for signature in made}
    kept = [s for s in keep if (s.name, s.key_id) not in slots]
    if not made and not kept:
        raise NoteError("a note needs at least one signature")
    return text + "\n" + "".join(signature.line() for signature in [*made, *kept])
