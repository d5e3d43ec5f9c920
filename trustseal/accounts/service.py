"""The accounts domain's door: sign in, sessions, sign up, reset passwords, TOTP, audit."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import delete, or_, select, update

from trustseal import i18n, passwords, secretbox
from trustseal.accounts import totp
from trustseal.accounts.models import (
    AccountSession,
    AuditEvent,
    MerchantUser,
    PasswordReset,
    SignInThrottle,
    SignupRequest,
)
from trustseal.clock import utcnow
from trustseal.dbutil import insert_ignoring_duplicate
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.mail import service as mail
from trustseal.merchants import service as merchants
from trustseal.staff import service as staff_service
from trustseal.tokens import hash_token, issue_token

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant
    from trustseal.staff.models import StaffUser

RESET_JOB = "accounts.reset_email"
RESET_TTL = timedelta(hours=2)


@dataclass(frozen=True)
class Principal:
    """Who is signed in."""

    kind: str  # staff | merchant
    id: int
    email: str
    role: str  # admin | certifier | moderator | owner | member
    merchant_id: int | None = None
    session_version: int = 1

    @property
    def key(self) -> str:
        """``staff:3`` / ``merchant:7`` (what the session keeps)."""
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a sign-in attempt: ``ok``, ``invalid``, ``locked``, ``totp``.

    ``retry_after`` (seconds) comes with ``locked``.
    """

    outcome: str
    principal: Principal | None = None
    retry_after: int | None = None


def _principal(user: StaffUser | MerchantUser) -> Principal:
    if staff_service.is_staff(user):
        return Principal("staff", user.id, user.email, user.role, None, user.session_version)
    return Principal(
        "merchant", user.id, user.email, user.role, user.merchant_id, user.session_version
    )


def _find(email: str) -> StaffUser | MerchantUser | None:
    email = email.strip().lower()
    staff = staff_service.by_email(email)
    if staff is not None:
        return staff
    return db.session.scalar(select(MerchantUser).where(MerchantUser.email == email))


def _keyed(purpose: str, value: str) -> str:
    """A keyed hash (the table alone does not tell which emails tried to sign in)."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def account_key(email: str) -> str:
    """The throttle key of an account (or of an unknown email, throttled alike)."""
    return _keyed("sign-in", email.strip().lower())


def _throttle_key(email: str, device: str | None) -> str:
    """The account's key, or that of one trusted browser of the account."""
    account = account_key(email)
    return _keyed("sign-in-device", f"{account}:{device}") if device else account


def _lockout_delay(failures: int) -> timedelta | None:
    config = current_app.config
    over = failures - config["TRUSTSEAL_LOGIN_LOCKOUT_AFTER"]
    if over < 0:
        return None
    seconds = config["TRUSTSEAL_LOGIN_LOCKOUT_BASE_SECONDS"] * 2 ** min(over, 30)
    return timedelta(seconds=min(seconds, config["TRUSTSEAL_LOGIN_LOCKOUT_MAX_SECONDS"]))


def _count_attempt(key: str, now: datetime) -> int | None:
    """Count this attempt as a failure *before* the credentials are checked (a success
    forgets the count), and block the key from the threshold on; None, or the seconds to
    wait when the key is blocked (then nothing is counted or checked).

    Counting first, in one conditional UPDATE, is what stops parallel guesses: the row
    stays locked until this attempt's transaction ends, so the next one sees its count.
    """
    row = {"key": key, "failures": 0, "updated_at": now}
    insert_ignoring_duplicate(SignInThrottle, row, ["key"])
    open_ = or_(SignInThrottle.blocked_until.is_(None), SignInThrottle.blocked_until <= now)
    failures = db.session.execute(
        update(SignInThrottle)
        .where(SignInThrottle.key == key, open_)
        .values(failures=SignInThrottle.failures + 1, updated_at=now)
        .returning(SignInThrottle.failures)
    ).scalar()
    if failures is None:
        until = db.session.scalar(
            select(SignInThrottle.blocked_until).where(SignInThrottle.key == key)
        )
        return max(1, int((until - now).total_seconds() + 0.999)) if until else 1
    delay = _lockout_delay(failures)
    if delay is not None:
        db.session.execute(
            update(SignInThrottle)
            .where(SignInThrottle.key == key)
            .values(blocked_until=now + delay)
        )
    return None


def _use_totp(staff: StaffUser, code: str, now: float) -> bool:
    """Whether ``code`` is a fresh code of the staff's authenticator: six digits, in the
    window, and of a later step than the last code used (a code works once)."""
    assert staff.totp_secret is not None
    secret = secretbox.open_(staff.totp_secret).decode()
    step = totp.matching_step(secret, code, now)
    return step is not None and staff_service.use_totp_step(staff.id, step)


def login(
    email: str, password: str, code: str | None = None, device: str | None = None
) -> LoginResult:
    """Check credentials (and the TOTP code of staff who enrolled one).

    The answer is the same whether or not the email exists. Attempts are counted per
    account (unknown emails too) before anything is checked, and a success forgets them;
    past a threshold each attempt must wait a delay that doubles with every failure, and
    is refused unchecked before. ``device`` is the id of
    a browser that signed in to this account before (from its signed cookie): it has its
    own count, so someone failing on purpose cannot lock the owner out of their browser.
    The caller commits (the count must stay even when the attempt fails).
    """
    limited = current_app.config["RATELIMIT_ENABLED"]
    key = _throttle_key(email, device)
    if limited:
        wait = _count_attempt(key, utcnow())
        if wait is not None:
            return LoginResult("locked", retry_after=wait)
    user = _find(email)
    if user is None or user.disabled_at is not None:
        passwords.hash_password(password)  # the same cost as a real check
        ok = False
    else:
        ok = passwords.verify_password(user.password_hash, password)
    if ok and staff_service.is_staff(user) and user.totp_secret:
        if not code:
            return LoginResult("totp")
        ok = _use_totp(user, code, time.time())
    if not ok or user is None:
        return LoginResult("invalid")  # counted already
    db.session.execute(delete(SignInThrottle).where(SignInThrottle.key == key))
    return LoginResult("ok", _principal(user))


def device_owner(email: str) -> str:
    """What a trusted-browser cookie names: the account it signed in to (keyed hash)."""
    return account_key(email)[:32]


def start_session(principal: Principal) -> str:
    """Record a new signed-in browser; the id to keep in its cookie (shown once)."""
    session_id = secrets.token_urlsafe(32)
    hours = current_app.config["TRUSTSEAL_SESSION_HOURS"]
    db.session.add(
        AccountSession(
            id_hash=hash_token(session_id),
            principal=principal.key,
            expires_at=utcnow() + timedelta(hours=hours),
        )
    )
    return session_id


def end_session(session_id: str) -> None:
    """Sign this browser out: its session id stops working, copies of the cookie too."""
    db.session.execute(
        update(AccountSession)
        .where(AccountSession.id_hash == hash_token(session_id), AccountSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def _user(kind: str, user_id: int) -> StaffUser | MerchantUser | None:
    """The account of a principal: a staff user (through the staff door) or a merchant's."""
    if kind == "staff":
        return staff_service.get(user_id)
    return db.session.get(MerchantUser, user_id) if kind == "merchant" else None


def load(key: str, version: int, session_id: str) -> Principal | None:
    """The principal of a session, if the account is active and the session live."""
    kind, _, raw_id = key.partition(":")
    if kind not in ("staff", "merchant") or not raw_id.isdigit():
        return None
    live = db.session.scalar(
        select(AccountSession.principal).where(
            AccountSession.id_hash == hash_token(session_id),
            AccountSession.ended_at.is_(None),
            AccountSession.expires_at > utcnow(),
        )
    )
    if live != key:
        return None
    user = _user(kind, int(raw_id))
    if user is None or user.disabled_at is not None or user.session_version != version:
        return None
    return _principal(user)


def sign_out_everywhere(principal: Principal) -> None:
    """End every session of this account (and any cookie signed with the old version)."""
    user = _user(principal.kind, principal.id)
    if user is not None:
        user.session_version += 1
    _end_sessions_of(principal.key)


def _end_sessions_of(key: str) -> None:
    db.session.execute(
        update(AccountSession)
        .where(AccountSession.principal == key, AccountSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def _base_url() -> str:
    return str(current_app.config["TRUSTSEAL_BASE_URL"])


def request_signup(email: str, password: str, merchant_fields: dict[str, Any]) -> None:
    """Start a merchant sign-up: email a confirmation link, or — if the email has an
    account — a note saying so. The caller answers the same either way, so the page
    never tells whether an email has an account.
    """
    email = email.strip().lower()
    password_hash = passwords.hash_password(password)  # the same cost either way
    language = i18n.current_language()  # the sign-up page's
    if _find(email) is not None:
        message = mail.render(
            "signup_exists", language, login_url=f"{_base_url()}/login",
            reset_url=f"{_base_url()}/login/reset",
        )
        mail.queue(email, message, language)
        return
    issued = issue_token(nbytes=32)
    form = {"email": email, "password_hash": password_hash, "merchant": merchant_fields}
    hours = current_app.config["TRUSTSEAL_SIGNUP_CONFIRM_HOURS"]
    db.session.add(
        SignupRequest(
            token_hash=issued.token_hash,
            sealed=secretbox.seal(json.dumps(form, ensure_ascii=False).encode()),
            expires_at=utcnow() + timedelta(hours=hours),
        )
    )
    url = f"{_base_url()}/signup/confirm/{issued.token}"
    mail.queue(email, mail.render("signup_confirm", language, url=url, hours=hours), language)


def confirm_signup(token: str) -> tuple[Merchant, Principal] | None:
    """Use a confirmation link once: create the merchant and its owner; None if the link
    is unknown, used or expired (or the email got an account meanwhile).

    The merchant stays private until it proves its domain, and staff are told of it.
    Raises ``merchants.RucTaken`` when another merchant registered the RUC meanwhile
    (the caller rolls back: the link stays usable)."""
    pending = db.session.scalar(
        select(SignupRequest)
        .where(SignupRequest.token_hash == hash_token(token))
        .with_for_update()
    )
    if pending is None or pending.used_at is not None or pending.sealed is None:
        return None
    if pending.expires_at <= utcnow():
        return None
    form = json.loads(secretbox.open_(pending.sealed))
    pending.used_at, pending.sealed = utcnow(), None
    if _find(form["email"]) is not None:
        return None
    fields = dict(form["merchant"])
    fields.pop("slug", None)  # a free slug is derived from the name now
    created = merchants.create_merchant(**fields, signed_up=True)
    user = MerchantUser(
        merchant_id=created.merchant.id,
        email=form["email"],
        password_hash=form["password_hash"],
        role="owner",
    )
    db.session.add(user)
    db.session.flush()
    return created.merchant, _principal(user)


def add_merchant_user(
    merchant: Merchant, email: str, password: str, role: str = "member"
) -> Principal:
    """Another person for a merchant."""
    user = MerchantUser(
        merchant_id=merchant.id,
        email=email.strip().lower(),
        password_hash=passwords.hash_password(password),
        role=role,
    )
    db.session.add(user)
    db.session.flush()
    return _principal(user)


def request_reset(email: str) -> None:
    """Email a single-use reset link if the account exists (the caller answers the same).

    The link is rendered now and kept only in the encrypted outbox until it is sent: no
    job payload ever holds it.
    """
    user = _find(email)
    if user is None or user.disabled_at is not None:
        return
    issued = issue_token(nbytes=32)
    kind = "staff" if staff_service.is_staff(user) else "merchant"
    db.session.add(
        PasswordReset(
            kind=kind,
            user_id=user.id,
            token_hash=issued.token_hash,
            expires_at=utcnow() + RESET_TTL,
        )
    )
    url = f"{_base_url()}/login/reset/{issued.token}"
    language = i18n.current_language()  # the page's where the reset was asked for
    mail.queue(user.email, mail.render("password_reset", language, url=url), language)


def reset_password(token: str, new_password: str) -> bool:
    """Use a reset link once: set the password and sign out every session."""
    reset = db.session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == hash_token(token)).with_for_update()
    )
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return False
    user = _user(reset.kind, reset.user_id)
    if user is None:
        return False
    user.password_hash = passwords.hash_password(new_password)
    user.session_version += 1
    _end_sessions_of(_principal(user).key)
    reset.used_at = utcnow()
    return True


def enroll_totp(principal: Principal) -> str:
    """Give a staff user a new TOTP secret (returned once, for the authenticator app)."""
    staff = staff_service.get(principal.id) if principal.kind == "staff" else None
    if staff is None:
        raise ValueError("not staff")
    secret = totp.generate_secret()
    staff.totp_secret = secretbox.seal(secret.encode())
    staff.totp_last_step = None
    return secret


def audit(
    actor: str,
    action: str,
    status: int,
    ip: str | None,
    user_agent: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one line of the audit trail (in the caller's transaction)."""
    db.session.add(
        AuditEvent(
            actor=actor[:300],
            action=action[:200],
            status=status,
            detail=detail,
            ip=(ip or "")[:64],
            user_agent=user_agent,
        )
    )


def audit_trail(limit: int = 200) -> list[AuditEvent]:
    """The latest audit events."""
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))


def prune(now: datetime | None = None) -> None:
    """Forget ended or expired sessions, stale throttles and dead sign-up links."""
    now = now or utcnow()
    week_ago = now - timedelta(days=7)
    db.session.execute(
        delete(AccountSession).where(
            or_(AccountSession.expires_at < now, AccountSession.ended_at < week_ago)
        )
    )
    cap = timedelta(seconds=current_app.config["TRUSTSEAL_LOGIN_LOCKOUT_MAX_SECONDS"])
    db.session.execute(delete(SignInThrottle).where(SignInThrottle.updated_at < now - cap * 4))
    db.session.execute(delete(SignupRequest).where(SignupRequest.expires_at < week_ago))
    db.session.execute(delete(PasswordReset).where(PasswordReset.expires_at < week_ago))


jobs.periodic("accounts.prune", timedelta(hours=1))(prune)


@jobs.handler(RESET_JOB)
def send_reset(payload: dict[str, Any]) -> None:
    """Job (only those queued before reset links went through the outbox): queue it."""
    if "token" in payload:
        url = f"{_base_url()}/login/reset/{payload['token']}"
        mail.queue(payload["email"], mail.render("password_reset", "es", url=url), "es")
