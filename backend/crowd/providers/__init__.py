"""The crowd providers the platform knows, in the order requests are matched against them.

Providers register here by appending an instance (the MTurk provider adds itself the same way);
a plain list rather than a string registry, so every entry is a name you can jump to.
"""
from __future__ import annotations

from backend.common.errors import Forbidden
from backend.crowd.models import Worker
from backend.crowd.providers.base import CrowdProvider
from backend.crowd.providers.inhouse import InHouseProvider

PROVIDERS: list[CrowdProvider] = [InHouseProvider()]
NOT_A_WORKER = "Open this page from your annotator link, or sign in."


def provider_for(name: str) -> CrowdProvider:
    for provider in PROVIDERS:
        if provider.name == name:
            return provider
    return PROVIDERS[0]


def identify_worker(request) -> tuple[CrowdProvider, Worker]:
    """The provider and worker of a request; Forbidden when nobody is identified."""
    for provider in PROVIDERS:
        worker = provider.identify(request)
        if worker is not None:
            return provider, worker
    raise Forbidden(NOT_A_WORKER)
