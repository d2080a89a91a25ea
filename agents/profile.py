"""Keeps the ``seller-profile`` global table up to date from the ``seller.profile`` topic.

A message is read with the topic's contract
(:func:`app.contracts.seller_profile.profile_from_message`: decoding, then the
:class:`app.domain.profile.SellerProfile` validation). The API and the CLI fold the topic with
the same function (:func:`app.contracts.seller_profile.latest_profile`). One that cannot be
used goes to ``seller.profile.dlq`` with its reason (for an invalid profile, the field), and
the profile in force stays. It is read back by :func:`tables.seller_profile.profile_in_force`.
"""

from __future__ import annotations

import logging
from typing import Any

from faust import StreamT

from app.contracts.base import ContractError
from app.contracts.seller_profile import profile_from_message
from app.dead_letters import dead_letter
from app.faust_app import app
from app.metrics import metrics
from app.topics import seller_profile, seller_profile_dlq
from tables.seller_profile import write_profile

log = logging.getLogger(__name__)


@app.agent(seller_profile)
async def track_seller_profile(stream: StreamT[Any]) -> None:
    async for event in stream.events():
        try:
            in_force = profile_from_message(event.key, event.value)
        except ContractError as exc:
            log.warning("dead-lettering an unusable seller.profile message: %s", exc)
            await dead_letter(
                seller_profile_dlq, event, exc.code, exc.message, counter="profile_rejected"
            )
            continue
        write_profile(event.key, in_force)
        metrics.incr("profile_updates")
        log.info(
            "seller profile %s is in force (published %s by %r)",
            in_force.version,
            in_force.updated_at,
            in_force.updated_by,
        )
