"""Health check and job status."""
from __future__ import annotations

from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import RetrieveAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.common.background import producer
from backend.common.models import Job


class JobSerializer(serializers.ModelSerializer):
    fraction = serializers.FloatField(read_only=True)

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "params", "result", "error", "done", "total", "fraction",
                  "message", "created_at", "started_at", "finished_at", "attempts"]


class JobDetail(RetrieveAPIView):
    queryset = Job.objects.all()
    serializer_class = JobSerializer

    def role_datasets(self, request) -> list[str] | None:
        """A job of a dataset is read by its viewers (the dataset's name in the job's params)."""
        params = Job.objects.filter(pk=self.kwargs["pk"]).values_list("params", flat=True).first() or {}
        names = [params["dataset"]] if isinstance(params.get("dataset"), str) else params.get("datasets")
        return names if isinstance(names, list) and names else None


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    with producer().connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


class Health(APIView):
    """Liveness of the database and the Celery broker; 503 when either is down."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses=inline_serializer("Health", {"database": serializers.CharField(),
                                                         "broker": serializers.CharField()}))
    def get(self, request):
        body, healthy = {}, True
        for name, check in (("database", _check_database), ("broker", _check_broker)):
            try:
                body[name] = check()
            except Exception as exc:  # any failure of a dependency is reported, not raised
                body[name] = f"error: {type(exc).__name__}"
                healthy = False
        return Response(body, status=200 if healthy else 503)
