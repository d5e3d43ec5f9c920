"""The accounts domain's door: sign in, sign up, reset passwords, TOTP, audit."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from limits import parse
from sqlalchemy import select

from trustseal import passwords, secretbox
from trustseal.accounts import totp
from trustseal.accounts.models import AuditEvent, MerchantUser, PasswordReset
from trustseal.clock import utcnow
from trustseal.extensions import db, limiter
from trustseal.jobs import service as jobs
from trustseal.mail import service as mail
from trustseal.merchants import service as merchants
from trustseal.merchants.models import Merchant
from trustseal.staff.models import StaffUser
from trustseal.tokens import hash_token, issue_token

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
    """The outcome of a sign-in attempt: ``ok``, ``invalid``, ``locked``, ``totp``."""

    outcome: str
    principal: Principal | None = None


def _principal(user: StaffUser | MerchantUser) -> Principal:
    if isinstance(user, StaffUser):
        return Principal("staff", user.id, user.email, user.role, None, user.session_version)
    return Principal(
        "merchant", user.id, user.email, user.role, user.merchant_id, user.session_version
    )


def _find(email: str) -> StaffUser | MerchantUser | None:
    email = email.strip().lower()
    staff = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
    if staff is not None:
        return staff
    return db.session.scalar(select(MerchantUser).where(MerchantUser.email == email))


def load(key: str, version: int) -> Principal | None:
    """The principal of a session, if the account is active and the session current."""
    kind, _, raw_id = key.partition(":")
    model = {"staff": StaffUser, "merchant": MerchantUser}.get(kind)
    if model is None or not raw_id.isdigit():
        return None
    user = db.session.get(model, int(raw_id))
    if user is None or user.disabled_at is not None or user.session_version != version:
        return None
    return _principal(user)


def _lockout() -> Any:
    return parse(current_app.config["TRUSTSEAL_LOGIN_LOCKOUT"])


def login(email: str, password: str, code: str | None = None) -> LoginResult:
    """Check credentials (and the TOTP code of staff who enrolled one).

    The answer is the same whether or not the email exists; repeated failures for an
    email lock it for a while, whether or not it exists.
    """
    ident = hash_token(email.strip().lower())
    enabled = current_app.config["RATELIMIT_ENABLED"]
    if enabled and not limiter.limiter.test(_lockout(), "login-email", ident):
        return LoginResult("locked")
    user = _find(email)
    if user is None or user.disabled_at is not None:
        passwords.hash_password(password)  # the same cost as a real check
        ok = False
    else:
        ok = passwords.verify_password(user.password_hash, password)
    if ok and isinstance(user, StaffUser) and user.totp_secret:
        secret = secretbox.open_(user.totp_secret).decode()
        if not code:
            return LoginResult("totp")
        ok = totp.verify(secret, code, time.time())
    if not ok or user is None:
        if enabled:
            limiter.limiter.hit(_lockout(), "login-email", ident)
        return LoginResult("invalid")
    if enabled:
        limiter.limiter.clear(_lockout(), "login-email", ident)
    return LoginResult("ok", _principal(user))


def sign_out_everywhere(principal: Principal) -> None:
    """Invalidate every session of this account (the version in the cookie stops matching)."""
    model = StaffUser if principal.kind == "staff" else MerchantUser
    user = db.session.get(model, principal.id)
    if user is not None:
        user.session_version += 1


def signup(
    email: str, password: str, merchant_fields: dict[str, Any]
) -> tuple[Merchant, Principal]:
    """A merchant creates its account and profile (the seal stays "none")."""
    email = email.strip().lower()
    if _find(email) is not None:
        raise ValueError("email taken")
    created = merchants.create_merchant(**merchant_fields)
    user = MerchantUser(
        merchant_id=created.merchant.id,
        email=email,
        password_hash=passwords.hash_password(password),
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
    """Email a single-use reset link if the account exists (the caller answers the same)."""
    user = _find(email)
    if user is None or user.disabled_at is not None:
        return
    issued = issue_token(nbytes=32)
    kind = "staff" if isinstance(user, StaffUser) else "merchant"
    db.session.add(
        PasswordReset(
            kind=kind,
            user_id=user.id,
            token_hash=issued.token_hash,
            expires_at=utcnow() + RESET_TTL,
        )
    )
    jobs.enqueue(RESET_JOB, {"email": user.email, "token": issued.token})


def reset_password(token: str, new_password: str) -> bool:
    """Use a reset link once: set the password and sign out every session."""
    reset = db.session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == hash_token(token)).with_for_update()
    )
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return False
    model = StaffUser if reset.kind == "staff" else MerchantUser
    user = db.session.get(model, reset.user_id)
    if user is None:
        return False
    user.password_hash = passwords.hash_password(new_password)
    user.session_version += 1
    reset.used_at = utcnow()
    return True


def enroll_totp(principal: Principal) -> str:
    """Give a staff user a new TOTP secret (returned once, for the authenticator app)."""
    staff = db.session.get(StaffUser, principal.id)
    if staff is None:
        raise ValueError("not staff")
    secret = totp.generate_secret()
    staff.totp_secret = secretbox.seal(secret.encode())
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


@jobs.handler(RESET_JOB)
def send_reset(payload: dict[str, Any]) -> None:
    """Job: email the reset link."""
    url = f"{current_app.config['TRUSTSEAL_BASE_URL']}/login/reset/{payload['token']}"
    message = mail.render("password_reset", "es", url=url)
    mail.send(payload["email"], message, "es")
