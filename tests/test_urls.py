"""The URL cleaner: one spelling per address, and never two addresses made one."""

from __future__ import annotations

import pytest

from monitor.urls import canonical_link, decode_char_refs, link_target

BASE = "https://acme.example/policy/"


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("&#109;&#x61;&#X69;lto:a@acme.example", "mailto:a@acme.example"),
        ("&amp;#109;ailto:a@acme.example", "mailto:a@acme.example"),
        ("&amp;amp;#x6d;ailto:a&commat;acme.example", "mailto:a@acme.example"),
        ("MAILTO:%61%2d%62%40ACME.Example", "mailto:a-b@acme.example"),
        ("mailto:\ta@acme.example\n", "mailto:a@acme.example"),
        ("mailto:a@acme.example?subject=Hi%20there", "mailto:a@acme.example?subject=Hi%20there"),
        ("https://acme.example:443/terms", "https://acme.example/terms"),
        ("http://acme.example:80/terms", "http://acme.example/terms"),
        ("https://acme.example/%7eeu/%41", "https://acme.example/~eu/A"),
        ("https://acme.example/a%2fb", "https://acme.example/a%2Fb"),
        ("terms#%73ale", "https://acme.example/policy/terms#sale"),
    ],
)
def test_the_same_address_always_reads_the_same(href: str, expected: str) -> None:
    assert link_target(href, BASE) == expected


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("mailto:privacy@acme.example", "mailto:Privacy@acme.example"),  # local parts may be case-sensitive
        ("https://acme.example/a%2Fb", "https://acme.example/a/b"),  # an escaped slash is not a slash
        ("https://acme.example:8443/terms", "https://acme.example/terms"),
        ("https://acme.example/terms?a=1&copy=2", "https://acme.example/terms?a=1©=2"),
        ("mailto:a%2Cb@acme.example", "mailto:a,b@acme.example"),  # one odd address, not two
        ("https://acme.example/Terms", "https://acme.example/terms"),
    ],
)
def test_different_addresses_stay_different(one: str, other: str) -> None:
    assert link_target(one, BASE) != link_target(other, BASE)


def test_character_references_are_decoded_only_when_closed_and_only_so_often() -> None:
    assert decode_char_refs("a=1&copy=2&amp;b") == "a=1&copy=2&b"
    hostile = "&" + "amp;" * 50 + "#109;"
    assert decode_char_refs(hostile).endswith("#109;")  # bounded work, no endless loop


def test_no_target_for_scripts_and_empty_links() -> None:
    assert link_target("javascript:void(0)", BASE) is None
    assert link_target("&#106;avascript:alert(1)", BASE) is None
    assert link_target("  ", BASE) is None


def test_relative_targets_stay_relative_without_a_base() -> None:
    assert link_target("/terms?utm_source=x&a=1", None) == "/terms?a=1"


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        (
            "HTTPS://News.Example.ORG:443/a?x=1&utm_source=rss&UTM_Medium=e#frag",
            "https://news.example.org/a?x=1",
        ),
        ("http://example.org:8080", "http://example.org:8080/"),
        ("/b?gclid=abc&fbclid=def&mc_cid=1&mc_eid=2&page=2", "https://example.org/b?page=2"),
        ("//cdn.example.org/c", "https://cdn.example.org/c"),
        ("javascript:void(0)", None),
        ("mailto:press@example.org", None),
        ("", None),
        ("http://[::1", None),
    ],
)
def test_canonical_link(href: str, expected: str | None) -> None:
    assert canonical_link(href, "https://example.org/news/") == expected


def test_feed_links_and_link_targets_drop_the_same_tracking_parameters() -> None:
    href = (
        "https://example.org/a?x=1&_ga=2&srsltid=3&pk_campaign=4&hsa_acc=5&mtm_source=6&jsessionid=7"
        "&utm_source=8&fbclid=9&mc_eid=10"
    )
    assert canonical_link(href) == "https://example.org/a?x=1"
    assert link_target(href, None) == "https://example.org/a?x=1"
