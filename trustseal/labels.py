"""The words a page shows for the codes the data stores (statuses, reasons, settings), in
the request's language, from one table: templates call ``label(group, code)``."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask
from flask_babel import lazy_gettext as _l

LABELS: Mapping[str, Mapping[str, object]] = {
    "order_status": {
        "placed": _l("placed"),
        "paid": _l("paid"),
        "fulfilled": _l("shipped"),
        "delivered": _l("delivered"),
        "cancelled": _l("cancelled"),
        "refunded": _l("refunded"),
    },
    "invitation_status": {
        "open": _l("open"),
        "pending": _l("not sent yet"),
        "sent": _l("sent"),
        "used": _l("reviewed"),
        "cancelled": _l("cancelled"),
        "expired": _l("expired"),
    },
    "sector": {
        "fashion": _l("Fashion and accessories"),
        "electronics": _l("Electronics and technology"),
        "home": _l("Home and furniture"),
        "food": _l("Food and drink"),
        "beauty": _l("Beauty and personal care"),
        "health": _l("Health and pharmacy"),
        "sports": _l("Sports and outdoors"),
        "toys": _l("Toys and babies"),
        "books": _l("Books and stationery"),
        "services": _l("Services"),
        "other": _l("Other"),
    },
    "badge_style": {"compact": _l("Compact"), "seal": _l("Round seal"), "card": _l("Card")},
    "language": {"es": _l("Spanish"), "en": _l("English"), "pt": _l("Portuguese (Brazil)")},
    "store_status": {"active": _l("active"), "disabled": _l("disabled")},
    "order_source": {"api": _l("your API")},
    "review_reason": {
        "not_genuine": _l("not a genuine review"),
        "personal_data": _l("it contained personal data"),
        "offensive": _l("offensive content"),
        "spam": _l("spam"),
        "other": _l("other"),
    },
    "store_setting": {
        "shop_domain": _l("Shop domain (…myshopify.com)"),
        "access_token": _l("Admin API access token"),
        "client_secret": _l("App client secret (signs the webhooks)"),
        "base_url": _l("Store address (https://…)"),
        "consumer_key": _l("REST API consumer key"),
        "consumer_secret": _l("REST API consumer secret"),
        "completed_means": _l("An order marked “completed” means"),
        "delivered_status": _l("The order status that means delivered"),
        "account": _l("VTEX account name (…myvtex.com)"),
        "app_key": _l("App key (X-VTEX-API-AppKey)"),
        "app_token": _l("App token (X-VTEX-API-AppToken)"),
    },
}


def label(group: str, code: str | None) -> str:
    """The words for ``code`` in ``group`` (the code itself when the table lacks it: a
    store-prefixed source such as ``store:3`` stays as it is)."""
    if code is None:
        return "—"
    found = LABELS.get(group, {}).get(code)
    return str(found) if found is not None else code


def init_app(app: Flask) -> None:
    """Offer :func:`label` to every template."""
    app.jinja_env.globals["label"] = label
