from django.apps import AppConfig


class VideosConfig(AppConfig):
    name = "backend.videos"
    label = "videos"

    def ready(self) -> None:
        from backend.videos import selectors  # noqa: F401  (registers its summary kinds)
