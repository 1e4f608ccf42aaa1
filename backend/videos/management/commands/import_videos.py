import json

from backend.common.commands import PlatformCommand
from backend.videos.selectors import dataset_get
from backend.videos.services import video_import


class Command(PlatformCommand):
    help = (
        "Import videos from a folder, a CSV manifest (path,split,labels) or an S3 prefix "
        "(s3://bucket/prefix). Unreadable files are quarantined; re-running adds nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("source")
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--split", choices=["train", "val", "test"], default=None)
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        dataset = dataset_get(name=opts["dataset"])
        with self.progress_bar(desc="import", unit="file", disable=opts["no_progress"]) as progress:
            report = video_import(dataset=dataset, source=opts["source"], split=opts["split"], progress=progress)
        if opts["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        self.stdout.write(
            f"{report.seen} files: {report.imported} imported, {report.quarantined} quarantined, "
            f"{report.already_imported} already imported, {report.labels_added} initial labels added."
        )
        for entry in report.quarantine:
            self.stdout.write(f"  quarantined {entry['source']}: {entry['reason']}")
