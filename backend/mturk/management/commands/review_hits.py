import json

from backend.common.commands import PlatformCommand
from backend.mturk import gateway as mturk_gateway
from backend.mturk.services.review import review_run


class Command(PlatformCommand):
    help = "Run the MTurk review loop once (what the beat schedule runs): approve, reject, block, pay, expire."

    def handle(self, *args, **opts):
        sandbox = mturk_gateway.configured_sandbox()
        report = review_run(gateway=mturk_gateway.gateway_for(sandbox=sandbox))
        self.stdout.write(json.dumps(report.as_dict(), indent=2))
