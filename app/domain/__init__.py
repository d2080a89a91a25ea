"""Pure domain layer: markets, Keepa parsing, pricing policy, profit and opportunity detection.

Nothing in this package does I/O, reads the clock or configures logging: every input
(quotes, policies, FX rates, "now" in event time) is passed in explicitly, so the whole
layer is deterministic and unit-testable.

Money is always an ``int`` of minor units (cents / pence) next to an explicit currency,
rates are :class:`decimal.Decimal`, and every rounding is ROUND_HALF_UP to the cent
(see :func:`app.domain.money.round_half_up`). Timestamps are timezone-aware UTC datetimes.
"""
