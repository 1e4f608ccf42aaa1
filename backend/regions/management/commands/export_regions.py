from pathlib import Path

from backend.common.commands import PlatformCommand
from backend.regions.services.export import DEFAULT_SOURCE, regions_export
from backend.videos.selectors import dataset_get


class Command(PlatformCommand):
    help = (
        "Export the verified action regions of one or more datasets: a Broden-format directory (Network "
        "Dissection), a COCO detection file and statistics; optionally merged with an existing Broden directory."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", action="append", required=True, help="Repeat for several datasets.")
        parser.add_argument("--out", required=True, type=Path)
        parser.add_argument("--size", type=int, default=None, help="Broden image side (default 224).")
        parser.add_argument("--seg-size", type=int, default=None, help="Segmentation side (default size / 2).")
        parser.add_argument("--label-offset", type=int, default=0, help="First action label number minus one.")
        parser.add_argument("--merge-broden", type=Path, default=None,
                            help="A Broden directory (e.g. broden1_224) to merge with into OUT/broden_merged.")
        parser.add_argument("--source", default=DEFAULT_SOURCE, help="Folder name under images/.")

    def handle(self, *args, **opts):
        datasets = [dataset_get(name=n) for n in opts["dataset"]]
        with self.progress_bar(desc="export", unit="step") as update:
            stats = regions_export(datasets=datasets, out_dir=opts["out"], size=opts["size"],
                                   seg_size=opts["seg_size"], label_offset=opts["label_offset"],
                                   merge_with=opts["merge_broden"], source=opts["source"], progress=update)
        self.stdout.write(
            f"{stats['images']} images, {stats['actions']} actions, {stats['regions']} regions "
            f"({stats['regions_per_image']['mean']} per image) written to {opts['out']}")
