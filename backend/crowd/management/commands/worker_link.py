from backend.common.commands import PlatformCommand
from backend.crowd.links import worker_link_url
from backend.crowd.services import worker_get_or_create
from backend.videos.selectors import dataset_get


class Command(PlatformCommand):
    help = "Print a signed, expiring annotator link for an in-house worker (created if new)."

    def add_arguments(self, parser):
        parser.add_argument("worker_id")
        parser.add_argument("--dataset", required=True)

    def handle(self, *args, **opts):
        dataset = dataset_get(name=opts["dataset"])
        worker = worker_get_or_create(provider="inhouse", external_id=opts["worker_id"])
        self.stdout.write(worker_link_url(worker=worker, dataset_name=dataset.name))
