from django.apps import AppConfig


class CrowdConfig(AppConfig):
    name = "backend.crowd"
    label = "crowd"

    def ready(self) -> None:
        from backend.crowd import schema  # noqa: F401  (registers the OpenAPI auth extension)
