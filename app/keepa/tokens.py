"""Keepa token accounting: pure functions, no I/O, no clock.

Keepa meters its API with a token bucket. Every response carries the account state:

* ``tokensLeft`` - tokens available now (may be negative: Keepa serves a request as long as
  the balance is positive and lets it go into debt),
* ``refillIn`` - milliseconds until the next refill,
* ``refillRate`` - tokens added per refill, i.e. per minute,
* ``tokensConsumed`` - what the request just cost.

Tokens expire after an hour, so the balance never grows beyond ``60 * refillRate`` through
refills. A /product request costs 1 token per ASIN and domain; ``buybox=1`` adds 2 tokens per
product (``keepa.Keepa.query`` docstring: "Additional token cost: 2 per product"); ``stats``
is free. :class:`TokenPlanner` turns a :class:`TokenState` into "request this many ASINs now"
or "wait this long", so that we never send a request Keepa would reject with 429.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from app.keepa.schema import MAX_ASINS_PER_REQUEST


@dataclass(frozen=True, slots=True)
class TokenState:
    """The token fields of one Keepa response."""

    tokens_left: int
    refill_in_ms: int
    refill_rate: int
    """Tokens per minute."""
    timestamp_ms: int | None = None
    """Keepa server time of the response (Unix epoch milliseconds)."""
    tokens_consumed: int = 0
    """Tokens the request that produced this state cost."""
    token_flow_reduction: float = 0.0

    @classmethod
    def from_response(cls, body: Mapping[str, Any]) -> TokenState | None:
        """The state in a decoded Keepa response body, or ``None`` if it carries none."""
        try:
            tokens_left = int(body["tokensLeft"])
            refill_in = int(body["refillIn"])
            refill_rate = int(body["refillRate"])
        except (KeyError, TypeError, ValueError):
            return None
        timestamp = body.get("timestamp")
        consumed = body.get("tokensConsumed")
        reduction = body.get("tokenFlowReduction")
        return cls(
            tokens_left=tokens_left,
            refill_in_ms=max(0, refill_in),
            refill_rate=refill_rate,
            timestamp_ms=int(timestamp) if isinstance(timestamp, int | float) else None,
            tokens_consumed=int(consumed) if isinstance(consumed, int | float) else 0,
            token_flow_reduction=float(reduction) if isinstance(reduction, int | float) else 0.0,
        )


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What to do next: request ``size`` ASINs now, or (``size == 0``) wait ``wait_s``."""

    size: int
    wait_s: float = 0.0


@dataclass(frozen=True, slots=True)
class TokenPlanner:
    """Decides batch sizes and waits from a :class:`TokenState`.

    ``min_batch`` > 1 makes the planner wait until that many ASINs are affordable instead
    of trickling out one small request per refill.
    """

    tokens_per_asin: int = 1
    buybox_tokens_per_asin: int = 2
    """Extra tokens per product when ``buybox=1`` is requested."""
    max_batch: int = MAX_ASINS_PER_REQUEST
    min_batch: int = 1
    refill_period_ms: int = 60_000
    bucket_minutes: int = 60
    """Tokens expire after this many minutes, which caps the balance refills can build."""
    safety_ms: int = 1_000
    """Added to every wait so that we arrive just after the refill, not just before it."""

    def __post_init__(self) -> None:
        if self.tokens_per_asin < 1 or self.buybox_tokens_per_asin < 0:
            raise ValueError("token costs must be positive")
        if not 1 <= self.min_batch <= self.max_batch <= MAX_ASINS_PER_REQUEST:
            raise ValueError(f"need 1 <= min_batch <= max_batch <= {MAX_ASINS_PER_REQUEST}")
        if self.refill_period_ms <= 0 or self.bucket_minutes <= 0 or self.safety_ms < 0:
            raise ValueError("refill period, bucket size and safety margin must be positive")

    def cost_per_asin(self, *, buybox: bool) -> int:
        """Tokens one ASIN costs in one domain."""
        return self.tokens_per_asin + (self.buybox_tokens_per_asin if buybox else 0)

    def cost(self, n_asins: int, *, buybox: bool) -> int:
        """Tokens a request for ``n_asins`` ASINs costs."""
        return n_asins * self.cost_per_asin(buybox=buybox)

    def capacity(self, state: TokenState) -> int:
        """The most tokens refills can accumulate (older tokens expire)."""
        return max(0, state.refill_rate) * self.bucket_minutes

    def project(self, state: TokenState, elapsed_ms: int) -> TokenState:
        """The state ``elapsed_ms`` after ``state`` was observed, with no requests in between."""
        if elapsed_ms <= 0:
            return state
        timestamp = None if state.timestamp_ms is None else state.timestamp_ms + elapsed_ms
        if elapsed_ms < state.refill_in_ms:
            return replace(
                state,
                refill_in_ms=state.refill_in_ms - elapsed_ms,
                timestamp_ms=timestamp,
                tokens_consumed=0,
            )
        after_first = elapsed_ms - state.refill_in_ms
        refills = 1 + after_first // self.refill_period_ms
        tokens = state.tokens_left
        cap = self.capacity(state)
        if state.refill_rate > 0 and tokens < cap:
            tokens = min(cap, tokens + refills * state.refill_rate)
        return replace(
            state,
            tokens_left=tokens,
            refill_in_ms=self.refill_period_ms - after_first % self.refill_period_ms,
            timestamp_ms=timestamp,
            tokens_consumed=0,
        )

    def affordable_asins(self, state: TokenState, *, buybox: bool) -> int:
        """How many ASINs (at most ``max_batch``) the current balance pays for in full."""
        return min(self.max_batch, max(0, state.tokens_left) // self.cost_per_asin(buybox=buybox))

    def wait_ms(self, state: TokenState, tokens_needed: int) -> int:
        """Milliseconds until the balance reaches ``tokens_needed`` (0 if it already has).

        A need beyond the bucket capacity is capped to it: waiting longer gains nothing.
        ``ValueError`` if tokens are needed and Keepa refills none.
        """
        if state.tokens_left >= tokens_needed:
            return 0
        if state.refill_rate <= 0:
            raise ValueError("Keepa reports a refill rate of 0 tokens per minute")
        needed = min(tokens_needed, self.capacity(state))
        if state.tokens_left >= needed:
            return 0
        refills = math.ceil((needed - state.tokens_left) / state.refill_rate)
        return state.refill_in_ms + (refills - 1) * self.refill_period_ms + self.safety_ms

    def next_batch(self, state: TokenState, remaining: int, *, buybox: bool) -> BatchPlan:
        """Request ``size`` of the ``remaining`` ASINs now, or wait ``wait_s`` and ask again."""
        desired = min(remaining, self.max_batch)
        if desired <= 0:
            return BatchPlan(0)
        per_asin = self.cost_per_asin(buybox=buybox)
        can = min(desired, self.affordable_asins(state, buybox=buybox))
        threshold = min(desired, self.min_batch)
        if can >= threshold:
            return BatchPlan(can)
        if state.tokens_left > 0 and state.tokens_left >= self.capacity(state):
            # The bucket is full and still short of the threshold: waiting cannot help. Keepa
            # serves a request while the balance is positive, so send what we can (at least 1).
            return BatchPlan(max(1, can))
        return BatchPlan(0, self.wait_ms(state, threshold * per_asin) / 1000.0)

    def estimate_seconds(self, state: TokenState, n_asins: int, *, buybox: bool) -> float:
        """Seconds of token waiting needed to fetch ``n_asins`` ASINs, starting from ``state``.

        Request latency is ignored; each request is assumed to cost exactly its ASINs.
        """
        elapsed_ms = 0
        remaining = n_asins
        current = state
        while remaining > 0:
            plan = self.next_batch(current, remaining, buybox=buybox)
            if plan.size == 0:
                wait = max(1, math.ceil(plan.wait_s * 1000))
                elapsed_ms += wait
                current = self.project(current, wait)
                continue
            spent = self.cost(plan.size, buybox=buybox)
            current = replace(current, tokens_left=current.tokens_left - spent)
            remaining -= plan.size
        return elapsed_ms / 1000.0
