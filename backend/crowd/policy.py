"""When a worker is a repeat offender, and how they are told. Thresholds come from settings
(MMIT_BLOCK_*)."""
from __future__ import annotations

import re

from django.conf import settings

from backend.crowd.models import Worker

REASON_REFUSALS = "{n} sets refused on gold (limit {limit})"
REASON_RECENT_REFUSALS = "{n} of the latest {window} graded sets refused on gold (limit {limit})"
REASON_GOLD = "gold accuracy {acc:.0%} over {n} gold answers (minimum {min:.0%})"
# What the worker reads (the reasons above are for curators): what happened, why, and what now.
NOTICE_REFUSALS = ("Your account has been blocked: {n} of your recent sets did not pass our quality checks (answers "
                   "we already knew). It cannot take or submit sets any more.")
NOTICE_GOLD = ("Your account has been blocked: too many of your answers to our check questions (answers we already "
               "knew) were wrong. It cannot take or submit sets any more.")
NOTICE_REVIEW = "Your account has been blocked after a review of its work. It cannot take or submit sets any more."
NOTICE_NEXT = " If you think this is a mistake, contact whoever gave you this task."
HISTORY = 62  # outcomes kept in Worker.recent_refusals; the value stays below 2**62
KEEP = 2 ** (HISTORY - 1) - 1  # the mask of the older outcomes kept at each shift


def recent_after(bits: int, *, refused: bool) -> int:
    """``Worker.recent_refusals`` after one more graded submission: ``(bits & KEEP) * 2 + refused``.
    The SQL updates compute the same with integer operators (SQLite's MOD goes through floats)."""
    return (bits & KEEP) * 2 + (1 if refused else 0)


def refusals_counted(worker: Worker) -> tuple[int, int]:
    """(refusals that count towards blocking, window): those among the latest ``window`` graded
    submissions, or with no window (0) every refusal since the last unblock."""
    window = min(settings.MMIT_BLOCK_REFUSAL_WINDOW, HISTORY)
    if window <= 0:
        return worker.attempts_refused, 0
    return (worker.recent_refusals & ((1 << window) - 1)).bit_count(), window


def block_reason(worker: Worker) -> str | None:
    """The reason to block this worker now, or None.

    Three rules: too many refused submissions among the latest ones; gold accuracy under the
    floor once enough gold has been answered; and an early rule that catches spammers after a
    handful of gold answers when their accuracy is no better than chance.

    The refusals are counted in a window because a careful worker's slips add up: with two gold
    questions per set and 5% of gold answered wrong, one set in 400 is refused, so a lifetime
    count of three would block most careful workers within a few thousand sets.
    """
    limit = settings.MMIT_BLOCK_AFTER_REFUSALS
    refused, window = refusals_counted(worker)
    if limit and refused >= limit:
        if window:
            return REASON_RECENT_REFUSALS.format(n=refused, window=window, limit=limit)
        return REASON_REFUSALS.format(n=refused, limit=limit)
    n = worker.gold_answers
    if not n:
        return None
    accuracy = worker.gold_correct / n
    if n >= settings.MMIT_BLOCK_GOLD_MIN and accuracy < settings.MMIT_BLOCK_GOLD_ACCURACY:
        return REASON_GOLD.format(acc=accuracy, n=n, min=settings.MMIT_BLOCK_GOLD_ACCURACY)
    if n >= settings.MMIT_BLOCK_EARLY_GOLD_MIN and accuracy <= settings.MMIT_BLOCK_EARLY_ACCURACY:
        return REASON_GOLD.format(acc=accuracy, n=n, min=settings.MMIT_BLOCK_EARLY_ACCURACY)
    return None


def _pattern(template: str) -> re.Pattern:
    """A regex matching what ``template.format(...)`` produces, its fields as named groups."""
    parts = re.split(r"\{(\w+)[^}]*\}", template)
    return re.compile("".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts)) + "$")


_REFUSALS = [_pattern(REASON_RECENT_REFUSALS), _pattern(REASON_REFUSALS)]
_GOLD = _pattern(REASON_GOLD)


def block_notice(reason: str) -> str:
    """What a blocked worker is told, from the reason a block was recorded with: the quality rule
    that blocked them in plain words, or a reviewer's decision (a curator's own reason, which may
    be an internal note, is not shown)."""
    for pattern in _REFUSALS:
        match = pattern.match(reason or "")
        if match:
            return NOTICE_REFUSALS.format(n=match["n"]) + NOTICE_NEXT
    if _GOLD.match(reason or ""):
        return NOTICE_GOLD + NOTICE_NEXT
    return NOTICE_REVIEW + NOTICE_NEXT
