"""In-house annotators: signed links carrying a worker id, or a signed-in account."""
from __future__ import annotations

from backend.crowd.links import worker_from_token
from backend.crowd.models import Worker
from backend.crowd.providers.base import CrowdProvider
from backend.crowd.services import worker_get_or_create

HEADER = "HTTP_X_WORKER_TOKEN"


def link_token(request) -> str | None:
    """The signed worker link a request carries (header or ``?w=``), if any."""
    return request.META.get(HEADER) or request.GET.get("w")


class InHouseProvider(CrowdProvider):
    name = "inhouse"

    def identify(self, request) -> Worker | None:
        token = link_token(request)
        if token:
            return worker_from_token(token)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            worker = getattr(user, "worker", None)
            return worker or worker_get_or_create(provider=self.name, external_id=f"user:{user.username}", user=user)
        return None

    def is_preview(self, request) -> bool:
        return request.GET.get("preview") in ("1", "true")
