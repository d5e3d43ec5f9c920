"""HTTP for plugins that call their platform's API: timeouts, retries with backoff."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from flask import current_app

from trustseal.platforms import PlatformError

RETRY_STATUSES = {429, 500, 502, 503, 504}


def configured_timeout() -> float:
    """Seconds a platform API call may take (``TRUSTSEAL_PLATFORM_HTTP_TIMEOUT``)."""
    return float(current_app.config["TRUSTSEAL_PLATFORM_HTTP_TIMEOUT"])


def get_json(
    url: str,
    headers: Mapping[str, str],
    timeout: float = 10.0,
    attempts: int = 3,
    backoff: float = 0.5,
) -> tuple[Any, Mapping[str, str]]:
    """GET a JSON document; retry 429/5xx and network errors, then :class:`PlatformError`.

    Returns the decoded body and the response headers.
    """
    request = urllib.request.Request(url, headers={"Accept": "application/json", **headers})
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read()), dict(response.headers)
        except urllib.error.HTTPError as error:
            last = error
            if error.code not in RETRY_STATUSES:
                raise PlatformError(f"{url} answered {error.code}") from error
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
            last = error
        if attempt + 1 < attempts:
            time.sleep(backoff * 2**attempt)
    raise PlatformError(f"{url} failed after {attempts} attempts: {last}")
