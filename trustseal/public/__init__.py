"""The shopper's pages: a shop's public profile with its reviews, and the review form.

Like :mod:`trustseal.dashboard` for merchants and :mod:`trustseal.console` for certifier
staff, this package composes the domains' doors into what one user sees; no domain
imports it.
"""
