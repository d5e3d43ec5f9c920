"""The platform plugin interface, and the registry that finds plugins by entry point.

A plugin is a :class:`Platform` subclass registered in the entry-point group
``trustseal.platforms`` (see ``docs/plugins.md``). It never touches tables: it checks a
webhook's authenticity, turns its body into :class:`PurchaseEvent` values, and — where the
platform's hook carries only an id, or to confirm an order a webhook delivered — fetches
the order. The core records what it returns, and decides what it is worth: only an order
fetched from an API the platform runs (:attr:`Platform.attests`) is attested; what webhooks
say is declared, since the shop holds their secret.

This module is all of trustseal a plugin imports: the interface, the values it hands over
(:class:`PurchaseEvent`, :class:`ItemData`, :class:`Status`, from
:mod:`trustseal.platform_types`), the clock (:func:`utcnow`), what a platform's language
and country codes mean (:func:`language_code`, :func:`country_code`) and HTTP to the
platform's API (:func:`http_session`, :func:`get_json`): one configured session, with
timeouts and retries, for every call.
"""

from __future__ import annotations

import json
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, ClassVar

import marshmallow as ma
import requests
from flask import current_app, has_app_context
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from trustseal import countries, languages
from trustseal.clock import utcnow
from trustseal.orders.service import DECLARED_ORIGINS
from trustseal.platform_types import ItemData, PurchaseEvent, ShippingData, Status

__all__ = [
    "BadPayload",
    "ItemData",
    "NewStore",
    "Parsed",
    "Platform",
    "PlatformError",
    "PrivacyRequest",
    "PurchaseEvent",
    "ShippingData",
    "SignatureInvalid",
    "Status",
    "StoreContext",
    "WebhookRequest",
    "country_code",
    "get_json",
    "http_session",
    "language_code",
    "load",
    "title_of",
    "utcnow",
]

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


def language_code(value: object) -> str | None:
    """The code of a language trustseal speaks (``es``, ``en``, ``pt``) from a platform's
    locale (``pt-BR``, ``es_PE``, ``en-US``); None for none, or another language."""
    return languages.code_of(value)


def country_code(value: object) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country a platform writes in two or three letters
    (``BRA`` → ``BR``); None when it names no country."""
    return countries.code_of(value)


def title_of(name: str) -> str:
    """The name people read for a platform (``Shopify``); its plugin name if no plugin of
    that name is loaded."""
    registry = current_app.extensions.get("trustseal.platforms", {}) if has_app_context() else {}
    plugin = registry.get(name)
    return plugin.title if plugin is not None else name.capitalize()


# --- HTTP to a platform's API ----------------------------------------------------------

USER_AGENT = "trustseal-platforms/1"
# Seconds to open a connection (at most the configured timeout, which bounds each wait for
# the answer: TRUSTSEAL_PLATFORM_HTTP_TIMEOUT, or DEFAULT_TIMEOUT outside an application).
CONNECT_TIMEOUT = 5.0
DEFAULT_TIMEOUT = 10.0
# Retries after the first attempt (three requests at most), on connection errors and these
# answers, for idempotent methods only. Anything else fails at once with PlatformError: the
# job that called is retried later with its own, longer backoff.
RETRIES = 2
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# urllib3 retries the first time at once, then waits BACKOFF_SECONDS * 2^(n-1) (1 s)...
BACKOFF_SECONDS = 0.5
# ...or what the platform's Retry-After says, up to this many seconds.
MAX_RETRY_AFTER_SECONDS = 10


class _Retry(Retry):
    """urllib3's :class:`~urllib3.util.Retry` that also reads a ``Retry-After`` in decimal
    seconds: Shopify answers a 429 with ``Retry-After: 2.0``, which urllib3 alone takes for
    a malformed date (and gives up)."""

    def parse_retry_after(self, retry_after: str) -> float:
        """Seconds to wait, from decimal seconds or an HTTP date, capped at
        ``retry_after_max``."""
        try:
            seconds = float(retry_after)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds):
            return super().parse_retry_after(retry_after)  # an HTTP date, or refused
        return min(max(seconds, 0.0), self.retry_after_max)


class _TimeoutAdapter(HTTPAdapter):
    """An :class:`~requests.adapters.HTTPAdapter` that gives every request its
    ``(connect, read)`` timeout unless the call sets one (requests itself waits forever)."""

    def __init__(self, timeout: tuple[float, float], max_retries: Retry) -> None:
        self.timeout = timeout
        super().__init__(max_retries=max_retries)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send ``request`` with this adapter's timeout when it has none."""
        return super().send(
            request,
            stream=stream,
            timeout=self.timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def http_timeout() -> tuple[float, float]:
    """``(connect, read)`` seconds for a call to a platform's API."""
    read = (
        float(current_app.config["TRUSTSEAL_PLATFORM_HTTP_TIMEOUT"])
        if has_app_context()
        else DEFAULT_TIMEOUT
    )
    return min(CONNECT_TIMEOUT, read), read


def http_session() -> requests.Session:
    """A :class:`requests.Session` for a platform's API; use it as a context manager.

    Every request has a ``(connect, read)`` timeout (:func:`http_timeout`) and trustseal's
    User-Agent, and is retried up to :data:`RETRIES` times after a connection error or an
    answer in :data:`RETRY_STATUSES` when its method is idempotent (GET, HEAD, PUT,
    DELETE, OPTIONS, TRACE), with exponential backoff or after the ``Retry-After`` the
    platform asks for (at most :data:`MAX_RETRY_AFTER_SECONDS`). An answer that stops
    half-way (a read timeout) is not retried here. Read with :func:`get_json`.
    """
    retry = _Retry(
        total=RETRIES,
        connect=RETRIES,
        read=False,
        status=RETRIES,
        other=0,
        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=BACKOFF_SECONDS,
        retry_after_max=MAX_RETRY_AFTER_SECONDS,
        raise_on_status=False,  # the last answer is returned: get_json names its status
    )
    adapter = _TimeoutAdapter(http_timeout(), retry)
    session = requests.Session()
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def get_json(
    session: requests.Session, url: str, headers: Mapping[str, str] | None = None
) -> tuple[Any, Mapping[str, str]]:
    """GET a JSON document through ``session`` (:func:`http_session`): the decoded body and
    the answer's headers (names case-insensitive).

    Redirects are not followed: the request carries the store's credentials, which must
    not travel to another host. Raises :class:`PlatformError` when the platform does not
    answer in time or cannot be reached, answers other than 2xx (after the session's
    retries), or sends a body that is not JSON.
    """
    try:
        response = session.get(url, headers=headers, allow_redirects=False)
    except requests.Timeout as error:
        raise PlatformError(f"{url} did not answer in time ({error})") from error
    except requests.RequestException as error:
        raise PlatformError(f"{url} cannot be reached ({error})") from error
    with response:
        if not 200 <= response.status_code < 300:
            location = response.headers.get("Location")
            moved = f" (a redirect to {location}, not followed)" if location else ""
            raise PlatformError(f"{url} answered {response.status_code}{moved}")
        try:
            return response.json(), response.headers
        except ValueError as error:
            raise PlatformError(f"{url} did not answer JSON") from error
