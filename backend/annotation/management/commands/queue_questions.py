from pathlib import Path

from backend.annotation.services.questions import questions_for_labels, questions_from_curator_list
from backend.common.commands import PlatformCommand
from backend.videos.selectors import dataset_get


class Command(PlatformCommand):
    help = "Queue pending labels as Yes/No questions (or a curator's CSV list of video,action pairs)."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--list", dest="curator_list", default=None, help="CSV with video,action columns.")

    def handle(self, *args, **opts):
        dataset = dataset_get(name=opts["dataset"])
        if opts["curator_list"]:
            n = questions_from_curator_list(dataset=dataset, path=Path(opts["curator_list"]))
        else:
            n = questions_for_labels(dataset=dataset)
        self.stdout.write(f"{n} questions queued in {dataset.name}.")
