"""Elasticsearch: the index contract, document building and a retrying bulk writer."""

from app.es.bulk import BulkResult, BulkWriter, WriterStats
from app.es.documents import opportunity_action, price_history_action, product_actions
from app.es.indices import LOGICAL_INDICES, IndexContractError, ensure_indices, mapping_for

__all__ = [
    "LOGICAL_INDICES",
    "BulkResult",
    "BulkWriter",
    "IndexContractError",
    "WriterStats",
    "ensure_indices",
    "mapping_for",
    "opportunity_action",
    "price_history_action",
    "product_actions",
]
