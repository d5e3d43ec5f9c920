"""An independent witness (c2sp.org/tlog-witness): ``trustseal witness serve``.

A small separate process with its own Ed25519 key and its own state (an SQLite file),
sharing nothing with the log but the pure format modules (:mod:`trustseal.transparency.
note`, :mod:`~trustseal.transparency.checkpoint`, :mod:`~trustseal.transparency.merkle`).
It cosigns a checkpoint only if the log's key signed it and it extends the last
checkpoint this witness cosigned for that origin, so a log that rewrites or forks its
history cannot get it cosigned, and a client that asks for a quorum of witnesses'
cosignatures notices, even one that starts fresh.
"""
