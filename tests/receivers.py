"""Real local receivers for alert tests: an SMTP server and a switchable HTTP endpoint."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Mailbox:
    """The aiosmtpd handler: keeps every message it accepts, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.arrived: list[float] = []  # time.monotonic() of each message, in order
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
            self.arrived.append(time.monotonic())
        return "250 Message accepted"


@contextmanager
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    """An SMTP server on 127.0.0.1 (no TLS, no AUTH): yields its port and mailbox."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()


def threaded_server() -> HTTPServer:
    """A started HTTP server on 127.0.0.1 that answers requests concurrently; stop() it after."""
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    return server


class Endpoint:
    """An HTTP endpoint that records JSON posts and can be taken down (500) and back up."""

    def __init__(self, server: HTTPServer, path: str) -> None:
        self.server = server
        self.path = path
        self.up = True
        self.accepted: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.refused = 0
        server.expect_request(path, method="POST").respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.server.port}{self.path}"

    def _handle(self, request: Request) -> Response:
        if not self.up:
            self.refused += 1
            return Response("down for maintenance", status=500)
        self.accepted.append(json.loads(request.get_data()))
        self.headers.append(dict(request.headers))
        return Response("ok", status=200)
