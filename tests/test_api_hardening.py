"""API hardening: credentials before validation, no control or text-direction characters
in people's text, truncated photos named as such, an OpenAPI document that states what the
code enforces, JSON 405s, and regressions for what schemathesis found."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import marshmallow as ma
import pytest
from flask.views import MethodView
from PIL import Image

from tests.booking import entry_body
from tests.helpers import bearer, make_merchant, make_staff, order_body
from tests.reviewing import image_bytes, post_review, review_body, review_link
from tests.signing_in import make_merchant_user, post_form, sign_in
from trustseal.api.auth import MERCHANT_SECURITY, merchant_required
from trustseal.api.blueprint import Blueprint, MisplacedGuard
from trustseal.api.fields import StrictSchema, forbidden_character, text_pattern
from trustseal.api.pagination import CURSOR_PATTERN
from trustseal.media.images import ImageRejected, process_photo
from trustseal.validators import HOSTNAME_PATTERN, RUC_PATTERN, SLUG_PATTERN

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
RLO_NAME = "\u202egnp.exe"  # shows as "exe.png"


@pytest.fixture
def key(app) -> str:
    """A merchant's API key (slug ``bodega``)."""
    return make_merchant(app)[1]


@pytest.fixture
def staff(app) -> str:
    """An admin's staff token."""
    return make_staff(app, "admin")


@pytest.fixture
def review_id(client, key) -> int:
    """A published review of ``bodega``."""
    return post_review(client, review_link(client, key)).json["id"]


def _spec(client) -> dict[str, Any]:
    return client.get("/api/v1/openapi.json").json


def _secured_operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS and operation.get("security"):
                yield method, path, operation


def _invalid_request(path: str, operation: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A request to the operation that no schema of it accepts (body and query)."""
    url = re.sub(r"\{[^}]+\}", "1", path) + "?limit=0&not_a_parameter=1"
    return url, {"json": {"not_a_field": RLO_NAME}} if "requestBody" in operation else {}


# 1. Credentials before validation ----------------------------------------------------


def test_every_authenticated_operation_answers_401_before_422(app, client, key, staff):
    """Generated from the OpenAPI document: a new route is covered as soon as it exists."""
    app.config["TRUSTSEAL_RATELIMIT_AUTH_FAILURE"] = "100000 per minute"
    credentials = {"merchantKey": key, "staffToken": staff}
    wrong: list[str] = []
    checked = 0
    for method, path, operation in _secured_operations(_spec(client)):
        url, body = _invalid_request(path, operation)
        takes_input = "requestBody" in operation or any(
            p["in"] == "query" for p in operation.get("parameters", [])
        )
        for headers in ({}, bearer("tsk_not-a-key"), bearer("tss_not-a-token")):
            answer = client.open(url, method=method.upper(), headers=headers, **body)
            if answer.status_code != 401 or answer.json["code"] != 401:
                wrong.append(f"{method.upper()} {path} {headers}: {answer.status_code}")
            elif "Bearer" not in answer.headers.get("WWW-Authenticate", ""):
                wrong.append(f"{method.upper()} {path}: no WWW-Authenticate")
        scheme = next(iter(operation["security"][0]))
        authorized = bearer(credentials[scheme])
        answer = client.open(url, method=method.upper(), headers=authorized, **body)
        if takes_input and answer.status_code != 422:  # the request really is invalid
            wrong.append(f"{method.upper()} {path} with {scheme}: {answer.status_code}")
        checked += 1
    assert wrong == []
    assert checked >= 17


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/merchants", {"name": ""}),
        ("/api/v1/merchants/bodega/seal", {"action": "burn"}),
    ],
)
def test_a_role_that_may_not_act_gets_403_before_422(app, client, key, path, body):
    moderator = make_staff(app, "moderator", "mod@cert.pe")
    answer = client.post(path, json=body, headers=bearer(moderator))
    assert answer.status_code == 403 and answer.json["code"] == 403


def test_the_guard_keeps_the_operation_documented(client):
    operation = _spec(client)["paths"]["/api/v1/orders"]["post"]
    assert operation["security"] == MERCHANT_SECURITY
    assert {"200", "201", "422", "default"} <= set(operation["responses"])
    assert operation["requestBody"]["content"]["application/json"]["schema"]
    assert operation["summary"].startswith("Record an order")


def test_a_guard_below_another_decorator_is_refused_at_registration():
    blp = Blueprint("misplaced", __name__)

    class Body(StrictSchema):
        name = ma.fields.String()

    class Misplaced(MethodView):
        @blp.arguments(Body)
        @blp.requires(merchant_required, MERCHANT_SECURITY)
        def post(self, data: dict[str, Any]) -> dict[str, Any]:
            return data

    with pytest.raises(MisplacedGuard, match="above every other decorator"):
        blp.route("/misplaced")(Misplaced)


# 2. Control and text-direction characters --------------------------------------------

FORBIDDEN = [
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u202a",  # LEFT-TO-RIGHT EMBEDDING
    "\u2066",  # LEFT-TO-RIGHT ISOLATE
    "\u2069",  # POP DIRECTIONAL ISOLATE
    "\u200e",  # LEFT-TO-RIGHT MARK
    "\u200f",  # RIGHT-TO-LEFT MARK
    "\u061c",  # ARABIC LETTER MARK
    "\ufeff",  # BYTE ORDER MARK
    "\u2028",  # LINE SEPARATOR
    "\u2029",  # PARAGRAPH SEPARATOR
    "\x00",
    "\x07",
    "\x1b",
    "\x7f",
    "\x85",  # C1: NEXT LINE
    "\x9b",  # C1: CONTROL SEQUENCE INTRODUCER
]


def _merchant_body(**change: Any) -> dict[str, Any]:
    return {"name": "Tienda", "domain": "tienda.pe", "contact_email": "a@tienda.pe", **change}


def _nested(body: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    *parents, leaf = path.split(".")
    node = body
    for parent in parents:
        node = node[parent]
    node[leaf] = value
    return body


# (method, url, credential, body builder, field path in the body)
TEXT_FIELDS = [
    ("post", "/api/v1/merchants", "staff", _merchant_body, "name"),
    ("post", "/api/v1/merchants", "staff", _merchant_body, "legal_name"),
    ("post", "/api/v1/merchants", "staff", _merchant_body, "address"),
    ("post", "/api/v1/orders", "merchant", order_body, "customer.name"),
    ("post", "/api/v1/merchants/bodega/book", None, entry_body, "consumer.name"),
    ("post", "/api/v1/merchants/bodega/book", None, entry_body, "consumer.address"),
    ("post", "/api/v1/merchants/bodega/book", None, entry_body, "item.description"),
    ("post", "/api/v1/merchants/bodega/book", None, entry_body, "detail"),
    ("post", "/api/v1/merchants/bodega/book", None, entry_body, "request"),
    ("post", "/api/v1/merchants/bodega/book", None, entry_body, "order_ref"),
    (
        "post",
        "/api/v1/merchants/bodega/seal",
        "staff",
        lambda: {"action": "suspend", "reason": "Incumple"},
        "reason",
    ),
    ("post", "/api/v1/stores", "merchant", lambda: {"platform": "woocommerce"}, "platform"),
]


@pytest.mark.parametrize(
    ("method", "url", "who", "build", "field"),
    TEXT_FIELDS,
    ids=[f"{url.rsplit('/', 1)[-1]}-{field}" for _, url, _, _, field in TEXT_FIELDS],
)
def test_bidi_and_control_characters_are_refused_naming_the_field(
    client, key, staff, method, url, who, build, field
):
    headers = {"merchant": bearer(key), "staff": bearer(staff), None: {}}[who]
    for char in FORBIDDEN:
        body = _nested(build(), field, f"Ana{char}Lucía")
        answer = client.open(url, method=method.upper(), json=body, headers=headers)
        assert answer.status_code == 422, (char, answer.json)
        errors = answer.json["errors"]["json"]
        for part in field.split("."):
            errors = errors[part]
        assert errors == [
            "Invisible control or text-direction characters are not allowed "
            f"(found U+{ord(char):04X})."
        ]


@pytest.mark.parametrize("field", ["title", "body", "suggestion", "display_name"])
def test_rlo_in_a_review_is_refused_and_nothing_is_published(client, key, field):
    token = review_link(client, key)
    answer = post_review(client, token, **{field: RLO_NAME})
    assert answer.status_code == 422
    assert "U+202E" in answer.json["errors"]["json"][field][0]
    assert post_review(client, token).status_code == 201  # the link was not used up


def test_rlo_in_a_response_flag_and_moderation_is_refused(client, key, staff, review_id):
    refused = [
        client.put(
            f"/api/v1/reviews/{review_id}/response",
            json={"body": f"Gracias {RLO_NAME}"},
            headers=bearer(key),
        ),
        client.post(
            f"/api/v1/reviews/{review_id}/flags",
            json={"reason": "other", "detail": RLO_NAME},
            headers=bearer(key),
        ),
        client.post(
            f"/api/v1/reviews/{review_id}/moderation",
            json={"action": "remove", "reason": f"spam{RLO_NAME}"},
            headers=bearer(staff),
        ),
    ]
    assert [r.status_code for r in refused] == [422, 422, 422]
    assert client.get(f"/api/v1/reviews/{review_id}").json["response"] is None


def test_rlo_in_a_book_answer_is_refused(client, key):
    number = client.post("/api/v1/merchants/bodega/book", json=entry_body()).json["number"]
    answer = client.put(
        f"/api/v1/book/{number}/response", json={"body": RLO_NAME}, headers=bearer(key)
    )
    assert answer.status_code == 422 and "U+202E" in answer.json["errors"]["json"]["body"][0]


def test_multiline_text_keeps_line_breaks_and_tabs_single_line_text_does_not(client, key):
    token = review_link(client, key)
    refused = post_review(client, token, display_name="Ana\nLucía")
    assert (
        refused.status_code == 422 and "U+000A" in refused.json["errors"]["json"]["display_name"][0]
    )
    accepted = post_review(client, token, body="Línea 1\r\nLínea 2\n\tcon sangría")
    assert accepted.status_code == 201, accepted.json
    shown = client.get(f"/api/v1/reviews/{accepted.json['id']}").json
    assert shown["body"] == "Línea 1\r\nLínea 2\n\tcon sangría"


def test_emoji_sequences_and_accents_are_welcome(client, key):
    name = "Ana 👩\u200d💻 Ñandú 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    answer = post_review(client, review_link(client, key), display_name=name)
    assert answer.status_code == 201, answer.json
    assert client.get(f"/api/v1/reviews/{answer.json['id']}").json["display_name"] == name


def test_hidden_characters_in_keys_lists_and_unknown_fields_are_refused(client, key, staff):
    unknown_key = client.post(
        "/api/v1/merchants", json=_merchant_body(**{f"x{RLO_NAME}": 1}), headers=bearer(staff)
    )
    assert unknown_key.status_code == 422
    in_store_settings = client.post(
        "/api/v1/stores",
        json={"platform": "woocommerce", "base_url": f"https://bodega.pe/{RLO_NAME}"},
        headers=bearer(key),
    )
    assert in_store_settings.status_code == 422
    assert "base_url" in in_store_settings.json["errors"]["json"]


def test_a_lone_surrogate_is_422_not_500(client, key):
    token = review_link(client, key)
    raw = review_body(token)
    body = json.dumps(raw)[:-1] + ', "display_name": "Ana \\ud800"}'  # not valid UTF-16
    answer = client.post("/api/v1/reviews", data=body, content_type="application/json")
    assert answer.status_code == 422
    assert "U+D800" in answer.json["errors"]["json"]["display_name"][0]


def test_html_forms_refuse_them_too(app, client, key):
    token = review_link(client, key)
    page = post_form(
        client,
        f"/r/{token}",
        {"rating": "5", "process_rating": "5", "body": "Bien", "display_name": RLO_NAME},
    )
    assert page.status_code == 422
    book = post_form(
        client,
        "/m/bodega/libro",
        {
            "kind": "felicitacion",
            "consumer.name": RLO_NAME,
            "consumer.document_type": "DNI",
            "consumer.document_number": "45678912",
            "consumer.email": "rosa@example.pe",
            "item.type": "servicio",
            "item.description": "Atención",
            "detail": "Muy amables",
        },
    )
    assert book.status_code == 422
    assert client.get("/api/v1/merchants/bodega/reviews").json["items"] == []


def test_the_dashboard_answers_go_through_the_same_rule(app, client):
    key, password = make_merchant_user(app)
    review = post_review(client, review_link(client, key), rating=1).json["id"]
    number = client.post("/api/v1/merchants/bodega/book", json=entry_body()).json["number"]
    dashboard = app.test_client()
    sign_in(dashboard, "duena@bodega.pe", password)
    for path, back in [
        (f"/dashboard/reviews/{review}/answer", "/dashboard/reviews"),
        (f"/dashboard/complaints/{number}/answer", "/dashboard/complaints"),
    ]:
        post_form(dashboard, path, {"body": f"Lo sentimos {RLO_NAME}"}, token_from=back)
        page = dashboard.get(back).get_data(as_text=True)
        assert "Quita los caracteres invisibles" in page
    assert client.get(f"/api/v1/reviews/{review}").json["response"] is None
    entries = client.get("/api/v1/book", headers=bearer(key)).json["items"]
    assert entries[0]["answer"] is None


def test_the_character_rule_is_the_documented_pattern():
    for multiline in (False, True):
        pattern = re.compile(text_pattern(multiline))
        for char in FORBIDDEN:
            assert not pattern.fullmatch(f"a{char}b")
            assert forbidden_character(f"a{char}b", multiline) == f"U+{ord(char):04X}"
        assert pattern.fullmatch("Ñandú 👩\u200d💻 «ok»")
        assert bool(pattern.fullmatch("a\nb\tc\r\n")) is multiline
    assert not re.fullmatch(text_pattern(blank=False), " \u3000 ")
    assert re.fullmatch(text_pattern(blank=False), " a ")


# 3. Truncated photos -----------------------------------------------------------------


def _noisy(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((160, 120), 60).convert("RGB").save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "label"), [("JPEG", "JPEG"), ("PNG", "PNG"), ("WEBP", "WebP")])
@pytest.mark.parametrize("keep", [0.5, 0.9, -2, 30])
def test_a_truncated_photo_is_refused_naming_its_format(fmt, label, keep):
    data = _noisy(fmt)
    cut = data[: int(len(data) * keep)] if isinstance(keep, float) else data[:keep]
    with pytest.raises(ImageRejected) as refused:
        process_photo(cut)
    assert refused.value.code == 422
    assert str(refused.value) == f"The {label} photo is incomplete (the file is truncated)."


def test_a_truncated_jpeg_upload_is_422_naming_jpeg(client, key):
    token = review_link(client, key)
    review = post_review(client, token).json["id"]
    data = _noisy("JPEG")
    answer = client.post(
        f"/api/v1/reviews/{review}/photos",
        data={"photo": (io.BytesIO(data[: len(data) // 2]), "p.jpg")},
        headers={"X-Review-Token": token},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 422
    assert answer.json["message"] == "The JPEG photo is incomplete (the file is truncated)."


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_whole_photos_pass_and_trailing_data_is_still_a_polyglot(fmt):
    assert process_photo(_noisy(fmt)).width == 160
    with pytest.raises(ImageRejected, match="more than one image"):
        process_photo(_noisy(fmt) + b"PK\x03\x04payload")


def test_a_riff_file_that_is_not_webp_is_415():
    with pytest.raises(ImageRejected) as refused:
        process_photo(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 28)
    assert refused.value.code == 415


def test_progressive_restart_marker_and_exif_jpegs_pass():
    image = Image.effect_noise((200, 100), 60).convert("RGB")
    for options in ({"progressive": True}, {"restart_marker_rows": 1}):
        out = io.BytesIO()
        image.save(out, "JPEG", **options)
        assert process_photo(out.getvalue()).width == 200
    assert process_photo(image_bytes(exif=True)).height == 64


# 4. The document states what the code enforces -----------------------------------------


def _request_schemas(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property of every request body schema (nested ones too) and query parameter."""
    components = spec["components"]["schemas"]

    def walk(name: str, schema: dict[str, Any], seen: set[str]) -> Iterator[tuple[str, dict]]:
        if "$ref" in schema:
            ref = schema["$ref"].rsplit("/", 1)[-1]
            if ref not in seen:
                yield from walk(ref, components[ref], seen | {ref})
            return
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                yield from walk(name, schema[key], seen)
        for prop, sub in schema.get("properties", {}).items():
            yield f"{name}.{prop}", sub
            yield from walk(f"{name}.{prop}", sub, seen)

    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for content in operation.get("requestBody", {}).get("content", {}).values():
                yield from walk(f"{method} {path}", content["schema"], set())
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    yield f"{method} {path} ?{parameter['name']}", parameter["schema"]


def test_every_free_string_input_declares_its_characters(client):
    undeclared = [
        where
        for where, schema in _request_schemas(_spec(client))
        if schema.get("type") == "string"
        and not {"pattern", "format", "enum"} & set(schema)
        and where != "post /api/v1/reviews/{review_id}/photos.photo"
    ]
    assert undeclared == []


@pytest.mark.parametrize(
    ("schema", "prop", "pattern"),
    [
        ("MerchantCreate", "slug", SLUG_PATTERN),
        ("MerchantCreate", "ruc", RUC_PATTERN),
        ("MerchantCreate", "domain", HOSTNAME_PATTERN),
        ("MerchantCreate", "country", "^[A-Z]{2}$"),
        ("BookConsumer", "document_number", "^[A-Za-z0-9]{6,12}$"),
        ("BookGuardian", "document_number", "^[A-Za-z0-9]{6,12}$"),
        ("ReviewCreate", "display_name", text_pattern()),
        ("ReviewCreate", "body", text_pattern(multiline=True, blank=False)),
        ("EntryCreate", "detail", text_pattern(multiline=True, blank=False)),
        ("MerchantCreate", "name", text_pattern(blank=False)),
        ("OrderCreate", "external_id", text_pattern(blank=False)),
    ],
)
def test_validators_are_published_as_patterns(client, schema, prop, pattern):
    declared = _spec(client)["components"]["schemas"][schema]["properties"][prop]
    assert declared["pattern"] == pattern


def test_ranges_lengths_enums_and_non_blank_are_published(client):
    schemas = _spec(client)["components"]["schemas"]
    amount = schemas["BookItem"]["properties"]["amount"]
    assert (amount["minimum"], amount["maximum"]) == (0, 10_000_000)
    assert (
        schemas["ReviewCreate"]["properties"]["rating"] | {"minimum": 1, "maximum": 5}
        == (schemas["ReviewCreate"]["properties"]["rating"])
    )
    for name, prop in [("ReviewCreate", "body"), ("MerchantCreate", "name"), ("Answer", "body")]:
        assert schemas[name]["properties"][prop]["minLength"] == 1
    assert schemas["DecisionCreate"]["properties"]["reason"]["minLength"] == 3
    assert set(schemas["DecisionCreate"]["properties"]["action"]["enum"]) >= {"approve", "revoke"}
    orders = _spec(client)["paths"]["/api/v1/orders"]["get"]["parameters"]
    cursor = next(p for p in orders if p["name"] == "cursor")["schema"]
    assert cursor["pattern"] == CURSOR_PATTERN and cursor["maxLength"] == 200


@pytest.mark.parametrize(
    ("change", "accepted"),
    [
        ({"slug": "tienda-2"}, True),
        ({"slug": "Tienda"}, False),
        ({"slug": "tienda-"}, False),
        ({"slug": "tienda\n"}, False),
        ({"ruc": "20100070970"}, True),
        ({"ruc": "2010007097"}, False),
        ({"ruc": "30100070970"}, False),
        ({"domain": "tienda.com.pe"}, True),
        ({"domain": "localhost"}, False),
        ({"name": "   "}, False),
        ({"name": "  Tienda Ñandú  "}, True),
    ],
)
def test_published_patterns_match_what_is_accepted(client, staff, change, accepted):
    declared = _spec(client)["components"]["schemas"]["MerchantCreate"]["properties"]
    ((field, value),) = change.items()
    assert (
        bool(re.fullmatch(declared[field]["pattern"], value.strip() if field == "name" else value))
        is accepted
    )
    answer = client.post("/api/v1/merchants", json=_merchant_body(**change), headers=bearer(staff))
    assert (answer.status_code == 201) is accepted, answer.json


def test_blank_texts_are_refused_where_text_is_required(client, key, staff, review_id):
    number = client.post("/api/v1/merchants/bodega/book", json=entry_body()).json["number"]
    answers = [
        client.put(f"/api/v1/book/{number}/response", json={"body": "   "}, headers=bearer(key)),
        client.post(
            "/api/v1/merchants/bodega/seal",
            json={"action": "suspend", "reason": "     "},
            headers=bearer(staff),
        ),
        client.put(
            f"/api/v1/reviews/{review_id}/response", json={"body": "\n\t "}, headers=bearer(key)
        ),
        client.post("/api/v1/orders", json=order_body(external_id="  "), headers=bearer(key)),
    ]
    assert [a.status_code for a in answers] == [422] * 4
    assert answers[0].json["errors"]["json"]["body"] == ["Must not be blank."]


def test_a_guardian_document_is_checked_like_the_consumers(client, key):
    body = entry_body()
    body["consumer"] |= {
        "minor": True,
        "guardian": {"name": "Rosa", "document_type": "PASAPORTE", "document_number": "ab12345"},
    }
    assert client.post("/api/v1/merchants/bodega/book", json=body).status_code == 201


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "GET"])
def test_unsupported_methods_on_the_photos_route_are_json_405(client, key, method):
    token = review_link(client, key)
    review = post_review(client, token).json["id"]
    answer = client.open(
        f"/api/v1/reviews/{review}/photos",
        method=method,
        data={"photo": (io.BytesIO(image_bytes()), "p.jpg")},
        headers={"X-Review-Token": token},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 405
    assert answer.json == {
        "code": 405,
        "status": "Method Not Allowed",
        "message": answer.json["message"],
    }
    assert "POST" in answer.headers["Allow"]


def test_a_wrong_method_with_a_text_body_is_405_not_415(client):
    answer = client.put("/api/v1/orders", data="x", content_type="text/plain")
    assert answer.status_code == 405 and answer.json["code"] == 405


# 5. Regressions for what schemathesis found ---------------------------------------------


def test_years_before_1000_are_written_with_four_digits(client, key):
    answer = client.post(
        "/api/v1/orders", json=order_body(placed_at="0469-07-17T05:11:13Z"), headers=bearer(key)
    )
    assert answer.status_code == 201
    assert answer.json["placed_at"] == "0469-07-17T05:11:13Z"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_date_outside_the_utc_calendar_is_422_not_500(client, key, moment):
    answer = client.post("/api/v1/orders", json=order_body(placed_at=moment), headers=bearer(key))
    assert answer.status_code == 422
    assert answer.json["errors"]["json"]["placed_at"] == [
        "A date between the years 1 and 9999 (UTC)."
    ]


def test_the_review_and_book_forms_say_why_a_hidden_character_is_refused(app, client, key):
    token = review_link(client, key)
    page = post_form(
        client,
        f"/r/{token}",
        {
            "rating": "5",
            "process_rating": "5",
            "body": "Bien",
            "display_name": "\u202egnp.exe",
        },
    )
    assert page.status_code == 422
    assert "invisibles" in page.get_data(as_text=True)  # "Quita los caracteres invisibles…"
    assert client.get(f"/r/{token}").status_code == 200  # nothing was published


def test_console_texts_refuse_hidden_characters_like_the_api(app, client):
    from tests.signing_in import make_staff_user

    make_merchant(app)
    email, password = make_staff_user(app)
    sign_in(client, email, password)
    answer = post_form(
        client,
        "/console/m/bodega/seal",
        {"action": "approve", "reason": "Cumple todo \u202e"},
        token_from="/console/m/bodega",
    )
    assert answer.status_code == 422
    assert client.get("/api/v1/merchants/bodega/seal/history").json == []
