"""The campaign autopilot (backend/campaigns): beat advances every running campaign."""
from __future__ import annotations

from backend.campaigns.services import campaign_advance, campaigns_advance
from workers.base import platform_task


@platform_task(soft_time_limit=600)
def advance(campaign_id: int) -> None:
    campaign_advance(campaign_id=campaign_id)


@platform_task(soft_time_limit=600)
def advance_all() -> int:
    return campaigns_advance()
