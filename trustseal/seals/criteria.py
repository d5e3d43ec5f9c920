"""The certification criteria, from the code of good practice for online trust."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

CRITERIA: list[tuple[str, str, object]] = [
    (
        "identity",
        "identity",
        _l("Formal identity: legal name, RUC, physical address, a corporate domain and email."),
    ),
    ("https", "security", _l("The whole site is served over HTTPS with a valid certificate.")),
    ("contact", "identity", _l("Contact data (phone, email, address) visible on the site.")),
    ("prices", "information", _l("Clear final prices (taxes and delivery included) and stock.")),
    ("terms", "information", _l("Terms and conditions visible before buying.")),
    ("privacy", "data", _l("A privacy policy that says what personal data is kept and why.")),
    ("returns", "information", _l("Returns, exchanges and refunds policy visible.")),
    ("delivery", "information", _l("Delivery policy: areas, costs and times.")),
    ("complaints_book", "complaints", _l("A visible link to the virtual Libro de Reclamaciones.")),
    ("verified_reviews", "reviews", _l("Verified reviews shown without deleting negative ones.")),
    (
        "complaint_answers",
        "complaints",
        _l("Complaints answered within the legal deadline of 15 business days."),
    ),
    ("payments", "security", _l("Secure online payments through a recognised payment provider.")),
    ("data_protection", "data", _l("Personal data protected as Ley 29733 requires.")),
]


def criteria() -> list[dict[str, str]]:
    """The criteria in the current language."""
    return [{"code": code, "group": group, "text": str(text)} for code, group, text in CRITERIA]
