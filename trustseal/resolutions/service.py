"""The resolution loop's door (API.md "Delivery, resolution and satisfaction").

After a merchant answers a book entry or a review of at most :data:`OFFER_MAX_RATING`
stars, the email that brings the answer carries a single-use link, ``/resolve/{token}``.
With it the consumer says once whether the answer resolved the case and, for a review,
may add an updated rating and text. The domain that owns the case records it and logs
it (``review.updated``, ``book.confirmed``): this package keeps only the links.

Which domain owns which kind of case is wired in the app factory
(:func:`wire_subjects`), since those domains call this one to offer a link.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select

from trustseal.clock import utcnow
from trustseal.errors import DomainError
from trustseal.extensions import db
from trustseal.resolutions.models import ResolutionRequest
from trustseal.tokens import hash_token, issue_token

OFFER_MAX_RATING = 3  # reviews of this many stars or fewer get the link
SUBJECTS_KEY = "trustseal.resolution_subjects"  # app.extensions key


class ResolutionError(DomainError):
    """A resolution link that cannot be used (404, 409, 410, 422)."""


@dataclass(frozen=True)
class Outcome:
    """What the consumer said: resolved or not, and for a review an optional updated
    rating (1-5) and text."""

    resolved: bool
    rating: int | None = None
    comment: str | None = None


@dataclass(frozen=True)
class Subject:
    """What the domain owning a kind of case does for the loop.

    ``describe(subject_id)``: what the page shows of the case (None when it is gone);
    ``record(subject_id, outcome)``: record and log the consumer's word, in the caller's
    transaction, returning public facts of it (e.g. ``log_index``) or raising a
    :class:`DomainError`; ``takes_rating``: whether an updated rating makes sense."""

    describe: Callable[[int], dict[str, Any] | None]
    record: Callable[[int, Outcome], dict[str, Any]]
    takes_rating: bool


def wire_subjects(app: Flask, subjects: Mapping[str, Subject]) -> None:
    """Composition, in the app factory: the domain behind each kind of case."""
    app.extensions[SUBJECTS_KEY] = dict(subjects)


def _subject(name: str) -> Subject:
    subjects: Mapping[str, Subject] = current_app.extensions.get(SUBJECTS_KEY, {})
    return subjects[name]


def offer(subject: str, subject_id: int, merchant_id: int) -> str | None:
    """A fresh single-use token for the case (to put in the email only, never in a job
    payload), replacing any earlier unused one; None once the consumer has answered."""
    request = db.session.scalar(
        select(ResolutionRequest)
        .where(ResolutionRequest.subject == subject, ResolutionRequest.subject_id == subject_id)
        .with_for_update()
    )
    issued = issue_token("rs_")
    expires_at = utcnow() + timedelta(days=current_app.config["TRUSTSEAL_RESOLUTION_LINK_DAYS"])
    if request is None:
        db.session.add(
            ResolutionRequest(
                subject=subject,
                subject_id=subject_id,
                merchant_id=merchant_id,
                token_hash=issued.token_hash,
                expires_at=expires_at,
            )
        )
    elif request.used_at is not None:
        return None
    else:
        request.token_hash, request.expires_at = issued.token_hash, expires_at
    db.session.flush()
    return issued.token


def link(token: str) -> str:
    """The page a token opens."""
    return f"{current_app.config['TRUSTSEAL_BASE_URL']}/resolve/{token}"


def _usable(token: str, lock: bool = False, now: datetime | None = None) -> ResolutionRequest:
    stmt = select(ResolutionRequest).where(ResolutionRequest.token_hash == hash_token(token))
    request = db.session.scalar(stmt.with_for_update() if lock else stmt)
    if request is None:
        raise ResolutionError(404, "This link is not valid.")
    if request.used_at is not None:
        raise ResolutionError(409, "This link was used already: thank you for your answer.")
    if request.expires_at <= (now or utcnow()):
        raise ResolutionError(410, "This link has expired.")
    return request


@dataclass(frozen=True)
class Pending:
    """An open case, as its page shows it."""

    subject: str
    takes_rating: bool
    case: dict[str, Any]


def pending(token: str) -> Pending:
    """The case a token opens, while its link can still be used (else
    :class:`ResolutionError`: 404 unknown or gone, 409 used, 410 expired)."""
    request = _usable(token)
    subject = _subject(request.subject)
    case = subject.describe(request.subject_id)
    if case is None:
        raise ResolutionError(404, "This link is not valid.")
    return Pending(request.subject, subject.takes_rating, case)


def submit(token: str, outcome: Outcome) -> dict[str, Any]:
    """Record the consumer's answer once, in the caller's transaction:
    ``{subject, resolved, ...}`` plus what the owning domain returns (its log index)."""
    request = _usable(token, lock=True)
    subject = _subject(request.subject)
    if outcome.rating is not None and not subject.takes_rating:
        raise ResolutionError(422, "Only a review can be given a new rating.", field="rating")
    recorded = subject.record(request.subject_id, outcome)
    request.used_at, request.resolved = utcnow(), outcome.resolved
    return {"subject": request.subject, "resolved": outcome.resolved, **recorded}
