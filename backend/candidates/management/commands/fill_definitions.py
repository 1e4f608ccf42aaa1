from backend.candidates.services import action_definitions_generate
from backend.common.commands import PlatformCommand
from backend.videos.models import Dataset
from backend.videos.selectors import dataset_get


class Command(PlatformCommand):
    help = (
        "Write the definition of every active action that has none from the WordNet gloss of its synsets "
        "(curated ones, else the automatic guess), marked as generated; curators' definitions are never touched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--vocabulary", "--dataset", dest="dataset",
                            help="only this dataset's vocabulary (default: every dataset)")
        parser.add_argument("--overwrite-generated", action="store_true",
                            help="also rewrite definitions generated before (after the synsets changed)")

    def handle(self, *args, **opts):
        datasets = [dataset_get(name=opts["dataset"])] if opts["dataset"] else list(Dataset.objects.order_by("name"))
        for dataset in datasets:
            names = action_definitions_generate(dataset=dataset, overwrite_generated=opts["overwrite_generated"])
            self.stdout.write(f"{dataset.name}: {len(names)} definitions written"
                              + (f" ({', '.join(names[:10])}{', ...' if len(names) > 10 else ''})." if names else "."))
