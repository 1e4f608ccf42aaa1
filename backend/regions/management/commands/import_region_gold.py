from pathlib import Path

from backend.common.commands import PlatformCommand
from backend.regions.services.gold import region_gold_import_csv
from backend.videos.selectors import dataset_get


class Command(PlatformCommand):
    help = (
        "Import region gold images from a CSV with columns video,action,boxes (boxes: a JSON list of "
        "[x0, y0, x1, y1] in the video's pixels; [] when the action is not visible in the centre frame)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--csv", required=True, type=Path)

    def handle(self, *args, **opts):
        n = region_gold_import_csv(dataset=dataset_get(name=opts["dataset"]), path=opts["csv"])
        self.stdout.write(f"{n} gold images imported.")
