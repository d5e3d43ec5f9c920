"""Where media files live, behind a small interface (local files by default)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Protocol

from flask import current_app


class MediaStorage(Protocol):
    """What a media store does: keep bytes under a key, say its public URL, forget it."""

    def save(self, data: bytes, suffix: str) -> str:
        """Store the bytes under a new key and return the key."""
        ...

    def url(self, key: str) -> str:
        """The public URL of a stored key."""
        ...

    def delete(self, key: str) -> None:
        """Remove a stored key (no error if it is gone)."""
        ...


class LocalStorage:
    """Files under a folder (``instance/media`` by default), served at ``/media/<key>``."""

    def __init__(self, root: Path, base_url: str) -> None:
        self.root = root
        self.base_url = base_url.rstrip("/")

    def save(self, data: bytes, suffix: str) -> str:
        """Write the bytes atomically to a new random key."""
        key = f"{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}{suffix}"
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return key

    def url(self, key: str) -> str:
        """``<base>/media/<key>``."""
        return f"{self.base_url}/media/{key}"

    def delete(self, key: str) -> None:
        """Remove the file if present."""
        (self.root / key).unlink(missing_ok=True)


def media_root() -> Path:
    """The folder of local media files (``TRUSTSEAL_MEDIA_ROOT`` or ``<instance>/media``)."""
    configured = current_app.config["TRUSTSEAL_MEDIA_ROOT"]
    return Path(configured) if configured else Path(current_app.instance_path) / "media"


def storage() -> MediaStorage:
    """The configured media store of the current app."""
    return LocalStorage(media_root(), current_app.config["TRUSTSEAL_BASE_URL"])
