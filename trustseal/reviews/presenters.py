"""How a review is shown: the API shape and the schema.org JSON-LD (one place each)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from markupsafe import Markup

from trustseal import jsonld
from trustseal.clock import rfc3339
from trustseal.orders.service import DECLARED_ORIGINS
from trustseal.platforms import title_of
from trustseal.reviews import products, service
from trustseal.reviews.score import NEGATIVE_MAX
from trustseal.transparency import service as log

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant
    from trustseal.reviews.models import Review


def awaiting_response(review: Review) -> bool:
    """A published negative review the merchant has not answered yet."""
    return review.status == "published" and review.rating <= NEGATIVE_MAX and not review.response


def review_json(review: Review, salts: Mapping[int, bytes] | None = None) -> dict[str, Any]:
    """The public shape of a review; a removed one is a tombstone without text.

    ``log_index`` is its ``review.published`` leaf; ``text_log_index`` the leaf that
    commits to the title and body shown (that one, or the latest ``review.redacted`` leaf
    once staff hid part of the text), and ``salt`` (hex) the salt of its text commitments,
    so anyone can check the text against the log — null once the text is erased or the
    review removed. ``salts``: looked up already (a page's, in one query); otherwise this
    review's is.
    """
    removed = review.status == "removed"
    response = review.response
    text_index = service.text_leaf_index(review)
    if salts is None:
        salts = log.salts(_leaf_indexes(review))
    index = None if removed or review.erased_at is not None else text_index
    salt = None if index is None else salts.get(index)
    return {
        "id": review.id,
        "rating": None if removed else review.rating,
        "process_rating": None if removed else review.process_rating,
        "on_time": None if removed else review.on_time,
        "dimensions": None if removed else _dimensions(review),
        "recommend": None if removed else review.recommend,
        "title": None if removed else review.title,
        "body": None if removed else review.body,
        "display_name": None if removed else review.display_name,
        "verified_purchase": True,
        "created_at": review.created_at,
        "photos": [] if removed else [service.photo_json(p) for p in review.photos],
        "response": None
        if removed or response is None
        else {
            "body": response.body,
            "created_at": response.created_at,
            "updated_at": response.updated_at,
        },
        "update": None if removed else update_json(review, salts),
        "awaiting_response": awaiting_response(review),
        "status": review.status,
        "erased": review.erased_at is not None,
        "removal_reason": review.removal_reason,
        "removed_at": review.removed_at,
        "verification": verification_of(review),
        "log_index": review.log_index,
        "text_log_index": text_index,
        "redaction_reason": None if removed else review.redaction_reason,
        "salt": salt.hex() if salt is not None else None,
        "helpful_count": review.helpful_count,
    }


def update_json(review: Review, salts: Mapping[int, bytes]) -> dict[str, Any] | None:
    """The reviewer's update through the resolution loop, shown beside the original: its
    rating (null: only said whether it was resolved), text, ``resolved``, time, and its
    ``review.updated`` leaf with the salt of the text's commitment; null when none."""
    if review.updated_at is None:
        return None
    index = review.update_log_index
    salt = salts.get(index) if index is not None and review.update_body else None
    return {
        "rating": review.update_rating,
        "body": review.update_body,
        "resolved": review.consumer_resolved,
        "created_at": review.updated_at,
        "log_index": index,
        "salt": salt.hex() if salt is not None else None,
    }


def _leaf_indexes(review: Review) -> list[int | None]:
    """The leaves whose salts a review's public shape shows."""
    return [service.text_leaf_index(review), review.update_log_index]


def _dimensions(review: Review) -> dict[str, int] | None:
    """The sub-ratings given (null when none was)."""
    given = {k: v for k, v in service.dimensions_of(review).items() if v is not None}
    return given or None


def reviews_json(reviews: Sequence[Review]) -> list[dict[str, Any]]:
    """The public shapes of a page of reviews, their salts read in one query."""
    salts = log.salts(index for r in reviews for index in _leaf_indexes(r))
    return [review_json(r, salts) for r in reviews]


def verification_of(review: Review) -> dict[str, str]:
    """Who vouches for the purchase behind a review: ``{level, source}``."""
    return {"level": review.verification_level, "source": review.verification_source}


def verification_text(review: Review) -> str:
    """The verification in words, in the current language (Spanish first): "Compra
    verificada por Shopify" (attested), "Compra informada por la tienda (vía Shopify)"
    (declared through a platform's webhook the shop configures) or "Compra informada por
    la tienda" (declared through our API, the dashboard or an import)."""
    source = review.verification_source
    if review.verification_level == "platform":
        return _("Purchase verified by %(platform)s", platform=title_of(source))
    if source in DECLARED_ORIGINS:
        return _("Purchase reported by the shop")
    return _("Purchase reported by the shop (via %(platform)s)", platform=title_of(source))


def json_ld(merchant: Merchant, summary: dict[str, Any], reviews: list[Review], url: str) -> Markup:
    """schema.org ``Organization`` with ``aggregateRating`` and ``review``, safe to inline.

    ``<``, ``>`` and ``&`` are escaped as JSON unicode escapes, so no text can close the
    ``<script>`` element it lives in.
    """
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Organization",
        "name": merchant.name,
        "url": f"https://{merchant.domain}",
        "sameAs": url,
    }
    if merchant.legal_name:
        data["legalName"] = merchant.legal_name
    if summary["rating_count"]:
        data["aggregateRating"] = {
            "@type": "AggregateRating",
            "ratingValue": summary["score"] if summary["score"] is not None else summary["average"],
            "bestRating": 5,
            "worstRating": 1,
            "ratingCount": summary["rating_count"],
        }
    data["review"] = [
        {
            "@type": "Review",
            "author": {"@type": "Person", "name": r.display_name},
            "datePublished": rfc3339(r.created_at),
            "reviewRating": {
                "@type": "Rating",
                "ratingValue": r.rating,
                "bestRating": 5,
                "worstRating": 1,
            },
            "name": r.title or "",
            "reviewBody": r.body or "",
            "disambiguatingDescription": verification_text(r),
        }
        for r in reviews
        if r.status == "published"
    ]
    return jsonld.script_safe(data)


def history_bars(
    history: list[dict[str, Any]],
    width: int = 320,
    height: int = 120,
    top: int = 6,
    bottom: int = 14,
) -> dict[str, Any]:
    """Geometry and labels of the 12-month history chart (bars = count, dots = average
    rating), ``top`` and ``bottom`` pixels kept for the labels above and below the bars.

    Each bar also carries its month in the current language — ``month_label`` ("ene",
    "Jan"), ``year_label`` ("2026") and ``month_name`` ("ene 2026", "Jan 2026"), from
    Babel's calendar data — the position of its count above it (``count_y``), and its
    average formatted for the language (``average_text``: "4,5" / "4.5"; None without
    reviews). ``label`` stays the month's number ("01").
    """
    top_count = max([m["count"] for m in history] + [1])
    step = width / len(history)
    area = height - top - bottom
    base = height - bottom
    bars = []
    for n, month in enumerate(history):
        bar_height = round(area * month["count"] / top_count, 1)
        average = month["average"]
        first = date(int(month["month"][:4]), int(month["month"][5:7]), 1)
        x = round(n * step + 2, 1)
        w = round(step - 4, 1)
        bars.append(
            {
                "x": x,
                "y": round(base - bar_height, 1),
                "w": w,
                "h": bar_height,
                "cx": round(x + w / 2, 1),
                "count_y": round(base - bar_height - 3, 1),
                "label": month["month"][5:],
                "month_label": format_date(first, "LLL"),
                "year_label": format_date(first, "y"),
                "month_name": format_date(first, "MMM y"),
                "month": month["month"],
                "count": month["count"],
                "average": average,
                "average_text": None if average is None else format_decimal(average, "0.0"),
                "dot_y": None if average is None else round(base - area * average / 5, 1),
            }
        )
    return {"width": width, "height": height, "base": base, "bars": bars}


def page_numbers(page: int, pages: int, around: int = 2) -> list[int | None]:
    """The page numbers a pager shows: the first, the last, and ``around`` on each side
    of ``page``; None where numbers are left out (``1 … 4 5 [6] 7 8 … 20``)."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    numbers: list[int | None] = []
    for number in shown:
        if numbers and number - (numbers[-1] or 0) > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers


def masked_words(kinds: Sequence[str]) -> list[str]:
    """The kinds of personal data hidden in a review, in words of the current language."""
    words = {
        "email": _("an email address"),
        "phone": _("a phone number"),
        "dni": _("a DNI number"),
    }
    return [words[kind] for kind in kinds if kind in words]


def product_summary_json(summary: products.ProductSummary) -> dict[str, Any]:
    """The public shape of a product's numbers (distribution keys as strings)."""
    return {
        "product_id": summary.product_id,
        "title": summary.title,
        "image_url": summary.image_url,
        "url": summary.url,
        "rating": summary.rating,
        "count": summary.count,
        "distribution": {str(stars): n for stars, n in summary.distribution.items()},
    }
