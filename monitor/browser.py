"""The browser stage: pages that are shells filled by JavaScript, loaded in headless Chromium.

A ``browser: true`` source is loaded in the system's Chromium through Playwright (the optional
``browser`` extra); nothing is downloaded at run time. The DOM after the page settled is the body:
it is hashed, stored, extracted and diffed like any fetched page. With ``screenshot: true`` a PNG of
the watched part (the ``select``ed element, else the whole page) comes back with it.

Playwright's objects belong to the thread that made them, and a check pool has many threads. So
one thread here owns an asyncio loop, the Playwright driver and one Chromium process; check threads
hand it pages to render and wait, at most the source's timeout and a grace period. At most
``pages`` pages are open at once (the check threads queue for a slot). Each page gets a fresh
browser context: no cookies or storage carry over between checks. Chromium is started on first
use, started again when it crashed or was killed, and replaced after ``recycle_after`` pages, as
long-running browsers grow. A page whose scripts never finish is a failed check (transient) at
its timeout; the worker thread never waits longer than that and the grace period.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import os
import shutil
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from monitor.challenge import looks_like_bot_challenge
from monitor.errors import FetchError
from monitor.fetch import Fetched, Redirect, status_error

if TYPE_CHECKING:
    from playwright.async_api import Browser as PlaywrightBrowser
    from playwright.async_api import Page, Playwright, Response

FLAGS = (
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB: big pages crash the renderer
)
EXECUTABLES = ("chromium", "chromium-browser")
VIEWPORT = {"width": 1280, "height": 900}
LAUNCH_TIMEOUT = 30.0  # seconds to start Chromium
GRACE = 10.0  # seconds past a page's timeout before its worker gives up on the browser thread
BACKSTOP = 2.0  # seconds past a page's timeout before the page's task is cancelled outright
SETTLE = 5.0  # seconds of waiting for the network to go quiet after load (wait_until: load)
RECYCLE_AFTER = 500  # pages per Chromium process
HTML_TYPES = ("text/html", "application/xhtml+xml")

WaitUntil = Literal["load", "networkidle"]


@dataclass(frozen=True)
class RenderRequest:
    """One page to load, how to know it is ready, and what to photograph."""

    url: str
    timeout: float
    headers: Mapping[str, str]
    wait_until: WaitUntil = "load"
    wait_for: str | None = None  # a CSS selector that must appear
    screenshot: bool = False
    select: str | None = None  # the watched part: the screenshot is of this element
    hide: tuple[str, ...] = ()  # the source's remove selectors: left out of the screenshot
    skip_screenshot_for: str | None = None  # the body hash held: an unchanged page needs no picture


def find_chromium() -> str | None:
    """``PLEDGE_MONITOR_CHROMIUM``, else the system's Chromium on PATH."""
    configured = os.environ.get("PLEDGE_MONITOR_CHROMIUM")
    if configured:
        return configured
    return next((path for name in EXECUTABLES if (path := shutil.which(name))), None)


def unavailable() -> str | None:
    """Why no page can be rendered here (no Playwright, no Chromium), or None when one can."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "browser sources need Playwright: pip install 'pledge-monitor[browser]'"
    executable = find_chromium()
    if executable is None or not os.access(executable, os.X_OK):
        return (
            f"no Chromium at {executable}" if executable else "no Chromium found on PATH"
        ) + " (install Debian's chromium package, or set PLEDGE_MONITOR_CHROMIUM)"
    return None


@dataclass
class _Instance:
    """One Chromium process, the pages open in it, and how many it has rendered."""

    browser: PlaywrightBrowser
    open_pages: int = 0
    rendered: int = 0
    retired: bool = False


class Browser:
    """Renders pages in one shared headless Chromium; safe to call from many threads."""

    def __init__(
        self,
        *,
        user_agent: str,
        pages: int = 2,
        max_body: int = 10 * 1024 * 1024,
        executable: str | None = None,
        recycle_after: int = RECYCLE_AFTER,
    ) -> None:
        self.user_agent = user_agent
        self.max_body = max_body
        self.executable = executable
        self.recycle_after = max(1, recycle_after)
        self.launches = 0  # Chromium processes started: the crash and recycle tests read it
        self._slots = threading.BoundedSemaphore(max(1, pages))
        self._start = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # owned by the loop's thread
        self._playwright: Playwright | None = None
        self._current: _Instance | None = None
        self._launching: asyncio.Lock | None = None
        self._closing: set[asyncio.Future[None]] = set()

    # -- the caller's side -------------------------------------------------------------------

    def render(self, request: RenderRequest) -> Fetched:
        """Load the page and return its DOM as the body; raises FetchError on any failure."""
        started = time.perf_counter()
        with self._slots:
            loop = self._running_loop(request.url)
            future = asyncio.run_coroutine_threadsafe(self._render(request, started), loop)
            try:
                return future.result(timeout=request.timeout + LAUNCH_TIMEOUT + GRACE)
            except concurrent.futures.TimeoutError:
                future.cancel()
                raise FetchError(
                    request.url,
                    f"the browser did not finish the page within {request.timeout:g}s",
                    transient=True,
                    kind="timeout",
                ) from None

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=GRACE)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=GRACE)
        self._loop = self._thread = None

    def _running_loop(self, url: str) -> asyncio.AbstractEventLoop:
        with self._start:
            if self._loop is None:
                problem = unavailable() if self.executable is None else None
                if problem:
                    raise FetchError(url, problem, transient=False, kind="browser")
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="browser", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    # -- the browser thread's side -----------------------------------------------------------

    async def _render(self, request: RenderRequest, started: float) -> Fetched:
        """One page; a browser that died under it is started again and the page tried once more."""
        for attempt in (1, 2):
            instance = await self._acquire(request.url)
            try:
                return await self._load(instance, request, started)
            except FetchError:
                if attempt == 2 or instance.browser.is_connected():
                    raise
            finally:
                await self._release(instance)
        raise AssertionError("unreachable")

    async def _acquire(self, url: str) -> _Instance:
        if self._launching is None:
            self._launching = asyncio.Lock()
        async with self._launching:
            current = self._current
            if current is not None and (
                not current.browser.is_connected() or current.rendered >= self.recycle_after
            ):
                current.retired = True
                if current.open_pages == 0:
                    await _close_quietly(current.browser)
                current = self._current = None
            if current is None:
                current = self._current = _Instance(await self._launch(url))
            current.open_pages += 1
            current.rendered += 1
            return current

    async def _release(self, instance: _Instance) -> None:
        instance.open_pages -= 1
        if instance.retired and instance.open_pages == 0:
            await _close_quietly(instance.browser)

    async def _launch(self, url: str) -> PlaywrightBrowser:
        from playwright.async_api import Error, async_playwright

        executable = self.executable or find_chromium()
        try:
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            browser = await self._playwright.chromium.launch(
                executable_path=executable,
                headless=True,
                chromium_sandbox=False,
                args=list(FLAGS),
                timeout=LAUNCH_TIMEOUT * 1000,
            )
        except Error as exc:
            raise FetchError(
                url,
                f"could not start Chromium ({executable}): {_first_line(exc)}",
                transient=True,
                kind="browser",
            ) from exc
        self.launches += 1
        return browser

    async def _load(self, instance: _Instance, request: RenderRequest, started: float) -> Fetched:
        from playwright.async_api import Error

        deadline = time.monotonic() + request.timeout
        context = None
        done = False
        try:
            async with asyncio.timeout(request.timeout + BACKSTOP):  # Playwright's own timeouts first
                context = await instance.browser.new_context(
                    user_agent=self.user_agent,
                    extra_http_headers=dict(request.headers),
                    viewport=VIEWPORT,  # type: ignore[arg-type]
                    service_workers="block",
                )
                page = await context.new_page()
                response = await page.goto(request.url, wait_until="load", timeout=_ms_left(deadline))
                if response is None:
                    raise FetchError(
                        request.url, "the browser got no response", transient=True, kind="browser"
                    )
                fetched = await self._read(page, response, request, deadline, started)
                done = True
                return fetched
        except TimeoutError:
            raise _timed_out(request) from None
        except Error as exc:
            if "Timeout" in type(exc).__name__ or "Timeout " in str(exc):
                raise _timed_out(request) from None
            raise _browser_error(request.url, exc, instance) from None
        finally:
            if context is not None and done:
                await _close_quietly(context)
            elif context is not None:  # a hung page may take long to close: the check need not wait
                instance.open_pages += 1  # the process stays up until the context is gone
                self._closing.add(asyncio.ensure_future(self._discard(instance, context)))

    async def _read(
        self, page: Page, response: Response, request: RenderRequest, deadline: float, started: float
    ) -> Fetched:
        headers = await response.all_headers()
        status = response.status
        if status >= 400:
            raise status_error(request.url, status, headers, (await page.content()).encode())
        await self._settle(page, request, deadline)
        content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
        rendered = content_type in HTML_TYPES or not content_type
        body = (await page.content()).encode() if rendered else await response.body()
        if len(body) > self.max_body:
            raise FetchError(
                request.url,
                f"rendered page of {len(body)} bytes is larger than the {self.max_body} byte limit",
                transient=False,
                status=status,
                kind="too_large",
            )
        if looks_like_bot_challenge(status, headers, body):
            raise status_error(
                request.url, 403 if status < 400 else status, headers, body, " (in the browser)"
            )
        screenshot = None
        if (
            request.screenshot
            and rendered
            and hashlib.sha256(body).hexdigest() != request.skip_screenshot_for
        ):
            screenshot = await _screenshot(page, request, deadline)
        if rendered:
            headers = {
                **headers,
                "content-type": "text/html; charset=utf-8",
                "x-rendered-by": _renderer(page),
            }
        return Fetched(
            url=request.url,
            final_url=page.url,
            status=status,
            headers=headers,
            body=body,
            redirects=await _redirects(response),
            elapsed=time.perf_counter() - started,
            not_modified=False,
            attempts=1,
            request_headers=await response.request.all_headers(),
            screenshot=screenshot,
        )

    async def _settle(self, page: Page, request: RenderRequest, deadline: float) -> None:
        """Wait as the source asks; without a rule, give the network a few seconds to go quiet."""
        from playwright.async_api import Error

        if request.wait_until == "networkidle":
            await page.wait_for_load_state("networkidle", timeout=_ms_left(deadline))
        elif request.wait_for is None:
            with contextlib.suppress(Error):  # a page that keeps polling is read as it is
                await page.wait_for_load_state("networkidle", timeout=min(_ms_left(deadline), SETTLE * 1000))
        if request.wait_for is not None:
            try:
                await page.wait_for_selector(request.wait_for, state="attached", timeout=_ms_left(deadline))
            except Error as exc:
                if "Timeout" not in type(exc).__name__ and "Timeout " not in str(exc):
                    raise
                raise FetchError(
                    request.url,
                    f"wait_for {request.wait_for!r} did not appear within {request.timeout:g}s",
                    transient=True,
                    kind="timeout",
                ) from None

    async def _discard(self, instance: _Instance, context: Any) -> None:
        """Close a failed page's context; a browser that cannot even do that is replaced."""
        try:
            await asyncio.wait_for(context.close(), timeout=GRACE)
        except Exception:
            instance.retired = True
        finally:
            await self._release(instance)
            self._closing.discard(asyncio.current_task())

    async def _shutdown(self) -> None:
        if self._current is not None:
            await _close_quietly(self._current.browser)
            self._current = None
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                await self._playwright.stop()
            self._playwright = None


async def _screenshot(page: Page, request: RenderRequest, deadline: float) -> bytes | None:
    """A PNG of the selected element, else of the whole page; removed parts are hidden first."""
    if request.hide:
        rules = ", ".join(request.hide) + " { display: none !important; }"
        await page.add_style_tag(content=rules)
    timeout = _ms_left(deadline)
    if request.select:
        target = page.locator(request.select).first
        if await target.count() == 0:
            return None  # extraction will say the selector matched nothing
        return await target.screenshot(type="png", timeout=timeout, animations="disabled")
    return await page.screenshot(type="png", full_page=True, timeout=timeout, animations="disabled")


async def _redirects(response: Response) -> tuple[Redirect, ...]:
    """The redirect hops the browser followed to the page, first hop first."""
    hops: list[Redirect] = []
    request = response.request
    while request.redirected_from is not None:
        previous = request.redirected_from
        answer = await previous.response()
        hops.append(Redirect(previous.url, answer.status if answer else 0, request.url))
        request = previous
    return tuple(reversed(hops))


def _renderer(page: Page) -> str:
    return f"Chromium {page.context.browser.version if page.context.browser else ''}".strip()


def _ms_left(deadline: float) -> float:
    return max(1.0, (deadline - time.monotonic()) * 1000)


def _timed_out(request: RenderRequest) -> FetchError:
    return FetchError(
        request.url,
        f"the page did not finish loading in the browser within {request.timeout:g}s",
        transient=True,
        kind="timeout",
    )


def _browser_error(url: str, exc: Exception, instance: _Instance) -> FetchError:
    message = _first_line(exc)
    if not instance.browser.is_connected():
        return FetchError(url, "the browser crashed while loading the page", transient=True, kind="browser")
    if "net::ERR_" in message:
        reason = message[message.index("net::ERR_") :].split()[0]
        return FetchError(
            url, f"the browser could not load the page: {reason}", transient=True, kind="connection"
        )
    return FetchError(url, f"the browser failed: {message}", transient=True, kind="browser")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


async def _close_quietly(closable: Any) -> None:
    """Closing what crashed or hung must not fail the check nor hang the thread."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(closable.close(), timeout=GRACE)
