"""A real ``serve`` app on 127.0.0.1 (uvicorn in a thread), for the dashboard and API tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import uvicorn

from monitor.store.repo import Store
from monitor.web.app import Web, create_app
from tests.receivers import free_port


@contextmanager
def serving(
    store: Store, *, actions: bool = False, routes: Sequence[str] = (), root_path: str = ""
) -> Iterator[str]:
    """Serve the dashboard over ``store`` and yield its URL.

    With ``root_path`` the app sits behind a proxy that strips that prefix (nginx's
    ``location /pledges/ { proxy_pass http://app:8080/; }``): requests come without it, links carry it.
    """
    app = create_app(Web(store, actions_enabled=actions, routes=routes))
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", root_path=root_path, proxy_headers=True
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the dashboard did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
