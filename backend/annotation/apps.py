from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "backend.annotation"
    label = "annotation"

    def ready(self) -> None:
        from backend.annotation import schema  # noqa: F401  (registers the OpenAPI auth extension)
