from backend.common.commands import PlatformCommand
from backend.videos.selectors import dataset_get
from backend.vocabulary.names import read_vocabulary_file
from backend.vocabulary.services import vocabulary_load


class Command(PlatformCommand):
    help = "Load a vocabulary file (one action per line) into a dataset; existing actions are kept."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dataset", required=True)

    def handle(self, *args, **opts):
        dataset = dataset_get(name=opts["dataset"])
        names = read_vocabulary_file(opts["file"])
        report = vocabulary_load(dataset=dataset, names=names, origin=opts["file"])
        self.stdout.write(
            f"{len(report['added'])} actions added, {len(report['existing'])} already present "
            f"in {dataset.name}."
        )
