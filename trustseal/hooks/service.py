"""The outgoing webhooks' door: subscribe, emit, deliver, read the delivery log.

An event is emitted in the transaction of what it reports (:func:`emit`): it becomes one
delivery per subscribed endpoint and a job each, so it is sent only if that commits. A
delivery job posts the exact stored body, signed at the moment of sending::

    X-Trustseal-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

through :mod:`trustseal.netguard` (https only, public addresses only, no redirect
followed), holding no transaction while it waits. A 2xx answer delivers it; anything else
is retried after 1, 2, 4, 8… minutes (``TRUSTSEAL_WEBHOOK_RETRY_FIRST_SECONDS``) until
``TRUSTSEAL_WEBHOOK_RETRY_HOURS`` (24) after the event, then the delivery fails. Every
attempt is kept with its response code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, update

from trustseal import netguard, secretbox
from trustseal.clock import rfc3339, utcnow
from trustseal.dbutil import execute_dml
from trustseal.errors import DomainError
from trustseal.extensions import db
from trustseal.hooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from trustseal.jobs import service as jobs

EVENTS = (
    "review.published",
    "review.flagged",
    "review.updated",
    "book.filed",
    "book.overdue",
    "seal.changed",
)
"""The events a merchant may subscribe to (API.md "Merchant growth")."""

TEST_EVENT = "webhook.test"
"""What the "send test" button sends (to one endpoint, whatever it subscribed to)."""

DELIVER_JOB = "hooks.deliver"
MAX_ENDPOINTS = 10
SIGNATURE_HEADER = "X-Trustseal-Signature"
SIGNATURE_TOLERANCE = 300  # seconds a receiver should accept between t and its clock
ANSWER_BYTES = 1024  # of a receiver's answer: enough to see it is there, no more kept
DELIVERY_PAGE = 50


class WebhookError(DomainError):
    """A webhook request the merchant must change (404, 409, 422)."""


# ---------------------------------------------------------------------------------------
# signatures (pure: a receiver's code does the same)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Trustseal-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, header: str, body: bytes, now: float, tolerance: int = SIGNATURE_TOLERANCE
) -> bool:
    """What a receiver checks: a ``v1`` HMAC of ``"<t>.<body>"`` under ``secret``, with
    ``t`` within ``tolerance`` seconds of ``now`` (a replayed old delivery fails)."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        timestamp = int(fields.get("t", [""])[0])
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).rsplit("v1=", 1)[1]
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


# ---------------------------------------------------------------------------------------
# endpoints


def _allow_private() -> bool:
    return bool(current_app.config["TRUSTSEAL_WEBHOOK_ALLOW_PRIVATE"])


def _check_url(url: str) -> str:
    url = url.strip()
    problem = netguard.url_problem(url)
    if problem:
        raise WebhookError(422, problem, field="url")
    if not url.startswith("https://") and not (
        _allow_private() and url.startswith("http://127.0.0.1")
    ):
        raise WebhookError(422, "A webhook URL starts with https://.", field="url")
    return url


def _check_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = [event for event in chosen if event not in EVENTS]
    if unknown or not chosen:
        raise WebhookError(422, f"Choose events among {', '.join(EVENTS)}.", field="events")
    return chosen


def create_endpoint(
    merchant_id: int, url: str, events: Iterable[str]
) -> tuple[WebhookEndpoint, str]:
    """Subscribe ``url`` to ``events``, in the caller's transaction; return the endpoint
    and its signing secret (``whsec_…``), shown this once and stored sealed."""
    url, chosen = _check_url(url), _check_events(events)
    count = db.session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.deleted_at.is_(None))
    )
    if (count or 0) >= MAX_ENDPOINTS:
        raise WebhookError(409, f"A shop has at most {MAX_ENDPOINTS} webhook endpoints.")
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        merchant_id=merchant_id,
        url=url,
        events=chosen,
        secret_sealed=secretbox.seal(secret.encode()),
    )
    db.session.add(endpoint)
    db.session.flush()
    return endpoint, secret


def endpoints(merchant_id: int) -> list[WebhookEndpoint]:
    """The merchant's endpoints, oldest first."""
    return list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.deleted_at.is_(None))
            .order_by(WebhookEndpoint.id)
        )
    )


def endpoint(merchant_id: int, endpoint_id: int) -> WebhookEndpoint:
    """One of the merchant's endpoints; 404 for another's, a deleted or an unknown one."""
    found = db.session.get(WebhookEndpoint, endpoint_id)
    if found is None or found.merchant_id != merchant_id or found.deleted_at is not None:
        raise WebhookError(404, "No such webhook endpoint.")
    return found


def delete_endpoint(merchant_id: int, endpoint_id: int) -> None:
    """Stop sending to an endpoint (its pending deliveries fail at their next attempt);
    its delivery log is kept."""
    endpoint(merchant_id, endpoint_id).deleted_at = utcnow()


# ---------------------------------------------------------------------------------------
# events and deliveries


def _deliver_later(delivery: WebhookDelivery, at: datetime | None = None) -> None:
    jobs.enqueue(DELIVER_JOB, {"delivery_id": delivery.id}, run_at=at)


def _queue(
    target: WebhookEndpoint, event_type: str, merchant_slug: str, data: Mapping[str, Any]
) -> WebhookDelivery:
    event_id = "evt_" + secrets.token_hex(12)
    now = utcnow()
    body = {
        "id": event_id,
        "type": event_type,
        "created_at": rfc3339(now),
        "merchant": merchant_slug,
        "data": dict(data),
    }
    delivery = WebhookDelivery(
        endpoint_id=target.id,
        event_id=event_id,
        event_type=event_type,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True),
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    db.session.add(delivery)
    db.session.flush()
    _deliver_later(delivery)
    return delivery


def emit(merchant_id: int, merchant_slug: str, event_type: str, data: Mapping[str, Any]) -> int:
    """Report an event to every endpoint of the merchant subscribed to it, in the caller's
    transaction (sent only if it commits); how many deliveries were queued. ``data`` holds
    public facts and ids, never a consumer's personal data."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r}")
    queued = 0
    for target in endpoints(merchant_id):
        if event_type in target.events:
            _queue(target, event_type, merchant_slug, data)
            queued += 1
    return queued


def send_test(merchant_id: int, merchant_slug: str, endpoint_id: int) -> WebhookDelivery:
    """Queue a ``webhook.test`` delivery to one endpoint (the dashboard's "send test")."""
    target = endpoint(merchant_id, endpoint_id)
    return _queue(target, TEST_EVENT, merchant_slug, {"message": "trustseal webhook test"})


def deliveries(
    merchant_id: int, endpoint_id: int, limit: int = DELIVERY_PAGE
) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
    """An endpoint's latest deliveries, newest first, each with its attempts (oldest
    first). The endpoint may have been deleted: its log stays readable."""
    found = db.session.get(WebhookEndpoint, endpoint_id)
    if found is None or found.merchant_id != merchant_id:
        raise WebhookError(404, "No such webhook endpoint.")
    rows = list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )
    attempts: dict[int, list[WebhookAttempt]] = {row.id: [] for row in rows}
    if rows:
        for attempt in db.session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.id)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return [(row, attempts[row.id]) for row in rows]


def retry_delay(attempts: int) -> timedelta:
    """The wait after failed attempt number ``attempts`` (1, 2, 4, 8… times the first)."""
    first = float(current_app.config["TRUSTSEAL_WEBHOOK_RETRY_FIRST_SECONDS"])
    return timedelta(seconds=first * 2 ** (attempts - 1))


def _post(
    url: str, secret: str, body: bytes, event_type: str, event_id: str
) -> tuple[int | None, str | None]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "trustseal-webhooks/1",
        "X-Trustseal-Event": event_type,
        "X-Trustseal-Delivery": event_id,
        SIGNATURE_HEADER: signature(secret, int(time.time()), body),
    }
    timeout = float(current_app.config["TRUSTSEAL_WEBHOOK_TIMEOUT_SECONDS"])
    result = netguard.fetch(
        url,
        max_bytes=ANSWER_BYTES,
        timeout=timeout,
        deadline=timeout,
        allow_private=_allow_private(),
        https_only=True,
        max_redirects=0,
        headers=headers,
        body=body,
    )
    return result.status, result.error


def deliver(delivery_id: int) -> str:
    """Make one attempt of a pending delivery and record it: ``delivered``, ``pending``
    (another attempt queued) or ``failed``."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return delivery.status if delivery else "gone"
    target = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    assert target is not None
    now = utcnow()
    status_code: int | None = None
    error: str | None = "the endpoint was deleted"
    took = 0.0
    if target.deleted_at is None:
        url, secret = target.url, secretbox.open_(target.secret_sealed).decode()
        sent = (delivery.body.encode(), delivery.event_type, delivery.event_id)
        db.session.rollback()  # no transaction waits on the merchant's server
        started = time.perf_counter()
        status_code, error = _post(url, secret, *sent)
        took = time.perf_counter() - started
        delivery = db.session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
    ok = status_code is not None and 200 <= status_code < 300
    db.session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            attempted_at=now,
            status_code=status_code,
            error=None if ok else (error or f"HTTP {status_code}")[:500],
            duration_ms=int(took * 1000),
        )
    )
    attempts = delivery.attempts + 1
    give_up = delivery.created_at + timedelta(
        hours=float(current_app.config["TRUSTSEAL_WEBHOOK_RETRY_HOURS"])
    )
    later = utcnow() + retry_delay(attempts)
    if ok:
        values: dict[str, Any] = {
            "status": "delivered",
            "finished_at": utcnow(),
            "next_attempt_at": None,
        }
    elif target.deleted_at is None and later <= give_up:
        values = {"next_attempt_at": later}
    else:
        values = {"status": "failed", "finished_at": utcnow(), "next_attempt_at": None}
    # Only the attempt that still finds the delivery pending records its outcome.
    changed = execute_dml(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == "pending")
        .where(WebhookDelivery.attempts == delivery.attempts)
        .values(attempts=attempts, last_status_code=status_code, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed and values.get("next_attempt_at") is not None:
        _deliver_later(delivery, later)
    return str(values.get("status", "pending"))


@jobs.handler(DELIVER_JOB)
def _deliver_job(payload: dict[str, Any]) -> None:
    deliver(int(payload["delivery_id"]))


def prune(now: datetime | None = None) -> int:
    """Forget finished deliveries (and their attempts) older than
    ``TRUSTSEAL_WEBHOOK_LOG_DAYS``; how many. Pending ones are kept whatever their age."""
    days = float(current_app.config["TRUSTSEAL_WEBHOOK_LOG_DAYS"])
    cutoff = (now or utcnow()) - timedelta(days=days)
    old = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status != "pending", WebhookDelivery.created_at < cutoff)
        .scalar_subquery()
    )
    execute_dml(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(old)))
    removed = execute_dml(
        delete(WebhookDelivery).where(
            WebhookDelivery.status != "pending", WebhookDelivery.created_at < cutoff
        )
    ).rowcount
    db.session.commit()
    return int(removed or 0)


jobs.periodic("hooks.prune", timedelta(hours=6))(prune)
