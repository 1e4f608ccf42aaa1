from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "backend.annotation"
    label = "annotation"

    def ready(self) -> None:
        from backend.annotation.services.consensus import worker_work_withdraw
        from backend.annotation.services.yesno import YES_NO
        from backend.crowd.sets.kinds import kind_register
        from backend.crowd.signals import worker_blocked

        kind_register(YES_NO)
        worker_blocked.connect(worker_work_withdraw, dispatch_uid="annotation.work_withdraw")
