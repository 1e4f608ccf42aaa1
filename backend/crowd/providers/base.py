"""The crowd provider interface.

A provider says who a request comes from (a signed link, a session, an MTurk assignment), what
to remember about the assignment on the set, and what to do around the engine's decisions
(after an accepted set, when a worker is blocked). The engine's gold rules never change with
the provider.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

from backend.crowd.models import Worker


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

    def accepted_payload(self, taskset) -> dict:
        """Extra fields for the client after an accepted set (e.g. where to post the HIT form)."""
        return {}

    def on_worker_blocked(self, *, worker_id: int, reason: str) -> None:
        """Called after commit when the engine blocks a worker."""

    def on_worker_unblocked(self, *, worker_id: int) -> None:
        """Called after commit when a curator unblocks a worker."""
