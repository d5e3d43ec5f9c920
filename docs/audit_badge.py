"""Audit a trustseal badge from public data alone: ``python audit_badge.py BASE_URL SLUG``.

What ``trustseal log audit`` does, in the standard library, to read with docs/verify.md
("Auditing a badge") and port to any language: fetch the badge's assertion and the log
entries 0 .. tree_size - 1 of the head it signs, check every leaf hash and the root, replay
the merchant's leaves with the published formula at the badge's ``iat`` — the score, its
history and provenance, the seal, the criteria and the service KPIs ("The service KPIs") —
and compare each signed number with its recomputation. Exit status 0: all match, 1: a
mismatch, 2: unreachable.

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
from collections import Counter
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

FORMULA_VERSION = "2026-12"
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
DECISIONS = ("applied", "approved", "suspended", "revoked", "reinstated", "expired")
SEAL_DECISIONS = {f"seal.{name}" for name in DECISIONS}  # the leaves that set seal_status
REVIEW_EVENTS = {"review.removed", "review.restored", "response.created", "review.updated"}
BOOK_EVENTS = {"book.filed", "book.answered", "book.confirmed"}
COMPLAINTS = {"reclamo", "queja"}  # book entries that are answered and confirmed
NUMBERS = ("score", "rating_count", "provenance", "history", "kpis", "seal_status", "valid_until")
MIN_SAMPLE = 10  # a KPI is null until this many events measure it
MAX_DAYS = 90  # day counts (to deliver, to resolve) of 90 or more count as 90


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


def answer_bucket(hours: float) -> int:
    """The answer-time histogram's bucket: by hour below 48 h (0 for a negative time;
    ``int`` cuts towards zero), then by day after those 48 h, at most 136 (90 days or more)."""
    if hours < 48:
        return max(0, int(hours))
    return 48 + min(88, int((hours - 48) // 24))


def bucket_middle(bucket: int) -> float:
    """A bucket's middle, in hours: 20 → 20.5, 48 (48 h to 72 h) → 60."""
    return bucket + 0.5 if bucket < 48 else 48 + (bucket - 48) * 24 + 12


def lower_median(counts: Counter[int]) -> int | None:
    """The first value, in ascending order, at which the running count reaches half the
    total — of 1, 2, 3, 4 that is 2, the lower middle one —, or null below the minimum
    sample."""
    total, seen = sum(counts.values()), 0
    if total < MIN_SAMPLE:
        return None
    for value in sorted(counts):
        seen += counts[value]
        if 2 * seen >= total:
            return value
    return None  # not reached: the last value brings the running count to the total


def share(hits: int, total: int) -> float | None:
    """hits / total as Python's round(x, 3) rounds the double (ties of the exact binary
    value to even), or null below the minimum sample."""
    return round(hits / total, 3) if total >= MIN_SAMPLE else None


def net_promoter(promoters: int, detractors: int, total: int) -> int | None:
    """NPS: 100 * (promoters - detractors) / total as a whole number, an exact half away
    from zero (12.5 → 13, -12.5 → -13); in integers, so no float rounding creeps in."""
    if total < MIN_SAMPLE:
        return None
    points = 100 * abs(promoters - detractors)
    rounded = (2 * points + total) // (2 * total)  # floor(points / total + 1/2)
    return rounded if promoters >= detractors else -rounded


def delivery(published: dict[str, Any]) -> tuple[bool | None, int | None]:
    """(delivered on time, days to deliver) of a ``review.published`` leaf. Only a purchase
    trustseal fetched from the sales platform itself (level ``platform``) has dates that
    count — a merchant's own dates never do. On time: its delivery day is on or before the
    promised day; without both dates, the reviewer's ``on_time`` answer; else unknown."""
    platform = (published.get("verification") or {}).get("level") == "platform"
    dates = published.get("delivery") or {}
    placed, delivered = dates.get("placed_on"), dates.get("delivered_on")
    promised = dates.get("promised_by")
    on_time = None
    if platform and delivered and promised:
        on_time = delivered <= promised  # YYYY-MM-DD dates order as text
    elif isinstance(published.get("on_time"), bool):
        on_time = published["on_time"]
    days = None
    if platform and placed and delivered:
        days = max(0, (date.fromisoformat(delivered) - date.fromisoformat(placed)).days)
    return on_time, days


class Replay:
    """One merchant's numbers from its leaves, fed in log order (docs/verify.md,
    "Recomputing the numbers" and "The service KPIs"). ``feed`` raises ValueError naming a
    leaf that contradicts an earlier one."""

    def __init__(self) -> None:
        # the score's state: published reviews, the declared ones, per month, decay sums
        self.published = self.declared = 0
        self.weight = self.weighted = 0.0  # Σ g(t) and Σ rating·g(t), added in log order
        self.months: Counter[str] = Counter()  # UTC month of the review → reviews
        # the KPIs' counts; a histogram is a Counter (value → events)
        self.satisfied = 0  # published reviews rated 4 or 5
        self.recommended = self.promoters = self.detractors = 0  # "¿Recomendarías…?" 0-10
        self.on_time_known = self.on_time = 0
        self.days_to_deliver: Counter[int] = Counter()  # whole days, 90: 90 or more
        self.answer_times: Counter[int] = Counter()  # answer_bucket → first answers
        self.outcomes = self.resolved = 0  # the consumers' word on answered cases
        self.days_to_resolve: Counter[int] = Counter()  # resolved cases, whole days
        # what later leaves are checked against
        self.reviews: dict[Any, dict[str, Any]] = {}  # review_id → effect and its state
        self.book: dict[Any, dict[str, Any]] = {}  # entry number → filed_at and its state
        self.status, self.until = "none", None  # the last seal decision's
        self.verdicts: dict[str, str] = {}  # each criterion's last verdict

    def feed(self, leaf: dict[str, Any]) -> None:
        """Fold one leaf of the merchant in; other types move nothing the badge signs."""
        kind = leaf["type"]
        if kind == "seal.criterion":
            self.verdicts[leaf["criterion"]] = leaf["verdict"]
        elif kind in SEAL_DECISIONS:
            self.status, self.until = leaf["status"], leaf.get("valid_until")
        elif kind == "review.published":
            self.publish(leaf)
        elif kind in REVIEW_EVENTS:
            self.review_event(leaf)
        elif kind in BOOK_EVENTS:
            self.book_event(leaf)

    def count(self, effect: dict[str, Any], sign: int) -> None:
        """Add (sign 1) or take away (sign -1) what one review adds to the numbers. The
        decay sums take s·g and (s·rating)·g, in this order: a removal adds the same
        doubles its publication did, negated."""
        rating, moment = effect["rating"], parse_time(effect["reviewed_at"])
        g = growth(moment)
        self.published += sign
        self.declared += sign if effect["level"] != "platform" else 0
        self.weight += sign * g
        self.weighted += sign * rating * g
        self.months[moment.strftime("%Y-%m")] += sign
        self.satisfied += sign if rating >= 4 else 0
        if effect["recommend"] is not None:
            self.recommended += sign
            self.promoters += sign if effect["recommend"] >= 9 else 0
            self.detractors += sign if effect["recommend"] <= 6 else 0
        if effect["delivered_on_time"] is not None:
            self.on_time_known += sign
            self.on_time += sign if effect["delivered_on_time"] else 0
        if effect["delivery_days"] is not None:
            self.days_to_deliver[min(max(0, effect["delivery_days"]), MAX_DAYS)] += sign

    def first_answer(self, since: str, answered_at: str) -> None:
        """A merchant's first answer to a review or a complaint, ``since`` its own time."""
        hours = (parse_time(answered_at) - parse_time(since)).total_seconds() / 3600
        self.answer_times[answer_bucket(hours)] += 1

    def outcome(self, since: str, said_at: str, resolved: bool) -> None:
        """The consumer's word on an answered case; a resolved one counts its whole days
        (rounded down) from ``since``, the review's or the complaint's time."""
        self.outcomes += 1
        if resolved:
            self.resolved += 1
            days = (parse_time(said_at) - parse_time(since)).days
            self.days_to_resolve[min(max(0, days), MAX_DAYS)] += 1

    def publish(self, leaf: dict[str, Any]) -> None:
        """A ``review.published`` leaf: record the review's effect, and count it."""
        if leaf["review_id"] in self.reviews:
            raise ValueError(f"leaf {leaf['index']}: review {leaf['review_id']} published twice")
        on_time, days = delivery(leaf)
        effect = {  # what the review's later leaves repeat (docs/verify.md, "Effect fields")
            "published_index": leaf["index"],
            "rating": leaf["rating"],
            "process_rating": leaf["process_rating"],
            "reviewed_at": leaf["time"],
            "level": (leaf.get("verification") or {}).get("level", "declared"),
            "recommend": leaf.get("recommend"),
            "delivered_on_time": on_time,
            "delivery_days": days,
        }
        self.reviews[leaf["review_id"]] = {
            "effect": effect,
            "answered": False,
            "removed": False,
            "updated": False,
        }
        self.count(effect, 1)

    def review_event(self, leaf: dict[str, Any]) -> None:
        """A removal, restore, first answer or update of a published review."""
        kind, index = leaf["type"], leaf["index"]
        review = self.reviews.get(leaf["review_id"])
        if review is None:
            raise ValueError(f"leaf {index} ({kind}): its review has no review.published leaf")
        effect = dict(review["effect"])  # as the review stands before this leaf
        # A leaf repeats these fields (and, but for a first answer, whether the review was
        # answered): they must be the review's. An older leaf may lack some; the replay
        # uses the review's own record in any case.
        expected = dict(effect)
        if kind != "response.created":
            expected["answered"] = review["answered"]
        for name, value in expected.items():
            if name in leaf and leaf[name] != value:
                raise ValueError(f"leaf {index} ({kind}): {name} differs from its review's")
        if kind == "response.created":
            if review["answered"]:
                raise ValueError(f"leaf {index}: the review was answered before")
            review["answered"] = True
            self.first_answer(effect["reviewed_at"], leaf["time"])
        elif kind == "review.updated":  # its author's word through the resolution loop
            if review["updated"] or review["removed"]:
                raise ValueError(f"leaf {index}: the review was updated before, or is removed")
            review["updated"] = True
            self.outcome(effect["reviewed_at"], leaf["time"], bool(leaf["resolved"]))
            new_rating = leaf.get("new_rating")
            if new_rating is not None:
                # from now on the review counts with its new rating, and later leaves
                # repeat that one; it keeps its date, month and everything else
                review["effect"]["rating"] = new_rating
                if new_rating != effect["rating"]:
                    self.count(effect, -1)
                    self.count(review["effect"], 1)
        else:
            removing = kind == "review.removed"
            if review["removed"] == removing:
                raise ValueError(f"leaf {index} ({kind}): the review is not in that state")
            review["removed"] = removing
            self.count(effect, -1 if removing else 1)

    def book_event(self, leaf: dict[str, Any]) -> None:
        """An entry of the complaints book: filed, answered by the merchant (a first
        answer), confirmed by the consumer (an outcome)."""
        kind, index, number = leaf["type"], leaf["index"], leaf.get("number")
        entry = self.book.get(number)
        if kind == "book.filed":
            if entry is not None:
                raise ValueError(f"leaf {index}: book entry {number} filed twice")
            self.book[number] = {
                "filed_at": leaf["time"],
                "complaint": leaf.get("kind") in COMPLAINTS,  # a felicitación gets neither
                "answered": False,
                "confirmed": False,
            }
            return
        if entry is None:
            raise ValueError(f"leaf {index} ({kind}): book entry {number} was never filed")
        if "filed_at" in leaf and leaf["filed_at"] != entry["filed_at"]:
            raise ValueError(f"leaf {index} ({kind}): filed_at differs from its book.filed leaf")
        if not entry["complaint"]:
            raise ValueError(f"leaf {index} ({kind}): book entry {number} is not a complaint")
        if kind == "book.answered":
            if entry["answered"]:
                raise ValueError(f"leaf {index}: book entry {number} was answered before")
            entry["answered"] = True
            self.first_answer(entry["filed_at"], leaf["time"])
        else:  # book.confirmed: once, and only after the answer
            if entry["confirmed"] or not entry["answered"]:
                raise ValueError(f"leaf {index}: book entry {number} cannot be confirmed now")
            entry["confirmed"] = True
            self.outcome(entry["filed_at"], leaf["time"], bool(leaf["resolved"]))

    def kpis(self) -> dict[str, Any]:
        """The service KPIs a badge signs under ``kpis``; each group says how many events
        measured it, and a value is null below MIN_SAMPLE of them."""
        answers = sum(self.answer_times.values())
        # bucket b < 48 holds the answers of b to b + 1 hours: under 24 h is buckets 0-23
        within_24h = sum(n for bucket, n in self.answer_times.items() if bucket < 24)
        answer_median = lower_median(self.answer_times)  # a bucket, then its middle
        return {
            "delivery": {
                "on_time_rate": share(self.on_time, self.on_time_known),
                "measured": self.on_time_known,
                "median_days_to_deliver": lower_median(self.days_to_deliver),
                "days_measured": sum(self.days_to_deliver.values()),
            },
            "satisfaction": {
                "csat": share(self.satisfied, self.published),
                "measured": self.published,
                "nps": net_promoter(self.promoters, self.detractors, self.recommended),
                "nps_measured": self.recommended,
            },
            "first_response": {
                "median_hours": None if answer_median is None else bucket_middle(answer_median),
                "within_24h_rate": share(within_24h, answers),
                "measured": answers,
            },
            "resolution": {
                "rate": share(self.resolved, self.outcomes),
                "median_days": lower_median(self.days_to_resolve),
                "measured": self.outcomes,
            },
            "min_sample": MIN_SAMPLE,
        }

    def numbers(self, now: datetime) -> dict[str, Any]:
        """What the badge signs, at ``now`` (its ``iat``), and the passed criteria."""
        scale, score = growth(now), None
        if self.published >= 5:
            score = one_decimal((7 * 3.5 + self.weighted / scale) / (7 + self.weight / scale))
        status = self.status
        if status == "active" and self.until is not None and parse_time(self.until) <= now:
            status = "expired"
        return {
            "score": score,
            "rating_count": self.published,
            "provenance": {"platform": self.published - self.declared, "declared": self.declared},
            "history": [self.months[month] for month in last_months(now)],
            "kpis": self.kpis(),
            "seal_status": status,
            "valid_until": self.until,
            "passed": sorted(c for c, verdict in self.verdicts.items() if verdict == "pass"),
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
        merchant = Replay()
        for leaf in parsed:
            if leaf.get("merchant") == slug:  # other merchants' leaves are skipped
                merchant.feed(leaf)
        numbers = merchant.numbers(datetime.fromtimestamp(iat, UTC))
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
