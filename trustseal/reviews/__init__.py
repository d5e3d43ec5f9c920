"""Verified-purchase reviews: submission by invitation, photos, public merchant answers,
flags and moderation, and the merchant's running score.

Other domains use :mod:`trustseal.reviews.service` (and :mod:`trustseal.reviews.score`).
"""
