"""Stores: a merchant's shops on e-commerce platforms, and the webhooks they send.

Platform specifics live in plugins (``plugins/``) behind :mod:`trustseal.platforms`;
this domain keeps the stores, their encrypted secrets, delivery deduplication, and turns
what a plugin parses into purchases through :mod:`trustseal.orders.service`.
"""
