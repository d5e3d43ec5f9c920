"""Merchants: the shops a certifier works with, and their API keys.

Other domains use :mod:`trustseal.merchants.service` only.
"""
