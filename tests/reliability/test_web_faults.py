"""gunicorn under faults: every database connection killed mid-load (pg_terminate_backend,
twice). Figures: no 500, at most one failed request per process per kill (a 503 the
client may retry), 0 acknowledged orders lost, none recorded twice."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from tests.helpers import bearer, make_merchant, order_body
from tests.reliability.conftest import gunicorn
from trustseal.extensions import db
from trustseal.orders.models import Purchase

WORKERS = 2
KILLS = 2


def test_connections_killed_under_load_fail_at_most_once_per_process(
    database, local_app, tmp_path, report
):
    _, key = make_merchant(local_app, slug="bajo-carga")
    counter = itertools.count()
    outcomes: Counter[tuple[str, int]] = Counter()
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    with gunicorn(database, tmp_path, workers=WORKERS, TRUSTSEAL_RATELIMIT_ENABLED="false") as web:

        def load() -> None:
            session = requests.Session()
            while not stop.is_set():
                n = next(counter)
                kind = ("order", "score", "badge")[n % 3]
                if kind == "order":
                    external_id = f"K-{n}"
                    answer = session.post(
                        f"{web.url}/api/v1/orders",
                        json=order_body(external_id),
                        headers=bearer(key),
                        timeout=30,
                    )
                    if answer.status_code in (200, 201):
                        with lock:
                            acknowledged.append(external_id)
                elif kind == "score":
                    answer = session.get(f"{web.url}/api/v1/merchants/bajo-carga/score", timeout=30)
                else:
                    answer = session.get(f"{web.url}/badges/bajo-carga.svg", timeout=30)
                with lock:
                    outcomes[(kind, answer.status_code)] += 1

        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(load) for _ in range(4)]
            for _ in range(KILLS):
                time.sleep(1.5)
                assert database.terminate_connections() >= WORKERS
            time.sleep(1.5)
            stop.set()
            for future in futures:
                future.result()
        log = web.output()

    failed = sum(n for (_, status), n in outcomes.items() if status == 503)
    assert not [k for k in outcomes if k[1] >= 500 and k[1] != 503], (outcomes, log[-3000:])
    assert failed <= WORKERS * KILLS, (outcomes, log[-3000:])
    assert sum(outcomes.values()) > 100  # the load really ran
    with local_app.app_context():
        db.engine.dispose()  # this test's own pool was killed too
        stored = Counter(
            db.session.scalars(select(Purchase.external_id).where(Purchase.external_id.like("K-%")))
        )
        assert set(acknowledged) <= set(stored)  # 0 acknowledged writes lost
        assert max(stored.values()) == 1  # none twice
        assert db.session.scalar(select(func.count()).select_from(Purchase)) == len(stored)
    report(
        sum(outcomes.values()),
        failed,
        len(set(acknowledged) - set(stored)),
        f"{KILLS} kills x {WORKERS} processes; 503s (retriable), no 500",
    )
