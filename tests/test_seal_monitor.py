"""Continuous monitoring of active seals: the published rules suspend a seal automatically
(complaints overdue, the site check failing, the score below its floor), warn the merchant
first, email merchant and staff, and change nothing when run again."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from email import policy
from email.parser import BytesParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from badges import assertion as assertion_mod
from tests.booking import entry_body
from tests.helpers import bearer, make_merchant, make_staff, pass_all_criteria
from tests.reviewing import post_review, review_link
from tests.sites import StubResolver, loopback_resolver, on_domain, shop_site
from trustseal import secretbox
from trustseal.book import deadlines
from trustseal.book.models import BookEntry
from trustseal.clock import rfc3339
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.mail.models import OutboxMessage
from trustseal.merchants import service as merchants
from trustseal.seals import monitor, sitecheck
from trustseal.seals import service as seals
from trustseal.seals.models import Seal, SealDecision, SiteCheck
from trustseal.signing import jws

MERCHANT_EMAIL = "hola@bodega.pe"
STAFF_EMAILS = {"certifier@cert.pe", "admin@cert.pe"}


@pytest.fixture
def certified(app: Flask, client: FlaskClient) -> dict[str, str]:
    """bodega with an active seal, approved by a certifier once every criterion passed;
    an admin and a moderator too (only admins and certifiers are emailed)."""
    _, key = make_merchant(app, slug="bodega")
    certifier = make_staff(app, "certifier")
    make_staff(app, "admin")
    make_staff(app, "moderator")
    pass_all_criteria(app)
    approved = client.post(
        "/api/v1/merchants/bodega/seal",
        json={"action": "approve", "reason": "Cumple los criterios"},
        headers=bearer(certifier),
    )
    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "active"
    with app.app_context():  # approved ten days ago: the checks below came after it
        db.session.execute(
            update(SealDecision).values(created_at=datetime.now(UTC) - timedelta(days=10))
        )
        db.session.commit()
    return {"key": key, "certifier": certifier}


def emails(app: Flask, template: str) -> list[Any]:
    """The queued messages of one template (parsed), oldest first (none delivered yet:
    delivery clears the stored message)."""
    with app.app_context():
        rows = db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == template)
            .order_by(OutboxMessage.id)
        ).all()
        return [
            BytesParser(policy=policy.default).parsebytes(secretbox.open_(r.sealed)) for r in rows
        ]


def body_of(message: Any) -> str:
    return str(message.get_body(("plain",)).get_content())


def run_monitor(app: Flask, at: datetime | None = None) -> monitor.MonitorReport:
    with app.app_context():
        report = monitor.monitor(at)
        db.session.remove()
        return report


def statuses(report: monitor.MonitorReport) -> dict[str, tuple[str, list[str]]]:
    return {o.slug: (o.status, o.rules) for o in report.outcomes}


def seal_status(app: Flask) -> str:
    with app.app_context():
        return seals.effective_status(db.session.get(Seal, merchants.get_by_slug("bodega").id))


def lima(day: date, hour: int = 9) -> datetime:
    """``hour`` o'clock in Lima on ``day``, as an aware UTC moment."""
    return datetime.combine(day, time(hour), tzinfo=deadlines.LIMA).astimezone(UTC)


def due_dates(app: Flask) -> list[date]:
    with app.app_context():
        return sorted(d for d in db.session.scalars(select(BookEntry.due_at)) if d)


def file_complaints(client: FlaskClient, n: int) -> None:
    for _ in range(n):
        filed = client.post("/api/v1/merchants/bodega/book", json=entry_body())
        assert filed.status_code == 201, filed.json


def badge_claims(client: FlaskClient) -> dict[str, Any]:
    body = client.get("/badges/bodega.svg").data
    token, _ = assertion_mod.split_assertion(body)
    _, claims = jws.verify(token, client.get("/.well-known/jwks.json").json)
    return dict(claims)


def leaves(client: FlaskClient) -> list[dict[str, Any]]:
    entries = client.get("/api/v1/log/entries?start=0&end=999").json
    return [json.loads(e["leaf"]) for e in entries]


# --------------------------------------------------------------------------- complaints


def test_three_unanswered_deadlines_suspend_the_seal_once(app, client, runner, certified):
    file_complaints(client, 3)
    assert statuses(run_monitor(app)) == {"bodega": ("ok", [])}  # not due yet
    at = lima(due_dates(app)[-1] + timedelta(days=1))  # the day after the last deadline
    with app.app_context():
        before = monitor.evaluate(merchants.get_by_slug("bodega"), at)
        assert [b.rule for b in before] == ["complaints_overdue"]
        assert before[0].figures["overdue"] == 3
    assert seal_status(app) == "active"  # evaluating writes nothing

    result = runner.invoke(args=["seals", "monitor", "--at", rfc3339(at)])
    assert result.exit_code == 0, result.output
    assert "bodega: suspended (complaints_overdue)" in result.output
    assert "checked 1 active seals" in result.output and "1 suspended" in result.output

    history = client.get("/api/v1/merchants/bodega/seal/history").json
    last = history[-1]
    assert last["action"] == "suspend" and last["status"] == "suspended"
    assert last["automatic"] is True and last["rule"] == "complaints_overdue"
    assert "complaints_overdue" in last["reason"] and "3 reclamos o quejas" in last["reason"]
    assert "3 complaints unanswered past the legal deadline" in last["reason"]
    assert [h["automatic"] for h in history[:-1]] == [False] * (len(history) - 1)

    (suspended,) = [leaf for leaf in leaves(client) if leaf["type"] == "seal.suspended"]
    assert last["log_index"] is not None
    text = json.dumps(suspended)
    assert '"rule": "complaints_overdue"' in text and '"automatic": true' in text

    claims = badge_claims(client)
    assert claims["sub"] == "bodega" and claims["seal_status"] == "suspended"
    assert client.get("/api/v1/merchants/bodega").json["seal"]["status"] == "suspended"

    sent = emails(app, "seal_suspended")
    assert sorted(m["To"] for m in sent) == sorted({MERCHANT_EMAIL} | STAFF_EMAILS)
    to_merchant = next(m for m in sent if m["To"] == MERCHANT_EMAIL)
    assert "complaints_overdue" in body_of(to_merchant)
    assert "/dashboard/seal" in body_of(to_merchant)
    to_staff = next(m for m in sent if m["To"] == "admin@cert.pe")
    assert "/console/m/bodega" in body_of(to_staff)

    again = runner.invoke(args=["seals", "monitor", "--at", rfc3339(at), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output) == {
        "at": rfc3339(at),
        "checked": 0,
        "suspended": 0,
        "warned": 0,
        "errors": 0,
        "merchants": [],
    }
    assert client.get("/api/v1/merchants/bodega/seal/history").json == history
    assert len(emails(app, "seal_suspended")) == len(sent)
    assert [leaf["type"] for leaf in leaves(client)].count("seal.suspended") == 1

    # the breach shows on its criterion: staff reinstate only once they judge it again
    criteria = client.get("/api/v1/merchants/bodega/seal/criteria").json
    (answers,) = [c for c in criteria if c["id"] == "complaint_answers"]
    assert answers["verdict"] == "fail" and "complaints_overdue" in answers["note"]
    reinstate = {"action": "reinstate", "reason": "Revisado con la tienda"}
    headers = bearer(certified["certifier"])
    refused = client.post("/api/v1/merchants/bodega/seal", json=reinstate, headers=headers)
    assert refused.status_code == 409
    assert refused.json["errors"]["json"]["criteria"] == ["complaint_answers"]


def test_one_complaint_long_overdue_trips_the_rule_two_do_not(app, client, certified):
    file_complaints(client, 2)
    due = due_dates(app)[-1]
    assert statuses(run_monitor(app, lima(due + timedelta(days=10)))) == {
        "bodega": ("warned", ["complaints_overdue"])  # 2 overdue by 10 days: not yet
    }
    assert seal_status(app) == "active"
    report = run_monitor(app, lima(due + timedelta(days=11)))
    assert statuses(report) == {"bodega": ("suspended", ["complaints_overdue"])}
    assert "el más atrasado, 11 días" in report.outcomes[0].reason


def test_an_answered_complaint_does_not_count(app, client, certified):
    file_complaints(client, 3)
    year = deadlines.lima_date(datetime.now(UTC)).year
    answered = client.put(
        f"/api/v1/book/000001-{year}/response",
        json={"body": "Le cambiamos el producto."},
        headers=bearer(certified["key"]),
    )
    assert answered.status_code == 200, answered.json
    at = lima(due_dates(app)[-1] + timedelta(days=1))
    assert statuses(run_monitor(app, at)) == {"bodega": ("warned", ["complaints_overdue"])}
    assert seal_status(app) == "active"


def test_the_merchant_is_warned_before_a_deadline_once_a_day(app, client, certified):
    file_complaints(client, 1)
    due = due_dates(app)[0]
    day, counted = due, 0
    while counted < 2:  # two business days before the deadline
        day -= timedelta(days=1)
        counted += deadlines.is_business_day(day)
    earlier = day - timedelta(days=1)
    while not deadlines.is_business_day(earlier):
        earlier -= timedelta(days=1)
    assert statuses(run_monitor(app, lima(earlier))) == {"bodega": ("ok", [])}
    assert emails(app, "seal_warning") == []

    report = run_monitor(app, lima(day))
    assert statuses(report) == {"bodega": ("warned", ["complaints_overdue"])}
    (warning,) = emails(app, "seal_warning")
    assert warning["To"] == MERCHANT_EMAIL  # the merchant only: staff are not warned
    year = deadlines.lima_date(datetime.now(UTC)).year
    assert f"000001-{year}" in body_of(warning) and "/sello/reglas" in body_of(warning)

    assert statuses(run_monitor(app, lima(day, 17))) == {"bodega": ("ok", [])}  # same day
    assert len(emails(app, "seal_warning")) == 1
    next_day = lima(day + timedelta(days=1))
    assert statuses(run_monitor(app, next_day))["bodega"][0] == "warned"
    assert len(emails(app, "seal_warning")) == 2
    assert seal_status(app) == "active" and emails(app, "seal_suspended") == []


# --------------------------------------------------------------------------- site check


def _check_on_loopback(app: Flask, url: str, days_ago: int = 0) -> None:
    """Ask for a check of ``url`` and let the worker run it; date it ``days_ago``."""
    with app.app_context():
        merchant = merchants.get_by_slug("bodega")
        request, queued = seals.request_site_check(merchant, url)
        db.session.commit()
        assert queued
        assert jobs.run_due_jobs().done >= 1
        row = db.session.get(SiteCheck, request.id)
        assert row.result["state"] == "done" and row.result["https"] is False
        if days_ago:
            when = datetime.now(UTC) - timedelta(days=days_ago)
            row.result = {**row.result, "checked_at": when.isoformat()}
            row.created_at = when
        db.session.commit()


def test_site_check_failing_three_days_running_suspends(app, client, certified, monkeypatch):
    app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"] = True
    monkeypatch.setattr(sitecheck, "resolve", loopback_resolver())
    with app.app_context():
        long_ago = datetime.now(UTC) - timedelta(days=6)
        passing = {
            "state": "done",
            "https": True,
            "links": {"complaints_book": True},
            "errors": [],
            "checked_at": long_ago.isoformat(),
        }
        merchant_id = merchants.get_by_slug("bodega").id
        db.session.add(
            SiteCheck(
                merchant_id=merchant_id,
                url="https://bodega.pe/",
                result=passing,
                created_at=long_ago,
            )
        )
        db.session.commit()
    assert statuses(run_monitor(app)) == {"bodega": ("ok", [])}
    with shop_site() as url:  # plain HTTP on loopback: the check finds no HTTPS
        _check_on_loopback(app, on_domain(url), days_ago=2)
        _check_on_loopback(app, on_domain(url))
        assert statuses(run_monitor(app)) == {"bodega": ("warned", ["site_check_failing"])}
        assert seal_status(app) == "active"
        with app.app_context():  # the first failure was a day earlier: three days running
            first = db.session.scalars(
                select(SiteCheck).where(SiteCheck.merchant_id == merchant_id).order_by(SiteCheck.id)
            ).all()[1]
            when = datetime.now(UTC) - timedelta(days=3)
            first.result = {**first.result, "checked_at": when.isoformat()}
            db.session.commit()
        report = run_monitor(app)
    assert statuses(report) == {"bodega": ("suspended", ["site_check_failing"])}
    last = client.get("/api/v1/merchants/bodega/seal/history").json[-1]
    assert last["automatic"] is True and last["rule"] == "site_check_failing"
    assert "sin HTTPS válido" in last["reason"] and "3 days running" in last["reason"]
    assert badge_claims(client)["seal_status"] == "suspended"
    assert len(emails(app, "seal_suspended")) == 3
    assert statuses(run_monitor(app)) == {}


def test_failures_before_a_reinstatement_or_long_ago_do_not_count(app, client, certified):
    def failing(days_ago: float) -> None:
        when = datetime.now(UTC) - timedelta(days=days_ago)
        result = {"state": "done", "https": False, "links": {}, "checked_at": when.isoformat()}
        with app.app_context():
            merchant_id = merchants.get_by_slug("bodega").id
            db.session.add(
                SiteCheck(merchant_id=merchant_id, url="https://bodega.pe/", result=result)
            )
            db.session.commit()

    failing(9)
    failing(8)  # the newest result is eight days old: the checks stopped, nothing to act on
    assert statuses(run_monitor(app)) == {"bodega": ("ok", [])}
    failing(0.1)
    # failing since nine days ago (after the approval, ten days ago): suspended
    assert statuses(run_monitor(app)) == {"bodega": ("suspended", ["site_check_failing"])}
    with app.app_context():  # staff reviewed it and reinstated the seal an hour ago
        merchant = merchants.get_by_slug("bodega")
        seals.decide(merchant, seals.Action.REINSTATE, "Sitio revisado a mano", None)
        db.session.execute(
            update(SealDecision)
            .where(SealDecision.action == "reinstate")
            .values(created_at=datetime.now(UTC) - timedelta(hours=1))
        )
        db.session.commit()
    failing(0.01)  # still failing since the reinstatement, for minutes only: no new breach
    assert statuses(run_monitor(app))["bodega"][0] != "suspended"
    assert seal_status(app) == "active"


def test_a_passing_check_ends_the_streak(app, certified):
    with app.app_context():
        merchant_id = merchants.get_by_slug("bodega").id
        now = datetime.now(UTC)
        for days_ago, ok in ((5, False), (4, False), (1, True), (0, False)):
            when = now - timedelta(days=days_ago)
            result = {
                "state": "done",
                "https": ok,
                "links": {"complaints_book": True},
                "checked_at": when.isoformat(),
            }
            db.session.add(
                SiteCheck(merchant_id=merchant_id, url="https://bodega.pe/", result=result)
            )
        db.session.commit()
    assert statuses(run_monitor(app)) == {"bodega": ("ok", [])}  # failing since today only
    assert seal_status(app) == "active"


# --------------------------------------------------------------------------- score


def test_score_below_the_floor_with_enough_reviews_suspends(app, client, certified):
    app.config["TRUSTSEAL_SEAL_RULE_SCORE_MIN_REVIEWS"] = 6
    key = certified["key"]
    for n in range(5):
        assert post_review(client, review_link(client, key, f"S-{n}"), rating=1).status_code == 201
    assert statuses(run_monitor(app)) == {"bodega": ("ok", [])}  # 5 reviews: too few
    assert post_review(client, review_link(client, key, "S-5"), rating=1).status_code == 201
    score = client.get("/api/v1/merchants/bodega/score").json
    assert score["rating_count"] == 6 and score["score"] < 2.5
    app.config["TRUSTSEAL_SEAL_RULE_SCORE_FLOOR"] = score["score"] - 0.1  # close above it
    assert statuses(run_monitor(app)) == {"bodega": ("warned", ["score_below_floor"])}
    app.config["TRUSTSEAL_SEAL_RULE_SCORE_FLOOR"] = 2.5
    report = run_monitor(app)
    assert statuses(report) == {"bodega": ("suspended", ["score_below_floor"])}
    last = client.get("/api/v1/merchants/bodega/seal/history").json[-1]
    assert last["automatic"] is True and last["rule"] == "score_below_floor"
    assert f"puntaje {score['score']}" in last["reason"] and "with 6 reviews" in last["reason"]


def test_a_measured_service_kpi_below_its_floor_suspends(app, client, certified):
    key = certified["key"]
    for n in range(9):
        token = review_link(client, key, f"T-{n}")
        assert post_review(client, token, on_time=n < 6).status_code == 201
    assert statuses(run_monitor(app)) == {"bodega": ("ok", [])}  # 9 answers: not measured
    assert post_review(client, review_link(client, key, "T-9"), on_time=False).status_code == 201
    score = client.get("/api/v1/merchants/bodega/score").json
    assert score["delivery"]["on_time_rate"] == 0.6  # 6 of 10
    app.config["TRUSTSEAL_SEAL_RULE_ON_TIME_FLOOR"] = 0.55  # within the warning margin
    assert statuses(run_monitor(app)) == {"bodega": ("warned", ["service_below_floor"])}
    warning = body_of(emails(app, "seal_warning")[-1])
    assert "60" in warning and "55" in warning
    app.config["TRUSTSEAL_SEAL_RULE_ON_TIME_FLOOR"] = 0.7
    assert statuses(run_monitor(app)) == {"bodega": ("suspended", ["service_below_floor"])}
    last = client.get("/api/v1/merchants/bodega/seal/history").json[-1]
    assert last["automatic"] is True and last["rule"] == "service_below_floor"
    assert "entregas a tiempo 60 % (mínimo 70 %)" in last["reason"]
    assert "delivered on time 60% (floor 70%)" in last["reason"]


# --------------------------------------------------------------------------- scope, job, CLI


def test_only_active_seals_are_monitored(app, client, certified):
    make_merchant(app, slug="otra", domain="otra.pe", contact_email="hola@otra.pe")
    file_complaints(client, 3)
    at = lima(due_dates(app)[-1] + timedelta(days=1))
    with app.app_context():
        seal = db.session.get(Seal, merchants.get_by_slug("bodega").id)
        valid_until = seal.valid_until
        seal.valid_until = at - timedelta(hours=1)  # expired by then
        db.session.commit()
    assert statuses(run_monitor(app, at)) == {}
    with app.app_context():
        db.session.execute(update(Seal).values(valid_until=valid_until))
        db.session.commit()
    assert statuses(run_monitor(app, at)) == {"bodega": ("suspended", ["complaints_overdue"])}
    with app.app_context():
        automatic = db.session.scalars(
            select(SealDecision).where(SealDecision.automatic.is_(True))
        ).all()
        assert [(d.rule, d.staff_id) for d in automatic] == [("complaints_overdue", None)]


def test_the_daily_task_monitors_and_queues_a_site_check(app, certified, monkeypatch):
    monkeypatch.setattr(sitecheck, "resolve", StubResolver({"bodega.pe": ["198.18.0.1"]}))
    assert "seals.monitor" in jobs._periodic
    with app.app_context():
        report = monitor.daily()
        db.session.commit()
        assert statuses(report) == {"bodega": ("ok", [])}
        monitor.daily()  # a pending check is not asked twice
        db.session.commit()
        queued = db.session.scalars(select(Job).where(Job.kind == seals.SITE_CHECK_JOB)).all()
        assert len(queued) == 1 and queued[0].payload["url"] == "https://bodega.pe/"
        assert seals.pending_site_check(merchants.get_by_slug("bodega")) is not None


def test_cli_refuses_a_time_without_zone(runner, certified):
    for bad in ("2027-01-01T09:00:00", "mañana"):
        result = runner.invoke(args=["seals", "monitor", "--at", bad])
        assert result.exit_code == 2 and "--at" in result.output
    ok = runner.invoke(args=["seals", "monitor", "--at", "2027-01-01T09:00:00-05:00"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines() == [
        "bodega: ok",
        "checked 1 active seals at 2027-01-01T14:00:00Z: 0 suspended, 0 warned, 0 errors",
    ]


# --------------------------------------------------------------------------- published


def test_rules_are_published_as_data(app, client):
    rules = client.get("/api/v1/seal/rules")
    assert rules.status_code == 200
    assert [(r["id"], r["threshold"]) for r in rules.json] == [
        ("complaints_overdue", {"count": 3, "days": 10, "warn_business_days": 2}),
        ("site_check_failing", {"days": 3, "warn_days": 1}),
        ("score_below_floor", {"floor": 2.5, "min_reviews": 20, "warn_margin": 0.3}),
        (
            "service_below_floor",
            {
                "on_time_floor": 0.7,
                "first_response_floor": 0.5,
                "resolution_floor": 0.4,
                "warn_margin": 0.1,
            },
        ),
    ]
    english = client.get("/api/v1/seal/rules?lang=en").json
    assert english[0]["description"].startswith("Complaints (reclamos and quejas)")
    assert "3 or more are overdue" in english[0]["description"]
    assert "more than 10 calendar days" in english[0]["description"]
    assert "below 2.5 with at least 20" in english[2]["description"]
    assert "delivered on time below 70%" in english[3]["description"]
    app.config["TRUSTSEAL_SEAL_RULE_OVERDUE_COMPLAINTS"] = 4
    changed = client.get("/api/v1/seal/rules?lang=en").json[0]
    assert changed["threshold"]["count"] == 4 and "4 or more" in changed["description"]
    spec = client.get("/api/v1/openapi.json").json
    assert "/api/v1/seal/rules" in spec["paths"]


def test_rules_page(client):
    page = client.get("/sello/reglas")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<html lang="es">' in html
    for rule in monitor.RULE_IDS:
        assert f'id="{rule}"' in html
    assert "2,5" in html and "/api/v1/seal/rules" in html
    english = client.get("/sello/reglas?lang=en").get_data(as_text=True)
    assert "2.5" in english and "reinstate a suspended seal only after review" in english
    assert "The shop is warned first" in english
