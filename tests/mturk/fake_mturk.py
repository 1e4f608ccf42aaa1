"""A local stand-in for MTurk's worker site, for the browser test.

It serves a HIT page that frames the set page the way MTurk does (preview first, then the same
frame reloaded with the assignment after "Accept") and records what the frame posts to
``/mturk/externalSubmit``. It runs on its own origin, so the frame is cross-origin as on MTurk.
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

HIT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fake MTurk HIT</title></head>
<body>
  <h1 id="mturk-header">HIT preview</h1>
  <button id="accept" type="button">Accept</button>
  <iframe id="hit-frame" title="HIT" width="1240" height="640"></iframe>
  <script>
    const p = new URLSearchParams(location.search);
    function frameUrl(accepted) {
      const u = new URL(p.get('set'));
      u.searchParams.set('assignmentId', accepted ? p.get('assignmentId') : 'ASSIGNMENT_ID_NOT_AVAILABLE');
      u.searchParams.set('hitId', p.get('hitId'));
      if (accepted) u.searchParams.set('workerId', p.get('workerId'));
      u.searchParams.set('turkSubmitTo', location.origin);
      return u.toString();
    }
    const frame = document.getElementById('hit-frame');
    frame.src = frameUrl(false);
    document.getElementById('accept').addEventListener('click', () => {
      document.getElementById('mturk-header').textContent = 'HIT accepted';
      frame.src = frameUrl(true);
    });
  </script>
</body></html>"""
SUBMITTED_PAGE = '<!doctype html><html><body><p id="submitted">HIT submitted to Mechanical Turk</p></body></html>'


class FakeMTurk:
    def __init__(self) -> None:
        self.submissions: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _send(self, body: str, status: int = 200) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(HIT_PAGE if self.path.startswith("/hit?") else "not found", 200 if
                           self.path.startswith("/hit?") else 404)

            def do_POST(self) -> None:
                if self.path != "/mturk/externalSubmit":
                    self._send("not found", 404)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                fake.submissions.append({k: v[0] for k, v in form.items()})
                self._send(SUBMITTED_PAGE)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeMTurk:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def hit_url(self, *, set_url: str, hit_id: str, assignment_id: str, worker_id: str) -> str:
        return f"{self.origin}/hit?" + urlencode({"set": set_url, "hitId": hit_id, "assignmentId": assignment_id,
                                                 "workerId": worker_id})
