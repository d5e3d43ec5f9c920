"""The ``trustseal`` command group (a Flask command group over :func:`create_app`)."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from trustseal.badging import service as badging
from trustseal.book import service as book
from trustseal.extensions import db
from trustseal.imports import service as imports
from trustseal.jobs import service as jobs
from trustseal.merchants import service as merchants
from trustseal.merchants.schemas import MerchantCreateSchema
from trustseal.reviews import service as reviews
from trustseal.seals import service as seals
from trustseal.signing import service as signing
from trustseal.staff import service as staff_service
from trustseal.transparency import monitor, note
from trustseal.transparency import service as transparency


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
@click.option(
    "--country", default=None, help="ISO 3166-1 alpha-2 (default PE; only PE has the book)."
)
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
        db.session.rollback()
        raise click.ClickException(f"the slug {data['slug']} is taken") from exc
    except merchants.RucTaken as exc:
        db.session.rollback()
        raise click.ClickException(
            f"the RUC {data['ruc']} is registered to another merchant already"
        ) from exc
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
@click.option(
    "--check",
    is_flag=True,
    help="Exit 0 if a worker beat within TRUSTSEAL_WORKER_STALE_SECONDS, else 1 (for monitors).",
)
@with_appcontext
def worker(once: bool, check: bool) -> None:
    """Process background jobs (emails, order fetches, reminders)."""
    if check:
        try:
            alive = jobs.liveness()
        except SQLAlchemyError as exc:
            raise click.ClickException(f"cannot read the heartbeats: {type(exc).__name__}") from exc
        finally:
            db.session.rollback()
        since = "never" if alive.seconds_since is None else f"{alive.seconds_since:.0f} s ago"
        click.echo(
            f"worker: {alive.status} (last beat {since}); "
            f"{alive.due} job(s) due, {alive.failed} failed"
        )
        if alive.status != "ok":
            raise SystemExit(1)
        return
    if once:
        runner = jobs.Worker(current_app.config["TRUSTSEAL_WORKER_POLL_SECONDS"])
        result = jobs.run_due_jobs(owner=runner.owner)
        runner.done, runner.failed = result.done, result.failed
        runner.beat()  # a run from cron counts as a sign of life too
        jobs.run_maintenance()  # and does the pruning a long-running worker would
        click.echo(f"jobs: {result.done} done, {result.retried} to retry, {result.failed} failed")
        return
    click.echo("worker: processing jobs (SIGTERM or Ctrl-C stops it after the job at hand)")
    jobs.work_forever(current_app.config["TRUSTSEAL_WORKER_POLL_SECONDS"])


@click.command("demo")
@click.option("--purchases", default=300, show_default=True, help="How many purchases.")
@with_appcontext
def demo(purchases: int) -> None:
    """Load a demo merchant with purchases (idempotent: does nothing if it exists)."""
    from trustseal import demo as demo_module

    summary = demo_module.load(purchases)
    click.echo(summary)


@click.group("keys")
def keys_group() -> None:
    """Manage the signing keys and the data keys (secrets at rest)."""


@keys_group.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Create a new signing key; the old public key stays published in the JWKS."""
    new, old = signing.rotate()
    transparency.append(
        transparency.Event(
            "key.rotated", data={"kid": new.kid, "previous_kid": old.kid if old else None}
        )
    )
    db.session.commit()
    click.echo(f"new key {new.kid}" + (f" (retired {old.kid})" if old else ""))


@keys_group.command("new-data-key")
def keys_new_data_key() -> None:
    """Print a new data key (Fernet), to put first in TRUSTSEAL_DATA_KEY."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode("ascii"))


@keys_group.command("rotate-data")
@with_appcontext
def keys_rotate_data() -> None:
    """Encrypt every stored secret again with the newest data key.

    TRUSTSEAL_DATA_KEY lists the data keys newest first, comma-separated. Put a new key
    first and restart every process (on several machines: add it last everywhere, then
    move it first), run this, then remove the old keys. Exits 1 if some secret opens
    with none of the keys.
    """
    from trustseal import secretbox

    results = secretbox.rotate_all()
    for done in results:
        click.echo(
            f"{done.name}: {done.rotated} re-encrypted, {done.current} already current"
            + (f", {done.changed} changed meanwhile" if done.changed else "")
            + (f", {len(done.unreadable)} unreadable" if done.unreadable else "")
        )
    click.echo(f"{sum(d.rotated for d in results)} secret(s) re-encrypted with the newest key")
    unreadable = [f"{d.name} ids {d.unreadable[:20]}" for d in results if d.unreadable]
    if unreadable:
        raise click.ClickException(
            "no data key opens these rows (keep the old keys until they are dealt with): "
            + "; ".join(unreadable)
        )


@click.group("log")
def log_group() -> None:
    """Inspect and check the transparency log."""


@log_group.command("verify")
@click.option(
    "--from",
    "start",
    default=0,
    type=click.IntRange(min=0),
    show_default=True,
    help="Trust the first SIZE entries (checked before) and check the rest.",
)
@with_appcontext
def log_verify(start: int) -> None:
    """Check every leaf, every stored node, every signed head and their consistency;
    then the database against the log: every review, answer, removal, seal decision and
    imported review has its leaf, every stored text matches its leaf's commitment, and
    every merchant's numbers (score sums, history, answer times, seal, criteria) equal
    the log's replay."""
    audit = transparency.audit(
        start,
        [
            reviews.claim_source(),
            seals.claim_source(),
            book.claim_source(),
            imports.claim_source(),
        ],
        badging.numbers_source(),
    )
    db.session.rollback()
    if not audit.ok:
        for problem in audit.problems or []:
            click.echo(f"PROBLEM: {problem}", err=True)
        raise click.ClickException(f"the log failed {len(audit.problems or [])} check(s)")
    click.echo(
        f"log OK: {audit.entries} entries from {start}, {audit.nodes} nodes, "
        f"{audit.heads} signed heads checked, {audit.records} database records match it"
    )


@log_group.command("sign-head")
@with_appcontext
def log_sign_head() -> None:
    """Sign a tree head now if the log grew since the last one (for a cron job)."""
    head = transparency.publish_head(force=True)
    db.session.commit()
    click.echo(f"tree head: size {head.tree_size} root {head.root_hash.hex()}")


@log_group.command("audit")
@click.argument("base_url")
@click.option("--merchant", "slug", required=True, help="The merchant's slug.")
def log_audit(base_url: str, slug: str) -> None:
    """Recompute a merchant's badge from public data alone (no database): its score,
    count, history, provenance, seal and criteria at the badge's log head, with the
    published formula. Exit 0 when all match, 1 on a mismatch, 2 when unreachable."""
    from trustseal.transparency import public_audit

    try:
        report = public_audit.audit(base_url, slug)
    except public_audit.Unreachable as error:
        click.echo(f"UNREACHABLE: {error}", err=True)
        raise SystemExit(public_audit.UNREACHABLE) from error
    for line in report.lines():
        click.echo(line)
    click.echo(f"{'MATCH' if report.ok else 'MISMATCH'}: the badge of {slug} at {base_url}")
    raise SystemExit(public_audit.MATCH if report.ok else public_audit.MISMATCH)


def _witness_options(command: Any) -> Any:
    """``--witness VKEY`` (repeatable) and ``--quorum N``."""
    command = click.option(
        "--quorum",
        type=click.IntRange(min=1),
        default=None,
        help="How many of the witnesses must have cosigned (default: all of them).",
    )(command)
    return click.option(
        "--witness",
        "witness_keys",
        multiple=True,
        metavar="VKEY",
        help="A witness's cosignature/v1 verifier key (repeatable).",
    )(command)


def _witness_policy(
    witness_keys: tuple[str, ...], quorum: int | None
) -> tuple[list[note.Verifier], int]:
    """The witnesses' keys and the quorum (0: no witness asked for)."""
    if not witness_keys:
        if quorum:
            raise click.UsageError("--quorum needs at least one --witness")
        return [], 0
    verifiers: list[note.Verifier] = []
    for vkey in witness_keys:
        try:
            verifier = note.verifier_of_type(vkey, note.COSIGNATURE_V1)
        except note.NoteError as error:
            raise click.BadParameter(f"{vkey}: {error}", param_hint="--witness") from error
        if verifier not in verifiers:
            verifiers.append(verifier)
    needed = len(verifiers) if quorum is None else quorum
    if needed > len(verifiers):
        raise click.BadParameter(f"{needed} > {len(verifiers)} witnesses", param_hint="--quorum")
    return verifiers, needed


@log_group.command("watch")
@click.argument("url")
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False),
    default="log-head.json",
    show_default=True,
    help="Where the last accepted head is kept.",
)
@click.option("--interval", default=60.0, show_default=True, help="Seconds between checks.")
@click.option("--once", is_flag=True, help="Check once and exit.")
@click.option(
    "--max-age",
    "max_age_hours",
    type=click.FloatRange(min=0, min_open=True),
    default=25.0,
    show_default=True,
    help="Alarm when the latest signed head is older than this many hours.",
)
@_witness_options
def log_watch(
    url: str,
    state_file: str,
    interval: float,
    once: bool,
    max_age_hours: float,
    witness_keys: tuple[str, ...],
    quorum: int | None,
) -> None:
    """Monitor a trustseal log from outside: fail loudly if a new head is not consistent,
    goes back in time or is stale (the log signs its head again at least hourly).

    With --witness, also require the log's checkpoint to carry a quorum of those
    witnesses' cosignatures, and its tiles to hash to it: a log rewritten or forked
    after it was witnessed is then caught even on a first run."""
    witnesses, needed = _witness_policy(witness_keys, quorum)
    while True:
        try:
            old, new, witnessed = monitor.watch_once(
                url,
                Path(state_file),
                max_age=timedelta(hours=max_age_hours),
                witnesses=witnesses,
                quorum=needed,
            )
        except monitor.Alarm as alarm:
            click.echo(f"ALARM: {alarm}", err=True)
            raise SystemExit(2) from alarm
        except OSError as error:
            click.echo(f"cannot reach {url}: {error}", err=True)
            if once:
                raise SystemExit(1) from error
        else:
            before = old.tree_size if old else "-"
            line = f"OK {before} -> {new.tree_size} root {new.root_hash} at {new.timestamp}"
            if witnessed is not None:
                line += (
                    f"; witnessed at size {witnessed.checkpoint.size} by "
                    f"{len(witnessed.cosigners)} of {len(witnesses)}: "
                    + ", ".join(witnessed.cosigners)
                )
            click.echo(line)
        if once:
            return
        time.sleep(interval)


def _load_jwks(source: str | None) -> dict[str, Any]:
    """The trusted keys: a file, a URL, or this service's own key store."""
    if source is None:
        return signing.jwks()
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as response:
            return json.loads(response.read())
    return json.loads(Path(source).read_text())


@click.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--jwks",
    "jwks_source",
    default=None,
    help="Trusted keys: a JWKS file or URL (default: this service's own keys).",
)
@click.option(
    "--domain",
    default=None,
    help="The site the badge was found on: fail unless the badge names it (or a parent).",
)
@_witness_options
@with_appcontext
def verify_badge(
    file: str,
    jwks_source: str | None,
    domain: str | None,
    witness_keys: tuple[str, ...],
    quorum: int | None,
) -> None:
    """Verify a badge (SVG or PNG) or a bare assertion offline; exit 0 only if all is well.

    The VALID line shows what the badge signs: domain, seal status, score and count.
    With --witness, the badge's log head must also be in a checkpoint a quorum of those
    witnesses cosigned (the badge carries it, with the consistency proof).
    """
    from badges import verify as badge_verify

    witnesses, needed = _witness_policy(witness_keys, quorum)
    try:
        keys = _load_jwks(jwks_source)
    except (OSError, ValueError) as error:
        raise click.ClickException(f"cannot read the keys from {jwks_source}: {error}") from error
    verdict = badge_verify.verify(
        Path(file).read_bytes(), keys, domain=domain, witnesses=witnesses, quorum=needed
    )
    click.echo(verdict.line())
    if not verdict.ok:
        raise SystemExit(1)


@click.group("seals")
def seals_group() -> None:
    """Seal lifecycle (staff decisions also have an API)."""


@seals_group.command("decide")
@click.argument("slug")
@click.argument("action", type=click.Choice([a.value for a in seals.Action]))
@click.option("--reason", required=True, help="The public reason.")
@click.option("--valid-until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@with_appcontext
def seals_decide(slug: str, action: str, reason: str, valid_until: datetime | None) -> None:
    """Approve, suspend, revoke or reinstate a merchant's seal."""
    merchant = merchants.get_by_slug(slug)
    if merchant is None:
        raise click.ClickException(f"no merchant {slug}")
    until = valid_until.replace(tzinfo=UTC) if valid_until else None
    try:
        seal = seals.decide(merchant, seals.Action(action), reason, None, until)
    except seals.SealError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"{slug}: {seal.status} until {seal.valid_until:%Y-%m-%d}")


def _rfc3339(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """Parse an RFC 3339 moment (``2026-12-31T09:00:00Z``, or with an offset)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError as error:
        raise click.BadParameter("an RFC 3339 time, e.g. 2026-12-31T09:00:00Z") from error
    if moment.tzinfo is None:
        raise click.BadParameter("give the time zone: Z or an offset such as -05:00")
    return moment.astimezone(UTC)


@seals_group.command("monitor")
@click.option(
    "--at",
    callback=_rfc3339,
    default=None,
    help="Evaluate the rules as of this RFC 3339 time (default: now).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def seals_monitor(at: datetime | None, as_json: bool) -> None:
    """Evaluate the published monitoring rules for every active seal: suspend on a
    breach, warn the merchant before one (emails queued for the worker)."""
    from trustseal.seals import monitor as seal_monitor

    report = seal_monitor.monitor(at)
    lines = []
    for outcome in report.outcomes:
        rules = f" ({', '.join(outcome.rules)})" if outcome.rules else ""
        lines.append(f"{outcome.slug}: {outcome.status}{rules}")
    summary = report.as_dict()
    lines.append(
        f"checked {summary['checked']} active seals at {summary['at']}: "
        f"{summary['suspended']} suspended, {summary['warned']} warned, "
        f"{summary['errors']} errors"
    )
    _emit(as_json, summary, lines)
    if summary["errors"]:
        raise SystemExit(1)


@click.group("stores")
def stores_group() -> None:
    """Platform stores."""


@stores_group.command("reconcile")
@click.argument("store_id", type=int)
@click.option(
    "--since",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Re-fetch orders created since this date (YYYY-MM-DD).",
)
@with_appcontext
def stores_reconcile(store_id: int, since: datetime) -> None:
    """Re-fetch a store's orders from the platform's API to fill missed webhooks."""
    from trustseal.platforms import PlatformError
    from trustseal.stores import service as stores

    store = stores.get(store_id)
    if store is None:
        raise click.ClickException(f"no store {store_id}")
    try:
        with click.progressbar(length=0, label="orders", show_pos=True) as bar:
            count = stores.reconcile(store, since.replace(tzinfo=UTC), bar.update)
    except PlatformError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"reconciled {count} orders of store {store_id} since {since:%Y-%m-%d}")


@click.group("book")
def book_group() -> None:
    """The complaints and praise book."""


@book_group.command("erase-expired")
@with_appcontext
def book_erase_expired() -> None:
    """Erase consumers' personal data of entries past the retention period (keeps number,
    dates and kind). Run it daily."""
    count = book.erase_expired()
    db.session.commit()
    click.echo(f"erased the personal data of {count} entries")


@click.group("signals")
def signals_group() -> None:
    """Fraud signals: suspicious patterns in reviews, for staff."""


@signals_group.command("scan")
@click.option("--merchant", "slug", default=None, help="Only this merchant's reviews.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only reviews written since this date (YYYY-MM-DD).",
)
@with_appcontext
def signals_scan(slug: str | None, since: datetime | None) -> None:
    """Run the fraud detector over stored reviews, as the job does after each one (open
    signals grow, none is opened twice)."""
    from trustseal.signals import service as signals

    merchant_id = None
    if slug is not None:
        merchant = merchants.get_by_slug(slug)
        if merchant is None:
            raise click.ClickException(f"no merchant {slug}")
        merchant_id = merchant.id
    found = signals.scan(merchant_id, since.replace(tzinfo=UTC) if since else None)
    db.session.commit()
    click.echo(
        f"scanned {found.scanned} reviews: {len(found.opened)} signals opened, "
        f"{len(found.updated)} updated"
    )


@click.group("witness")
def witness_group() -> None:
    """Run an independent witness of a transparency log (c2sp.org/tlog-witness)."""


@witness_group.command("keygen")
@click.argument("name")
@click.argument("key_file", type=click.Path(dir_okay=False))
def witness_keygen(name: str, key_file: str) -> None:
    """Create a witness key NAME (e.g. witness.example/w1) in KEY_FILE (mode 0600) and
    print its verifier key: the log lists it in TRUSTSEAL_WITNESSES, clients pass it to
    --witness."""
    path = Path(key_file)
    if path.exists():
        raise click.ClickException(f"{key_file} exists: a witness key is never overwritten")
    try:
        signer = note.Signer.generate(name, note.COSIGNATURE_V1)
    except note.NoteError as error:
        raise click.BadParameter(str(error), param_hint="NAME") from error
    path.touch(mode=0o600)
    path.write_text(signer.skey + "\n")
    click.echo(signer.verifier.vkey)


@witness_group.command("serve")
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The witness's signer key file (witness keygen).",
)
@click.option(
    "--log",
    "logs",
    required=True,
    multiple=True,
    metavar="ORIGIN=VKEY",
    help="A log to witness: its origin and note verifier key (repeatable; see /log/vkey).",
)
@click.option("--bind", default="127.0.0.1:7380", show_default=True, help="HOST:PORT to listen on.")
@click.option(
    "--state",
    "state_file",
    default="witness.sqlite3",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The SQLite file that keeps the last checkpoint cosigned per log.",
)
def witness_serve(key_file: str, logs: tuple[str, ...], bind: str, state_file: str) -> None:
    """Serve POST /add-checkpoint and GET /<origin hash>/checkpoint until stopped."""
    from werkzeug.serving import run_simple

    from trustseal.witness.server import Witness, WitnessApp, parse_log
    from trustseal.witness.state import WitnessState

    try:
        signer = note.Signer.from_skey(Path(key_file).read_text(), note.COSIGNATURE_V1)
    except note.NoteError as error:
        raise click.ClickException(f"{key_file}: {error}") from error
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter("HOST:PORT", param_hint="--bind")
    try:
        for option in logs:
            parse_log(option)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--log") from error
    witness = Witness.configure(signer, logs, WitnessState(state_file))
    click.echo(f"witness {signer.verifier.vkey} on http://{bind}/ for {', '.join(witness.logs)}")
    run_simple(host, int(port), WitnessApp(witness), threaded=True)


def init_app(app: Flask) -> None:
    """Attach the service's commands to the app's CLI."""
    for command in (
        staff_group,
        merchants_group,
        worker,
        demo,
        keys_group,
        log_group,
        verify_badge,
        seals_group,
        stores_group,
        book_group,
        signals_group,
        witness_group,
    ):
        app.cli.add_command(command)
