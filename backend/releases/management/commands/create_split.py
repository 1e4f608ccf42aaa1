from backend.common.commands import PlatformCommand
from backend.releases.services import split_create
from backend.videos.selectors import dataset_get


class Command(PlatformCommand):
    help = "Move N train videos into a new val or test split held to the evaluation redundancy."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--split", required=True, choices=["val", "test"])
        parser.add_argument("--size", required=True, type=int)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **opts):
        result = split_create(dataset=dataset_get(name=opts["dataset"]), split=opts["split"], size=opts["size"],
                              seed=opts["seed"])
        self.stdout.write(f"{result['videos']} videos moved to {result['split']}; "
                          f"{result['questions_reopened']} questions reopened for more answers.")
