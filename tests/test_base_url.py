"""`make run PORT=N` serves correct absolute links: the public base URL follows the host
and port the service is served on, unless ``TRUSTSEAL_BASE_URL`` says otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustseal.config import finalize, from_environment, public_base_url


def settled(environ: dict[str, str], tmp_path: Path) -> dict[str, object]:
    """The app's configuration for these environment variables (no app, no server)."""
    return finalize(from_environment(environ), tmp_path)


def test_without_anything_set_links_point_to_the_default_local_address(tmp_path):
    config = settled({}, tmp_path)
    assert config["TRUSTSEAL_BASE_URL"] == "http://127.0.0.1:8000"
    assert config["TRUSTSEAL_ISSUER"] == "http://127.0.0.1:8000"


def test_links_follow_the_port_make_run_serves_on(tmp_path):
    # what the Makefile's run target exports for `make run PORT=8123`
    config = settled({"TRUSTSEAL_HOST": "127.0.0.1", "TRUSTSEAL_PORT": "8123"}, tmp_path)
    assert config["TRUSTSEAL_BASE_URL"] == "http://127.0.0.1:8123"
    assert config["TRUSTSEAL_ISSUER"] == "http://127.0.0.1:8123"
    assert config["SESSION_COOKIE_SECURE"] is False


def test_an_explicit_base_url_wins_over_the_port(tmp_path):
    config = settled(
        {"TRUSTSEAL_PORT": "8123", "TRUSTSEAL_BASE_URL": "https://sello.example.pe/"}, tmp_path
    )
    assert config["TRUSTSEAL_BASE_URL"] == "https://sello.example.pe"
    assert config["TRUSTSEAL_ISSUER"] == "https://sello.example.pe/"  # as set, as before
    assert config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("0.0.0.0", 9000, "http://127.0.0.1:9000"),  # a wildcard bind: link to loopback
        ("", 9000, "http://127.0.0.1:9000"),
        ("localhost", 5000, "http://localhost:5000"),
        ("::", 9000, "http://[::1]:9000"),
        ("::1", 9000, "http://[::1]:9000"),
        ("[::1]", 9000, "http://[::1]:9000"),
        ("sello.local", 80, "http://sello.local"),
    ],
)
def test_the_local_address_from_host_and_port(host, port, expected):
    assert public_base_url({"BASE_URL": "", "HOST": host, "PORT": port}) == expected


def test_app_overrides_follow_the_same_rule(tmp_path, monkeypatch):
    from trustseal import create_app

    for name in ("TRUSTSEAL_BASE_URL", "TRUSTSEAL_HOST", "TRUSTSEAL_PORT"):
        monkeypatch.delenv(name, raising=False)

    app = create_app({"INSTANCE_PATH": str(tmp_path), "PORT": 8765, "ENV": "testing"})
    assert app.config["TRUSTSEAL_BASE_URL"] == "http://127.0.0.1:8765"
    pinned = create_app(
        {"INSTANCE_PATH": str(tmp_path), "PORT": 8765, "BASE_URL": "http://trustseal.test"}
    )
    assert pinned.config["TRUSTSEAL_BASE_URL"] == "http://trustseal.test"


def test_the_makefile_passes_its_host_and_port_to_the_service():
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    assert "run: export TRUSTSEAL_HOST := $(HOST)" in makefile
    assert "run: export TRUSTSEAL_PORT := $(PORT)" in makefile
    assert "--bind $(HOST):$(PORT)" in makefile
