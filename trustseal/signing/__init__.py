"""Signing: the service's Ed25519 keys (generation, rotation, JWKS) and compact JWS.

The transparency log signs its tree heads and the badge signs its assertions with the
current key; retired keys stay published so old signatures keep verifying. Other
domains use :mod:`trustseal.signing.service`; :mod:`trustseal.signing.jws` is pure and
usable without the server.
"""
