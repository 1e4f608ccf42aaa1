"""The Celery app, its queues and schedules. Tasks are thin: they call backend services."""
from workers.celery import app

__all__ = ["app"]
