"""Feeds and listing pages: stable item keys, canonical links, plain text, and hostile input refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from monitor.errors import FeedError
from monitor.feeds import (
    MAX_BODY_BYTES,
    FeedItem,
    new_items,
    parse_feed,
    parse_listing,
)

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
AMAZON_FEED_URL = "https://www.aboutamazon.com/news/policy-news-views/rss.xml"
MICROSOFT_FEED_URL = "https://blogs.microsoft.com/on-the-issues/feed/atom/"
LISTING_URL = "https://news.microsoft.com/en-us/press/"
MORATORIUM_URL = (
    "https://www.aboutamazon.com/news/policy-news-views/"
    "we-are-implementing-a-one-year-moratorium-on-police-use-of-rekognition"
)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def amazon_feed() -> tuple[FeedItem, ...]:
    return parse_feed(
        fixture("amazon-newsroom-rss2.xml"), url=AMAZON_FEED_URL, content_type="application/rss+xml"
    )


def rss(items: str, *, head: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{head}<rss version="2.0"><channel><title>Newsroom</title>'
        f"<link>https://example.org/</link>{items}</channel></rss>"
    ).encode()


def raised(action: Callable[[], object]) -> BaseException | None:
    """The error ``action`` raised, if any (hostile input tests; their speed is benchmarks/')."""
    try:
        action()
    except Exception as exc:
        return exc
    return None


# --- RSS 2.0 -------------------------------------------------------------------------------------


def test_rss2_items_in_feed_order_keyed_by_guid() -> None:
    items = amazon_feed()
    assert [i.title for i in items] == [
        "Amazon extends moratorium on police use of Rekognition",
        "Amazon opens new fulfillment center in Ohio, creating 1,000 jobs",
        "We are implementing a one-year moratorium on police use of Rekognition",
        "Prime Day 2020 will take place October 13-14",
    ]
    assert [i.key for i in items[:3]] == [
        "aboutamazon-2021-05-18-rekognition-moratorium",
        "aboutamazon-2021-05-12-ohio-fulfillment-center",
        "aboutamazon-2020-06-10-rekognition-moratorium",
    ]


def test_rss2_dates_are_aware_utc() -> None:
    items = amazon_feed()
    assert items[0].published == datetime(2021, 5, 18, 17, 0, tzinfo=UTC)
    assert items[2].published == datetime(2020, 6, 10, 21, 30, tzinfo=UTC)
    assert all(i.published is not None and i.published.utcoffset() == timedelta(0) for i in items)


def test_rss2_links_are_absolute_canonical_and_untracked() -> None:
    links = [i.link for i in amazon_feed()]
    assert links == [
        "https://www.aboutamazon.com/news/policy-news-views/amazon-extends-moratorium-on-police-use-of-rekognition",
        "https://www.aboutamazon.com/news/operations/amazon-opens-new-fulfillment-center-in-ohio",
        MORATORIUM_URL + "?lang=en",
        "https://www.aboutamazon.com/news/retail/prime-day-2020",
    ]


def test_rss2_summary_is_plain_text() -> None:
    first = amazon_feed()[0]
    assert first.summary == (
        "We are extending our moratorium on police use of Rekognition's facial comparison feature "
        "in connection with criminal investigations until further notice."
    )


def test_item_without_guid_is_keyed_by_its_canonical_link() -> None:
    assert amazon_feed()[3].key == "https://www.aboutamazon.com/news/retail/prime-day-2020"


def test_item_without_guid_or_link_is_keyed_by_title_and_date() -> None:
    item = "<item><title>Statement on facial recognition</title><pubDate>{}</pubDate></item>"
    june = rss(item.format("Wed, 10 Jun 2020 12:00:00 GMT"))
    july = rss(item.format("Fri, 10 Jul 2020 12:00:00 GMT"))
    (first,) = parse_feed(june, url="https://example.org/rss")
    (again,) = parse_feed(june, url="https://example.org/rss")
    (later,) = parse_feed(july, url="https://example.org/rss")
    assert first.link is None
    assert first.key.startswith("sha256:")
    assert first.key == again.key
    assert first.key != later.key


def test_reordered_and_resent_feed_yields_the_same_keys_and_nothing_new() -> None:
    first = amazon_feed()
    resent = parse_feed(fixture("amazon-newsroom-rss2-resent.xml"), url=AMAZON_FEED_URL)
    assert len(resent) == 5  # one item sent twice
    assert {i.key for i in resent} == {i.key for i in first}
    assert new_items(resent, {i.key for i in first}) == ()


def test_new_items_keeps_order_and_drops_repeats_within_the_feed() -> None:
    resent = parse_feed(fixture("amazon-newsroom-rss2-resent.xml"), url=AMAZON_FEED_URL)
    fresh = new_items(resent, {"aboutamazon-2021-05-12-ohio-fulfillment-center"})
    assert [i.key for i in fresh] == [
        "https://www.aboutamazon.com/news/retail/prime-day-2020",
        "aboutamazon-2020-06-10-rekognition-moratorium",
        "aboutamazon-2021-05-18-rekognition-moratorium",
    ]


def test_relative_links_resolve_against_the_feed_url() -> None:
    body = rss("<item><title>A</title><link>../press/2020/a.html?utm_campaign=x&amp;id=7#top</link></item>")
    (item,) = parse_feed(body, url="https://Example.org/news/feed.xml")
    assert item.link == "https://example.org/press/2020/a.html?id=7"


# --- Atom and RSS 1.0 ----------------------------------------------------------------------------


def test_atom_feed_resolves_xml_base_and_reads_html_titles() -> None:
    items = parse_feed(
        fixture("microsoft-on-the-issues-atom.xml"),
        url=MICROSOFT_FEED_URL,
        content_type="application/atom+xml",
    )
    assert [(i.key, i.link) for i in items] == [
        (
            "tag:blogs.microsoft.com,2020-06-11:/on-the-issues/?p=61403",
            "https://blogs.microsoft.com/on-the-issues/2020/06/11/facial-recognition-police-national-law/",
        ),
        (
            "tag:blogs.microsoft.com,2020-06-09:/blog/?p=61388",
            "https://blogs.microsoft.com/blog/2020/06/09/azure-datacenter-region-qatar/",
        ),
        (
            "tag:blogs.microsoft.com,2018-12-06:/on-the-issues/?p=60103",
            "https://blogs.microsoft.com/on-the-issues/2018/12/06/facial-recognition-its-time-for-action/",
        ),
    ]
    assert items[0].title == "Microsoft won't sell facial recognition to US police departments"
    assert items[2].title == "Facial recognition: It's time for action"  # type="xhtml"
    assert items[0].published == datetime(2020, 6, 11, 18, 45, tzinfo=UTC)  # published, not updated
    assert items[1].published == datetime(2020, 6, 9, 9, 0, tzinfo=UTC)  # only updated
    assert items[2].summary.startswith("We believe it's time for governments to adopt laws")  # from <content>
    assert "<" not in items[2].summary


def test_rss1_feed_in_latin1() -> None:
    items = parse_feed(fixture("ibm-newsroom-rss1.xml"), url="https://newsroom.ibm.com/rss")
    assert [i.title for i in items] == [
        "IBM CEO's Letter to Congress on Racial Justice Reform",
        "IBM Z Day: mainframe innovation for hybrid cloud in Zürich",
    ]
    assert items[0].link == (
        "https://newsroom.ibm.com/2020-06-08-IBM-CEOs-Letter-to-Congress-on-Racial-Justice-Reform"
    )  # mc_cid and mc_eid dropped
    assert items[0].published == datetime(2020, 6, 9, 0, 0, tzinfo=UTC)
    assert items[1].summary == "Sessions from IBM researchers in Rüschlikon."


def test_rss091_doctype_is_allowed_and_its_dtd_never_fetched(httpserver: HTTPServer) -> None:
    dtd = httpserver.url_for("/rss-0.91.dtd")
    httpserver.expect_request("/rss-0.91.dtd").respond_with_data('<!ENTITY x "y">')
    body = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "{dtd}">\n'
        '<rss version="0.91"><channel><title>Old newsroom</title><link>https://example.org/</link>'
        "<item><title>IBM exits facial recognition business</title>"
        "<link>https://example.org/ibm-exits</link></item></channel></rss>"
    ).encode()
    (item,) = parse_feed(body, url="https://example.org/rss091.xml")
    assert item.title == "IBM exits facial recognition business"
    assert httpserver.log == []


def test_empty_feed_is_valid_with_zero_items() -> None:
    assert parse_feed(rss(""), url="https://example.org/rss") == ()


def test_empty_body_is_an_error() -> None:
    with pytest.raises(FeedError, match=r"^the feed is empty$"):
        parse_feed(b"  \n", url="https://example.org/rss")


# --- broken and wrong documents ------------------------------------------------------------------


def test_invalid_xml_names_the_problem_and_its_position() -> None:
    body = (
        b'<?xml version="1.0"?>\n<rss version="2.0">\n<channel>\n  <title>Newsroom</title\n</channel></rss>'
    )
    with pytest.raises(FeedError) as caught:
        parse_feed(body, url="https://example.org/rss")
    assert str(caught.value) == "invalid XML at line 5, column 1: not well-formed (invalid token)"


def test_malformed_feed_whose_items_can_be_read_is_accepted() -> None:
    # A bare "&" is the commonest feed bug; refusing the feed would hide every statement in it.
    body = rss(
        "<item><title>AT&T and Amazon on facial recognition</title><link>https://example.org/a</link></item>"
    )
    (item,) = parse_feed(body, url="https://example.org/rss")
    assert item.link == "https://example.org/a"
    assert "facial recognition" in item.title


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<!DOCTYPE html>\n<html><head><title>Newsroom</title></head><body></body></html>", None),
        (b"\xef\xbb\xbf  <!-- cms --> <html lang=en><body><p>Press", "application/rss+xml"),
        (b"<head><title>Sign in</title><body><p>Please sign in<br></body>", None),
        (b'<div class="login"><p>Please sign in<br></p></div>', "text/html; charset=utf-8"),
        (b'<div class="login"><p>Please sign in</p></div>', "text/html"),
        (
            b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
            "application/xml",
        ),
    ],
    ids=["doctype", "html-tag-despite-feed-type", "head-tag", "html-type-fragment", "html-type-div", "xhtml"],
)
def test_html_page_instead_of_a_feed(body: bytes, content_type: str | None) -> None:
    with pytest.raises(FeedError, match=r"^expected an RSS or Atom feed, got an HTML page$"):
        parse_feed(body, url="https://example.org/rss", content_type=content_type)


def test_feed_served_as_text_html_is_still_read() -> None:
    body = rss("<item><title>Statement</title><link>https://example.org/s</link></item>")
    (item,) = parse_feed(body, url="https://example.org/rss", content_type="text/html; charset=UTF-8")
    assert item.title == "Statement"


def test_xml_that_is_not_a_feed() -> None:
    body = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>'
    with pytest.raises(FeedError, match=r"^expected an RSS or Atom feed, .* root element is <svg>$"):
        parse_feed(body, url="https://example.org/rss")


# --- hostile input -------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>"""
ENTITY_ERROR = "feed rejected: it declares XML entities (possible entity-expansion attack)"


def test_billion_laughs_is_rejected() -> None:
    error = raised(lambda: parse_feed(BILLION_LAUGHS, url="https://example.org/rss"))
    assert isinstance(error, FeedError)
    assert str(error) == ENTITY_ERROR


def test_external_entity_is_rejected_and_the_file_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:SECRET-MARKER:/root:/bin/bash\n")
    for target in ("file:///etc/passwd", secret.as_uri()):
        body = rss(
            "<item><title>&xxe;</title><link>https://example.org/a</link></item>",
            head=f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{target}">]>\n',
        )
        with pytest.raises(FeedError) as caught:
            parse_feed(body, url="https://example.org/rss")
        assert str(caught.value) == ENTITY_ERROR
        assert "SECRET-MARKER" not in str(caught.value)
        assert "root:" not in str(caught.value)


def test_external_parameter_entity_is_rejected_without_a_request(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/evil.dtd").respond_with_data('<!ENTITY leak "stolen">')
    body = rss(
        "<item><title>x</title></item>",
        head=f'<!DOCTYPE rss [<!ENTITY % remote SYSTEM "{httpserver.url_for("/evil.dtd")}"> %remote;]>\n',
    )
    with pytest.raises(FeedError, match=r"^feed rejected: it declares XML entities"):
        parse_feed(body, url="https://example.org/rss")
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<rss>" + b"<x>" * 100_000 + b"</x>" * 100_000 + b"</rss>", "nested more than 256 levels deep"),
        (b"<rss><channel><item><title>" + b"<x>" * 100_000, "nested more than 256 levels deep"),
        (b"<rss>" + b" " * MAX_BODY_BYTES + b"</rss>", "more than the 5,000,000 byte limit"),
        (b"\x00" * 10_000, "invalid XML at line 1, column 1"),
        (b"\xff\xfe\x00<\x00r" * 1000, "invalid XML"),
    ],
    ids=["deeply-nested", "deeply-nested-unclosed", "huge", "nul-bytes", "garbage"],
)
def test_hostile_feed_is_refused(body: bytes, message: str) -> None:
    error = raised(lambda: parse_feed(body, url="https://example.org/rss"))
    assert isinstance(error, FeedError)
    assert message in str(error)


def test_nul_bytes_inside_an_item_never_reach_its_fields() -> None:
    body = rss(
        "<item><guid>id-\x001</guid><title>Face\x00book</title><link>https://example.org/\x00a</link></item>"
    )
    (item,) = parse_feed(body, url="https://example.org/rss")
    assert "\x00" not in item.key + item.title + (item.link or "")


# --- listing pages -------------------------------------------------------------------------------


def microsoft_listing(item_select: str) -> tuple[FeedItem, ...]:
    return parse_listing(fixture("microsoft-newsroom-listing.html"), url=LISTING_URL, item_select=item_select)


def test_listing_containers_take_the_headline_link_text_and_time() -> None:
    items = microsoft_listing("li.press-item")
    assert [(i.title, i.link) for i in items] == [
        (
            "Microsoft won't sell facial recognition to police",
            "https://news.microsoft.com/en-us/press/2020/06/11/facial-recognition-police/?ocid=newsroom_home",
        ),
        ("Azure comes to Qatar", "https://news.microsoft.com/en-us/press/2020/06/09/azure-qatar/"),
        (
            "Facial recognition: It's time for action",
            "https://news.microsoft.com/en-us/press/2018/12/06/time-for-action/",
        ),
    ]  # the promo card without a link is not an item
    assert [i.key for i in items] == [i.link for i in items]
    assert [i.published for i in items] == [
        datetime(2020, 6, 11, 18, 45, tzinfo=UTC),
        datetime(2020, 6, 9, tzinfo=UTC),  # a date alone is midnight UTC
        None,
    ]
    assert (
        items[1].summary == "June 9, 2020 Azure comes to Qatar A new datacenter region for Azure customers."
    )


def test_listing_plain_links_have_no_summary() -> None:
    items = microsoft_listing("a.archive-link")
    assert [(i.title, i.link, i.summary, i.published) for i in items] == [
        ("2017 press releases", "https://news.microsoft.com/en-us/press/2017/", "", None),
        ("2016 press releases", "https://news.microsoft.com/en-us/press/2016/", "", None),
    ]


def test_listing_links_to_the_same_page_are_one_item_with_a_title() -> None:
    items = microsoft_listing(".press-list a")
    assert len(items) == 3
    assert items[0].title == "Microsoft won't sell facial recognition to police"  # not the image link's ""


def test_listing_honours_base_href_and_skips_non_http_links() -> None:
    body = (
        b'<html><head><base href="https://cdn.example.org/news/"></head><body><ul>'
        b'<li><a href="javascript:void(0)">Share</a></li>'
        b'<li><a href="mailto:press@example.org">Contact</a></li>'
        b'<li><a href="2020/statement.html">Statement on facial recognition</a></li>'
        b"</ul></body></html>"
    )
    (item,) = parse_listing(body, url="https://example.org/news/", item_select="li a")
    assert item.link == "https://cdn.example.org/news/2020/statement.html"


def test_listing_decodes_the_declared_charset() -> None:
    body = "<ul><li><a href='/z'>Déclaration sur la reconnaissance faciale</a></li></ul>".encode("cp1252")
    (item,) = parse_listing(body, url="https://example.org/", item_select="li", charset="windows-1252")
    assert item.title == "Déclaration sur la reconnaissance faciale"


def test_listing_selector_that_matches_nothing() -> None:
    with pytest.raises(FeedError) as caught:
        microsoft_listing("article.news-card")
    assert str(caught.value) == "item selector 'article.news-card' matched nothing on the listing page"


def test_listing_selector_that_matches_no_links() -> None:
    with pytest.raises(FeedError, match=r"^item selector 'h1' matched 1 element but none holds a link$"):
        microsoft_listing("h1")


def test_listing_invalid_selector() -> None:
    with pytest.raises(FeedError, match=r"^invalid CSS selector 'li\[':"):
        microsoft_listing("li[")


def test_listing_nested_too_deeply_is_refused() -> None:
    body = b"<div>" * 100_000 + b"<a href='/x'>x</a>"
    error = raised(lambda: parse_listing(body, url="https://example.org/", item_select="a"))
    assert isinstance(error, FeedError)
    assert "nested too deeply" in str(error)


# --- staleness -------------------------------------------------------------------------


def item(published: datetime | None, key: str = "k") -> FeedItem:
    return FeedItem(key=key, link=None, title="t", summary="", published=published)


def test_listing_text_is_read_as_page_text_is() -> None:
    """One HTML-to-text walker: icons, scripts and templates are no more part of a headline than of a page."""
    body = (
        b"<ul><li><a href='/a'>Our pledge <svg><title>arrow icon</title></svg>"
        b"<template>draft</template></a><script>track()</script>"
        b"<table><tr><td>June 9</td><td>Policy</td></tr></table></li></ul>"
    )
    (item,) = parse_listing(body, url="https://example.org/news/", item_select="li")
    assert item.title == "Our pledge"
    assert item.summary == "Our pledge June 9 Policy"
