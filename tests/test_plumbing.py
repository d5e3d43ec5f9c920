"""API plumbing: OpenAPI, docs, health, error format everywhere, limits, logs."""

from __future__ import annotations

import json
import logging
import re

import pytest
from openapi_spec_validator import validate

from tests.helpers import bearer, make_merchant, make_staff


def test_openapi_document_is_valid_openapi_3(client):
    spec = client.get("/api/v1/openapi.json").json
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/orders" in spec["paths"]
    assert "merchantKey" in spec["components"]["securitySchemes"]


def test_docs_page_lists_every_operation(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/orders/{order_id}/invitation" in html
    assert "cdn" not in html.lower() and "https://" not in html


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_readiness_fails_without_database(tmp_path):
    from trustseal import create_app

    broken = create_app(
        {
            "ENV": "testing",
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        }
    )
    answer = broken.test_client().get("/readyz")
    assert answer.status_code == 503 and answer.json["status"] == "unavailable"


def test_error_format_for_unknown_route_and_wrong_method(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert set(missing.json) >= {"code", "status", "message"}
    wrong = client.delete("/api/v1/orders")
    assert wrong.status_code == 405 and wrong.json["code"] == 405
    assert "GET" in wrong.headers["Allow"]
    assert client.get("/api/v1/orders/99999999999999999999").status_code == 404
    assert client.get("/api/v1/orders/0").status_code == 404


def test_pages_get_html_errors(client):
    answer = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert answer.status_code == 404
    assert answer.content_type.startswith("text/html")
    assert "404" in answer.get_data(as_text=True)


def test_failed_authentication_is_throttled(app, client):
    app.config["TRUSTSEAL_RATELIMIT_AUTH_FAILURE"] = "3 per minute"
    codes = [
        client.get("/api/v1/orders", headers=bearer("tsk_guess")).status_code for _ in range(5)
    ]
    assert codes == [401, 401, 401, 429, 429]
    answer = client.get("/api/v1/orders", headers=bearer("tsk_guess"))
    assert answer.json["code"] == 429 and answer.json["message"]


def test_bad_keys_are_counted_per_key_prefix_and_a_valid_key_is_never_throttled(app, client):
    _, key = make_merchant(app)
    app.config["TRUSTSEAL_RATELIMIT_AUTH_FAILURE"] = "2 per minute"
    guesses = [
        client.get("/api/v1/orders", headers=bearer(f"tsk_AAAAAA{n}")).status_code for n in range(3)
    ]
    assert guesses == [401, 401, 429]
    # another merchant's broken integration at the same address is not locked out
    assert client.get("/api/v1/orders", headers=bearer("tsk_BBBBBBx")).status_code == 401
    assert client.get("/api/v1/orders", headers=bearer(key)).status_code == 200


def test_a_public_write_is_counted_before_its_body_is_read(app, client):
    app.config["TRUSTSEAL_RATELIMIT_PUBLIC_WRITE"] = "3 per minute"
    codes = [client.post("/api/v1/reviews", json={"rating": "x"}).status_code for _ in range(4)]
    assert codes == [422, 422, 422, 429]  # invalid requests count too


def test_a_valid_key_on_a_staff_route_is_403_and_a_staff_token_on_a_merchant_route_too(app, client):
    _, key = make_merchant(app)
    staff = make_staff(app, "admin")
    assert client.post("/api/v1/merchants", json={}, headers=bearer(key)).status_code == 403
    assert client.get("/api/v1/orders", headers=bearer(staff)).status_code == 403
    assert client.get("/api/v1/orders", headers=bearer("tss_nope")).status_code == 401


def test_request_id_and_json_access_log(client, caplog):
    logger = logging.getLogger("trustseal.access")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="trustseal.access"):
            answer = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    finally:
        logger.removeHandler(caplog.handler)
    assert answer.headers["X-Request-Id"] == "abc-123"
    record = next(r for r in caplog.records if r.name == "trustseal.access")
    assert record.path == "/healthz" and record.status == 200 and record.request_id == "abc-123"
    from trustseal.logs import JsonFormatter

    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "request" and line["status"] == 200


BAD_BODIES = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"text"',
    b"12",
    b'{"a": 1}',
    json.dumps({k: None for k in ("name", "domain", "external_id", "status", "items")}).encode(),
    json.dumps({"external_id": {"x": 1}, "status": ["paid"], "items": "no"}).encode(),
    b'{"\xff": 1}',
]


QUERIES = [
    "",
    "?limit=-5&cursor=%%%&status=%00",
    "?limit=1e9&external_id=&start=-1&end=x",
    "?index=99999999999999999999&tree_size=-1&first=2&second=1&rating=9",
]


def _operations(spec):
    for path, item in spec["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                yield method, path


def _concrete(path: str) -> list[str]:
    """Fill path parameters with odd values."""
    variants = []
    for value in ("1", "0", "abc", "99999999999999999999", "%00", "tienda-demo"):
        variants.append(re.sub(r"\{[^}]+\}", value, path))
    return variants


@pytest.mark.parametrize("who", ["anonymous", "merchant", "staff"])
def test_every_endpoint_with_bad_input_never_500(app, client, who):
    """Walk every operation of the OpenAPI document with bad input as each kind of caller."""
    app.config["TRUSTSEAL_RATELIMIT_AUTH_FAILURE"] = "100000 per minute"
    _, merchant_key = make_merchant(app, slug="tienda-demo")
    headers = {"anonymous": {}, "merchant": bearer(merchant_key), "staff": bearer(make_staff(app))}[
        who
    ]
    spec = client.get("/api/v1/openapi.json").json
    checked = 0
    for method, path in _operations(spec):
        for url in _concrete(path):
            # Queries matter to reads, bodies to writes: walk each where it matters.
            queries = QUERIES if method == "get" else QUERIES[:1]
            bodies = BAD_BODIES if method != "get" else BAD_BODIES[:1]
            for query in queries:
                for body in bodies:
                    answer = client.open(
                        url + query,
                        method=method.upper(),
                        data=body,
                        headers=headers | {"Content-Type": "application/json"},
                    )
                    checked += 1
                    assert answer.status_code < 500, (method, url, query, body, answer.json)
                    if answer.status_code >= 400:
                        assert answer.json["code"] == answer.status_code
                        assert answer.json["message"]
    assert checked > 100


def test_an_unhandled_error_on_a_secret_route_logs_no_secret(app, client, monkeypatch, caplog):
    from trustseal.public import reviews as review_pages

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(review_pages.service, "invitation_context", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    caplog.set_level(logging.ERROR)
    app.logger.addHandler(caplog.handler)
    try:
        answer = client.get("/r/SECRET-review-token-123")
    finally:
        app.logger.removeHandler(caplog.handler)
    assert answer.status_code == 500
    assert "Exception on /r/<token> [GET]" in caplog.text
    assert "SECRET-review-token-123" not in caplog.text


@pytest.mark.parametrize(
    "path",
    ["/r/SECRET-1", "/libro/AAAA-BBBB-CCCC-DDDD", "/login/reset/SECRET-2", "/signup/confirm/S-3"],
)
def test_a_page_whose_url_is_a_secret_sends_no_referrer(client, path):
    answer = client.get(path)
    assert answer.content_type.startswith("text/html")
    assert answer.headers["Referrer-Policy"] == "no-referrer"


def test_gunicorn_access_lines_redact_the_path_and_the_referrer():
    from types import SimpleNamespace

    from gunicorn.config import Config

    from trustseal.logs import LOG_PATH_KEY, GunicornLogger

    logger = GunicornLogger(Config())
    took = SimpleNamespace(seconds=0, microseconds=1)
    request = SimpleNamespace(
        headers=[
            ("Referer", "https://sello.pe/libro/AAAA-SECRET-CODE"),
            ("X-Review-Token", "SECRET"),
        ],
        method="GET",
        path="-",
        query="",
    )
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/static/site.css",
        "PATH_INFO": "/static/site.css",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": "https://sello.pe/libro/AAAA-SECRET-CODE",
        "HTTP_X_REVIEW_TOKEN": "SECRET",
        "QUERY_STRING": "next=/r/SECRET",
        LOG_PATH_KEY: "/static/site.css",
    }
    atoms = logger.atoms(response, request, environ, took)
    assert atoms["f"] == "https://sello.pe" and "SECRET" not in str(atoms)
    # a request the application never saw keeps only the head of its path
    unseen = {**environ, "PATH_INFO": "/r/SECRET-token", "RAW_URI": "/r/SECRET-token"}
    del unseen[LOG_PATH_KEY]
    atoms = logger.atoms(response, request, unseen, took)
    assert atoms["U"] == "/r/<redacted>" and "SECRET" not in atoms["r"]


def test_an_ipv6_client_is_limited_by_its_64_network(app, client):
    app.config["TRUSTSEAL_RATELIMIT_PUBLIC_WRITE"] = "2 per minute"
    codes = [
        client.post(
            "/api/v1/reviews",
            json={"rating": "x"},
            environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{n:x}"},
        ).status_code
        for n in range(1, 4)
    ]
    assert codes == [422, 422, 429]  # three addresses of one /64: one bucket
    other = client.post(
        "/api/v1/reviews", json={"rating": "x"}, environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"}
    )
    assert other.status_code == 422  # the next /64 is someone else
