"""Personal data in a review's text: golden examples of what is masked and what is not.

The module's documentation gives the reasons; each decision it states is pinned here, the
false negatives (numbers that merely contain eight digits) as firmly as the positives.
"""

from __future__ import annotations

import itertools
import time

import pytest

from trustseal.reviews import personal_data
from trustseal.reviews.personal_data import MASK, Kind, find, in_order, mask

M = MASK

# (text as typed, text as published, kinds found)
FOUND = [
    # DNI: eight digits standing alone, with or without its name or its check character
    ("Mi DNI es 45678912", f"Mi DNI es {M}", {Kind.DNI}),
    ("DNI: 45678912.", f"DNI: {M}.", {Kind.DNI}),
    ("DNI N° 45678912, gracias", f"DNI N° {M}, gracias", {Kind.DNI}),
    ("Nº45678912", f"Nº{M}", {Kind.DNI}),
    ("DNI45678912", f"DNI{M}", {Kind.DNI}),
    ("dni-45678912", f"dni-{M}", {Kind.DNI}),
    ("45678912-3 es mi documento", f"{M} es mi documento", {Kind.DNI}),
    ("doc 45678912 - K", f"doc {M}", {Kind.DNI}),
    ("(45678912)", f"({M})", {Kind.DNI}),
    ("98765432", M, {Kind.DNI}),  # eight digits, whatever the first: a DNI, not a mobile
    ("45678912\nsaludos", f"{M}\nsaludos", {Kind.DNI}),
    # the decision on prices: eight bare digits after the sol sign are masked
    ("Pagué S/ 45678912", f"Pagué S/ {M}", {Kind.DNI}),
    ("S/45678912", f"S/{M}", {Kind.DNI}),
    # mobiles: 9 digits from 9, grouped 3-3-3 or not, with or without +51
    ("llámenme al 987 654 321", f"llámenme al {M}", {Kind.PHONE}),
    ("987654321", M, {Kind.PHONE}),
    ("cel: 987-654-321.", f"cel: {M}.", {Kind.PHONE}),
    ("987 - 654 - 321", M, {Kind.PHONE}),
    ("+51 987 654 321", M, {Kind.PHONE}),
    ("+51987654321", M, {Kind.PHONE}),
    ("51 987654321", M, {Kind.PHONE}),
    ("(+51) 987-654-321", M, {Kind.PHONE}),
    ("+51-987\u00a0654\u00a0321", M, {Kind.PHONE}),
    ("wsp 912345678 o 998877665", f"wsp {M} o {M}", {Kind.PHONE}),
    # email addresses
    ("escríbanme a ana.perez+compras@correo.com.pe", f"escríbanme a {M}", {Kind.EMAIL}),
    ("ANA@MAIL.COM.", f"{M}.", {Kind.EMAIL}),
    ("josé_ñandú@empresa.pe", M, {Kind.EMAIL}),
    ("45678912@gmail.com", M, {Kind.EMAIL}),  # the address, not a DNI inside it
    # two long numbers side by side are two numbers (groups of long numbers have 1-4 digits)
    ("987654321 45678912", f"{M} {M}", {Kind.PHONE, Kind.DNI}),
    # several kinds in one text
    (
        "DNI 45678912, cel 987654321, correo a@b.pe",
        f"DNI {M}, cel {M}, correo {M}",
        {Kind.DNI, Kind.PHONE, Kind.EMAIL},
    ),
]

# Texts left exactly as written.
KEPT = [
    "Llegó en 3 días, muy bien empacado.",
    "pedido 123456789012",  # eight digits inside a longer number
    "tracking 1234567890123456",
    "9876543210",  # ten digits: not a mobile
    "4557 8800 1234 5678",  # a card number, in groups of four
    "9123 4567 8901 2345",
    "ORD-45678912",  # a code
    "A45678912",
    "45678912a",
    "45678912-34",  # a longer code, not a check character
    "1 45678912",  # the second group of a grouped number
    "45678912 5",
    "45678912.50",  # an amount with decimals
    "45678912,50",
    "S/ 1,299.90",  # a real price
    "pedido #45678912",  # the order number, known to the merchant
    "(01) 234-5678",  # a fixed line
    "912 345 678 9",  # more digits after a mobile-like group
    "12 987 654 321",
    "x51987654321",
    "2026-01-15",  # a date
    "/pedidos/45678912",  # a path
    "ana@localhost",  # no domain
    "ana arroba gmail punto com",  # spelled out: not recognized (documented)
    "Lucía Q.",
]


@pytest.mark.parametrize(("typed", "published", "kinds"), FOUND)
def test_personal_data_is_masked(typed, published, kinds):
    masked = mask(typed)
    assert masked.text == published
    assert masked.kinds == kinds


@pytest.mark.parametrize("typed", KEPT)
def test_other_numbers_and_words_are_kept(typed):
    assert mask(typed) == personal_data.Masked(typed, frozenset())
    assert find(typed) == []


def test_findings_are_in_reading_order_and_never_overlap():
    text = "a@b.pe 987654321 45678912 x 45678912@c.pe"
    findings = find(text)
    assert [f.kind for f in findings] == [Kind.EMAIL, Kind.PHONE, Kind.DNI, Kind.EMAIL]
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))
    assert [text[f.start : f.end] for f in findings] == [
        "a@b.pe",
        "987654321",
        "45678912",
        "45678912@c.pe",
    ]


def test_the_mask_is_fixed_and_never_lengthens_a_text():
    assert MASK == "[•••]"  # the same in every language: the log commits to it
    for typed, _, _ in FOUND:
        assert len(mask(typed).text) <= len(typed)
    assert mask(MASK).text == MASK  # masking twice changes nothing


def test_kinds_are_named_in_a_stable_order():
    assert in_order({Kind.DNI, Kind.EMAIL}) == ["email", "dni"]
    assert in_order(frozenset(Kind)) == ["email", "phone", "dni"]
    assert in_order(set()) == []


@pytest.mark.parametrize(
    "hostile",
    [
        "a@" + "b." * 2500 + "1",
        "a." * 2500 + "@",
        "1 " * 2500,
        "9" * 5000,
        ("45678912-" * 555)[:5000],
        "+51 " * 1250,
    ],
)
def test_a_hostile_text_is_scanned_quickly(hostile):
    started = time.perf_counter()
    mask(hostile)
    assert time.perf_counter() - started < 0.5
