"""The one exception a domain raises to refuse a request.

A domain's service functions raise :class:`DomainError` (or its domain's subclass, which
adds nothing but a name to catch); the app factory answers it with the service's error
format (API.md "Conventions") — its ``code`` as the HTTP status, its message, and, when it
names the input it is about, ``errors: {"json": {field: [...]}}``. Pages that re-render a
form catch it themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class DomainError(Exception):
    """A refused operation: ``code`` is the HTTP status to answer (404, 409, 422…),
    ``field`` the input it is about (if any), ``items`` what the error lists (e.g. the
    ids of unmet criteria) — else the message is the field's one error."""

    headers: ClassVar[Mapping[str, str]] = {}  # extra response headers (e.g. Retry-After)

    def __init__(
        self, code: int, message: str, field: str | None = None, items: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.items = items

    def errors(self) -> dict[str, Any] | None:
        """The API's ``errors`` for this error, or None when it names no field."""
        if self.field is None:
            return None
        return {"json": {self.field: self.items if self.items is not None else [str(self)]}}
