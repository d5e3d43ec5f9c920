"""JSON that can be written inside an HTML ``<script>`` element (JSON-LD data blocks)."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

# No text can close the element or open a comment in it: the three characters that could
# are written as JSON unicode escapes, which every JSON parser reads back as they were.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def script_safe(data: Any, indent: int | None = None) -> Markup:
    """``data`` as JSON safe to inline in ``<script type="application/ld+json">``."""
    return Markup(json.dumps(data, ensure_ascii=False, indent=indent).translate(_SCRIPT_SAFE))
