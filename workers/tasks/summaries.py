"""Recounting the summaries pages read (backend/common/summaries.py)."""
from __future__ import annotations

from backend.common.summaries import summaries_refresh
from workers.base import platform_task


@platform_task(soft_time_limit=600)
def refresh(dataset_id: int | None = None) -> int:
    """Recount every stored summary (of one dataset, or of all); idempotent."""
    return summaries_refresh(dataset_id=dataset_id)
