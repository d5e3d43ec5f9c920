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
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

ENV_PREFIX = "TRUSTSEAL_"

DEFAULTS: dict[str, Any] = {
    "ENV": "development",  # development | production | testing
    "SECRET_KEY": "",  # generated into instance/ when empty (refused in production)
    # Fernet key(s) for secrets at rest, comma-separated, newest first: the newest encrypts,
    # any decrypts (`trustseal keys rotate-data`). Generated into instance/ when empty.
    "DATA_KEY": "",
    "DATABASE_URL": "",  # empty: SQLite file in the instance folder
    # Test each pooled connection before use (one round trip per checkout). Off: after a
    # database restart each process fails at most one request (503, retriable), then
    # drops every stale connection at once.
    "DB_PRE_PING": False,
    # The public address of the service, in every absolute link (emails, badges, webhooks,
    # the log's origin). Empty: the local address where `make run` serves, http://HOST:PORT
    # (the Makefile passes its HOST and PORT), so the links follow the port.
    "BASE_URL": "",
    "HOST": "127.0.0.1",
    "PORT": 8000,
    "ISSUER": "",  # badge/log issuer name; defaults to BASE_URL
    # The certifier's name as the publisher of the reviews in the Google feeds; defaults to
    # the host of BASE_URL.
    "CERTIFIER_NAME": "",
    "MAX_CONTENT_LENGTH": 1024 * 1024,  # bytes per request body
    "LOG_LEVEL": "INFO",
    "LOG_JSON": True,
    # argon2id cost for staff passwords (argon2-cffi's defaults: 3 passes, 64 MiB).
    "PASSWORD_TIME_COST": 3,
    "PASSWORD_MEMORY_KIB": 65536,
    # Rate limits (Flask-Limiter syntax), counted in storage every process shares: Redis
    # when a URI is given (redis://host:6379), else the database. "memory://" counts per
    # process and is for single-process development only.
    "RATELIMIT_STORAGE_URI": "",
    "RATELIMIT_KEY_PREFIX": "trustseal",  # keeps deployments sharing one Redis apart
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_PUBLIC_WRITE": "30 per minute; 300 per hour",
    # Bad API credentials, per client address and key prefix (then 429 instead of 401);
    # and per client address whatever the prefix (ten times as many).
    "RATELIMIT_AUTH_FAILURE": "20 per minute",
    "RATELIMIT_LOGIN": "10 per minute",
    # Sign-in lockout by account: after this many failures, each attempt waits a delay
    # that starts at LOCKOUT_BASE_SECONDS and doubles with each failure, up to the cap.
    # A browser that signed in to the account before keeps its own count.
    "LOGIN_LOCKOUT_AFTER": 5,
    "LOGIN_LOCKOUT_BASE_SECONDS": 30,
    "LOGIN_LOCKOUT_MAX_SECONDS": 900,
    "SESSION_HOURS": 12,
    # Reverse proxies in front of the service that set X-Forwarded-For/-Proto (0: none; the
    # client address is then the socket's). Only that many hops are trusted.
    "PROXY_COUNT": 0,
    # Merchant sign-ups wait for the email to be confirmed within this time.
    "SIGNUP_CONFIRM_HOURS": 48,
    # Review links a merchant may ask for its *declared* orders (API, dashboard), per
    # merchant, per hour and per last 24 hours (429 beyond): a shop cannot mint reviews of
    # its own orders at will. Orders a platform reported have no such limit.
    "DECLARED_LINKS_PER_HOUR": 20,
    "DECLARED_LINKS_PER_DAY": 100,
    # Fraud signals (documented on /score). A signal opens when, for one merchant:
    # burst: at least BURST_REVIEWS reviews of declared purchases within BURST_MINUTES;
    # fast_review: a declared purchase is reviewed within FAST_REVIEW_MINUTES of being
    # declared; shared_network: SHARED_NETWORK_REVIEWS reviews come from one network
    # (IPv4 /24, IPv6 /64) within SHARED_NETWORK_DAYS; repeated_identity: a reviewer email
    # or a review text repeats (folded) within REPEATED_IDENTITY_DAYS.
    "SIGNAL_BURST_REVIEWS": 5,
    "SIGNAL_BURST_MINUTES": 60,
    "SIGNAL_FAST_REVIEW_MINUTES": 30,
    "SIGNAL_SHARED_NETWORK_REVIEWS": 3,
    "SIGNAL_SHARED_NETWORK_DAYS": 30,
    "SIGNAL_REPEATED_IDENTITY_DAYS": 90,
    # Seal monitoring (published at /sello/reglas and GET /api/v1/seal/rules): an active
    # seal is suspended automatically when, for its merchant,
    # complaints_overdue: at least SEAL_RULE_OVERDUE_COMPLAINTS complaints are unanswered
    # past their legal deadline, or one is more than SEAL_RULE_OVERDUE_DAYS calendar days
    # past it (warned SEAL_RULE_OVERDUE_WARN_BUSINESS_DAYS business days before a deadline);
    # site_check_failing: the automatic site check has failed HTTPS or the complaints-book
    # link for SEAL_RULE_SITE_CHECK_DAYS days running (warned from
    # SEAL_RULE_SITE_CHECK_WARN_DAYS); score_below_floor: the score is below
    # SEAL_RULE_SCORE_FLOOR with at least SEAL_RULE_SCORE_MIN_REVIEWS reviews (warned below
    # the floor plus SEAL_RULE_SCORE_WARN_MARGIN).
    "SEAL_RULE_OVERDUE_COMPLAINTS": 3,
    "SEAL_RULE_OVERDUE_DAYS": 10,
    "SEAL_RULE_OVERDUE_WARN_BUSINESS_DAYS": 2,
    "SEAL_RULE_SITE_CHECK_DAYS": 3,
    "SEAL_RULE_SITE_CHECK_WARN_DAYS": 1,
    "SEAL_RULE_SCORE_FLOOR": 2.5,
    "SEAL_RULE_SCORE_MIN_REVIEWS": 20,
    "SEAL_RULE_SCORE_WARN_MARGIN": 0.3,
    # service_below_floor: a signed service KPI, once measured (its minimum sample), below
    # its floor: delivered on time, first answered within 24 h, resolved as customers say
    # (warned below the floor plus SEAL_RULE_SERVICE_WARN_MARGIN).
    "SEAL_RULE_ON_TIME_FLOOR": 0.7,
    "SEAL_RULE_FIRST_RESPONSE_FLOOR": 0.5,
    "SEAL_RULE_RESOLUTION_FLOOR": 0.4,
    "SEAL_RULE_SERVICE_WARN_MARGIN": 0.1,
    # Domain verification: how long a DNS lookup or the file fetch may take, and how often
    # a merchant may ask (each check queries DNS and fetches a file from its server: a few
    # at a time, never a tool to hammer anyone's DNS).
    "DOMAIN_CHECK_TIMEOUT_SECONDS": 5.0,
    "RATELIMIT_DOMAIN_CHECK": "5 per minute; 30 per hour",
    # Transparency log: a new signed tree head at most this often (and on demand).
    "LOG_HEAD_INTERVAL_SECONDS": 60,
    # an unchanged log's head is signed again this often (monitors alarm on a stale head;
    # `trustseal log watch --max-age` defaults to 25 hours)
    "LOG_HEAD_REFRESH_SECONDS": 3600,
    # Outgoing webhooks: each delivery is retried after 1, 2, 4... times the first delay
    # until RETRY_HOURS after its event; ALLOW_PRIVATE lets tests post to a loopback
    # receiver over plain http (never in production: the SSRF guard refuses it).
    "WEBHOOK_RETRY_FIRST_SECONDS": 60.0,
    "WEBHOOK_RETRY_HOURS": 24.0,
    "WEBHOOK_TIMEOUT_SECONDS": 10.0,
    "WEBHOOK_ALLOW_PRIVATE": False,
    # finished deliveries (and their attempts) stay in the log this long
    "WEBHOOK_LOG_DAYS": 30,
    # Witnesses (c2sp.org/tlog-witness) each new checkpoint is submitted to: entries
    # separated by commas or spaces, each URL=VKEY (submission prefix = cosignature/v1
    # verifier key). /log/checkpoint serves the newest checkpoint at least
    # WITNESS_QUORUM of them cosigned.
    "WITNESSES": "",
    "WITNESS_QUORUM": 1,
    "WITNESS_TIMEOUT_SECONDS": 10.0,
    # Media (review photos): local folder; default <instance>/media.
    "MEDIA_ROOT": "",
    # Badge assertions expire soon, so a revoked seal stops verifying even in copies
    # (at most 7: verifiers refuse an assertion whose exp - iat exceeds 7 days).
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
    # Outbound checks (the site check, the domain-verification file): allow private and
    # loopback targets (tests, intranets); never in production.
    "SITE_CHECK_ALLOW_PRIVATE": False,
    # Review invitations.
    "INVITATION_TTL_DAYS": 60,
    "INVITATION_EMAIL_DELAY_HOURS": 72,
    # One reminder this long after an invitation email that was not used (0: none).
    "INVITATION_REMINDER_DAYS": 7,
    # How long a process keeps the certified shops' KPI medians (the analytics page's
    # benchmark) before reading them again (0: every time).
    "BENCHMARK_SECONDS": 300,
    # How long the consumer's "was it resolved?" link works after the merchant's answer.
    "RESOLUTION_LINK_DAYS": 60,
    # Background jobs. A claimed job belongs to its worker for the lease; attempts are
    # counted when claimed, so a job that kills its worker fails after JOB_MAX_ATTEMPTS.
    "JOB_MAX_ATTEMPTS": 8,
    "JOB_BACKOFF_SECONDS": 30,
    "JOB_BACKOFF_MAX_SECONDS": 6 * 3600,
    "JOB_LEASE_SECONDS": 300,
    "JOB_RETENTION_DAYS": 7,
    "JOB_FAILED_RETENTION_DAYS": 90,
    "WORKER_POLL_SECONDS": 2.0,
    "WORKER_BATCH": 50,
    "WORKER_HEARTBEAT_SECONDS": 10.0,
    "WORKER_MAX_BACKOFF_SECONDS": 60.0,
    # /readyz and `trustseal worker --check` call the worker stale after this long silent.
    "WORKER_STALE_SECONDS": 180,
    # Sent messages are remembered (Message-ID, time; never the text) this long.
    "MAIL_RETENTION_DAYS": 30,
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
    # Internationalisation: the languages pages are served in, by code (trustseal/languages.py:
    # "pt" is Brazilian Portuguese, catalog pt_BR), and the one without a choice.
    "DEFAULT_LOCALE": "es",
    "LOCALES": "es,en,pt",
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


def public_base_url(values: dict[str, Any]) -> str:
    """The service's public address without a trailing slash: ``BASE_URL`` when set, else
    the local one where it serves, ``http://HOST:PORT`` (a wildcard bind address such as
    ``0.0.0.0`` becomes the loopback one, an IPv6 address is bracketed, port 80 is left
    out)."""
    explicit = str(values.get("BASE_URL") or "").strip()
    if explicit:
        return explicit.rstrip("/")
    host = str(values.get("HOST") or "").strip().strip("[]")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    port = int(values.get("PORT") or 80)
    return f"http://{host}" if port == 80 else f"http://{host}:{port}"


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
    if not 0 < values["BADGE_ASSERTION_DAYS"] <= 7:
        raise ConfigError(
            "TRUSTSEAL_BADGE_ASSERTION_DAYS must be from 1 to 7: verifiers refuse assertions "
            "that live longer than 7 days"
        )
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = f"sqlite:///{instance_path / 'trustseal.db'}"
    if not values["OUTBOX_DIR"]:
        values["OUTBOX_DIR"] = str(instance_path / "outbox")
    if not values["RATELIMIT_STORAGE_URI"]:
        values["RATELIMIT_STORAGE_URI"] = "trustseal+db://"
    base_url = public_base_url(values)
    if not values["ISSUER"]:  # as set (a trailing slash kept: issuers already published)
        values["ISSUER"] = values["BASE_URL"] or base_url
    values["BASE_URL"] = base_url
    if not values["CERTIFIER_NAME"]:
        values["CERTIFIER_NAME"] = urlsplit(base_url).hostname or base_url
    values["LOCALES"] = [loc.strip() for loc in str(values["LOCALES"]).split(",") if loc.strip()]
    flask_settings = {
        "SECRET_KEY": values["SECRET_KEY"],
        "SQLALCHEMY_DATABASE_URI": values["DATABASE_URL"],
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(values["DATABASE_URL"], values["DB_PRE_PING"]),
        "MAX_CONTENT_LENGTH": values["MAX_CONTENT_LENGTH"],
        "TESTING": values["ENV"] == "testing",
        "RATELIMIT_STORAGE_URI": values["RATELIMIT_STORAGE_URI"],
        "RATELIMIT_KEY_PREFIX": values["RATELIMIT_KEY_PREFIX"],
        "RATELIMIT_ENABLED": values["RATELIMIT_ENABLED"],
        "RATELIMIT_HEADERS_ENABLED": True,
        # If the limiter's storage (Redis) is down, serve rather than fail every request.
        "RATELIMIT_SWALLOW_ERRORS": True,
        "BABEL_DEFAULT_LOCALE": values["DEFAULT_LOCALE"],
        # Pages and emails show dates as a reader in Peru lives them (a review written at
        # 22:00 in Lima is not dated the next day); the API keeps UTC (RFC 3339).
        "BABEL_DEFAULT_TIMEZONE": "America/Lima",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production or values["BASE_URL"].startswith("https://"),
        "JSON_SORT_KEYS": False,
    }
    return {**{f"TRUSTSEAL_{k}": v for k, v in values.items()}, **flask_settings}


def _engine_options(url: str, pre_ping: bool) -> dict[str, Any]:
    # SQL parameters carry customer emails and names: never in logs or error messages.
    options: dict[str, Any] = {"hide_parameters": True}
    if url.startswith("sqlite"):
        # One writer at a time: wait for the lock instead of failing at once.
        return {**options, "connect_args": {"timeout": 30}}
    # A disconnect error invalidates the whole pool (every connection older than it is
    # replaced), so a restart costs each process one failed request, not one per
    # connection; recycling bounds their age. Pre-ping trades a round trip per checkout
    # for not failing that one (figures in CHANGELOG.md).
    return {
        **options,
        "pool_recycle": 1800,
        "pool_size": 5,
        "max_overflow": 5,
        "pool_pre_ping": pre_ping,
    }
