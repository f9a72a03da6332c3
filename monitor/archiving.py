"""The capture job: each changed page saved at the Internet Archive through Save Page Now 2.

A recorded Change queues its page (``monitor.store.archives``); this job, run after checks like
the timestamps (``monitor.witness``), submits it and asks how the job went. It never runs inside
a check's transaction and never raises: an archive that is slow, down or refusing delays only
the copy, whose row says why and is tried again later with the alerts' backoff.

The SPN2 API, as documented in "Save Page Now 2 Public API Docs" (Vangelis Banos, Internet
Archive, 2022-04-05; https://docs.google.com/document/d/1Nsv52MvSjbLb2PCpHlat0gkzw0EvtSgpKHu4mk0MnrA/,
mirrored at https://gist.github.com/krackers/3aba22f85839dbcc3d1effe9eb09ed5e):

- capture: ``POST https://web.archive.org/save`` with the form ``url=...`` (``capture_all=1`` keeps
  pages that answer 4xx/5xx), headers ``Accept: application/json`` and ``Authorization: LOW
  accesskey:secret`` (the keys of https://archive.org/account/s3.php); the answer is JSON with a
  ``job_id``, or ``status: error`` with ``status_ext`` and ``message``; HTTP 429 means too many
  requests: slow down;
- status: ``GET https://web.archive.org/save/status/{job_id}`` answers ``status`` ``pending``,
  ``success`` (with ``timestamp``, YYYYMMDDhhmmss, and ``original_url``) or ``error`` (with
  ``status_ext`` such as ``error:blocked-url`` and ``message``);
- the copy is at ``https://web.archive.org/web/{timestamp}/{original_url}``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from monitor.alerts.deliver import backoff
from monitor.errors import ArchiveError, FetchError
from monitor.fetch import ServiceReply, call_service
from monitor.secrets import Scrubber
from monitor.store import archives
from monitor.store.repo import Store
from monitor.watchlist import ArchiveSpec

log = logging.getLogger("monitor.archiving")

LEASE = timedelta(seconds=30)  # renewed by the worker's heartbeat while a job is polled
RATE_WINDOW = timedelta(minutes=1)
# SPN's answers that no retry can change: the site asked the archive not to keep it
PERMANENT = frozenset({"error:blocked", "error:blocked-url", "error:invalid-url-syntax"})

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Captured:
    """What became of one change's capture this pass."""

    change_id: int
    url: str
    state: str  # saved | waiting (job still running) | held (rate limit) | lost (claim) | retry | failed
    archive_url: str | None = None
    error: str | None = None

    def line(self) -> str:
        what = f"archive copy of change #{self.change_id} ({self.url})"
        if self.state == "saved":
            return f"{what}: saved at {self.archive_url}"
        if self.state == "waiting":
            return f"{what}: submitted, the archive is still saving it (asked again later)"
        if self.state == "held":
            return f"{what}: waits for the rate limit (archive: per_minute)"
        if self.state == "lost":
            return f"{what}: left to another worker (its claim ran out meanwhile)"
        if self.state == "retry":
            return f"{what} failed: {self.error} (retried later)"
        return f"{what} failed for good: {self.error}"


@dataclass(frozen=True)
class Auth:
    """The keys, read from the environment at capture time, and a scrubber for any text shown."""

    header: str
    scrub: Scrubber


def credentials(spec: ArchiveSpec, env: Mapping[str, str]) -> Auth:
    missing = [name for name in (spec.access_env, spec.secret_env) if not env.get(name)]
    if missing:
        raise ArchiveError(f"environment variable {', '.join(missing)} is not set (the web archive's keys)")
    access, secret = env[spec.access_env], env[spec.secret_env]
    return Auth(f"LOW {access}:{secret}", Scrubber([access, secret, f"{access}:{secret}"]))


def capture_due(
    store: Store,
    spec: ArchiveSpec,
    env: Mapping[str, str],
    *,
    worker: str,
    clock: Clock | None = None,
    sleep: Callable[[float], None] = time.sleep,
    lease: timedelta = LEASE,
) -> list[Captured]:
    """Submit the queued pages, within the rate limit, and collect the jobs that finished."""
    now = clock or (lambda: datetime.now(UTC))
    claimed = archives.claim(store.engine, now=now(), worker=worker, lease=lease)
    run = _Run(store, spec, env, worker, now, sleep)
    return [run.one(capture) for capture in claimed]


@dataclass
class _Run:
    store: Store
    spec: ArchiveSpec
    env: Mapping[str, str]
    worker: str
    now: Clock
    sleep: Callable[[float], None]

    def one(self, capture: archives.Capture) -> Captured:
        engine, submitted_now = self.store.engine, False
        try:
            auth = credentials(self.spec, self.env)
        except ArchiveError as exc:  # fix the environment and the next try works: never failed for good
            return self.retry(capture, exc, max(capture.attempts, 1))
        job = None if self.stale(capture) else capture.job_id
        try:
            if job is None:
                slot = self.next_slot()
                if slot is not None:
                    archives.wait_for_job(engine, capture.id, worker=self.worker, until=slot)
                    return Captured(capture.change_id, capture.url, "held")
                if not archives.begin(engine, capture.id, worker=self.worker):
                    return Captured(capture.change_id, capture.url, "lost")
                submitted_now = True
                job = self.submit(capture.url, auth)
                archives.submitted(engine, capture.id, worker=self.worker, job_id=job, at=self.now())
            copy = self.poll(job, auth)
        except (ArchiveError, FetchError) as exc:
            attempts = capture.attempts + (1 if submitted_now else 0)
            return self.failed(capture, exc, attempts, auth.scrub, keep_job=job is not None)
        if copy is None:
            until = self.now() + max(self.spec.poll_every, timedelta(seconds=1))
            archives.wait_for_job(engine, capture.id, worker=self.worker, until=until)
            return Captured(capture.change_id, capture.url, "waiting")
        archives.saved(engine, capture.id, worker=self.worker, archive_url=copy, at=self.now())
        log.info("change #%d archived at %s", capture.change_id, copy, extra={"change": capture.change_id})
        return Captured(capture.change_id, capture.url, "saved", archive_url=copy)

    def stale(self, capture: archives.Capture) -> bool:
        """A job pending this long is lost at the archive: submit the page again."""
        started = capture.submitted_at
        return started is not None and self.now() - started >= self.spec.resubmit_after

    def next_slot(self) -> datetime | None:
        """None when a submission may go now; else when the oldest in the window leaves it."""
        now = self.now()
        recent = archives.submissions_since(self.store.engine, now - RATE_WINDOW)
        if len(recent) < self.spec.per_minute:
            return None
        return recent[len(recent) - self.spec.per_minute] + RATE_WINDOW

    def submit(self, url: str, auth: Auth) -> str:
        form = {"url": url, **({"capture_all": "1"} if self.spec.capture_all else {})}
        reply = self.call("POST", self.spec.endpoint, auth, data=form)
        answer = _answer(reply, "capture request")
        job = answer.get("job_id")
        if isinstance(job, str) and job:
            return job
        raise _refusal(answer, "the archive did not take the page")

    def poll(self, job: str, auth: Auth) -> str | None:
        """The archive URL once the job succeeded; None while it runs after ``wait``."""
        deadline = self.now() + self.spec.wait
        while True:
            reply = self.call("GET", f"{self.spec.endpoint.rstrip('/')}/status/{job}", auth)
            answer = _answer(reply, "status request")
            state = answer.get("status")
            if state == "success":
                return self.copy_url(answer)
            if state != "pending":
                raise _refusal(answer, f"job {job} ended with status {state!r}", job_failed=True)
            pause = self.spec.poll_every.total_seconds()
            if self.now() + self.spec.poll_every > deadline:
                return None
            self.sleep(pause)

    def copy_url(self, answer: Mapping[str, object]) -> str:
        stamp, original = answer.get("timestamp"), answer.get("original_url")
        if not (isinstance(stamp, str) and stamp.isdigit() and isinstance(original, str) and original):
            raise ArchiveError("the archive said success without a timestamp and original_url")
        parts = urlsplit(self.spec.endpoint)
        return f"{parts.scheme}://{parts.netloc}/web/{stamp}/{original}"

    def call(self, method: str, url: str, auth: Auth, data: Mapping[str, str] | None = None) -> ServiceReply:
        headers = {"Accept": "application/json", "Authorization": auth.header}
        reply = call_service(
            method, url, data=data, headers=headers, timeout=self.spec.timeout.total_seconds()
        )
        if reply.status == 429:
            raise ArchiveError("the archive asks to slow down (HTTP 429 Too Many Requests)")
        if reply.status in (401, 403):
            raise ArchiveError(
                f"the archive refused the keys (HTTP {reply.status}): check {self.spec.access_env} "
                f"and {self.spec.secret_env}"
            )
        if reply.status >= 400:
            raise ArchiveError(f"the archive answered HTTP {reply.status}")
        return reply

    def failed(
        self,
        capture: archives.Capture,
        exc: ArchiveError | FetchError,
        attempts: int,
        scrub: Scrubber,
        *,
        keep_job: bool,
    ) -> Captured:
        error = scrub(exc.reason)[:500]
        job_failed = isinstance(exc, ArchiveError) and exc.job_failed
        if keep_job and not job_failed:
            # the job may well have finished: ask about it again later, submit nothing new
            until = self.now() + backoff(max(attempts, 1))
            archives.wait_for_job(self.store.engine, capture.id, worker=self.worker, until=until)
            log.warning("archive job of change #%d: %s", capture.change_id, error)
            return Captured(capture.change_id, capture.url, "retry", error=error)
        permanent = isinstance(exc, ArchiveError) and exc.permanent
        if permanent or attempts >= self.spec.max_attempts:
            archives.fail(self.store.engine, capture.id, worker=self.worker, error=error)
            log.warning("archive copy of change #%d failed for good: %s", capture.change_id, error)
            return Captured(capture.change_id, capture.url, "failed", error=error)
        return self.retry(capture, ArchiveError(error), attempts)

    def retry(self, capture: archives.Capture, exc: ArchiveError, attempts: int) -> Captured:
        next_at = self.now() + backoff(attempts)
        archives.retry(self.store.engine, capture.id, worker=self.worker, next_at=next_at, error=exc.reason)
        log.warning("archive copy of change #%d: %s (retried later)", capture.change_id, exc.reason)
        return Captured(capture.change_id, capture.url, "retry", error=exc.reason)


def _answer(reply: ServiceReply, what: str) -> dict[str, object]:
    try:
        answer = json.loads(reply.body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ArchiveError(f"the archive's answer to the {what} is not JSON (HTTP {reply.status})")
    return answer


def _refusal(answer: Mapping[str, object], what: str, *, job_failed: bool = False) -> ArchiveError:
    ext, message = answer.get("status_ext"), answer.get("message")
    detail = "; ".join(str(x) for x in (ext, message) if x)
    return ArchiveError(
        f"{what}{': ' + detail if detail else ''}", job_failed=job_failed, permanent=ext in PERMANENT
    )
