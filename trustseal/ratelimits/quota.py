"""Quotas a service counts itself (per merchant, per resource — not per client address),
in the limiter storage every process shares."""

from __future__ import annotations

import logging
import time

from flask import current_app
from limits import parse_many

from trustseal.extensions import limiter

log = logging.getLogger("trustseal.ratelimits")


def charge(limits: str, *key: str) -> int | None:
    """Count one action of ``key`` against every limit in ``limits`` (Flask-Limiter syntax,
    ``"5 per minute; 30 per hour"``): None when it is allowed (and counted), else the
    seconds to wait before the next one is (then nothing is counted).

    Everything is allowed while ``RATELIMIT_ENABLED`` is off, or when the storage cannot
    be reached (logged): a quota never turns into an error.
    """
    config = current_app.config
    if not config["RATELIMIT_ENABLED"]:
        return None
    items = parse_many(limits)
    scope = (config["RATELIMIT_KEY_PREFIX"], *key)
    strategy = limiter.limiter
    try:
        for item in items:
            if not strategy.test(item, *scope):
                reset = strategy.get_window_stats(item, *scope).reset_time
                return max(1, int(reset - time.time() + 0.999))
        for item in items:
            strategy.hit(item, *scope)
    except Exception:
        log.warning("rate-limit storage unavailable", exc_info=True)
    return None
