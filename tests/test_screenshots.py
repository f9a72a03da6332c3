"""Screenshots as evidence: taken by the browser when the text changed, shown in the report beside
the diff (checked in Chromium), and written into the change's WARC (read back with warcio).

A real local site serves a page whose script writes the policy into a coloured box: blue before the
change, orange after. A report page that shows both pictures has both colours on screen.
"""

from __future__ import annotations

import json
import re
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from monitor.checking import sha256
from monitor.cli import main
from monitor.store.db import open_engine
from monitor.store.repo import Store
from tests import browser
from tests.receivers import threaded_server
from tests.site import Site

pytestmark = pytest.mark.browser

CLAUSE = "We will not sell facial recognition technology to police departments in the United States"
BLUE, ORANGE = (0, 90, 200), (230, 120, 0)


def boxed(text: str, colour: tuple[int, int, int], *, tall: bool = False) -> str:
    """A shell page; its script writes the policy into a coloured box, with a share bar inside."""
    rgb = "rgb({}, {}, {})".format(*colour)
    height = "height: 3000px;" if tall else ""
    return textwrap.dedent(
        f"""\
        <!doctype html><html><head><meta charset="utf-8"><title>Commitments</title>
        <style>#policy {{ background: {rgb}; color: white; padding: 40px; {height} }}
        .share {{ background: rgb(255, 0, 255); height: 60px }}</style></head>
        <body><nav>Home | Policies</nav><main id="app">Loading...</main>
        <script>
        window.addEventListener("load", () => {{
          document.getElementById("app").innerHTML =
            '<article id="policy"><div class="share">Share</div><p>' + {json.dumps(text)} + '</p></article>';
        }});
        </script></body></html>
        """
    )


@pytest.fixture
def site() -> Iterator[Site]:
    browser.chromium()  # skip (or, in CI, fail) without Chromium
    server = threaded_server()
    site = Site(server)
    server.expect_request(re.compile(".*")).respond_with_handler(site.handle)
    yield site
    server.clear()
    server.stop()


def run(tmp_path: Path, *args: str) -> str:
    result = CliRunner().invoke(
        main,
        ["--db", f"sqlite:///{tmp_path / 'pm.db'}", "--watchlist", str(tmp_path / "watchlist.yaml"), *args],
    )
    assert result.exit_code == 0, result.output
    return result.output


def write_watchlist(tmp_path: Path, url: str, select: bool = True) -> None:
    rules = '    select: "#policy"\n    remove: [".share"]\n' if select else ""
    (tmp_path / "watchlist.yaml").write_text(
        "defaults:\n  browser: true\n  screenshot: true\n  per_host_delay: 0s\n"
        f"sources:\n  - id: policy\n    url: {url}\n{rules}"
    )


def blob_count(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "pm.db") as connection:
        return int(connection.execute("SELECT count(*) FROM blobs").fetchone()[0])


@pytest.fixture
def changed(site: Site, tmp_path: Path) -> Store:
    """Baseline, an unchanged check, then a change made by the page's script: change #1."""
    site.put("/policy", boxed(f"{CLAUSE} until there is a national law.", BLUE))
    write_watchlist(tmp_path, site.url("/policy"))
    assert "(1 baseline)" in run(tmp_path, "check", "--all")
    blobs = blob_count(tmp_path)
    assert "(1 unchanged)" in run(tmp_path, "check", "--all")
    assert blob_count(tmp_path) == blobs  # an unchanged check keeps no picture
    site.put("/policy", boxed(f"{CLAUSE} at this time.", ORANGE))
    assert "(1 changed)" in run(tmp_path, "check", "--all")
    return Store(open_engine(f"sqlite:///{tmp_path / 'pm.db'}"))


def colours(png: Path) -> set[tuple[int, int, int]]:
    return {tuple(c[:3]) for c in browser.read_png(png).palette}  # type: ignore[misc]


def test_each_snapshot_keeps_a_picture_of_the_selected_element_without_removed_parts(
    changed: Store, tmp_path: Path
) -> None:
    before, after = changed.screenshot(1), changed.screenshot(2)
    assert before is not None
    assert after is not None
    assert before != after
    (tmp_path / "before.png").write_bytes(before)
    (tmp_path / "after.png").write_bytes(after)
    assert BLUE in colours(tmp_path / "before.png")
    assert ORANGE in colours(tmp_path / "after.png")
    assert (255, 0, 255) not in colours(tmp_path / "before.png")  # the removed share bar is hidden
    assert browser.read_png(tmp_path / "before.png").width < 1280  # the element, not the page


def test_without_select_the_picture_is_the_whole_page(site: Site, tmp_path: Path) -> None:
    site.put("/policy", boxed(CLAUSE, BLUE, tall=True))
    write_watchlist(tmp_path, site.url("/policy"), select=False)
    run(tmp_path, "check", "--all")
    picture = Store(open_engine(f"sqlite:///{tmp_path / 'pm.db'}")).screenshot(1)
    assert picture is not None
    (tmp_path / "page.png").write_bytes(picture)
    image = browser.read_png(tmp_path / "page.png")
    assert image.width == 1280
    assert image.height > 3000


def test_the_report_shows_both_pictures_beside_the_diff(changed: Store, tmp_path: Path) -> None:
    out = tmp_path / "report"
    run(tmp_path, "report", "--out", str(out))
    html = (out / "change/1.html").read_text()
    shots = re.findall(r'<img src="\.\./screenshot/([0-9a-f]{64})\.png"', html)
    before, after = changed.screenshot(1), changed.screenshot(2)
    assert before is not None
    assert after is not None
    assert shots == [sha256(before), sha256(after)]
    assert (out / f"screenshot/{shots[0]}.png").read_bytes() == before
    assert html.index("What changed") < html.index("screenshot/")  # beside the diff
    snapshot_page = (out / "snapshot/2.html").read_text()
    assert f'src="../screenshot/{shots[1]}.png"' in snapshot_page
    png = tmp_path / "shown.png"
    shown = browser.screenshot(out / "change/1.html", png, size=(1200, 2400))
    on_screen = colours(png)
    assert BLUE in on_screen, "the pictures did not load"
    assert ORANGE in on_screen, "the pictures did not load"
    assert shown.console == []


def test_the_warc_carries_each_picture_as_a_resource_record(changed: Store, tmp_path: Path) -> None:
    warc = tmp_path / "change-1.warc.gz"
    output = run(tmp_path, "evidence", "1", "--out", str(warc))
    assert output == (
        f"wrote 8 records to {warc}: snapshots #1 and #2 of policy as fetched, their screenshots, "
        "and the hashes\n"
    )
    with warc.open("rb") as stream:
        records = [
            (r.rec_type, dict(r.rec_headers.headers), r.content_stream().read())
            for r in ArchiveIterator(stream)
        ]
    assert [kind for kind, _, _ in records] == [
        "warcinfo",
        "response",
        "request",
        "resource",
        "response",
        "request",
        "resource",
        "metadata",
    ]
    responses = [headers for kind, headers, _ in records if kind == "response"]
    pictures = [(headers, payload) for kind, headers, payload in records if kind == "resource"]
    for n, (headers, payload) in enumerate(pictures, start=1):
        assert payload == changed.screenshot(n)
        assert headers["Content-Type"] == "image/png"
        assert headers["WARC-Target-URI"] == "urn:screenshot:" + changed.snapshot(n).url
        assert headers["WARC-Concurrent-To"] == responses[n - 1]["WARC-Record-ID"]
    metadata = json.loads(records[-1][2])
    assert metadata["snapshots"]["after"]["screenshot_sha256"] == sha256(pictures[1][1])
    assert metadata["snapshots"]["after"]["rendered_by"].startswith("Chromium ")
