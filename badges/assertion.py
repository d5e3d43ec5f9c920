"""The signed assertion inside a badge (SVG or PNG) — standard library only.

SVG: the assertion is a compact JWS placed as ``<openbadges:assertion verify="…"/>`` right
after the ``<svg>`` start tag. ``svg_sha256`` is the SHA-256 of the SVG bytes without
that element, so removing exactly that element gives back the bytes that were hashed.

PNG: the assertion is the text of an uncompressed ``iTXt`` chunk keyed ``openbadges``,
placed right after ``IHDR``. ``png_sha256`` is the SHA-256 of the PNG bytes without every
``iTXt`` chunk keyed ``openbadges`` (each removed whole: length, type, data and CRC), all
other bytes untouched — so removing the chunk gives back the bytes that were hashed.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterator

from badges.xml import escape_attr

ASSERTION = re.compile(rb'<openbadges:assertion verify="[^"]*"/>')
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ITXT_KEY = b"openbadges"


def sha256_hex(picture: bytes) -> str:
    """The ``svg_sha256`` / ``png_sha256`` claim of badge bytes that do not hold the
    assertion."""
    return hashlib.sha256(picture).hexdigest()


def embed_assertion(svg: bytes, jws: str) -> bytes:
    """Insert the assertion element right after the ``<svg …>`` start tag."""
    end = svg.index(b">") + 1
    safe = jws if _COMPACT_JWS.fullmatch(jws) else escape_attr(jws)  # base64url and dots
    tag = f'<openbadges:assertion verify="{safe}"/>'.encode("ascii")
    return svg[:end] + tag + svg[end:]


def split_assertion(svg: bytes) -> tuple[str | None, bytes]:
    """The JWS and the SVG without its assertion element (exactly as it was hashed)."""
    found = ASSERTION.search(svg)
    if found is None:
        return None, svg
    jws = found.group(0)[len(b'<openbadges:assertion verify="') : -3].decode("ascii")
    return jws, svg[: found.start()] + svg[found.end() :]


def png_chunks(png: bytes) -> Iterator[tuple[int, int, bytes, bytes]]:
    """Each complete chunk after the signature, up to ``IEND``: ``(start, end, type, data)``
    with ``png[start:end]`` the whole chunk (length, type, data, CRC). CRCs are not checked:
    a picture is bound by its hash, not by them. Stops at a chunk that does not fit."""
    position = len(PNG_MAGIC)
    while position + 12 <= len(png):
        length = int.from_bytes(png[position : position + 4], "big")
        end = position + 12 + length
        if end > len(png):
            return
        kind = png[position + 4 : position + 8]
        yield position, end, kind, png[position + 8 : end - 4]
        if kind == b"IEND":
            return
        position = end


def _is_itxt(kind: bytes, data: bytes, key: bytes) -> bool:
    return kind == b"iTXt" and data.partition(b"\x00")[0] == key


def _itxt_text(data: bytes) -> str | None:
    """The text of an uncompressed iTXt chunk (PNG spec 11.3.4.5), or None."""
    _keyword, _, rest = data.partition(b"\x00")
    if len(rest) < 2 or rest[0] != 0:
        return None  # compressed: badges never compress it
    _language, _, rest = rest[2:].partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        return None


def split_png_assertion(png: bytes) -> tuple[list[str | None], bytes]:
    """The text of every ``openbadges`` iTXt chunk (None for one that is compressed or not
    UTF-8) and the PNG without those chunks, every other byte untouched (what
    ``png_sha256`` hashes)."""
    texts: list[str | None] = []
    kept: list[bytes] = []
    position = 0
    for start, end, kind, data in png_chunks(png):
        if _is_itxt(kind, data, ITXT_KEY):
            texts.append(_itxt_text(data))
            kept.append(png[position:start])
            position = end
    kept.append(png[position:])
    return texts, b"".join(kept)


def png_itxt(png: bytes, key: str = ITXT_KEY.decode()) -> str | None:
    """The text of the first uncompressed ``iTXt`` chunk with this keyword, or None."""
    wanted = key.encode("latin-1")
    for _start, _end, kind, data in png_chunks(png):
        text = _itxt_text(data) if _is_itxt(kind, data, wanted) else None
        if text is not None:
            return text
    return None


def embed_png_assertion(png: bytes, jws: str) -> bytes:
    """Insert the assertion as an uncompressed ``openbadges`` iTXt chunk right after IHDR
    (no language tag, no translated keyword)."""
    first = next(png_chunks(png), None) if png.startswith(PNG_MAGIC) else None
    if first is None or first[2] != b"IHDR":
        raise ValueError("not a PNG that starts with IHDR")
    data = ITXT_KEY + b"\x00\x00\x00\x00\x00" + jws.encode("utf-8")
    body = b"iTXt" + data
    chunk = len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    return png[: first[1]] + chunk + png[first[1] :]
