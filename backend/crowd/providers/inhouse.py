"""In-house annotators: signed links carrying a worker id, or a signed-in account."""
from __future__ import annotations

from backend.crowd.links import worker_from_token
from backend.crowd.models import Worker
from backend.crowd.providers.base import CrowdProvider
from backend.crowd.services import worker_get_or_create

HEADER = "HTTP_X_WORKER_TOKEN"


class InHouseProvider(CrowdProvider):
    name = "inhouse"

    def identify(self, request) -> Worker | None:
        token = request.META.get(HEADER) or request.GET.get("w")
        if token:
            return worker_from_token(token)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            worker = getattr(user, "worker", None)
            return worker or worker_get_or_create(provider=self.name, external_id=f"user:{user.username}", user=user)
        return None

    def is_preview(self, request) -> bool:
        return request.GET.get("preview") in ("1", "true")
