"""A campaign's state changes (get, transition with its audit event, strategy spec): used by planning, the lifecycle and held messages."""

from __future__ import annotations

from typing import Any

from dunning.db.models import Campaign, Strategy
from dunning.domain.states import CAMPAIGN_STATE_ZH, CampaignState, campaign_can
from dunning.errors import NotFoundError, StateError
from dunning.services import audit
from dunning.services.context import AppContext
from dunning.strategy import StrategySpec, parse_strategy


def get_campaign(s: Any, campaign_id: int) -> Campaign:
    c = s.get(Campaign, campaign_id)
    if c is None:
        raise NotFoundError(f"批次 #{campaign_id} 不存在", f"campaign #{campaign_id} does not exist",
                            code="not_found.campaign")
    return c


def transition(ctx: AppContext, s: Any, c: Campaign, dst: CampaignState, actor: str, **extra: Any) -> None:
    src = CampaignState(c.state)
    if not campaign_can(src, dst):
        raise StateError(f"批次 #{c.id} 当前为「{CAMPAIGN_STATE_ZH[src]}」，不能变为「{CAMPAIGN_STATE_ZH[dst]}」",
                         f"campaign #{c.id} is {src.value}; cannot become {dst.value}")
    c.state = dst.value
    c.updated_at = ctx.now()
    for k, v in extra.items():
        setattr(c, k, v)
    audit.record(s, at=ctx.now(), actor=actor, action=f"campaign.{dst.value}", entity="campaign", entity_id=c.id,
                 before={"state": src.value}, after={"state": dst.value, **{k: v for k, v in extra.items()
                                                                             if isinstance(v, str | int | None)}})


def strategy_spec(s: Any, strategy_id: int) -> StrategySpec:
    row = s.get(Strategy, strategy_id)
    spec, _ = parse_strategy(row.body, f"{row.name} v{row.version}")
    return spec


