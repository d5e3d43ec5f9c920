"""gunicorn settings shared by `make run`, the tests and production.

Access lines (if an operator turns them on with --access-logfile) go through a logger
that redacts secret URL arguments (review, reset and sign-up links; follow-up codes); the
application writes its own JSON access line, redacted the same way.
"""

logger_class = "trustseal.logs.GunicornLogger"
