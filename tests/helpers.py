"""Helpers for tests that start real processes (Celery workers, the demo server)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def database_url_of_test_db() -> str:
    """A DATABASE_URL for the database this test process is using (the test database)."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def redis_db_url(url: str, db: int) -> str:
    """``url`` (a Redis URL, with or without a database number) pointing at database ``db``."""
    return url.rsplit("/", 1)[0] + f"/{db}" if url.count("/") >= 3 else f"{url}/{db}"


def broker_for_test(tmp: Path) -> tuple[str, dict, dict]:
    """(broker url, kombu transport options, worker env) isolated from any other broker user.

    With Redis, database 15 is used so a developer's running demo never sees test messages.
    Without Redis, a filesystem broker under `tmp`.
    """
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        url = redis_db_url(redis_url, 15)
        return url, {}, {"REDIS_URL": url}
    folder = tmp / "broker" / "queue"
    folder.mkdir(parents=True, exist_ok=True)
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder),
               "processed_folder": str(tmp / "broker" / "processed"),
               "control_folder": str(tmp / "broker" / "control"), "store_processed": False}
    return "filesystem://", options, {"MMIT_VAR_DIR": str(tmp)}


def start_worker(env_extra: dict, *, queues: str = "default", log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update({"DJANGO_SETTINGS_MODULE": "backend.config.settings", "PYTHONUNBUFFERED": "1"}, **env_extra)
    return subprocess.Popen(
        [str(BIN / "celery"), "-A", "workers", "worker", "-Q", queues, "--concurrency", "1", "--pool", "prefork",
         "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=REPO, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, *, timeout: float, interval: float = 0.25, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
