from decimal import Decimal, InvalidOperation

from django.core.management.base import CommandError
from django.db import transaction

from backend.annotation.models import Prompt
from backend.common.commands import PlatformCommand
from backend.common.jobs import job_finish, job_start
from backend.mturk import gateway as mturk_gateway
from backend.mturk.fees import money
from backend.mturk.models import Batch
from backend.mturk.services.publish import batch_create, batch_publish, batch_publish_start
from backend.videos.selectors import dataset_get

BAD_MONEY = "{name} must be a dollar amount such as 0.50, not {value!r}."


def _money(name: str, value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise CommandError(BAD_MONEY.format(name=name, value=value)) from exc


class Command(PlatformCommand):
    help = (
        "Publish a batch of HITs for a dataset's open Yes/No questions (or, with --kind drawing, its frames "
        "waiting for regions) on MTurk (the sandbox or production endpoint chosen by MMIT_MTURK_SANDBOX), "
        "never spending beyond --budget (reward plus MTurk's fee)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--kind", default=Batch.Kind.YESNO, choices=Batch.Kind.values,
                            help="What the HITs ask: yesno questions or drawing regions (default: %(default)s).")
        parser.add_argument("--prompt", default=Prompt.SEEN_OR_HEARD, choices=Prompt.values,
                            help="The question of Yes/No HITs (default: %(default)s).")
        parser.add_argument("--reward", required=True, help="Reward per assignment (one set), USD, e.g. 0.40.")
        parser.add_argument("--budget", required=True, help="Most this batch may spend, fees included, USD.")
        parser.add_argument("--assignments", type=int, default=3, help="Workers per HIT (MaxAssignments).")
        parser.add_argument("--hits", type=int, default=None, help="Default: enough for the answers missing.")
        parser.add_argument("--title", default="")
        parser.add_argument("--description", default="")
        parser.add_argument("--keywords", default="")
        parser.add_argument("--lifetime-hours", type=int, default=None)
        parser.add_argument("--enqueue", action="store_true", help="Publish in a Celery worker instead of here.")

    def handle(self, *args, **opts):
        dataset = dataset_get(name=opts["dataset"])
        sandbox = mturk_gateway.configured_sandbox()
        with transaction.atomic():
            batch = batch_create(
                dataset=dataset, kind=opts["kind"], prompt=opts["prompt"], reward=_money("--reward", opts["reward"]),
                budget=_money("--budget", opts["budget"]), assignments_per_hit=opts["assignments"],
                hits=opts["hits"], title=opts["title"], description=opts["description"], keywords=opts["keywords"],
                lifetime_seconds=opts["lifetime_hours"] * 3600 if opts["lifetime_hours"] else None, sandbox=sandbox,
            )
            if opts["enqueue"]:
                batch_publish_start(batch=batch)
        where = "sandbox" if sandbox else "PRODUCTION"
        if opts["enqueue"]:
            self.stdout.write(f"Batch {batch.public_id} queued for the {where} (job {batch.job_id}).")
            return
        job_start(job_id=batch.job_id)
        with self.progress_bar(desc="HITs", unit="HIT", disable=opts["verbosity"] < 1) as update:
            try:
                report = batch_publish(batch_id=batch.pk, gateway=mturk_gateway.gateway_for(sandbox=sandbox),
                                       progress=update)
            except Exception as exc:
                job_finish(job_id=batch.job_id, error=str(getattr(exc, "message", exc)))
                raise
        job_finish(job_id=batch.job_id, result=report.as_dict())
        self.stdout.write(
            f"Batch {batch.public_id} on the {where}: {report.created} HIT(s) created, {report.existing} already "
            f"there; committed ${money(report.committed)} of ${money(batch.budget)}."
            + (f" {report.message}" if report.message else "")
        )
