"""What the HTTP benchmarks share: a scratch database, Django set up on it, gunicorn, percentiles.

Everything runs on the loopback interface: a benchmark never talks to another machine.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
NOT_LOOPBACK = "{what} must be on this machine (127.0.0.1), not {host!r}."


def percentile(values, q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_loopback(url: str, what: str) -> None:
    host = urlsplit(url).hostname or "127.0.0.1"
    if host not in LOOPBACK:
        raise SystemExit(NOT_LOOPBACK.format(what=what, host=host))


def _admin_execute(server: str, sql: str) -> None:
    import psycopg2

    connection = psycopg2.connect(f"{server.rstrip('/')}/postgres")
    connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


@contextmanager
def scratch_database(server: str, name: str):
    """A fresh database, dropped on the way out (also on failure). Yields its DATABASE_URL.

    `server` is `postgres://user@127.0.0.1:5432` (the database is created on it), or `sqlite`
    (a file in a temporary folder)."""
    if server == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        try:
            yield f"sqlite:///{folder / 'db.sqlite3'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    require_loopback(server, "--server")
    _admin_execute(server, f'CREATE DATABASE "{name}"')
    try:
        yield f"{server.rstrip('/')}/{name}"
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        _admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_setup(*, database_url: str, secret: str, extra_env: dict | None = None) -> None:
    """Set up Django in this process on `database_url`, with the server's secret (the tokens
    signed here must verify in gunicorn), and migrate."""
    os.environ.update({"DATABASE_URL": database_url, "DJANGO_SECRET_KEY": secret, **(extra_env or {})})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@dataclass(frozen=True)
class Served:
    url: str
    pid: int  # gunicorn's master process


@contextmanager
def gunicorn(*, env: dict, workers: int, threads: int, log: Path | None = None, timeout: float = 120,
             worker_class: str = "gthread"):
    """gunicorn (`worker_class` workers, gthread by default) on a free loopback port with `env` on
    top of this process's environment; yields it (`Served`) once /api/health/ answers 200."""
    import urllib3

    port = free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "backend.config.wsgi:application", "-b", f"127.0.0.1:{port}",
         "-w", str(workers), "--threads", str(threads), "-k", worker_class, "--log-level", "warning",
         "--timeout", "120"],
        cwd=REPO, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.returncode}" + (f"; see {log}" if log else ""))
            try:
                if urllib3.request("GET", base + "/api/health/", retries=False, timeout=5).status == 200:
                    break
            except urllib3.exceptions.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /api/health/ in time")
            time.sleep(0.2)
        yield Served(base, proc.pid)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log:
            out.close()


def closed_loop(base: str, jobs, seconds: float, clients: int, make_request):
    """`clients` threads send the requests `make_request(job)` builds, one after another, until
    the jobs run out or `seconds` pass. Returns (latencies, [(job, status)], wall seconds)."""
    import urllib3

    pool = urllib3.PoolManager(maxsize=clients * 2)
    latencies, statuses = [], []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    it = iter(jobs)

    def run():
        while time.monotonic() < deadline:
            with lock:
                job = next(it, None)
            if job is None:
                return
            method, path, headers, body = make_request(job)
            t0 = time.perf_counter()
            r = pool.request(method, base + path, headers=headers, body=body, retries=False)
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                statuses.append((job, r.status))

    threads = [threading.Thread(target=run) for _ in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses, time.monotonic() - start


# wrk (C, epoll) as the load generator: on a machine whose cores the server shares with its
# clients, Python client threads cost about a millisecond of CPU per request, which the server
# under test then lacks. Each wrk thread sends the requests of a file, its share in turn.
_WRK_SCRIPT = r"""
local threads, counter = {}, 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local nthreads, n = tonumber(args[2]), 0
  jobs, next_job, ok, failed, exhausted = {}, 1, 0, 0, 0
  for line in io.lines(args[1]) do
    if n % nthreads == tid then
      local method, path, headers_text, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = {}
      for header in headers_text:gmatch("[^\31]+") do
        local name, value = header:match("^([^:]+):(.*)$")
        headers[name] = value
      end
      table.insert(jobs, wrk.format(method, path, headers, body ~= "" and body or nil))
    end
    n = n + 1
  end
end
function request()
  local job = jobs[next_job]
  if job == nil then
    exhausted = exhausted + 1
    return wrk.format("GET", "/__jobs_exhausted__")
  end
  next_job = next_job + 1
  return job
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 else failed = failed + 1 end
end
function done(summary, latency, requests)
  local ok_total, failed_total, exhausted_total = 0, 0, 0
  for _, thread in ipairs(threads) do
    ok_total = ok_total + thread:get("ok")
    failed_total = failed_total + thread:get("failed")
    exhausted_total = exhausted_total + thread:get("exhausted")
  end
  io.write(string.format("WRK %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), ok_total, failed_total, exhausted_total,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50: float  # seconds
    p99: float
    ok: int  # 200 responses
    failed: int  # other statuses
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_closed_loop(base: str, jobs, seconds: float, clients: int, make_request, threads: int = 2,
                    on_start=None) -> WrkResult:
    """As `closed_loop`, with wrk sending the requests: `clients` connections, each sending its
    next request when the previous one is answered. `jobs` must outlast the run (a connection
    that runs out sends a request that fails, and is counted so). `on_start()` is called once the
    requests are written out, right before wrk starts."""
    folder = Path(tempfile.mkdtemp(prefix="mmit-wrk-"))
    try:
        with open(folder / "jobs.tsv", "w") as out:
            for job in jobs:
                method, path, headers, body = make_request(job)
                # method, path, headers ("name:value" joined by \x1f) and body, tab-separated
                fields = [method, path, "\x1f".join(f"{k}:{v}" for k, v in headers.items()), body or ""]
                if any(c in "\t\n" for field in fields for c in field) or any(
                        ":" in k or "\x1f" in k + v for k, v in headers.items()):
                    raise ValueError(f"request not expressible in the job file: {fields[:2]}")
                out.write("\t".join(fields) + "\n")
        (folder / "run.lua").write_text(_WRK_SCRIPT)
        threads = max(1, min(threads, clients))
        if on_start is not None:
            on_start()
        done = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{max(1, round(seconds))}s", "--timeout", "30s",
             "-s", str(folder / "run.lua"), base, "--", str(folder / "jobs.tsv"), str(threads)],
            capture_output=True, text=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    n, micros, p50, p99, ok, failed, exhausted, socket_errors = (int(x) for x in line.split()[1:])
    if exhausted:
        raise RuntimeError(f"wrk ran out of prepared requests ({exhausted} extra); prepare more")
    return WrkResult(n, micros / 1e6, p50 / 1e6, p99 / 1e6, ok, failed, socket_errors)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: str) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


class CpuSplit:
    """CPU seconds spent over a stretch of the run by this process (the clients), by a gunicorn
    (master and workers), by the PostgreSQL backends of one database, and by the whole machine.

    The machine is shared: what the machine spent beyond these three is other people's work, and
    saying so is what makes a figure measured here readable. Processes are sampled every half
    second, so a backend that exits (connections are recycled) loses at most its last half
    second. Linux only (/proc); elsewhere the split is empty.
    """

    def __init__(self, *, server_pid: int, database: str | None) -> None:
        self.server_pid, self.database = server_pid, database
        self.first: dict = {}
        self.seen: dict[int, tuple[str, float]] = {}  # pid -> (part, CPU seconds when last seen)
        self.base: dict[int, float] = {}  # pid -> CPU seconds when the stretch began
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _part(self, pid: int, ppid: int) -> str | None:
        if pid == self.server_pid or ppid == self.server_pid:
            return "server"
        if self.database:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                return None
            if cmd.startswith(b"postgres:") and f" {self.database} ".encode() in cmd:
                return "postgres"
        return None

    def _scan(self) -> None:
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            info = _proc_cpu(name)
            if info is None:
                continue
            pid, (ppid, seconds) = int(name), info
            known = self.seen.get(pid)
            part = known[0] if known else self._part(pid, ppid)
            if part:
                self.seen[pid] = (part, seconds)

    def _machine(self) -> dict:
        cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        mine = os.times()
        # clients: this process, and child processes that ended meanwhile (wrk)
        return {"busy": (sum(cpu[:8]) - cpu[3] - cpu[4]) / _TICK, "all": sum(cpu[:8]) / _TICK,
                "clients": mine.user + mine.system + mine.children_user + mine.children_system}

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._scan()

    def start(self) -> None:
        if not Path("/proc/stat").exists():
            return
        self._scan()
        self.base = {pid: seconds for pid, (_, seconds) in self.seen.items()}
        self.first = self._machine()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> dict:
        """CPU seconds per part, `others` (the rest of the machine) and `cores_busy`."""
        if self._thread is None:
            return {}
        self._stop.set()
        self._thread.join()
        self._scan()
        last = self._machine()
        parts = {"server": 0.0, "postgres": 0.0}
        for pid, (part, seconds) in self.seen.items():
            parts[part] += seconds - self.base.get(pid, 0.0)
        out = {"clients": round(last["clients"] - self.first["clients"], 1),
               "server": round(parts["server"], 1), "postgres": round(parts["postgres"], 1)}
        busy = last["busy"] - self.first["busy"]
        cores = os.cpu_count() or 1
        wall = (last["all"] - self.first["all"]) / cores
        out["others"] = round(max(0.0, busy - sum(out.values())), 1)
        out.update(machine_busy=round(busy, 1), cores=cores, cores_busy=round(busy / wall, 2) if wall else None)
        return out
