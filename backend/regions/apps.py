from django.apps import AppConfig


class RegionsConfig(AppConfig):
    name = "backend.regions"
    label = "regions"

    def ready(self) -> None:
        from backend.crowd.sets.kinds import kind_register
        from backend.crowd.signals import worker_blocked
        from backend.regions import selectors  # noqa: F401  (registers its summary kinds)
        from backend.regions.services.drawing import DRAWING, drawings_withdraw

        kind_register(DRAWING)
        worker_blocked.connect(drawings_withdraw, dispatch_uid="regions.drawings_withdraw")
