from django.apps import AppConfig


class CandidatesConfig(AppConfig):
    name = "backend.candidates"
    label = "candidates"

    def ready(self) -> None:
        from backend.candidates import selectors  # noqa: F401  (registers its summary kinds)
