from django.apps import AppConfig
from django.conf import settings


class CommonConfig(AppConfig):
    name = "backend.common"
    label = "common"
    verbose_name = "Platform"

    def ready(self) -> None:
        # The embedded default keeps its SQLite file, broker and media under var/; make sure the
        # folder exists on a fresh clone before anything tries to open the database.
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
