"""The dashboard's reading of the API's opportunity detail: the API's own models
(:mod:`app.api.models`) plus what the dashboard already shows but the API does not send yet.

``lifetime`` (issue 12, lifetime history): an opportunity detail route may carry how long
spreads on its route and market pair lasted; absent today, so every field is optional and
the dashboard shows ``usually_lasts`` only when it is there. When ``app.api.models`` has the
field, these subclasses are to go and the API's models used directly.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict

from app.api import models as api_models
from app.api.models import OpportunityDetail, OpportunityRoute

__all__ = ["DetailRoute", "OpportunityDetailView", "RouteLifetime"]


class RouteLifetime(BaseModel):
    """How long past spreads lasted: per ASIN route and per market pair (summaries as the
    API sends them), and the sentence "Spreads on this route usually last ..." ends with."""

    model_config = ConfigDict(frozen=True)

    route: dict[str, Any] | None = None
    market_pair: dict[str, Any] | None = None
    usually_lasts: str | None = None


class DetailRoute(OpportunityRoute):
    lifetime: RouteLifetime | None = None


class OpportunityDetailView(OpportunityDetail):
    routes: list[DetailRoute]  # type: ignore[assignment]


# The API's models annotate with names of their own module (postponed annotations), which a
# subclass defined here resolves in that module's namespace.
for _model in (DetailRoute, OpportunityDetailView):
    _model.model_rebuild(_types_namespace=vars(api_models))
