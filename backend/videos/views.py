"""Staff API for datasets, videos and imports."""
from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.common.jobs import job_create
from backend.common.views import JobSerializer
from backend.videos.selectors import dataset_get, dataset_list, video_list
from backend.videos.serializers import (
    DatasetCreateSerializer,
    DatasetSerializer,
    ImportRequestSerializer,
    VideoSerializer,
)
from backend.videos.services import dataset_create, video_import_validate


class DatasetListCreate(generics.ListAPIView):
    serializer_class = DatasetSerializer

    def get_queryset(self):
        return dataset_list()

    @extend_schema(request=DatasetCreateSerializer, responses={201: DatasetSerializer})
    def post(self, request):
        payload = DatasetCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        dataset = dataset_create(**payload.validated_data)
        return Response(DatasetSerializer(dataset_list().get(pk=dataset.pk)).data, status=status.HTTP_201_CREATED)


class DatasetDetail(generics.RetrieveAPIView):
    serializer_class = DatasetSerializer

    def get_object(self):
        dataset = dataset_get(name=self.kwargs["name"])
        return dataset_list().get(pk=dataset.pk)


class VideoList(generics.ListAPIView):
    serializer_class = VideoSerializer

    def get_queryset(self):
        dataset = dataset_get(name=self.kwargs["name"])
        return video_list(dataset=dataset, status=self.request.query_params.get("status"),
                          split=self.request.query_params.get("split"))


class ImportStart(APIView):
    """Validate the source now (4xx on bad input), then import in a Celery worker."""

    @extend_schema(request=ImportRequestSerializer, responses={202: JobSerializer})
    def post(self, request, name: str):
        from workers.tasks.videos import import_videos

        dataset = dataset_get(name=name)
        payload = ImportRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        source, split = payload.validated_data["source"], payload.validated_data.get("split")
        count = video_import_validate(dataset=dataset, source=source, split=split)
        job = job_create(kind="import_videos", user=request.user,
                         params={"dataset": dataset.name, "source": source, "split": split, "files": count})
        transaction.on_commit(lambda: import_videos.delay(str(job.id), dataset.id, source, split))
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
