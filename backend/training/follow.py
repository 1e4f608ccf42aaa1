"""A training or prediction process, followed through the files it rewrites as it goes.

The process (``python -m ml.train``, ``python -m ml.predict``) runs in a session of its own with its
output in a log file. Every ``poll`` seconds the files it is known to rewrite (``progress.json``,
``metrics.json``, the predictions being written) are looked at: when one changed, ``on_progress`` is
called (the run's heartbeat and live metrics); when none changed for ``silence`` seconds the process
and its children (the data loader's workers) are stopped. A run is stopped for silence, never for
its total time.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Followed", "process_follow"]

GRACE_SECONDS = 10


@dataclass(frozen=True)
class Followed:
    """How a followed process ended: ``returncode`` is ``None`` when it was stopped for silence."""

    returncode: int | None
    log_tail: str

    @property
    def silent(self) -> bool:
        return self.returncode is None


def _stamp(paths: Sequence[Path]) -> tuple:
    seen = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            seen.append(None)
        else:
            seen.append((stat.st_mtime_ns, stat.st_size))
    return tuple(seen)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL after a grace period."""
    for sig, wait in ((signal.SIGTERM, GRACE_SECONDS), (signal.SIGKILL, GRACE_SECONDS)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, n: int = 800) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - 4 * n))
            return f.read().decode(errors="replace")[-n:].strip()
    except OSError:
        return ""


def process_follow(argv: Sequence[str], *, watch: Sequence[Path], silence: float, on_progress: Callable[[], None],
                   log: Path, poll: float = 5.0, cwd: Path | str | None = None,
                   env: dict | None = None) -> Followed:
    """Run ``argv`` to its end, or until none of ``watch`` has changed for ``silence`` seconds."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        process = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                   start_new_session=True)
    seen, moved = _stamp(watch), time.monotonic()
    try:
        while True:
            try:
                code = process.wait(timeout=poll)
                break
            except subprocess.TimeoutExpired:
                pass
            now = _stamp(watch)
            if now != seen:
                seen, moved = now, time.monotonic()
                on_progress()
            elif time.monotonic() - moved > silence:
                _stop(process)
                return Followed(None, _tail(log))
    except BaseException:  # a time limit or a worker shutting down: never leave the process behind
        _stop(process)
        raise
    if _stamp(watch) != seen:
        on_progress()
    return Followed(code, _tail(log))
