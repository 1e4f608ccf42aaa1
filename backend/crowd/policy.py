"""When a worker is a repeat offender. Thresholds come from settings (MMIT_BLOCK_*)."""
from __future__ import annotations

from django.conf import settings

from backend.crowd.models import Worker

REASON_REFUSALS = "{n} sets refused on gold (limit {limit})"
REASON_GOLD = "gold accuracy {acc:.0%} over {n} gold answers (minimum {min:.0%})"


def block_reason(worker: Worker) -> str | None:
    """The reason to block this worker now, or None.

    Three rules: too many refused submissions; gold accuracy under the floor once enough gold
    has been answered; and an early rule that catches spammers after a handful of gold answers
    when their accuracy is no better than chance.
    """
    limit = settings.MMIT_BLOCK_AFTER_REFUSALS
    if limit and worker.attempts_refused >= limit:
        return REASON_REFUSALS.format(n=worker.attempts_refused, limit=limit)
    n = worker.gold_answers
    if not n:
        return None
    accuracy = worker.gold_correct / n
    if n >= settings.MMIT_BLOCK_GOLD_MIN and accuracy < settings.MMIT_BLOCK_GOLD_ACCURACY:
        return REASON_GOLD.format(acc=accuracy, n=n, min=settings.MMIT_BLOCK_GOLD_ACCURACY)
    if n >= settings.MMIT_BLOCK_EARLY_GOLD_MIN and accuracy <= settings.MMIT_BLOCK_EARLY_ACCURACY:
        return REASON_GOLD.format(acc=accuracy, n=n, min=settings.MMIT_BLOCK_EARLY_ACCURACY)
    return None
