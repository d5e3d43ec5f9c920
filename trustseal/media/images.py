"""Uploaded photos: open only real JPEG/PNG/WebP, refuse bombs and polyglots, re-encode.

Re-encoding from pixels drops EXIF (GPS included), ICC, XMP and comments; the EXIF
orientation is applied first so the photo still stands the right way up. What phones write
after a JPEG's end (a motion photo's video, a gain map, Samsung's trailer) is dropped
before decoding; any other data after an image's end is refused (a polyglot).
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
LABELS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP"}
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


class _Truncated(Exception):
    """The file ends before its image does."""


DAMAGED = "The photo is damaged or incomplete."


def _jpeg_end(data: bytes) -> int:
    """Where a JPEG's EOI marker ends, walking its segments and entropy-coded scans."""
    pos, size = 2, len(data)  # after SOI
    while True:
        if pos >= size:
            raise _Truncated
        if data[pos] != 0xFF:
            raise ImageRejected(422, DAMAGED)
        while pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= size:
            raise _Truncated
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            return pos
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length
            continue
        if pos + 2 > size:
            raise _Truncated
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or marker == 0x00:
            raise ImageRejected(422, DAMAGED)
        pos += length
        if pos > size:
            raise _Truncated
        if marker == 0xDA:  # SOS: entropy-coded data runs to the next real marker
            pos = _scan_end(data, pos)


def _scan_end(data: bytes, pos: int) -> int:
    """The offset of the first marker after entropy-coded data (FF00 is a stuffed byte,
    FFD0-FFD7 are restart markers inside the scan)."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos == -1 or pos + 1 >= len(data):
            raise _Truncated
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos += 2
        elif following == 0xFF:
            pos += 1
        else:
            return pos


def _png_end(data: bytes) -> int:
    """Where a PNG's IEND chunk ends, walking its chunks."""
    pos, size = 8, len(data)  # after the signature
    while True:
        if pos + 8 > size:
            raise _Truncated
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length  # length, type, data, CRC
        if pos > size:
            raise _Truncated
        if kind == b"IEND":
            return pos


def _webp_end(data: bytes) -> int:
    """Where a WebP's RIFF container ends, as its header says."""
    end = 8 + int.from_bytes(data[4:8], "little")
    if end > len(data):
        raise _Truncated
    return end


_END = {"JPEG": _jpeg_end, "PNG": _png_end, "WEBP": _webp_end}


def _phone_trailer(trailer: bytes) -> bool:
    """Whether what follows a JPEG's end is what phones write there: NUL padding, the
    further images of a multi-picture file (a depth map, an Ultra HDR gain map), a motion
    photo's video (an MP4 file, Google's and others'), a Samsung trailer (it ends with
    ``SEFT``) — rather than another kind of file."""
    rest = trailer
    while rest.strip(b"\x00"):
        if rest.endswith(b"SEFT"):
            return True
        video = rest.find(b"ftyp") - 4  # an MP4's first box: a 4-byte size, then "ftyp"
        if video >= 0 and not rest[:video].strip(b"\x00"):
            return True
        rest = rest.lstrip(b"\x00")
        if not rest.startswith(_MAGIC["JPEG"]):
            return False
        try:
            rest = rest[_jpeg_end(rest) :]
        except (_Truncated, ImageRejected):
            return False
    return True


def _whole_image(data: bytes, kind: str) -> bytes:
    """The image up to its own end, a phone's JPEG trailer dropped. Refuse a file cut short
    (naming its format) and one with anything else after its image's end: a polyglot
    hides a second file there."""
    try:
        end = _END[kind](data)
    except _Truncated:
        raise ImageRejected(
            422, f"The {LABELS[kind]} photo is incomplete (the file is truncated)."
        ) from None
    trailer = data[end:]
    if trailer and not (kind == "JPEG" and _phone_trailer(trailer)):
        raise ImageRejected(422, "The file holds more than one image: it is refused.")
    return data[:end]


def _sniff(data: bytes) -> str:
    for kind, magics in _MAGIC.items():
        if data.startswith(magics) and (kind != "WEBP" or data[8:12] == b"WEBP"):
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
    data = _whole_image(data, kind)
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
        raise ImageRejected(422, DAMAGED) from exc
    picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    thumb = picture.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return ProcessedPhoto(
        _jpeg(picture), picture.width, picture.height, _jpeg(thumb), thumb.width, thumb.height
    )
