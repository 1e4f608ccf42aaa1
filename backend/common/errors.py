"""Domain errors raised by services and rendered as clear 4xx responses or command errors.

Services raise these with messages defined as module constants next to the service, so tests
compare against the very same text the user sees.
"""
from __future__ import annotations


class DomainError(Exception):
    """A request that cannot be carried out as asked; nothing was changed."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Gone(DomainError):
    status_code = 410


class Forbidden(DomainError):
    status_code = 403
