"""Outgoing webhooks: a merchant's own systems told of its reviews, complaints and seal.

Merchants subscribe URLs to events; each delivery is signed Stripe-style
(``X-Trustseal-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``), posted through the
same SSRF guard as the site check, retried with exponential backoff for a day and kept in
a delivery log with each attempt's response code. Other domains call
:func:`trustseal.hooks.service.emit` in their own transaction.
"""
