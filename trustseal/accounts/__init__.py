"""People who sign in to the pages: staff (console) and merchant users (dashboard).

Passwords are argon2id; sessions are signed cookies carrying a session version (bumped to
sign out everywhere); repeated failures lock an account for a while; password resets go by
emailed single-use links; staff may add a TOTP second factor (RFC 6238). Every
state-changing request is written to the audit trail. Other domains use
:mod:`trustseal.accounts.service`.
"""
