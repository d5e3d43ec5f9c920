"""The mail domain's door: :func:`render` a localized message and :func:`queue` it.

Queuing writes the message to the outbox (encrypted) and a delivery job, both in the
caller's transaction: an email exists exactly when the change that causes it commits.
The delivery job sends it with the Message-ID it got when queued, outside any
transaction, and records it as sent (clearing the stored message) right after the server
accepts it, so a later retry finds it sent and does not send it again. Only a crash in
the instant between the server's acceptance and that record can send it twice — and
then with the same Message-ID, which mail systems use to drop the duplicate.

Consumers' emails go through :func:`queue_to_consumer`: each carries an unsubscribe link
(in its text and in ``List-Unsubscribe``, RFC 8058 one-click), and an address that used one
gets no more of them from any merchant — only what the law requires (the copy and the
answer of its own complaint) still reaches it.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import InvalidToken
from flask import current_app, render_template
from sqlalchemy import delete, select, update

from trustseal import i18n, languages, secretbox
from trustseal.clock import utcnow
from trustseal.dbutil import execute_dml, insert_ignoring_duplicate, insert_row
from trustseal.errors import DomainError
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.mail.models import OutboxMessage, SuppressedAddress

DELIVER_JOB = "mail.deliver"


@dataclass(frozen=True)
class Message:
    """A rendered email: subject, plain text and HTML alternatives, and its template."""

    subject: str
    text: str
    html: str
    template: str = ""
    unsubscribe_url: str | None = None


def render(template: str, locale: str, **context: Any) -> Message:
    """Render ``templates/email/<template>.{subject,txt,html}`` in the language of the code
    ``locale`` (``es``, ``en``, ``pt``: :mod:`trustseal.languages`); with an
    ``unsubscribe_url`` in the context, both parts end with it (``_unsubscribe.txt``, the
    HTML layout) and the message carries it (``List-Unsubscribe``)."""
    unsubscribe_url: str | None = context.pop("unsubscribe_url", None)
    with i18n.in_language(locale):
        subject = render_template(f"email/{template}.subject.txt", **context).strip()
        text = render_template(f"email/{template}.txt", **context)
        html = render_template(
            f"email/{template}.html", subject=subject, unsubscribe_url=unsubscribe_url, **context
        )
        if unsubscribe_url:
            text = text.rstrip("\n") + "\n\n" + render_template(
                "email/_unsubscribe.txt", unsubscribe_url=unsubscribe_url
            )
    return Message(" ".join(subject.split()), text, html, template, unsubscribe_url)


def _domain() -> str:
    sender = parseaddr(current_app.config["TRUSTSEAL_MAIL_FROM"])[1]
    host = sender.rpartition("@")[2] or urlsplit(current_app.config["TRUSTSEAL_BASE_URL"]).hostname
    return host or "trustseal.local"


def _build(to: str, message: Message, locale: str, message_id: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = current_app.config["TRUSTSEAL_MAIL_FROM"]
    email["To"] = to
    email["Subject"] = message.subject
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = message_id
    if message.unsubscribe_url:  # RFC 2369 and RFC 8058 (one click, by POST)
        email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")
    # After the content: set_content drops every Content-* header set before it (RFC 3282
    # tag: pt-BR, not the catalog's pt_BR).
    email["Content-Language"] = languages.tag_of(languages.code_of(locale))
    return email


def queue(to: str, message: Message, locale: str) -> int:
    """Put a rendered message for one address in the outbox, in the caller's transaction.

    It is sent by a job once that transaction commits (and never if it rolls back).
    Returns the outbox id.
    """
    message_id = make_msgid(domain=_domain())
    email = _build(to, message, locale, message_id)
    outbox_id: int = insert_row(
        OutboxMessage,
        {
            "message_id": message_id,
            "template": (message.template or "message")[:64],
            "sealed": secretbox.seal(bytes(email)),
            "created_at": utcnow(),
        },
    )
    jobs.enqueue(DELIVER_JOB, {"outbox_id": outbox_id})
    return outbox_id


class NotUnsubscribeLink(DomainError):
    """A token this service did not sign (404)."""


def address_hash(email: str) -> str:
    """SHA-256 (hex) of the address, trimmed and lower-cased: how the suppression list
    knows it without keeping it."""
    normalized = email.strip().lower()
    return hashlib.sha256(f"trustseal:suppression:{normalized}".encode()).hexdigest()


def unsubscribe_url(email: str) -> str:
    """The address's unsubscribe link: its hash, encrypted and authenticated with the data
    key (:mod:`trustseal.secretbox`), so the link neither names nor fingerprints the
    address, and nobody can make one for an address they do not receive mail at."""
    token = secretbox.seal(address_hash(email).encode("ascii"))
    return f"{current_app.config['TRUSTSEAL_BASE_URL']}/unsubscribe/{token}"


def _hash_of(token: str) -> str:
    try:
        hashed = secretbox.open_(token).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise NotUnsubscribeLink(404, "This unsubscribe link is not ours.") from None
    if len(hashed) != 64:
        raise NotUnsubscribeLink(404, "This unsubscribe link is not ours.")
    return hashed


def check_unsubscribe_link(token: str) -> bool:
    """Whether the link's address is unsubscribed already; raises
    :class:`NotUnsubscribeLink` for a link this service did not sign."""
    return db.session.get(SuppressedAddress, _hash_of(token)) is not None


def unsubscribe(token: str, how: str = "page") -> bool:
    """Put the link's address on the suppression list (in the caller's transaction):
    True the first time, False when it was there. Raises :class:`NotUnsubscribeLink`."""
    row = {"address_hash": _hash_of(token), "how": how, "created_at": utcnow()}
    return insert_ignoring_duplicate(SuppressedAddress, row, ["address_hash"]) is not None


def is_suppressed(email: str) -> bool:
    """Whether the address asked for no more emails."""
    found = select(SuppressedAddress.address_hash).where(
        SuppressedAddress.address_hash == address_hash(email)
    )
    return db.session.scalar(found) is not None


def queue_to_consumer(
    to: str, template: str, locale: str, *, required_by_law: bool = False, **context: Any
) -> int | None:
    """Render and queue an email to a consumer (a shopper, a complainant), with its
    unsubscribe link; None (nothing queued) when the address is on the suppression list,
    unless the law requires the message (the copy and the answer of a complaint)."""
    if not required_by_law and is_suppressed(to):
        return None
    message = render(template, locale, unsubscribe_url=unsubscribe_url(to), **context)
    return queue(to, message, locale)


def _send_smtp(email: EmailMessage) -> None:
    config = current_app.config
    host, port = config["TRUSTSEAL_SMTP_HOST"], config["TRUSTSEAL_SMTP_PORT"]
    timeout = config["TRUSTSEAL_SMTP_TIMEOUT"]
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if config["TRUSTSEAL_SMTP_SSL"]:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if config["TRUSTSEAL_SMTP_STARTTLS"] and not config["TRUSTSEAL_SMTP_SSL"]:
            smtp.starttls(context=context)
        if config["TRUSTSEAL_SMTP_USERNAME"]:
            smtp.login(config["TRUSTSEAL_SMTP_USERNAME"], config["TRUSTSEAL_SMTP_PASSWORD"])
        smtp.send_message(email)


def _write_outbox(email: EmailMessage) -> Path:
    """Write the message as an .eml file named after its Message-ID (a resend overwrites)."""
    outbox = Path(current_app.config["TRUSTSEAL_OUTBOX_DIR"])
    outbox.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(str(email["Message-ID"]).encode()).hexdigest()[:32]
    path = outbox / f"{name}.eml"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(bytes(email))
    tmp.replace(path)  # readers never see half a message
    return path


def _transport(email: EmailMessage) -> None:
    if current_app.config["TRUSTSEAL_SMTP_HOST"]:
        _send_smtp(email)
    else:
        _write_outbox(email)


@jobs.handler(DELIVER_JOB)
def deliver(payload: dict[str, Any]) -> None:
    """Job: send one outbox message, unless it is recorded as sent.

    Raises on an SMTP failure so the job is retried (with the same Message-ID).
    """
    outbox_id = payload["outbox_id"]
    row = db.session.get(OutboxMessage, outbox_id)
    if row is None or row.sent_at is not None or row.sealed is None:
        return
    raw = secretbox.open_(row.sealed)
    db.session.rollback()  # hold no transaction while the mail server answers
    email = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(email, EmailMessage)
    _transport(email)
    # Recorded and committed at once, on its own: whatever happens to this job next (its
    # lease lost, the database gone before the job is marked done), a retry finds it sent.
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.sent_at.is_(None))
        .values(sent_at=utcnow(), sealed=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def prune() -> int:
    """Forget messages queued more than ``TRUSTSEAL_MAIL_RETENTION_DAYS`` ago: the record of
    those sent, and (long after their last retry) those that could never be sent."""
    before = utcnow() - timedelta(days=current_app.config["TRUSTSEAL_MAIL_RETENTION_DAYS"])
    result = execute_dml(delete(OutboxMessage).where(OutboxMessage.created_at < before))
    return int(result.rowcount or 0)


jobs.periodic("mail.prune", timedelta(hours=1))(prune)
