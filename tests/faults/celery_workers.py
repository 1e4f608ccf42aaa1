"""Real Celery workers on a private Redis, for tests that kill one mid-task and start another."""
from __future__ import annotations

import os
import signal
import subprocess

from kombu import Connection

from backend.common.models import Job
from tests.helpers import BIN, REPO, database_url_of_test_db
from workers.celery import app

# Unacknowledged messages return to the queue after this many seconds: a killed worker's task
# is redelivered to the next worker within the test's patience, not after the default 7 hours.
VISIBILITY_TIMEOUT = 2


def celery_worker_start(redis, tmp_path, name: str, extra: dict[str, str] | None = None) -> subprocess.Popen:
    """A one-process worker on the test database and ``redis``; its log is ``tmp_path/<name>.log``."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update({"REDIS_URL": redis.url, "DATABASE_URL": database_url_of_test_db(),
                "MMIT_BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
                "MMIT_MEDIA_ROOT": str(tmp_path / "media"), "MMIT_VAR_DIR": str(tmp_path / "var"),
                "DJANGO_SETTINGS_MODULE": "backend.config.settings", "PYTHONUNBUFFERED": "1", **(extra or {})})
    return subprocess.Popen(
        [str(BIN / "celery"), "-A", "workers", "worker", "-Q", "default", "--concurrency", "1", "--loglevel", "INFO",
         "-n", f"{name}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=REPO, env=env, stdout=open(tmp_path / f"{name}.log", "wb"), stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so SIGKILL reaches the pool child too
    )


def celery_worker_kill(proc: subprocess.Popen) -> None:
    """SIGKILL the worker and its pool child: no shutdown, no acknowledgement, no rollback hook."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def task_send(redis, name: str, args: list) -> None:
    with Connection(redis.url, transport_options={"visibility_timeout": VISIBILITY_TIMEOUT}) as conn:
        app.send_task(name, args=args, queue="default", connection=conn)


def job_finished(job: Job) -> bool:
    job.refresh_from_db()
    return job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED)


def celery_worker_log(tmp_path, name: str, tail: int = 3000) -> str:
    """The end of a worker's log, for assertion messages."""
    path = tmp_path / f"{name}.log"
    return path.read_text(errors="replace")[-tail:] if path.exists() else ""
