"""A small per-process memo whose entries live a few seconds (hot-path reads)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlMemo(Generic[V]):
    """Values remembered for ``ttl`` seconds each, at most ``max_entries`` of them.

    A ``ttl`` of 0 remembers nothing (tests see every change at once). When full, the memo
    starts over: it only saves repeated reads of hot keys, so forgetting is always safe.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        """An empty memo."""
        self._entries: dict[Hashable, tuple[float, V]] = {}
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def get_or_load(
        self,
        key: Hashable,
        ttl: float,
        load: Callable[[], V],
        keep: Callable[[V], bool] | None = None,
    ) -> V:
        """The remembered value of ``key``, or ``load()`` (remembered when ``keep`` says so)."""
        now = time.monotonic()
        if ttl > 0:
            remembered = self._entries.get(key)
            if remembered is not None and remembered[0] > now:
                return remembered[1]
        value = load()
        if ttl > 0 and (keep is None or keep(value)):
            with self._lock:
                if len(self._entries) >= self._max_entries:
                    self._entries.clear()
                self._entries[key] = (now + ttl, value)
        return value

    def forget(self, key: Hashable) -> None:
        """Drop one key (its next read loads again)."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._entries.clear()
