"""Housekeeping of the Yes/No engine."""
from __future__ import annotations

from backend.annotation.services.assign import tasksets_expire
from workers.base import platform_task


@platform_task(soft_time_limit=600)
def expire_sets() -> int:
    """Abandoned sets expire and their questions return to the pool (idempotent)."""
    return tasksets_expire()
