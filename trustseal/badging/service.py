"""The badging domain's door: the badge of a merchant as SVG, PNG or bare assertion.

The hot path costs one database round trip: a fingerprint of what the badge shows — the
merchant's ``public_version`` (bumped in the same transaction by every domain that changes
it: reviews, answers, moderation, seal decisions and verdicts, erasure), the current key,
the day. Rendered and signed bytes are cached in the process under that fingerprint, so a
change is seen at once by every process, and an unchanged badge is served without
rendering or signing.

Nothing is signed that the log does not say: before a badge is rendered, the numbers of
the running sums, the seal and the criteria are compared with the log's replay of the
merchant (:func:`checked_numbers`); a difference refuses the badge (503) and alerts staff.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext
from markupsafe import Markup

from badges import assertion, png, svg
from badges import layout as layouts
from badges import text as badge_text
from badges.verify import host_within, normalize_host
from trustseal import i18n
from trustseal.caching import strong_etag
from trustseal.clock import rfc3339, utcnow
from trustseal.dbutil import first_row_autocommit
from trustseal.errors import DomainError
from trustseal.extensions import db
from trustseal.mail import service as mail
from trustseal.memo import TtlMemo
from trustseal.merchants import service as merchants
from trustseal.reviews import score as scores
from trustseal.reviews import service as reviews
from trustseal.seals import service as seals
from trustseal.signing import service as signing
from trustseal.staff import service as staff
from trustseal.transparency import numbers, witnessing
from trustseal.transparency import service as log
from trustseal.transparency.verify import NumbersSource

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant

STYLES = layouts.STYLES
LANGS = layouts.LANGS
FORMATS = ("svg", "png")
REFRESH = 3600.0  # re-sign a cached badge after an hour so iat/exp/log stay fresh
CACHE_SIZE = 2048


@dataclass(frozen=True)
class Rendered:
    """A badge ready to serve."""

    body: bytes
    etag: str
    assertion: str
    status_code: int
    made: float


_cache: OrderedDict[tuple[Any, ...], Rendered] = OrderedDict()
_lock = threading.Lock()


def labels(lang: str) -> dict[str, str]:
    """The badge's words in ``lang`` (through the app's one translation mechanism)."""
    with i18n.in_language(lang):
        return {
            "seal_short": gettext("Trust Seal"),
            "seal_full": gettext("Online Trust Seal"),
            "review_one": gettext("review"),
            "review_many": gettext("reviews"),
            "status_active": gettext("VALID"),
            "status_none": gettext("NOT CERTIFIED"),
            "status_unknown": gettext("NOT CERTIFIED"),
            "status_pending": gettext("UNDER REVIEW"),
            "status_suspended": gettext("SUSPENDED"),
            "status_revoked": gettext("REVOKED"),
            "status_expired": gettext("EXPIRED"),
            "explain_none": gettext("This shop does not hold the Online Trust Seal."),
            "explain_unknown": gettext("This shop does not hold the Online Trust Seal."),
            "explain_pending": gettext(
                "The certifier is reviewing this shop; it is not certified yet."
            ),
            "explain_suspended": gettext("The certifier suspended this shop's seal."),
            "explain_revoked": gettext("The certifier revoked this shop's seal."),
            "explain_expired": gettext("This shop's seal has expired."),
            "answers": gettext("Answers {rate}% of negative reviews"),
            "kpi_on_time": gettext("{rate}% delivered on time"),
            "kpi_resolved": gettext("{rate}% resolved, customers say"),
            "kpi_first_response": gettext("{rate}% answered within 24 h"),
            "kpi_csat": gettext("{rate}% rate it 4 or 5 stars"),
            "last_12": gettext("Last 12 months"),
            "no_score": gettext("No score yet"),
            "verify_at": gettext("Verify at trustseal"),
            "unknown_shop": gettext("Unknown shop"),
        }


_FINGERPRINT = merchants.version_query().add_columns(
    signing.current_kid_column().label("kid"),
    witnessing.witnessed_size_column().label("witnessed"),
)


_fingerprints: TtlMemo[tuple[Any, ...] | None] = TtlMemo(CACHE_SIZE)


def fingerprint(slug: str) -> tuple[Any, ...] | None:
    """Everything the badge shows, in one autocommit read (no BEGIN/ROLLBACK round trips),
    remembered for ``TRUSTSEAL_BADGE_FINGERPRINT_SECONDS`` (default 1 s) per process: the
    hot path then touches no database at all, and a change shows within that second."""
    return _fingerprints.get_or_load(
        (id(current_app), slug),
        float(current_app.config["TRUSTSEAL_BADGE_FINGERPRINT_SECONDS"]),
        lambda: _read_fingerprint(slug),
    )


def _read_fingerprint(slug: str) -> tuple[Any, ...] | None:
    row = first_row_autocommit(_FINGERPRINT, {"slug": slug})
    if row is None:
        return None
    return (*row, utcnow().date().isoformat())


CHECK_READS = 3  # how many times both sides are read before a difference is believed


class NumbersDisagree(DomainError):
    """A merchant's stored numbers differ from the log's replay: nothing is signed or
    served until they agree again (503)."""

    headers = {"Retry-After": "3600"}

    def __init__(self, slug: str, problem: str) -> None:
        super().__init__(
            503,
            f"The numbers of {slug} do not match the transparency log, so they are not "
            "signed or served until they do; the certifier's staff have been alerted.",
        )
        self.slug = slug
        self.problem = problem


def checked_numbers(
    merchant: Merchant, now: datetime, stored: dict[str, Any] | None = None
) -> tuple[dict[str, Any], numbers.MerchantState]:
    """The merchant's public numbers at ``now`` as the log's replay gives them, after
    checking that the running sums (``stored``: the score answer, if the caller has it),
    the seal and the criteria verdicts in the database say the same.

    Raises :class:`NumbersDisagree` otherwise, after recording an alert (staff are
    emailed the first time a problem is seen). The two sides are read by separate
    statements, so a leaf committed between them differs for a moment: only a difference
    that stays when both are read again, :data:`CHECK_READS` times, is one."""
    slug = merchant.slug
    problem = ""
    for attempt in range(CHECK_READS):
        if attempt:
            db.session.rollback()  # read both sides afresh (a new snapshot on SQLite)
        state = log.replayed(slug)
        logged = state.numbers(now)
        difference = numbers.first_difference(
            numbers.kept_twice(logged), stored_numbers(merchant, now, None if attempt else stored)
        )
        if difference is None:
            return logged, state
        name, from_log, in_database = difference
        problem = (
            f"{name}: the log says {json.dumps(from_log)}, the database {json.dumps(in_database)}"
        )
    _alert(slug, problem)
    raise NumbersDisagree(slug, problem)


def stored_numbers(
    merchant: Merchant, now: datetime, score: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The numbers the database gives a merchant at ``now``, in the shape of the log's
    replay: the score answer of the running sums (``score``, if the caller has it), the
    seal, the passed criteria."""
    stored = dict(score or scores.score_of(merchant.id, now))
    seal = seals.summary(merchant, now)
    stored["seal"] = {"status": seal["status"], "valid_until": rfc3339(seal["valid_until"])}
    stored["criteria_passed"] = seals.passed_criteria(merchant)
    stored.pop("complaints", None)  # the book's numbers are not part of the replay (yet)
    for name in (*numbers.KPI_GROUPS, "kpi_min_sample"):  # kept only by the replay
        stored.pop(name, None)
    return stored


def numbers_source() -> NumbersSource:
    """Every merchant's stored numbers, for ``trustseal log verify``."""

    def numbers_of(slug: str, now: datetime) -> dict[str, Any]:
        merchant = merchants.get_by_slug(slug)
        if merchant is None:  # leaves for a merchant the database lost
            return {"rating_count": None, "seal": None}
        return stored_numbers(merchant, now)

    return NumbersSource(merchants.all_slugs, numbers_of)


def _alert(slug: str, problem: str) -> None:
    """Record the disagreement (committed now, whatever the request does next) and, the
    first time, email staff."""
    db.session.rollback()
    current_app.logger.error("numbers of %s disagree with the log: %s", slug, problem)
    if log.raise_alert(slug, problem):
        message = mail.render("numbers_alert", "es", slug=slug, problem=problem)
        for email in staff.notification_emails():
            mail.queue(email, message, "es")
    db.session.commit()


_etag = strong_etag


# The card's indicators in order of what a hesitant shopper asks first: will it arrive,
# will they fix it, will they answer, are others happy. Only measured ones are shown.
CARD_KPIS = (
    ("kpi_on_time", "delivery", "on_time_rate"),
    ("kpi_resolved", "resolution", "rate"),
    ("kpi_first_response", "first_response", "within_24h_rate"),
    ("kpi_csat", "satisfaction", "csat"),
)
CARD_KPI_COUNT = 2


def card_kpis(kpis: dict[str, Any] | None, words: dict[str, str], lang: str) -> tuple[str, ...]:
    """At most :data:`CARD_KPI_COUNT` signed indicators for the card, worded: the first
    measured ones (not null: past the minimum sample) in :data:`CARD_KPIS` order."""
    lines = []
    for label, group, name in CARD_KPIS:
        value = ((kpis or {}).get(group) or {}).get(name)
        if value is not None:
            lines.append(
                words[label].replace("{rate}", badge_text.number(round(value * 100), lang))
            )
    return tuple(lines[:CARD_KPI_COUNT])


def view(
    merchant: Merchant | None, lang: str, summary: dict[str, Any] | None = None
) -> layouts.BadgeView:
    """Everything the badge shows, read through the other domains' doors (``summary``:
    the merchant's score, if the caller has it already)."""
    words = labels(lang)
    base = current_app.config["TRUSTSEAL_BASE_URL"]
    if merchant is None:
        return layouts.BadgeView(
            "unknown",
            words["unknown_shop"],
            "",
            words,
            lang,
            verify_url=f"{base}/verify",
        )
    summary = summary or scores.score_of(merchant.id, utcnow())
    status = summary["seal"]["status"] if "seal" in summary else seals.summary(merchant)["status"]
    testimonials = tuple(
        layouts.Testimonial(r.display_name, r.rating, r.body or r.title or "")
        for r in reviews.latest_published(merchant.id, 3)
    )
    return layouts.BadgeView(
        status=status,
        name=merchant.name,
        domain=merchant.domain,
        labels=words,
        lang=lang,
        score=summary["score"],
        rating_count=summary["rating_count"],
        history=tuple(m["count"] for m in summary["history"]),
        testimonials=testimonials,
        response_rate=summary["response_rate"],
        kpis=card_kpis(summary.get("kpis"), words, lang),
        verify_url=f"{base}/verify/{merchant.slug}",
    )


def assertion_claims(
    merchant: Merchant | None,
    badge: layouts.BadgeView,
    picture: bytes,
    slug: str,
    checked: tuple[dict[str, Any], numbers.MerchantState] | None = None,
    fmt: str = "svg",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The signed claims of API.md "Badges and verification" and "Numbers from the log".

    ``checked`` is what :func:`checked_numbers` gave at ``now`` (the assertion's ``iat``,
    whole seconds): its numbers are signed with the head of the log right after the last
    leaf they reflect. ``picture`` is the badge without its assertion, in ``fmt``: its hash
    is ``svg_sha256`` or ``png_sha256``."""
    now = (now or utcnow()).replace(microsecond=0)
    ttl = timedelta(days=current_app.config["TRUSTSEAL_BADGE_ASSERTION_DAYS"])
    logged, state = checked if checked else ({}, numbers.MerchantState())
    if state.last_index >= 0:
        head = log.head_of(state)
    else:  # no leaf moves this shop's numbers: any head includes every one they reflect
        latest = log.latest_head() or log.publish_head()
        head = {"tree_size": latest.tree_size, "root_hash": latest.root_hash.hex()}
    witnessed = witnessing.witnessed(head["tree_size"])
    if witnessed is not None:
        head = {**head, "witnessed": witnessed}
    seal = logged.get("seal") or {"status": "none", "valid_until": None}
    return {
        "iss": current_app.config["TRUSTSEAL_ISSUER"],
        "sub": slug,
        "domain": merchant.domain if merchant else None,
        "seal_status": badge.status if merchant else "none",
        "valid_until": seal["valid_until"],
        "score": badge.score,
        "rating_count": badge.rating_count,
        "provenance": logged.get("provenance") or {"platform": 0, "declared": 0},
        "formula_version": numbers.FORMULA_VERSION,
        "criteria": seals.criteria_claim(logged.get("criteria_passed", [])) if merchant else None,
        "history": list(badge.history),
        "kpis": logged.get("kpis") or numbers.kpis(numbers.ReviewSums(), numbers.KpiSums()),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "log": head,
        f"{fmt}_sha256": assertion.sha256_hex(picture),
    }


def _render(
    slug: str, style: str, lang: str, fmt: str, scale: int, fingerprint: tuple[Any, ...] | None
) -> Rendered:
    merchant = merchants.get_public(slug) if fingerprint else None
    now = utcnow().replace(microsecond=0)
    checked = checked_numbers(merchant, now) if merchant else None
    badge = view(merchant, lang, checked[0] if checked else None)
    shape = layouts.layout(badge, style)
    if fmt == "svg":
        uid = hashlib.sha256(repr((slug, style, lang, fingerprint)).encode()).hexdigest()[:10]
        plain = svg.render(shape, uid)
    else:
        plain = png.render(shape, scale)
    token, _ = signing.sign(assertion_claims(merchant, badge, plain, slug, checked, fmt, now))
    embed = assertion.embed_assertion if fmt == "svg" else assertion.embed_png_assertion
    body = embed(plain, token)
    etag = _etag(fingerprint, style, lang, fmt, scale)
    return Rendered(body, etag, token, 200 if merchant else 404, time.monotonic())


def badge(
    slug: str,
    style: str = "compact",
    lang: str = "es",
    fmt: str = "svg",
    scale: int = 1,
    known: tuple[Any, ...] | Literal[False] | None = False,
) -> Rendered:
    """The badge for a slug (a neutral "not certified" one, status 404, if unknown).

    ``known`` is the fingerprint when the caller read it already.
    """
    fp = fingerprint(slug) if known is False else known
    key = (current_app.name, id(current_app), slug, style, lang, fmt, scale)
    with _lock:
        hit = _cache.get(key)
    if (
        hit is not None
        and hit.etag == _etag(fp, style, lang, fmt, scale)
        and (time.monotonic() - hit.made < REFRESH)
    ):
        return hit
    rendered = _render(slug, style, lang, fmt, scale, fp)
    db.session.commit()  # a first signing key or head may have been created
    with _lock:
        _cache[key] = rendered
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return rendered


def etag_of(fp: tuple[Any, ...] | None, style: str, lang: str, fmt: str, scale: int) -> str:
    """The strong ETag of what a badge shows."""
    return _etag(fp, style, lang, fmt, scale)


def clear_cache() -> None:
    """Forget every rendered badge and fingerprint of this process."""
    with _lock:
        _cache.clear()
    _fingerprints.clear()


def _http_host(url: str | None) -> str | None:
    """The host name of an http(s) URL, lower case (None for anything else)."""
    try:
        parts = urlsplit(url or "")
        return parts.hostname if parts.scheme in ("http", "https") else None
    except ValueError:
        return None


def shown_elsewhere(referrer: str | None, domain: str, own_urls: Iterable[str]) -> str | None:
    """The host of the page a shopper came from (its ``Referer``) when it is neither the
    merchant's ``domain`` (nor a subdomain of it) nor the host of one of this service's
    ``own_urls``: the badge there is shown on another site. None without a readable http(s)
    Referer."""
    host = _http_host(referrer)
    if host is None or host_within(host, domain):
        return None
    own = {normalize_host(h) for h in map(_http_host, own_urls) if h}
    return None if normalize_host(host) in own else host


def embed_snippets(merchant: Merchant, lang: str = "es") -> dict[str, str]:
    """The HTML to paste, per style: a link to the live verification around the image."""
    base = current_app.config["TRUSTSEAL_BASE_URL"]
    # The card's height follows what it shows (a shop without a valid seal gets a shorter
    # one): its width alone is fixed, the browser keeps the proportions.
    sizes = {"compact": "", "seal": ' width="120" height="120"', "card": ' width="320"'}
    alt = f"{labels(lang)['seal_full']}: {merchant.name}"
    snippets = {}
    for style in STYLES:
        dims = Markup(sizes[style])
        snippets[style] = str(
            Markup(
                '<a href="{verify}" target="_blank" rel="noopener">'
                '<img src="{src}" alt="{alt}"{dims} loading="lazy"></a>'
            ).format(
                verify=f"{base}/verify/{merchant.slug}",
                src=f"{base}/badges/{merchant.slug}.svg?style={style}&lang={lang}",
                alt=alt,
                dims=dims,
            )
        )
    return snippets


def book_link_snippet(merchant: Merchant) -> str:
    """The HTML to paste for the Libro de Reclamaciones button (its image links to the
    shop's complaints book form, as the law asks of a shop that sells online)."""
    base = current_app.config["TRUSTSEAL_BASE_URL"]
    return str(
        Markup(
            '<a href="{form}" target="_blank" rel="noopener">'
            '<img src="{src}" alt="Libro de Reclamaciones" height="40" loading="lazy"></a>'
        ).format(
            form=f"{base}/m/{merchant.slug}/libro", src=f"{base}/badges/{merchant.slug}/libro.svg"
        )
    )
