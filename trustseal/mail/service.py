"""The mail domain's door: :func:`render` a localized message and :func:`send` it."""

from __future__ import annotations

import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale


@dataclass(frozen=True)
class Message:
    """A rendered email: subject, plain text and HTML alternatives."""

    subject: str
    text: str
    html: str


def render(template: str, locale: str, **context: Any) -> Message:
    """Render ``templates/email/<template>.{subject,txt,html}`` in ``locale``."""
    with force_locale(locale):
        subject = render_template(f"email/{template}.subject.txt", **context).strip()
        text = render_template(f"email/{template}.txt", **context)
        html = render_template(f"email/{template}.html", subject=subject, **context)
    return Message(" ".join(subject.split()), text, html)


def _build(to: str, message: Message, locale: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = current_app.config["TRUSTSEAL_MAIL_FROM"]
    email["To"] = to
    email["Subject"] = message.subject
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = make_msgid(domain="trustseal")
    email["Content-Language"] = locale
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")
    return email


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
    outbox = Path(current_app.config["TRUSTSEAL_OUTBOX_DIR"])
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{uuid.uuid4().hex}.eml"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(bytes(email))
    tmp.replace(path)  # readers never see half a message
    return path


def send(to: str, message: Message, locale: str) -> None:
    """Send a rendered message to one address (SMTP when configured, else the outbox).

    Raises on failure so the calling job is retried.
    """
    email = _build(to, message, locale)
    if current_app.config["TRUSTSEAL_SMTP_HOST"]:
        _send_smtp(email)
    else:
        _write_outbox(email)
