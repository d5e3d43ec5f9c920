"""The shopper's pages, one module per part of the story:

- :mod:`~trustseal.public.home`: the way in, and the published rules behind every number;
- :mod:`~trustseal.public.reviews`: a shop's profile with its reviews, and the review form;
- :mod:`~trustseal.public.book`: the Libro de Reclamaciones form, follow-up page and copy;
- :mod:`~trustseal.public.seal`: is this seal valid now, its criteria and its rules.

Like :mod:`trustseal.dashboard` for merchants and :mod:`trustseal.console` for certifier
staff, this package composes the domains' doors into what one user sees; no domain
imports it. What a merchant embeds on its own site (badge, book button) stays with
:mod:`trustseal.badging`.
"""
