from pathlib import Path

from backend.common.commands import PlatformCommand
from backend.releases.services import release_export
from backend.videos.selectors import dataset_get


class Command(PlatformCommand):
    help = "Write a reproducible release of a dataset (labels, splits, vocabulary, stats, plots, datasheet)."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--out", type=Path, default=None, help="Directory (default var/releases/NAME/vN).")
        parser.add_argument("--with-media", action="store_true", help="Copy the clips into the release.")

    def handle(self, *args, **opts):
        dataset = dataset_get(name=opts["dataset"])
        with self.progress_bar(desc="export", unit="label") as progress:
            release = release_export(dataset=dataset, out_dir=opts["out"], with_media=opts["with_media"],
                                     progress=progress)
        s = release.stats
        self.stdout.write(f"Release v{release.version} of {dataset.name} at {release.path}: {s['videos']} videos, "
                          f"{s['labels']} labels ({s['videos_2plus']} videos with 2+, {s['videos_3plus']} with 3+).")
