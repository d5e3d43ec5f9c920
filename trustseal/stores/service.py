"""The stores domain's door: set up stores, take webhooks, fetch and reconcile orders.

What a platform attests of the shop's account with the orders trustseal fetches from its
API — the account's country (VTEX: the store preferences its License Manager keeps) — is
the store's (:func:`learn_account`): its orders default to the country's language
(Portuguese for an account in Brazil), and the merchant's country follows unless it was
declared (only a shop in Peru has a Libro de Reclamaciones).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import or_, select, update

from trustseal import countries, i18n, languages, secretbox
from trustseal.clock import utcnow
from trustseal.dbutil import execute_dml, insert_ignoring_duplicate
from trustseal.errors import DomainError
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.merchants import service as merchants
from trustseal.orders import service as orders
from trustseal.platforms import (
    BadPayload,
    Parsed,
    Platform,
    PlatformError,
    SignatureInvalid,
    StoreContext,
    WebhookRequest,
)
from trustseal.reviews import service as reviews
from trustseal.stores.models import Store, StoreSync, WebhookDelivery

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant

log = logging.getLogger("trustseal.webhooks")
FETCH_JOB = "stores.fetch_order"
PRIVACY_JOB = "stores.privacy"
SYNC_JOB = "stores.sync"
SYNC_ACTIVE = ("queued", "running")
# A sync still queued or running after this long lost its worker (or it has none): it
# shows as stopped, and the merchant may ask again.
SYNC_STALE = timedelta(hours=6)
SYNC_MAX_DAYS = 366
LAST_EVENT_PRECISION = timedelta(minutes=1)


class StoreError(DomainError):
    """A webhook or store request refused."""


@dataclass(frozen=True)
class CreatedStore:
    """A new store, what to show once, and its setup instructions in every language."""

    store: Store
    shown: dict[str, Any]
    instructions: dict[str, list[str]]


def platforms() -> dict[str, Platform]:
    """The platform plugins loaded for this app."""
    return current_app.extensions["trustseal.platforms"]


def platform(name: str) -> Platform:
    """One loaded platform, or :class:`StoreError` 404."""
    found = platforms().get(name)
    if found is None:
        raise StoreError(404, f"No platform {name!r} here.")
    return found


def webhook_url(store: Store) -> str:
    """Where the platform must send this store's webhooks."""
    return f"{current_app.config['TRUSTSEAL_BASE_URL']}/webhooks/{store.platform}/{store.id}"


def provenance_of(store: Store, *, fetched: bool) -> orders.Provenance:
    """What a store's orders are worth. Attested only when trustseal ``fetched`` them itself
    from an API its platform runs (:attr:`Platform.attests`), with the store's credentials;
    otherwise declared via the platform: the shop holds the secret that signs its webhooks,
    and a self-hosted platform's API is the shop's own server."""
    if fetched and platform(store.platform).attests:
        return orders.Provenance.platform(store.platform)
    return orders.Provenance.declared_via(store.platform)


def source_of(store: Store) -> str:
    """The purchase source name of a store's orders."""
    return f"store:{store.id}"


def context(store: Store) -> StoreContext:
    """The plugin's view of a store, with its secrets decrypted."""
    secrets = json.loads(secretbox.open_(store.secrets_encrypted))
    return StoreContext(
        store.id,
        store.merchant_id,
        store.identifier,
        dict(store.settings),
        secrets,
        webhook_url(store),
    )


def instructions(plugin: Platform, store: Store, shown: Mapping[str, Any]) -> dict[str, list[str]]:
    """The plugin's setup steps in every language, by code (``es``, ``en``, ``pt``)."""
    steps = {}
    for lang in languages.CODES:
        with i18n.in_language(lang):
            steps[lang] = [str(step) for step in plugin.setup_instructions(context(store), shown)]
    return steps


def create_store(merchant: Merchant, platform_name: str, data: Mapping[str, Any]) -> CreatedStore:
    """Set up a store for a merchant; generated secrets are in ``shown`` only this once."""
    plugin = platform(platform_name)
    store = Store(
        merchant_id=merchant.id,
        platform=platform_name,
        identifier="",
        settings={},
        secrets_encrypted="",
        status="active",
    )
    db.session.add(store)
    db.session.flush()  # the id is part of the webhook URL
    made = plugin.create(data, webhook_url(store))
    store.identifier = made.identifier
    store.settings = made.settings
    store.secrets_encrypted = secretbox.seal(json.dumps(made.secrets).encode())
    db.session.flush()
    return CreatedStore(store, made.shown, instructions(plugin, store, made.shown))


def stores_of(merchant: Merchant) -> list[Store]:
    """A merchant's stores, newest first."""
    return list(
        db.session.scalars(
            select(Store).where(Store.merchant_id == merchant.id).order_by(Store.id.desc())
        )
    )


def get(store_id: int) -> Store | None:
    """A store by id."""
    return db.session.get(Store, store_id)


def disable(merchant: Merchant, store_id: int) -> Store:
    """Stop taking a store's webhooks (its purchases and reviews stay)."""
    store = db.session.get(Store, store_id)
    if store is None or store.merchant_id != merchant.id:
        raise StoreError(404, "No such store.")
    if store.status != "disabled":
        store.status, store.disabled_at = "disabled", utcnow()
    return store


def record_events(
    store: Store, events: list[orders.PurchaseEvent], *, fetched: bool
) -> list[orders.Recorded]:
    """Record purchase events of a store through the orders door; ``fetched``: trustseal
    fetched them itself from the platform's API (see :func:`provenance_of`)."""
    provenance = provenance_of(store, fetched=fetched)
    learn_account(store, events, fetched=fetched)
    return [
        orders.record_purchase_event(
            store.merchant_id, source_of(store), in_store_language(store, event), provenance
        )
        for event in events
    ]


def learn_account(
    store: Store, events: Iterable[orders.PurchaseEvent], *, fetched: bool
) -> None:
    """Take what the platform attests of the shop's account with its orders: its country.

    Only from orders trustseal ``fetched`` from an API the platform runs (a webhook's word
    is the shop's). A new country becomes the store's, with the language its orders
    default to (:func:`trustseal.countries.language_of`: Portuguese for Brazil), and the
    merchant's unless the merchant's was declared (:func:`merchants.learn_country`)."""
    if not (fetched and platform(store.platform).attests):
        return
    country = next((e.account_country for e in events if e.account_country), None)
    if country is None or not countries.is_country(country) or country == store.country:
        return
    store.country, store.language = country, countries.language_of(country)
    merchant = merchants.get(store.merchant_id)
    if merchant is not None and merchants.learn_country(merchant, country, store.platform):
        log.info(
            "merchant country from its platform account",
            extra={"store_id": store.id, "country": country},
        )


def in_store_language(store: Store, event: orders.PurchaseEvent) -> orders.PurchaseEvent:
    """The event, its customer in the store's language when the platform did not say
    which (the merchant's applies when the store has none either)."""
    if event.customer_locale is not None or store.language is None:
        return event
    return replace(event, customer_locale=store.language)


def handle_webhook(platform_name: str, store_id: int, request: WebhookRequest) -> dict[str, Any]:
    """Verify, deduplicate and record one webhook, in the caller's transaction.

    Raises :class:`StoreError` (404 unknown, 410 disabled, 401 not authentic, 400 bad body).
    """
    plugin = platform(platform_name)
    store = db.session.get(Store, store_id)
    if store is None or store.platform != platform_name:
        raise StoreError(404, "No such store for this platform.")
    if store.status != "active":
        raise StoreError(410, "This store is disabled.")
    ctx = context(store)
    try:
        plugin.verify(request, ctx)
        parsed = plugin.parse(request, ctx)
    except SignatureInvalid as exc:
        log.warning("webhook refused", extra={"store_id": store_id, "reason": str(exc)})
        raise StoreError(401, "The webhook signature is not valid.") from exc
    except BadPayload as exc:
        raise StoreError(400, f"The webhook body cannot be read: {exc}") from exc
    if parsed.ping:
        return {"status": "pong"}
    key = plugin.dedup_key(request)
    if (
        key is not None
        and insert_ignoring_duplicate(
            WebhookDelivery,
            {
                "store_id": store.id,
                "dedup_key": key[:300],
                "topic": parsed.topic[:100],
                "received_at": utcnow(),
            },
            ["store_id", "dedup_key"],
        )
        is None
    ):
        return {"status": "duplicate"}
    if parsed.ignored:
        log.info("webhook topic ignored", extra={"store_id": store_id, "topic": parsed.topic})
        return {"status": "ignored", "topic": parsed.topic}
    _apply(store, plugin, ctx, parsed)
    now = utcnow()
    if store.last_event_at is None or now - store.last_event_at > LAST_EVENT_PRECISION:
        store.last_event_at = now  # at most once a minute: no row update on every delivery
    return {"status": "recorded", "events": len(parsed.events), "fetches": len(parsed.fetch)}


def _apply(store: Store, plugin: Platform, ctx: StoreContext, parsed: Parsed) -> None:
    recorded = record_events(store, parsed.events, fetched=False)
    fetches = list(dict.fromkeys([*parsed.fetch, *_to_confirm(plugin, ctx, recorded)]))
    for external_id in fetches:
        jobs.enqueue(FETCH_JOB, {"store_id": store.id, "external_id": external_id})
    if parsed.privacy is not None:
        request = parsed.privacy
        payload: dict[str, Any] = {"store_id": store.id, "kind": request.kind}
        if request.kind == "customer_redact":
            # Which purchases, found now: the job keeps their ids, never the email.
            payload["purchase_ids"] = orders.purchase_ids_for(
                store.merchant_id, source_of(store), request.email, tuple(request.external_ids)
            )
        jobs.enqueue(PRIVACY_JOB, payload)


def _to_confirm(plugin: Platform, ctx: StoreContext, recorded: list[orders.Recorded]) -> list[str]:
    """The orders a webhook just delivered that trustseal can confirm by fetching them
    from an API the platform runs (the moment a review becomes possible): their ids."""
    if not (plugin.attests and plugin.fetches(ctx)):
        return []
    return [r.purchase.external_id for r in recorded if r.delivered and not r.purchase.attested]


@jobs.handler(FETCH_JOB)
def fetch_order(payload: dict[str, Any]) -> None:
    """Job: fetch an order from the platform's API — one a hook only named, or one a
    webhook delivered, to confirm it — and record it as fetched (retried on failure)."""
    store = db.session.get(Store, payload["store_id"])
    if store is None or store.status != "active":
        return
    plugin, settings = platform(store.platform), context(store)
    db.session.rollback()  # hold no transaction while the platform answers
    events = plugin.fetch_order(settings, str(payload["external_id"]))
    record_events(store, events, fetched=True)


@jobs.handler(PRIVACY_JOB)
def privacy_request(payload: dict[str, Any]) -> None:
    """Job: carry out a platform's privacy request (erase personal data; keep ratings, log)."""
    store = db.session.get(Store, payload["store_id"])
    if store is None:
        return
    kind = payload["kind"]
    ids: list[int] | None
    if kind == "shop_redact":
        ids = orders.purchase_ids_of_source(store.merchant_id, source_of(store))
        orders.erase_purchases(ids)
    elif kind == "customer_redact":
        ids = payload.get("purchase_ids")
        if ids is None:  # a job queued before purchases were found at delivery
            ids = orders.purchase_ids_for(
                store.merchant_id,
                source_of(store),
                payload.get("email"),
                tuple(payload["external_ids"]),
            )
        orders.erase_purchases(ids)
    else:  # customer_data: what we hold is the purchase data the shop sent us
        log.info("privacy data request noted", extra={"store_id": store.id})
        return
    reviews.erase_personal_data(ids)


def reconcile(store: Store, since: datetime, progress: Callable[[int], None] | None = None) -> int:
    """Re-fetch a store's orders since a date and record them (idempotent); how many.
    They are fetched: attested if the platform runs its API, which may upgrade orders its
    webhooks declared."""
    count = 0
    provenance = provenance_of(store, fetched=True)
    for event in platform(store.platform).list_orders(context(store), since):
        learn_account(store, [event], fetched=True)
        orders.record_purchase_event(
            store.merchant_id, source_of(store), in_store_language(store, event), provenance
        )
        count += 1
        if progress:
            progress(1)
        if count % 200 == 0:
            db.session.commit()
    return count


# --- re-sync from the dashboard: reconcile as a job, with its progress kept -------------


@dataclass(frozen=True)
class SyncState:
    """What the dashboard shows of a store's latest re-sync."""

    status: str  # queued | running | done | failed
    orders: int
    error: str | None  # a reason code (see :func:`sync_reason`)
    since: datetime
    requested_at: datetime
    finished_at: datetime | None

    @property
    def active(self) -> bool:
        """Queued or running: a second run is refused."""
        return self.status in SYNC_ACTIVE


def _owned(merchant: Merchant, store_id: int) -> Store:
    store = db.session.get(Store, store_id)
    if store is None or store.merchant_id != merchant.id:
        raise StoreError(404, "No such store.")
    return store


def can_sync(store: Store) -> bool:
    """Whether the store is active and its plugin can list its orders with its credentials."""
    if store.status != "active":
        return False
    plugin = platforms().get(store.platform)
    return plugin is not None and plugin.fetches(context(store))


def sync_state(store: Store, now: datetime | None = None) -> SyncState | None:
    """The store's latest re-sync (None if never asked); a stale active one reads failed."""
    row = db.session.get(StoreSync, store.id)
    if row is None:
        return None
    status, error = row.status, row.error
    if status in SYNC_ACTIVE and (now or utcnow()) - row.requested_at > SYNC_STALE:
        status, error = "failed", "stopped"
    return SyncState(status, row.orders, error, row.since, row.requested_at, row.finished_at)


def request_sync(merchant: Merchant, store_id: int, since: datetime) -> int:
    """Queue a re-sync of a store's orders since a date (in the caller's transaction); the
    job's id. :class:`StoreError` 404 (not the merchant's), 409 (one queued or running, or
    the store disabled), 422 (its platform cannot list orders with its credentials)."""
    store = _owned(merchant, store_id)
    if store.status != "active":
        raise StoreError(409, "This store is disabled.")
    if not can_sync(store):
        raise StoreError(422, "This store has no API credentials to list its orders.")
    now = utcnow()
    values: dict[str, Any] = {
        "status": "queued",
        "since": since,
        "orders": 0,
        "error": None,
        "requested_at": now,
        "started_at": None,
        "finished_at": None,
    }
    row = db.session.get(StoreSync, store.id)
    if row is None:
        taken = insert_ignoring_duplicate(StoreSync, {"store_id": store.id, **values}, ["store_id"])
    else:  # compare-and-set: two clicks at once queue one job
        taken = execute_dml(
            update(StoreSync)
            .where(StoreSync.store_id == store.id)
            .where(
                or_(
                    StoreSync.status.not_in(SYNC_ACTIVE),
                    StoreSync.requested_at < now - SYNC_STALE,
                )
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.expire(row)
    if not taken:
        raise StoreError(409, "A re-sync of this store is already queued or running.")
    return jobs.enqueue(SYNC_JOB, {"store_id": store.id, "since": since.isoformat()})


def _set_sync(store_id: int, **values: Any) -> None:
    execute_dml(
        update(StoreSync)
        .where(StoreSync.store_id == store_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


_ANSWERED = re.compile(r" answered (\d{3})")


def sync_reason(error: BaseException) -> str:
    """A short reason code for a failed re-sync (the platform's message may hold URLs):
    ``credentials``, ``refused``, ``timeout``, ``unreachable``, ``http_<status>``,
    ``bad_answer``, ``platform`` or ``internal``."""
    if not isinstance(error, PlatformError):
        return "internal"
    text = str(error)
    answered = _ANSWERED.search(text)
    if answered:
        return "refused" if answered.group(1) in ("401", "403") else f"http_{answered.group(1)}"
    for needle, code in (
        ("did not answer in time", "timeout"),
        ("cannot be reached", "unreachable"),
        ("did not answer JSON", "bad_answer"),
        ("access token", "credentials"),
        ("credentials", "credentials"),
    ):
        if needle in text:
            return code
    return "platform"


@jobs.handler(SYNC_JOB)
def sync_orders(payload: dict[str, Any]) -> None:
    """Job: re-fetch a store's orders since a date (:func:`reconcile`), keeping its progress
    in the store's :class:`StoreSync` row. A failure is final (the merchant may ask again)."""
    store_id = int(payload["store_id"])
    store = db.session.get(Store, store_id)
    if store is None or db.session.get(StoreSync, store_id) is None:
        return
    _set_sync(store_id, status="running", started_at=utcnow())
    db.session.commit()  # the page shows it running while the platform answers
    seen = 0

    def progress(step: int) -> None:
        nonlocal seen
        seen += step
        if seen % 50 == 0:  # committed with reconcile's own batches
            _set_sync(store_id, orders=seen)

    try:
        count = reconcile(store, datetime.fromisoformat(payload["since"]), progress)
    except Exception as error:
        db.session.rollback()
        reason = sync_reason(error)
        log.warning("store re-sync failed", extra={"store_id": store_id, "reason": reason})
        _set_sync(store_id, status="failed", error=reason, finished_at=utcnow(), orders=seen)
        db.session.commit()
        raise jobs.PermanentJobError(f"re-sync of store {store_id} failed: {reason}") from error
    _set_sync(store_id, status="done", orders=count, error=None, finished_at=utcnow())
