"""The crowd providers the platform knows, in the order requests are matched against them.

A plain list rather than a string registry, so every entry is a name you can jump to. MTurk comes
first: a request carrying an MTurk assignment is an MTurk request even from a signed-in browser.
"""
from __future__ import annotations

from backend.common.errors import Forbidden
from backend.crowd.models import Worker
from backend.crowd.providers.base import CrowdProvider
from backend.crowd.providers.inhouse import InHouseProvider
from backend.crowd.providers.mturk import MTurkProvider

IN_HOUSE = InHouseProvider()
PROVIDERS: list[CrowdProvider] = [MTurkProvider(), IN_HOUSE]
NOT_A_WORKER = "Open this page from your annotator link, or sign in."


def provider_for(name: str) -> CrowdProvider:
    for provider in PROVIDERS:
        if provider.name == name:
            return provider
    return IN_HOUSE


def identify_worker(request) -> tuple[CrowdProvider, Worker]:
    """The provider and worker of a request; Forbidden when nobody is identified."""
    for provider in PROVIDERS:
        worker = provider.identify(request)
        if worker is not None:
            return provider, worker
    raise Forbidden(NOT_A_WORKER)
