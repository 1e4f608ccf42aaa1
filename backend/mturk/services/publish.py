"""Publishing: the soft-block qualification, HIT types, batches and their HITs, under a budget.

A HIT row (with its UniqueRequestToken and its worst-case cost) is reserved under a lock of the
batch before CreateHIT is called, so the budget check and the reservation are one step: two
publish runs of one batch cannot both spend the last dollars, and a replayed run finds the row,
reuses the token and never creates a duplicate HIT.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import escape

from botocore.exceptions import ClientError
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from backend.annotation.models import Prompt
from backend.common.background import task_enqueue
from backend.common.errors import DomainError
from backend.common.jobs import job_create
from backend.crowd.sets.assign import gold_items
from backend.crowd.sets.kinds import kind_named
from backend.mturk.conf import mturk_setting
from backend.mturk.fees import hit_cost, money
from backend.mturk.gateway import Gateway, error_code, error_message
from backend.mturk.models import Batch, Bonus, Hit, HitType, QualificationType
from backend.mturk.selectors import work_missing
from backend.videos.models import Dataset

EXTERNAL_QUESTION_NS = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd"
)
QUAL_APPROVAL_RATE = "000000000000000000L0"  # Worker_PercentAssignmentsApproved (system)
QUAL_LOCALE = "00000000000000000071"  # Worker_Locale (system)
HIT_ID_RE = re.compile(r"\b([A-Z0-9]{30})\b")

NOT_HTTPS = "MTurk only frames HTTPS pages: set MMIT_SITE_URL to the site's https:// address (now {url})."
REWARD_TOO_SMALL = "The reward must be at least $0.01."
BUDGET_REQUIRED = "A budget greater than zero is required."
BUDGET_TOO_SMALL = "The budget (${budget}) does not cover one HIT (${cost} with MTurk's fee)."
DATASET_BUDGET_LEFT = "The dataset budget has ${left} left; one HIT costs ${cost} with MTurk's fee."
NO_WORK = "There are no questions waiting for answers in {dataset} ({prompt})."
NO_DRAWING_WORK = "There are no frames waiting for regions to be drawn in {dataset}."
UNKNOWN_TASK = "Unknown kind of HIT {kind!r}: expected yesno (Yes/No questions) or drawing (regions)."
BAD_ASSIGNMENTS = "Assignments per HIT must be between 1 and 100."
BAD_HITS = "The number of HITs must be between 1 and 10000."
BATCH_BUSY = "This batch is already published."
BUDGET_REACHED = "Stopped after {n} HIT(s): the next one would exceed the budget."
CREATE_FAILED = "MTurk refused to create HIT {index}: {error}"
DEFAULT_TITLE = "Is an action seen or heard? Yes/No on {n} short video clips"
DEFAULT_DESCRIPTION = (
    "Watch short (3 s) video clips and answer Yes or No: is the named action seen or heard? Some clips "
    "are checked against known answers; careless work cannot be submitted."
)
DEFAULT_KEYWORDS = "video, action, yes/no, labeling, quick"
DRAW_TITLE = "Draw boxes around an action on {n} video frames"
DRAW_DESCRIPTION = (
    "Look at frames from short videos and draw a box around each region that shows the named action, or skip "
    "the frame when none does. Some frames are checked against known boxes; careless work cannot be submitted."
)
DRAW_KEYWORDS = "image, action, bounding box, regions, labeling"


@dataclass(frozen=True)
class MturkTask:
    """What the HITs of a batch ask: the engine's kind of set, the page MTurk frames, and the
    HIT's default texts."""

    kind: str
    page: str
    title: str
    description: str
    keywords: str


TASKS = {
    "yesno": MturkTask(kind="yesno", page="mturk-annotate", title=DEFAULT_TITLE, description=DEFAULT_DESCRIPTION,
                       keywords=DEFAULT_KEYWORDS),
    "drawing": MturkTask(kind="drawing", page="mturk-draw", title=DRAW_TITLE, description=DRAW_DESCRIPTION,
                         keywords=DRAW_KEYWORDS),
}


def task_for(kind: str) -> MturkTask:
    if kind not in TASKS:
        raise DomainError(UNKNOWN_TASK.format(kind=kind), field="kind")
    return TASKS[kind]
BLOCK_QUALIFICATION_DESCRIPTION = (
    "Workers with this qualification no longer see this requester's video-labeling HITs."
)


@dataclass
class PublishReport:
    created: int
    existing: int
    committed: Decimal
    message: str

    def as_dict(self) -> dict:
        return {"created": self.created, "existing": self.existing, "committed": money(self.committed),
                "message": self.message}


def set_page_url(*, dataset: Dataset, prompt: str, kind: str = "yesno") -> str:
    """The HTTPS set page MTurk frames; MTurk appends assignmentId, hitId, workerId, turkSubmitTo."""
    base = settings.SITE_URL.rstrip("/")
    if urlsplit(base).scheme != "https":
        raise DomainError(NOT_HTTPS.format(url=base))
    url = f"{base}{reverse(task_for(kind).page, args=[dataset.name])}"
    return f"{url}?{urlencode({'prompt': prompt})}" if kind == "yesno" else url


def external_question(*, url: str, frame_height: int) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ExternalQuestion xmlns="{EXTERNAL_QUESTION_NS}">'
        f"<ExternalURL>{escape(url)}</ExternalURL>"
        f"<FrameHeight>{int(frame_height)}</FrameHeight>"
        "</ExternalQuestion>"
    )


def requester_annotation(*, hit: Hit) -> str:
    """Links the HIT back to the platform (the HIT's page lists its assignments and their sets)."""
    url = settings.SITE_URL.rstrip("/") + reverse("mturk-hit-detail", args=[hit.token])
    return f"mmit {hit.token} {url}"[:255]


def _duplicate(exc: ClientError) -> bool:
    text = (error_message(exc) + " " + str(exc.response.get("TurkErrorCode", ""))).lower()
    return error_code(exc) == "RequestError" and (
        "already exists" in text or "hitalreadyexists" in text or "already been processed" in text
    )


def qualification_blocked_ensure(*, gateway: Gateway) -> str:
    """The project's soft-block qualification type on this endpoint, created once."""
    row = QualificationType.objects.filter(purpose=QualificationType.Purpose.BLOCKED, sandbox=gateway.sandbox).first()
    if row is not None:
        return row.qualification_type_id
    name = mturk_setting("MMIT_MTURK_BLOCK_QUALIFICATION_NAME")
    try:
        created = gateway.call("create_qualification_type", Name=name, Description=BLOCK_QUALIFICATION_DESCRIPTION,
                               Keywords="mmit", QualificationTypeStatus="Active")
        type_id = created["QualificationType"]["QualificationTypeId"]
    except ClientError as exc:
        if error_code(exc) != "RequestError":
            raise
        # Created earlier (the row was lost, or another run won): find it among our own types.
        type_id = next((q["QualificationTypeId"] for q in gateway.items(
            "list_qualification_types", "QualificationTypes", Query=name, MustBeRequestable=False,
            MustBeOwnedByCaller=True) if q.get("Name") == name), None)
        if type_id is None:
            raise
    row, _ = QualificationType.objects.get_or_create(
        purpose=QualificationType.Purpose.BLOCKED, sandbox=gateway.sandbox,
        defaults={"name": name, "qualification_type_id": type_id},
    )
    return row.qualification_type_id


def qualification_requirements(*, blocked_type_id: str) -> list[dict]:
    requirements = [{
        # Soft-blocked workers must not even discover or preview our HITs.
        "QualificationTypeId": blocked_type_id, "Comparator": "DoesNotExist",
        "ActionsGuarded": "DiscoverPreviewAndAccept",
    }]
    rate = int(mturk_setting("MMIT_MTURK_MIN_APPROVAL_RATE"))
    if rate > 0:
        requirements.append({"QualificationTypeId": QUAL_APPROVAL_RATE, "Comparator": "GreaterThanOrEqualTo",
                             "IntegerValues": [rate], "ActionsGuarded": "Accept"})
    locales = [c.strip().upper() for c in mturk_setting("MMIT_MTURK_LOCALES") if c.strip()]
    if locales:
        requirements.append({"QualificationTypeId": QUAL_LOCALE, "Comparator": "In",
                             "LocaleValues": [{"Country": c} for c in locales], "ActionsGuarded": "Accept"})
    return requirements


def hit_type_ensure(*, batch: Batch, gateway: Gateway) -> HitType:
    """CreateHITType once per configuration and endpoint; the id is stored and reused."""
    params = {
        "Title": batch.title, "Description": batch.description, "Keywords": batch.keywords,
        "Reward": money(batch.reward), "AssignmentDurationInSeconds": batch.assignment_duration_seconds,
        "AutoApprovalDelayInSeconds": batch.auto_approval_delay_seconds,
        "QualificationRequirements": qualification_requirements(
            blocked_type_id=qualification_blocked_ensure(gateway=gateway)),
    }
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    hit_type = HitType.objects.filter(sandbox=gateway.sandbox, config_hash=digest).first()
    if hit_type is None:
        type_id = gateway.call("create_hit_type", **params)["HITTypeId"]
        hit_type, _ = HitType.objects.get_or_create(sandbox=gateway.sandbox, config_hash=digest,
                                                    defaults={"hit_type_id": type_id, "params": params})
    if batch.hit_type_id != hit_type.pk:
        Batch.objects.filter(pk=batch.pk).update(hit_type=hit_type)
        batch.hit_type = hit_type
    return hit_type


def committed_for(*, batches) -> Decimal:
    """The most the given batches can still cost: reserved HITs plus bonuses not failed."""
    hits = Hit.objects.filter(batch__in=batches).aggregate(s=Sum("cost_committed"))["s"] or Decimal(0)
    bonuses = (Bonus.objects.filter(assignment__hit__batch__in=batches).exclude(status=Bonus.Status.FAILED)
               .aggregate(s=Sum("cost"))["s"] or Decimal(0))
    return hits + bonuses


def budget_check(*, batch: Batch, extra: Decimal) -> str | None:
    """None when spending `extra` more keeps the batch (and the dataset) within budget, else why not.

    Callers hold the batch and dataset rows locked. The dataset's own budget, when set, caps all
    its production batches together (sandbox money is not real).
    """
    committed = committed_for(batches=Batch.objects.filter(pk=batch.pk))
    if committed + extra > batch.budget:
        return BUDGET_TOO_SMALL.format(budget=money(batch.budget - committed), cost=money(extra))
    dataset = batch.dataset
    if dataset.budget > 0 and not batch.sandbox:
        spent = committed_for(batches=Batch.objects.filter(dataset=dataset, sandbox=False))
        if spent + extra > dataset.budget:
            return DATASET_BUDGET_LEFT.format(left=money(max(Decimal(0), dataset.budget - spent)), cost=money(extra))
    return None


def default_hits(*, dataset: Dataset, prompt: str, assignments_per_hit: int, kind: str = "yesno") -> int:
    """HITs needed for the work still missing: each assignment is one set of real items, counted
    with a new worker's gold (the most), so the estimate never falls short."""
    set_kind = kind_named(kind)
    per_set = max(1, set_kind.set_size(dataset) - gold_items(kind=set_kind, dataset=dataset, probation=True))
    missing = work_missing(dataset=dataset, kind=kind, prompt=prompt)
    return -(-missing // (per_set * assignments_per_hit)) if missing else 0


@transaction.atomic
def batch_create(
    *, dataset: Dataset, reward: Decimal, budget: Decimal, assignments_per_hit: int, hits: int | None = None,
    prompt: str = Prompt.SEEN_OR_HEARD, title: str = "", description: str = "", keywords: str = "",
    lifetime_seconds: int | None = None, sandbox: bool, user=None, kind: str = "yesno",
) -> Batch:
    """Validate a publishing request and record it with its Job; the Celery task publishes it.

    ``kind`` is what its HITs ask: ``yesno`` questions (of ``prompt``) or ``drawing`` regions."""
    task = task_for(kind)
    set_page_url(dataset=dataset, prompt=prompt, kind=kind)  # refuses a non-HTTPS site before anything is stored
    if reward < Decimal("0.01"):
        raise DomainError(REWARD_TOO_SMALL, field="reward")
    if budget <= 0:
        raise DomainError(BUDGET_REQUIRED, field="budget")
    if not 1 <= assignments_per_hit <= 100:
        raise DomainError(BAD_ASSIGNMENTS, field="assignments_per_hit")
    if hits is None:
        hits = default_hits(dataset=dataset, prompt=prompt, assignments_per_hit=assignments_per_hit, kind=kind)
        if hits == 0:
            raise DomainError(NO_WORK.format(dataset=dataset.name, prompt=prompt) if kind == "yesno"
                              else NO_DRAWING_WORK.format(dataset=dataset.name))
    if not 1 <= hits <= 10000:
        raise DomainError(BAD_HITS, field="hits")
    cost = hit_cost(reward=reward, max_assignments=assignments_per_hit)
    if cost > budget:
        raise DomainError(BUDGET_TOO_SMALL.format(budget=money(budget), cost=money(cost)), field="budget")
    batch = Batch.objects.create(
        dataset=dataset, kind=kind, prompt=prompt, sandbox=sandbox, hits_requested=hits,
        assignments_per_hit=assignments_per_hit, reward=reward, budget=budget,
        title=title or task.title.format(n=kind_named(kind).set_size(dataset)),
        description=description or task.description, keywords=keywords or task.keywords,
        lifetime_seconds=lifetime_seconds or int(mturk_setting("MMIT_MTURK_HIT_LIFETIME")),
        assignment_duration_seconds=dataset.set_timeout_minutes * 60,
        auto_approval_delay_seconds=int(mturk_setting("MMIT_MTURK_AUTO_APPROVAL_DELAY")),
        created_by=user,
    )
    if not batch.sandbox and dataset.budget > 0:
        reason = budget_check(batch=batch, extra=cost)
        if reason:
            raise DomainError(reason, field="budget")
    batch.job = job_create(kind="mturk_publish", user=user,
                           params={"batch": str(batch.public_id), "dataset": dataset.name, "hits": hits})
    batch.save(update_fields=["job"])
    return batch


def batch_job_restart(*, batch: Batch, user=None) -> Batch:
    """A new Job to resume an interrupted publish (HITs already created are kept, never duplicated)."""
    batch.job = job_create(kind="mturk_publish", user=user,
                           params={"batch": str(batch.public_id), "dataset": batch.dataset.name, "resume": True})
    Batch.objects.filter(pk=batch.pk).update(job=batch.job, status=Batch.Status.QUEUED)
    return batch


def batch_publish_start(*, batch: Batch) -> Batch:
    """Publish the batch (as its job) in a worker once the caller's transaction commits."""
    task_enqueue("mmit.mturk.publish_batch", str(batch.job_id), batch.pk)
    return batch


def _hit_reserve(*, batch_id: int, index: int) -> tuple[Hit | None, str]:
    """The HIT row for `index`, reserved under the budget; (None, why) when it does not fit."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().select_related("dataset").get(pk=batch_id)
        Dataset.objects.select_for_update().filter(pk=batch.dataset_id).first()
        existing = Hit.objects.filter(batch=batch, index=index).first()
        if existing is not None and existing.status != Hit.Status.FAILED:
            return existing, ""
        cost = hit_cost(reward=batch.reward, max_assignments=batch.assignments_per_hit)
        reason = budget_check(batch=batch, extra=cost)
        if reason:
            return None, reason
        if existing is not None:  # MTurk refused it last time (e.g. funds): try again, re-reserved
            Hit.objects.filter(pk=existing.pk).update(status=Hit.Status.PENDING, cost_committed=cost, error="")
            existing.refresh_from_db()
            return existing, ""
        hit = Hit.objects.create(batch=batch, index=index, token=f"{batch.public_id.hex}-{index}",
                                 max_assignments=batch.assignments_per_hit, reward=batch.reward, cost_committed=cost)
        return hit, ""


def _find_hit_by_token(*, gateway: Gateway, token: str) -> dict | None:
    return next((h for h in gateway.items("list_hits", "HITs")
                 if (h.get("RequesterAnnotation") or "").startswith(f"mmit {token} ")), None)


def hit_create_remote(*, hit: Hit, batch: Batch, gateway: Gateway, now=None) -> Hit:
    """CreateHITWithHITType for a reserved row; a duplicate token resolves to the existing HIT."""
    now = now or timezone.now()
    if hit.hit_id:
        return hit
    found: dict | None = None
    if hit.created_at < now - timedelta(hours=23):
        # MTurk forgets a UniqueRequestToken after 24 hours: look for the HIT before trusting it.
        found = _find_hit_by_token(gateway=gateway, token=hit.token)
    if found is None:
        try:
            found = gateway.call(
                "create_hit_with_hit_type", HITTypeId=batch.hit_type.hit_type_id,
                MaxAssignments=hit.max_assignments, LifetimeInSeconds=batch.lifetime_seconds,
                Question=external_question(url=set_page_url(dataset=batch.dataset, prompt=batch.prompt,
                                                            kind=batch.kind),
                                           frame_height=int(mturk_setting("MMIT_MTURK_FRAME_HEIGHT"))),
                RequesterAnnotation=requester_annotation(hit=hit), UniqueRequestToken=hit.token,
            )["HIT"]
        except ClientError as exc:
            if not _duplicate(exc):
                Hit.objects.filter(pk=hit.pk).update(status=Hit.Status.FAILED, cost_committed=0,
                                                     error=error_message(exc)[:2000])
                raise
            match = HIT_ID_RE.search(error_message(exc))
            found = {"HITId": match.group(1)} if match else _find_hit_by_token(gateway=gateway, token=hit.token)
            if found is None:
                raise
    expires = found.get("Expiration") or now + timedelta(seconds=batch.lifetime_seconds)
    Hit.objects.filter(pk=hit.pk).update(hit_id=found["HITId"], status=Hit.Status.OPEN, expires_at=expires, error="")
    hit.refresh_from_db()
    return hit


def batch_publish(*, batch_id: int, gateway: Gateway,
                  progress: Callable[[int, int], None] | None = None) -> PublishReport:
    """Create the batch's HITs up to its budget. Safe to run again: it resumes, never duplicates."""
    batch = Batch.objects.select_related("dataset", "hit_type").get(pk=batch_id)
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.PUBLISHING)
    hit_type_ensure(batch=batch, gateway=gateway)
    created = existing = 0
    message = ""
    total = batch.hits_requested
    try:
        for index in range(total):
            hit, reason = _hit_reserve(batch_id=batch.pk, index=index)
            if hit is None:
                message = BUDGET_REACHED.format(n=index)
                break
            if hit.hit_id:
                existing += 1
            else:
                hit_create_remote(hit=hit, batch=batch, gateway=gateway)
                created += 1
            if progress:
                progress(index + 1, total)
    except ClientError as exc:
        message = CREATE_FAILED.format(index=index, error=error_message(exc))
        Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.FAILED, message=message)
        raise DomainError(message) from exc
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.PUBLISHED, message=message)
    committed = committed_for(batches=Batch.objects.filter(pk=batch.pk))
    return PublishReport(created=created, existing=existing, committed=committed, message=message)
