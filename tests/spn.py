"""A stand-in for the Internet Archive's Save Page Now 2 on 127.0.0.1, speaking its API.

``POST /save`` (form ``url=...``) answers ``{"url", "job_id"}``; ``GET /save/status/JOB`` answers
``pending`` ``pending_polls`` times, then ``success`` with a ``timestamp`` and ``original_url``.
Every request must carry ``Authorization: LOW access:secret`` (401 otherwise). Switches: ``busy``
answers the next N submissions with 429, ``fail_jobs`` makes the next N jobs end in ``error``,
``blocked`` makes jobs end in ``error:blocked-url``, ``stop()``/``start()`` takes the server down
(nothing listens on its port) and back, and ``hold_submit``/``hold_status`` keep a request
waiting (to kill the client meanwhile) until ``release()``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCESS, SECRET = "test-access-key", "test-secret-123"
TIMESTAMP = "20260301120000"


@dataclass
class Spn:
    port: int = 0
    pending_polls: int = 1
    busy: int = 0
    fail_jobs: int = 0
    blocked: bool = False
    hold_submit: bool = False
    hold_status: bool = False
    submissions: list[dict[str, str]] = field(default_factory=list)
    polls: list[str] = field(default_factory=list)
    unauthorized: int = 0
    jobs: dict[str, dict[str, object]] = field(default_factory=dict)
    held: threading.Event = field(default_factory=threading.Event)  # a request is waiting
    _release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/save"

    def archive_url(self, url: str) -> str:
        return f"http://127.0.0.1:{self.port}/web/{TIMESTAMP}/{url}"

    def start(self) -> None:
        spn = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                self.answer(*spn.submit(self.path, self.headers.get("Authorization"), body))

            def do_GET(self) -> None:
                self.answer(*spn.status(self.path, self.headers.get("Authorization")))

            def answer(self, status: int, data: object) -> None:
                raw = json.dumps(data).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:  # the client was killed meanwhile
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: nothing listens on the port until ``start()``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def release(self) -> None:
        self.hold_submit = self.hold_status = False
        self._release.set()

    def _wait(self) -> None:
        self.held.set()
        self._release.wait(60)

    def _authorized(self, header: str | None) -> bool:
        if header == f"LOW {ACCESS}:{SECRET}":
            return True
        self.unauthorized += 1
        return False

    def submit(self, path: str, auth: str | None, body: str) -> tuple[int, object]:
        if not self._authorized(auth):
            return 401, {"message": "You need to be logged in to use Save Page Now."}
        if path != "/save":
            return 404, {"message": "not found"}
        form = {k: v[0] for k, v in parse_qs(body).items()}
        with self._lock:
            if self.busy:
                self.busy -= 1
                return 429, {"message": "Too Many Requests"}
            self.submissions.append(form)
            job = f"spn2-{len(self.submissions):040d}"
            failing = self.fail_jobs > 0
            self.fail_jobs -= 1 if failing else 0
            self.jobs[job] = {"url": form.get("url", ""), "polls": 0, "fail": failing}
        if self.hold_submit:
            self._wait()  # SPN took the job; the answer comes too late for a killed client
        return 200, {"url": form.get("url"), "job_id": job}

    def status(self, path: str, auth: str | None) -> tuple[int, object]:
        if not self._authorized(auth):
            return 401, {"message": "You need to be logged in to use Save Page Now."}
        job = path.removeprefix("/save/status/")
        if job not in self.jobs:
            return 404, {"status": "error", "message": "no such job"}
        self.polls.append(job)
        if self.hold_status:
            self._wait()
        info = self.jobs[job]
        with self._lock:
            info["polls"] = int(str(info["polls"])) + 1
            if int(str(info["polls"])) <= self.pending_polls:
                return 200, {"status": "pending", "job_id": job}
        if self.blocked:
            return 200, {
                "status": "error",
                "status_ext": "error:blocked-url",
                "message": "blocked",
                "job_id": job,
            }
        if info["fail"]:
            return 200, {
                "status": "error",
                "status_ext": "error:browsing-timeout",
                "message": "Your capture did not complete in time.",
                "job_id": job,
            }
        return 200, {
            "status": "success",
            "job_id": job,
            "timestamp": TIMESTAMP,
            "original_url": info["url"],
        }


@contextmanager
def running_spn(**options: object) -> Iterator[Spn]:
    spn = Spn(**options)  # type: ignore[arg-type]
    spn.start()
    try:
        yield spn
    finally:
        spn.release()
        spn.stop()
