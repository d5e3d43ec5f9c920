"""The witness's HTTP interface (c2sp.org/tlog-witness), as a plain WSGI application.

``POST /add-checkpoint`` answers with the status codes the specification gives:

* 400 — a body that is not ``old <size>``, proof lines, an empty line and a checkpoint,
  or an old size larger than the checkpoint's;
* 403 — no signature of a key this witness trusts for the origin, or a bad one;
* 404 — an origin this witness does not witness;
* 409 — the old size is not the size it last cosigned (the body says which, as
  ``text/x.tlog.size``);
* 422 — an empty tree with another root than the empty-tree hash, a proof where none
  is due, a consistency proof that does not verify, or the same size with another root
  (a fork);
* 200 — the cosignature line(s).

``GET /<hex SHA-256 of the origin>/checkpoint`` serves the last checkpoint cosigned for
that origin, with the log's signatures and this witness's cosignature.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from trustseal.transparency import checkpoint, merkle, note
from trustseal.witness.state import Conflict, Latest, WitnessState

MAX_BODY = 64 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"
TEXT = "text/plain; charset=utf-8"


class Refusal(Exception):
    """A request the witness refuses, with its HTTP status; ``evidence`` when the log
    signed what was refused (kept as proof of its misbehaviour)."""

    def __init__(self, status: int, message: str, evidence: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.evidence = evidence


def parse_log(option: str) -> tuple[str, note.Verifier]:
    """Parse a ``--log ORIGIN=VKEY`` option (a log's origin and one of its note keys)."""
    try:
        return note.parse_pair(option, note.ED25519)
    except note.NoteError as error:
        raise ValueError(str(error)) from error


def origin_hash(origin: str) -> str:
    """The monitoring path element of an origin: hex SHA-256 of its bytes."""
    return hashlib.sha256(origin.encode()).hexdigest()


@dataclass
class Witness:
    """A witness: its cosigning key, the logs it follows (origin → trusted note keys) and
    its state."""

    signer: note.Signer
    logs: Mapping[str, Sequence[note.Verifier]]
    state: WitnessState
    _by_hash: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.signer.sig_type != note.COSIGNATURE_V1:
            raise ValueError("a witness signs cosignature/v1 (signature type 0x04)")
        self._by_hash = {origin_hash(origin): origin for origin in self.logs}

    @classmethod
    def configure(
        cls, signer: note.Signer, log_options: Iterable[str], state: WitnessState
    ) -> Witness:
        """A witness from ``--log ORIGIN=VKEY`` options (an origin may be given twice,
        once per key, e.g. while its log rotates keys)."""
        logs: dict[str, list[note.Verifier]] = {}
        for option in log_options:
            origin, verifier = parse_log(option)
            logs.setdefault(origin, []).append(verifier)
        return cls(signer, logs, state)

    def add_checkpoint(self, body: bytes) -> str:
        """Handle an ``add-checkpoint`` body: the cosignature lines, or :class:`Refusal`
        (:class:`Conflict` for a 409)."""
        try:
            request = checkpoint.AddCheckpoint.parse(body)
            text, _ = note.split(request.note)
            submitted = checkpoint.Checkpoint.parse(text)
        except (checkpoint.CheckpointError, note.NoteError) as error:
            raise Refusal(400, f"malformed request: {error}") from error
        trusted = self.logs.get(submitted.origin)
        if trusted is None:
            raise Refusal(404, f"unknown origin {submitted.origin!r}")
        try:
            opened = note.open_note(request.note, trusted)
        except note.NoteError as error:
            raise Refusal(403, f"not signed by the log: {error}") from error
        if request.old_size > submitted.size:
            raise Refusal(400, "the old size is larger than the checkpoint's", evidence=True)
        if not submitted.possible:
            raise Refusal(422, "an empty tree has the empty-tree root", evidence=True)

        def check(latest: Latest | None) -> None:
            self._check_consistent(request, submitted, latest)

        def cosign(now: int) -> str:
            cosignature = self.signer.sign(text, now)
            kept = "".join(s.line() for s in opened.signatures)
            return text + "\n" + kept + cosignature.line()

        served = self.state.advance(
            submitted.origin, request.old_size, check, cosign, submitted.size, submitted.root_hash
        )
        return served.rsplit("\n", 2)[-2] + "\n"

    @staticmethod
    def _check_consistent(
        request: checkpoint.AddCheckpoint, new: checkpoint.Checkpoint, latest: Latest | None
    ) -> None:
        if latest is None or request.old_size == 0:
            if request.proof:
                raise Refusal(422, "no proof is due from an empty tree", evidence=True)
            return
        if request.old_size == new.size:
            if request.proof or new.root_hash != latest.root:
                raise Refusal(422, f"another root for size {new.size}: a fork", evidence=True)
            return
        try:
            ok = merkle.verify_consistency(
                latest.size, new.size, latest.root, new.root_hash, list(request.proof)
            )
        except merkle.ProofError:
            ok = False
        if not ok:
            raise Refusal(
                422,
                f"size {new.size} is not consistent with size {latest.size}: a fork or rewrite",
                evidence=True,
            )

    def checkpoint_for(self, hashed_origin: str) -> str:
        """The last cosigned checkpoint of the origin whose hash is ``hashed_origin``."""
        origin = self._by_hash.get(hashed_origin)
        latest = self.state.latest(origin) if origin else None
        if latest is None:
            raise Refusal(404, "no checkpoint cosigned for this origin")
        return latest.note


class WitnessApp:
    """The WSGI application of a :class:`Witness`."""

    def __init__(self, witness: Witness) -> None:
        self.witness = witness
        self.urls = Map(
            [
                Rule("/add-checkpoint", endpoint="add", methods=["POST"]),
                Rule("/<hashed>/checkpoint", endpoint="checkpoint", methods=["GET"]),
            ]
        )

    def _respond(self, request: Request) -> Response:
        try:
            endpoint, values = self.urls.bind_to_environ(request.environ).match()
        except (NotFound, MethodNotAllowed) as error:
            return Response(f"{error.description}\n", error.code, content_type=TEXT)
        try:
            if endpoint == "checkpoint":
                return Response(self.witness.checkpoint_for(values["hashed"]), content_type=TEXT)
            if (request.content_length or 0) > MAX_BODY:
                return Response("a body of at most 64 KiB is required\n", 413, content_type=TEXT)
            body = request.get_data(cache=False)  # a chunked body is cut at MAX_BODY: 413
            try:
                return Response(self.witness.add_checkpoint(body), content_type=TEXT)
            except Refusal as refusal:
                if refusal.evidence:
                    origin = body.split(b"\n\n", 1)[-1].split(b"\n", 1)[0]
                    self.witness.state.keep_evidence(
                        origin.decode(errors="replace"), refusal.message, body
                    )
                raise
        except Conflict as conflict:
            return Response(f"{conflict.size}\n", 409, content_type=SIZE_CONTENT_TYPE)
        except Refusal as refusal:
            return Response(f"{refusal.message}\n", refusal.status, content_type=TEXT)
        except HTTPException as error:
            return Response(f"{error.description}\n", error.code or 400, content_type=TEXT)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """WSGI entry point."""
        request = Request(environ)
        request.max_content_length = MAX_BODY
        return self._respond(request)(environ, start_response)
