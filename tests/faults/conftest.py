"""Private PostgreSQL and Redis servers that a test may restart without disturbing anything else."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import free_port, private_postgres_server, wait_for


@pytest.fixture
def private_postgres():
    with private_postgres_server() as pg:
        yield pg


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
