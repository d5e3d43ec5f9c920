"""The staff domain's door: create staff users, check passwords and tokens."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update

from trustseal import passwords
from trustseal.dbutil import execute_dml
from trustseal.extensions import db
from trustseal.staff.models import StaffToken, StaffUser
from trustseal.tokens import hash_token, issue_token

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing.TypeIs is Python 3.13's

STAFF_TOKEN_PREFIX = "tss_"


class Role(StrEnum):
    """Staff roles; see :data:`PERMISSIONS` for what each may do."""

    ADMIN = "admin"
    CERTIFIER = "certifier"
    MODERATOR = "moderator"


class EmailTaken(Exception):
    """A staff user with this email exists already."""


@dataclass(frozen=True)
class NewStaff:
    """A staff user just created, with a generated password and token (shown once)."""

    staff: StaffUser
    password: str
    token: str


def create_staff(email: str, role: Role, password: str | None = None) -> NewStaff:
    """Create a staff user with an argon2id password hash and a first ``tss_`` token."""
    email = email.strip().lower()
    if db.session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise EmailTaken(email)
    password = password or secrets.token_urlsafe(18)
    staff = StaffUser(email=email, password_hash=passwords.hash_password(password), role=role.value)
    db.session.add(staff)
    db.session.flush()
    return NewStaff(staff, password, issue_staff_token(staff))


def issue_staff_token(staff: StaffUser) -> str:
    """Create another token for a staff user and return it (the only time it is visible)."""
    issued = issue_token(STAFF_TOKEN_PREFIX)
    db.session.add(StaffToken(staff=staff, token_hash=issued.token_hash, hint=issued.hint))
    db.session.flush()
    return issued.token


def check_password(email: str, password: str) -> StaffUser | None:
    """Return the active staff user for these credentials, or None."""
    staff = db.session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if staff is None or staff.disabled_at is not None:
        passwords.hash_password(password)  # same cost whether or not the email exists
        return None
    return staff if passwords.verify_password(staff.password_hash, password) else None


def authenticate(token: str) -> StaffUser | None:
    """Return the active staff user owning this live token, or None."""
    if not token.startswith(STAFF_TOKEN_PREFIX):
        return None
    return db.session.scalar(
        select(StaffUser)
        .join(StaffToken)
        .where(
            StaffToken.token_hash == hash_token(token),
            StaffToken.revoked_at.is_(None),
            StaffUser.disabled_at.is_(None),
        )
    )


def use_totp_step(staff_id: int, step: int) -> bool:
    """Record that the authenticator code of 30-second ``step`` signed this staff user in;
    False when that step (or a later one) was used already — a code works once.

    One conditional UPDATE, so two sign-ins racing with the same code cannot both win.
    """
    used = execute_dml(
        update(StaffUser)
        .where(StaffUser.id == staff_id)
        .where(or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    return used == 1


def get(staff_id: int) -> StaffUser | None:
    """A staff user by id, or None."""
    return db.session.get(StaffUser, staff_id)


def by_email(email: str) -> StaffUser | None:
    """A staff user by email, or None."""
    return db.session.scalar(select(StaffUser).where(StaffUser.email == email))


def is_staff(user: object) -> TypeIs[StaffUser]:
    """Whether ``user`` is a staff user (not a merchant's)."""
    return isinstance(user, StaffUser)


def notification_emails(roles: tuple[Role, ...] = (Role.ADMIN, Role.CERTIFIER)) -> list[str]:
    """The email of every active staff user with one of ``roles`` (who to tell about
    something staff must look at), in a stable order."""
    return list(
        db.session.scalars(
            select(StaffUser.email)
            .where(
                StaffUser.role.in_([role.value for role in roles]),
                StaffUser.disabled_at.is_(None),
            )
            .order_by(StaffUser.id)
        )
    )


def emails_of(staff_ids: Iterable[int]) -> dict[int, str]:
    """The email of each of these staff users (to name who wrote or did something)."""
    wanted = set(staff_ids)
    if not wanted:
        return {}
    rows = db.session.execute(
        select(StaffUser.id, StaffUser.email).where(StaffUser.id.in_(wanted))
    ).all()
    return {row.id: row.email for row in rows}
