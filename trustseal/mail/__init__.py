"""Email: render localized messages from templates and send them via SMTP or the outbox.

With no SMTP host configured, each message is written to ``instance/outbox/`` as an
``.eml`` file a newcomer can open. Other domains call :mod:`trustseal.mail.service`.
"""
