"""Drive Debian's headless Chromium from tests: screenshots, the DOM after load, console messages.

Chromium runs with networking and every background service off, a throwaway profile, and
``--enable-logging=stderr`` so console messages (``CONSOLE(...)`` lines) can be checked.
A missing browser skips the test, except in CI (``CI=true``), where it is a set-up bug and fails.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser")
TIMEOUT = 60
FLAGS = (
    "--headless",
    "--no-sandbox",
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
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: nothing leaves the machine
    "--proxy-server=127.0.0.1:9",  # and nothing gets far if it tried by address
    "--enable-logging=stderr",
    "--v=0",
)
CONSOLE = re.compile(r"CONSOLE(?::\d+|\(\d+\))\] \"(?P<message>.*)\", source: (?P<source>.*)")


def chromium() -> str:
    """The browser's path; skips (or, in CI, fails) the test when there is none."""
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    reason = "Debian's chromium is not installed (make system-deps installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}: the CI set-up must provide it")
    pytest.skip(reason)


@dataclass(frozen=True)
class Run:
    stdout: str
    stderr: str

    @property
    def console(self) -> list[str]:
        """Console messages the page logged (errors included), from Chromium's log."""
        return [m.group("message") for m in CONSOLE.finditer(self.stderr)]


def run(url: str, *args: str, size: tuple[int, int] = (390, 844)) -> Run:
    """Load ``url`` in a fresh headless Chromium with extra ``args`` (--dump-dom, --screenshot=...)."""
    binary = chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        cmd = [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", *args, url]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        raise AssertionError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return Run(done.stdout, done.stderr)


def dump_dom(path: Path) -> Run:
    """The DOM as serialized after load (scripts, had any run, would have changed it)."""
    return run(path.resolve().as_uri(), "--dump-dom")


def screenshot(path: Path, png: Path, size: tuple[int, int] = (390, 844)) -> Run:
    return run(path.resolve().as_uri(), f"--screenshot={png}", size=size)


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    colors: int  # distinct pixel values seen in a sample of rows
    palette: frozenset[bytes] = frozenset()  # those pixel values (RGB or RGBA bytes)


def read_png(path: Path) -> Png:
    """Just enough PNG decoding to tell a rendered page from a blank one (8-bit RGB/RGBA)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, color_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8, f"unexpected PNG format {depth}/{color_type}"
    assert color_type in (2, 6), f"unexpected PNG format {depth}/{color_type}"
    channels = 3 if color_type == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    colors: set[bytes] = set()
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels)
        if row % 8 == 0:
            colors.update(bytes(line[i : i + channels]) for i in range(0, stride, channels * 4))
        previous = line
    return Png(width, height, len(colors), frozenset(colors))


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> bytearray:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = prev[i]
        up_left = prev[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            p = left + up - up_left
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
            predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
            line[i] = (line[i] + predictor) & 0xFF
    return line
