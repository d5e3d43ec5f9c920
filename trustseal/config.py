"""Configuration: defaults here, overridden by ``TRUSTSEAL_*`` environment variables.

Every key in :data:`DEFAULTS` can be set from the environment by prefixing it with
``TRUSTSEAL_`` (``TRUSTSEAL_DATABASE_URL``, ``TRUSTSEAL_SMTP_HOST``...). Values are
coerced to the type of the default.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

ENV_PREFIX = "TRUSTSEAL_"

DEFAULTS: dict[str, Any] = {
    "ENV": "development",  # development | production | testing
    "SECRET_KEY": "",  # generated into instance/ when empty (refused in production)
    "DATA_KEY": "",  # Fernet key for secrets at rest; generated into instance/ when empty
    "DATABASE_URL": "",  # empty: SQLite file in the instance folder
    "BASE_URL": "http://127.0.0.1:8000",
    "ISSUER": "",  # badge/log issuer name; defaults to BASE_URL
    "MAX_CONTENT_LENGTH": 1024 * 1024,  # bytes per request body
    "LOG_LEVEL": "INFO",
    "LOG_JSON": True,
    # argon2id cost for staff passwords (argon2-cffi's defaults: 3 passes, 64 MiB).
    "PASSWORD_TIME_COST": 3,
    "PASSWORD_MEMORY_KIB": 65536,
    # Rate limits (Flask-Limiter syntax). Memory storage unless a URI is given.
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_PUBLIC_WRITE": "30 per minute; 300 per hour",
    "RATELIMIT_AUTH_FAILURE": "20 per minute",
    "RATELIMIT_LOGIN": "10 per minute",
    "LOGIN_LOCKOUT": "5 per 15 minutes",
    "SESSION_HOURS": 12,
    # Transparency log: a new signed tree head at most this often (and on demand).
    "LOG_HEAD_INTERVAL_SECONDS": 60,
    # Media (review photos): local folder; default <instance>/media.
    "MEDIA_ROOT": "",
    # Badge assertions expire soon, so a revoked seal stops verifying even in copies.
    "BADGE_ASSERTION_DAYS": 7,
    # How long a process may reuse what a badge shows before reading it again (the hot path).
    "BADGE_FINGERPRINT_SECONDS": 1.0,
    # How long a process may reuse the owner of a live API key (a key revoked elsewhere
    # stops working within this time; in the revoking process at once).
    "API_KEY_CACHE_SECONDS": 1.0,
    # Platform plugins to load (comma-separated entry-point names; empty: all installed).
    "PLATFORMS": "",
    "VTEX_API_BASE": "https://{account}.vtexcommercestable.com.br",
    "PLATFORM_HTTP_TIMEOUT": 10.0,
    # Complaints book: keep entries (with personal data) at least this long.
    "BOOK_RETENTION_DAYS": 730,
    # Site checks: allow private and loopback targets (tests, intranets); never in production.
    "SITE_CHECK_ALLOW_PRIVATE": False,
    # Review invitations.
    "INVITATION_TTL_DAYS": 60,
    "INVITATION_EMAIL_DELAY_HOURS": 72,
    # Background jobs.
    "JOB_MAX_ATTEMPTS": 8,
    "JOB_BACKOFF_SECONDS": 30,
    "JOB_BACKOFF_MAX_SECONDS": 6 * 3600,
    "WORKER_POLL_SECONDS": 2.0,
    # Email: with no SMTP host, messages are written to instance/outbox/ as .eml files.
    "MAIL_FROM": "trustseal <no-reply@trustseal.local>",
    "SMTP_HOST": "",
    "SMTP_PORT": 587,
    "SMTP_USERNAME": "",
    "SMTP_PASSWORD": "",
    "SMTP_STARTTLS": True,
    "SMTP_SSL": False,
    "SMTP_TIMEOUT": 20.0,
    "OUTBOX_DIR": "",  # default: <instance>/outbox
    # Internationalisation.
    "DEFAULT_LOCALE": "es",
    "LOCALES": "es,en",
}


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or inconsistent."""


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Return :data:`DEFAULTS` with every ``TRUSTSEAL_*`` environment override applied."""
    environ = dict(os.environ if environ is None else environ)
    values = dict(DEFAULTS)
    for key, default in DEFAULTS.items():
        raw = environ.get(ENV_PREFIX + key)
        if raw is not None:
            values[key] = _coerce(raw, default)
    return values


def _instance_secret(instance_path: Path, name: str, make: Any) -> str:
    """Read a secret kept in the instance folder, creating it (mode 0600) on first use."""
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def finalize(values: dict[str, Any], instance_path: Path) -> dict[str, Any]:
    """Fill derived settings (database URL, generated secrets) and check production safety.

    Returns the mapping to load into ``app.config``.
    """
    instance_path.mkdir(parents=True, exist_ok=True)
    production = values["ENV"] == "production"
    if not values["SECRET_KEY"]:
        if production:
            raise ConfigError("TRUSTSEAL_SECRET_KEY must be set in production")
        values["SECRET_KEY"] = _instance_secret(
            instance_path, "secret_key", lambda: secrets.token_urlsafe(48)
        )
    elif production and len(values["SECRET_KEY"]) < 32:
        raise ConfigError("TRUSTSEAL_SECRET_KEY must be at least 32 characters in production")
    if not values["DATA_KEY"]:
        if production:
            raise ConfigError("TRUSTSEAL_DATA_KEY (a Fernet key) must be set in production")
        values["DATA_KEY"] = _instance_secret(
            instance_path, "data_key", lambda: Fernet.generate_key().decode()
        )
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = f"sqlite:///{instance_path / 'trustseal.db'}"
    if not values["OUTBOX_DIR"]:
        values["OUTBOX_DIR"] = str(instance_path / "outbox")
    if not values["ISSUER"]:
        values["ISSUER"] = values["BASE_URL"]
    values["BASE_URL"] = values["BASE_URL"].rstrip("/")
    values["LOCALES"] = [loc.strip() for loc in str(values["LOCALES"]).split(",") if loc.strip()]
    flask_settings = {
        "SECRET_KEY": values["SECRET_KEY"],
        "SQLALCHEMY_DATABASE_URI": values["DATABASE_URL"],
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(values["DATABASE_URL"]),
        "MAX_CONTENT_LENGTH": values["MAX_CONTENT_LENGTH"],
        "TESTING": values["ENV"] == "testing",
        "RATELIMIT_STORAGE_URI": values["RATELIMIT_STORAGE_URI"],
        "RATELIMIT_ENABLED": values["RATELIMIT_ENABLED"],
        "RATELIMIT_HEADERS_ENABLED": True,
        "BABEL_DEFAULT_LOCALE": values["DEFAULT_LOCALE"],
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "JSON_SORT_KEYS": False,
    }
    return {**{f"TRUSTSEAL_{k}": v for k, v in values.items()}, **flask_settings}


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # One writer at a time: wait for the lock instead of failing at once.
        return {"connect_args": {"timeout": 30}}
    # No pre-ping (a round trip per checkout): a connection lost to a database restart
    # fails one request with 503 (retriable) and is replaced; recycling bounds their age.
    return {"pool_recycle": 1800, "pool_size": 5, "max_overflow": 5}
