"""A third party's audit of a badge from public data alone (``trustseal log audit``).

It fetches the merchant's signed badge assertion, the certifier's JWKS, the log's entries
up to the head the badge names, and the latest signed tree head with a consistency proof;
then recomputes score, count, history, provenance, seal and criteria at the badge's log
head with the published formula, and compares them with what the badge signs.

No database, no server code: the standard library, :mod:`trustseal.transparency.numbers`
(the formula and the replay), :mod:`merkle`, :mod:`monitor` and :mod:`badges.verify` —
all pure. docs/verify.md ("Recomputing a badge") writes the same steps out.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from badges import verify as badge_verify
from trustseal.signing import jws
from trustseal.transparency import merkle, monitor, numbers

MATCH, MISMATCH, UNREACHABLE = 0, 1, 2  # exit statuses
PAGE = 1000  # entries per request: the API's maximum


class Unreachable(Exception):
    """The service did not answer as it should (network, HTTP status, not JSON)."""


def http_get(url: str, timeout: float = 20.0) -> bytes:
    """GET ``url``; :class:`Unreachable` for anything but a 200 answer."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=timeout) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as error:
        raise Unreachable(f"{url}: HTTP {error.code}") from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise Unreachable(f"{url}: {error}") from error


@dataclass
class Report:
    """What the audit compared: one line per check, passed or not."""

    checks: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(passed for passed, _ in self.checks)

    def check(self, passed: bool, message: str) -> bool:
        """Record one check; returns ``passed``."""
        self.checks.append((passed, message))
        return passed

    def lines(self) -> list[str]:
        """``OK …`` / ``MISMATCH …`` per check."""
        return [f"{'OK' if passed else 'MISMATCH'}  {message}" for passed, message in self.checks]


def _json(url: str) -> Any:
    try:
        return json.loads(http_get(url))
    except (ValueError, UnicodeDecodeError) as error:
        raise Unreachable(f"{url}: not JSON") from error


def fetch_leaves(base: str, tree_size: int) -> tuple[list[tuple[int, bytes]], str | None]:
    """Entries ``0 .. tree_size - 1`` as ``(index, leaf bytes)``, page by page, and the
    first inconsistency in what was served (an entry out of order, a ``leaf_hash`` that
    is not its leaf's hash) — evidence against the log, not a network failure."""
    leaves: list[tuple[int, bytes]] = []
    while len(leaves) < tree_size:
        start = len(leaves)
        end = min(tree_size, start + PAGE) - 1
        page = _json(f"{base}/api/v1/log/entries?start={start}&end={end}")
        if not isinstance(page, list) or not page:
            raise Unreachable(f"no entries from {start}")
        for entry in page:
            if not isinstance(entry, dict) or entry.get("index") != len(leaves):
                return leaves, f"entry {len(leaves)} was served out of order"
            leaf = str(entry.get("leaf")).encode("utf-8")
            if merkle.leaf_hash(leaf).hex() != entry.get("leaf_hash"):
                return leaves, f"entry {len(leaves)}: its leaf_hash is not the leaf's hash"
            leaves.append((len(leaves), leaf))
            if len(leaves) == tree_size:
                break
    return leaves, None


def recompute(
    leaves: list[tuple[int, bytes]], slug: str, at: datetime
) -> tuple[dict[str, Any], str | None]:
    """The merchant's numbers at ``at`` from its leaves (other merchants' are skipped),
    and the first contradiction among them."""
    replay = numbers.Replay()
    for index, leaf in leaves:
        try:
            data = json.loads(leaf)
        except ValueError:
            return {}, f"leaf {index} is not JSON"
        if isinstance(data, dict) and data.get("merchant") == slug:
            problem = replay.feed(index, data)
            if problem:
                return {}, problem
    state = replay.states.get(slug, numbers.MerchantState())
    return state.numbers(at), None


def compare(report: Report, claims: dict[str, Any], computed: dict[str, Any]) -> None:
    """Each signed number against its recomputation."""
    seal = computed["seal"]
    criteria = claims.get("criteria") or {}
    pairs: list[tuple[str, Any, Any]] = [
        ("score", claims.get("score"), computed["score"]),
        ("rating_count", claims.get("rating_count"), computed["rating_count"]),
        ("provenance", claims.get("provenance"), computed["provenance"]),
        ("history", claims.get("history"), [m["count"] for m in computed["history"]]),
        ("kpis", claims.get("kpis"), computed["kpis"]),
        ("seal_status", claims.get("seal_status"), seal["status"]),
        ("valid_until", claims.get("valid_until"), seal["valid_until"]),
        (
            "criteria.digest",
            criteria.get("digest"),
            numbers.criteria_digest(computed["criteria_passed"], str(criteria.get("version"))),
        ),
    ]
    for name, signed, recomputed in pairs:
        report.check(
            signed == recomputed,
            f"{name}: signed {json.dumps(signed)}, recomputed {json.dumps(recomputed)}",
        )


def audit(base_url: str, slug: str) -> Report:
    """Audit the badge of ``slug`` served at ``base_url`` (see the module's docstring).

    Raises :class:`Unreachable` when the service cannot be read."""
    base = base_url.rstrip("/")
    report = Report()
    jwks = _json(f"{base}/.well-known/jwks.json")
    token = http_get(f"{base}/badges/{urllib.parse.quote(slug, safe='')}/assertion")
    try:
        header, claims = jws.verify(token.decode("ascii", "replace").strip(), jwks)
    except jws.JWSError as error:
        report.check(False, f"assertion: signature not valid: {error}")
        return report
    key = jws.find_key(jwks, header.get("kid"))
    timing = list(badge_verify.check_time(claims, key, time.time()))
    if not report.check(
        all(passed for passed, _ in timing),
        "assertion: signed by the certifier; " + "; ".join(message for _, message in timing),
    ):
        return report
    if not report.check(
        claims.get("sub") == slug and claims.get("formula_version") == numbers.FORMULA_VERSION,
        f"badge of {claims.get('sub')}, formula {claims.get('formula_version')} "
        f"(this tool computes {numbers.FORMULA_VERSION})",
    ):
        return report
    head = claims.get("log") or {}
    tree_size, root_hash = head.get("tree_size"), head.get("root_hash")
    if not isinstance(tree_size, int) or not isinstance(root_hash, str) or tree_size < 0:
        report.check(False, "the assertion names no log head")
        return report
    leaves, inconsistent = fetch_leaves(base, tree_size)
    if not report.check(inconsistent is None, f"entries: {inconsistent or 'well formed'}"):
        return report
    root = merkle.root_from_leaf_hashes([merkle.leaf_hash(leaf) for _, leaf in leaves])
    if not report.check(
        root.hex() == root_hash,
        f"log head: {tree_size} entries hash to {root.hex()}, the badge signs {root_hash}",
    ):
        return report
    try:
        latest = monitor.verified_head(base)
        badge_head = monitor.Seen(tree_size, root_hash, latest.timestamp)
        # heads are signed at intervals: the badge's may be newer than the latest signed one
        older, newer = sorted((badge_head, latest), key=lambda seen: seen.tree_size)
        monitor.check_consistent(base, older, newer)
        report.check(
            True,
            f"the badge's head ({tree_size}) and the signed head ({latest.tree_size}) are one log",
        )
    except monitor.Alarm as alarm:
        report.check(False, f"the badge's head is not part of the public log: {alarm}")
        return report
    except (urllib.error.URLError, OSError, ValueError, KeyError) as error:
        raise Unreachable(f"{base}: the signed tree head or a proof: {error}") from error
    at = datetime.fromtimestamp(int(claims["iat"]), UTC)
    computed, problem = recompute(leaves, slug, at)
    if not report.check(problem is None, f"replay of the log: {problem or 'consistent'}"):
        return report
    compare(report, claims, computed)
    return report
