"""A small local web site for tests: pages that can be changed between checks, served for real."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


@dataclass
class Page:
    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    etag: bool = False
    location: str | None = None


@dataclass
class Site:
    """Serves ``pages`` by path; counts the requests each path got."""

    server: HTTPServer
    pages: dict[str, Page] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def put(self, path: str, body: str | bytes, **kw: object) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.pages[path] = Page(data, **kw)  # type: ignore[arg-type]

    def handle(self, request: Request) -> Response:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        page = self.pages.get(request.path)
        if page is None:
            return Response("not found", status=404)
        if page.location:
            return Response("", status=page.status, headers={"Location": page.location})
        headers = {}
        if page.etag:
            tag = '"' + hashlib.sha1(page.body).hexdigest() + '"'
            headers["ETag"] = tag
            if request.headers.get("If-None-Match") == tag:
                return Response(status=304, headers=headers)
        return Response(page.body, status=page.status, content_type=page.content_type, headers=headers)


def serve(server: HTTPServer) -> Site:
    import re

    site = Site(server)
    server.expect_request(re.compile(".*")).respond_with_handler(site.handle)
    return site


class Clock:
    """A clock the tests move by hand: checks, sweeps and deliveries read it instead of the time."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def policy_page(
    article: str, *, nav: str = "Home | Policies | Contact", footer: str = "© 2026", banner: str = ""
) -> str:
    """A realistic policy page: the article amid navigation, scripts and a footer."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Our commitments</title>
<script>window.__BUILD__ = "{hashlib.md5(article.encode()).hexdigest()}";</script>
<style>body {{ font-family: sans-serif }}</style></head>
<body>
<nav>{nav}</nav>
{banner}
<article id="policy">
{article}
</article>
<footer>{footer}</footer>
</body></html>"""
