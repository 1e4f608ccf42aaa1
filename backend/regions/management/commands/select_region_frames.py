from backend.common.commands import PlatformCommand
from backend.regions.services.frames import regions_select_frames
from backend.videos.selectors import dataset_get


class Command(PlatformCommand):
    help = (
        "Step 1 of Action Regions: select the centre frame of up to K videos per action from the verified "
        "positive labels of one or more datasets, extract it with PyAV, and open its first visibility round."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", action="append", required=True, help="Repeat for several datasets.")
        parser.add_argument("--per-action", type=int, default=None, help="K (default MMIT_REGIONS_FRAMES_PER_ACTION).")
        parser.add_argument("--actions", default=None, help="Comma-separated action names (default: all).")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **opts):
        datasets = [dataset_get(name=n) for n in opts["dataset"]]
        actions = [a.strip() for a in opts["actions"].split(",") if a.strip()] if opts["actions"] else None
        for dataset in datasets:
            with self.progress_bar(desc=f"frames of {dataset.name}", unit="frame") as update:
                report = regions_select_frames(dataset=dataset, per_action=opts["per_action"], actions=actions,
                                               seed=opts["seed"], progress=update)
            self.stdout.write(
                f"{dataset.name}: {report.selected} frame-actions selected, {report.frames_extracted} frames "
                f"extracted ({report.frames_reused} reused), {len(report.failed)} failed")
            for failure in report.failed:
                self.stderr.write(f"  {failure['video']}: {failure['reason']}")
