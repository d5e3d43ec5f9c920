"""Continuous monitoring of active seals: the published rules that suspend a seal
automatically, their evaluation, and the warnings that come before.

Four rules, their thresholds from the configuration (``TRUSTSEAL_SEAL_RULE_*``) and
published as they are (``GET /api/v1/seal/rules``, ``/sello/reglas``):

- ``complaints_overdue``: reclamos and quejas unanswered past their legal deadline — at
  least ``count`` of them, or one more than ``days`` calendar days past it;
- ``site_check_failing``: the automatic site check failing HTTPS or (a shop in Peru) the
  complaints-book link on ``days`` consecutive days (Lima dates from its first failure
  after the last pass to the moment evaluated);
- ``score_below_floor``: the score below ``floor`` with at least ``min_reviews`` reviews;
- ``service_below_floor``: a signed service KPI, once measured, below its floor (delivered
  on time, first answered within 24 h, resolved as customers say).

:func:`monitor` evaluates them for every active seal as of a moment. A breach suspends
the seal (``automatic``, ``rule``; logged like a staff decision) with a reason naming the
rule and its figures, and emails the merchant and staff (admins and certifiers). Before a
rule trips, the merchant is warned by email, at most once per rule and day. Running it
again changes nothing: a suspended seal is no longer active, and a warning sent today is
remembered (:class:`~trustseal.seals.models.SealMonitorWarning`).

The rules read other domains only through their doors: the book's
:func:`~trustseal.book.service.overdue_summary`, the score's
:func:`~trustseal.reviews.score.score_of`, the log's
:func:`~trustseal.transparency.service.merchant_kpis`, the seal's site check results.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from trustseal.book import deadlines
from trustseal.book import service as book
from trustseal.clock import rfc3339, utcnow
from trustseal.dbutil import insert_ignoring_duplicate
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.mail import service as mail
from trustseal.merchants import service as merchants
from trustseal.reviews import score as scores
from trustseal.seals import service as seals
from trustseal.seals.models import SealMonitorWarning
from trustseal.staff import service as staff_service
from trustseal.transparency import service as transparency

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant

log = logging.getLogger("trustseal.seals.monitor")

COMPLAINTS_OVERDUE = "complaints_overdue"
SITE_CHECK_FAILING = "site_check_failing"
SCORE_BELOW_FLOOR = "score_below_floor"
SERVICE_BELOW_FLOOR = "service_below_floor"
RULE_IDS = (COMPLAINTS_OVERDUE, SITE_CHECK_FAILING, SCORE_BELOW_FLOOR, SERVICE_BELOW_FLOOR)
# The KPIs service_below_floor reads: threshold name → (KPI group, KPI, what it is)
SERVICE_FLOORS = {
    "on_time_floor": ("delivery", "on_time_rate", "entregas a tiempo", "delivered on time"),
    "first_response_floor": (
        "first_response",
        "within_24h_rate",
        "primeras respuestas en menos de 24 h",
        "first answers within 24 h",
    ),
    "resolution_floor": (
        "resolution",
        "rate",
        "casos resueltos según los clientes",
        "cases resolved as customers say",
    ),
}
NOTIFIED_ROLES = (staff_service.Role.ADMIN, staff_service.Role.CERTIFIER)
# How far back the site check rule reads results: a failure this old with nothing since
# is not evidence of today's site.
SITE_CHECK_LOOKBACK = timedelta(days=30)
# The newest result the site check rule acts on may be at most this old (the check runs
# daily): when the worker stopped checking, an old failure is no evidence of today's site.
SITE_CHECK_FRESH = timedelta(days=2)
MONITOR_TASK = "seals.monitor"
# The criterion a breach of a rule shows unmet (the site check rule's are the check's own)
BREACHED_CRITERIA = {COMPLAINTS_OVERDUE: "complaint_answers"}

TITLES: dict[str, LazyString] = {
    COMPLAINTS_OVERDUE: _l("Complaints unanswered past their legal deadline"),
    SITE_CHECK_FAILING: _l("The automatic site check failing"),
    SCORE_BELOW_FLOOR: _l("Score below the published floor"),
    SERVICE_BELOW_FLOOR: _l("Service indicators below the published floor"),
}

# What each threshold means, for the page that explains the rules.
THRESHOLD_LABELS: dict[str, dict[str, LazyString]] = {
    COMPLAINTS_OVERDUE: {
        "count": _l("Overdue complaints that suspend the seal"),
        "days": _l("Calendar days overdue that suspend the seal (one complaint is enough)"),
        "warn_business_days": _l("Business days before a deadline when the shop is warned"),
    },
    SITE_CHECK_FAILING: {
        "days": _l("Consecutive days of failures that suspend the seal"),
        "warn_days": _l("Days of failures after which the shop is warned"),
    },
    SCORE_BELOW_FLOOR: {
        "floor": _l("Lowest score kept (out of 5)"),
        "min_reviews": _l("Reviews needed for the rule to apply"),
        "warn_margin": _l("The shop is warned when its score is less than this above the floor"),
    },
    SERVICE_BELOW_FLOOR: {
        "on_time_floor": _l("Lowest share of orders delivered on time kept"),
        "first_response_floor": _l("Lowest share of first answers within 24 hours kept"),
        "resolution_floor": _l("Lowest share of cases resolved, as customers say, kept"),
        "warn_margin": _l("The shop is warned when an indicator is less than this above its floor"),
    },
}


@dataclass(frozen=True)
class Rule:
    """A published monitoring rule: its id, what it says, and its thresholds."""

    id: str
    title: LazyString
    description: LazyString
    threshold: dict[str, int | float]

    def as_dict(self) -> dict[str, Any]:
        """The published form: ``{id, description, threshold}`` (in the current locale)."""
        return {"id": self.id, "description": str(self.description), "threshold": self.threshold}


def rules() -> list[Rule]:
    """The published rules with the configured thresholds, in a stable order."""
    config = current_app.config
    overdue: dict[str, int | float] = {
        "count": int(config["TRUSTSEAL_SEAL_RULE_OVERDUE_COMPLAINTS"]),
        "days": int(config["TRUSTSEAL_SEAL_RULE_OVERDUE_DAYS"]),
        "warn_business_days": int(config["TRUSTSEAL_SEAL_RULE_OVERDUE_WARN_BUSINESS_DAYS"]),
    }
    site: dict[str, int | float] = {
        "days": int(config["TRUSTSEAL_SEAL_RULE_SITE_CHECK_DAYS"]),
        "warn_days": int(config["TRUSTSEAL_SEAL_RULE_SITE_CHECK_WARN_DAYS"]),
    }
    floor: dict[str, int | float] = {
        "floor": float(config["TRUSTSEAL_SEAL_RULE_SCORE_FLOOR"]),
        "min_reviews": int(config["TRUSTSEAL_SEAL_RULE_SCORE_MIN_REVIEWS"]),
        "warn_margin": float(config["TRUSTSEAL_SEAL_RULE_SCORE_WARN_MARGIN"]),
    }
    service: dict[str, int | float] = {
        "on_time_floor": float(config["TRUSTSEAL_SEAL_RULE_ON_TIME_FLOOR"]),
        "first_response_floor": float(config["TRUSTSEAL_SEAL_RULE_FIRST_RESPONSE_FLOOR"]),
        "resolution_floor": float(config["TRUSTSEAL_SEAL_RULE_RESOLUTION_FLOOR"]),
        "warn_margin": float(config["TRUSTSEAL_SEAL_RULE_SERVICE_WARN_MARGIN"]),
    }
    return [
        Rule(
            COMPLAINTS_OVERDUE,
            TITLES[COMPLAINTS_OVERDUE],
            _l(
                "Complaints (reclamos and quejas) of the Libro de Reclamaciones unanswered "
                "past their legal deadline of 15 business days: the seal is suspended when "
                "%(count)s or more are overdue, or when one is overdue by more than %(days)s "
                "calendar days. The merchant is warned %(warn)s business days before a "
                "deadline.",
                count=overdue["count"],
                days=overdue["days"],
                warn=overdue["warn_business_days"],
            ),
            overdue,
        ),
        Rule(
            SITE_CHECK_FAILING,
            TITLES[SITE_CHECK_FAILING],
            _l(
                "The automatic daily check of the shop's site finds no valid HTTPS or (for a "
                "shop in Peru) no link to the Libro de Reclamaciones on its home page, on "
                "%(days)s consecutive days: the seal is suspended. The merchant is warned "
                "first, as soon as the failure has lasted %(warn)s of those %(days)s days.",
                days=site["days"],
                warn=site["warn_days"],
            ),
            site,
        ),
        Rule(
            SCORE_BELOW_FLOOR,
            TITLES[SCORE_BELOW_FLOOR],
            _l(
                "The shop's score (the published formula) falls below %(floor)s with at "
                "least %(reviews)s verified reviews: the seal is suspended. The merchant is "
                "warned when the score is less than %(margin)s above the floor.",
                floor=floor["floor"],
                reviews=floor["min_reviews"],
                margin=floor["warn_margin"],
            ),
            floor,
        ),
        Rule(
            SERVICE_BELOW_FLOOR,
            TITLES[SERVICE_BELOW_FLOOR],
            _l(
                "A service indicator signed in the badge, once measured on its published "
                "minimum sample, falls below its floor: orders delivered on time below "
                "%(on_time)s%%, first answers to reviews and complaints within 24 hours "
                "below %(first)s%%, or cases resolved, as customers say, below "
                "%(resolved)s%%. The seal is suspended. The merchant is warned when an "
                "indicator is less than %(margin)s points above its floor.",
                on_time=round(service["on_time_floor"] * 100),
                first=round(service["first_response_floor"] * 100),
                resolved=round(service["resolution_floor"] * 100),
                margin=round(service["warn_margin"] * 100),
            ),
            service,
        ),
    ]


def _thresholds() -> dict[str, dict[str, int | float]]:
    return {rule.id: rule.threshold for rule in rules()}


@dataclass(frozen=True)
class Breach:
    """A rule tripped: its id, the figures that tripped it, and the public reason (in
    Spanish and English: it is kept in the seal's history and its log leaf as written)."""

    rule: str
    reason: str
    figures: dict[str, Any]


@dataclass(frozen=True)
class Caution:
    """A rule about to trip: the merchant is warned, nothing is suspended."""

    rule: str
    figures: dict[str, Any]


@dataclass(frozen=True)
class Assessment:
    """What the rules found about one merchant at one moment."""

    breaches: list[Breach]
    cautions: list[Caution]


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _complaints(merchant: Merchant, at: datetime, threshold: dict[str, Any]) -> Assessment:
    found = book.overdue_summary(merchant.id, at, int(threshold["warn_business_days"]))
    figures = {
        "overdue": found.count,
        "max_days_overdue": found.max_days_overdue,
        "due_soon": found.due_soon,
        "overdue_numbers": found.overdue_numbers,
        "due_soon_numbers": found.due_soon_numbers,
    }
    if found.count >= threshold["count"] or found.max_days_overdue > threshold["days"]:
        n, days = found.count, found.max_days_overdue
        reason = (
            f"Suspensión automática por la regla publicada {COMPLAINTS_OVERDUE}: {n} "
            f"{_plural(n, 'reclamo o queja', 'reclamos o quejas')} sin respuesta vencido el "
            f"plazo legal; el más atrasado, {days} {_plural(days, 'día', 'días')} "
            f"(umbral: {threshold['count']} vencidos, o uno con más de {threshold['days']} "
            f"días). / Automatic suspension under the published rule {COMPLAINTS_OVERDUE}: "
            f"{n} {_plural(n, 'complaint', 'complaints')} unanswered past the legal deadline; "
            f"the most overdue by {days} {_plural(days, 'day', 'days')} (threshold: "
            f"{threshold['count']} overdue, or one more than {threshold['days']} days)."
        )
        return Assessment([Breach(COMPLAINTS_OVERDUE, reason, figures)], [])
    if found.count or found.due_soon:
        return Assessment([], [Caution(COMPLAINTS_OVERDUE, figures)])
    return Assessment([], [])


def _book_link(result: dict[str, Any]) -> bool:
    return bool((result.get("links") or {}).get("complaints_book"))


def _passes(result: dict[str, Any], needs_book: bool) -> bool:
    """Whether a check found HTTPS and, for a shop in Peru (``needs_book``), the
    complaints-book link. The rule reads the checks themselves: a staff verdict on the
    criteria does not silence it."""
    return bool(result.get("https")) and (_book_link(result) or not needs_book)


def _site_check(merchant: Merchant, at: datetime, threshold: dict[str, Any]) -> Assessment:
    since = at - timedelta(days=int(threshold["days"])) - SITE_CHECK_LOOKBACK
    # a failure before the seal was last approved or reinstated was reviewed by staff then
    activated = seals.active_since(merchant)
    if activated is not None:
        since = max(since, activated)
    results = seals.site_check_results(merchant, since, at)
    # the latest result must be fresh: an old failure with nothing since says nothing of today
    if not results or results[-1]["checked_at"] < at - SITE_CHECK_FRESH:
        return Assessment([], [])
    needs_book = book.offered(merchant)
    if _passes(results[-1], needs_book):
        return Assessment([], [])
    first = results[-1]
    for result in reversed(results):
        if _passes(result, needs_book):
            break
        first = result
    latest = results[-1]
    since_day = deadlines.lima_date(first["checked_at"])
    days = (deadlines.lima_date(at) - since_day).days
    figures = {
        "since": since_day.isoformat(),
        "days": days,
        "https": bool(latest.get("https")),
        # None: a shop outside Peru, asked for no book
        "complaints_book": _book_link(latest) if needs_book else None,
        "checked_at": rfc3339(latest["checked_at"]),
    }
    if days >= threshold["days"]:
        es = [] if figures["https"] else ["sin HTTPS válido"]
        en = [] if figures["https"] else ["no valid HTTPS"]
        if figures["complaints_book"] is False:
            es.append("sin enlace al Libro de Reclamaciones")
            en.append("no link to the complaints book")
        reason = (
            f"Suspensión automática por la regla publicada {SITE_CHECK_FAILING}: la "
            f"verificación automática del sitio falla ({', '.join(es)}) desde el "
            f"{since_day.isoformat()}, {days} {_plural(days, 'día', 'días')} seguidos "
            f"(umbral: {threshold['days']} días). / Automatic suspension under the published "
            f"rule {SITE_CHECK_FAILING}: the automatic site check has failed ({', '.join(en)}) "
            f"since {since_day.isoformat()}, {days} {_plural(days, 'day', 'days')} running "
            f"(threshold: {threshold['days']} days)."
        )
        return Assessment([Breach(SITE_CHECK_FAILING, reason, figures)], [])
    if days >= threshold["warn_days"]:
        return Assessment([], [Caution(SITE_CHECK_FAILING, figures)])
    return Assessment([], [])


def _score(merchant: Merchant, at: datetime, threshold: dict[str, Any]) -> Assessment:
    current = scores.score_of(merchant.id, at)
    value, count = current.get("score"), int(current.get("rating_count") or 0)
    if value is None or count < threshold["min_reviews"]:
        return Assessment([], [])
    figures = {"score": value, "rating_count": count, "floor": threshold["floor"]}
    if value < threshold["floor"]:
        reason = (
            f"Suspensión automática por la regla publicada {SCORE_BELOW_FLOOR}: puntaje "
            f"{value} por debajo del mínimo publicado {threshold['floor']}, con {count} "
            f"opiniones (umbral: mínimo {threshold['floor']} desde "
            f"{threshold['min_reviews']} opiniones). / Automatic suspension under the "
            f"published rule {SCORE_BELOW_FLOOR}: score {value} below the published floor "
            f"{threshold['floor']}, with {count} reviews (threshold: floor "
            f"{threshold['floor']} from {threshold['min_reviews']} reviews)."
        )
        return Assessment([Breach(SCORE_BELOW_FLOOR, reason, figures)], [])
    if value < threshold["floor"] + threshold["warn_margin"]:
        return Assessment([], [Caution(SCORE_BELOW_FLOOR, figures)])
    return Assessment([], [])


def _service(merchant: Merchant, at: datetime, threshold: dict[str, Any]) -> Assessment:
    """The signed KPIs against their floors (a KPI still null, below its minimum sample,
    is not judged)."""
    kpis = transparency.merchant_kpis(merchant.slug)
    figures: dict[str, Any] = {}
    below_es: list[str] = []
    below_en: list[str] = []
    near = False
    for name, (group, kpi, words_es, words_en) in SERVICE_FLOORS.items():
        value = kpis[group][kpi]
        if value is None:
            continue
        floor = threshold[name]
        figures[name.removesuffix("_floor")] = value
        if value < floor:
            below_es.append(f"{words_es} {round(value * 100)} % (mínimo {round(floor * 100)} %)")
            below_en.append(f"{words_en} {round(value * 100)}% (floor {round(floor * 100)}%)")
        elif value < floor + threshold["warn_margin"]:
            near = True
    if below_es:
        reason = (
            f"Suspensión automática por la regla publicada {SERVICE_BELOW_FLOOR}: "
            f"{'; '.join(below_es)}, según los indicadores firmados del registro de "
            f"transparencia. / Automatic suspension under the published rule "
            f"{SERVICE_BELOW_FLOOR}: {'; '.join(below_en)}, as the signed indicators of the "
            f"transparency log say."
        )
        return Assessment([Breach(SERVICE_BELOW_FLOOR, reason, figures)], [])
    if near:
        return Assessment([], [Caution(SERVICE_BELOW_FLOOR, figures)])
    return Assessment([], [])


def assess(merchant: Merchant, at: datetime) -> Assessment:
    """Every rule for one merchant as of ``at``: the breaches, and the rules about to trip
    (cautions). Reads only; writes nothing."""
    threshold = _thresholds()
    breaches: list[Breach] = []
    cautions: list[Caution] = []
    for rule, check in (
        (COMPLAINTS_OVERDUE, _complaints),
        (SITE_CHECK_FAILING, _site_check),
        (SCORE_BELOW_FLOOR, _score),
        (SERVICE_BELOW_FLOOR, _service),
    ):
        found = check(merchant, at, threshold[rule])
        breaches += found.breaches
        cautions += found.cautions
    return Assessment(breaches, cautions)


def evaluate(merchant: Merchant, at: datetime) -> list[Breach]:
    """The rules the merchant breaches as of ``at`` (reads only; writes nothing)."""
    return assess(merchant, at).breaches


@dataclass
class Outcome:
    """What monitoring did for one merchant: ``suspended``, ``warned``, ``ok`` or
    ``error`` (the merchant's work was rolled back; the others went on)."""

    slug: str
    status: str
    rules: list[str] = field(default_factory=list)
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"merchant": self.slug, "status": self.status, "rules": self.rules}


@dataclass
class MonitorReport:
    """What one run of :func:`monitor` did, merchant by merchant."""

    at: datetime
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        """How many merchants ended with ``status``."""
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's ``--json``)."""
        return {
            "at": rfc3339(self.at),
            "checked": len(self.outcomes),
            "suspended": self.count("suspended"),
            "warned": self.count("warned"),
            "errors": self.count("error"),
            "merchants": [outcome.as_dict() for outcome in self.outcomes],
        }


def _links(merchant: Merchant) -> dict[str, str]:
    base = current_app.config["TRUSTSEAL_BASE_URL"]
    return {
        "rules_url": f"{base}/sello/reglas",
        "dashboard_url": f"{base}/dashboard/seal",
        "console_url": f"{base}/console/m/{merchant.slug}",
        "verify_url": f"{base}/verify/{merchant.slug}",
    }


def _email_suspension(merchant: Merchant, breaches: list[Breach], reason: str) -> None:
    """Queue the suspension emails: the merchant's and every admin's and certifier's."""
    context = {
        "merchant": merchant,
        "breaches": breaches,
        "reason": reason,
        "titles": TITLES,
        **_links(merchant),
    }
    language = merchants.language(merchant)
    to_merchant = mail.render("seal_suspended", language, for_staff=False, **context)
    mail.queue(merchant.contact_email, to_merchant, language)
    staff = staff_service.notification_emails(NOTIFIED_ROLES)
    if staff:
        to_staff = mail.render("seal_suspended", "es", for_staff=True, **context)
        for email in staff:
            mail.queue(email, to_staff, "es")


def _warn(merchant: Merchant, cautions: list[Caution], day: date) -> list[Caution]:
    """Email the merchant the cautions not yet sent today; the ones sent."""
    fresh = [
        caution
        for caution in cautions
        if insert_ignoring_duplicate(
            SealMonitorWarning,
            {"merchant_id": merchant.id, "rule": caution.rule, "day": day, "created_at": utcnow()},
            ["merchant_id", "rule", "day"],
        )
        is not None
    ]
    if fresh:
        language = merchants.language(merchant)
        message = mail.render(
            "seal_warning",
            language,
            merchant=merchant,
            cautions=fresh,
            threshold=_thresholds(),
            titles=TITLES,
            **_links(merchant),
        )
        mail.queue(merchant.contact_email, message, language)
    return fresh


def _monitor_one(merchant: Merchant, at: datetime) -> Outcome:
    found = assess(merchant, at)
    if found.breaches:
        reason = " ".join(breach.reason for breach in found.breaches)
        rule = found.breaches[0].rule
        if seals.suspend_automatically(merchant, rule, reason, at):
            for breach in found.breaches:
                if breach.rule in BREACHED_CRITERIA:  # reinstating needs staff to judge it again
                    seals.fail_criterion(merchant, BREACHED_CRITERIA[breach.rule], breach.reason)
            _email_suspension(merchant, found.breaches, reason)
            return Outcome(merchant.slug, "suspended", [b.rule for b in found.breaches], reason)
        return Outcome(merchant.slug, "ok")  # no longer active (decided meanwhile)
    if found.cautions:
        sent = _warn(merchant, found.cautions, deadlines.lima_date(at))
        return Outcome(merchant.slug, "warned" if sent else "ok", [c.rule for c in sent])
    return Outcome(merchant.slug, "ok")


def monitor(at: datetime | None = None) -> MonitorReport:
    """Evaluate every rule for every seal active at ``at`` (default now); suspend on a
    breach, warn before one, and email as it goes.

    Each merchant is its own transaction (committed here): one that fails is rolled back,
    logged and reported as ``error``, and the others go on. Idempotent: a suspended seal
    is not active any more, and a warning goes out at most once per rule and day.
    """
    moment = at or utcnow()
    report = MonitorReport(moment)
    ids = [merchant.id for merchant in seals.active_seal_merchants(moment)]
    db.session.commit()
    for merchant_id in ids:
        merchant = merchants.get(merchant_id)
        if merchant is None:
            continue
        slug = merchant.slug
        try:
            outcome = _monitor_one(merchant, moment)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("seal monitoring failed", extra={"merchant": slug})
            outcome = Outcome(slug, "error")
        report.outcomes.append(outcome)
    return report


@jobs.periodic(MONITOR_TASK, timedelta(days=1))
def daily() -> MonitorReport:
    """Maintenance task, daily: run :func:`monitor` now, then queue a fresh site check of
    every active seal's site (the worker runs them; a pending one is not asked twice), so
    tomorrow's run reads today's site (a seal suspended today too: its review needs it)."""
    active = [merchant.id for merchant in seals.active_seal_merchants()]
    report = monitor()
    for merchant_id in active:
        merchant = merchants.get(merchant_id)
        if merchant is None:
            continue
        try:
            seals.request_site_check(merchant)
        except seals.SiteCheckError as error:
            log.warning(
                "no site check for the seal monitor",
                extra={"merchant": merchant.slug, "error": str(error)},
            )
    db.session.commit()
    return report
