"""The log served as c2sp.org/tlog-tiles: ``/log/checkpoint``, ``/log/tile/…`` and the
log's note verifier keys at ``/log/vkey``. Thin views over :mod:`witnessing`."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from trustseal.extensions import db
from trustseal.transparency import tiles, witnessing

blp = Blueprint("tlog", __name__, url_prefix="/log")

IMMUTABLE = "public, max-age=31536000, immutable"
CHECKPOINT_MAX_AGE = 5  # seconds: the checkpoint changes; a cache may keep it this long


def _text(body: str, cache_control: str) -> Response:
    response = Response(body, content_type="text/plain; charset=utf-8")
    response.headers["Cache-Control"] = cache_control
    return response


@blp.get("/checkpoint")
def checkpoint() -> Response:
    """The newest checkpoint (with witnesses: the newest a quorum cosigned), signed by the
    log and followed by the witnesses' cosignatures."""
    body = witnessing.signed_checkpoint(witnessing.served_size())
    db.session.commit()  # a first head or signing key may have been created
    return _text(body, f"public, max-age={CHECKPOINT_MAX_AGE}")


@blp.get("/vkey")
def vkey() -> Response:
    """The log's note verifier keys, one per line, current first (for witnesses)."""
    body = "".join(f"{v.vkey}\n" for v in witnessing.log_verifiers())
    db.session.commit()
    return _text(body, "public, max-age=300")


@blp.get("/tile/<path:path>")
def tile(path: str) -> Response:
    """A hash tile (``/log/tile/<L>/<N>[.p/<W>]``) or an entry bundle
    (``/log/tile/entries/<N>[.p/<W>]``): immutable once served."""
    try:
        wanted = tiles.parse_tile_path(path)
    except tiles.TileError:
        abort(404)
    response = Response(witnessing.tile_data(wanted), content_type="application/octet-stream")
    response.headers["Cache-Control"] = IMMUTABLE
    response.add_etag()
    response.make_conditional(request)
    return response
