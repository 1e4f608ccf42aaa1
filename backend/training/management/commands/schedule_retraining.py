import json

from django.core.management.base import CommandError

from backend.common.commands import PlatformCommand
from backend.training.schedule import retraining_schedule
from backend.videos.selectors import dataset_get


class Command(PlatformCommand):
    help = ("Schedule retraining of a dataset (export a release, train on the `ml` queue, ingest its predictions "
            "as model candidates); the schedule is then editable in the admin (Periodic tasks).")

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--every-hours", type=float, default=24.0)
        parser.add_argument("--config", default="{}", help='ml.train options as JSON, e.g. {"epochs": 20}')
        parser.add_argument("--disable", action="store_true")

    def handle(self, *args, **opts):
        try:
            config = json.loads(opts["config"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--config is not valid JSON: {exc}") from exc
        task = retraining_schedule(dataset=dataset_get(name=opts["dataset"]), every_hours=opts["every_hours"],
                                   config=config, enabled=not opts["disable"])
        self.stdout.write(f"{task.name}: every {opts['every_hours']} h, {'enabled' if task.enabled else 'disabled'}.")
