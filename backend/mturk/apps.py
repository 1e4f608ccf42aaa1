from django.apps import AppConfig


class MturkConfig(AppConfig):
    name = "backend.mturk"
    label = "mturk"

    def ready(self) -> None:
        from backend.crowd.providers import provider_register
        from backend.crowd.signals import worker_blocked, worker_unblocked
        from backend.mturk import selectors  # noqa: F401  (registers its summary kinds)
        from backend.mturk.provider import MTurkProvider, block_mirror

        provider_register(MTurkProvider())
        worker_blocked.connect(block_mirror, dispatch_uid="mturk.block_mirror")
        worker_unblocked.connect(block_mirror, dispatch_uid="mturk.unblock_mirror")
