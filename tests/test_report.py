"""The static report: pages, escaping of untrusted content, the Atom feed, and a real browser's view."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import pytest
from click.testing import CliRunner
from defusedxml.ElementTree import fromstring

from monitor.audit import report as reporter
from monitor.cli import main
from monitor.store.audit_queries import AuditStore
from monitor.store.repo import Store
from tests import browser
from tests.audit_history import CLAUSE, PLEDGE, Recorded, copy_of, open_store, record

ATOM = "{http://www.w3.org/2005/Atom}"
NOW = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="module")
def store(recorded: Recorded, tmp_path_factory: pytest.TempPathFactory) -> Store:
    return open_store(copy_of(recorded, tmp_path_factory.mktemp("db")))


@pytest.fixture(scope="module")
def site(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    reporter.build(AuditStore(store), out, now=NOW)
    return out


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_the_report_has_a_page_per_pledge_source_change_and_snapshot(site: Path) -> None:
    names = {str(p.relative_to(site)) for p in pages(site)}
    assert names == {
        "index.html",
        f"pledge/{PLEDGE}.html",
        "source/policy.html",
        "source/news.html",
        *(f"change/{i}.html" for i in (1, 2, 3)),
        *(f"snapshot/{i}.html" for i in (1, 2, 3, 4, 5)),
    }
    assert (site / "feed.xml").is_file()


def test_every_local_link_leads_to_a_page_and_anchor_of_the_report(site: Path) -> None:
    for page in pages(site):
        for href in re.findall(r'href="([^"]+)"', page.read_text()):
            if href.startswith(("http:", "https:", "data:")):
                continue
            path, _, anchor = href.partition("#")
            target = (page.parent / path).resolve() if path else page
            assert target.is_file(), f"{page.relative_to(site)} links to {href}"
            if anchor:
                assert f'id="{anchor}"' in target.read_text(), f"{page.relative_to(site)} links to {href}"


def test_index_lists_pledges_with_state_and_last_check_and_the_chain_head(site: Path, store: Store) -> None:
    html = (site / "index.html").read_text()
    head = AuditStore(store).head()
    assert head is not None
    assert "No facial recognition sales to US police" in html
    assert '<span class="state state-intact">intact</span>' in html
    assert "2026-01-17 18:00 UTC" in html  # the last check of its source
    assert f'<pre class="hash" id="chain-head">{head.hash}</pre>' in html
    assert f"seq {head.seq}" in html
    assert f"pledge-monitor verify --head {head.hash}" in html


def test_the_pledge_page_shows_the_attestation_and_the_timeline(site: Path) -> None:
    html = (site / f"pledge/{PLEDGE}.html").read_text()
    assert (
        "checked 59 times between 2026-01-03 and 2026-01-17; clause intact on every check until "
        "2026-01-13; weakened from 2026-01-13 (event #4); intact again from 2026-01-16 (event #5)"
    ) in html
    assert f"“{CLAUSE}”" in html
    assert 'href="../change/2.html"' in html
    assert "pledge.weakened" in html


def test_a_change_page_marks_removed_and_added_words_inline_and_side_by_side(site: Path) -> None:
    html = (site / "change/2.html").read_text()
    inline = html.split('<div class="diff">', 1)[1].split("</div>", 1)[0]
    side = html.split('<table class="diff-side-by-side">', 1)[1]
    assert "<ins> currently</ins>" in inline or "<ins>currently </ins>" in inline
    assert "<ins> currently</ins>" in side or "<ins>currently </ins>" in side
    html3 = (site / "change/3.html").read_text()
    assert re.search(r"<del>\s?currently\s?</del>", html3)


def test_monitored_markup_is_escaped_everywhere(site: Path) -> None:
    """The page said <script> and <img onerror> (as text and as live tags): no page of ours has either."""
    for page in [*pages(site), site / "feed.xml"]:
        text = page.read_text()
        assert "<script" not in text.lower(), page
        assert "<img" not in text.lower(), page
    change = (site / "change/1.html").read_text()
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in change
    raw = (site / "snapshot/3.html").read_text()
    assert (
        "&lt;img src=x onerror=&#34;document.body.setAttribute(&#39;data-pwned&#39;,&#39;1&#39;)&#34;&gt;"
        in raw
    )


def test_snapshot_page_shows_the_text_and_the_raw_body_as_fetched(site: Path, store: Store) -> None:
    html = (site / "snapshot/1.html").read_text()
    snap = store.snapshot(1)
    assert snap.body_hash in html
    assert snap.text_hash in html
    assert "We will not sell facial recognition technology" in html.split('<pre id="text">')[1]
    assert "&lt;!doctype html&gt;" in html.split('<pre id="raw">')[1]
    assert "Content-Encoding" in html  # the headers as received


def test_pages_are_made_for_phones_and_load_nothing_from_outside(site: Path) -> None:
    for page in pages(site):
        html = page.read_text()
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
        assert "default-src 'none'" in html  # no script, no remote anything, even if escaping failed
        assert not re.search(r"<[a-z]+\s[^>]*\bsrc=", html), page  # no images, frames, scripts
        assert not re.search(r'<link [^>]*href="(https?:)?//', html), page  # no remote style sheets
        assert "@media (max-width: 40rem)" in html


def test_the_feed_is_valid_atom_linking_to_report_pages(site: Path) -> None:
    text = (site / "feed.xml").read_text()
    feed = fromstring(text.encode())
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{required}") is not None, required
    assert feed.findtext(f"{ATOM}updated") == "2026-01-16T00:00:00Z"  # the latest event, stable
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 5
    ids = [e.findtext(f"{ATOM}id") or "" for e in entries]
    assert len(set(ids)) == 5
    assert all(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", i) for i in ids)
    for entry in entries:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry.findtext(f"{ATOM}updated") or "")
        link = entry.find(f"{ATOM}link")
        assert link is not None
        assert (site / link.attrib["href"].split("#")[0]).is_file()
    first = entries[0]
    assert (
        first.findtext(f"{ATOM}title")
        == "Example Corp: No facial recognition sales to US police: clause restored"
    )
    parsed = feedparser.parse(text)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "pledge-monitor: events"


def test_feed_ids_are_stable_across_rebuilds_and_links_absolute_with_a_base_url(
    store: Store, site: Path, tmp_path: Path
) -> None:
    reporter.build(
        AuditStore(store), tmp_path, now=datetime(2027, 1, 1, tzinfo=UTC), base_url="https://example.org/r"
    )
    again = ElementTree.fromstring((tmp_path / "feed.xml").read_bytes())
    before = ElementTree.fromstring((site / "feed.xml").read_bytes())
    assert [e.findtext(f"{ATOM}id") for e in again.iter(f"{ATOM}entry")] == [
        e.findtext(f"{ATOM}id") for e in before.iter(f"{ATOM}entry")
    ]
    assert again.findtext(f"{ATOM}id") == before.findtext(f"{ATOM}id")
    assert again.attrib["{http://www.w3.org/XML/1998/namespace}base"] == "https://example.org/r/"
    parsed = feedparser.parse((tmp_path / "feed.xml").read_text())
    assert parsed.entries[0].link.startswith("https://example.org/r/change/3.html#event-5")


def test_report_command_says_where_and_prints_the_chain_head(recorded: Recorded, tmp_path: Path) -> None:
    db = copy_of(recorded, tmp_path / "db")
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{db}", "report", "--out", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    head = AuditStore(open_store(db)).head()
    assert head is not None
    out = tmp_path / "site"
    assert result.output == (
        f"wrote 13 pages to {out} (open {out / 'index.html'}); chain head {head.hash} (seq {head.seq})\n"
    )


def test_an_empty_database_still_makes_a_report(tmp_path: Path) -> None:
    store = open_store(tmp_path / "empty.db")
    built = reporter.build(AuditStore(store), tmp_path / "site", now=NOW)
    assert built.head is None
    assert built.pages == 2
    assert "The chain is empty" in (tmp_path / "site/index.html").read_text()
    assert not feedparser.parse((tmp_path / "site/feed.xml").read_text()).bozo


# -- in a real browser ---------------------------------------------------------------------------


@pytest.mark.browser
def test_the_index_renders_on_a_phone_screen_without_console_errors(site: Path, tmp_path: Path) -> None:
    png = tmp_path / "index.png"
    shown = browser.screenshot(site / "index.html", png, size=(390, 844))
    image = browser.read_png(png)
    assert (image.width, image.height) == (390, 844)
    assert image.colors > 10, "the screenshot is blank"
    assert shown.console == []


@pytest.mark.browser
@pytest.mark.parametrize("page", ["change/1.html", "snapshot/3.html", f"pledge/{PLEDGE}.html"])
def test_an_xss_payload_on_a_monitored_page_shows_as_text_and_does_not_run(site: Path, page: str) -> None:
    shown = browser.dump_dom(site / page)
    dom = shown.stdout
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert title is not None
    assert "pwned" not in title.group(1)
    assert "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0]  # onerror did not fire
    assert "<script" not in dom.lower()
    assert "<img" not in dom.lower()
    if page != f"pledge/{PLEDGE}.html":
        assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom  # shown, as text
    assert shown.console == []


@pytest.mark.browser
def test_a_change_page_is_readable_at_phone_width(site: Path, tmp_path: Path) -> None:
    png = tmp_path / "change.png"
    shown = browser.screenshot(site / "change/2.html", png, size=(390, 844))
    image = browser.read_png(png)
    assert (image.width, image.height) == (390, 844)
    assert image.colors > 10
    assert shown.console == []


def test_an_unwritable_folder_is_one_clear_error(recorded: Recorded, tmp_path: Path) -> None:
    db = copy_of(recorded, tmp_path / "db")
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{db}", "report", "--out", str(blocker / "site")])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot write the report to {blocker / 'site'}: ")


def test_a_missing_browser_fails_in_ci_and_is_skipped_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="the CI set-up must provide it"):
        browser.chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        browser.chromium()


def test_the_report_never_writes_through_a_symlink_it_did_not_make(store: Store, tmp_path: Path) -> None:
    """A published folder may be writable by others: a planted link must not redirect a write."""
    out, victim = tmp_path / "site", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text("precious\n")
    (out / "index.html").symlink_to(victim)
    (out / "feed.xml").symlink_to(tmp_path / "created-through-a-link.xml")  # dangling: not created
    reporter.build(AuditStore(store), out, now=NOW)
    assert victim.read_text() == "precious\n"
    assert not (tmp_path / "created-through-a-link.xml").exists()
    assert not (out / "index.html").is_symlink()
    assert "<html" in (out / "index.html").read_text()
    assert not (out / "feed.xml").is_symlink()
    assert not [p for p in out.rglob(".*") if p.is_file()], "no temporary file is left behind"


def test_a_linked_folder_inside_the_report_is_refused(store: Store, tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "change").symlink_to(elsewhere, target_is_directory=True)
    result = CliRunner().invoke(main, ["report", "--out", str(out), "--db", str(store.engine.url.database)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {out / 'change'} is a symlink: the report does not write through links it did not make;"
        " remove it\n"
    )
    assert list(elsewhere.iterdir()) == []
