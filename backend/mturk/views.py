"""Staff API for MTurk (publish, HITs, assignments, spend, per-worker actions) and the set page
as MTurk frames it."""
from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.annotation.views import annotate_page
from backend.common.errors import Conflict
from backend.common.models import Job
from backend.common.views import JobSerializer
from backend.mturk.conf import mturk_setting
from backend.mturk.gateway import configured_sandbox
from backend.mturk.models import Batch, Hit
from backend.mturk.selectors import (
    assignment_list,
    batch_get,
    batch_list,
    hit_get,
    hit_list,
    worker_by_mturk_id,
    worker_list,
    workers_to_notify,
)
from backend.mturk.serializers import (
    BatchCreateSerializer,
    BatchSerializer,
    BatchStartedSerializer,
    BlockSerializer,
    BonusCreatedSerializer,
    BonusSerializer,
    CountSerializer,
    HitDetailSerializer,
    HitSerializer,
    NotifySerializer,
    StandingSerializer,
    UnblockSerializer,
    WorkerSerializer,
)
from backend.mturk.services.publish import (
    batch_create,
    batch_job_restart,
    batch_publish_start,
)
from backend.mturk.services.review import review_start
from backend.mturk.services.workers import (
    bonus_create,
    notices_queue,
    worker_block_request,
    worker_unblock_request,
)
from backend.regions.views import draw_page
from backend.videos.access import datasets_visible
from backend.videos.selectors import dataset_get

BATCH_RUNNING = "This batch is being published; wait for its job to finish."


class _BatchScoped:
    # A route of one batch: its dataset's roles apply (viewer to read, curator to spend). A comment,
    # not a docstring: the API schema would show it as the description of every such route.
    def role_datasets(self, request) -> list[str]:
        return list(Batch.objects.filter(public_id=self.kwargs["public_id"]).values_list("dataset__name", flat=True))


class BatchListCreate(generics.ListAPIView):
    """Batches with budget, committed and actually spent (of the datasets the user holds a role
    in); POST publishes a new one (202 + Job; curators of its dataset)."""

    serializer_class = BatchSerializer

    def get_queryset(self):
        return batch_list().filter(dataset__in=datasets_visible(self.request.user))

    def role_datasets(self, request) -> list[str] | None:
        name = request.data.get("dataset") if request.method == "POST" else None
        return [name] if isinstance(name, str) else None

    @extend_schema(request=BatchCreateSerializer, responses={202: BatchStartedSerializer})
    def post(self, request):
        payload = BatchCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        dataset = dataset_get(name=data.pop("dataset"))
        lifetime_hours = data.pop("lifetime_hours", None)
        with transaction.atomic():
            batch = batch_publish_start(batch=batch_create(
                dataset=dataset, sandbox=configured_sandbox(), user=request.user,
                lifetime_seconds=lifetime_hours * 3600 if lifetime_hours else None, **data))
        return Response({"batch": BatchSerializer(batch_get(public_id=batch.public_id)).data,
                         "job": JobSerializer(batch.job).data}, status=status.HTTP_202_ACCEPTED)


class BatchDetail(_BatchScoped, APIView):
    @extend_schema(responses=BatchSerializer)
    def get(self, request, public_id):
        return Response(BatchSerializer(batch_get(public_id=public_id)).data)


class BatchPublish(_BatchScoped, APIView):
    """Resume publishing a batch (after an outage or a refused HIT); never duplicates HITs."""

    @extend_schema(request=None, responses={202: BatchStartedSerializer})
    def post(self, request, public_id):
        batch = batch_get(public_id=public_id)
        if batch.status in (Batch.Status.QUEUED, Batch.Status.PUBLISHING) and batch.job \
                and batch.job.status in (Job.Status.QUEUED, Job.Status.RUNNING):
            raise Conflict(BATCH_RUNNING)
        with transaction.atomic():
            batch = batch_publish_start(batch=batch_job_restart(batch=batch, user=request.user))
        return Response({"batch": BatchSerializer(batch_get(public_id=batch.public_id)).data,
                         "job": JobSerializer(batch.job).data}, status=status.HTTP_202_ACCEPTED)


class BatchHits(_BatchScoped, generics.ListAPIView):
    serializer_class = HitSerializer

    def get_queryset(self):
        return hit_list(batch=batch_get(public_id=self.kwargs["public_id"]))


class HitDetail(APIView):
    """A HIT with its assignments and their sets (the RequesterAnnotation of each HIT links here)."""

    def role_datasets(self, request) -> list[str]:
        ref = self.kwargs["ref"]
        return list(Hit.objects.filter(Q(token=ref) | Q(hit_id=ref)).values_list("batch__dataset__name", flat=True))

    @extend_schema(responses=HitDetailSerializer)
    def get(self, request, ref: str):
        hit = hit_get(ref=ref)
        hit.assignment_rows = assignment_list(hit=hit)
        return Response(HitDetailSerializer(hit).data)


class WorkerList(generics.ListAPIView):
    serializer_class = WorkerSerializer

    def get_queryset(self):
        return worker_list()


class WorkerDetail(APIView):
    @extend_schema(responses=WorkerSerializer)
    def get(self, request, worker_id: str):
        return Response(WorkerSerializer(worker_by_mturk_id(mturk_worker_id=worker_id)).data)


class WorkerBlock(APIView):
    """Block on the platform, then on MTurk: the soft-block qualification, and with `hard` also
    CreateWorkerBlock (done by a Celery task)."""

    @extend_schema(request=BlockSerializer, responses={202: StandingSerializer})
    def post(self, request, worker_id: str):
        worker = worker_by_mturk_id(mturk_worker_id=worker_id)
        payload = BlockSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        standing = worker_block_request(worker=worker, actor=request.user, **payload.validated_data)
        return Response(StandingSerializer(standing).data, status=status.HTTP_202_ACCEPTED)


class WorkerUnblock(APIView):
    @extend_schema(request=UnblockSerializer, responses={202: StandingSerializer})
    def post(self, request, worker_id: str):
        worker = worker_by_mturk_id(mturk_worker_id=worker_id)
        payload = UnblockSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        standing = worker_unblock_request(worker=worker, actor=request.user, **payload.validated_data)
        return Response(StandingSerializer(standing).data, status=status.HTTP_202_ACCEPTED)


class WorkerBonus(APIView):
    """Record a bonus within the batch budget; the review loop sends it (with its request token)."""

    @extend_schema(request=BonusSerializer, responses={202: BonusCreatedSerializer})
    def post(self, request, worker_id: str):
        worker = worker_by_mturk_id(mturk_worker_id=worker_id)
        payload = BonusSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        bonus = bonus_create(worker=worker, actor=request.user, **payload.validated_data)
        return Response(BonusCreatedSerializer(bonus).data, status=status.HTTP_202_ACCEPTED)


class WorkerNotify(APIView):
    """Queue an e-mail to workers (by id, or everyone who worked on a batch); sent by 100s."""

    @extend_schema(request=NotifySerializer, responses={202: CountSerializer})
    def post(self, request):
        payload = NotifySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        workers = workers_to_notify(batch_public_id=data.get("batch"), worker_ids=data.get("worker_ids"))
        n = notices_queue(workers=workers, subject=data["subject"], message=data["message"],
                          sandbox=configured_sandbox(), actor=request.user)
        return Response({"queued": n}, status=status.HTTP_202_ACCEPTED)


class ReviewStart(APIView):
    """Run the review loop now instead of waiting for the beat schedule."""

    @extend_schema(request=None, responses={202: JobSerializer})
    def post(self, request):
        job = review_start(user=request.user)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


def _framed(response):
    """Framing allowed for MTurk's hosts only (CSP frame-ancestors); every other page of the site
    keeps X-Frame-Options DENY."""
    ancestors = " ".join(mturk_setting("MMIT_MTURK_FRAME_ANCESTORS"))
    response["Content-Security-Policy"] = f"frame-ancestors 'self' {ancestors}"
    return response


@xframe_options_exempt
@require_GET
def mturk_annotate_page(request, name: str):
    """The annotator page (Yes/No HITs) as MTurk frames it."""
    return _framed(annotate_page(request, name))


@xframe_options_exempt
@require_GET
def mturk_draw_page(request, name: str):
    """The drawing page (region HITs) as MTurk frames it."""
    return _framed(draw_page(request, name))
