from backend.common.commands import PlatformCommand
from backend.regions.services.advance import regions_advance
from backend.videos.selectors import dataset_get


class Command(PlatformCommand):
    help = "Move the dataset's frame-actions to their next step (visibility rounds, consensus, crops, verification)."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)

    def handle(self, *args, **opts):
        report = regions_advance(dataset=dataset_get(name=opts["dataset"]))
        for key, value in report.as_dict().items():
            self.stdout.write(f"{key:26s} {value}")
