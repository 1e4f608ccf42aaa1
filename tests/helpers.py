"""Helpers for tests that start real processes (Celery workers, the demo server)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
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


def celery_worker_spawn(env_extra: dict, *, queues: str = "default", log: Path) -> subprocess.Popen:
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


PG_BIN = Path("/usr/lib/postgresql") / (sorted(os.listdir("/usr/lib/postgresql"))[-1] if os.path.isdir(
    "/usr/lib/postgresql") else "15") / "bin"


def as_postgres(args: list[str], **kw):
    # initdb and the server refuse to run as root; the Debian package provides the postgres user
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, check=True, capture_output=True, text=True, **kw)


class PrivatePostgres:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/mmit"

    def ctl(self, *args: str) -> None:
        as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args])

    @property
    def options(self) -> list[str]:
        # -l: the server's output goes to a file, not to the pipes this process waits on
        return ["-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
                "-l", str(self.root / "pg.log")]

    def start(self) -> None:
        self.ctl(*self.options, "start")

    def restart(self) -> None:
        self.ctl("-m", "fast", *self.options, "restart")


@contextmanager
def private_postgres_server():
    """A PostgreSQL server of this test's own (initdb in a temporary folder, a free port, no
    fsync), with an empty database ``mmit``; stopped and removed on the way out."""
    if not (PG_BIN / "initdb").exists():
        raise AssertionError(f"PostgreSQL server binaries not found in {PG_BIN} (Debian package postgresql).")
    # pytest's own temporary folders are private to root; the server runs as `postgres`
    root = Path(tempfile.mkdtemp(prefix="mmit-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    pg = PrivatePostgres(root)
    try:
        as_postgres([str(PG_BIN / "initdb"), "-D", str(pg.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        pg.start()
        subprocess.run(["createdb", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "mmit"], check=True)
        yield pg
    finally:
        try:
            pg.ctl("-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(root, ignore_errors=True)
