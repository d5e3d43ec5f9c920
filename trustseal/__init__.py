"""trustseal: the service a trust-seal certifier runs for online shops.

This module stays import-light (the factory lives in :mod:`trustseal.app`), so the pure
parts — :mod:`trustseal.signing.jws`, :mod:`trustseal.transparency.merkle` — can be
used by outside verifiers without Flask or a database driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application (see :func:`trustseal.app.create_app`)."""
    from trustseal.app import create_app as build

    return build(config)
