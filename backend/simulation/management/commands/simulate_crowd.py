import json
import logging
from pathlib import Path

from backend.common.commands import PlatformCommand
from backend.common.errors import DomainError
from backend.simulation.campaign import Campaign
from backend.simulation.client import LocalServer
from backend.simulation.clone import dataset_clone_initial
from backend.simulation.population import load_groups
from backend.simulation.report import MTURK_FEE, format_table, simulation_record
from backend.simulation.truth import load_truth
from backend.videos.selectors import dataset_get

STRATEGIES = {
    "majority": {"aggregator": "majority", "adaptive": False},
    "adaptive": {"aggregator": "dawid_skene", "adaptive": True},
    "dawid_skene": {"aggregator": "dawid_skene", "adaptive": False},
}
UNKNOWN_STRATEGY = "Unknown strategy {name!r}; choose from {choices}."
LEXICAL = ["wordnet", "word2vec"]  # the paper's first two approaches: no model source
BOTH_COMPARISONS = "--compare-retrain and --strategies each compare two runs; use one of them."


class Command(PlatformCommand):
    help = (
        "Run simulated annotators through the real HTTP API for whole rounds of the annotation loop, "
        "and report answers, refusals, blocks, verified labels, precision/recall against the truth, "
        "harvest per candidate source and cost."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--truth", required=True, type=Path, help="CSV with video,actions (';'-separated).")
        parser.add_argument("--workers", required=True, type=Path, help="JSON list of worker groups.")
        parser.add_argument("--report", required=True, type=Path)
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--concurrency", type=int, default=4)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--reward", type=float, default=0.10, help="Reward per accepted set (USD).")
        parser.add_argument("--fee", type=float, default=MTURK_FEE, help="Crowd platform fee on rewards.")
        parser.add_argument("--gold-per-action", type=int, default=8)
        parser.add_argument("--sources", default=None, help="Candidate sources, comma-separated (default: all).")
        parser.add_argument(
            "--strategies", default=None,
            help="Comma-separated strategies to compare on fresh copies of the dataset "
                 f"({', '.join(STRATEGIES)}); default: run on the dataset itself with its own settings.",
        )
        parser.add_argument("--base-url", default=None, help="Use a running server instead of an in-process one.")
        parser.add_argument(
            "--retrain", action="store_true",
            help="After every round, export a release, train a small model on it (python -m ml.train in a "
                 "subprocess), ingest its predictions so the model source proposes, and score it on held-out "
                 "videos against the truth.")
        parser.add_argument("--train-config", type=Path, default=None,
                            help="JSON or YAML file of ml.train options for --retrain (default: a tiny CPU model).")
        parser.add_argument(
            "--compare-retrain", action="store_true",
            help="Run the same seed twice on fresh copies of the dataset, with retraining and without "
                 "(lexical sources only), and report both.")

    def handle(self, *args, **opts):
        # refused and blocked workers are part of the simulation, not server errors worth a log line
        logging.getLogger("django.request").setLevel(logging.ERROR)
        dataset = dataset_get(name=opts["dataset"])
        truth = load_truth(opts["truth"])
        groups = load_groups(opts["workers"])
        sources = [s.strip() for s in opts["sources"].split(",")] if opts["sources"] else None
        targets = {}
        retrain_config = None
        retrained: set[str] = set()
        if opts["retrain"] or opts["compare_retrain"]:
            from backend.simulation.retrain import config_load

            retrain_config = config_load(opts["train_config"])
        if opts["compare_retrain"] and opts["strategies"]:
            raise DomainError(BOTH_COMPARISONS)
        if opts["compare_retrain"]:
            for name in ("retrain", "lexical"):
                targets[name] = dataset_clone_initial(source=dataset, name=f"{dataset.name}--{name}")
            retrained = {"retrain"}
        elif opts["strategies"]:
            for name in [s.strip() for s in opts["strategies"].split(",") if s.strip()]:
                if name not in STRATEGIES:
                    raise DomainError(UNKNOWN_STRATEGY.format(name=name, choices=", ".join(STRATEGIES)))
                targets[name] = dataset_clone_initial(source=dataset, name=f"{dataset.name}--{name}",
                                                      **STRATEGIES[name])
        else:
            targets[dataset.aggregator + ("+adaptive" if dataset.adaptive else "")] = dataset
        if opts["retrain"] and not opts["compare_retrain"]:
            retrained = set(targets)

        report = {"seed": opts["seed"], "rounds": opts["rounds"], "workers": [g.__dict__ for g in groups], "runs": {}}
        if retrain_config is not None:
            report["train_config"] = retrain_config
        server = None if opts["base_url"] else LocalServer()
        try:
            base_url = opts["base_url"] or server.__enter__().url
            for name, target in targets.items():
                self.stdout.write(f"Simulating {name} on {target.name} ...")
                campaign = Campaign(dataset=target, truth=truth, groups=groups, seed=opts["seed"],
                                    concurrency=opts["concurrency"], base_url=base_url,
                                    gold_per_action=opts["gold_per_action"], reward=opts["reward"], fee=opts["fee"],
                                    candidate_sources=(LEXICAL if opts["compare_retrain"] and name == "lexical"
                                                       else sources),
                                    log=self.stdout.write,
                                    retrain_config=retrain_config if name in retrained else None)
                result = campaign.run(opts["rounds"])
                report["runs"][name] = {"dataset": target.name, "rounds": result.rounds, "total": result.total}
                simulation_record(dataset_name=target.name, total=result.total, report_path=str(opts["report"]))
        finally:
            if server is not None:
                server.__exit__(None, None, None)
        if len(report["runs"]) == 2:
            (a_name, a), (b_name, b) = report["runs"].items()
            report["comparison"] = {
                "baseline": a_name, "challenger": b_name,
                "answer_ratio": (b["total"]["answers"] / a["total"]["answers"]) if a["total"]["answers"] else None,
                "precision": [a["total"]["precision"], b["total"]["precision"]],
                "recall_asked": [a["total"]["recall_asked"], b["total"]["recall_asked"]],
            }
        opts["report"].parent.mkdir(parents=True, exist_ok=True)
        opts["report"].write_text(json.dumps(report, indent=2, default=str))
        self.stdout.write(format_table(report))
        self.stdout.write(f"Report written to {opts['report']}")
