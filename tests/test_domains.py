"""Verified domains: a shop that signs up itself stays private until it proves it controls
its domain (a DNS TXT record, a file on its site) or staff verify it; a RUC is unique.

No real DNS: TXT lookups go through a stub table, host names through ``StubResolver``;
the "merchant's site" is a loopback server (plain http only with the test setting
``SITE_CHECK_ALLOW_PRIVATE``, else TLS with a test certificate authority).
"""

from __future__ import annotations

import email
import json
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.helpers import bearer, make_merchant, make_staff, serve_in_background
from tests.signing_in import make_staff_user, post_form, sign_in
from tests.sites import LoopbackConnector, StubResolver
from tests.test_accounts import SIGNUP
from trustseal import netguard
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.merchants import service as merchants
from trustseal.transparency.models import LogEntry

PUBLIC_IP = "93.184.215.14"
SLUG = "tienda-sol"
VALID_RUC, OTHER_RUC = "20100070970", "20131312955"
# Every public surface of a merchant (GET); each must answer a pending merchant exactly as
# it answers an unknown slug.
SURFACES = [
    "/m/{slug}",
    "/m/{slug}/libro",
    "/badges/{slug}.svg",
    "/badges/{slug}.png",
    "/badges/{slug}/assertion",
    "/badges/{slug}/libro.svg",
    "/verify/{slug}",
    "/api/v1/merchants/{slug}",
    "/api/v1/merchants/{slug}/score",
    "/api/v1/merchants/{slug}/reviews",
    "/api/v1/merchants/{slug}/praise",
    "/api/v1/merchants/{slug}/badge",
    "/api/v1/merchants/{slug}/seal/history",
]
BINARY = ("/badges/{slug}.svg", "/badges/{slug}.png", "/badges/{slug}/assertion")


# --- no real DNS, ever ------------------------------------------------------------------


class TxtStub:
    """Stands in for ``merchants.lookup_txt``: TXT records from a table; an unknown name
    does not exist. Records every lookup."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.calls: list[tuple[str, float]] = []

    def __call__(self, name: str, timeout: float) -> list[str]:
        self.calls.append((name, timeout))
        if name not in self.records:
            raise merchants.DnsLookupFailed("no_name", "the name does not exist")
        return list(self.records[name])


@pytest.fixture(autouse=True)
def txt(monkeypatch) -> TxtStub:
    """Every test: TXT lookups from a table, host names from an (empty) stub table."""
    stub = TxtStub()
    monkeypatch.setattr(merchants, "lookup_txt", stub)
    monkeypatch.setattr(netguard, "resolve", StubResolver())
    return stub


@pytest.fixture
def hosts(monkeypatch) -> StubResolver:
    """The host-name table the guarded fetch resolves with."""
    stub = StubResolver()
    monkeypatch.setattr(netguard, "resolve", stub)
    return stub


# --- a merchant's web site on loopback ----------------------------------------------------


@contextmanager
def site(
    files: dict[str, tuple[int, dict[str, str], bytes]], tls: ssl.SSLContext | None = None
) -> Iterator[tuple[int, list[str]]]:
    """Serve ``{path: (status, headers, body)}`` on a loopback port (404 elsewhere), over
    TLS with ``tls``; yield the port and the list of paths asked for."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            status, headers, body = files.get(self.path, (404, {}, b"not found"))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    serve_in_background(server)
    try:
        yield server.server_address[1], asked
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for sol.pe: the server's TLS context, and a client
    context that trusts it (what ``netguard.tls_context`` returns in these tests)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sol.pe")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("sol.pe")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client


# --- helpers ----------------------------------------------------------------------------


def outbox(app, folder: Path) -> list[email.message.EmailMessage]:
    """Run the due jobs, then read every email written to the outbox folder."""
    with app.app_context():
        jobs.run_due_jobs()
    return [
        email.message_from_bytes(p.read_bytes(), policy=email_policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


def text_of(message: email.message.EmailMessage) -> str:
    """The plain-text body of an email."""
    return message.get_body(("plain",)).get_content()


def sign_up(app, client, folder: Path, **fields: str) -> str:
    """Sign Tienda Sol up through /signup and confirm it through the emailed link (the
    client is then signed in to its dashboard); its slug."""
    form = {**SIGNUP, **fields}
    answer = post_form(client, "/signup", form)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    links = [
        found.group(1)
        for message in outbox(app, folder)
        if message["To"] == form["email"]
        and (found := re.search(r"http://trustseal.test(/signup/confirm/[\w-]+)", text_of(message)))
    ]
    confirmed = post_form(client, links[-1], {})
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/dashboard"
    return SLUG


def key_of(app, slug: str) -> str:
    """A fresh API key of the merchant (a signed-up shop creates its keys in the dashboard)."""
    with app.app_context():
        key = merchants.issue_api_key(merchants.get_by_slug(slug), "test")
        db.session.commit()
        return key


def pending_merchant(app, slug: str = "pendiente", domain: str = "sol.pe") -> tuple[int, str]:
    """A merchant that signed up itself (not public yet); its id and an API key."""
    with app.app_context():
        created = merchants.create_merchant(
            name=f"Tienda {slug}",
            domain=domain,
            contact_email=f"hola@{slug}.pe",
            slug=slug,
            signed_up=True,
        )
        db.session.commit()
        return created.merchant.id, created.api_key


def proof(app, slug: str) -> str:
    """What the merchant's TXT record or file must say."""
    with app.app_context():
        return merchants.proof_text(merchants.get_by_slug(slug))


def snapshot(client, path: str, slug: str) -> tuple[int, str, Any]:
    """A public answer, comparable between two slugs (the slug itself blanked out)."""
    answer = client.get(path.format(slug=slug))
    kind = answer.headers.get("Content-Type", "")
    if path in BINARY:
        body: Any = None
    elif answer.is_json:
        body = json.loads(answer.get_data(as_text=True).replace(slug, "SLUG"))
    else:
        body = answer.get_data(as_text=True).replace(slug, "SLUG")
    return answer.status_code, kind, body


def assert_private(client, slug: str) -> None:
    """Every public surface answers as for an unknown slug: 404."""
    for path in SURFACES:
        seen = snapshot(client, path, slug)
        assert seen[0] == 404, (path, seen[0])
        assert seen == snapshot(client, path, "no-such-shop"), path
    filed = client.post(f"/api/v1/merchants/{slug}/book", json={"kind": "queja"})
    unknown = client.post("/api/v1/merchants/no-such-shop/book", json={"kind": "queja"})
    assert filed.status_code == unknown.status_code


def assert_public(client, slug: str) -> None:
    """Every public surface answers 200."""
    for path in SURFACES:
        assert client.get(path.format(slug=slug)).status_code == 200, path
    assert client.get(f"/api/v1/merchants/{slug}").json["domain_verified"] is True


def domain_events(app) -> list[dict[str, Any]]:
    """The leaves of every merchant.domain_verified event in the log."""
    with app.app_context():
        leaves = [json.loads(e.leaf) for e in db.session.scalars(select(LogEntry))]
    return [leaf for leaf in leaves if leaf["type"] == "merchant.domain_verified"]


def check(client, key: str, slug: str) -> Any:
    """The merchant's "check my domain" call."""
    return client.post(f"/api/v1/merchants/{slug}/domain/check", headers=bearer(key))


# --- the three ways to become public --------------------------------------------------------


def test_a_signed_up_shop_is_private_until_its_dns_record_proves_the_domain(
    app, client, tmp_path, txt
):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    admin_email, password = make_staff_user(app, "admin")
    slug = sign_up(app, client, tmp_path)
    assert_private(app.test_client(), slug)

    # the shop itself works: its dashboard (with the banner), its key, its domain
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'id="domain-banner"' in page and "Tu perfil todavía no es público." in page
    key = key_of(app, slug)
    assert client.get("/api/v1/orders", headers=bearer(key)).status_code == 200
    state = client.get(f"/api/v1/merchants/{slug}/domain", headers=bearer(key)).json
    value = proof(app, slug)
    assert state["status"] == "pending" and state["domain"] == "sol.pe"
    assert state["dns_txt"] == {"name": "_trustseal.sol.pe", "value": value}
    assert state["http_file"] == {
        "url": "https://sol.pe/.well-known/trustseal.txt",
        "content": value,
    }
    assert value.startswith("trustseal-verification=") and len(value) > 40
    # staff see it in the console
    staff = app.test_client()
    sign_in(staff, admin_email, password)
    console = staff.get(f"/console/m/{slug}").get_data(as_text=True)
    assert "sin verificar" in console and "_trustseal.sol.pe" in console

    txt.records["_trustseal.sol.pe"] = ["v=spf1 -all", value]
    answer = check(client, key, slug)
    assert answer.status_code == 200 and answer.json == {"status": "verified", "method": "dns"}
    assert txt.calls == [("_trustseal.sol.pe", 5.0)]
    assert_public(app.test_client(), slug)
    state = client.get(f"/api/v1/merchants/{slug}/domain", headers=bearer(key)).json
    assert state["status"] == "verified" and state["method"] == "dns" and state["verified_at"]
    assert [(e["merchant"], e["method"]) for e in domain_events(app)] == [(slug, "dns")]
    assert "domain-banner" not in client.get("/dashboard").get_data(as_text=True)
    # checking again changes nothing and looks nothing up
    assert check(client, key, slug).json == {"status": "verified", "method": "dns"}
    assert len(txt.calls) == 1 and len(domain_events(app)) == 1


def test_the_file_on_a_loopback_site_proves_the_domain_with_the_test_setting(
    app, client, hosts, monkeypatch
):
    app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"] = True
    _, key = pending_merchant(app)
    value = proof(app, "pendiente")
    files = {"/.well-known/trustseal.txt": (200, {"Content-Type": "text/plain"}, value.encode())}
    with site(files) as (port, asked):
        connector = LoopbackConnector(port)
        monkeypatch.setattr(netguard, "open_connection", connector)
        hosts.table["sol.pe"] = ["127.0.0.1"]
        answer = check(client, key, "pendiente")
    assert answer.status_code == 200, answer.json
    assert answer.json == {"status": "verified", "method": "http"}
    assert asked == ["/.well-known/trustseal.txt"] and connector.opened == [("127.0.0.1", 80)]
    assert_public(client, "pendiente")
    assert [e["method"] for e in domain_events(app)] == ["http"]


def test_the_file_over_https_on_a_public_address_proves_the_domain(
    app, client, hosts, monkeypatch, test_ca
):
    server_tls, client_tls = test_ca
    monkeypatch.setattr(netguard, "tls_context", lambda: client_tls)
    _, key = pending_merchant(app)
    body = f"# trustseal\n{proof(app, 'pendiente')}\n".encode()
    with site({"/.well-known/trustseal.txt": (200, {}, body)}, server_tls) as (port, asked):
        connector = LoopbackConnector(port)
        monkeypatch.setattr(netguard, "open_connection", connector)
        hosts.table["sol.pe"] = [PUBLIC_IP]
        answer = check(client, key, "pendiente")
    assert answer.json == {"status": "verified", "method": "http"}
    assert connector.opened == [(PUBLIC_IP, 443)] and asked == ["/.well-known/trustseal.txt"]


def test_staff_verify_with_a_reason(app, client, tmp_path):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    _, key = pending_merchant(app)
    certifier = make_staff(app, "certifier")
    url = "/api/v1/merchants/pendiente/domain"
    reason = "Llamamos al teléfono publicado en sol.pe y confirmaron la cuenta."
    assert client.post(url, json={"status": "verified", "reason": reason}).status_code == 401
    for who in (make_staff(app, "moderator", "mod@cert.pe"), key):
        answer = client.post(
            url, json={"status": "verified", "reason": reason}, headers=bearer(who)
        )
        assert answer.status_code == 403
    for body in (
        {"status": "verified"},
        {"status": "verified", "reason": "  "},
        {"status": "pending", "reason": reason},
        {"status": "verified", "reason": "ok\u202e"},
    ):
        assert client.post(url, json=body, headers=bearer(certifier)).status_code == 422, body
    assert (
        client.post(
            "/api/v1/merchants/no-such-shop/domain",
            json={"status": "verified", "reason": reason},
            headers=bearer(certifier),
        ).status_code
        == 404
    )
    assert_private(client, "pendiente")  # refused requests changed nothing

    answer = client.post(
        url, json={"status": "verified", "reason": reason}, headers=bearer(certifier)
    )
    assert answer.status_code == 200
    assert answer.json["status"] == "verified" and answer.json["method"] == "staff"
    assert_public(client, "pendiente")
    with app.app_context():
        merchant = merchants.get_by_slug("pendiente")
        assert merchant.domain_reason == reason and merchant.domain_verified_at is not None
    # once verified, staff verifying again changes nothing
    again = client.post(
        url, json={"status": "verified", "reason": "otra"}, headers=bearer(certifier)
    )
    assert again.status_code == 200 and again.json["method"] == "staff"
    assert [e["method"] for e in domain_events(app)] == ["staff"]
    (sent,) = [m for m in outbox(app, tmp_path) if m["To"] == "hola@pendiente.pe"]
    assert sent["Subject"] == "Tu dominio sol.pe está verificado"
    assert "http://trustseal.test/m/pendiente" in text_of(sent)
    assert "por el equipo de la certificadora" in text_of(sent)


def test_staff_verify_in_the_console(app, client):
    pending_merchant(app)
    email_, password = make_staff_user(app, "certifier")
    sign_in(client, email_, password)
    short = post_form(
        client, "/console/m/pendiente/domain", {"reason": "x"}, "/console/m/pendiente"
    )
    assert short.status_code == 302
    assert_private(app.test_client(), "pendiente")
    done = post_form(
        client,
        "/console/m/pendiente/domain",
        {"reason": "Revisamos el WHOIS y el correo del dominio."},
        "/console/m/pendiente",
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("#domain")
    assert_public(app.test_client(), "pendiente")
    page = client.get("/console/m/pendiente").get_data(as_text=True)
    assert "Revisamos el WHOIS" in page and "verificado" in page


# --- what does not prove a domain -----------------------------------------------------------


def _refused(answer: Any) -> str:
    assert answer.status_code == 409, answer.json
    return answer.json["message"]


def test_a_wrong_or_missing_record_and_a_private_file_are_409_and_change_nothing(
    app, client, tmp_path, txt, hosts, monkeypatch
):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    _, key = pending_merchant(app)
    value = proof(app, "pendiente")

    # no record at all, no host either
    message = _refused(check(client, key, "pendiente"))
    assert "_trustseal.sol.pe" in message and value in message and "no such name" in message
    assert (
        "https://sol.pe/.well-known/trustseal.txt" in message and "cannot resolve sol.pe" in message
    )

    # a record with another merchant's token; the file on a private address (no test setting)
    txt.records["_trustseal.sol.pe"] = ["trustseal-verification=not-the-right-token"]
    hosts.table["sol.pe"] = ["10.0.0.7"]
    monkeypatch.setattr(netguard, "open_connection", LoopbackConnector(1))  # never used
    answer = check(client, key, "pendiente")
    message = _refused(answer)
    assert "found only 'trustseal-verification=not-the-right-token'" in message
    assert "sol.pe resolves to 10.0.0.7, which is not a public address" in message
    findings = answer.json["errors"]["domain"]
    assert set(findings) == {"dns_txt", "http_file"}
    assert netguard.open_connection.opened == []

    # the name exists without a TXT record; the file is served but says something else
    txt.records["_trustseal.sol.pe"] = []
    app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"] = True
    hosts.table["sol.pe"] = ["127.0.0.1"]
    with site({"/.well-known/trustseal.txt": (200, {}, b"hola")}) as (port, _asked):
        monkeypatch.setattr(netguard, "open_connection", LoopbackConnector(port))
        message = _refused(check(client, key, "pendiente"))
    assert "the name has no TXT record" in message and "holds 'hola'" in message
    with site({}) as (port, _asked):  # no file: 404
        monkeypatch.setattr(netguard, "open_connection", LoopbackConnector(port))
        assert "HTTP 404" in _refused(check(client, key, "pendiente"))

    assert_private(client, "pendiente")
    with app.app_context():
        merchant = merchants.get_by_slug("pendiente")
        assert (merchant.domain_status, merchant.domain_method) == ("pending", None)
    assert domain_events(app) == [] and outbox(app, tmp_path) == []


def test_plain_http_to_a_public_address_is_never_fetched(app, client, hosts, monkeypatch):
    app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"] = True  # loopback only: not a public host
    _, key = pending_merchant(app)
    connector = LoopbackConnector(1)
    monkeypatch.setattr(netguard, "open_connection", connector)
    hosts.table["sol.pe"] = [PUBLIC_IP]
    message = _refused(check(client, key, "pendiente"))
    assert "only https:// addresses are fetched" in message and connector.opened == []


@pytest.mark.parametrize(
    ("location", "refused"),
    [
        ("https://interno.sol.pe/trustseal.txt", "interno.sol.pe resolves to 10.0.0.5"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254, which is not a public"),
        ("https://[::ffff:127.0.0.1]/", "IPv4-mapped form of 127.0.0.1, loopback"),
        ("http://sol.pe/trustseal.txt", "only https:// addresses are fetched"),
    ],
)
def test_a_redirect_from_the_file_to_a_private_or_plain_address_is_refused(
    app, client, hosts, monkeypatch, test_ca, location, refused
):
    server_tls, client_tls = test_ca
    monkeypatch.setattr(netguard, "tls_context", lambda: client_tls)
    _, key = pending_merchant(app)
    files = {"/.well-known/trustseal.txt": (302, {"Location": location}, b"")}
    with site(files, server_tls) as (port, asked):
        connector = LoopbackConnector(port)
        monkeypatch.setattr(netguard, "open_connection", connector)
        hosts.table.update({"sol.pe": [PUBLIC_IP], "interno.sol.pe": ["10.0.0.5"]})
        message = _refused(check(client, key, "pendiente"))
    assert refused in message
    assert connector.opened == [(PUBLIC_IP, 443)]  # never connected to the redirect's target
    assert asked == ["/.well-known/trustseal.txt"]
    assert_private(client, "pendiente")


def test_a_large_file_is_read_only_up_to_one_kilobyte(app, client, hosts, monkeypatch):
    app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"] = True
    _, key = pending_merchant(app)
    body = b"x" * 5000 + proof(app, "pendiente").encode()
    with site({"/.well-known/trustseal.txt": (200, {}, body)}) as (port, _asked):
        monkeypatch.setattr(netguard, "open_connection", LoopbackConnector(port))
        hosts.table["sol.pe"] = ["127.0.0.1"]
        assert "does not say it" in _refused(check(client, key, "pendiente"))
    result = netguard.fetch(
        "http://127.0.0.1:1/",
        max_bytes=10,
        timeout=0.5,
        deadline=0.5,
        allow_private=True,
        resolver=StubResolver(),
        https_only=True,
    )
    assert result.failure == "network" and result.status is None


def test_checks_are_limited_per_merchant(app, client):
    _, key = pending_merchant(app)
    _, other = pending_merchant(app, "otra", "otra.pe")
    for _ in range(5):
        assert check(client, key, "pendiente").status_code == 409
    limited = check(client, key, "pendiente")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert check(client, other, "otra").status_code == 409  # another merchant's own quota


# --- who may see and do what ----------------------------------------------------------------


def test_a_merchant_cannot_read_or_check_another_merchants_domain(app, client, txt):
    _, mine = pending_merchant(app)
    _, theirs = pending_merchant(app, "ajena", "ajena.pe")
    txt.records["_trustseal.ajena.pe"] = [proof(app, "ajena")]
    for path in ("/api/v1/merchants/ajena/domain",):
        answer = client.get(path, headers=bearer(mine))
        assert answer.status_code == 404
        assert (
            answer.json
            == client.get("/api/v1/merchants/no-such-shop/domain", headers=bearer(mine)).json
        )
    assert check(client, mine, "ajena").status_code == 404
    assert txt.calls == []  # nothing was looked up for it
    assert client.get("/api/v1/merchants/ajena/domain").status_code == 401
    staff = make_staff(app, "admin")
    assert client.get("/api/v1/merchants/ajena/domain", headers=bearer(staff)).status_code == 403
    assert check(client, staff, "ajena").status_code == 403
    # a pending merchant's own key keeps working on its own data, not on other merchants'
    assert client.get("/api/v1/merchants/pendiente/domain", headers=bearer(mine)).status_code == 200
    assert client.get("/api/v1/merchants/ajena/score", headers=bearer(mine)).status_code == 404
    assert check(client, theirs, "ajena").json["method"] == "dns"


def test_staff_created_merchants_are_verified(app, client, runner):
    from trustseal import demo

    token = make_staff(app, "certifier")
    body = {"name": "Librería Ñandú", "domain": "nandu.pe", "contact_email": "hola@nandu.pe"}
    created = client.post("/api/v1/merchants", json=body, headers=bearer(token))
    assert created.status_code == 201 and created.json["domain_verified"] is True
    key = created.json["api_key"]
    state = client.get("/api/v1/merchants/libreria-nandu/domain", headers=bearer(key)).json
    assert state["status"] == "verified" and state["method"] == "created"
    cli = runner.invoke(
        args=["merchants", "create", "--name", "Sol", "--domain", "sol.pe", "--email", "a@sol.pe"]
    )
    assert cli.exit_code == 0, cli.output
    with app.app_context():
        demo.load(purchase_count=3)
        db.session.commit()
    for slug in ("libreria-nandu", "sol", "tienda-demo"):
        assert client.get(f"/api/v1/merchants/{slug}").json["domain_verified"] is True
        assert client.get(f"/m/{slug}").status_code == 200
    assert domain_events(app) == []  # nothing to prove: created verified


# --- one merchant per RUC -----------------------------------------------------------------


def test_a_ruc_already_used_is_409_on_the_api_the_cli_and_the_signup_form(
    app, client, runner, tmp_path, monkeypatch
):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    make_merchant(app, "primera", name="Primera S.A.C.", ruc=VALID_RUC)
    token = make_staff(app)
    body = {"name": "Copia", "domain": "copia.pe", "contact_email": "a@copia.pe", "ruc": VALID_RUC}
    answer = client.post("/api/v1/merchants", json=body, headers=bearer(token))
    assert answer.status_code == 409
    assert answer.json["message"] == "Another merchant is registered with this RUC."
    assert answer.json["errors"] == {"json": {"ruc": [answer.json["message"]]}}
    assert "Primera" not in answer.get_data(as_text=True)

    cli = runner.invoke(
        args=[
            "merchants",
            "create",
            "--name",
            "Copia",
            "--domain",
            "copia.pe",
            "--email",
            "a@copia.pe",
            "--ruc",
            VALID_RUC,
        ]
    )
    assert cli.exit_code != 0 and "registered to another merchant" in cli.output

    form = post_form(client, "/signup", {**SIGNUP, "ruc": VALID_RUC})
    assert form.status_code == 409
    page = form.get_data(as_text=True)
    field = page[page.index('id="ruc"') : page.index('id="address"')]
    assert "Este RUC ya está registrado con otra tienda." in field
    assert "Primera" not in page and "primera" not in page
    assert outbox(app, tmp_path) == []  # no confirmation link sent

    # two requests racing: the check passes for both, the unique constraint decides
    monkeypatch.setattr(merchants, "ruc_taken", lambda ruc: False)
    raced = client.post("/api/v1/merchants", json=body, headers=bearer(token))
    assert raced.status_code == 409 and raced.json["errors"]["json"]["ruc"]
    with app.app_context():
        from trustseal.merchants.models import Merchant

        assert db.session.scalar(select(func.count()).select_from(Merchant)) == 1


def test_a_ruc_taken_between_signup_and_confirmation_is_refused_and_the_link_kept(
    app, client, tmp_path
):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    assert post_form(client, "/signup", {**SIGNUP, "ruc": OTHER_RUC}).status_code == 200
    (sent,) = outbox(app, tmp_path)
    path = re.search(r"http://trustseal.test(/signup/confirm/[\w-]+)", text_of(sent)).group(1)
    make_merchant(app, "rapida", ruc=OTHER_RUC)
    refused = post_form(client, path, {})
    assert refused.status_code == 409 and "Otra tienda registró este RUC" in refused.get_data(
        as_text=True
    )
    assert client.get("/dashboard").status_code == 302  # not signed in, nothing created
    with app.app_context():
        assert merchants.get_by_slug(SLUG) is None


@pytest.mark.parametrize("ruc", ["20100070971", "123", "2010007097X"])
def test_a_malformed_ruc_is_422(app, client, runner, ruc):
    token = make_staff(app)
    body = {"name": "Copia", "domain": "copia.pe", "contact_email": "a@copia.pe", "ruc": ruc}
    answer = client.post("/api/v1/merchants", json=body, headers=bearer(token))
    assert answer.status_code == 422 and "ruc" in answer.json["errors"]["json"]
    form = post_form(client, "/signup", {**SIGNUP, "ruc": ruc})
    assert form.status_code == 422
    page = form.get_data(as_text=True)
    assert "check digit" in page[page.index('id="ruc"') : page.index('id="address"')]
    cli = runner.invoke(
        args=[
            "merchants",
            "create",
            "--name",
            "C",
            "--domain",
            "c.pe",
            "--email",
            "a@c.pe",
            "--ruc",
            ruc,
        ]
    )
    assert cli.exit_code != 0 and "ruc" in cli.output


# --- emails -----------------------------------------------------------------------------------


def test_staff_are_told_of_a_signup_and_the_merchant_of_its_verified_domain(
    app, client, tmp_path, txt
):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    make_staff_user(app, "admin", "admin@cert.pe")
    make_staff_user(app, "certifier", "cert@cert.pe")
    make_staff_user(app, "moderator", "mod@cert.pe")
    make_staff_user(app, "certifier", "ex@cert.pe")
    with app.app_context():
        from trustseal.staff.models import StaffUser

        db.session.scalars(
            select(StaffUser).where(StaffUser.email == "ex@cert.pe")
        ).one().disabled_at = datetime.now(UTC)
        db.session.commit()
    slug = sign_up(app, client, tmp_path)
    told = {m["To"]: m for m in outbox(app, tmp_path) if m["To"].endswith("@cert.pe")}
    assert set(told) == {"admin@cert.pe", "cert@cert.pe"}
    notice = told["cert@cert.pe"]
    assert notice["Subject"] == "Nueva tienda registrada: Tienda Sol"
    assert "Tienda Sol (sol.pe)" in text_of(notice)
    assert f"http://trustseal.test/console/m/{slug}" in text_of(notice)

    txt.records["_trustseal.sol.pe"] = [proof(app, slug)]
    assert check(client, key_of(app, slug), slug).status_code == 200
    (verified,) = [m for m in outbox(app, tmp_path) if m["To"] == "hola@sol.pe"]
    assert verified["Subject"] == "Tu dominio sol.pe está verificado"
    assert "con su registro TXT en el DNS" in text_of(verified)
    assert f"http://trustseal.test/m/{slug}" in text_of(verified)


# --- the dashboard --------------------------------------------------------------------------


def test_the_dashboard_explains_both_methods_and_checks(app, client, tmp_path, txt):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    slug = sign_up(app, client, tmp_path)
    value = proof(app, slug)
    for path in ("/dashboard", "/dashboard/reviews", "/dashboard/keys", "/dashboard/badge"):
        assert 'id="domain-banner"' in client.get(path).get_data(as_text=True), path
    page = client.get("/dashboard/domain")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "_trustseal.sol.pe" in text and value in text
    assert "https://sol.pe/.well-known/trustseal.txt" in text
    assert "Opción 1: un registro TXT en el DNS" in text and "Comprobar" in text
    assert "style=" not in text and "<script>" not in text
    assert "Content-Security-Policy" in page.headers

    failed = post_form(client, "/dashboard/domain/check", {}, "/dashboard/domain")
    assert failed.status_code == 409
    shown = failed.get_data(as_text=True)
    assert "Todavía no pudimos verificar tu dominio." in shown
    assert "El nombre _trustseal.sol.pe no existe (todavía) en el DNS." in shown
    assert client.post("/dashboard/domain/check", data={}).status_code == 400  # no CSRF token

    txt.records["_trustseal.sol.pe"] = [value]
    done = post_form(client, "/dashboard/domain/check", {}, "/dashboard/domain")
    assert done.status_code == 302 and done.headers["Location"] == "/dashboard/domain"
    after = client.get("/dashboard/domain").get_data(as_text=True)
    assert "Tu dominio está verificado: tu perfil ya es público." in after
    assert 'id="domain-verified"' in after and "domain-banner" not in after
    assert client.get(f"/m/{slug}").status_code == 200
