"""Importing reviews from a shop's previous provider (API.md "Merchant growth"): trustseal's
CSV columns and the exports of Judge.me, Yotpo and Trustpilot; a job that reads the file
in chunks, each committed with its progress; rows left out reported by their row number;
duplicates skipped; every imported review a ``review.imported`` leaf that ``log verify``
checks; shown apart as "Imported · not verified" and never in the score or the badge."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from tests.helpers import approve_seal, bearer, make_merchant, tamper
from tests.reviewing import publish_review
from tests.signing_in import csrf, make_merchant_user, sign_in
from trustseal.api.uploads import allow_upload
from trustseal.extensions import db
from trustseal.imports import formats
from trustseal.imports import service as imports
from trustseal.imports.formats import Problem
from trustseal.imports.models import ImportedReview, ReviewImport
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.transparency import service as log
from trustseal.transparency.models import LogEntry

NOW = datetime(2026, 12, 1, tzinfo=UTC)

GENERIC = (
    "date,rating,title,body,author,product_id\n"
    '2025-03-02,5,Excelente,"Llegó rápido, muy buen café.",Lucía Quispe,cafe-500\n'
    "2025-03-05,0,Mal,Texto,Ana,\n"
    "2025-13-01,4,,Bien,Ana,\n"
    "\n"
    "2025-03-06,4,Sin texto,,Ana,\n"
    '2025-03-07 10:00:00,3,Regular,"Escríbeme a ana@correo.pe\n'
    'o al 987 654 321",ana@correo.pe,\n'
    "2025-03-08,4,Oculto\u202e,Bueno,Pedro,\n"
)
JUDGEME = (
    "title,body,rating,review_date,source,curated,reviewer_name,reviewer_email,product_id,"
    "product_handle,reply,reply_date,picture_urls,ip_address,location\n"
    'Top,"Muy buena calidad, llegó rápido.",5,2025-03-02 10:12:00 UTC,web,ok,Camila Rojas,'
    "c@x.pe,7012345678,crema,,,,1.1.1.1,PE\n"
    "Spam,Compren relojes baratos aquí,5,2025-01-10 UTC,web,spam,Bot,b@x.pe,1,x,,,,,\n"
    ",Sin estrellas,,2025-01-11 08:00:00 UTC,web,ok,Marco,m@x.pe,,crema,,,,,\n"
    "Bof,Regular nomás,3,2025-01-12 09:00:00 UTC,web,ok,Marco Díaz,m@x.pe,,crema,,,,,\n"
)
YOTPO = (
    "Review Title;Review Content;Review Score;Date;Product ID;Product Title;Display Name;Email\n"
    'Super;"Lo recomiendo ; de verdad";5;15/03/2025;999;Bolso;Ana López;a@x.pe\n'
    "Bien;Bonito;4;03/04/2025;999;Bolso;Ana López;a@x.pe\n"
    "Malo;Roto;4.5;2025-03-01;999;Bolso;Luis;l@x.pe\n"
    "Futuro;Texto;4;2099-01-01;999;Bolso;Luis;l@x.pe\n"
)
TRUSTPILOT = (
    "\ufeffReview Id,Review Created (UTC),Review Consumer User Id,Review Title,Review Content,"
    "Review Stars,Source Of Review,Review Language,Domain URL,Webshop Name,Business Unit Id,"
    "Tags,Company Reply Date (UTC),Reply Content,Review Username\n"
    "r1,2024-11-05T08:00:00.000Z,u1,Great,Fast delivery,5,AFSv2,en,bodega.pe,Bodega,bu1,,,,"
    "Rosa Mendoza\n"
    'r2,2024-11-06 09:30:00,u2,Meh,"",2,Organic,es,bodega.pe,Bodega,bu1,,,,Juan\n'
    "r3,not a date,u3,X,Texto,4,Organic,es,bodega.pe,Bodega,bu1,,,,Juan\n"
    f"r4,2024-11-07 10:00:00,u4,{'Largo ' * 40},Ok,4,Organic,es,bodega.pe,Bodega,bu1,,,,Eva\n"
)

# format → (file, its name, imported, [(row, problem)])
CASES: dict[str, tuple[str, str, int, list[tuple[int, Problem]]]] = {
    "trustseal": (
        GENERIC,
        "resenas.csv",
        2,
        [
            (3, Problem.RATING_INVALID),
            (4, Problem.DATE_INVALID),
            (6, Problem.BODY_MISSING),
            (8, Problem.HIDDEN_CHARACTER),  # row 7 spans two lines of the file
        ],
    ),
    "judgeme": (JUDGEME, "judgeme.csv", 2, [(3, Problem.SPAM), (4, Problem.RATING_MISSING)]),
    "yotpo": (
        YOTPO,
        "yotpo.csv",
        2,
        [(4, Problem.RATING_INVALID), (5, Problem.DATE_OUT_OF_RANGE)],
    ),
    "trustpilot": (
        TRUSTPILOT,
        "trustpilot.csv",
        1,
        [(3, Problem.BODY_MISSING), (4, Problem.DATE_INVALID), (5, Problem.TOO_LONG)],
    ),
}


def upload(client: FlaskClient, key: str, content: str | bytes, name: str = "r.csv") -> Any:
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        "/api/v1/imports/reviews",
        data={"file": (io.BytesIO(data), name)},
        headers=bearer(key),
        content_type="multipart/form-data",
    )


def run_jobs(app: Flask) -> None:
    with app.app_context():
        jobs.run_due_jobs()
        db.session.remove()


def imported(client: FlaskClient, key: str, import_id: int) -> dict[str, Any]:
    answer = client.get(f"/api/v1/imports/{import_id}", headers=bearer(key))
    assert answer.status_code == 200, answer.json
    return dict(answer.json)


def signed_claims(client: FlaskClient) -> dict[str, Any]:
    """The claims of the shop's badge assertion (its payload)."""
    token = client.get("/badges/bodega/assertion").get_data(as_text=True).strip()
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def generic_rows(count: int, start: int = 0) -> str:
    lines = ["date,rating,title,body,author,product_id"]
    for n in range(start, start + count):
        day = 1 + n % 28
        lines.append(
            f"2025-{1 + n % 12:02d}-{day:02d},{1 + n % 5},Reseña {n},"
            f'"Texto de la reseña número {n}, con detalle.",Cliente {n} Apellido,p-{n % 7}'
        )
    return "\n".join(lines) + "\n"


@pytest.fixture
def key(app: Flask) -> str:
    return make_merchant(app, slug="bodega")[1]


# --- the formats, as pure functions ---------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("date,rating,title,body,author,product_id", "trustseal"),
        ("Fecha;Calificación;Título;Reseña;Autor;Producto", "trustseal"),
        (JUDGEME.splitlines()[0], "judgeme"),
        (YOTPO.splitlines()[0], "yotpo"),
        ("review_title,review_content,review_score,date,product_id,display_name", "yotpo"),
        (TRUSTPILOT.splitlines()[0], "trustpilot"),
        ("email,first_name", None),
    ],
)
def test_a_header_names_its_format(header: str, expected: str | None) -> None:
    delimiter = ";" if header.count(";") > header.count(",") else ","
    layout = formats.detect(header.split(delimiter))
    assert (layout.format.name if layout else None) == expected


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("2025-03-02", None, datetime(2025, 3, 2, 5, tzinfo=UTC)),  # midnight in Lima
        ("2025-03-02 10:12:00 UTC", None, datetime(2025, 3, 2, 10, 12, tzinfo=UTC)),
        ("2025-03-02T10:12:00-05:00", None, datetime(2025, 3, 2, 15, 12, tzinfo=UTC)),
        ("2024-11-05T08:00:00.000Z", None, datetime(2024, 11, 5, 8, tzinfo=UTC)),
        ("15/03/2025", None, datetime(2025, 3, 15, 5, tzinfo=UTC)),
        ("03/15/2025 10:00", None, datetime(2025, 3, 15, 10, tzinfo=UTC)),
        ("03/04/2025", "dmy", datetime(2025, 4, 3, 5, tzinfo=UTC)),
        ("03/04/2025", "mdy", datetime(2025, 3, 4, 5, tzinfo=UTC)),
        ("03/04/2025", None, Problem.DATE_AMBIGUOUS),
        ("04/04/2025", None, datetime(2025, 4, 4, 5, tzinfo=UTC)),
        ("31/02/2025", None, Problem.DATE_INVALID),
        ("yesterday", None, Problem.DATE_INVALID),
    ],
)
def test_dates_are_read_as_written(text: str, order: str | None, expected: Any) -> None:
    assert formats.parse_date(text, order) == expected


def test_a_file_s_own_dates_tell_day_from_month() -> None:
    assert formats.slashed_order(["15/03/2025", "03/04/2025"]) == "dmy"
    assert formats.slashed_order(["03/15/2025", "03/04/2025"]) == "mdy"
    assert formats.slashed_order(["03/04/2025", "2025-01-01"]) is None
    assert formats.slashed_order(["15/03/2025", "03/15/2025"]) is None  # contradictory


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5", 5), (" 4 ", 4), ("4.0", 4), ("3,0", 3), ("0", None), ("6", None), ("4.5", None)],
)
def test_ratings_are_whole_stars(text: str, expected: int | None) -> None:
    assert formats.parse_rating(text) == expected


def test_a_row_is_read_into_a_review_or_its_first_problem() -> None:
    layout = formats.detect(["date", "rating", "title", "body", "author", "product_id"])
    assert layout is not None
    good = formats.read_row(
        layout, ["2025-03-02", "4", "Un\ntítulo", " Texto \n", "Ana  Pérez", ""], 2, None, NOW
    )
    assert good == formats.ParsedRow(
        2, 4, datetime(2025, 3, 2, 5, tzinfo=UTC), "Texto", "Un título", "Ana Pérez", None
    )
    short = formats.read_row(layout, ["2025-03-02", "4"], 7, None, NOW)
    assert short == formats.RowProblem(7, Problem.BODY_MISSING, "body")
    long = formats.read_row(layout, ["2025-03-02", "4", "", "x" * 5001], 8, None, NOW)
    assert long == formats.RowProblem(8, Problem.TOO_LONG, "body", limit=5000)


# --- each format through the API and the job -----------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_each_format_imports_its_good_rows_and_reports_the_bad_ones_by_row(
    app: Flask, client: FlaskClient, key: str, case: str
) -> None:
    content, name, count, bad = CASES[case]
    started = upload(client, key, content, name)
    assert started.status_code == 202, started.json
    assert started.json["format"] == case and started.json["status"] == "queued"
    assert imported(client, key, started.json["import_id"])["status"] == "queued"
    run_jobs(app)
    result = imported(client, key, started.json["import_id"])
    assert result["status"] == "done" and result["finished_at"]
    assert result["imported"] == count
    assert result["processed"] == result["total"] == count + len(bad)
    assert [(e["row"], e["code"]) for e in result["errors"]] == [(r, p.value) for r, p in bad]
    assert result["error_count"] == len(bad) and all(e["message"] for e in result["errors"])
    listed = client.get("/api/v1/merchants/bodega/imported-reviews").json["items"]
    assert len(listed) == count
    assert all(i["verified"] is False and i["source"] == "import" for i in listed)
    assert all(i["salt"] and isinstance(i["log_index"], int) for i in listed)
    with app.app_context():
        stored = db.session.get(ReviewImport, started.json["import_id"])
        assert stored is not None and stored.content is None  # the file is gone once read


def test_texts_are_masked_and_authors_shortened(app: Flask, client: FlaskClient, key: str):
    upload(client, key, GENERIC)
    run_jobs(app)
    items = client.get("/api/v1/merchants/bodega/imported-reviews").json["items"]
    by_title = {i["title"]: i for i in items}
    assert by_title["Excelente"]["author"] == "Lucía Q."
    assert by_title["Excelente"]["product_id"] == "cafe-500"
    masked = by_title["Regular"]
    assert "ana@correo.pe" not in masked["body"] and "987" not in masked["body"]
    assert masked["author"] is None  # a name that was an email address is dropped
    assert masked["reviewed_at"] == "2025-03-07T10:00:00Z"
    # newest first by the review's own date
    assert [i["title"] for i in items] == ["Regular", "Excelente"]


def test_row_numbers_are_the_spreadsheet_s_and_messages_name_the_file_s_columns(
    app: Flask, client: FlaskClient, key: str
):
    started = upload(client, key, TRUSTPILOT).json
    run_jobs(app)
    errors = {e["row"]: e["message"] for e in imported(client, key, started["import_id"])["errors"]}
    assert errors[3] == "The column Review Content is empty: a review needs its text."
    assert errors[4] == "The date “not a date” cannot be read: write it as YYYY-MM-DD."
    assert errors[5] == "The column Review Title is longer than 200 characters."


# --- duplicates -----------------------------------------------------------------------


def test_uploading_the_same_reviews_again_skips_them_as_duplicates(
    app: Flask, client: FlaskClient, key: str
):
    first = upload(client, key, JUDGEME).json
    run_jobs(app)
    again = upload(client, key, JUDGEME).json
    run_jobs(app)
    result = imported(client, key, again["import_id"])
    assert result["imported"] == 0 and result["duplicates"] == 2
    assert {(e["row"], e["code"]) for e in result["errors"]} >= {(2, "duplicate"), (5, "duplicate")}
    # the same rows twice in one file: the second is a duplicate of the first
    doubled = (
        JUDGEME
        + JUDGEME.splitlines()[1]
        + "\n"
        + "Nuevo,Otra reseña,4,2025-02-01,web,ok,Eva,,,,,,,,\n"
    )
    third = upload(client, key, doubled).json
    run_jobs(app)
    result = imported(client, key, third["import_id"])
    assert result["imported"] == 1 and result["duplicates"] == 3
    with app.app_context():
        assert imports.imported_count(imports.get(1, first["import_id"]).merchant_id) == 3
        assert imports.imported_count(1, "crema") == 1


# --- chunks: 10,000 rows, no transaction for the whole file ---------------------------


def test_ten_thousand_rows_commit_chunk_by_chunk_and_a_crash_resumes_after_the_last(
    app: Flask, client: FlaskClient, key: str, monkeypatch: pytest.MonkeyPatch
):
    started = upload(client, key, generic_rows(10_000)).json
    assert started["total"] == 10_000
    real_append = log.append_many
    calls = {"n": 0}

    def crash_on_the_fifth_chunk(events: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("the worker's database connection died")
        return real_append(events)

    monkeypatch.setattr(imports.log, "append_many", crash_on_the_fifth_chunk)
    run_jobs(app)
    midway = imported(client, key, started["import_id"])
    # four chunks committed, each with its progress; the fifth rolled back alone
    assert midway["status"] == "running"
    assert midway["processed"] == midway["imported"] == 4 * imports.CHUNK_ROWS
    with app.app_context():
        assert log.size() == 4 * imports.CHUNK_ROWS
        db.session.execute(update(Job).values(run_at=datetime.now(UTC)))
        db.session.commit()
    run_jobs(app)
    done = imported(client, key, started["import_id"])
    assert done["status"] == "done" and done["imported"] == 10_000 and done["error_count"] == 0
    with app.app_context():
        assert log.size() == 10_000  # no leaf twice, none lost
        rows = db.session.scalar(select(func.count()).select_from(ImportedReview))
        assert rows == 10_000
        db.session.remove()


def test_a_long_run_hands_over_to_a_new_job_between_chunks(
    app: Flask, client: FlaskClient, key: str
):
    started = upload(client, key, generic_rows(1_200)).json
    app.config["TRUSTSEAL_JOB_LEASE_SECONDS"] = 0  # a run's budget, a third of it, is over
    with app.app_context():
        assert jobs.run_one() == "done"
        queued = db.session.scalars(select(Job.payload).where(Job.status == "queued")).all()
        db.session.remove()
    progress = imported(client, key, started["import_id"])
    assert progress["status"] == "running"
    assert progress["processed"] == progress["imported"] == imports.CHUNK_ROWS
    assert queued == [{"import_id": started["import_id"]}]  # the next run, committed with it
    run_jobs(app)
    assert imported(client, key, started["import_id"])["imported"] == 1_200
    with app.app_context():
        assert jobs.counts() == {"done": 4}  # 500, 500, 200 rows, then the end of the file


def test_a_run_that_keeps_failing_fails_the_import_and_frees_the_shop(
    app: Flask, client: FlaskClient, key: str, monkeypatch: pytest.MonkeyPatch
):
    started = upload(client, key, GENERIC).json

    def broken(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("poison")

    monkeypatch.setattr(imports, "_commit_chunk", broken)
    for _attempt in range(imports.MAX_FRUITLESS_RUNS):
        with app.app_context(), pytest.raises(RuntimeError):
            imports.run(started["import_id"])
    with app.app_context():
        assert imports.run(started["import_id"]) == "failed"
    result = imported(client, key, started["import_id"])
    assert result["status"] == "failed" and "Stopped after 5 attempts" in result["failure"]
    monkeypatch.undo()
    assert upload(client, key, GENERIC).status_code == 202  # no longer busy


# --- the log --------------------------------------------------------------------------


def test_each_imported_review_is_a_review_imported_leaf_with_source_import(
    app: Flask, client: FlaskClient, key: str
):
    started = upload(client, key, JUDGEME).json
    run_jobs(app)
    with app.app_context():
        leaves = [json.loads(e.leaf) for e in db.session.scalars(select(LogEntry))]
    assert [leaf["type"] for leaf in leaves] == ["review.imported"] * 2
    first = leaves[0]
    assert first["merchant"] == "bodega" and first["source"] == "import"
    assert first["format"] == "judgeme" and first["import_id"] == started["import_id"]
    assert first["row"] == 2 and first["rating"] == 5 and first["product_id"] == "7012345678"
    assert first["reviewed_at"] == first["time"] == "2025-03-02T10:12:00Z"
    assert set(first["text_sha256"]) == {"title", "body", "author"}
    assert leaves[1]["product_id"] == "crema"  # the handle when the product id is empty
    assert "c@x.pe" not in json.dumps(leaves) and "1.1.1.1" not in json.dumps(leaves)


def test_log_verify_catches_an_imported_review_edited_or_deleted_in_the_database(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, key: str
):
    upload(client, key, GENERIC)
    run_jobs(app)
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 0, result.output
    assert "3 database records match it" in result.output  # 2 imported, 1 shop's numbers
    with app.app_context():
        first = db.session.scalars(select(ImportedReview).order_by(ImportedReview.id)).first()
        assert first is not None
        review_id, index, import_id = first.id, first.log_index, first.import_id
    tamper(app, update(ImportedReview).where(ImportedReview.id == review_id).values(body="Otro"))
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1
    assert f"imported review {review_id}: the stored body does not match" in result.output
    tamper(app, update(ImportedReview).where(ImportedReview.id == review_id).values(rating=1))
    result = runner.invoke(args=["log", "verify"])
    assert f"imported review {review_id}: the review.imported leaf at index {index}" in (
        result.output
    )
    tamper(app, delete(ImportedReview).where(ImportedReview.id == review_id))
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1
    assert (
        f"import {import_id}: the review.imported leaf at index {index} names a record that "
        "is not in the database"
    ) in result.output


def test_imported_reviews_never_move_the_score_the_badge_or_the_replay(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, key: str, live_server: str
):
    publish_review(client, key, "A-1", rating=2)
    approve_seal(app, client)
    score = client.get("/api/v1/merchants/bodega/score").json
    claims = signed_claims(client)
    with app.app_context():
        replayed = log.replayed("bodega").numbers(datetime.now(UTC))
    upload(client, key, generic_rows(30))
    run_jobs(app)
    assert imported(client, key, 1)["imported"] == 30
    assert client.get("/api/v1/merchants/bodega/score").json == score
    after = signed_claims(client)
    for claim in ("score", "rating_count", "history", "provenance", "kpis", "log"):
        assert after[claim] == claims[claim], claim
    with app.app_context():
        assert log.replayed("bodega").numbers(datetime.now(UTC)) == replayed
    assert runner.invoke(args=["log", "verify"]).exit_code == 0
    audit = runner.invoke(args=["log", "audit", live_server, "--merchant", "bodega"])
    assert audit.exit_code == 0, audit.output


# --- the API's refusals -----------------------------------------------------------------


def test_the_api_refuses_what_it_cannot_import(
    app: Flask, client: FlaskClient, key: str, monkeypatch: pytest.MonkeyPatch
):
    assert client.post("/api/v1/imports/reviews").status_code == 401
    assert upload(client, "tsk_not-a-key", GENERIC).status_code == 401
    json_body = client.post("/api/v1/imports/reviews", json={"a": 1}, headers=bearer(key))
    assert json_body.status_code == 422 and "multipart" in json_body.json["message"]
    no_file = client.post(
        "/api/v1/imports/reviews",
        data={"other": "x"},
        headers=bearer(key),
        content_type="multipart/form-data",
    )
    assert no_file.status_code == 422
    workbook = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(64)
    assert upload(client, key, workbook, "resenas.xlsx").status_code == 415
    latin1 = "date,rating,body\n2025-03-02,5,Café rico\n".encode("latin-1")
    refused = upload(client, key, latin1)
    assert refused.status_code == 415 and "UTF-8" in refused.json["message"]
    unknown = upload(client, key, "email,first_name\na@b.pe,Ana\n")
    assert unknown.status_code == 422
    assert "Judge.me" in unknown.json["message"] and "Trustpilot" in unknown.json["message"]
    assert upload(client, key, "date,rating,body\n\n").status_code == 422
    assert upload(client, key, 'date,rating,body\n2025-03-02,5,"open\n').status_code == 422
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    assert upload(client, key, generic_rows(4)).status_code == 413
    monkeypatch.setattr(imports, "MAX_FILE_BYTES", 100)
    assert upload(client, key, generic_rows(3)).status_code == 413
    monkeypatch.undo()
    allow_upload("imports.ReviewImports", 2048)  # the request's own cap, before any parsing
    try:
        assert upload(client, key, generic_rows(100)).status_code == 413
    finally:
        allow_upload("imports.ReviewImports", imports.MAX_FILE_BYTES + 64 * 1024)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReviewImport)) == 0


def test_the_file_is_listed_under_its_plain_name(app: Flask, client: FlaskClient, key: str):
    started = upload(client, key, GENERIC, "C:\\Users\\ana/../exporte\u202egnp.csv").json
    assert imported(client, key, started["import_id"])["filename"] == "exportegnp.csv"


def test_one_import_at_a_time_and_only_the_shop_s_own(app: Flask, client: FlaskClient, key: str):
    first = upload(client, key, GENERIC)
    assert first.status_code == 202
    busy = upload(client, key, JUDGEME)
    assert busy.status_code == 409 and "still running" in busy.json["message"]
    _, other = make_merchant(app, slug="otra", domain="otra.pe")
    assert upload(client, other, JUDGEME).status_code == 202  # another shop is not held up
    mine = first.json["import_id"]
    assert client.get(f"/api/v1/imports/{mine}", headers=bearer(other)).status_code == 404
    assert client.get("/api/v1/imports/999", headers=bearer(key)).status_code == 404
    assert client.get(f"/api/v1/imports/{mine}").status_code == 401
    run_jobs(app)
    assert upload(client, key, JUDGEME).status_code == 202  # free again once done
    # the database keeps the rule too, whatever a racing request checked first
    with app.app_context(), pytest.raises(IntegrityError):
        db.session.add(
            ReviewImport(
                merchant_id=1, format="trustseal", filename="x.csv", delimiter=",", total=1
            )
        )
        db.session.flush()


def test_the_public_list_pages_by_date_and_filters_by_product(
    app: Flask, client: FlaskClient, key: str
):
    upload(client, key, generic_rows(45))
    run_jobs(app)
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 20, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/merchants/bodega/imported-reviews", query_string=query).json
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 45 and len({i["id"] for i in seen}) == 45
    dates = [(i["reviewed_at"], i["id"]) for i in seen]
    assert dates == sorted(dates, reverse=True)
    product = client.get(
        "/api/v1/merchants/bodega/imported-reviews", query_string={"product_id": "p-3"}
    ).json["items"]
    assert product and all(i["product_id"] == "p-3" for i in product)
    with app.app_context():
        assert imports.imported_count(1, "p-3") == len(product)
        assert [i.id for i in imports.imported_reviews(1, None, 3)] == [i["id"] for i in seen[:3]]
    bad = client.get("/api/v1/merchants/bodega/imported-reviews?cursor=!!")
    assert bad.status_code == 422
    assert client.get("/api/v1/merchants/nadie/imported-reviews").status_code == 404


# --- pages --------------------------------------------------------------------------------


def test_the_dashboard_uploads_a_file_and_shows_progress_and_errors(
    app: Flask, client: FlaskClient
):
    _, password = make_merchant_user(app)
    assert sign_in(client, "duena@bodega.pe", password).status_code == 302
    page = client.get("/dashboard/imports")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in text and "review_date" in text
    assert "Review Created (UTC)" in text and "Importar reseñas" in text
    token = csrf(client, "/dashboard/imports")
    sent = client.post(
        "/dashboard/imports",
        data={"csrf_token": token, "file": (io.BytesIO(GENERIC.encode()), "resenas.csv")},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 303
    waiting = client.get("/dashboard/imports").get_data(as_text=True)
    assert "resenas.csv" in waiting and "0 de 6" in waiting and "en espera" in waiting
    run_jobs(app)
    done = client.get("/dashboard/imports").get_data(as_text=True)
    assert "6 de 6" in done and "terminada" in done
    assert "Fila 3:" in done and "La columna rating debe tener un número entero" in done
    refused = client.post(
        "/dashboard/imports",
        data={"csrf_token": token, "file": (io.BytesIO(b"email,name\n"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "no nombra las columnas" in refused.get_data(as_text=True)
    no_token = client.post(
        "/dashboard/imports",
        data={"file": (io.BytesIO(GENERIC.encode()), "resenas.csv")},
        content_type="multipart/form-data",
    )
    assert no_token.status_code in (400, 403)


@pytest.mark.parametrize(
    ("lang", "heading", "label", "count"),
    [
        ("es", "Reseñas importadas · no verificadas", "Importada · no verificada", "1 opinión"),
        ("en", "Imported reviews · not verified", "Imported · not verified", "1 verified review"),
        ("pt", "Avaliações importadas · não verificadas", "Importada · não verificada", "1 avalia"),
    ],
)
def test_the_profile_shows_imported_reviews_apart_and_labelled(
    app: Flask, client: FlaskClient, key: str, lang: str, heading: str, label: str, count: str
):
    publish_review(client, key, "A-1", rating=5, body="Reseña verificada de verdad.")
    upload(client, key, JUDGEME)
    run_jobs(app)
    page = client.get(f"/m/bodega?lang={lang}").get_data(as_text=True)
    assert heading in page and page.count(label) == 2
    verified, _, apart = page.partition(heading)
    assert "Reseña verificada de verdad." in verified and "Regular nomás" not in verified
    assert "Regular nomás" in apart and "Reseña verificada de verdad." not in apart
    assert count in verified  # the number of reviews shown counts the verified one only
