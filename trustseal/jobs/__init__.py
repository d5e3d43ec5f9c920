"""Durable background jobs: written in the caller's transaction, run by ``trustseal worker``.

Other domains call :func:`trustseal.jobs.service.enqueue` and register handlers with
:func:`trustseal.jobs.service.handler`.
"""
