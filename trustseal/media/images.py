"""Uploaded photos: open only real JPEG/PNG/WebP, refuse bombs and polyglots, re-encode.

Re-encoding from pixels drops EXIF (GPS included), ICC, XMP, comments and anything a
file smuggles after its image data; the EXIF orientation is applied first so the photo
still stands the right way up.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 2048
THUMB_SIDE = 400
ALLOWED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_MAGIC = {
    "JPEG": (b"\xff\xd8\xff",),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "WEBP": (b"RIFF",),
}


class ImageRejected(ValueError):
    """The upload is not an acceptable image; ``code`` is 413, 415 or 422."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ProcessedPhoto:
    """A re-encoded photo (JPEG) capped at 2048 px and its 400 px thumbnail."""

    image: bytes
    width: int
    height: int
    thumbnail: bytes
    thumbnail_width: int
    thumbnail_height: int


def _ends_cleanly(data: bytes, kind: str) -> bool:
    """True when nothing follows the image's own end (a polyglot hides data there)."""
    if kind == "PNG":
        end = data.rfind(b"IEND")
        return end != -1 and len(data) == end + 8  # 4 type bytes + 4 CRC bytes
    if kind == "JPEG":
        return data.rstrip(b"\x00").endswith(b"\xff\xd9")
    riff_size = int.from_bytes(data[4:8], "little")
    return data[8:12] == b"WEBP" and riff_size + 8 == len(data)


def _sniff(data: bytes) -> str:
    for kind, magics in _MAGIC.items():
        if data.startswith(magics):
            return kind
    raise ImageRejected(415, "Only JPEG, PNG and WebP photos are accepted.")


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()


def process_photo(data: bytes) -> ProcessedPhoto:
    """Validate and re-encode an uploaded photo; raise :class:`ImageRejected` otherwise."""
    if len(data) > MAX_BYTES:
        raise ImageRejected(413, "A photo may be at most 10 MB.")
    kind = _sniff(data)
    if not _ends_cleanly(data, kind):
        raise ImageRejected(422, "The file holds more than one image: it is refused.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as probe:
                if probe.width * probe.height > MAX_PIXELS:
                    raise ImageRejected(422, "A photo may have at most 40 megapixels.")
                probe.verify()
            with Image.open(io.BytesIO(data), formats=[kind]) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
                picture = _flatten(upright)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(422, "A photo may have at most 40 megapixels.") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected(422, "The photo is damaged or incomplete.") from exc
    picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    thumb = picture.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return ProcessedPhoto(
        _jpeg(picture), picture.width, picture.height, _jpeg(thumb), thumb.width, thumb.height
    )
