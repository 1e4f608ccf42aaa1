import json

from django.core.management.base import CommandError

from backend.common.commands import PlatformCommand
from backend.videos.selectors import dataset_get
from backend.vocabulary.names import read_vocabulary_file
from backend.vocabulary.services import format_diff, vocabulary_migrate


class Command(PlatformCommand):
    help = (
        "Migrate a dataset's vocabulary to the list in FILE: `a/b` names combine existing classes "
        "(labels move), new names are added, names not in FILE are removed (archived)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--to", required=True, dest="file")
        parser.add_argument("--dry-run", action="store_true", help="Only print what would change.")
        parser.add_argument(
            "--merge", action="append", default=[], metavar="OLD=NEW",
            help="Also merge OLD into NEW (a name in FILE), e.g. --merge giggling=laughing.",
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        dataset = dataset_get(name=opts["dataset"])
        merges = {}
        for spec in opts["merge"]:
            old, sep, new = spec.partition("=")
            if not sep or not old.strip() or not new.strip():
                raise CommandError(f"--merge expects OLD=NEW, got {spec!r}")
            merges[old.strip()] = new.strip()
        diff = vocabulary_migrate(
            dataset=dataset, target=read_vocabulary_file(opts["file"]), merges=merges,
            dry_run=opts["dry_run"], origin=opts["file"],
        )
        if opts["json"]:
            self.stdout.write(json.dumps(diff.as_dict(), indent=2))
            return
        self.stdout.write(("Dry run: nothing changed.\n" if opts["dry_run"] else "") + format_diff(diff))
