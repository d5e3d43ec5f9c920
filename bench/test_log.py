"""The transparency log's proofs and appends at 1k, 100k, 1M leaves next to pymerkle."""

from __future__ import annotations

import gc
import itertools
import random
import time
from collections.abc import Iterator
from typing import Any

import harness
import pytest
from conftest import make_app, size_label
from harness import TIMES, goal, us

from trustseal.extensions import db
from trustseal.transparency import merkle, service
from trustseal.transparency.service import Event

pymerkle = pytest.importorskip("pymerkle")
OPS = ("inclusion", "consistency", "append")
BATCH, REPS, APPENDS = 10_000, 300, 200  # leaves per bulk transaction, proofs, appends


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    sizes = (1_000, 20_000) if metafunc.config.getoption("--quick") else (1_000, 100_000, 10**6)
    cases = [(n, op) for n in sizes for op in OPS]
    metafunc.parametrize("case", cases, ids=lambda c: f"{size_label(c[0])}-{c[1]}")


class Log:
    """The log (PostgreSQL) and a pymerkle tree fed the very leaf bytes it returns, in order."""

    def __init__(self) -> None:
        self.tree = pymerkle.InmemoryTree()
        self.numbers = itertools.count()
        self.leaves: list[bytes] = []  # the last single append's, for the tree

    def event(self) -> Event:
        n = next(self.numbers)
        data = {"review_id": n, "rating": 1 + n % 5, "process_rating": 1 + n % 5}
        return Event("review.published", merchant="bench", data=data)

    def grow_to(self, target: int) -> None:
        """Append 10,000 events per transaction up to ``target`` leaves, then check."""
        start = current = service.size()
        took = [0.0, 0.0]
        while current < target:
            events = [self.event() for _ in range(min(BATCH, target - current))]
            started = time.perf_counter()
            appended = service.append_many(events)
            db.session.commit()
            middle = time.perf_counter()
            for leaf in appended:
                self.tree.append_entry(leaf.leaf)
            took = [took[0] + middle - started, took[1] + time.perf_counter() - middle]
            current += len(events)
        db.session.rollback()
        if current > start:
            harness.TABLES.setdefault("log: bulk load (service.append_many, 10,000 leaves per "
                                      "transaction; pymerkle: the same leaf bytes)", []).append({
                "leaves": f"{start:,} → {current:,}", "trustseal s": f"{took[0]:.1f}",
                "trustseal leaves/s": f"{(current - start) / took[0]:,.0f}",
                "pymerkle leaves/s": f"{(current - start) / took[1]:,.0f}",
            })  # fmt: skip
            self.check(target)
        gc.collect()
        gc.freeze()  # keep the tree's millions of nodes out of timed collections

    def check(self, size: int) -> None:
        """Same roots (RFC 9162 hashing on both sides); 25 proofs of each kind verified, and
        trustseal's audit paths equal to pymerkle's (which start with the leaf hash)."""
        root, rng = service.root_at(size), random.Random(size)
        assert self.tree.get_root(size) == root, f"roots differ at {size}"
        for _ in range(25):
            index, first = rng.randrange(size), rng.randint(1, size - 1)
            path, leaf_hash = service.inclusion_proof(index, size), self.tree.get_leaf(index + 1)
            assert merkle.verify_inclusion(leaf_hash, index, size, path, root)
            assert self.tree.prove_inclusion(index + 1, size).path == [leaf_hash, *path]
            first_root = service.root_at(first)
            proof = service.consistency_proof(first, size)
            assert merkle.verify_consistency(first, size, first_root, root, proof)
            self.tree.prove_consistency(first, size).verify(first_root, root)
        db.session.rollback()


@pytest.fixture(scope="module")
def log() -> Iterator[Log]:
    with harness.migrated("bench_log") as (db_url, instance):
        app = make_app(db_url, instance)
        with app.app_context():
            yield Log()
            db.session.remove()
            db.engine.dispose()
    gc.unfreeze()


def test_log(benchmark: Any, log: Log, case: tuple[int, str]) -> None:
    """Proofs at exactly ``size`` leaves, random indices (trustseal's read transaction rolled
    back off the clock), or single appends of the same leaf: trustseal and pymerkle in turns."""
    size, op = case
    log.grow_to(size)
    rng, low = random.Random(size), 0 if op == "inclusion" else 1  # an index, or a first size

    def append(event: Event) -> None:
        log.leaves.append(service.append(event).leaf)
        db.session.commit()

    proof = lambda: rng.randrange(low, size)  # noqa: E731
    cases = {  # the call and what makes its argument
        "inclusion": {"trustseal": (lambda i: service.inclusion_proof(i, size), proof),
                      "pymerkle": (lambda i: log.tree.prove_inclusion(i + 1, size), proof)},
        "consistency": {"trustseal": (lambda m: service.consistency_proof(m, size), proof),
                        "pymerkle": (lambda m: log.tree.prove_consistency(m, size), proof)},
        "append": {"trustseal": (append, log.event),  # pymerkle: the leaf trustseal just made
                   "pymerkle": (log.tree.append_entry, log.leaves.pop)},
    }[op]  # fmt: skip
    harness.alternate(benchmark, f"log {op} {size}", cases, lambda call: call[0](call[1]),
                      APPENDS if op == "append" else REPS, lambda case: (case[0], case[1]()),
                      teardown=lambda _: db.session.rollback(), warmup_rounds=10)  # fmt: skip


@harness.SUMMARIES.append
def summary_log() -> None:
    sizes = sorted({int(key.split()[2]) for key in TIMES if key.startswith("log ")})
    rows = []
    for n in sizes:
        row: dict[str, str] = {"leaves": size_label(n)}
        for op in OPS:
            for side in ("trustseal", "pymerkle"):
                row[f"{side} {op}"] = us(TIMES[f"log {op} {n} {side}"])
            vs = harness.paired(f"log {op} {n} trustseal", f"log {op} {n} pymerkle")
            row[f"{op} vs"] = f"{vs:.2f}x"
        rows.append(row)
    harness.TABLES[
        f"log: median µs ({REPS} proofs, {APPENDS} appends per size; trustseal's append"
        " includes its commit); vs = trustseal / pymerkle, median of the per-round ratios"
    ] = rows
    small, large = sizes[0], sizes[-1]
    for op in OPS:
        top, bottom = TIMES[f"log {op} {large} trustseal"], TIMES[f"log {op} {small} trustseal"]
        theirs = TIMES[f"log {op} {large} pymerkle"] / TIMES[f"log {op} {small} pymerkle"]
        goal("log", f"trustseal {op} µs at {size_label(large)} (pymerkle: {theirs:.2f}x)",
             us(top), f"at {size_label(small)}", us(bottom), top / bottom,
             None if op == "append" else 2)  # fmt: skip
