"""The merchant connecting a store (/dashboard/stores): where to find each value per
platform, refusals said beside each field, and re-syncing a store's orders as a job whose
progress the page shows (a second run refused while one is queued or running)."""

from __future__ import annotations

import re

import marshmallow as ma
import pytest
from sqlalchemy import select

from tests import plugin_payloads as pp
from tests.signing_in import make_merchant_user, post_form, sign_in
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.stores import forms

ORDER = 5_612_345_678_901_234
EN = {"Accept-Language": "en"}


@pytest.fixture
def owner(app, client):
    """A signed-in owner (English pages); the merchant's API key."""
    key, password = make_merchant_user(app)
    client.set_cookie("lang", "en")
    sign_in(client, "duena@bodega.pe", password)
    return key


def page(client) -> str:
    answer = client.get("/dashboard/stores")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def sync_jobs(app):
    with app.app_context():
        return list(
            db.session.execute(select(Job.payload, Job.status).where(Job.kind == "stores.sync"))
        )


def sync_row(html: str, store_id: int) -> str:
    found = re.search(rf'<tr class="sync" id="sync-{store_id}">(.*?)</tr>', html, re.S)
    assert found, html
    return found.group(1)


def test_each_platform_says_where_to_find_its_values(client, owner):
    html = page(client)
    for platform, words in (
        ("shopify", "Settings → Apps and sales channels → Develop apps"),
        ("woocommerce", "WooCommerce → Settings → Advanced → REST API"),
        ("vtex", "Account settings → API keys"),
    ):
        block = html.split(f'id="connect-{platform}"')[1].split('class="connect"')[0]
        assert "<details" in block and "<summary>Where do I find these values" in block
        assert words in block
        assert len(re.findall(r"<li>", block)) >= 4
    assert "tick <code>read_orders</code>" in html


def test_a_refused_connection_is_said_beside_each_field(app, client, owner):
    answer = post_form(
        client,
        "/dashboard/stores",
        {"platform": "shopify", "shop_domain": "bodega.pe", "client_secret": "corto"},
    )
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'id="shopify-shop_domain" name="shop_domain" value="bodega.pe"' in html
    assert 'aria-describedby="shopify-shop_domain-error"' in html
    assert re.search(r'id="shopify-shop_domain-error">Write the shop&#39;s myshopify\.com', html)
    assert 'id="shopify-client_secret-error">Between 8 and 200 characters.' in html
    assert 'value="corto"' not in html  # a secret is never written back
    assert "shop_domain:" not in html and "Length must be" not in html
    # the other platforms' forms carry no error
    assert "woocommerce-base_url-error" not in html


def test_a_missing_field_and_an_invalid_url(client, owner):
    answer = post_form(client, "/dashboard/stores", {"platform": "woocommerce", "base_url": "x"})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'id="woocommerce-base_url-error">Write the full address, starting with https://.' in html
    answer = post_form(client, "/dashboard/stores", {"platform": "vtex", "account": "Mi Tienda"})
    html = answer.get_data(as_text=True)
    assert 'id="vtex-app_key-error">Fill in this field.' in html


def test_unknown_messages_are_not_shown_in_english(app):
    with app.test_request_context("/?lang=en"):
        refused = ma.ValidationError({"a": ["Some new marshmallow text."], "_schema": ["Boom."]})
        assert forms.field_errors(refused) == {
            "a": ["This value is not valid."],
            forms.FORM: ["This value is not valid."],
        }
        assert forms.translated("Length must be between 4 and 200.") == (
            "Between 4 and 200 characters."
        )
        assert forms.sync_reason("http_502") == "the platform answered with error 502"


@pytest.fixture
def admin(app):
    with pp.shopify_admin(app) as fake:
        yield fake


def test_resync_runs_as_one_job_and_shows_its_progress(app, client, owner, admin):
    store_id = pp.create_store(
        client, owner, "shopify", **pp.shopify_settings(access_token=pp.SHOPIFY_TOKEN)
    )["id"]
    admin.orders[str(ORDER)] = pp.shopify_delivered_order(ORDER)
    admin.orders[str(ORDER + 1)] = pp.shopify_order(ORDER + 1, financial_status="paid")
    row = sync_row(page(client), store_id)
    assert "never run" in row and "Re-sync orders" in row

    asked = post_form(
        client, f"/dashboard/stores/{store_id}/sync", {"since": "2026-11-01"}, "/dashboard/stores"
    )
    assert asked.status_code == 303
    ((payload, status),) = sync_jobs(app)
    assert payload == {"store_id": store_id, "since": "2026-11-01T00:00:00+00:00"}
    assert status == "queued"
    row = sync_row(page(client), store_id)
    assert "queued (orders since 2026-11-01)" in row and "Re-sync orders" not in row

    again = post_form(
        client, f"/dashboard/stores/{store_id}/sync", {"since": "2026-11-01"}, "/dashboard/stores"
    )
    assert again.status_code == 409
    assert "already queued or running" in again.get_data(as_text=True)
    assert len(sync_jobs(app)) == 1

    with app.app_context():
        assert jobs.run_due_jobs().failed == 0
    assert [status for _, status in sync_jobs(app)] == ["done"]
    (listing,) = [r for r in admin.server.requests if r.path.endswith("/orders.json")]
    assert listing.query["created_at_min"] == ["2026-11-01T00:00:00+00:00"]
    assert pp.purchase(app, str(ORDER + 1))["status"] == "paid"
    assert pp.purchase(app, str(ORDER))["status"] == "delivered"
    row = sync_row(page(client), store_id)
    assert "done: 2 orders since 2026-11-01" in row and "Re-sync orders" in row
    # once done, it may run again
    assert (
        post_form(client, f"/dashboard/stores/{store_id}/sync", {}, "/dashboard/stores").status_code
        == 303
    )
    assert [status for _, status in sync_jobs(app)].count("queued") == 1


def test_a_refused_token_shows_why_and_allows_another_run(app, client, owner, admin):
    store_id = pp.create_store(
        client, owner, "shopify", **pp.shopify_settings(access_token="shpat_revoked")
    )["id"]
    post_form(client, f"/dashboard/stores/{store_id}/sync", {}, "/dashboard/stores")
    with app.app_context():
        assert jobs.run_due_jobs().failed == 1
    row = sync_row(page(client), store_id)
    assert "failed: the platform refused the store&#39;s API credentials" in row
    assert "Re-sync orders" in row
    with app.app_context():
        error = db.session.scalar(select(Job.last_error).where(Job.kind == "stores.sync"))
    assert "shpat_revoked" not in error


def test_a_store_without_credentials_or_of_another_merchant(app, client, owner):
    store_id = pp.create_store(client, owner, "shopify", **pp.shopify_settings())["id"]
    row = sync_row(page(client), store_id)
    assert "Re-sync orders" not in row and "API credentials to re-sync its orders" in row
    refused = post_form(client, f"/dashboard/stores/{store_id}/sync", {}, "/dashboard/stores")
    assert refused.status_code == 422 and sync_jobs(app) == []
    other_key, _ = make_merchant_user(app, "otra", "duena@otra.pe")
    other = pp.create_store(
        client, other_key, "shopify", **pp.shopify_settings(access_token=pp.SHOPIFY_TOKEN)
    )["id"]
    missing = post_form(client, f"/dashboard/stores/{other}/sync", {}, "/dashboard/stores")
    assert missing.status_code == 404 and sync_jobs(app) == []


@pytest.mark.parametrize("since", ["ayer", "2999-01-01", "2001-01-01"])
def test_a_date_out_of_range_is_refused(app, client, owner, since):
    store_id = pp.create_store(
        client, owner, "shopify", **pp.shopify_settings(access_token=pp.SHOPIFY_TOKEN)
    )["id"]
    answer = post_form(
        client, f"/dashboard/stores/{store_id}/sync", {"since": since}, "/dashboard/stores"
    )
    assert answer.status_code == 422 and "Choose a date in the last 366 days" in (
        answer.get_data(as_text=True)
    )
    assert sync_jobs(app) == []
