"""The crowd providers the platform knows, in the order requests are matched against them.

In-house annotators (signed links, signed-in accounts) are built in and matched last; other
providers register themselves from their app's ``ready()`` (the MTurk app: ``mturk/provider.py``)
and are matched first: a request carrying an MTurk assignment is an MTurk request even from a
signed-in browser.
"""
from __future__ import annotations

from backend.common.errors import Forbidden
from backend.crowd.models import Worker
from backend.crowd.providers.base import CrowdProvider
from backend.crowd.providers.inhouse import InHouseProvider

IN_HOUSE = InHouseProvider()
PROVIDERS: list[CrowdProvider] = [IN_HOUSE]
NOT_A_WORKER = "Open this page from your annotator link, or sign in."


def provider_register(provider: CrowdProvider) -> CrowdProvider:
    """Match requests against ``provider`` before the in-house one (once per name)."""
    PROVIDERS[:] = [p for p in PROVIDERS if p.name != provider.name]
    PROVIDERS.insert(PROVIDERS.index(IN_HOUSE), provider)
    return provider


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
