"""The rate-limit counters kept in the application's database (``trustseal+db://``)."""

from __future__ import annotations

import threading
from contextlib import ExitStack

from trustseal.extensions import db, limiter


def test_counters_have_a_pool_of_their_own(app):
    """A request holds its session's connection while flask-limiter reads the counters for
    its headers: with every connection of the app's pool taken, a counter still answers
    (sharing the pool, it would wait for the pool's timeout, 30 s)."""
    answers: list[int] = []
    with app.app_context(), ExitStack() as held:
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        capacity = options.get("pool_size", 5) + options.get("max_overflow", 10)  # or defaults
        for _ in range(capacity):
            held.enter_context(db.engine.connect())

        def count() -> None:
            with app.app_context():
                answers.append(limiter.storage.incr("test:pool", 60))

        counter = threading.Thread(target=count)
        counter.start()
        counter.join(timeout=10)
        assert answers == [1]
