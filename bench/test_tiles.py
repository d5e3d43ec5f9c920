"""The log served as tiles: a full tile ≥ 0.8x ``/healthz`` through gunicorn, and a client's
inclusion proof by tiles at 1M leaves in <= 2x the requests it takes at 1k."""

from __future__ import annotations

import random
import statistics

import harness
import pytest
from conftest import make_app, quick, size_label
from harness import goal

from trustseal.extensions import db
from trustseal.transparency import merkle, tiles
from trustseal.transparency import service as log

LEAVES = 70_000  # a full level-1 tile (65,536 leaves) and partial ones at every level
PROOFS = 200


def test_tiles_served(pytestconfig: pytest.Config) -> None:
    """A full level-0 and level-1 tile, a partial tile, an entry bundle and ``/healthz`` in
    turns on one gunicorn (sync, 2 workers); a ratio is the median of the per-round
    ratios."""
    rounds, seconds = (2, 3.0) if quick(pytestconfig) else (5, 6.0)
    with harness.migrated("bench_tiles") as (db_url, instance):
        app = make_app(db_url, instance)
        with app.app_context():
            for start in range(0, LEAVES, 10_000):
                events = [
                    log.Event("key.rotated", data={"n": n}) for n in range(start, start + 10_000)
                ]
                log.append_many(events)
                db.session.commit()
            log.publish_head(force=True)
            db.session.commit()
        partial = tiles.Tile(0, LEAVES // 256, LEAVES % 256).path
        runs = {
            "healthz": "/healthz",
            "full tile, level 0": "/log/tile/0/100",
            "full tile, level 1": "/log/tile/1/000",
            "partial tile": f"/log/{partial}",
            "entry bundle": "/log/tile/entries/100",
        }
        harness.against_healthz(
            db_url, instance, runs, rounds, seconds,
            "tiles: gunicorn sync 2 workers, 4 connections, 70,000 leaves", "tiles a",
            {"full tile, level 0": 0.8, "full tile, level 1": 0.8},
        )  # fmt: skip


def test_inclusion_proof_requests(pytestconfig: pytest.Config) -> None:
    """A client that knows only a checkpoint's size and root proves a leaf's inclusion from
    tiles, fetching each tile once: requests per proof at 1k and at 1M leaves (quick: 100k),
    every proof verified against the root."""
    big = 10**5 if quick(pytestconfig) else 10**6
    tree = merkle.MemoryTree(f"leaf {i}".encode() for i in range(big))
    counts: dict[int, list[int]] = {}
    for size in (1_000, big):
        root = tree.root(size)

        def fetch(path: str, size: int = size) -> bytes:
            tile = tiles.parse_tile_path(path.removeprefix("tile/"))
            assert tile.level is not None
            assert tiles.tile_width(tile.level, tile.index, size) >= tile.width
            level, first = tiles.TILE_HEIGHT * tile.level, tile.index * tiles.TILE_WIDTH
            return b"".join(tree.nodes[(level, first + i)] for i in range(tile.width))

        rng = random.Random(size)
        counts[size] = []
        for index in [size - 1, *(rng.randrange(size) for _ in range(PROOFS - 1))]:
            reader = tiles.TileReader(fetch, size)  # a fresh client: nothing cached
            proof = merkle.inclusion_proof(index, size, reader.get_node)
            assert merkle.verify_inclusion(tree.leaf_hashes[index], index, size, proof, root)
            counts[size].append(reader.requests)
    small, large = (statistics.mean(counts[n]) for n in (1_000, big))
    harness.TABLES["tiles: requests for one inclusion proof (a fresh client, each tile once)"] = [
        {"leaves": size_label(n), "proofs": len(c), "mean requests": f"{statistics.mean(c):.2f}",
         "max requests": max(c), "hashes, last leaf": len(merkle.inclusion_proof(
             n - 1, n, tree.get_node))}
        for n, c in counts.items()
    ]  # fmt: skip
    goal("tiles b", f"tile requests per inclusion proof at {size_label(big)}", f"{large:.2f}",
         "the same at 1k", f"{small:.2f}", large / small, 2.0)  # fmt: skip
