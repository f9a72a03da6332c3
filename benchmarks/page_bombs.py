"""Pages that eat memory (issue 11): ten element bombs at once must stay under 500 MB.

    .venv/bin/python benchmarks/page_bombs.py            # bombs, then large but legal pages
    .venv/bin/python benchmarks/page_bombs.py --no-fail  # report, never exit 1

Each page is 8 MB of a million tiny elements (``<i>x</i>``), under the default 10 MB max_body:
before the element limit, lexbor built a tree of 437 MB for one and ten at once took 3.5 GB. A
local server (a thread of this process) serves ten of them; ``pledge-monitor check --all`` runs
as a subprocess with ten checks at once, as cron would run it, and its own peak RSS is read with
``wait4``. The same is then measured on ten large pages just under the limit (95,000 elements),
which must still be read: the figure there is the price of the largest page accepted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = 10
TARGET_RSS_MB = 500.0
BOMB = b"<html><body>" + b"<i>x</i>" * 1_000_000 + b"</body></html>"
LARGE = (
    b"<html><body><article>"
    + b"".join(b"<p>Clause %d of the policy, <b>kept</b> as written.</p>" % n for n in range(47_000))
    + b"</article></body></html>"
)


class Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = BOMB if self.path.startswith("/bomb") else LARGE
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def watchlist(port: int, kind: str) -> str:
    sources = "".join(
        f"  - id: {kind}-{n}\n    url: http://127.0.0.1:{port}/{kind}/{n}\n" for n in range(PAGES)
    )
    return (
        f"defaults:\n  concurrency: {PAGES}\n  per_host: {PAGES}\n  per_host_delay: 0s\n  timeout: 60s\n"
        f"sources:\n{sources}"
    )


def check_all(folder: Path, port: int, kind: str) -> tuple[int, float, float, str]:
    """Exit status, seconds, peak RSS in MB and the output of one ``check --all``."""
    wl = folder / f"{kind}.yaml"
    wl.write_text(watchlist(port, kind))
    command = [sys.executable, "-m", "monitor", "-w", str(wl), "--db", str(folder / f"{kind}.db")]
    command += ["check", "--all"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEDGE_MONITOR_")}
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if proc.stdout:
        proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, seconds, usage.ru_maxrss / 1024, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-fail", action="store_true", help="report only; never exit 1")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    problems = []
    print(
        f"bomb page: {len(BOMB):,} bytes, 1,000,002 elements;"
        f" large page: {len(LARGE):,} bytes, 94,003 elements"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("bomb", "large"):
            code, seconds, rss, out = check_all(Path(tmp), port, kind)
            failed = out.count("page too large to read")
            print(
                f"{PAGES} {kind} pages: exit {code}, {seconds:.1f} s, peak RSS {rss:.0f} MB, {failed} refused"
            )
            print("  " + (out.splitlines() or [""])[0])
            if code != 0 or rss > TARGET_RSS_MB:
                problems.append(f"{kind}: exit {code}, {rss:.0f} MB")
            if kind == "bomb" and failed != PAGES:
                problems.append(f"bomb: {failed} of {PAGES} refused")
            if kind == "large" and failed:
                problems.append(f"large: {failed} legal pages refused")
    server.shutdown()
    print(
        f"target: peak RSS under {TARGET_RSS_MB:g} MB for ten at once;"
        " every bomb a failed check with its reason"
    )
    if problems:
        print("missed: " + "; ".join(problems))
    return 1 if problems and not args.no_fail else 0


if __name__ == "__main__":
    raise SystemExit(main())
