"""Benchmark: the transparency log at 1k, 100k and 1M leaves, side by side with pymerkle.

The issue: "``bench/log.py``: append 1,000,000 leaves (PostgreSQL), then time append,
inclusion proof and consistency proof at 1k, 100k and 1M leaves; goal: proof time at 1M
within 2x of 1k. Compare side by side in the same run with ``pymerkle`` (PyPI) on the same
leaves and report the ratio."

What runs, in one fresh PostgreSQL database migrated with ``trustseal db upgrade``:

* **bulk load** — the log grows through the real service: ``service.append_many`` with
  ``--batch`` synthetic ``review.published`` events per transaction, ``db.session.commit()``
  after each. The leaf bytes it returns are appended, in the same order, to a pymerkle
  ``InmemoryTree`` and (unless ``--no-sqlite``) a pymerkle ``SqliteTree`` in a temporary
  file, so all trees hold exactly the same leaves. Each segment's throughput is reported.
* **at each checkpoint** (1,000 / 100,000 / 1,000,000 leaves; ``--quick``: 1,000 / 20,000)
  the roots of all trees must agree, then, interleaved per repetition so drift of the
  shared machine hits every implementation alike, the median of ``--reps`` calls of:
  ``service.inclusion_proof(i, N)`` against pymerkle ``prove_inclusion(i + 1, N)`` (the
  same random ``i``) and ``service.consistency_proof(m, N)`` against pymerkle
  ``prove_consistency(m, N)`` (the same random ``m``); each trustseal call runs in its own
  read transaction (rolled back after the clock stops), as a request would. A sample of
  the proofs is verified, and trustseal's audit paths must equal pymerkle's. Then
  ``--append-reps`` single appends: ``service.append(event)`` + ``commit`` against pymerkle
  ``append_entry`` of the same leaf bytes. pymerkle's ``SqliteTree`` keeps an LRU cache of
  subtree roots: it is cleared at each checkpoint and its first (cold) proof is shown
  apart from the median.

Goal: trustseal's median inclusion and consistency proof time at the largest checkpoint
within 2x of the smallest (ratios from the same run). Appends are informative.

Run: ``.venv/bin/python bench/log.py [--quick] [--reps N] [--append-reps N] [--batch N]
[--no-sqlite] [--profile]``. Needs ``pip install pymerkle`` in the venv.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _harness import fresh_postgres_database, machine_line, migrate, print_table, save_results

try:
    import pymerkle
except ImportError:  # pragma: no cover - a message beats a traceback
    sys.exit("bench/log.py needs pymerkle: .venv/bin/pip install pymerkle")

from trustseal import create_app
from trustseal.extensions import db
from trustseal.transparency import merkle, service
from trustseal.transparency.service import Event

GOAL = 2.0
FULL_CHECKPOINTS = (1_000, 100_000, 1_000_000)
QUICK_CHECKPOINTS = (1_000, 20_000)
VERIFY_SAMPLE = 25  # proofs per checkpoint and kind checked by a verifier
WARMUP = 5  # untimed calls per operation before each checkpoint's timing


def synthetic_event(n: int) -> Event:
    """The ``n``-th benchmark event (leaf time: the appending transaction's time)."""
    return Event("review.published", merchant="bench", data={"review_id": n, "rating": 1 + n % 5})


def fmt_us(seconds: float) -> str:
    """Seconds as microseconds: one decimal under 100 µs, whole numbers with commas above."""
    us = seconds * 1e6
    return f"{us:.1f}" if us < 100 else f"{us:,.0f}"


def fmt_ratio(value: float) -> str:
    """A ratio such as ``1.23x``."""
    return f"{value:.2f}x"


def leaves_label(n: int) -> str:
    """``1k``, ``100k``, ``1M`` (exact count otherwise)."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return f"{n:,}"


@dataclass
class Trees:
    """pymerkle trees fed with the same leaf bytes as the log."""

    memory: pymerkle.InmemoryTree
    sqlite: pymerkle.SqliteTree | None

    def extend(self, leaves: Sequence[bytes]) -> tuple[float, float]:
        """Append ``leaves`` to both trees; return the seconds each took."""
        started = time.perf_counter()
        for leaf in leaves:
            self.memory.append_entry(leaf)
        memory_s = time.perf_counter() - started
        sqlite_s = 0.0
        if self.sqlite is not None:
            started = time.perf_counter()
            self.sqlite.append_entries(leaves)  # one SQLite transaction per batch
            sqlite_s = time.perf_counter() - started
        return memory_s, sqlite_s


@dataclass
class Segment:
    """Bulk-load figures for one stretch of leaves."""

    start: int
    end: int
    trustseal_s: float = 0.0
    memory_s: float = 0.0
    sqlite_s: float = 0.0


@dataclass
class Checkpoint:
    """Timings (seconds) at one tree size; lists hold one sample per repetition."""

    size: int
    timings: dict[str, list[float]] = field(default_factory=dict)
    cold: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        """Record one sample of ``name``."""
        self.timings.setdefault(name, []).append(seconds)

    def median(self, name: str) -> float:
        """The median sample of ``name`` (NaN if none)."""
        values = self.timings.get(name)
        return statistics.median(values) if values else float("nan")


class Bench:
    """Grows the log and the pymerkle trees together and times them at checkpoints."""

    def __init__(self, args: argparse.Namespace, trees: Trees) -> None:
        """Keep the options and the trees; the log starts empty."""
        self.args = args
        self.trees = trees
        self.rng = random.Random(args.seed)
        self.next_event = 0
        self.segments: list[Segment] = []
        self.checkpoints: list[Checkpoint] = []
        self.load_profile = cProfile.Profile() if args.profile else None
        self.proof_profile = cProfile.Profile() if args.profile else None

    # ------------------------------------------------------------------ loading

    def grow_to(self, target: int) -> None:
        """Append events through ``service.append_many`` until the log has ``target``."""
        current = service.size()
        db.session.rollback()
        segment = Segment(current, target)
        while current < target:
            count = min(self.args.batch, target - current)
            events = [synthetic_event(self.next_event + k) for k in range(count)]
            self.next_event += count
            if self.load_profile is not None:
                self.load_profile.enable()
            started = time.perf_counter()
            appended = service.append_many(events)
            db.session.commit()
            segment.trustseal_s += time.perf_counter() - started
            if self.load_profile is not None:
                self.load_profile.disable()
            memory_s, sqlite_s = self.trees.extend([a.leaf for a in appended])
            segment.memory_s += memory_s
            segment.sqlite_s += sqlite_s
            current += count
            if current % 100_000 < count:
                print(f"  loaded {current:,} leaves", flush=True)
        self.segments.append(segment)

    # ------------------------------------------------------------------ checks

    def check_roots(self, size: int) -> None:
        """All trees must have the same root at ``size`` (the same leaves, RFC 9162 hashing)."""
        root = service.root_at(size)
        db.session.rollback()
        if self.trees.memory.get_root(size) != root:
            raise AssertionError(f"pymerkle InmemoryTree root differs at {size}")
        if self.trees.sqlite is not None and self.trees.sqlite.get_root(size) != root:
            raise AssertionError(f"pymerkle SqliteTree root differs at {size}")

    def verify_sample(self, size: int, indices: Sequence[int], firsts: Sequence[int]) -> None:
        """Verify some of the proofs about to be timed, and compare them with pymerkle's."""
        root = service.root_at(size)
        for index in indices[:VERIFY_SAMPLE]:
            path = service.inclusion_proof(index, size)
            leaf_hash = self.trees.memory.get_leaf(index + 1)
            if not merkle.verify_inclusion(leaf_hash, index, size, path, root):
                raise AssertionError(f"inclusion proof of {index} in {size} does not verify")
            theirs = self.trees.memory.prove_inclusion(index + 1, size)
            # pymerkle's path starts with the leaf hash itself, then the RFC 9162 audit path.
            if theirs.path[0] != leaf_hash or theirs.path[1:] != path:
                raise AssertionError(f"audit paths differ for {index} in {size}")
        for first in firsts[:VERIFY_SAMPLE]:
            proof = service.consistency_proof(first, size)
            first_root = service.root_at(first)
            if not merkle.verify_consistency(first, size, first_root, root, proof):
                raise AssertionError(f"consistency proof {first} -> {size} does not verify")
            theirs = self.trees.memory.prove_consistency(first, size)
            theirs.verify(first_root, root)  # raises pymerkle.InvalidProof
        db.session.rollback()

    # ------------------------------------------------------------------ timing

    def _timed_trustseal(self, call: Callable[[], object]) -> float:
        """Seconds one service call takes; its read transaction is ended off the clock."""
        profile = self.proof_profile
        if profile is not None:
            profile.enable()
        started = time.perf_counter()
        call()
        elapsed = time.perf_counter() - started
        if profile is not None:
            profile.disable()
        db.session.rollback()
        return elapsed

    @staticmethod
    def _timed(call: Callable[[], object]) -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    def time_proofs(self, point: Checkpoint) -> None:
        """Inclusion and consistency proofs at ``point.size``, interleaved per repetition."""
        size, reps = point.size, self.args.reps
        indices = [self.rng.randrange(size) for _ in range(reps)]
        firsts = [self.rng.randint(1, size - 1) for _ in range(reps)]
        self.verify_sample(size, indices, firsts)
        memory, sqlite = self.trees.memory, self.trees.sqlite
        if sqlite is not None:
            sqlite.cache_clear()
            point.cold["sqlite_inclusion"] = self._timed(
                lambda: sqlite.prove_inclusion(indices[0] + 1, size)
            )
            point.cold["sqlite_consistency"] = self._timed(
                lambda: sqlite.prove_consistency(firsts[0], size)
            )
        for k in range(WARMUP):  # statement caches, prepared statements, code paths
            service.inclusion_proof(indices[k % reps], size)
            service.consistency_proof(firsts[k % reps], size)
            db.session.rollback()
        gc.collect()
        gc.freeze()  # keep the pymerkle trees' millions of nodes out of timed collections
        try:
            for index, first in zip(indices, firsts, strict=True):
                point.add(
                    "trustseal_inclusion",
                    self._timed_trustseal(lambda i=index: service.inclusion_proof(i, size)),
                )
                point.add(
                    "memory_inclusion",
                    self._timed(lambda i=index: memory.prove_inclusion(i + 1, size)),
                )
                point.add(
                    "trustseal_consistency",
                    self._timed_trustseal(lambda m=first: service.consistency_proof(m, size)),
                )
                point.add(
                    "memory_consistency",
                    self._timed(lambda m=first: memory.prove_consistency(m, size)),
                )
                if sqlite is not None:
                    point.add(
                        "sqlite_inclusion",
                        self._timed(lambda i=index: sqlite.prove_inclusion(i + 1, size)),
                    )
                    point.add(
                        "sqlite_consistency",
                        self._timed(lambda m=first: sqlite.prove_consistency(m, size)),
                    )
        finally:
            gc.unfreeze()

    def time_appends(self, point: Checkpoint) -> None:
        """Single appends: ``service.append`` + commit against pymerkle's ``append_entry``
        of the same leaf bytes, interleaved (the log grows by ``--append-reps``)."""
        memory, sqlite = self.trees.memory, self.trees.sqlite
        for _ in range(self.args.append_reps):
            event = synthetic_event(self.next_event)
            self.next_event += 1
            started = time.perf_counter()
            appended = service.append(event)
            db.session.commit()
            point.add("trustseal_append", time.perf_counter() - started)
            leaf = appended.leaf
            point.add("memory_append", self._timed(lambda leaf=leaf: memory.append_entry(leaf)))
            if sqlite is not None:
                point.add("sqlite_append", self._timed(lambda leaf=leaf: sqlite.append_entry(leaf)))

    def run(self, checkpoints: Sequence[int]) -> None:
        """Grow to each checkpoint, check roots, time proofs at exactly that size, then
        time single appends (so the next segment starts a few leaves later)."""
        for size in checkpoints:
            print(f"growing the log to {size:,} leaves ...", flush=True)
            self.grow_to(size)
            point = Checkpoint(size)
            print(f"checking roots and timing at {size:,} leaves ...", flush=True)
            self.check_roots(size)
            self.time_proofs(point)
            self.time_appends(point)
            self.checkpoints.append(point)


# ---------------------------------------------------------------------------- report


def report(bench: Bench, args: argparse.Namespace, total_s: float) -> dict[str, Any]:
    """Print the tables and the verdicts; return the figures for the results file."""
    points = bench.checkpoints
    has_sqlite = bench.trees.sqlite is not None
    print_table(
        "Bulk load (trustseal: service.append_many, "
        f"{args.batch:,} events per transaction, commit each; pymerkle: the same leaf bytes)",
        [
            {
                "leaves": f"{s.start:,} → {s.end:,}",
                "trustseal (PG) s": f"{s.trustseal_s:.1f}",
                "trustseal leaves/s": f"{(s.end - s.start) / s.trustseal_s:,.0f}",
                "pymerkle mem leaves/s": f"{(s.end - s.start) / s.memory_s:,.0f}",
                **(
                    {"pymerkle sqlite leaves/s": f"{(s.end - s.start) / s.sqlite_s:,.0f}"}
                    if has_sqlite
                    else {}
                ),
            }
            for s in bench.segments
            if s.end > s.start
        ],
    )
    print_table(
        f"Median µs per operation ({args.reps} proofs, {args.append_reps} appends per size; "
        "append = append + commit for trustseal)",
        [
            {
                "leaves": leaves_label(p.size),
                "trustseal append": fmt_us(p.median("trustseal_append")),
                "trustseal inclusion": fmt_us(p.median("trustseal_inclusion")),
                "trustseal consistency": fmt_us(p.median("trustseal_consistency")),
                "pymerkle mem append": fmt_us(p.median("memory_append")),
                "pymerkle mem inclusion": fmt_us(p.median("memory_inclusion")),
                "pymerkle mem consistency": fmt_us(p.median("memory_consistency")),
            }
            for p in points
        ],
    )
    if has_sqlite:
        print_table(
            "pymerkle SqliteTree, median µs (cold = first call after clearing its subtree "
            "cache; medians include cache misses)",
            [
                {
                    "leaves": leaves_label(p.size),
                    "append (commit)": fmt_us(p.median("sqlite_append")),
                    "inclusion cold": fmt_us(p.cold["sqlite_inclusion"]),
                    "inclusion": fmt_us(p.median("sqlite_inclusion")),
                    "consistency cold": fmt_us(p.cold["sqlite_consistency"]),
                    "consistency": fmt_us(p.median("sqlite_consistency")),
                }
                for p in points
            ],
        )

    def ratio(p: Checkpoint, ours: str, theirs: str) -> str:
        return fmt_ratio(p.median(ours) / p.median(theirs))

    print_table(
        "trustseal / pymerkle median time at each size (> 1x: trustseal is slower)",
        [
            {
                "leaves": leaves_label(p.size),
                "append vs mem": ratio(p, "trustseal_append", "memory_append"),
                "inclusion vs mem": ratio(p, "trustseal_inclusion", "memory_inclusion"),
                "consistency vs mem": ratio(p, "trustseal_consistency", "memory_consistency"),
                **(
                    {
                        "append vs sqlite": ratio(p, "trustseal_append", "sqlite_append"),
                        "inclusion vs sqlite": ratio(p, "trustseal_inclusion", "sqlite_inclusion"),
                        "consistency vs sqlite": ratio(
                            p, "trustseal_consistency", "sqlite_consistency"
                        ),
                    }
                    if has_sqlite
                    else {}
                ),
            }
            for p in points
        ],
    )

    small, large = points[0], points[-1]
    span = f"{leaves_label(large.size)}/{leaves_label(small.size)}"
    verdicts: dict[str, bool] = {}
    rows = []
    for name, key, has_goal in (
        ("inclusion proof", "inclusion", True),
        ("consistency proof", "consistency", True),
        ("append + commit", "append", False),
    ):
        first, last = small.median(f"trustseal_{key}"), large.median(f"trustseal_{key}")
        ours = last / first
        theirs = large.median(f"memory_{key}") / small.median(f"memory_{key}")
        met = ours <= GOAL
        if has_goal:
            verdicts[name] = met
        rows.append(
            {
                "operation": name,
                f"trustseal {leaves_label(small.size)} µs": fmt_us(first),
                f"trustseal {leaves_label(large.size)} µs": fmt_us(last),
                f"trustseal {span}": fmt_ratio(ours),
                f"pymerkle mem {span}": fmt_ratio(theirs),
                "goal": f"≤ {GOAL:g}x" if has_goal else "(none)",
                "verdict": ("MET" if met else "NOT MET") if has_goal else "informative",
            }
        )
    print_table(f"Goal: trustseal proof time at {span} within {GOAL:g}x (same run)", rows)
    print()
    for name, met in verdicts.items():
        print(f"GOAL {name} {span} ≤ {GOAL:g}x: {'MET' if met else 'NOT MET'}")
    if args.quick:
        print("(quick run: the issue's goal is about 1M/1k; run without --quick for it)")
    print(
        f"\nbulk load: the real service.append_many (no COPY shortcut); "
        f"pymerkle {pymerkle.__version__}; total {total_s:.0f}s"
    )
    return {
        "quick": args.quick,
        "reps": args.reps,
        "append_reps": args.append_reps,
        "batch": args.batch,
        "pymerkle": pymerkle.__version__,
        "bulk_load": "service.append_many",
        "segments": [vars(s) for s in bench.segments],
        "checkpoints": [
            {
                "size": p.size,
                "median_s": {k: statistics.median(v) for k, v in p.timings.items()},
                "cold_s": p.cold,
            }
            for p in points
        ],
        "goals": verdicts,
        "total_s": total_s,
    }


def print_profile(title: str, profile: cProfile.Profile, limit: int = 25) -> None:
    """Print the top ``limit`` functions of a profile by cumulative time."""
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(limit)
    print(f"\n{title}\n{out.getvalue()}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="checkpoints 1k and 20k only")
    parser.add_argument("--reps", type=int, default=300, help="proofs timed per size and kind")
    parser.add_argument("--append-reps", type=int, default=200, help="single appends per size")
    parser.add_argument("--batch", type=int, default=10_000, help="events per bulk transaction")
    parser.add_argument("--seed", type=int, default=9162, help="seed of the random indices")
    parser.add_argument("--no-sqlite", action="store_true", help="skip pymerkle's SqliteTree")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile trustseal's bulk load and proofs (inflates their timings)",
    )
    args = parser.parse_args(argv)
    if args.reps < WARMUP or args.append_reps < 1 or args.batch < 1:
        parser.error(f"--reps must be at least {WARMUP}, --append-reps and --batch at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit status 0 whether or not the goal was met."""
    args = parse_args(argv)
    checkpoints = QUICK_CHECKPOINTS if args.quick else FULL_CHECKPOINTS
    print(machine_line())
    print(
        f"checkpoints: {', '.join(f'{c:,}' for c in checkpoints)} leaves; "
        f"pymerkle {pymerkle.__version__} (sha256, 0x00/0x01 prefixes: RFC 9162 hashing)"
    )
    started = time.perf_counter()
    with (
        fresh_postgres_database("bench_log") as db_url,
        tempfile.TemporaryDirectory() as instance,
    ):
        migrate(db_url, instance)
        app = create_app(
            {
                "ENV": "testing",
                "DATABASE_URL": db_url,
                "INSTANCE_PATH": instance,
                "LOG_LEVEL": "WARNING",
            }
        )
        sqlite = None if args.no_sqlite else pymerkle.SqliteTree(str(Path(instance) / "pm.db"))
        trees = Trees(pymerkle.InmemoryTree(), sqlite)
        bench = Bench(args, trees)
        try:
            with app.app_context():
                try:
                    bench.run(checkpoints)
                finally:
                    db.session.remove()
                    db.engine.dispose()
        finally:
            if sqlite is not None:
                sqlite.close()
    figures = report(bench, args, time.perf_counter() - started)
    if bench.load_profile is not None and bench.proof_profile is not None:
        print_profile("cProfile: trustseal bulk load (append_many + commit)", bench.load_profile)
        print_profile("cProfile: trustseal proofs (inclusion + consistency)", bench.proof_profile)
    path = save_results("log-quick" if args.quick else "log", figures)
    print(f"figures saved to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
