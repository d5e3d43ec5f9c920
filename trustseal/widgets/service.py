"""The widgets domain's door: a product's stars (SVG), its reviews as a page for an iframe,
and its schema.org ``Product`` JSON-LD, rendered once and cached like the badge.

What an answer depends on is read in one autocommit statement per shop and remembered for
``TRUSTSEAL_BADGE_FINGERPRINT_SECONDS`` (1 s): the merchant's ``public_version`` (bumped in
the same transaction as every review, answer and moderation, so a product's numbers
change with it) and its verified domain (the one site that may frame the reviews page).
Rendered answers are remembered under that version for :data:`RENDER_SECONDS` at most
(product titles and images come from orders, which do not bump it), so the hot path
usually touches neither the database nor a renderer; answers about products nobody rated
are remembered apart, so made-up ids cannot push the rated ones out.

Only a shop anyone may see has widgets (an unknown one, and one that has not proved its
domain, are 404 alike), and only verified-purchase reviews are shown: the reviews domain's
product summaries count published reviews of purchases and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from flask import current_app, render_template
from flask_babel import gettext, ngettext
from markupsafe import Markup

from badges import product as product_stars
from badges import svg
from badges import text as badge_text
from badges.verify import normalize_host
from trustseal import i18n, jsonld, languages
from trustseal.caching import body_etag, strong_etag
from trustseal.clock import rfc3339
from trustseal.dbutil import first_row_autocommit
from trustseal.imports import service as imports
from trustseal.memo import TtlMemo
from trustseal.merchants import service as merchants
from trustseal.reviews import products

LANGS = languages.CODES
THEMES = product_stars.THEMES  # the picture: for light pages or dark ones
PAGE_THEMES = ("auto", *THEMES)  # the page may also follow the visitor's preference
PRODUCT_ID_MAX = products.PRODUCT_ID_MAX  # a platform's product id, as orders take it
PAGE_LIMIT, PAGE_LIMIT_MAX = 5, 20  # reviews per page of the framed list
IMPORTED_SHOWN = 5  # the shop's earlier (imported) reviews of the product on the first page
JSONLD_REVIEWS = 5  # the latest reviews the JSON-LD carries besides the aggregate
AUTHOR_MAX = 99  # Google reads a review's author name under 100 characters
DASHBOARD_PRODUCTS = 50  # the products whose snippets the dashboard lists, most reviewed first
RENDER_SECONDS = 300.0  # a rendered answer of one version, at most (= the caches' max-age)
CACHE_SIZE = 4096
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")


@dataclass(frozen=True)
class Shop:
    """What every widget of a public shop depends on."""

    merchant_id: int
    version: int
    domain: str


@dataclass(frozen=True)
class Answer:
    """A widget ready to serve: its bytes, its strong ETag and its status; for the page,
    the ``frame-ancestors`` sources of its Content-Security-Policy."""

    body: bytes
    etag: str
    status: int = 200
    frame_ancestors: str = "'none'"
    known: bool = True  # a public shop's rated product (else kept apart: see _remembered)


class BadCursor(ValueError):
    """A ``cursor`` that no page of this list gave."""


_shops: TtlMemo[Shop | None] = TtlMemo(CACHE_SIZE)
_answers: TtlMemo[Answer] = TtlMemo(CACHE_SIZE)
_unrated: TtlMemo[Answer] = TtlMemo(CACHE_SIZE)
_IDENTITY = merchants.identity_query()


def shop(slug: str) -> Shop | None:
    """The public shop of ``slug`` (None if unknown or not public), read at most once a
    second per process."""
    return _shops.get_or_load(
        (id(current_app), slug),
        float(current_app.config["TRUSTSEAL_BADGE_FINGERPRINT_SECONDS"]),
        lambda: _read_shop(slug),
    )


def _read_shop(slug: str) -> Shop | None:
    row = first_row_autocommit(_IDENTITY, {"slug": slug})
    return Shop(row[0], row[1], row[2]) if row is not None else None


def frame_ancestors(domain: str) -> str:
    """The sites that may frame a shop's reviews page: its verified domain and its
    subdomains, over HTTPS. Proving the domain (DNS or a file on it) proves control of the
    name, and shops commonly serve from ``www.`` or a ``tienda.`` subdomain; nothing over
    plain HTTP, where any network on the way could rewrite the page around the reviews.
    Written in ASCII (IDNA); a name that is not a host name frames nowhere (``'none'``),
    so no stored text can add a source or a directive to the policy."""
    host = normalize_host(domain)
    if not _HOST_NAME.fullmatch(host):
        return "'none'"
    return f"https://{host} https://*.{host}"


def _remembered(key: tuple[Any, ...], render: Callable[[], Answer]) -> Answer:
    """The answer of ``key`` rendered once per :data:`RENDER_SECONDS`. Answers about
    products nobody rated (most of a shop's pages, and any id anyone makes up) are kept
    apart: however many there are, they never push out the others."""
    full = (id(current_app), *key)

    def load() -> Answer:
        return _unrated.get_or_load(full, RENDER_SECONDS, render, keep=lambda a: not a.known)

    return _answers.get_or_load(full, RENDER_SECONDS, load, keep=lambda a: a.known)


def clear_cache() -> None:
    """Forget every shop read and widget rendered by this process."""
    _shops.clear()
    _answers.clear()
    _unrated.clear()


# --- the stars ------------------------------------------------------------------------


def rating_words(summary: products.ProductSummary | None, lang: str) -> tuple[str | None, str]:
    """The rating as written in ``lang`` (``4,6``; None without reviews) and the words
    after it (``23 opiniones verificadas`` / ``Sin opiniones aún``), in the current
    language."""
    if summary is None or not summary.count or summary.rating is None:
        return None, gettext("No reviews yet")
    count = badge_text.number(summary.count, lang)
    words = ngettext("%(num)s verified review", "%(num)s verified reviews", summary.count)
    return badge_text.number(summary.rating, lang, 1), words % {"num": count}


def stars_label(summary: products.ProductSummary | None, lang: str) -> str:
    """The picture's accessible name: "Café: 4,6 de 5 estrellas, 23 opiniones
    verificadas", in the current language."""
    score, count = rating_words(summary, lang)
    said = count if score is None else f"{gettext('%(n)s out of 5 stars', n=score)}, {count}"
    return f"{summary.title}: {said}" if summary is not None and summary.title else said


def stars_svg(slug: str, product_id: str, lang: str, theme: str) -> Answer:
    """A product's stars and count as SVG (status 404, saying so, for a shop that is not
    public; "no reviews yet" for a product without any)."""
    found = shop(slug)
    return _remembered(
        ("svg", slug, product_id, lang, theme, found),
        lambda: _render_svg(found, product_id, lang, theme),
    )


def _render_svg(found: Shop | None, product_id: str, lang: str, theme: str) -> Answer:
    with i18n.in_language(lang):
        if found is None:
            unavailable = gettext("Reviews unavailable")
            view = product_stars.ProductStars(None, None, unavailable, unavailable, theme)
            summary = None
        else:
            summary = products.summary(found.merchant_id, product_id)
            score, count = rating_words(summary, lang)
            rating = summary.rating if summary is not None else None
            view = product_stars.ProductStars(
                rating, score, count, stars_label(summary, lang), theme
            )
    uid = strong_etag("stars", product_id, lang, theme)[1:11]  # ids unique if inlined
    body = svg.render(product_stars.stars_layout(view), uid)
    return Answer(
        body,
        body_etag(body),
        200 if found is not None else 404,
        known=summary is not None,
    )


# --- the reviews page -----------------------------------------------------------------


@dataclass(frozen=True)
class PageOptions:
    """What the framed page was asked for."""

    product_id: str
    lang: str
    theme: str
    limit: int
    cursor: str | None


def reviews_page(slug: str, options: PageOptions) -> Answer | None:
    """The HTML page of a product's reviews for an iframe on the shop's own site (None for
    a shop that is not public). Raises :class:`BadCursor` for a cursor no page gave."""
    found = shop(slug)
    if found is None:
        return None
    return _remembered(("page", slug, options, found), lambda: _render_page(slug, found, options))


def _page_url(slug: str, options: PageOptions, cursor: str) -> str:
    """The address of the next page, in the same frame, with the same options."""
    query = {"product_id": options.product_id, "lang": options.lang, "theme": options.theme}
    if options.limit != PAGE_LIMIT:
        query["limit"] = str(options.limit)
    return f"/widgets/{slug}/reviews?{urlencode({**query, 'cursor': cursor})}"


def _render_page(slug: str, found: Shop, options: PageOptions) -> Answer:
    merchant = merchants.get(found.merchant_id)
    summary = products.summary(found.merchant_id, options.product_id)
    try:
        items, next_cursor = products.reviews_page(
            found.merchant_id, options.product_id, options.limit, options.cursor
        )
    except ValueError as error:
        raise BadCursor(str(error)) from error
    # The shop's earlier reviews of the product, apart and labelled, on the first page only:
    # they never count in the stars.
    imported = (
        []
        if options.cursor
        else imports.imported_reviews(found.merchant_id, options.product_id, IMPORTED_SHOWN)
    )
    base = current_app.config["TRUSTSEAL_BASE_URL"]
    svg_query = {"lang": options.lang}
    with i18n.in_language(options.lang):
        score, count = rating_words(summary, options.lang)
        html = render_template(
            "widgets/reviews.html",
            shop_name=merchant.name if merchant is not None else slug,
            summary=summary,
            score=score,
            count=count,
            label=stars_label(summary, options.lang),
            items=items,
            imported=imported,
            theme=options.theme,
            stars_src={
                theme: f"/widgets/{slug}/product/{quote(options.product_id, safe='')}.svg?"
                + urlencode({**svg_query, "theme": theme})
                for theme in THEMES
            },
            next_url=_page_url(slug, options, next_cursor) if next_cursor else None,
            profile_url=f"{base}/m/{slug}",
            rfc3339=rfc3339,
        )
    body = html.encode("utf-8")
    ancestors = frame_ancestors(found.domain)
    return Answer(body, body_etag(body, ancestors), 200, ancestors, known=summary is not None)


# --- the JSON-LD ----------------------------------------------------------------------


def product_jsonld(
    summary: products.ProductSummary, reviews: list[products.ProductReviewItem]
) -> dict[str, Any]:
    """schema.org ``Product`` with its ``AggregateRating`` and its latest ``Review``s, as
    Google reads review snippets: a rating on the 1-5 scale with its bounds, the number of
    reviews, each review's author (a person's name under 100 characters), date, rating and
    words. Only what the product's own verified-purchase reviews say."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": summary.title,
        "productID": summary.product_id,
    }
    if summary.image_url:
        data["image"] = summary.image_url
    if summary.url:
        data["url"] = summary.url
    if summary.sku:
        data["sku"] = summary.sku
    data["aggregateRating"] = {
        "@type": "AggregateRating",
        "ratingValue": summary.rating,
        "bestRating": 5,
        "worstRating": 1,
        "ratingCount": summary.count,
        "reviewCount": summary.count,
    }
    data["review"] = [_review_jsonld(r) for r in reviews]
    return data


def _review_jsonld(item: products.ProductReviewItem) -> dict[str, Any]:
    review: dict[str, Any] = {
        "@type": "Review",
        "author": {"@type": "Person", "name": badge_text.clean(item.display_name)[:AUTHOR_MAX]},
        "datePublished": rfc3339(item.created_at),
        "reviewRating": {
            "@type": "Rating",
            "ratingValue": item.rating,
            "bestRating": 5,
            "worstRating": 1,
        },
    }
    words = item.comment or item.review_body
    if item.comment is None and item.review_title:
        review["name"] = item.review_title
    if words:
        review["reviewBody"] = words
    return review


def product_jsonld_answer(slug: str, product_id: str) -> Answer | None:
    """A product's JSON-LD, safe to paste inside ``<script type="application/ld+json">``
    (None when the shop is not public or the product has no published review: there is
    no rating to state)."""
    found = shop(slug)
    if found is None:
        return None
    answer = _remembered(
        ("jsonld", slug, product_id, found), lambda: _render_jsonld(found, product_id)
    )
    return answer if answer.status == 200 else None


def _render_jsonld(found: Shop, product_id: str) -> Answer:
    summary = products.summary(found.merchant_id, product_id)
    if summary is None or not summary.count:
        return Answer(b"", "", 404, known=summary is not None)
    items, _ = products.reviews_page(found.merchant_id, product_id, JSONLD_REVIEWS, None)
    body = jsonld.script_safe(product_jsonld(summary, items)).encode("utf-8")
    return Answer(body, body_etag(body))


# --- what the merchant pastes ---------------------------------------------------------


@dataclass(frozen=True)
class Snippets:
    """A product's numbers and what to paste on its page, for the dashboard."""

    summary: products.ProductSummary
    stars: str
    iframe: str
    jsonld: str | None  # None before the product's first review
    jsonld_url: str


def snippets(
    merchant_id: int, slug: str, lang: str, limit: int = DASHBOARD_PRODUCTS
) -> list[Snippets]:
    """The merchant's products (most reviewed first, at most ``limit``) with the stars
    image, the reviews frame and the JSON-LD as it is now, each in ``lang``."""
    base = current_app.config["TRUSTSEAL_BASE_URL"]
    listed = sorted(products.summaries(merchant_id), key=lambda s: (-s.count, s.title))
    found = []
    with i18n.in_language(lang):
        for summary in listed[:limit]:
            segment = quote(summary.product_id, safe="")
            query = urlencode({"product_id": summary.product_id, "lang": lang})
            stars = Markup('<img src="{src}" alt="{alt}" height="20" loading="lazy">').format(
                src=f"{base}/widgets/{slug}/product/{segment}.svg?lang={lang}",
                alt=stars_label(summary, lang),
            )
            frame = Markup(
                '<iframe src="{src}" title="{title}" width="100%" height="480" '
                'loading="lazy"></iframe>'
            ).format(
                src=f"{base}/widgets/{slug}/reviews?{query}",
                title=gettext("Verified reviews of %(product)s", product=summary.title),
            )
            data = None
            if summary.count:
                items, _ = products.reviews_page(
                    merchant_id, summary.product_id, JSONLD_REVIEWS, None
                )
                data = Markup('<script type="application/ld+json">\n{}\n</script>').format(
                    jsonld.script_safe(product_jsonld(summary, items), indent=2)
                )
            found.append(
                Snippets(
                    summary,
                    str(stars),
                    str(frame),
                    str(data) if data is not None else None,
                    f"{base}/widgets/{slug}/products/{segment}/jsonld",
                )
            )
    return found
