"""Audit a trustseal badge from public data alone: ``python audit_badge.py BASE_URL SLUG``.

What ``trustseal log audit`` does, in the standard library, to read with docs/verify.md
("Auditing a badge") and port to any language: fetch the badge's assertion and the log
entries 0 .. tree_size - 1 of the head it signs, check every leaf hash and the root, replay
the merchant's leaves with the published formula at the badge's ``iat``, compare each signed
number with its recomputation. Exit status 0: all match, 1: a mismatch, 2: unreachable.

It does NOT check the assertion's Ed25519 signature, nor the badge's head against the
latest signed tree head: ``trustseal verify`` / ``trustseal log audit`` or any Ed25519
(RFC 8032) library must (docs/verify.md, step 2). Without that, this shows that the numbers
follow from the log the service serves, not that the service signed them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

FORMULA_VERSION = "2026-11"
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
DECISIONS = ("applied", "approved", "suspended", "revoked", "reinstated", "expired")
SEAL_DECISIONS = {f"seal.{name}" for name in DECISIONS}  # the leaves that set seal_status
REVIEW_EVENTS = {"review.published", "review.removed", "review.restored", "response.created"}
NUMBERS = ("score", "rating_count", "provenance", "history", "seal_status", "valid_until")


class Unreachable(Exception):
    """The service did not answer: network error, an HTTP status other than 200, not JSON."""


def fetch(url: str, as_json: bool = True) -> Any:
    """GET ``url``: its JSON, or its bytes."""
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            body = response.read()
        return json.loads(body) if as_json else body
    except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
        raise Unreachable(f"{url}: {error}") from error


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 9162: SHA-256(0x00 ‖ leaf bytes)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def merkle_root(hashes: list[bytes]) -> bytes:
    """RFC 9162 MTH: split at the largest power of two below n; node SHA-256(0x01 ‖ l ‖ r)."""
    if len(hashes) <= 1:
        return hashes[0] if hashes else hashlib.sha256(b"").digest()
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + merkle_root(hashes[:k]) + merkle_root(hashes[k:])).digest()


def parse_time(text: str) -> datetime:
    """An RFC 3339 UTC time as leaves write it (``2026-11-02T10:00:00Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def growth(moment: datetime) -> float:
    """g(t) = 2^(days since 2020-01-01T00:00:00Z / 365), these double operations in order."""
    return float(2.0 ** (((moment - EPOCH).total_seconds() / 86400) / 365))


def one_decimal(value: float) -> float:
    """Half up to one decimal, on the shortest repr of the double (4.25 → 4.3)."""
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def last_months(now: datetime) -> list[str]:
    """The 12 UTC months up to ``now``'s, oldest first."""
    months = [now.year * 12 + now.month - 1 - back for back in range(11, -1, -1)]
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in months]


def replay(leaves: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """One merchant's numbers at ``now`` from its leaves in log order (docs/verify.md,
    "Recomputing the numbers"). ValueError names a leaf contradicting an earlier one."""
    published = declared = 0
    weight = weighted = 0.0  # Σ g(t) and Σ r·g(t), added in log order
    months: dict[str, int] = {}
    reviews: dict[Any, dict[str, Any]] = {}  # review_id → its effect, removed, answered
    status, until = "none", None  # the last seal decision's
    verdicts: dict[str, str] = {}  # each criterion's last verdict
    for leaf in leaves:
        kind, index = leaf["type"], leaf["index"]
        if kind == "seal.criterion":
            verdicts[leaf["criterion"]] = leaf["verdict"]
        elif kind in SEAL_DECISIONS:
            status, until = leaf["status"], leaf.get("valid_until")
        if kind not in REVIEW_EVENTS:
            continue
        review = reviews.get(leaf["review_id"])
        if kind == "review.published":
            if review is not None:
                raise ValueError(f"leaf {index}: review {leaf['review_id']} published twice")
            level = (leaf.get("verification") or {}).get("level", "declared")
            effect = {"published_index": index, "rating": leaf["rating"], "level": level}
            effect |= {"process_rating": leaf["process_rating"], "reviewed_at": leaf["time"]}
            review = reviews[leaf["review_id"]] = {"effect": effect, "answered": False}
            review["removed"], sign = False, 1
        elif review is None:
            raise ValueError(f"leaf {index} ({kind}): its review has no review.published leaf")
        else:
            answered = {} if kind == "response.created" else {"answered": review["answered"]}
            expected = review["effect"] | answered
            for name, value in expected.items():  # effect fields, when present, must agree
                if name in leaf and leaf[name] != value:
                    raise ValueError(f"leaf {index} ({kind}): {name} differs from its review's")
            if kind == "response.created":
                if review["answered"]:
                    raise ValueError(f"leaf {index}: the review was answered before")
                review["answered"] = True
                continue  # moves only answer-time numbers, which a badge does not sign
            if review["removed"] == (kind == "review.removed"):
                raise ValueError(f"leaf {index} ({kind}): the review is not in that state")
            review["removed"] = kind == "review.removed"
            sign = -1 if review["removed"] else 1
        effect = review["effect"]
        moment = parse_time(effect["reviewed_at"])
        g, month = growth(moment), moment.strftime("%Y-%m")  # the month in UTC
        published += sign
        declared += sign if effect["level"] != "platform" else 0
        weight += sign * g
        weighted += sign * effect["rating"] * g
        months[month] = months.get(month, 0) + sign
    scale, score = growth(now), None
    if published >= 5:
        score = one_decimal((7 * 3.5 + weighted / scale) / (7 + weight / scale))
    if status == "active" and until is not None and parse_time(until) <= now:
        status = "expired"
    return {
        "score": score,
        "rating_count": published,
        "provenance": {"platform": published - declared, "declared": declared},
        "history": [months.get(month, 0) for month in last_months(now)],
        "seal_status": status,
        "valid_until": until,
        "passed": sorted(c for c, verdict in verdicts.items() if verdict == "pass"),
    }


def audit(base: str, slug: str) -> list[tuple[bool, str]]:
    """Every check in order, as (passed, text); it stops at the first failed step."""
    token = fetch(f"{base}/badges/{urllib.parse.quote(slug)}/assertion", as_json=False)
    try:
        payload = token.decode("ascii").strip().split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        iat, exp = int(claims["iat"]), int(claims["exp"])
        size, root = int(claims["log"]["tree_size"]), str(claims["log"]["root_hash"])
    except (IndexError, ValueError, KeyError, TypeError) as error:
        return [(False, f"assertion: not a JWS with iat, exp and log ({error})")]
    now = time.time()
    fresh = exp > now and iat <= now + 300 and exp - iat <= 7 * 86400  # 300 s of clock skew
    checks = [(fresh, f"assertion: iat {iat}, exp {exp} (its signature is NOT checked here)")]
    sub, formula = claims.get("sub"), claims.get("formula_version")
    ours = sub == slug and formula == FORMULA_VERSION
    checks.append((ours, f"badge of {sub}, formula {formula} (this script: {FORMULA_VERSION})"))
    if not all(ok for ok, _ in checks):
        return checks
    leaves: list[bytes] = []
    while len(leaves) < size:  # pages of at most 1000 entries; both ends are inclusive
        start, end = len(leaves), min(size, len(leaves) + 1000) - 1
        for entry in fetch(f"{base}/api/v1/log/entries?start={start}&end={end}"):
            data = str(entry["leaf"]).encode("utf-8")
            if entry["index"] != len(leaves) or leaf_hash(data).hex() != entry["leaf_hash"]:
                return [*checks, (False, f"entry {entry['index']}: wrong index or leaf_hash")]
            leaves.append(data)
            if len(leaves) == size:
                break
        if len(leaves) == start:
            raise Unreachable(f"{base}: no entries from {start}")
    computed = merkle_root([leaf_hash(leaf) for leaf in leaves]).hex()
    line = f"log head: {size} entries hash to {computed}, the badge signs {root}"
    checks.append((computed == root, line))
    if computed != root:
        return checks
    try:
        parsed = [{**json.loads(leaf), "index": index} for index, leaf in enumerate(leaves)]
        mine = [leaf for leaf in parsed if leaf.get("merchant") == slug]
        numbers = replay(mine, datetime.fromtimestamp(iat, UTC))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        return [*checks, (False, f"replay of the log: {error!r}")]
    checks.append((True, "replay of the log: consistent"))
    criteria = claims.get("criteria") or {}  # the digest under the version the badge names
    text = f"trustseal-criteria/{criteria.get('version')}" + "".join(
        f"\n{criterion}" for criterion in numbers["passed"]
    )
    pairs = [(name, claims.get(name), numbers[name]) for name in NUMBERS]
    digest = hashlib.sha256(text.encode()).hexdigest()
    pairs.append(("criteria.digest", criteria.get("digest"), digest))
    for name, signed, recomputed in pairs:
        line = f"{name}: signed {json.dumps(signed, sort_keys=True)}, recomputed "
        checks.append((signed == recomputed, line + json.dumps(recomputed, sort_keys=True)))
    return checks


def main(argv: list[str]) -> int:
    """Run the audit, print one line per check and the verdict; the exit status."""
    if len(argv) != 3:
        print("usage: python audit_badge.py BASE_URL SLUG", file=sys.stderr)
        return 2
    base, slug = argv[1].rstrip("/"), argv[2]
    try:
        checks = audit(base, slug)
    except Unreachable as error:
        print(f"UNREACHABLE: {error}", file=sys.stderr)
        return 2
    for ok, line in checks:
        print(f"{'OK' if ok else 'MISMATCH'}  {line}")
    passed = all(ok for ok, _ in checks)
    print(f"{'MATCH' if passed else 'MISMATCH'}: the badge of {slug} at {base}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
