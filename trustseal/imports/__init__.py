"""Reviews imported from a shop's previous review provider, kept apart from verified ones.

A merchant uploads a CSV file (trustseal's own columns, or the export of Judge.me, Yotpo or
Trustpilot: :mod:`trustseal.imports.formats`); a job reads it in chunks, each committed
with its progress, and logs every imported review as a ``review.imported`` leaf. Imported
reviews are shown apart as "Imported · not verified" and never count in the score, the
KPIs or the badge: they are not rows of the reviews domain. Certifier staff (never the
shop) may remove one for a published reason, leaving a tombstone, and restore it.
"""
