from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "backend.dashboard"
    label = "dashboard"

    def ready(self) -> None:
        from backend.dashboard import selectors  # noqa: F401  (registers its summary kinds)
