"""The transparency log API (API.md "Transparency log")."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView

from trustseal.api.blueprint import Blueprint
from trustseal.api.fields import StrictSchema
from trustseal.extensions import db
from trustseal.transparency import service

blp = Blueprint("transparency", __name__, url_prefix="/api/v1/log", description="Transparency log")

_BIG = ma.validate.Range(min=0, max=2**62)


class TreeHeadSchema(ma.Schema):
    """A signed tree head."""

    tree_size = ma.fields.Integer()
    root_hash = ma.fields.String(metadata={"description": "hex SHA-256"})
    timestamp = ma.fields.String(metadata={"description": "RFC 3339 UTC"})
    signature = ma.fields.String(
        metadata={"description": "compact JWS (EdDSA) of {tree_size, root_hash, timestamp}"}
    )
    kid = ma.fields.String()


class EntriesArgs(StrictSchema):
    """``start`` and ``end`` (inclusive) of a range of entries."""

    start = ma.fields.Integer(required=True, validate=_BIG)
    end = ma.fields.Integer(required=True, validate=_BIG)


class EntrySchema(ma.Schema):
    """A leaf: ``leaf`` is the exact canonical JSON that was hashed."""

    index = ma.fields.Integer()
    leaf = ma.fields.String()
    leaf_hash = ma.fields.String()


class InclusionArgs(StrictSchema):
    """Which leaf, in which tree."""

    index = ma.fields.Integer(required=True, validate=_BIG)
    tree_size = ma.fields.Integer(required=True, validate=_BIG)


class InclusionSchema(ma.Schema):
    """An RFC 9162 audit path, bottom up."""

    index = ma.fields.Integer()
    tree_size = ma.fields.Integer()
    path = ma.fields.List(ma.fields.String())


class ConsistencyArgs(StrictSchema):
    """Two tree sizes."""

    first = ma.fields.Integer(required=True, validate=_BIG)
    second = ma.fields.Integer(required=True, validate=_BIG)


class ConsistencySchema(ma.Schema):
    """An RFC 9162 consistency proof."""

    first = ma.fields.Integer()
    second = ma.fields.Integer()
    path = ma.fields.List(ma.fields.String())


@blp.route("/tree-head")
class TreeHeadView(MethodView):
    """The latest signed tree head."""

    @blp.response(200, TreeHeadSchema)
    def get(self) -> dict[str, Any]:
        """Return the latest signed tree head (a new one is signed when due)."""
        head = service.publish_head()
        db.session.commit()
        return head.as_json()


@blp.route("/entries")
class EntriesView(MethodView):
    """Leaves by index."""

    @blp.arguments(EntriesArgs, location="query")
    @blp.response(200, EntrySchema(many=True))
    def get(self, args: dict[str, int]) -> list[dict[str, Any]]:
        """Return entries ``start``..``end`` inclusive (at most 1000 per call)."""
        rows = service.entries(args["start"], args["end"])
        return [
            {"index": e.index, "leaf": e.leaf, "leaf_hash": bytes(e.leaf_hash).hex()} for e in rows
        ]


@blp.route("/proof/inclusion")
class InclusionView(MethodView):
    """Inclusion proofs."""

    @blp.arguments(InclusionArgs, location="query")
    @blp.response(200, InclusionSchema)
    def get(self, args: dict[str, int]) -> dict[str, Any]:
        """Prove that leaf ``index`` is in the tree of ``tree_size`` leaves."""
        path = service.inclusion_proof(args["index"], args["tree_size"])
        return {**args, "path": [h.hex() for h in path]}


@blp.route("/proof/consistency")
class ConsistencyView(MethodView):
    """Consistency proofs."""

    @blp.arguments(ConsistencyArgs, location="query")
    @blp.response(200, ConsistencySchema)
    def get(self, args: dict[str, int]) -> dict[str, Any]:
        """Prove that the tree of ``first`` leaves is a prefix of the tree of ``second``."""
        path = service.consistency_proof(args["first"], args["second"])
        return {**args, "path": [h.hex() for h in path]}
