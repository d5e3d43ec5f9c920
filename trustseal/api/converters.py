"""URL converters shared by every blueprint."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**31 - 1  # database integer keys; a larger number cannot name a row


class IdConverter(IntegerConverter):
    """``<id:name>``: a positive integer that fits a database key (else the route is a 404)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def id_schema(converter: IdConverter) -> dict[str, Any]:
    """The OpenAPI schema of an ``<id:…>`` path parameter."""
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}
