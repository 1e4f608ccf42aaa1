import getpass
import json

from django.conf import settings

from backend.common.commands import PlatformCommand
from backend.videos.selectors import dataset_get
from backend.videos.services import ImportOrigin, video_import, video_import_start

QUEUED = ("Import of {files} files queued as job {job} ({chunks} chunk(s) of up to {rows} rows, shared by the "
          "Celery workers: celery -A workers worker -Q default). Follow it at {site}/api/jobs/{job}/ or in the "
          "admin under Jobs.")


def _login() -> str:
    """The system login running the command (the "who" of a trusted import's provenance)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no USER/LOGNAME and no passwd entry (some containers)
        return ""


class Command(PlatformCommand):
    help = (
        "Import videos from a folder, a CSV manifest (path,split,labels) or an S3 prefix "
        "(s3://bucket/prefix). Unreadable files are quarantined; re-running adds nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("source")
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--split", choices=["train", "val", "test"], default=None)
        parser.add_argument(
            "--trust-labels", action="store_true",
            help="The manifest's labels are verified already (e.g. Moments in Time): record them as verified "
                 "positives (source `import`, with the file, time and who imported them), without questions. "
                 "Without it they are pending labels, asked like any other.")
        parser.add_argument(
            "--in-place", action="store_true",
            help="Reference each file where it is (its allowed import root, or its S3 object) instead of copying "
                 "it into the media storage.")
        parser.add_argument(
            "--enqueue", action="store_true",
            help="Check the source here, then import it as a Celery job of chunks that the workers share; prints "
                 "the job id and where to follow it. Without it the import runs in this process.")
        parser.add_argument("--json", action="store_true", help="Print the report (with --enqueue: the job) as JSON.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        dataset = dataset_get(name=opts["dataset"])
        if opts["enqueue"]:
            job = video_import_start(dataset=dataset, source=opts["source"], split=opts["split"],
                                     trust_labels=opts["trust_labels"], via="command", user_name=_login(),
                                     in_place=opts["in_place"])
            if opts["json"]:
                self.stdout.write(json.dumps({"job": str(job.id), **job.params}, indent=2))
                return
            self.stdout.write(QUEUED.format(files=job.params["files"], job=job.id, chunks=job.params["chunks"],
                                            rows=job.params["chunk_rows"], site=settings.SITE_URL.rstrip("/")))
            return
        origin = ImportOrigin(via="command", user_name=_login())
        with self.progress_bar(desc="import", unit="file", disable=opts["no_progress"]) as progress:
            report = video_import(dataset=dataset, source=opts["source"], split=opts["split"], progress=progress,
                                  trust_labels=opts["trust_labels"], origin=origin, in_place=opts["in_place"])
        if opts["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        kind = "verified labels (trusted, source import)" if report.labels_trusted else "initial labels"
        self.stdout.write(
            f"{report.seen} files: {report.imported} imported, {report.quarantined} quarantined, "
            f"{report.already_imported} already imported, {report.labels_added} {kind} added."
        )
        for entry in report.quarantine:
            self.stdout.write(f"  quarantined {entry['source']}: {entry['reason']}")
