"""Serving the signed badge: what it shows, its assertion, caching and the embed snippet.

Rendering itself lives in the top-level ``badges`` package; this domain gathers the
data through the other domains' doors and signs with the ``signing`` key store.
"""
