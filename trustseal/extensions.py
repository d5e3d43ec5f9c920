"""The Flask extensions, created once here and bound in :func:`trustseal.create_app`.

The flask-smorest ``Api`` is not here: it keeps one OpenAPI spec per instance, so each
app gets its own (see :func:`trustseal.api.errors.current_api`).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def client_key() -> str:
    """The client as rate limits count it: its address — an IPv6 one by its /64, the
    network one subscriber gets, since rotating addresses within it costs nothing."""
    address = get_remote_address() or request.remote_addr or "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address


db = SQLAlchemy(model_class=Base)

# The class models subclass. At run time it is ``db.Model``, which Flask-SQLAlchemy builds
# from ``Base`` (same metadata, plus its bind-key, table-name and ``query`` mixins); mypy
# cannot see that dynamic class, so it checks the models against ``Base`` itself.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model

migrate = Migrate()
babel = Babel()
limiter = Limiter(key_func=client_key, default_limits=[])
