"""Key publication: ``/.well-known/jwks.json`` (current and retired keys)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView

from trustseal.api.blueprint import Blueprint
from trustseal.extensions import db
from trustseal.signing import service

blp = Blueprint("signing", __name__, url_prefix="/.well-known", description="Signing keys")


class JwkSchema(ma.Schema):
    """An Ed25519 public key (RFC 8037)."""

    kty = ma.fields.String()
    crv = ma.fields.String()
    x = ma.fields.String()
    kid = ma.fields.String(metadata={"description": "RFC 7638 thumbprint"})
    use = ma.fields.String()
    iat = ma.fields.Integer(metadata={"description": "created, seconds since the epoch"})
    retired_at = ma.fields.Integer(
        metadata={
            "description": "retired, seconds since the epoch (absent while current): "
            "assertions this key signed later are refused"
        }
    )


class JwksSchema(ma.Schema):
    """The service's public keys."""

    keys = ma.fields.List(ma.fields.Nested(JwkSchema))


@blp.route("/jwks.json")
class Jwks(MethodView):
    """The JWKS."""

    @blp.response(200, JwksSchema, headers={"Cache-Control": {"schema": {"type": "string"}}})
    def get(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Every public signing key: the current one and the retired ones."""
        service.current_key()  # a fresh install publishes its first key
        db.session.commit()
        return service.jwks(), 200, {"Cache-Control": "public, max-age=300"}
