"""Staff API for datasets, videos and imports."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.common.errors import NotFound
from backend.common.pages import KeysetPagination
from backend.common.views import JobSerializer
from backend.videos.access import STAFF, datasets_visible, role_rows
from backend.videos.models import DatasetRole
from backend.videos.selectors import dataset_counted, dataset_get, video_list, video_search
from backend.videos.serializers import (
    DatasetCreateSerializer,
    DatasetSerializer,
    ImportRequestSerializer,
    VideoSerializer,
)
from backend.videos.services import (
    NO_SUCH_ROLE,
    dataset_create_by,
    dataset_role_revoke,
    dataset_role_set,
    video_import_start,
)


class DatasetListCreate(generics.ListAPIView):
    """The datasets the user holds a role in (every one for superusers); any staff user may create
    one and becomes its curator."""

    serializer_class = DatasetSerializer
    dataset_roles = {"GET": STAFF, "POST": STAFF}

    def get_queryset(self):
        return [dataset_counted(d) for d in datasets_visible(self.request.user)]

    @extend_schema(request=DatasetCreateSerializer, responses={201: DatasetSerializer})
    def post(self, request):
        payload = DatasetCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        dataset = dataset_create_by(user=request.user, **payload.validated_data)
        return Response(DatasetSerializer(dataset_counted(dataset)).data, status=status.HTTP_201_CREATED)


class DatasetDetail(generics.RetrieveAPIView):
    serializer_class = DatasetSerializer

    def get_object(self):
        return dataset_counted(dataset_get(name=self.kwargs["name"]))


class VideoList(generics.ListAPIView):
    """A dataset's videos in id order (filter with ``?status=`` and ``?split=``), a page at a time
    from a cursor: as fast on the last page of a million as on the first. ``?q=`` searches instead:
    the video with that id and those whose name starts with it (at most 50, one page)."""

    serializer_class = VideoSerializer
    pagination_class = KeysetPagination

    @extend_schema(parameters=[OpenApiParameter("q", str, required=False, description="a video id or the start "
                                                "of a name (any case)")])
    def get(self, request, *args, **kwargs):
        if "q" not in request.query_params:
            return super().get(request, *args, **kwargs)
        found = video_search(dataset=dataset_get(name=self.kwargs["name"]), q=request.query_params["q"])
        return Response({"count": len(found), "count_capped": False, "next": None, "previous": None,
                         "results": VideoSerializer(found, many=True).data})

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


class DatasetRoleSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    granted_by = serializers.CharField(source="granted_by.username", read_only=True, default=None)

    class Meta:
        model = DatasetRole
        fields = ["username", "role", "granted_by", "created_at", "updated_at"]


class DatasetRoleSetSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.CharField(max_length=16)


class DatasetRoleChangeSerializer(serializers.Serializer):
    role = serializers.CharField(max_length=16)


class DatasetRoleListSet(generics.ListAPIView):
    """The dataset's team (viewers may read it); POST gives a staff user a role or changes theirs
    (curators)."""

    serializer_class = DatasetRoleSerializer
    pagination_class = None

    def get_queryset(self):
        return role_rows(dataset=dataset_get(name=self.kwargs["name"]))

    @extend_schema(request=DatasetRoleSetSerializer, responses=DatasetRoleSerializer)
    def post(self, request, name: str):
        payload = DatasetRoleSetSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        found = dataset_role_set(dataset=dataset_get(name=name), actor=request.user, **payload.validated_data)
        return Response(DatasetRoleSerializer(found).data)


class DatasetRoleDetail(APIView):
    """One member's role: PATCH changes it, DELETE revokes it (curators; the last curator stays)."""

    @extend_schema(request=DatasetRoleChangeSerializer, responses=DatasetRoleSerializer)
    def patch(self, request, name: str, username: str):
        payload = DatasetRoleChangeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        dataset = dataset_get(name=name)
        if not role_rows(dataset=dataset).filter(user__username=username).exists():
            raise NotFound(NO_SUCH_ROLE.format(username=username, dataset=dataset.name), field="username")
        found = dataset_role_set(dataset=dataset, username=username, role=payload.validated_data["role"],
                                 actor=request.user)
        return Response(DatasetRoleSerializer(found).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, name: str, username: str):
        dataset_role_revoke(dataset=dataset_get(name=name), username=username, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
