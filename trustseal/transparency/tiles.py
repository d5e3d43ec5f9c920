"""C2SP tiled logs (c2sp.org/tlog-tiles): paths, tile contents, and a client that reads
any node hash of a tree from its tiles. Pure, standard library only.

Tile ``(L, N)`` holds, for ``i`` in ``0..255``, the hash of complete subtree
``(8L, 256N + i)`` — in this log's storage model (:mod:`merkle`) exactly the stored node
rows ``(level 8L, index 256N .. 256N + 255)``, so the server serves a tile by reading
rows, never by hashing. A partial tile (``.p/W``) holds the first ``W`` of them. Entry
bundle ``N`` holds leaves ``256N ..``, each prefixed by its length as a big-endian uint16.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from trustseal.transparency import merkle

__all__ = [
    "MAX_ENTRY_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Fetch",
    "Tile",
    "TileError",
    "TileReader",
    "decode_bundle",
    "encode_bundle",
    "encode_index",
    "parse_tile_path",
    "tile_width",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF
"""The largest leaf an entry bundle can carry (its length prefix is a uint16)."""

Fetch = Callable[[str], bytes]
"""Returns the bytes served at a tile path (``tile/0/001``)."""

_GROUP = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")
_NUMBER = re.compile(r"0|[1-9][0-9]*")


class TileError(ValueError):
    """A tile path that is not canonical, or tile data of the wrong shape."""


@dataclass(frozen=True)
class Tile:
    """A tile: ``level`` (None for an entry bundle), ``index`` and ``width`` (1..256)."""

    level: int | None
    index: int
    width: int = TILE_WIDTH

    @property
    def full(self) -> bool:
        """A full tile never changes once served."""
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """The path below the log's prefix, e.g. ``tile/0/x001/234.p/5``."""
        kind = "entries" if self.level is None else str(self.level)
        suffix = "" if self.full else f".p/{self.width}"
        return f"tile/{kind}/{encode_index(self.index)}{suffix}"


def encode_index(index: int) -> str:
    """A tile index as zero-padded 3-digit path elements, all but the last ``x``-prefixed
    (1234067 → ``x001/x234/067``)."""
    if index < 0:
        raise TileError("a tile index is not negative")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def parse_tile_path(path: str) -> Tile:
    """Parse what follows ``tile/``: ``<L>/<N>[.p/<W>]`` or ``entries/<N>[.p/<W>]``.

    Only the canonical spelling is accepted (no leading zeroes in ``L`` or ``W``, no
    extra leading ``x000`` groups), so one tile has exactly one URL.
    """
    width = TILE_WIDTH
    if ".p/" in path:
        path, _, width_text = path.rpartition(".p/")
        if not _NUMBER.fullmatch(width_text) or not 1 <= int(width_text) < TILE_WIDTH:
            raise TileError("a partial tile's width is 1 to 255")
        width = int(width_text)
    kind, _, index_text = path.partition("/")
    if kind == "entries":
        level = None
    elif _NUMBER.fullmatch(kind) and int(kind) <= MAX_LEVEL:
        level = int(kind)
    else:
        raise TileError("a tile level is 0 to 63, or 'entries'")
    groups = index_text.split("/")
    if not _LAST.fullmatch(groups[-1]) or not all(_GROUP.fullmatch(g) for g in groups[:-1]):
        raise TileError("a tile index is 3-digit groups, all but the last starting with x")
    index = int("".join(group.lstrip("x") for group in groups))
    if encode_index(index) != index_text:
        raise TileError("a tile index has no leading x000 groups")
    return Tile(level, index, width)


def tile_width(level: int, index: int, tree_size: int) -> int:
    """How many hashes tile ``(level, index)`` holds in a tree of ``tree_size`` leaves
    (0: it does not exist yet; 256: it is full)."""
    available = (tree_size >> (TILE_HEIGHT * level)) - index * TILE_WIDTH
    return max(0, min(TILE_WIDTH, available))


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    """An entry bundle: each entry prefixed by its length (big-endian uint16)."""
    parts = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise TileError(f"an entry of {len(entry)} bytes does not fit a bundle")
        parts.append(struct.pack(">H", len(entry)) + entry)
    return b"".join(parts)


def decode_bundle(data: bytes) -> list[bytes]:
    """The entries of a bundle; :class:`TileError` if it is cut short."""
    entries, offset = [], 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise TileError("an entry bundle ends inside a length prefix")
        (length,) = struct.unpack_from(">H", data, offset)
        offset += 2
        if offset + length > len(data):
            raise TileError("an entry bundle ends inside an entry")
        entries.append(data[offset : offset + length])
        offset += length
    return entries


def split_hashes(data: bytes, width: int) -> list[bytes]:
    """The ``width`` hashes of a tile's bytes; :class:`TileError` if the size is wrong."""
    if len(data) != width * merkle.HASH_SIZE:
        raise TileError(f"a tile of width {width} is {width * merkle.HASH_SIZE} bytes")
    return [data[i : i + merkle.HASH_SIZE] for i in range(0, len(data), merkle.HASH_SIZE)]


class TileReader:
    """Node hashes of a tree of ``tree_size`` leaves read from its tiles.

    ``fetch(path)`` returns the bytes served at a tile path (e.g. over HTTP). Each tile is
    fetched once; :attr:`requests` counts the fetches. :meth:`get_node` is a
    :data:`merkle.GetNode`, so :func:`merkle.root_hash`, :func:`merkle.inclusion_proof`
    and :func:`merkle.consistency_proof` work on tiles unchanged. Nothing fetched is
    trusted: a caller checks what it computes against a signed checkpoint's root.
    """

    def __init__(self, fetch: Fetch, tree_size: int) -> None:
        self._fetch = fetch
        self.tree_size = tree_size
        self._tiles: dict[Tile, list[bytes]] = {}

    @property
    def requests(self) -> int:
        """How many tiles were fetched."""
        return len(self._tiles)

    def tile(self, level: int, index: int) -> list[bytes]:
        """The hashes of tile ``(level, index)`` at this tree size (partial if at the edge)."""
        width = tile_width(level, index, self.tree_size)
        if width == 0:
            raise TileError(f"tile {level}/{index} is empty at size {self.tree_size}")
        key = Tile(level, index, width)
        if key not in self._tiles:
            self._tiles[key] = split_hashes(self._fetch(key.path), width)
        return self._tiles[key]

    def get_node(self, level: int, index: int) -> bytes:
        """The hash of complete subtree ``(level, index)``: one hash of a tile, or the
        root of ``2**(level mod 8)`` consecutive hashes of one."""
        tile_level, height = divmod(level, TILE_HEIGHT)
        first, count = index << height, 1 << height
        tile_index, offset = divmod(first, TILE_WIDTH)
        if (first + count) << (TILE_HEIGHT * tile_level) > self.tree_size:
            raise merkle.ProofError(f"node ({level}, {index}) is not complete at this size")
        hashes = self.tile(tile_level, tile_index)[offset : offset + count]
        return hashes[0] if count == 1 else merkle.root_from_leaf_hashes(hashes)
