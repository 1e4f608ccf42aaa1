"""The page inside MTurk: who the request comes from, and where the accepted set is posted.

MTurk's query parameters are not signed, so they are checked the only ways they can be: the ids
must look like MTurk ids, the HIT must be one of ours, an assignment stays bound to the worker
that first opened it, and the form is only ever posted to an allowed MTurk origin. The review
loop then compares every assignment with the worker MTurk itself reports.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.db import IntegrityError

from backend.common.errors import Forbidden
from backend.crowd.services import worker_get_or_create
from backend.crowd.sets.kinds import SetRef
from backend.mturk.conf import mturk_setting
from backend.mturk.models import Assignment, Hit

PROVIDER = "mturk"
PREVIEW_ASSIGNMENT = "ASSIGNMENT_ID_NOT_AVAILABLE"
SUBMIT_PATH = "/mturk/externalSubmit"
_ID = re.compile(r"^[A-Z0-9]{1,64}$")
_WORKER_ID = re.compile(r"^A[A-Z0-9]{1,63}$")

MISSING_PARAMS = "Open this task from its HIT on Mechanical Turk (the assignment, HIT or worker id is missing)."
BAD_PARAMS = "The assignment, HIT or worker id of this page is not a Mechanical Turk id."
UNKNOWN_HIT = "This HIT is not one of ours (or no longer published); please return it."
WORKER_MISMATCH = (
    "This assignment was opened by another worker account. Open the HIT from your own Mechanical Turk account."
)
HIT_MISMATCH = "This assignment belongs to another HIT."
BAD_SUBMIT_TO = "This page was not opened from Mechanical Turk (unexpected turkSubmitTo); open the HIT again."
NO_SUBMIT_TO = (
    "Your answers were accepted and saved, but this page cannot send the HIT to Mechanical Turk (turkSubmitTo "
    "is missing). Open the HIT again from Mechanical Turk and press Submit HIT there: nothing is lost."
)


def submit_origin(raw: str | None) -> str:
    """The allowed MTurk origin in `turkSubmitTo`, '' when absent; Forbidden for anything else."""
    if not raw:
        return ""
    parts = urlsplit(raw.strip())
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    allowed = {o.rstrip("/").lower() for o in mturk_setting("MMIT_MTURK_SUBMIT_ORIGINS")}
    if origin not in allowed or parts.path.strip("/") or parts.query:
        raise Forbidden(BAD_SUBMIT_TO)
    return origin


def assignment_bind(*, assignment_id: str | None, hit_id: str | None, mturk_worker_id: str | None,
                    turk_submit_to: str | None) -> Assignment:
    """The assignment of this request, created on first sight and bound to its first worker."""
    if not (assignment_id and hit_id and mturk_worker_id):
        raise Forbidden(MISSING_PARAMS)
    if not (_ID.match(assignment_id) and _ID.match(hit_id) and _WORKER_ID.match(mturk_worker_id)):
        raise Forbidden(BAD_PARAMS)
    origin = submit_origin(turk_submit_to)
    row = Assignment.objects.select_related("worker", "hit").filter(assignment_id=assignment_id).first()
    if row is None:
        hit = Hit.objects.filter(hit_id=hit_id).first()
        if hit is None:
            raise Forbidden(UNKNOWN_HIT)
        annotator = worker_get_or_create(provider=PROVIDER, external_id=mturk_worker_id)
        try:
            row, _ = Assignment.objects.get_or_create(
                assignment_id=assignment_id, defaults={"hit": hit, "worker": annotator, "turk_submit_to": origin})
        except IntegrityError:  # a concurrent first request won the insert
            row = Assignment.objects.get(assignment_id=assignment_id)
        row = Assignment.objects.select_related("worker", "hit").get(pk=row.pk)
    if row.worker.external_id != mturk_worker_id:
        raise Forbidden(WORKER_MISMATCH)
    if row.hit.hit_id != hit_id:
        raise Forbidden(HIT_MISMATCH)
    if origin and row.turk_submit_to != origin:
        Assignment.objects.filter(pk=row.pk).update(turk_submit_to=origin)
        row.turk_submit_to = origin
    return row


def assignment_ref(*, assignment_id: str, hit_id: str) -> dict:
    """What the engine keeps on the set (its ``provider_ref``): one assignment, one set."""
    return {"assignment_id": assignment_id, "hit_id": hit_id}


def external_submit_for(*, ref: SetRef) -> dict:
    """Fields the page needs after an accepted set: where to post the assignment form, or why not.
    The assignment is linked to its set here (``Assignment.SET_LINKS``: the field of each kind)."""
    assignment_id = (ref.provider_ref or {}).get("assignment_id")
    row = Assignment.objects.filter(assignment_id=assignment_id, worker_id=ref.worker_id).first()
    if row is None:
        return {}
    link = f"{Assignment.SET_LINKS[ref.kind]}_id"
    if getattr(row, link) != ref.pk:
        Assignment.objects.filter(pk=row.pk).update(**{link: ref.pk})
    if not row.turk_submit_to:
        return {"external_submit": None, "detail": NO_SUBMIT_TO}
    return {"external_submit": {
        "url": row.turk_submit_to + SUBMIT_PATH,
        # MTurk needs at least one field besides assignmentId; the set id also lets the results be
        # traced back from MTurk's side.
        "fields": {"assignmentId": row.assignment_id, "set": str(ref.public_id)},
    }}
