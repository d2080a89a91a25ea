"""The typed, versioned contract of every topic: one module per topic, one message type each.

=============================  ==================================================
``keepa.products``             :mod:`app.contracts.keepa_products` (the input)
``keepa.notifications``        :mod:`app.contracts.keepa_notifications` (Keepa's pushes)
``keepa.fetch_requests``       :mod:`app.contracts.fetch_requests`
``arbitrage.observations``     :mod:`app.contracts.observations`
``arbitrage.opportunities``    :mod:`app.contracts.opportunities` (the output)
``fx.rates``                   :mod:`app.contracts.fx_rates`
``seller.profile``             :mod:`app.contracts.seller_profile`
the dead-letter topics         :mod:`app.contracts.dead_letters`
the tables' changelogs         :mod:`app.contracts.tables`
=============================  ==================================================

Producers build these types and encode them with their :class:`~app.contracts.base.Codec`;
consumers decode into them, and a message they cannot read (unknown ``schema_version``,
wrong shape) raises :class:`~app.contracts.base.ContractError` with the reason a worker
dead-letters it with. The pure domain (:mod:`app.domain`) knows nothing of these: the types
convert to and from its value types at the edges. :mod:`app.contracts.registry` lists them
per topic; docs/contract.md and docs/schemas/ are generated from them
(``python -m app.contracts.docs``). Nothing here imports Faust (the Airflow environment
uses these modules).
"""
