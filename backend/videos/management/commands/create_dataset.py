from backend.common.commands import PlatformCommand
from backend.videos.services import dataset_create


class Command(PlatformCommand):
    help = "Create a dataset."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--description", default="")
        parser.add_argument("--train-answers", type=int, default=3)
        parser.add_argument("--eval-answers", type=int, default=5)
        parser.add_argument("--set-size", type=int, default=20)
        parser.add_argument("--if-missing", action="store_true", help="Do nothing if it exists.")

    def handle(self, *args, **opts):
        from backend.videos.models import Dataset

        if opts["if_missing"] and Dataset.objects.filter(name=opts["name"]).exists():
            self.stdout.write(f"Dataset {opts['name']} already exists.")
            return
        dataset = dataset_create(
            name=opts["name"], description=opts["description"], train_answers=opts["train_answers"],
            eval_answers=opts["eval_answers"], set_size=opts["set_size"],
        )
        self.stdout.write(self.style.SUCCESS(f"Created dataset {dataset.name}."))
