"""An HTTP client that does what the annotator page does, and an in-process server for it."""
from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass

import urllib3
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler


@dataclass
class HttpResult:
    status: int
    data: dict | None
    body: bytes


class ApiClient:
    """One annotator's view of the API: their signed-link token on every request."""

    def __init__(self, *, base_url: str, token: str, pool: urllib3.PoolManager) -> None:
        self.base = base_url.rstrip("/")
        self.headers = {"X-Worker-Token": token, "Accept": "application/json"}
        self.pool = pool

    def _request(self, method: str, path: str, body: dict | None = None) -> HttpResult:
        headers = dict(self.headers)
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        url = path if path.startswith("http") else f"{self.base}{path}"
        r = self.pool.request(method, url, body=data, headers=headers, redirect=True, retries=urllib3.Retry(
            total=5, connect=5, read=2, backoff_factor=0.2, status_forcelist=(502, 503, 504),
            allowed_methods=None))
        parsed = None
        if r.headers.get("Content-Type", "").startswith("application/json"):
            try:
                parsed = json.loads(r.data or b"{}")
            except ValueError:
                parsed = None
        return HttpResult(r.status, parsed, r.data)

    def assign(self, dataset: str, prompt: str | None = None) -> HttpResult:
        suffix = f"?prompt={prompt}" if prompt else ""
        return self._request("POST", f"/api/work/{dataset}/sets/{suffix}")

    def media(self, url: str) -> bytes:
        return self._request("GET", url).body

    def submit(self, set_id: str, answers: dict[str, bool], durations: dict[str, int]) -> HttpResult:
        body = {"submission_id": str(uuid.uuid4()),
                "answers": [{"item": k, "answer": v, "ms": durations.get(k)} for k, v in answers.items()]}
        return self._request("POST", f"/api/work/sets/{set_id}/submit/", body)


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):  # the simulator prints its own report
        pass


class LocalServer:
    """The platform's WSGI app on a free loopback port, in this process, for the simulator."""

    def __init__(self) -> None:
        self.httpd = ThreadedWSGIServer(("127.0.0.1", 0), _Quiet, allow_reuse_address=False)
        self.httpd.set_app(WSGIHandler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "LocalServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
