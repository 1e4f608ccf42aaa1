"""The crowd provider interface.

A provider says who a request comes from (a signed link, a session, an MTurk assignment), what
to remember about the assignment on the set, and what the client needs after an accepted set.
The engine's gold rules never change with the provider. Blocks are announced to every app by
``crowd.signals``; a provider that mirrors them elsewhere connects there.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

from backend.crowd.models import Worker
from backend.crowd.sets.kinds import SetRef


class CrowdProvider(ABC):
    name: str = ""

    @abstractmethod
    def identify(self, request) -> Worker | None:
        """The worker this request comes from, or None when this provider does not apply."""

    def assignment_ref(self, request) -> dict:
        """Provider-side references to keep on a new set (e.g. MTurk assignment and HIT ids)."""
        return {}

    def is_preview(self, request) -> bool:
        return False

    def accepted_payload(self, ref: SetRef) -> dict:
        """Extra fields for the client after an accepted set (e.g. where to post the HIT form)."""
        return {}
