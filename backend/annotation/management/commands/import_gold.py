from pathlib import Path

from backend.annotation.services.gold import gold_import_csv
from backend.common.commands import PlatformCommand
from backend.videos.selectors import dataset_get


class Command(PlatformCommand):
    help = "Import gold pairs from a CSV with video,action,truth (yes/no) columns."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dataset", required=True)

    def handle(self, *args, **opts):
        n = gold_import_csv(dataset=dataset_get(name=opts["dataset"]), path=Path(opts["file"]))
        self.stdout.write(f"{n} gold pairs imported.")
