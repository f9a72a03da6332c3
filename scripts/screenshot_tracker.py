"""Make docs/tracker.png: the tracker of `pledge-monitor serve` on the demo database, in Chromium.

    .venv/bin/python scripts/screenshot_tracker.py [--out docs/tracker.png]

Runs the offline demo into a temporary folder, serves it, and has Debian's Chromium (driven by
Playwright, never downloading a browser) take a full-page screenshot of the tracker.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "tracker.png")
    args = parser.parse_args()
    cli = str(Path(sys.executable).parent / "pledge-monitor")
    with tempfile.TemporaryDirectory(prefix="pm-shot-") as tmp:
        demo = Path(tmp) / "demo"
        subprocess.run([cli, "demo", "--keep", str(demo)], check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        base = ["-w", str(demo / "watchlist.yaml"), "--db", f"sqlite:///{demo / 'demo.db'}"]
        server = subprocess.Popen([cli, *base, "serve", "--port", str(port)], stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/"
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(url + "healthz", timeout=5)
                    break
                except OSError:
                    time.sleep(0.2)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
                page = browser.new_page(viewport={"width": 1100, "height": 900})
                page.goto(url)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out), full_page=False)
                browser.close()
        finally:
            server.terminate()
            server.wait(20)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
