import json
import logging
from pathlib import Path

from backend.common.commands import PlatformCommand
from backend.regions.services.export import regions_export
from backend.simulation.campaign import Campaign
from backend.simulation.client import LocalServer
from backend.simulation.population import load_groups
from backend.simulation.regions import RegionsCampaign, format_report, load_box_noise, load_boxes
from backend.simulation.truth import load_truth
from backend.videos.selectors import dataset_get


class Command(PlatformCommand):
    help = (
        "Run the whole Action Regions pipeline with simulated workers acting through the real HTTP API: "
        "frame selection, visibility rounds, drawing with hidden gold, consensus, crop verification; then "
        "optionally export the Broden directory, the COCO file and the statistics."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--truth", required=True, type=Path, help="CSV with video,actions (';'-separated).")
        parser.add_argument("--boxes", required=True, type=Path,
                            help="boxes.json: {video: {action: [[x0,y0,x1,y1]]}} (centre-frame boxes).")
        parser.add_argument("--workers", required=True, type=Path,
                            help="JSON list of worker groups (an optional box_noise per group).")
        parser.add_argument("--report", required=True, type=Path)
        parser.add_argument("--export", type=Path, default=None, help="Export directory (Broden, COCO, stats).")
        parser.add_argument("--per-action", type=int, default=None, help="Frames per action (default K = 500).")
        parser.add_argument("--label-rounds", type=int, default=0,
                            help="First verify labels with this many rounds of the Yes/No simulator.")
        parser.add_argument("--gold-per-action", type=int, default=6)
        parser.add_argument("--concurrency", type=int, default=4)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--base-url", default=None, help="Use a running server instead of an in-process one.")

    def handle(self, *args, **opts):
        logging.getLogger("django.request").setLevel(logging.ERROR)  # refusals are part of the simulation
        dataset = dataset_get(name=opts["dataset"])
        truth = load_truth(opts["truth"])
        boxes = load_boxes(opts["boxes"])
        groups = load_groups(opts["workers"])
        server = None if opts["base_url"] else LocalServer()
        try:
            base_url = opts["base_url"] or server.__enter__().url
            labels = None
            if opts["label_rounds"] > 0:
                self.stdout.write(f"Verifying labels ({opts['label_rounds']} rounds) ...")
                labels = Campaign(dataset=dataset, truth=truth, groups=groups, seed=opts["seed"],
                                  concurrency=opts["concurrency"], base_url=base_url,
                                  log=self.stdout.write).run(opts["label_rounds"]).total
            campaign = RegionsCampaign(
                dataset=dataset, truth=truth, boxes=boxes, groups=groups, box_noise=load_box_noise(opts["workers"]),
                seed=opts["seed"], concurrency=opts["concurrency"], base_url=base_url, per_action=opts["per_action"],
                gold_per_action=opts["gold_per_action"], log=self.stdout.write)
            report = campaign.run()
        finally:
            if server is not None:
                server.__exit__(None, None, None)
        report = {"dataset": dataset.name, "seed": opts["seed"], "workers": [g.__dict__ for g in groups],
                  "labels": labels, **report}
        if opts["export"]:
            report["export"] = regions_export(datasets=[dataset], out_dir=opts["export"])["export"]
        opts["report"].parent.mkdir(parents=True, exist_ok=True)
        opts["report"].write_text(json.dumps(report, indent=2, default=str))
        self.stdout.write(format_report(report))
        self.stdout.write(f"Report written to {opts['report']}")
