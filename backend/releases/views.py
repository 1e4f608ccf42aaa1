"""Staff API for releases."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from backend.common.views import JobSerializer
from backend.releases.models import Release
from backend.releases.services import release_export_start
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
        job = release_export_start(dataset=dataset_get(name=name), user=request.user)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
