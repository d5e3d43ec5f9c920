"""Certifier staff: people with roles (admin, certifier, moderator) and their API tokens.

Other domains use :mod:`trustseal.staff.service` only.
"""
