from backend.candidates.services import predictions_ingest
from backend.common.commands import PlatformCommand
from backend.videos.selectors import dataset_get


class Command(PlatformCommand):
    help = "Ingest a predictions CSV of `python -m ml.predict` (path,rank,action,score) for the model top-1 source."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dataset", required=True)

    def handle(self, *args, **opts):
        dataset = dataset_get(name=opts["dataset"])
        prediction_set = predictions_ingest(dataset=dataset, path=opts["file"])
        self.stdout.write(f"{prediction_set.rows} predictions of {prediction_set.videos} videos ingested into "
                          f"{dataset.name}; the next round's model source uses them.")
