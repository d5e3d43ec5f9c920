"""Configuration: defaults, TRUSTSEAL_* overrides, instance secrets, production safety."""

from __future__ import annotations

import stat

import pytest

from trustseal import create_app
from trustseal.config import ConfigError, from_environment


def test_environment_overrides_defaults():
    values = from_environment(
        {
            "TRUSTSEAL_SMTP_PORT": "2525",
            "TRUSTSEAL_SMTP_STARTTLS": "false",
            "TRUSTSEAL_BASE_URL": "https://sello.pe/",
            "TRUSTSEAL_WORKER_POLL_SECONDS": "0.5",
        }
    )
    assert values["SMTP_PORT"] == 2525
    assert values["SMTP_STARTTLS"] is False
    assert values["WORKER_POLL_SECONDS"] == 0.5
    assert values["BASE_URL"] == "https://sello.pe/"


def test_bare_start_uses_sqlite_and_keeps_generated_secrets(tmp_path, monkeypatch):
    for name in ("TRUSTSEAL_DATABASE_URL", "TRUSTSEAL_SECRET_KEY", "TRUSTSEAL_DATA_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRUSTSEAL_INSTANCE_PATH", str(tmp_path / "inst"))
    first = create_app()
    assert first.instance_path == str(tmp_path / "inst")
    assert (
        first.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'inst' / 'trustseal.db'}"
    )
    secret_file = tmp_path / "inst" / "secret_key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    second = create_app()
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] != ""
    assert first.config["TRUSTSEAL_DATA_KEY"] == second.config["TRUSTSEAL_DATA_KEY"]
    assert first.config["TRUSTSEAL_BASE_URL"] == "http://127.0.0.1:8000"


def test_production_refuses_default_secret(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"ENV": "production", "INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"ENV": "production", "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "short"})
    with pytest.raises(ConfigError, match="DATA_KEY"):
        create_app({"ENV": "production", "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x" * 40})
    from cryptography.fernet import Fernet

    app = create_app(
        {
            "ENV": "production",
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "x" * 40,
            "DATA_KEY": Fernet.generate_key().decode(),
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert not (tmp_path / "secret_key").exists()


def test_request_size_limit_is_configurable(tmp_path):
    app = create_app(
        {
            "ENV": "testing",
            "INSTANCE_PATH": str(tmp_path),
            "MAX_CONTENT_LENGTH": 10,
            "RATELIMIT_ENABLED": False,
        }
    )
    # A public write (an authenticated one answers 401 before it reads any body).
    answer = app.test_client().post(
        "/api/v1/reviews",
        data=b"{" + b" " * 20 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
