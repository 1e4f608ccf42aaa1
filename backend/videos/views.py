"""Staff API for datasets, videos and imports."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.common.pages import KeysetPagination
from backend.common.views import JobSerializer
from backend.videos.selectors import dataset_counted, dataset_get, dataset_list, video_list
from backend.videos.serializers import (
    DatasetCreateSerializer,
    DatasetSerializer,
    ImportRequestSerializer,
    VideoSerializer,
)
from backend.videos.services import dataset_create, video_import_start


class DatasetListCreate(generics.ListAPIView):
    serializer_class = DatasetSerializer

    def get_queryset(self):
        return dataset_list()

    @extend_schema(request=DatasetCreateSerializer, responses={201: DatasetSerializer})
    def post(self, request):
        payload = DatasetCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        dataset = dataset_create(**payload.validated_data)
        return Response(DatasetSerializer(dataset_counted(dataset)).data, status=status.HTTP_201_CREATED)


class DatasetDetail(generics.RetrieveAPIView):
    serializer_class = DatasetSerializer

    def get_object(self):
        return dataset_counted(dataset_get(name=self.kwargs["name"]))


class VideoList(generics.ListAPIView):
    """A dataset's videos in id order (filter with ``?status=`` and ``?split=``), a page at a time
    from a cursor: as fast on the last page of a million as on the first."""

    serializer_class = VideoSerializer
    pagination_class = KeysetPagination

    def get_queryset(self):
        dataset = dataset_get(name=self.kwargs["name"])
        return video_list(dataset=dataset, status=self.request.query_params.get("status"),
                          split=self.request.query_params.get("split"))


class ImportStart(APIView):
    """Validate the source now (4xx on bad input), then import it as a Celery job of chunks that the
    workers share (its progress: chunks done)."""

    @extend_schema(request=ImportRequestSerializer, responses={202: JobSerializer})
    def post(self, request, name: str):
        dataset = dataset_get(name=name)
        payload = ImportRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        job = video_import_start(dataset=dataset, source=payload.validated_data["source"],
                                 split=payload.validated_data.get("split"), user=request.user,
                                 trust_labels=payload.validated_data["trust_labels"], via="api",
                                 in_place=payload.validated_data["in_place"])
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
