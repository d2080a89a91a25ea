"""Which type travels on which topic: the table docs/contract.md and docs/schemas/ are
generated from (:mod:`app.contracts.docs`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgspec

from app.contracts.dead_letters import DeadLetter, NotificationDeadLetter, SinkDeadLetter
from app.contracts.fetch_requests import FetchRequest
from app.contracts.fx_rates import FxRate
from app.contracts.keepa_notifications import KeepaNotification
from app.contracts.keepa_products import KeepaProductsEnvelope
from app.contracts.observations import Observation
from app.contracts.opportunities import OpportunityMessage
from app.contracts.reevaluations import ReevaluationRequest
from app.contracts.seller_profile import SellerProfileMessage
from app.contracts.tables import OpenRoutesState, QuotesState

__all__ = ["TOPICS", "TopicContract", "contract_of"]


@dataclass(frozen=True, slots=True)
class TopicContract:
    """A topic (its default name, before ``TOPIC_PREFIX``) and what its messages hold.

    ``value``: the type of the value (JSON); ``headers``: the type of the headers, for a
    topic whose value is a dead-lettered message's original bytes.
    """

    topic: str
    key: str
    value: type[msgspec.Struct] | None = None
    headers: type[msgspec.Struct] | None = None

    @property
    def type(self) -> type[msgspec.Struct]:
        described = self.value or self.headers
        assert described is not None
        return described


TOPICS: Final[tuple[TopicContract, ...]] = (
    TopicContract("keepa.products", "the ASIN", value=KeepaProductsEnvelope),
    TopicContract("keepa.products.dlq", "the original key (the ASIN, or none)", headers=DeadLetter),
    TopicContract("keepa.notifications", "the ASIN", value=KeepaNotification),
    TopicContract(
        "keepa.notifications.dlq", "the original key (the ASIN, or none)", headers=DeadLetter
    ),
    TopicContract(
        "keepa.fetch_requests", "the ASIN (a null value: the request is done)", value=FetchRequest
    ),
    TopicContract("keepa.webhook.dlq", "none", headers=NotificationDeadLetter),
    TopicContract("arbitrage.observations", "the ASIN", value=Observation),
    TopicContract("arbitrage.opportunities", "the ASIN", value=OpportunityMessage),
    TopicContract("arbitrage.sink.dlq", "none", value=SinkDeadLetter),
    TopicContract("arbitrage.reevaluations", "the ASIN", value=ReevaluationRequest),
    TopicContract(
        "arbitrage.reevaluations.dlq", "the original key (the ASIN, or none)", headers=DeadLetter
    ),
    TopicContract("fx.rates", "the currency: GBP", value=FxRate),
    TopicContract("fx.rates.dlq", "the original key", headers=DeadLetter),
    TopicContract("seller.profile", "the seller: default", value=SellerProfileMessage),
    TopicContract("seller.profile.dlq", "the original key", headers=DeadLetter),
    TopicContract("<app id>-quotes-changelog", "the ASIN", value=QuotesState),
    TopicContract("<app id>-open-opportunities-changelog", "the ASIN", value=OpenRoutesState),
    TopicContract("<app id>-fx-rates-changelog", "the currency: GBP", value=FxRate),
    TopicContract(
        "<app id>-seller-profile-changelog", "the seller: default", value=SellerProfileMessage
    ),
)


def contract_of(topic: str) -> TopicContract:
    """The contract of a topic by its default name; ``KeyError`` for an unknown one."""
    for contract in TOPICS:
        if contract.topic == topic:
            return contract
    raise KeyError(f"no contract for topic {topic!r}")
