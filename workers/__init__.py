"""The Celery app (``workers.celery``), its queues, routes and schedules. Tasks are thin: they call
backend services. ``celery -A workers`` finds the app in ``workers.celery``; this package imports
nothing itself, so reading ``workers.routes`` loads no task."""
