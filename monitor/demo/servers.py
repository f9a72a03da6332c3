"""The demo's two local servers: the companies' pages, and a JSON webhook that receives alerts.

Both listen on 127.0.0.1 on a free port, in daemon threads of this process: the demo needs no
network, and nothing outlives it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from types import TracebackType
from typing import Any, Self

from monitor.demo.timeline import Response

_UNAVAILABLE = b"<!doctype html><title>503 Service Unavailable</title><h1>Service Unavailable</h1>"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (the demo's timeout) is part of the story, not an error to print."""


class _Quiet(BaseHTTPRequestHandler):
    server_version = "pledge-monitor-demo"

    def log_message(self, format: str, *args: Any) -> None:
        """The demo prints its own story."""


class LocalServer:
    """A threaded HTTP server on 127.0.0.1; use as a context manager."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-server", daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


class DemoSite(LocalServer):
    """Serves the bundled pages by path, as the timeline says the sites answer today."""

    def __init__(self) -> None:
        super().__init__(_SiteHandler)
        self.responses: dict[str, Response] = {}
        self._pages = resources.files("monitor.demo") / "pages"

    def update(self, changes: Mapping[str, Response]) -> None:
        self.responses = {**self.responses, **changes}

    def body(self, name: str) -> bytes:
        return (self._pages / name).read_bytes()

    def url(self, path: str) -> str:
        return self.base + path


class _SiteHandler(_Quiet):
    def do_GET(self) -> None:
        site: DemoSite = self.server.owner  # type: ignore[attr-defined]
        response = site.responses.get(self.path.split("?", 1)[0])
        if response is None:
            self._send(404, b"<!doctype html><title>Not found</title><h1>Not found</h1>")
        elif response.location is not None:
            self.send_response(response.status)
            self.send_header("Location", site.url(response.location))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif response.page is None:
            self._send(response.status, _UNAVAILABLE)
        else:
            time.sleep(response.stall)
            self._send(response.status, site.body(response.page))

    def _send(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client timed out and left
            pass


class WebhookReceiver(LocalServer):
    """Keeps every JSON document POSTed to it, as a team's chat bot or ticket system would."""

    def __init__(self) -> None:
        super().__init__(_HookHandler)
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def path(self) -> str:
        return "/alerts"

    def apprise_url(self) -> str:
        return "json://" + self.base.removeprefix("http://") + self.path

    def count(self) -> int:
        with self.lock:
            return len(self.received)


class _HookHandler(_Quiet):
    def do_POST(self) -> None:
        hook: WebhookReceiver = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        try:
            document = json.loads(self.rfile.read(length))
        except ValueError:
            self.send_response(400)
            self.end_headers()
            return
        with hook.lock:
            hook.received.append(document)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
