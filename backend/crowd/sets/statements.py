"""The statements every graded submission writes, whatever its kind: the worker's counters, the
set's new state and the attempt log (sent with the kind's own in one batch, ``execute_batch``)."""
from __future__ import annotations

import uuid
from datetime import datetime

from backend.common.statements import Fragment, db_value, insert, table, when
from backend.crowd.models import Worker
from backend.crowd.policy import KEEP
from backend.crowd.sets.kinds import ACCEPTED, SetKind


def worker_counters_add(*, worker_id: int, counters: dict[str, int], now: datetime,
                        refused: bool | None = None) -> Fragment:
    """Add to the worker's running totals (only the non-zero ones) and touch ``last_seen_at``;
    with ``refused``, a graded submission, also shift its outcome into ``recent_refusals``
    (``policy.recent_after``)."""
    names = [name for name, value in counters.items() if value]
    for name in names:
        Worker._meta.get_field(name)  # only real columns reach the SQL
    sets = ["last_seen_at = %s", *(f"{name} = {name} + %s" for name in names)]
    params = [when(now), *(counters[name] for name in names)]
    if refused is not None:
        sets.append(f"recent_refusals = (recent_refusals & {int(KEEP)}) * 2 + %s")
        params.append(1 if refused else 0)
    return f"UPDATE {table(Worker)} SET {', '.join(sets)} WHERE id = %s", [*params, worker_id]


def set_attempted(*, kind: SetKind, set_id: int, attempts: int, accepted_at: datetime | None = None) -> Fragment:
    """Count an attempt on the set; with ``accepted_at``, the set is accepted and closed then."""
    sets, params = ["attempts = %s"], [attempts]
    if accepted_at is not None:
        sets += ["status = %s", "closed_at = %s"]
        params += [ACCEPTED, when(accepted_at)]
    return f"UPDATE {table(kind.set_model)} SET {', '.join(sets)} WHERE id = %s", [*params, set_id]


def attempt_insert(*, kind: SetKind, set_id: int, number: int, submission_id: uuid.UUID, accepted: bool,
                   gold_total: int, missed: int, payload: dict, response: dict, now: datetime) -> Fragment:
    model = kind.attempt_model
    return insert(model, [f"{kind.attempt_set_field}_id", "number", "submission_id", "accepted", "gold_total",
                          kind.attempt_missed_field, "payload", "response", "created_at"],
                  [(set_id, number, db_value(model, "submission_id", submission_id), accepted, gold_total, missed,
                    db_value(model, "payload", payload), db_value(model, "response", response), when(now))])
