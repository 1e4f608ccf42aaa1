from pathlib import Path

from backend.common.commands import PlatformCommand
from backend.videos.synthetic import generate_dataset


class Command(PlatformCommand):
    help = "Write synthetic action clips with truth.csv, boxes.json and manifest.csv."

    def add_arguments(self, parser):
        parser.add_argument("out_dir")
        parser.add_argument("--clips", type=int, default=200)
        parser.add_argument("--corrupt", type=int, default=0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--size", type=int, default=128)

    def handle(self, *args, **opts):
        with self.progress_bar(desc="clips", unit="clip") as progress:
            truths = generate_dataset(
                Path(opts["out_dir"]), n_clips=opts["clips"], corrupt=opts["corrupt"], seed=opts["seed"],
                size=(opts["size"], opts["size"]), progress=progress,
            )
        self.stdout.write(f"Wrote {len(truths)} clips (+{opts['corrupt']} corrupt) to {opts['out_dir']}.")
