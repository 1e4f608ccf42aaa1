"""The load script (bench/load_annotators.py) in its short form: 20 simulated annotators for 15 s
through gunicorn, on the database server the suite runs on (PostgreSQL in CI, a temporary SQLite
file otherwise), and everything the annotators were told reconciled with the rows. The full form
and its last figures are in README (Reliability and security)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.helpers import REPO

pytestmark = pytest.mark.slow


def _server() -> str:
    """The server of the suite's own database: the script creates (and drops) its own on it."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return "sqlite"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"


def test_short_load_reconciles(tmp_path):
    out = tmp_path / "load.json"
    cmd = [sys.executable, "bench/load_annotators.py", "--annotators", "20", "--seconds", "15",
           "--server", _server(), "--redis", os.environ.get("REDIS_URL") or "none", "--baseline", "0",
           "--json", str(out)]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-6000:]
    summary = json.loads(out.read_text())

    failed = {k: c["detail"] for k, c in summary["reconciliation"]["checks"].items() if not c["ok"]}
    assert summary["reconciliation"]["ok"] and not failed, failed
    assert len(summary["reconciliation"]["checks"]) >= 10
    # work was done through every endpoint, and no request failed on the server (a 503 is the
    # designed, retried answer to a database hiccup; the reconciliation covers what it retried)
    assert summary["requests_per_s"] > 0
    assert summary["sets_accepted"] > 0 and summary["answers_stored"] > 0
    for name, endpoint in summary["endpoints"].items():
        assert endpoint["requests"] > 0, name
        assert not [c for c in endpoint["statuses"] if c.startswith("5") and c != "503"], (name, endpoint["statuses"])
    assert summary["events"].get("submissions accepted", 0) == summary["sets_accepted"]
