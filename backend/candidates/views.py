"""Staff API of candidate generation: rounds, relations, sources and model predictions."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from backend.candidates.models import PredictionSet
from backend.candidates.selectors import (
    harvest_by_relation,
    harvest_by_round,
    harvest_by_source,
    model_proposal_list,
    relation_list,
    round_get,
    round_list,
    source_get,
    source_list,
)
from backend.candidates.serializers import (
    ModelProposalSerializer,
    PredictionSetSerializer,
    PredictionsIngestSerializer,
    RelationSerializer,
    RoundDetailSerializer,
    RoundSerializer,
    RoundStartSerializer,
    SourceSerializer,
    SourceSettingsSerializer,
)
from backend.candidates.services import (
    candidate_round_start,
    predictions_ingest_start,
    source_settings_update,
)
from backend.common.views import JobSerializer
from backend.videos.models import Dataset
from backend.videos.selectors import dataset_get


class _DatasetView(generics.GenericAPIView):
    """A view of one dataset's candidates; subclasses add what their serializer needs to the context."""

    def dataset(self) -> Dataset | None:
        # The schema generator calls the view without a request, hence without a dataset.
        if getattr(self, "swagger_fake_view", False):
            return None
        if not hasattr(self, "_dataset"):
            self._dataset = dataset_get(name=self.kwargs["name"])
        return self._dataset

    def get_serializer_context(self):
        context = super().get_serializer_context()
        return context if self.dataset() is None else {**context, **self.extra_context()}

    def extra_context(self) -> dict:
        return {}


class RoundListStart(_DatasetView, generics.ListAPIView):
    """Rounds, newest first, with the harvest of their proposals per source; POST starts one."""

    serializer_class = RoundSerializer

    def get_queryset(self):
        return round_list(dataset=self.dataset())

    def extra_context(self) -> dict:
        return {"harvest": harvest_by_round(dataset=self.dataset())}

    @extend_schema(request=RoundStartSerializer, responses={202: JobSerializer})
    def post(self, request, name: str):
        payload = RoundStartSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        job = candidate_round_start(dataset=self.dataset(), sources=data.pop("sources", None), policy=data,
                                    user=request.user)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class RoundDetail(_DatasetView, generics.RetrieveAPIView):
    """One round, with each relation that proposed in it and its harvest in that round."""

    serializer_class = RoundDetailSerializer

    def get_object(self):
        return round_get(dataset=self.dataset(), number=self.kwargs["number"])

    def extra_context(self) -> dict:
        dataset, number = self.dataset(), self.kwargs["number"]
        per_relation = harvest_by_relation(dataset=dataset, round_number=number)
        return {
            "harvest": harvest_by_round(dataset=dataset, round_number=number),
            "relation_harvest": per_relation,
            "relations": relation_list(dataset=dataset).filter(pk__in=list(per_relation)),
        }


class RelationList(_DatasetView, generics.ListAPIView):
    """Relations ``source: a -> b`` (filter with ``?state=`` and ``?source=``), with their harvest."""

    serializer_class = RelationSerializer

    def get_queryset(self):
        params = self.request.query_params
        return relation_list(dataset=self.dataset(), state=params.get("state"), source=params.get("source"))

    def extra_context(self) -> dict:
        return {"harvest": harvest_by_relation(dataset=self.dataset())}


class SourceList(_DatasetView, generics.ListAPIView):
    """Each source's state (running or stopped and why, WordNet's distance) and harvest."""

    serializer_class = SourceSerializer
    pagination_class = None

    def get_queryset(self):
        return source_list(dataset=self.dataset())

    def extra_context(self) -> dict:
        return {"harvest": harvest_by_source(dataset=self.dataset())}


class SourceSettings(_DatasetView, generics.GenericAPIView):
    """One source's state and harvest; PATCH changes its per-dataset setting: ``top_k``, the model
    source's proposals per video per model run (1 = the paper's top-1)."""

    serializer_class = SourceSerializer

    def extra_context(self) -> dict:
        return {"harvest": harvest_by_source(dataset=self.dataset())}

    def get(self, request, name: str, source: str):
        return Response(self.get_serializer(source_get(dataset=self.dataset(), source=source)).data)

    @extend_schema(request=SourceSettingsSerializer, responses={200: SourceSerializer})
    def patch(self, request, name: str, source: str):
        payload = SourceSettingsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = source_settings_update(dataset=self.dataset(), source=source, top_k=payload.validated_data["top_k"])
        return Response(self.get_serializer(row).data)


class ModelProposalList(_DatasetView, generics.ListAPIView):
    """The model source's candidates with the rank and the run (predictions) that proposed each;
    filter with ``?round=``, ``?run=`` and ``?rank=``."""

    serializer_class = ModelProposalSerializer

    def get_queryset(self):
        params = self.request.query_params
        return model_proposal_list(dataset=self.dataset(), round_number=params.get("round"), run=params.get("run"),
                                   rank=params.get("rank"))


class PredictionsIngest(_DatasetView, generics.ListAPIView):
    """Ingested predictions files, newest first; POST ingests one in a worker."""

    serializer_class = PredictionSetSerializer

    def get_queryset(self):
        return PredictionSet.objects.filter(dataset=self.dataset()).order_by("-created_at", "-id")

    @extend_schema(request=PredictionsIngestSerializer, responses={202: JobSerializer})
    def post(self, request, name: str):
        payload = PredictionsIngestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        job = predictions_ingest_start(dataset=self.dataset(), path=payload.validated_data["path"], user=request.user)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
