"""The ``trustseal`` command group (a Flask command group over :func:`create_app`)."""

from __future__ import annotations

import json
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.merchants import service as merchants
from trustseal.merchants.schemas import MerchantCreateSchema
from trustseal.staff import service as staff_service


def _app_factory() -> Flask:
    from trustseal import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_app_factory, add_version_option=False)
def main() -> None:
    """trustseal: verified reviews, complaints book, signed badges, transparency log."""


def _emit(as_json: bool, payload: dict[str, Any], lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        for line in lines:
            click.echo(line)


@click.group("staff")
def staff_group() -> None:
    """Manage certifier staff."""


@staff_group.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in staff_service.Role]), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def staff_create(email: str, role: str, as_json: bool) -> None:
    """Create a staff user; print its password and a tss_ token (shown once)."""
    try:
        created = staff_service.create_staff(email, staff_service.Role(role))
    except staff_service.EmailTaken as exc:
        raise click.ClickException(f"a staff user with email {email} exists") from exc
    db.session.commit()
    _emit(
        as_json,
        {
            "email": created.staff.email,
            "role": role,
            "password": created.password,
            "token": created.token,
        },
        [
            f"email:    {created.staff.email}",
            f"role:     {role}",
            f"password: {created.password}",
            f"token:    {created.token}",
            "Keep these now: they are not shown again.",
        ],
    )


@click.group("merchants")
def merchants_group() -> None:
    """Manage merchants."""


@merchants_group.command("create")
@click.option("--name", required=True)
@click.option("--domain", required=True)
@click.option("--email", "contact_email", required=True)
@click.option("--slug", default=None)
@click.option("--legal-name", default=None)
@click.option("--ruc", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def merchants_create(as_json: bool, **fields: Any) -> None:
    """Create a merchant; print its slug and a tsk_ API key (shown once)."""
    raw = {key: value for key, value in fields.items() if value is not None}
    errors = MerchantCreateSchema().validate(raw)
    if errors:
        raise click.ClickException(json.dumps(errors, ensure_ascii=False))
    data = MerchantCreateSchema().load(raw)
    try:
        created = merchants.create_merchant(**data)
    except merchants.SlugTaken as exc:
        raise click.ClickException(f"the slug {data['slug']} is taken") from exc
    db.session.commit()
    _emit(
        as_json,
        {"slug": created.merchant.slug, "api_key": created.api_key},
        [
            f"slug:    {created.merchant.slug}",
            f"api key: {created.api_key}",
            "Keep the key now: it is not shown again.",
        ],
    )


@click.command("worker")
@click.option("--once", is_flag=True, help="Run the jobs that are due, then exit.")
@with_appcontext
def worker(once: bool) -> None:
    """Process background jobs (emails, order fetches, reminders)."""
    if once:
        result = jobs.run_due_jobs()
        click.echo(f"jobs: {result.done} done, {result.retried} to retry, {result.dead} dead")
        return
    click.echo("worker: processing jobs (Ctrl-C to stop)")
    jobs.work_forever(current_app.config["TRUSTSEAL_WORKER_POLL_SECONDS"])


@click.command("demo")
@click.option("--purchases", default=300, show_default=True, help="How many purchases.")
@with_appcontext
def demo(purchases: int) -> None:
    """Load a demo merchant with purchases (idempotent: does nothing if it exists)."""
    from trustseal import demo as demo_module

    summary = demo_module.load(purchases)
    click.echo(summary)


def init_app(app: Flask) -> None:
    """Attach the service's commands to the app's CLI."""
    for command in (staff_group, merchants_group, worker, demo):
        app.cli.add_command(command)
