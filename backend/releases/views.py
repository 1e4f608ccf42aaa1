"""Staff API for releases."""
from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from backend.common.jobs import job_create
from backend.common.views import JobSerializer
from backend.releases.models import Release
from backend.videos.selectors import dataset_get


class ReleaseSerializer(serializers.ModelSerializer):
    dataset = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Release
        fields = ["id", "dataset", "version", "path", "content_hash", "stats", "created_at"]


class ReleaseListCreate(generics.ListAPIView):
    serializer_class = ReleaseSerializer

    def get_queryset(self):
        return Release.objects.filter(dataset=dataset_get(name=self.kwargs["name"])).select_related("dataset")

    @extend_schema(request=None, responses={202: JobSerializer})
    def post(self, request, name: str):
        from workers.tasks.releases import export_release

        dataset = dataset_get(name=name)
        job = job_create(kind="export_release", user=request.user, params={"dataset": dataset.name})
        transaction.on_commit(lambda: export_release.delay(str(job.id), dataset.id))
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
