from backend.candidates.models import Source
from backend.candidates.policy import RoundPolicy
from backend.candidates.selectors import harvest_by_source
from backend.candidates.services import candidate_round_run
from backend.common.commands import PlatformCommand
from backend.videos.selectors import dataset_get


class Command(PlatformCommand):
    help = "Run the next candidate round of a dataset (or finish one a crash left open) and print its figures."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--sources", nargs="+", choices=Source.values, help="default: all")
        parser.add_argument("--threshold", type=float, help="harvest rate below which relations and sources stop")
        parser.add_argument("--pilot-size", type=int)
        parser.add_argument("--cap", type=int, help="new questions per video per round")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        dataset = dataset_get(name=opts["dataset"])
        overrides = {name: opts[option] for name, option in (
            ("harvest_threshold", "threshold"), ("pilot_size", "pilot_size"), ("per_video_cap", "cap"),
        ) if opts[option] is not None}
        policy = RoundPolicy.from_settings(**overrides)
        with self.progress_bar(desc="candidate round", unit="step", disable=opts["no_progress"]) as update:
            finished = candidate_round_run(dataset=dataset, sources=opts["sources"], policy=policy, progress=update)
        self.stdout.write(f"Round {finished.number} of {dataset.name}: {finished.proposed} candidates proposed "
                          f"({finished.stats['judged']['rolled_out']} relations rolled out, "
                          f"{finished.stats['judged']['stopped']} stopped).")
        harvest = harvest_by_source(dataset=dataset)
        for source, figures in finished.stats["sources"].items():
            state = figures["status"] + (f" ({figures['stop_reason']})" if figures["stop_reason"] else "")
            distance = f", distance {figures['distance']}" if figures["distance"] else ""
            rate = harvest[source]["rate"]
            self.stdout.write(
                f"  {source:<9} {state}{distance}: {figures['pilot']} pilot + {figures['rollout']} roll-out; "
                f"harvest so far {'-' if rate is None else f'{rate:.0%}'} "
                f"({harvest[source]['yes']}/{harvest[source]['decided']} decided)"
            )
