"""The platform plugin interface, and the registry that finds plugins by entry point.

A plugin is a :class:`Platform` subclass registered in the entry-point group
``trustseal.platforms`` (see ``docs/plugins.md``). It never touches tables: it checks a
webhook's authenticity, turns its body into :class:`~trustseal.orders.service.PurchaseEvent`
values, and — where the platform's hook carries only an id, or to confirm an order a
webhook delivered — fetches the order. The core records what it returns, and decides what
it is worth: only an order fetched from an API the platform runs (:attr:`Platform.attests`)
is attested; what webhooks say is declared, since the shop holds their secret.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, ClassVar

import marshmallow as ma
from flask import current_app, has_app_context

from trustseal.orders.service import DECLARED_ORIGINS, PurchaseEvent

GROUP = "trustseal.platforms"
log = logging.getLogger("trustseal.platforms")


class SignatureInvalid(Exception):
    """The webhook is not authentic (bad or missing signature or secret header)."""


class BadPayload(Exception):
    """The webhook body cannot be read."""


class PlatformError(Exception):
    """Talking to the platform failed (network, 5xx, refused): retry later."""


@dataclass(frozen=True)
class WebhookRequest:
    """What a platform sent, independent of the web framework."""

    headers: Mapping[str, str]  # lower-case names
    body: bytes
    content_type: str = ""

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body as JSON (integers of any size stay exact); :class:`BadPayload` if not."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadPayload("the body is not JSON") from exc


@dataclass(frozen=True)
class StoreContext:
    """What a plugin knows of a store (decrypted secrets included; never logged)."""

    id: int
    merchant_id: int
    identifier: str
    settings: Mapping[str, Any]
    secrets: Mapping[str, str]
    webhook_url: str


@dataclass(frozen=True)
class PrivacyRequest:
    """A platform's mandatory privacy request (erase a customer, a shop, or report data)."""

    kind: str  # customer_redact | customer_data | shop_redact
    email: str | None = None
    external_ids: tuple[str, ...] = ()


@dataclass
class Parsed:
    """What a webhook means."""

    topic: str
    events: list[PurchaseEvent] = field(default_factory=list)
    fetch: list[str] = field(default_factory=list)  # order ids to fetch in a job
    ping: bool = False
    ignored: bool = False
    privacy: PrivacyRequest | None = None


@dataclass(frozen=True)
class NewStore:
    """A store a plugin set up: what to keep, and what to show once."""

    identifier: str
    settings: dict[str, Any]
    secrets: dict[str, str]
    shown: dict[str, Any] = field(default_factory=dict)  # generated secrets, shown once


class Platform(ABC):
    """One e-commerce platform. Subclass it and register it as an entry point."""

    name: ClassVar[str]
    title: ClassVar[str]
    settings_schema: ClassVar[type[ma.Schema]]
    # fetch_order is implemented (it may still need credentials the store lacks: fetches()).
    can_fetch: ClassVar[bool] = False
    # Its API is run by the platform, not by the shop: an order trustseal fetches from it
    # with the store's credentials is attested. False for a self-hosted platform (its "API"
    # is the shop's own server) and by default. Webhooks never attest: the shop holds their
    # secret, so what they say is declared (via the platform).
    attests: ClassVar[bool] = False

    @abstractmethod
    def create(self, data: Mapping[str, Any], webhook_url: str) -> NewStore:
        """Set up a store from the validated ``settings_schema`` data."""

    @abstractmethod
    def setup_instructions(self, store: StoreContext, shown: Mapping[str, Any]) -> list[str]:
        """Step-by-step instructions, in the current language (use gettext)."""

    @abstractmethod
    def verify(self, request: WebhookRequest, store: StoreContext) -> None:
        """Raise :class:`SignatureInvalid` unless the request is authentic (constant time)."""

    @abstractmethod
    def parse(self, request: WebhookRequest, store: StoreContext) -> Parsed:
        """What the (verified) webhook says; raise :class:`BadPayload` if unreadable."""

    def dedup_key(self, request: WebhookRequest) -> str | None:
        """An id that is the same for every retry of one delivery (None: no dedup)."""
        return None

    def fetches(self, store: StoreContext) -> bool:
        """Whether :meth:`fetch_order` works for this store (the plugin fetches, and the
        store has the API credentials it needs)."""
        return self.can_fetch

    def fetch_order(self, store: StoreContext, external_id: str) -> list[PurchaseEvent]:
        """Fetch an order from the platform's API: for hooks that carry only ids, and to
        confirm an order a webhook delivered (see :attr:`attests`)."""
        raise PlatformError(f"{self.name} does not fetch orders")

    def list_orders(self, store: StoreContext, since: datetime) -> Iterator[PurchaseEvent]:
        """Every order since a date, for reconciling missed webhooks."""
        raise PlatformError(f"{self.name} cannot list orders: set its API credentials")


def load(allowed: list[str] | None = None) -> dict[str, Platform]:
    """Instantiate the plugins found in the entry-point group (limited to ``allowed``)."""
    found: dict[str, Platform] = {}
    for entry in entry_points(group=GROUP):
        if allowed and entry.name not in allowed:
            continue
        try:
            platform_class = entry.load()
        except Exception:  # a broken third-party plugin must not stop the service
            log.exception("cannot load platform plugin", extra={"plugin": entry.name})
            continue
        if not (isinstance(platform_class, type) and issubclass(platform_class, Platform)):
            log.error("entry point is not a Platform", extra={"plugin": entry.name})
            continue
        if entry.name in DECLARED_ORIGINS:
            # Its orders would read as declared by the merchant: "api", "dashboard" and
            # "import" name the ways a merchant declares orders itself.
            log.error("platform plugin with a reserved name", extra={"plugin": entry.name})
            continue
        found[entry.name] = platform_class()
    return found


def title_of(name: str) -> str:
    """The name people read for a platform (``Shopify``); its plugin name if no plugin of
    that name is loaded."""
    registry = current_app.extensions.get("trustseal.platforms", {}) if has_app_context() else {}
    plugin = registry.get(name)
    return plugin.title if plugin is not None else name.capitalize()
