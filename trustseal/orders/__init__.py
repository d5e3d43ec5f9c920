"""Orders: normalized purchases from any source, and the review invitations they open.

Every source (the generic API, the platform plugins) records purchases through
:func:`trustseal.orders.service.record_purchase_event`; other domains use that module only.
"""
