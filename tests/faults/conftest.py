"""Private PostgreSQL and Redis servers that a test may restart without disturbing anything else."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.helpers import free_port, wait_for

PG_BIN = Path("/usr/lib/postgresql") / (sorted(os.listdir("/usr/lib/postgresql"))[-1] if os.path.isdir(
    "/usr/lib/postgresql") else "15") / "bin"


def _as_postgres(args: list[str], **kw):
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
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args])

    @property
    def options(self) -> list[str]:
        # -l: the server's output goes to a file, not to the pipes this process waits on
        return ["-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
                "-l", str(self.root / "pg.log")]

    def start(self) -> None:
        self.ctl(*self.options, "start")

    def restart(self) -> None:
        self.ctl("-m", "fast", *self.options, "restart")


@pytest.fixture
def private_postgres():
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL server binaries not found in {PG_BIN} (Debian package postgresql).")
    # pytest's own temporary folders are private to root; the server runs as `postgres`
    root = Path(tempfile.mkdtemp(prefix="mmit-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    pg = PrivatePostgres(root)
    _as_postgres([str(PG_BIN / "initdb"), "-D", str(pg.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    pg.start()
    subprocess.run(["createdb", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "mmit"], check=True)
    yield pg
    try:
        pg.ctl("-m", "immediate", "stop")
    except subprocess.CalledProcessError:
        pass
    shutil.rmtree(root, ignore_errors=True)


class PrivateRedis:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.root = root
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.root)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        wait_for(lambda: _ping(redis, self.url), timeout=20, message="redis to start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


def _ping(redis, url) -> bool:
    try:
        return redis.Redis.from_url(url, socket_timeout=1).ping()
    except Exception:
        return False


@pytest.fixture
def private_redis(tmp_path_factory):
    r = PrivateRedis(tmp_path_factory.mktemp("redis"))
    r.start()
    yield r
    r.stop()
