"""The API blueprint: flask-smorest's, with argument schemas built once per route."""

from __future__ import annotations

from typing import Any

import flask_smorest


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint whose ``arguments`` schemas are instantiated once.

    webargs instantiates a schema *class* on every request (and with it every nested
    schema); an instance is reused. Schemas keep no per-request state, so one instance
    per route is safe under threads.
    """

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        """As :meth:`flask_smorest.Blueprint.arguments`, with ``schema`` made an instance."""
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)
