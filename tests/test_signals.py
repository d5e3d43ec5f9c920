"""Fraud signals: a merchant reviewing its own declared orders is caught, staff decide.

Every test is an attack (or the honest case next to it): the merchant's own API key
declares orders, asks for the review links and posts the reviews.
"""

from __future__ import annotations

import email
import hashlib
import hmac
import inspect as inspect_module
import json
import re
import subprocess
import sys
from datetime import timedelta
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, inspect, select, update

from tests.helpers import bearer, make_merchant, make_staff, order_body
from tests.reviewing import review_body, review_link, shop
from tests.signing_in import make_staff_user, post_form, sign_in
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.orders import service as orders
from trustseal.orders.models import Purchase, ReviewInvitation
from trustseal.reviews import service as reviews
from trustseal.signals import service as signals
from trustseal.signals.models import FraudSignal

# Distinct people: the identity key folds trailing digits, so no "cliente1", "cliente2".
PEOPLE = ("lucia", "jose", "maria", "carlos", "rosa", "jorge", "carmen", "miguel", "elena")
LONG_TEXT = "Excelente tienda, el café llegó rapidísimo y muy bien empacado. ¡Volveré a comprar!"
ENVELOPE = {"v", "type", "merchant", "time", "logged_at"}  # what every log leaf has


@pytest.fixture
def key(app) -> str:
    """The API key of the merchant ``bodega``."""
    return shop(app)


@pytest.fixture
def staff(app) -> str:
    """An admin's staff token."""
    return make_staff(app, "admin")


def declared_review(
    client: Any,
    key: str,
    n: int,
    *,
    email_address: str | None = None,
    address: str = "",
    **changes: Any,
) -> int:
    """An order the merchant declares itself as delivered, its review link, and the review,
    posted from ``address`` (a different /24 for each ``n`` by default). The review id."""
    token = review_link(
        client,
        key,
        f"S-{n}",
        email=email_address or f"{PEOPLE[n - 1]}@correo.pe",
        name=f"Cliente {n}",
    )
    answer = client.post(
        "/api/v1/reviews",
        json=review_body(token, **changes),
        environ_base={"REMOTE_ADDR": address or f"203.0.{n}.10"},
    )
    assert answer.status_code == 201, answer.json
    return int(answer.json["id"])


def store_order_link(
    merchant_id: int, external_id: str, n: int, placed_at: Any, provenance: Any
) -> Any:
    """A review link for a delivered order of store 1, recorded with ``provenance``."""
    recorded = orders.record_purchase_event(
        merchant_id,
        "store:1",
        orders.PurchaseEvent(
            external_id=external_id,
            status=orders.Status.DELIVERED,
            placed_at=placed_at,
            customer_email=f"{PEOPLE[n]}@correo.pe",
            customer_name=f"Persona {n}",
        ),
        provenance,
    )
    return orders.issue_invitation_link(recorded.purchase)


def run_jobs(app: Any) -> jobs.RunResult:
    """Run the due jobs (the detector, emails) as the worker would."""
    with app.app_context():
        return jobs.run_due_jobs()


def listed(client: Any, staff: str, query: str = "") -> list[dict[str, Any]]:
    """The items of ``GET /api/v1/signals`` as staff see them."""
    answer = client.get(f"/api/v1/signals{query}", headers=bearer(staff))
    assert answer.status_code == 200, answer.json
    return list(answer.json["items"])


def of_kind(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The signals of one kind."""
    return [item for item in items if item["kind"] == kind]


def log_leaves(client: Any) -> list[dict[str, Any]]:
    """Every leaf of the public transparency log, parsed."""
    return [json.loads(e["leaf"]) for e in client.get("/api/v1/log/entries?start=0&end=999").json]


# --------------------------------------------------------------------------- the kinds


def test_a_burst_of_declared_reviews_opens_a_burst_signal_that_staff_confirm(
    app, client, key, staff
):
    ids = [declared_review(client, key, n) for n in range(1, 6)]
    run_jobs(app)
    (burst,) = of_kind(listed(client, staff), "burst")
    assert burst["merchant"] == "bodega" and burst["status"] == "open"
    assert sorted(burst["review_ids"]) == sorted(ids)
    evidence = burst["evidence"]
    assert evidence["rule"] == {"reviews": 5, "minutes": 60} and evidence["count"] == 5
    assert [r["id"] for r in evidence["reviews"]] == sorted(ids)
    assert all(r["verification"]["level"] == "declared" for r in evidence["reviews"])
    assert len(evidence["purchase_ids"]) == 5 and evidence["first_at"] <= evidence["last_at"]
    assert "reason" not in burst and "decided_at" not in burst

    answer = client.put(
        f"/api/v1/signals/{burst['id']}",
        json={"status": "confirmed", "reason": "Pedidos inventados por la tienda"},
        headers=bearer(staff),
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "confirmed" and answer.json["decided_at"]
    assert answer.json["reason"] == "Pedidos inventados por la tienda"
    with app.app_context():
        assert {r.id for r in reviews.flagged()} == set(ids)  # in the moderation queue
        (flag, *_) = reviews.open_flags_of(ids[0])
        assert flag.reason == "fraud_signal" and f"#{burst['id']}" in flag.detail
    for review_id in ids:  # still visible until a moderator decides
        assert client.get(f"/api/v1/reviews/{review_id}").json["status"] == "published"
    leaf = log_leaves(client)[-1]
    assert leaf["type"] == "signal.confirmed" and leaf["merchant"] == "bodega"
    # public: the decision and the signal's id, never which reviews nor what kind
    assert {k: v for k, v in leaf.items() if k not in ENVELOPE} == {"signal_id": burst["id"]}

    again = client.put(
        f"/api/v1/signals/{burst['id']}",
        json={"status": "dismissed", "reason": "Cambio de opinión"},
        headers=bearer(staff),
    )
    assert again.status_code == 409 and again.json["message"]


def test_a_review_minutes_after_the_order_was_declared_is_a_fast_review(app, client, key, staff):
    quick = declared_review(client, key, 1)
    token = review_link(client, key, "S-2", email="otra@correo.pe")
    with app.app_context():  # this order was declared delivered two hours before its review
        two_hours_ago = utcnow() - timedelta(hours=2)
        purchase_id = db.session.scalar(select(Purchase.id).where(Purchase.external_id == "S-2"))
        db.session.execute(
            update(Purchase).where(Purchase.id == purchase_id).values(created_at=two_hours_ago)
        )
        db.session.execute(
            update(ReviewInvitation)
            .where(ReviewInvitation.purchase_id == purchase_id)
            .values(created_at=two_hours_ago)
        )
        db.session.commit()
    slow = client.post(
        "/api/v1/reviews", json=review_body(token), environ_base={"REMOTE_ADDR": "203.0.99.1"}
    ).json["id"]
    run_jobs(app)
    items = listed(client, staff)
    (fast,) = of_kind(items, "fast_review")
    assert fast["review_ids"] == [quick] and slow not in fast["review_ids"]
    (item,) = fast["evidence"]["reviews"]
    assert 0 <= item["minutes_after_reviewable"] < 1 and item["purchase_recorded_at"]
    assert item["reviewable_at"] >= item["purchase_recorded_at"]
    assert fast["evidence"]["rule"] == {"minutes": 30}
    assert of_kind(items, "burst") == []


@pytest.mark.parametrize(
    ("addresses", "elsewhere"),
    [
        (["190.236.12.5", "190.236.12.77", "190.236.12.201"], "190.236.13.9"),
        (
            ["2800:200:e840:1a2b::1", "2800:200:e840:1a2b:ffff::9", "2800:200:e840:1a2b::42"],
            "2800:200:e840:1a2c::1",
        ),
    ],
)
def test_reviews_from_one_network_open_a_shared_network_signal(
    app, client, key, staff, addresses, elsewhere
):
    ids = [declared_review(client, key, n, address=a) for n, a in enumerate(addresses, 1)]
    other = declared_review(client, key, 9, address=elsewhere)
    run_jobs(app)
    items = listed(client, staff)
    (shared,) = of_kind(items, "shared_network")
    assert sorted(shared["review_ids"]) == sorted(ids) and other not in shared["review_ids"]
    assert shared["evidence"]["rule"] == {"reviews": 3, "days": 30}
    assert shared["evidence"]["count"] == 3
    with app.app_context():  # no address anywhere: not in the evidence, not in the key
        stored = db.session.scalars(select(FraudSignal)).all()
        text = json.dumps([[s.dedup_key, s.evidence] for s in stored]) + json.dumps(items)
    for address in [*addresses, elsewhere]:
        assert address not in text and address.rsplit(".", 1)[0] not in text
    assert "2800:200" not in text

    decision = {"status": "dismissed", "reason": "Oficina compartida, clientes reales"}
    client.put(f"/api/v1/signals/{shared['id']}", json=decision, headers=bearer(staff))
    assert app.test_cli_runner().invoke(args=["signals", "scan"]).exit_code == 0
    assert len(of_kind(listed(client, staff), "shared_network")) == 1  # not reopened
    fourth = declared_review(client, key, 8, address=addresses[0])  # the network again
    run_jobs(app)
    new, _old = of_kind(listed(client, staff), "shared_network")
    assert new["review_ids"] == [fourth] and new["evidence"]["count"] == 4
    assert new["evidence"]["earlier_signal_ids"] == [shared["id"]]


def test_look_alike_emails_and_copied_texts_are_a_repeated_identity(app, client, key, staff):
    first = declared_review(client, key, 1, email_address="ana.p+1@x.pe")
    second = declared_review(client, key, 2, email_address="anap2@x.pe")
    copied = [
        declared_review(client, key, 3, body=LONG_TEXT),
        declared_review(client, key, 4, body=LONG_TEXT.upper().replace(",", "").replace("é", "e")),
    ]
    declared_review(client, key, 5, body="Excelente")  # short texts repeat honestly
    declared_review(client, key, 6, body="Excelente")
    run_jobs(app)
    items = of_kind(listed(client, staff), "repeated_identity")
    by_match = {item["evidence"]["match"]: item for item in items}
    assert set(by_match) == {"email", "text"} and len(items) == 2
    assert sorted(by_match["email"]["review_ids"]) == sorted([first, second])
    assert sorted(by_match["text"]["review_ids"]) == sorted(copied)
    assert by_match["text"]["evidence"]["rule"]["min_text_chars"] == 40
    text = json.dumps(items)
    assert "ana" not in text.lower() and "x.pe" not in text and "correo" not in text
    with app.app_context():
        keys = " ".join(db.session.scalars(select(FraudSignal.dedup_key)))
        assert "@" not in keys and "ana" not in keys


def test_a_fast_review_counts_from_when_the_order_became_reviewable_not_when_it_was_placed(
    app, client, key, staff
):
    """The dodge: declare the order as placed long before, then mark it delivered and
    review at once. The clock starts when the invitation opened (server time)."""
    body = order_body("S-1", status="placed")
    order = client.post("/api/v1/orders", json=body, headers=bearer(key)).json
    with app.app_context():  # declared "placed" three hours ago
        three_hours_ago = utcnow() - timedelta(hours=3)
        db.session.execute(
            update(Purchase)
            .where(Purchase.id == order["id"])
            .values(created_at=three_hours_ago, placed_at=three_hours_ago)
        )
        db.session.commit()
    delivered = client.post(
        "/api/v1/orders", json=order_body("S-1", status="delivered"), headers=bearer(key)
    )
    assert delivered.status_code == 200, delivered.json
    link = client.post(f"/api/v1/orders/{order['id']}/invitation", headers=bearer(key))
    review_id = client.post(
        "/api/v1/reviews",
        json=review_body(link.json["token"]),
        environ_base={"REMOTE_ADDR": "203.0.7.10"},
    ).json["id"]
    run_jobs(app)
    (fast,) = of_kind(listed(client, staff), "fast_review")
    assert fast["review_ids"] == [review_id]
    (item,) = fast["evidence"]["reviews"]
    assert 0 <= item["minutes_after_reviewable"] < 1
    recorded, reviewable = (
        signals._time(item[k]) for k in ("purchase_recorded_at", "reviewable_at")
    )
    assert reviewable - recorded > timedelta(hours=2, minutes=59)


def test_orders_a_store_webhook_declared_are_declared_whatever_the_platform_name(
    app, client, staff
):
    """The detector keys on the level (not attested), never on the source's name: orders
    a shop's own webhook brought say "shopify" and are still the shop's word."""
    merchant_id, _ = make_merchant(app)
    with app.app_context():
        ids = []
        for n in range(5):
            link = store_order_link(
                merchant_id,
                f"W-{n}",
                n,
                utcnow() - timedelta(days=2),
                orders.Provenance.declared_via("shopify"),
            )
            submitted = reviews.submit(
                link.token,
                rating=5,
                process_rating=5,
                body="Todo bien.",
                client_address=f"181.65.{n}.20",
            )
            ids.append(submitted.review.id)
        db.session.commit()
    run_jobs(app)
    items = listed(client, staff)
    (burst,) = of_kind(items, "burst")
    assert sorted(burst["review_ids"]) == ids
    assert {r["verification"]["level"] for r in burst["evidence"]["reviews"]} == {"declared"}
    assert {r["verification"]["source"] for r in burst["evidence"]["reviews"]} == {"shopify"}
    (fast,) = of_kind(items, "fast_review")
    assert sorted(fast["review_ids"]) == ids


def test_platform_attested_reviews_at_a_normal_pace_open_nothing(app, client, staff):
    merchant_id, _ = make_merchant(app)
    start = utcnow() - timedelta(days=3)
    with app.app_context():
        for n in range(8):
            link = store_order_link(
                merchant_id, f"P-{n}", n, start, orders.Provenance.platform("shopify")
            )
            reviews.submit(
                link.token,
                rating=5,
                process_rating=5,
                body=f"Compra número {n}: todo llegó bien y a tiempo, gracias por la atención.",
                at=start + timedelta(hours=3 * n),
                client_address=f"181.65.{n}.20",
            )
        db.session.commit()
    assert run_jobs(app).done >= 8
    assert listed(client, staff) == []
    assert "signals opened" in app.test_cli_runner().invoke(args=["signals", "scan"]).output
    assert listed(client, staff) == []


# --------------------------------------------------------------------------- dedup, scan


def test_the_next_review_of_a_burst_adds_to_its_open_signal_and_a_decided_one_is_not_reopened(
    app, client, key, staff, tmp_path
):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    make_staff(app, "certifier")
    make_staff(app, "moderator")
    ids = [declared_review(client, key, n) for n in range(1, 6)]
    run_jobs(app)
    (burst,) = of_kind(listed(client, staff), "burst")
    ids.append(declared_review(client, key, 6))
    run_jobs(app)
    assert app.test_cli_runner().invoke(args=["signals", "scan"]).exit_code == 0
    (grown,) = of_kind(listed(client, staff), "burst")
    assert grown["id"] == burst["id"] and sorted(grown["review_ids"]) == sorted(ids)
    assert grown["evidence"]["count"] == 6

    # staff were told once per signal opened (admins and certifiers, not moderators)
    sent = [
        email.message_from_bytes(p.read_bytes(), policy=email_policy.default)
        for p in tmp_path.glob("*.eml")
    ]
    about_burst = [m for m in sent if "Ráfaga" in m["Subject"]]
    assert sorted(m["To"] for m in about_burst) == ["admin@cert.pe", "certifier@cert.pe"]
    body = about_burst[0].get_body(("plain",)).get_content()
    assert "Bodega Ñandú" in body and f"/console/moderation#s{burst['id']}" in body
    assert "correo.pe" not in body and "203.0." not in body

    dismissed = client.put(
        f"/api/v1/signals/{burst['id']}",
        json={"status": "dismissed", "reason": "Campaña de lanzamiento verificada por teléfono"},
        headers=bearer(staff),
    )
    assert dismissed.status_code == 200 and dismissed.json["status"] == "dismissed"
    assert app.test_cli_runner().invoke(args=["signals", "scan"]).exit_code == 0
    assert len(of_kind(listed(client, staff), "burst")) == 1  # a scan does not reopen it

    seventh = declared_review(client, key, 7)  # a new occurrence: a new signal
    run_jobs(app)
    new, old = of_kind(listed(client, staff), "burst")
    assert old["id"] == burst["id"] and old["status"] == "dismissed"
    assert new["status"] == "open" and new["review_ids"] == [seventh]
    assert new["evidence"]["earlier_signal_ids"] == [burst["id"]]
    assert new["evidence"]["count"] == 7
    assert of_kind(listed(client, staff, "?status=open"), "burst") == [new]


def test_a_long_burst_goes_on_in_continuation_signals_that_list_every_review(
    app, client, key, staff, monkeypatch
):
    """A signal lists at most MAX_GROUP reviews (4 here): a full one is closed, the pattern
    goes on in a continuation naming it, and confirming one flags exactly its reviews."""
    monkeypatch.setattr(signals, "MAX_GROUP", 4)
    app.config["TRUSTSEAL_SIGNAL_BURST_REVIEWS"] = 3
    ids = [declared_review(client, key, n) for n in range(1, 10)]
    run_jobs(app)

    def chains() -> dict[str, list[dict[str, Any]]]:
        items = listed(client, staff)
        return {
            k: sorted(of_kind(items, k), key=lambda i: i["id"]) for k in ("burst", "fast_review")
        }

    found = chains()
    for kind, chain in found.items():
        assert [sorted(i["review_ids"]) for i in chain] == [ids[0:4], ids[4:8], ids[8:9]], kind
        first, second, third = chain
        assert first["evidence"]["full"] and second["evidence"]["full"]
        assert "full" not in third["evidence"] and "continues_signal_id" not in first["evidence"]
        assert second["evidence"]["continues_signal_id"] == first["id"]
        assert third["evidence"]["continues_signal_id"] == second["id"]
        assert all(i["evidence"]["purchase_ids"] and i["status"] == "open" for i in chain)
    assert found["burst"][1]["evidence"]["count"] == 4  # the most one window held (listed)
    # a scan again changes nothing
    assert (
        "0 signals opened, 0 updated"
        in app.test_cli_runner().invoke(args=["signals", "scan"]).output
    )
    assert chains() == found

    # the console shows the chain; confirming the middle signal flags exactly its reviews
    email_address, password = make_staff_user(app, "certifier")
    console = app.test_client()
    sign_in(console, email_address, password)
    page = console.get("/console/moderation").get_data(as_text=True)
    middle = found["burst"][1]
    assert f'href="#s{found["burst"][0]["id"]}" class="signal-continues"' in page
    answer = client.put(
        f"/api/v1/signals/{middle['id']}",
        json={"status": "confirmed", "reason": "Pedidos inventados"},
        headers=bearer(staff),
    )
    assert answer.status_code == 200
    with app.app_context():
        assert sorted(r.id for r in reviews.flagged()) == ids[4:8]
    ids.append(declared_review(client, key, 10, email_address="pedro@correo.pe"))
    run_jobs(app)
    bursts = chains()["burst"]
    assert sorted(bursts[-1]["review_ids"]) == ids[8:10]  # the open continuation grew


def test_the_detector_reads_recent_signals_by_index_without_their_evidence(app, client, key, staff):
    ids = [declared_review(client, key, n) for n in range(1, 7)]
    run_jobs(app)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        indexes = {
            tuple(i["column_names"]) for i in inspect(db.engine).get_indexes("fraud_signals")
        }
        assert ("merchant_id", "kind", "id") in indexes
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            signals.scan_review(ids[-1])
            db.session.rollback()
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    recent = [
        sql for sql in statements if "FROM fraud_signals" in sql and "fraud_signals.id DESC" in sql
    ]
    assert recent  # one per kind found
    whole_column = re.compile(r"(SELECT|,)\s*fraud_signals\.evidence\s*(,|FROM)")
    assert [sql for sql in recent if whole_column.search(sql)] == []


def test_the_cli_scan_finds_the_signals_the_jobs_find(app, client, key, staff, runner):
    for n in range(1, 6):
        declared_review(client, key, n, address=f"190.236.12.{n}")
    declared_review(client, key, 6, email_address="lucia@correo.pe")

    def snapshot() -> list[tuple[str, list[int]]]:
        return sorted((i["kind"], sorted(i["review_ids"])) for i in listed(client, staff))

    run_jobs(app)
    by_jobs = snapshot()
    assert {kind for kind, _ in by_jobs} == {
        "burst",
        "fast_review",
        "shared_network",
        "repeated_identity",
    }
    with app.app_context():
        db.session.execute(delete(FraudSignal))
        db.session.commit()
    result = runner.invoke(args=["signals", "scan", "--merchant", "bodega"])
    assert result.exit_code == 0, result.output
    assert "scanned 6 reviews: 4 signals opened" in result.output
    assert snapshot() == by_jobs
    again = runner.invoke(args=["signals", "scan", "--since", "2020-01-01"])
    assert "0 signals opened, 0 updated" in again.output
    assert snapshot() == by_jobs
    missing = runner.invoke(args=["signals", "scan", "--merchant", "nadie"])
    assert missing.exit_code != 0 and "no merchant nadie" in missing.output


# --------------------------------------------------------------------------- emails, keys


def test_staff_get_one_email_per_merchant_and_kind_an_hour(app, client, key, staff, tmp_path):
    """Carrier NAT trips shared_network for many networks at once: one email an hour,
    the rest are in the console queue."""
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    app.config["TRUSTSEAL_SIGNAL_SHARED_NETWORK_REVIEWS"] = 2

    def network_emails() -> list[str]:
        sent = [
            email.message_from_bytes(p.read_bytes(), policy=email_policy.default)
            for p in tmp_path.glob("*.eml")
        ]
        return [m["To"] for m in sent if "misma red" in m["Subject"]]

    for n, net in enumerate((11, 11, 12, 12, 13, 13), 1):
        declared_review(client, key, n, address=f"190.236.{net}.{n}")
    run_jobs(app)
    shared = of_kind(listed(client, staff), "shared_network")
    assert len(shared) == 3
    assert network_emails() == ["admin@cert.pe"]  # one, not three
    assert [bool(s["evidence"].get("emailed")) for s in sorted(shared, key=lambda s: s["id"])] == [
        True,
        False,
        False,
    ]
    with app.app_context():  # an hour later
        db.session.execute(update(FraudSignal).values(created_at=utcnow() - timedelta(minutes=61)))
        db.session.commit()
    for n in (7, 8):
        declared_review(client, key, n, address=f"190.236.14.{n}")
    run_jobs(app)
    assert len(of_kind(listed(client, staff), "shared_network")) == 4
    assert network_emails() == ["admin@cert.pe", "admin@cert.pe"]


def test_the_keyed_hashes_use_a_key_derived_from_the_secret_not_the_secret(app):
    with app.app_context():
        secret = app.config["SECRET_KEY"].encode()
        derived = hmac.new(secret, b"trustseal detector keys v1", hashlib.sha256).digest()

        def keyed(key: bytes, text: str) -> str:
            return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()

        assert reviews.network_key("203.0.113.7") == keyed(derived, "network:203.0.113.0/24")
        assert reviews.identity_key("Ana.P+1@x.pe") == keyed(derived, "identity:anap@x.pe")
        assert reviews.text_key(None, "Hola") == keyed(derived, "text:hola")
        assert reviews.network_key("203.0.113.7") != keyed(secret, "network:203.0.113.0/24")


def test_published_rules_is_a_plain_function_that_needs_no_page():
    """/score renders the rules (reviews/pages.py imports the signals): the signals import
    no page module, so there is no cycle, and the rules need only the configuration."""
    code = (
        "import sys\n"
        "from trustseal import create_app\n"
        "import trustseal.signals.service as s\n"
        "assert not [m for m in sys.modules if m.startswith('trustseal.') and "
        "m.endswith('.pages')], 'a page module was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
    assert inspect_module.isfunction(signals.published_rules)


# --------------------------------------------------------------------------- the job


def test_a_failing_detector_never_blocks_the_review_and_is_retried(
    app, client, key, staff, monkeypatch
):
    def broken(review_id: int) -> signals.Found:
        raise RuntimeError("detector down")

    monkeypatch.setattr(signals, "scan_review", broken)
    review_id = declared_review(client, key, 1)  # 201 while the detector fails
    assert run_jobs(app).retried == 1
    with app.app_context():
        job = db.session.scalars(select(Job).where(Job.kind == signals.SCAN_JOB)).one()
        assert job.status == "queued" and job.attempts == 1 and "detector down" in job.last_error
    assert client.get(f"/api/v1/reviews/{review_id}").json["status"] == "published"
    assert listed(client, staff) == []

    monkeypatch.undo()
    with app.app_context():
        db.session.execute(update(Job).values(run_at=utcnow()))
        db.session.commit()
    assert run_jobs(app).done >= 1
    assert [i["review_ids"] for i in listed(client, staff)] == [[review_id]]


# --------------------------------------------------------------------------- the API


def test_dismiss_keeps_the_reason_and_the_list_filters(app, client, key, staff):
    make_merchant(app, slug="otra", domain="otra.pe")
    declared_review(client, key, 1, email_address="ana.p+1@x.pe")
    declared_review(client, key, 2, email_address="anap2@x.pe")
    run_jobs(app)
    items = listed(client, staff)
    assert {i["kind"] for i in items} == {"fast_review", "repeated_identity"}
    target = of_kind(items, "repeated_identity")[0]
    moderator = make_staff(app, "moderator", "mod@cert.pe")
    answer = client.put(
        f"/api/v1/signals/{target['id']}",
        json={"status": "dismissed", "reason": "  Son dos personas distintas: madre e hija.  "},
        headers=bearer(moderator),
    )
    assert answer.status_code == 200
    assert answer.json["reason"] == "Son dos personas distintas: madre e hija."
    dismissed = listed(client, staff, "?status=dismissed")
    assert [i["id"] for i in dismissed] == [target["id"]]
    assert dismissed[0]["reason"] == "Son dos personas distintas: madre e hija."
    assert target["id"] not in [i["id"] for i in listed(client, staff, "?status=open")]
    leaf = log_leaves(client)[-1]
    assert leaf["type"] == "signal.dismissed"
    assert {k: v for k, v in leaf.items() if k not in ENVELOPE} == {"signal_id": target["id"]}
    with app.app_context():
        assert reviews.flagged() == []  # dismissing flags nothing
    assert len(listed(client, staff, "?merchant=bodega")) == 2
    assert listed(client, staff, "?merchant=otra") == []
    first = client.get("/api/v1/signals?limit=1", headers=bearer(staff)).json
    second = client.get(
        f"/api/v1/signals?limit=1&cursor={first['next_cursor']}", headers=bearer(staff)
    ).json
    assert first["items"][0]["id"] > second["items"][0]["id"] and second["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?merchant=nadie", 404),
        ("?merchant=NO%20SLUG", 422),
        ("?status=maybe", 422),
        ("?cursor=!!", 422),
        ("?limit=1000", 422),
    ],
)
def test_bad_list_queries_are_refused(client, staff, query, code):
    assert client.get(f"/api/v1/signals{query}", headers=bearer(staff)).status_code == code


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"status": "open", "reason": "Reabrir"}, 422),
        ({"status": "confirmed"}, 422),
        ({"status": "confirmed", "reason": "   "}, 422),
        ({"status": "confirmed", "reason": "ok\u202e"}, 422),
        ({"status": "confirmed", "reason": "Motivo", "extra": 1}, 422),
        ({"status": "confirmed", "reason": "Motivo"}, 404),
    ],
)
def test_bad_decisions_are_refused(client, staff, body, code):
    answer = client.put("/api/v1/signals/999", json=body, headers=bearer(staff))
    assert answer.status_code == code and answer.json["code"] == code


def test_a_merchant_never_sees_or_decides_signals(app, client, key, staff):
    declared_review(client, key, 1)
    run_jobs(app)
    (item,) = listed(client, staff)
    assert client.get("/api/v1/signals", headers=bearer(key)).status_code == 403
    assert client.get("/api/v1/signals?merchant=bodega", headers=bearer(key)).status_code == 403
    decision = {"status": "dismissed", "reason": "No es fraude"}
    answer = client.put(f"/api/v1/signals/{item['id']}", json=decision, headers=bearer(key))
    assert answer.status_code == 403
    assert client.get("/api/v1/signals").status_code == 401
    assert listed(client, staff)[0]["status"] == "open"


# --------------------------------------------------------------------------- console, /score


def test_staff_decide_in_the_console_moderation_queue(app, client, key):
    ids = [declared_review(client, key, n) for n in range(1, 6)]
    run_jobs(app)
    email_address, password = make_staff_user(app, "certifier")
    console = app.test_client()
    sign_in(console, email_address, password)
    page = console.get("/console/moderation").get_data(as_text=True)
    assert "Ráfaga de opiniones de pedidos informados por la tienda" in page
    assert "Se escribieron 5 opiniones de pedidos que la tienda informó por su cuenta" in page
    assert f'href="/api/v1/reviews/{ids[0]}"' in page and "style=" not in page
    with app.app_context():
        burst = db.session.scalars(select(FraudSignal).where(FraudSignal.kind == "burst")).one()
        fast = db.session.scalars(
            select(FraudSignal).where(FraudSignal.kind == "fast_review")
        ).one()
        burst_id, fast_id = burst.id, fast.id
    assert f'id="s{burst_id}"' in page

    blank = post_form(
        console,
        f"/console/signals/{burst_id}/decision",
        {"decision": "confirmed", "reason": " "},
        token_from="/console/moderation",
    )
    assert blank.status_code == 302
    assert "Indica el motivo" in console.get("/console/moderation").get_data(as_text=True)
    hidden = post_form(
        console,
        f"/console/signals/{burst_id}/decision",
        {"decision": "confirmed", "reason": "ok\u202e"},
        token_from="/console/moderation",
    )
    assert hidden.status_code == 422
    no_csrf = console.post(
        f"/console/signals/{burst_id}/decision", data={"decision": "confirmed", "reason": "x"}
    )
    assert no_csrf.status_code in (400, 403)

    confirmed = post_form(
        console,
        f"/console/signals/{burst_id}/decision",
        {"decision": "confirmed", "reason": "Cinco pedidos inventados en un minuto"},
        token_from="/console/moderation",
    )
    assert confirmed.status_code == 302
    post_form(
        console,
        f"/console/signals/{fast_id}/decision",
        {"decision": "dismissed", "reason": "Ya cubierta por la ráfaga"},
        token_from="/console/moderation",
    )
    page = console.get("/console/moderation").get_data(as_text=True)
    assert f'id="s{burst_id}"' not in page and "No hay señales de fraude abiertas." in page
    assert all(f'id="r{review_id}"' in page for review_id in ids)  # now in the queue
    twice = post_form(
        console,
        f"/console/signals/{burst_id}/decision",
        {"decision": "dismissed", "reason": "otra vez"},
        token_from="/console/moderation",
    )
    assert twice.status_code == 302
    assert "Esta señal ya fue decidida." in console.get("/console/moderation").get_data(
        as_text=True
    )


def test_the_score_page_publishes_each_kind_and_its_thresholds(app, client):
    page = client.get("/score").get_data(as_text=True)
    assert "Señales de fraude" in page
    assert "5 o más opiniones de pedidos que la tienda informó por su cuenta, en 60 minutos" in page
    assert "a menos de 30 minutos" in page and "en 30 días" in page and "90 días" in page
    app.config["TRUSTSEAL_SIGNAL_BURST_REVIEWS"] = 8
    assert "8 o más opiniones" in client.get("/score").get_data(as_text=True)
    english = client.get("/score?lang=en").get_data(as_text=True)
    assert "8 or more reviews of orders the shop declared itself, within 60 minutes" in english
