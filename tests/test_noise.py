"""Noise: what real pages change on every fetch must never change the watched text.

Each class of noise seen on real policy pages (generated ids, hydration data, build hashes, tracking
parameters, e-mail protection tokens, whitespace and character-class edits, tag boundaries) is
reproduced on a small hand-written page: two fetches that differ only by that noise must extract to
the same text, and the same template with one reworded sentence must not.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from benchmarks import detection
from monitor import diff as differ
from monitor.cycle import run_cycle
from monitor.extract import extract
from monitor.fetch import Fetcher
from monitor.store import models as m
from monitor.store.repo import Store
from monitor.watchlist import Watchlist
from tests.conftest import WriteWatchlist
from tests.site import Site

URL = "https://acme.example/policy/privacy"
PLEDGE = "We will not sell your personal data."
REWORDED = "We will not sell your personal data without consent."


def token(seed: int, size: int = 12) -> str:
    """A per-fetch random-looking value (build id, nonce, click id) for fetch number ``seed``."""
    return hashlib.sha256(f"fetch-{seed}".encode()).hexdigest()[:size]


def cf_token(address: str, key: int) -> str:
    """Cloudflare's e-mail protection: the address XORed with a key that changes per fetch."""
    return bytes([key, *(b ^ key for b in address.encode())]).hex()


@dataclass(frozen=True)
class Parts:
    """What one class of noise puts where on a page."""

    article: str
    head: str = ""
    around: str = ""


def page(article: str, *, head: str = "", around: str = "") -> bytes:
    """A small policy page: the article amid navigation, scripts and a footer."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Privacy</title>{head}</head>
<body><nav><a href="/">Home</a> | <a href="/policies">Policies</a></nav>
{around}
<article>
{article}
</article>
<footer>&copy; 2026 Acme</footer></body></html>""".encode()


def text(body: bytes, *, links: bool = False, select: str | None = "article") -> str:
    return extract(body, content_type="text/html; charset=utf-8", select=select, links=links, url=URL)


# --- one generator per class of noise: fetch number -> page ----------------------------------------
# Each takes the sentence to show, so the same noise can be checked against a real edit.

Noise = Callable[[int, str], Parts]


def generated_ids(seed: int, sentence: str) -> Parts:
    """React/CSS-in-JS ids and class names that differ per build or per render."""
    ids = token(seed, 6)
    return Parts(
        f'<div id="react-aria-{ids}" class="css-{ids} sc-{token(seed + 1, 5)}" data-reactid="{seed}">'
        f'<h1 id="«r{ids}»" aria-labelledby=":r{seed}:">Privacy statement</h1>'
        f'<p class="jsx-{token(seed, 8)}" data-testid="p-{ids}">{sentence}</p></div>'
    )


def hydration_data(seed: int, sentence: str) -> Parts:
    """Framework state shipped beside the markup: JSON scripts, streamed chunks, markers, props."""
    state = f'{{"buildId":"{token(seed)}","props":{{"nonce":"{token(seed + 7)}","t":{seed}}}}}'
    return Parts(
        f'<script id="__NEXT_DATA__" type="application/json">{state}</script>'
        f"<!--$--><h1 data-props='{state}'>Privacy statement</h1><!--/$-->"
        f"<p>{sentence}</p>"
        f'<script>self.__next_f.push([1,"{token(seed, 30)}"])</script>'
        f'<div hidden id="S:{seed}"><p>streamed fallback {token(seed)}</p></div>'
        f"<template><p>client template {token(seed)}</p></template>"
        f"<!-- rendered at 12:00:{seed % 60:02d} by node-{seed} -->",
        around=f'<script type="application/ld+json">{{"dateModified":"2026-01-{seed % 28 + 1:02d}"}}'
        "</script>",
    )


def build_hashes(seed: int, sentence: str) -> Parts:
    """Asset URLs, inline styles and pixels that carry the build's content hash."""
    build = token(seed, 8)
    head = (
        f'<link rel="stylesheet" href="/_next/static/css/{build}.css">'
        f'<link rel="preload" as="script" href="/_next/static/chunks/main-{build}.js">'
        f'<script src="/_next/static/chunks/webpack-{build}.js" nonce="{token(seed + 3)}" defer></script>'
        f'<meta name="build" content="{build}"><style>.c-{build}{{color:#333}}</style>'
    )
    return Parts(
        f'<h1><img src="/assets/logo.{build}.png" srcset="/assets/logo.{build}@2x.png 2x" alt="Acme">'
        f"Privacy statement</h1><style>.p-{build}{{margin:0}}</style><p>{sentence}</p>"
        f'<svg><use href="/sprite.{build}.svg#icon"></use><title>icon {build}</title></svg>'
        f'<iframe src="/embed?v={build}">frame {build}</iframe>'
        f'<noscript><img src="/pixel.gif?cb={build}"></noscript>',
        head,
    )


def tracking_parameters(seed: int, sentence: str) -> Parts:
    """Click ids, campaign tags and session ids that analytics add to every link, per visit."""
    t = token(seed, 10)
    terms = (
        f"https://acme.example/terms?utm_source=site&amp;utm_campaign=c{seed}&amp;section=3"
        f"&amp;_gl=1*{t}*_ga*{t}&amp;gclid={t}&amp;fbclid={t}&amp;msclkid={t}&amp;hsa_cam={seed}"
        f"&amp;mkt_tok={t}&amp;srsltid={t}&amp;mc_eid={t}#sale"
    )
    return Parts(
        f'<h1>Privacy statement</h1><p>{sentence} See <a href="{terms}">the terms</a> and '
        f'<a href="/contact;jsessionid={t}?PHPSESSID={t}&amp;topic=privacy">contact us</a>.</p>'
    )


def email_protection(seed: int, sentence: str) -> Parts:
    """Cloudflare hides each address behind a token with a new key on every fetch."""
    key = 1 + seed % 250
    privacy, press = cf_token("privacy@acme.example", key), cf_token("press@acme.example", key + 1)
    return Parts(
        f"<h1>Privacy statement</h1><p>{sentence} Write to "
        f'<a href="/cdn-cgi/l/email-protection#{privacy}">[email&#160;protected]</a> or '
        f'<span class="__cf_email__" data-cfemail="{press}">[email&#160;protected]</span>, or '
        f'<a href="/cdn-cgi/l/email-protection#{press}">the press team</a>.</p>'
    )


def obfuscate(text: str, seed: int, *, nested: bool = False) -> str:
    """Each character as itself, a decimal or a hexadecimal reference, at random per fetch;
    ``nested`` also escapes the ampersand of some references (``&amp;#109;``), as some plugins do."""
    rng = random.Random(seed)
    out = []
    for char in text:
        pick = rng.randrange(4 if nested else 3)
        out.append(
            [char, f"&#{ord(char)};", f"&#x{ord(char):{rng.choice('xX')}};", f"&amp;#{ord(char)};"][pick]
        )
    return "".join(out)


def percent_obfuscate(text: str, seed: int) -> str:
    """Letters and digits percent-encoded at random, in upper or lower case hex digits."""
    rng = random.Random(seed)
    return "".join(f"%{ord(c):{rng.choice('xX')}}" if c.isalnum() and rng.random() < 0.5 else c for c in text)


def obfuscated_addresses(seed: int, sentence: str) -> Parts:
    """Anti-harvester e-mail links: a new random encoding of the same address on every fetch
    (character references, nested ones, percent-encoding, letter case, a tab in the attribute),
    and links that spell a default port or an escaped unreserved character one fetch and not the next."""
    address = "privacy@acme.example"
    mailto = obfuscate(f"{'MailTo' if seed % 2 else 'mailto'}:{address}", seed, nested=True)
    press_domain = "ACME.example" if seed % 2 else "acme.example"
    press = f"mailto:{percent_obfuscate('press', seed)}%40{press_domain}"
    port = ":443" if seed % 2 else ""
    terms = f"https://acme.example{port}/terms/{'%7Eeu' if seed % 2 else '~eu'}"
    return Parts(
        f"<h1>Privacy statement</h1><p>{sentence} Write to "
        f'<a href="{mailto}">{obfuscate(address, seed + 1)}</a> or '
        f'<a href="\t{press}\n">the press team</a>; read <a href="{terms}">the terms</a>.</p>'
    )


def whitespace(seed: int, sentence: str) -> Parts:
    """Re-indented, re-wrapped markup: newlines, tabs, CRLF, &nbsp;, empty elements."""
    if seed % 2:
        body = (
            f"<h1>Privacy statement</h1><p>{sentence} Read <b>all</b> of it.</p>"
            "<ul><li>One</li><li>Two</li></ul>"
        )
    else:
        wrapped = sentence.replace(" ", "\r\n\t\t  ", 2).replace(" ", "&nbsp;", 1)
        body = (
            "\n\n  <h1>\n\tPrivacy   statement\n  </h1>\n  <p></p>\n"
            f"  <p>\n    {wrapped}\n    Read  <b> all </b>  of it. \n  </p>\n"
            "  <span> </span>\n  <ul>\n    <li>\n      One\n    </li>\n\n    <li> Two </li>\n  </ul>\n\n"
        )
    return Parts(body)


def character_classes(seed: int, sentence: str) -> Parts:
    """The same words in other code points: quotes, dashes, composed accents, invisible marks."""
    if seed % 2:
        extra = 'Acme\'s "promise" - no data sales... Caf\u00e9 terms apply, fine.'
    else:
        extra = (
            "Acme&rsquo;s \u201cpromise\u201d &mdash; no da\u00adta sa\u200bles\u2026 "
            "Cafe\u0301 terms apply, \ufb01ne."
        )
    return Parts(f"<h1>Privacy statement</h1><p>{sentence} {extra}</p>")


def tag_boundaries(seed: int, sentence: str) -> Parts:
    """Inline tags moved, split or added around the same characters: no space a browser would show."""
    if seed % 2:
        contact = '<a href="mailto:legal@acme.example">legal@acme.example.</a> Thanks'
        words = "<b>Pri</b>vacy <em>matters</em>"
    else:
        contact = '<a href="mailto:legal@acme.example">legal@acme.example</a>. Thanks'
        words = "<span><b>Pri</b></span><span>vacy</span> <em>mat</em>ters"
    return Parts(f"<h1>Privacy statement</h1><p>{sentence} {words}: write to {contact}</p>")


def hidden_elements(seed: int, sentence: str) -> Parts:
    """Per-fetch tokens in parts of the page no reader sees."""
    t = token(seed)
    return Parts(
        f"<h1>Privacy statement</h1><p>{sentence}</p>"
        f'<div style="display: none">csrf {t}</div><p hidden>session {t}</p>'
        f'<span style="visibility:hidden">{t}</span><input type="hidden" name="csrf" value="{t}">'
        f'<select name="lang"><option value="{t}">English {t}</option></select>'
    )


NOISE: dict[str, Noise] = {
    "generated-ids": generated_ids,
    "hydration-data": hydration_data,
    "build-hashes": build_hashes,
    "tracking-parameters": tracking_parameters,
    "email-protection": email_protection,
    "obfuscated-addresses": obfuscated_addresses,
    "whitespace": whitespace,
    "character-classes": character_classes,
    "tag-boundaries": tag_boundaries,
    "hidden-elements": hidden_elements,
}

# The whole expected article text for each class (links off), so an empty or truncated extraction fails.
EXPECTED: dict[str, str] = {
    "generated-ids": f"Privacy statement\n{PLEDGE}",
    "hydration-data": f"Privacy statement\n{PLEDGE}",
    "build-hashes": f"Privacy statement\n{PLEDGE}",
    "tracking-parameters": f"Privacy statement\n{PLEDGE} See the terms and contact us.",
    "email-protection": (
        f"Privacy statement\n{PLEDGE} Write to privacy@acme.example or press@acme.example, or the press team."
    ),
    "obfuscated-addresses": (
        f"Privacy statement\n{PLEDGE} Write to privacy@acme.example or the press team; read the terms."
    ),
    "whitespace": f"Privacy statement\n{PLEDGE} Read all of it.\n- One\n- Two",
    "character-classes": (
        f'Privacy statement\n{PLEDGE} Acme\'s "promise" - no data sales... Café terms apply, fine.'
    ),
    "tag-boundaries": f"Privacy statement\n{PLEDGE} Privacy matters: write to legal@acme.example. Thanks",
    "hidden-elements": f"Privacy statement\n{PLEDGE}",
}


def fetch(name: str, seed: int, sentence: str = PLEDGE) -> bytes:
    """What fetch number ``seed`` of a page with this class of noise returns."""
    parts = NOISE[name](seed, sentence)
    return page(parts.article, head=parts.head, around=parts.around)


def all_noise(seed: int, sentence: str) -> bytes:
    """Every class of noise at once, on one page."""
    parts = [make(seed, sentence) for make in NOISE.values()]
    return page(
        "".join(f"<section>{p.article}</section>" for p in parts),
        head="".join(p.head for p in parts),
        around="".join(p.around for p in parts),
    )


@pytest.mark.parametrize("name", NOISE)
@pytest.mark.parametrize("links", [False, True], ids=["text", "links"])
def test_fetches_differing_only_by_noise_extract_to_the_same_text(name: str, links: bool) -> None:
    first, second = fetch(name, 1), fetch(name, 2)
    assert first != second  # the noise is really there in the bytes
    assert text(first, links=links) == text(second, links=links)
    if not links:
        assert text(first) == EXPECTED[name]


@pytest.mark.parametrize("name", NOISE)
def test_noise_does_not_hide_a_reworded_sentence(name: str) -> None:
    assert text(fetch(name, 1)) != text(fetch(name, 2, REWORDED))
    assert REWORDED in text(fetch(name, 2, REWORDED))


@pytest.mark.parametrize("name", ["generated-ids", "hydration-data", "build-hashes", "hidden-elements"])
def test_noise_outside_any_selection_stays_out_of_the_whole_page_text(name: str) -> None:
    """A source with only a URL (no select) must be as quiet as one that selects the article."""
    assert text(fetch(name, 1), select=None) == text(fetch(name, 2), select=None)
    assert text(fetch(name, 1), select=None) == f"Home | Policies\n{EXPECTED[name]}\n© 2026 Acme"


# --- details of some classes -------------------------------------------------------------------------


def test_tracking_parameters_leave_the_real_target_with_links_on() -> None:
    assert text(fetch("tracking-parameters", 1), links=True) == (
        f"Privacy statement\n{PLEDGE} See the terms <https://acme.example/terms?section=3#sale> and "
        "contact us <https://acme.example/contact?topic=privacy>."
    )


def test_a_real_parameter_change_in_a_link_target_is_not_tracking() -> None:
    before = page('<p>See <a href="/terms?section=3&amp;utm_source=a">the terms</a>.</p>')
    after = page('<p>See <a href="/terms?section=4&amp;utm_source=b">the terms</a>.</p>')
    assert text(before) == text(after)
    assert text(before, links=True) != text(after, links=True)


def test_case_of_scheme_and_host_does_not_change_a_link_target() -> None:
    upper = page('<p><a href="HTTPS://Acme.EXAMPLE/Terms">terms</a></p>')
    lower = page('<p><a href="https://acme.example/Terms">terms</a></p>')
    assert text(upper, links=True) == text(lower, links=True) == "terms <https://acme.example/Terms>"
    assert text(page('<p><a href="https://acme.example/terms">terms</a></p>'), links=True) != text(
        lower, links=True
    )  # the path is case-sensitive


def test_email_protection_shows_the_decoded_address_as_the_link_target() -> None:
    assert text(fetch("email-protection", 3), links=True) == (
        f"Privacy statement\n{PLEDGE} Write to privacy@acme.example <mailto:privacy@acme.example> or "
        "press@acme.example, or the press team <mailto:press@acme.example>."
    )


def test_obfuscated_addresses_read_as_the_plain_address_with_links_on() -> None:
    for seed in (1, 2):
        assert text(fetch("obfuscated-addresses", seed), links=True) == (
            f"Privacy statement\n{PLEDGE} Write to privacy@acme.example <mailto:privacy@acme.example> or "
            "the press team <mailto:press@acme.example>; read the terms <https://acme.example/terms/~eu>."
        )


def test_a_changed_obfuscated_address_is_a_change() -> None:
    def linked(address: str, seed: int) -> bytes:
        return page(f'<p>Write to <a href="{obfuscate("mailto:" + address, seed, nested=True)}">us</a>.</p>')

    assert text(linked("privacy@acme.example", 1), links=True) == text(
        linked("privacy@acme.example", 2), links=True
    )
    assert text(linked("privacy@acme.example", 1), links=True) != text(
        linked("legal@acme.example", 1), links=True
    )
    assert text(linked("privacy@acme.example", 1), links=True) != text(
        linked("Privacy@acme.example", 1), links=True
    )


def test_a_changed_protected_address_is_a_change() -> None:
    key = 0x5A
    before = page(f'<p>Write to <span data-cfemail="{cf_token("privacy@acme.example", key)}">x</span></p>')
    after = page(f'<p>Write to <span data-cfemail="{cf_token("legal@acme.example", key)}">x</span></p>')
    assert text(before) == "Write to privacy@acme.example"
    assert text(after) == "Write to legal@acme.example"


def test_a_period_moving_out_of_a_link_is_the_same_visible_text() -> None:
    """``address.</a>`` and ``address</a>.`` render identically: no space at inline tag edges."""
    inside = page('<p>Email <a href="mailto:a@acme.example.">a@acme.example.</a> There</p>')
    outside = page('<p>Email <a href="mailto:a@acme.example">a@acme.example</a>. There</p>')
    assert text(inside) == text(outside) == "Email a@acme.example. There"
    assert text(inside, links=True) != text(outside, links=True)  # the target lost its period


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("<a>terms</a> <a>policy</a>", "<a>terms</a><a>policy</a>"),
        ("<b>data</b> sales", "<b>data</b>sales"),
        ("one<br>two", "one two"),
        ("<p>one</p><p>two</p>", "<span>one</span> <span>two</span>"),
    ],
    ids=["space-between-links", "space-after-bold", "line-break", "paragraphs"],
)
def test_whitespace_a_reader_sees_is_kept(before: str, after: str) -> None:
    """The other side of whitespace noise: a space or a line break that renders is text."""
    assert text(page(before)) != text(page(after))


# --- through the real check path ---------------------------------------------------------------------


class Checker:
    """Checks every source of a watchlist at a clock that moves on a day per pass."""

    def __init__(self, store: Store, watchlist: Watchlist, fetcher: Fetcher) -> None:
        self.store, self.watchlist, self.fetcher = store, watchlist, fetcher
        self.day = 0

    def __call__(self) -> dict[str, str]:
        self.day += 1
        at = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=self.day)
        self.store.sync(self.watchlist, at)
        ids = [s.id for s in self.watchlist.sources]
        summary = run_cycle(
            self.store, self.watchlist, self.fetcher, ids, clock=lambda: at, rng=random.Random(1)
        )
        return {r.source_id: r.outcome for r in summary.records}


def count(store: Store, model: type[m.Base]) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_noisy_refetches_record_no_change_until_the_wording_changes(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    wl = write_watchlist(
        f"""
        defaults: {{per_host: 10, per_host_delay: 0s}}
        sources:
          - {{id: article, url: "{site.url("/privacy")}", select: article}}
          - {{id: article-links, url: "{site.url("/privacy")}", select: article, links: true}}
          - {{id: whole-page, url: "{site.url("/privacy")}"}}
        """
    )
    check = Checker(store, wl, fetcher)
    site.put("/privacy", all_noise(1, PLEDGE))
    assert set(check().values()) == {"baseline"}
    for seed in range(2, 5):
        site.put("/privacy", all_noise(seed, PLEDGE))
        assert check() == {"article": "same_text", "article-links": "same_text", "whole-page": "same_text"}
    assert (count(store, m.Snapshot), count(store, m.Change), count(store, m.Event)) == (3, 0, 0)
    site.put("/privacy", all_noise(5, REWORDED))
    assert set(check().values()) == {"changed"}
    for change in store.changes():
        old, new = (store.snapshot_text(i) for i in (change.from_snapshot_id, change.to_snapshot_id))
        diff = differ.compute(old, new)
        assert (diff.added(), diff.removed()) == (["without consent"] * len(NOISE), []), change.source_id
    assert count(store, m.Change) == 3


def test_link_targets_are_watched_only_with_links_on_and_never_their_tracking(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    wl = write_watchlist(
        f"""
        defaults: {{per_host: 10, per_host_delay: 0s}}
        sources:
          - {{id: text-only, url: "{site.url("/privacy")}", select: article}}
          - {{id: with-links, url: "{site.url("/privacy")}", select: article, links: true}}
        """
    )
    check = Checker(store, wl, fetcher)

    def linked(target: str) -> bytes:
        return page(f'<p>{PLEDGE} Opt out <a href="{target}">here</a>.</p>')

    site.put("/privacy", linked("/opt-out?utm_source=mail&amp;gclid=1"))
    assert set(check().values()) == {"baseline"}
    site.put("/privacy", linked("/opt-out?utm_source=web&amp;gclid=2&amp;_gl=1*x"))
    assert check() == {"text-only": "same_text", "with-links": "same_text"}
    site.put("/privacy", linked("/opt-out-v2?utm_source=web"))
    assert check() == {"text-only": "same_text", "with-links": "changed"}
    (change,) = store.changes()
    assert change.source_id == "with-links"
    assert "/opt-out-v2>" in store.snapshot_text(change.to_snapshot_id)


# --- the benchmark itself, on a tiny corpus written here ------------------------------------------------


def write_corpus(root: Path) -> None:
    """Three labelled steps of one document: noise, a reworded sentence, a link-only change."""
    folder = root / "github-policies" / "acme__privacy"
    folder.mkdir(parents=True)
    pages = [
        all_noise(1, PLEDGE),
        all_noise(2, PLEDGE),
        all_noise(3, REWORDED),
        all_noise(4, REWORDED).replace(b"/terms?", b"/terms-2024?"),
    ]
    for number, body in enumerate(pages):
        (folder / f"{number:05d}.html").write_bytes(body)
    steps = []
    for number, (label, text_changed, links_changed) in enumerate(
        [("noise", False, False), ("substantive", True, True), ("substantive", False, True)]
    ):
        steps.append(
            {
                "document": "acme__privacy",
                "before": f"acme__privacy/{number:05d}.html",
                "after": f"acme__privacy/{number + 1:05d}.html",
                "fetched_at": f"2026-01-0{number + 1}T00:00:00+00:00",
                "label": label,
                "url": URL,
                "select": "article",
                "remove": None,
                "selected_text_changed": text_changed,
                "selected_links_changed": links_changed,
            }
        )
    (root / "github-policies" / "cases.json").write_text(json.dumps(steps))


def test_benchmark_scores_a_small_labelled_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_corpus(tmp_path)
    assert detection.main(["--corpus", str(tmp_path), "--obfuscated-fetches", "60"]) == 0
    out = capsys.readouterr().out
    rows = [line.strip("| ").split(" | ") for line in out.splitlines() if line.startswith("| select")]
    assert {(r[0], r[1]): (r[4], r[5], r[6], r[7], r[8]) for r in rows} == {
        ("select/remove", "substantive (label)"): ("1", "0", "1", "1.000", "0.500"),
        ("select/remove", "visible text changed"): ("1", "0", "0", "1.000", "1.000"),
        ("select/remove, links: true", "text or link targets changed"): ("2", "0", "0", "1.000", "1.000"),
        ("select/remove, links: true", "substantive (label)"): ("2", "0", "0", "1.000", "1.000"),
    }
    assert "| url only (whole page) | visible text changed | 1 | 1 | 1 | 0 | 0 | 1.000 | 1.000 |" in out
    assert "Wrong steps:\n- none\n" in out
    assert "Extraction: 4 pages" in out
    # the links of one page written a new way on each of 60 fetches, the address changing twice
    assert "| obfuscated links, links: true | address changed | 2 | 2 | 2 | 0 | 0 | 1.000 | 1.000 |" in out
    assert "| obfuscated links, links: false | address changed | 2 | 0 | 0 | 0 | 2 | 1.000 | 0.000 |" in out


def test_benchmark_without_a_corpus_says_so_and_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert detection.main(["--corpus", str(tmp_path / "absent")]) == 0
    assert capsys.readouterr().out == f"corpus not found at {tmp_path / 'absent'}: nothing to measure\n"
