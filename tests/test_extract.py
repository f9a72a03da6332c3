"""extract: only text a reader can see reaches snapshots, diffs and clause checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ExtractError
from monitor.extract import decode_html, extract, normalize_text
from monitor.fetch import Fetcher
from monitor.store.repo import Store
from tests.conftest import WriteWatchlist
from tests.site import Site
from tests.test_noise import Checker

PAGES = Path(__file__).parent / "fixtures" / "pages"
POLICY_URL = "https://acme.example/policy/facial-recognition"

POLICY_TEXT = """\
Our commitments on facial recognition
Published June 10, 2020 - updated May 18, 2021
Acme Vision will not sell facial recognition technology to police departments in the United States \
until there is a national law in place, grounded in human rights, that will govern this technology.
We are implementing a one-year moratorium on police use of Acme's facial recognition technology. \
We will continue to allow organizations like Thorn, the International Center for Missing and Exploited \
Children, and Marinus Analytics to use it.
Welcome feedback: write to press@example.org or to our privacy team at privacy@example.org.
What this covers
- Sales of "Rekognition" to police departments
- New contracts
and renewals of existing ones
Use | Allowed?
Finding missing children | Yes
Police identification | No - until a law passes
Section 1
Section 1.1
Last updated: May 18, 2021 at 09:14 UTC"""


def html(fragment: str) -> str:
    """Extract a small HTML document, the way most tests here need it."""
    body = f"<!doctype html><html><head><title>T</title></head><body>{fragment}</body></html>"
    return extract(body.encode(), content_type="text/html; charset=utf-8")


def cf_token(address: str, key: int) -> str:
    """Encode an address the way Cloudflare's e-mail protection does (a new key per fetch)."""
    return bytes([key, *(b ^ key for b in address.encode())]).hex()


# --- a real-looking page -------------------------------------------------------------------------


def policy_page(name: str = "acme_policy.html") -> bytes:
    return (PAGES / name).read_bytes()


def test_policy_article_is_extracted_without_page_chrome() -> None:
    text = extract(
        policy_page(), content_type="text/html", select="article", remove=[".related-stories"], url=POLICY_URL
    )
    assert text == POLICY_TEXT


@pytest.mark.parametrize("links", [False, True])
def test_refetch_with_only_noise_gives_the_same_text(links: bool) -> None:
    """New build hashes, hydration data, class names, CF tokens, whitespace, quotes, tracking ids."""

    def article(name: str) -> str:
        return extract(
            policy_page(name),
            content_type="text/html",
            select="article",
            remove=[".related-stories"],
            ignore=[r"^Last updated:.*$"],
            links=links,
            url=POLICY_URL,
        )

    first = article("acme_policy.html")
    assert first == article("acme_policy_refetch.html")
    assert ("<https://www.missingkids.example/?id=42#help>" in first) is links
    assert "Last updated" not in first


def test_whole_page_keeps_visible_chrome_but_no_scripts_head_or_hidden_data() -> None:
    text = extract(policy_page(), content_type="text/html")
    assert "- Newsroom" in text
    assert "We use cookies to improve your experience. Accept all" in text
    assert text.endswith("© 2021 Acme Vision, Inc. All rights reserved. Privacy")
    for unseen in (
        "buildId",
        "dataLayer",
        "Template text",
        "Logo",
        "Enable JavaScript",
        "| Acme Vision",
        ".banner",
    ):
        assert unseen not in text


# --- selection and removal -----------------------------------------------------------------------


def test_select_takes_every_match_in_document_order_once() -> None:
    page = "<div class=x>one<div class=x>two</div></div><p>skipped</p><section class=x>three</section>"
    text = extract(page.encode(), content_type="text/html", select=".x")
    assert text == "one\ntwo\nthree"


def test_select_comma_list_keeps_document_order() -> None:
    page = "<h1>Title</h1><nav>menu</nav><article>Body</article>"
    assert extract(page.encode(), content_type="text/html", select="article, h1") == "Title\nBody"


def test_selector_that_matches_nothing_is_an_error() -> None:
    with pytest.raises(ExtractError, match=r"^selector 'article' matched nothing at https://a\.example/$"):
        extract(
            b"<p>no article here</p>", content_type="text/html", select="article", url="https://a.example/"
        )


def test_invalid_selector_is_an_error_naming_it() -> None:
    with pytest.raises(ExtractError, match=r"invalid CSS selector '\[\[\['"):
        extract(b"<p>x</p>", content_type="text/html", select="[[[")
    with pytest.raises(ExtractError, match=r"invalid CSS selector 'p:::x'"):
        extract(b"<p>x</p>", content_type="text/html", remove=["p:::x"])


def test_remove_drops_matches_inside_the_selection() -> None:
    page = (
        "<article><p>Keep</p><div class=ad>Buy now</div><p>Also keep <span class=ad>ad</span></p></article>"
    )
    assert (
        extract(page.encode(), content_type="text/html", select="article", remove=[".ad"])
        == "Keep\nAlso keep"
    )


def test_selection_or_page_styled_hidden_before_scripts_run_is_still_read() -> None:
    """Pages hide their body until JS runs; an empty text would look like a removed pledge."""
    page = b'<body style="visibility: hidden"><p>Pledge</p><p hidden>Draft</p></body>'
    assert extract(page, content_type="text/html") == "Pledge"
    app = b'<div id="app" style="display:none"><p>Pledge</p><p hidden>Draft</p></div>'
    assert extract(app, content_type="text/html", select="#app") == "Pledge"
    with pytest.raises(ExtractError, match="'#app' matched only empty elements once remove was applied"):
        extract(app, content_type="text/html", select="#app", remove=["#app"])


# --- structure and spacing -----------------------------------------------------------------------


def test_inline_tags_do_not_split_words_or_glue_them() -> None:
    assert (
        html("<p>We<b>lcome</b> <span>to</span>\n<em>the</em><a href='#'> page</a></p>")
        == "Welcome to the page"
    )


def test_block_boundaries_become_lines() -> None:
    assert html("<div>before<p>inside</p>after</div><section>next</section>") == "before\ninside\nafter\nnext"


def test_br_and_hr_break_lines() -> None:
    assert (
        html("<p>line one<br>line two<br/><br>line three</p>x<hr>y") == "line one\nline two\nline three\nx\ny"
    )


def test_table_rows_are_lines_with_cells_joined() -> None:
    table = (
        "<table><caption>Uses</caption><tr><th>Use</th><th>Allowed</th></tr>"
        "<tr><td><p>Police</p><p>(any)</p></td><td>No<br>never</td></tr></table>"
    )
    assert html(table) == "Uses\nUse | Allowed\nPolice (any) | No never"


def test_list_items_get_a_dash_and_definition_lists_lines() -> None:
    page = "<ul><li>one</li><li>two <ol><li>nested</li></ol></li></ul><dl><dt>Term</dt><dd>Meaning</dd></dl>"
    assert html(page) == "- one\n- two\n- nested\nTerm\nMeaning"


def test_pre_keeps_its_lines() -> None:
    assert html("<p>a</p><pre>first\n\n   second   line\nthird</pre>") == "a\nfirst\nsecond line\nthird"


def test_hidden_elements_are_dropped() -> None:
    page = (
        "<p>shown</p><p hidden>attr</p><div style='color:red; DISPLAY : none'>inline none</div>"
        "<span style='visibility:hidden'>invisible</span><p style='display:block'>block</p>"
        "<script>var a = 1;</script><style>p{}</style><noscript>js off</noscript><iframe>f</iframe>"
        "<template>tpl</template><svg><text>svg</text></svg><select><option>opt</option></select>"
    )
    assert html(page) == "shown\nblock"


def test_aria_hidden_text_is_kept_because_it_is_visible() -> None:
    """aria-hidden hides from screen readers only; heading markers like '#' are on screen."""
    assert html("<h2>Summary<span aria-hidden='true'> #</span></h2>") == "Summary #"


def test_empty_page_gives_empty_text() -> None:
    assert html("<div>  <p> \n </p>&nbsp;</div>") == ""


# --- normalization -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\u00a0b", "a b"),  # non-breaking space
        ("\u2018single\u2019 \u201cdouble\u201d \u201elow\u201f", '\'single\' "double" "low"'),
        ("Acme\u02bcs", "Acme's"),  # modifier letter apostrophe
        ("en\u2013em\u2014minus\u2212nb\u2011hyphen\u2010bar\u2015", "en-em-minus-nb-hyphen-bar-"),
        ("zero\u200bwidth\u200c\u200djoin\u2060ed", "zerowidthjoined"),
        ("soft\u00adhyphen", "softhyphen"),
        ("\ufeffbom", "bom"),
        ("wait\u2026", "wait..."),
        ("\ufb01ne \uff21\uff22 \u2167", "fine AB VIII"),  # NFKC: ligature, fullwidth, roman numeral
        ("  many \t\u2003 spaces \u3000  here  ", "many spaces here"),
        ("one\n\n  \n two \r\nthree\u2028four\ffive", "one\ntwo\nthree\nfour\nfive"),
        ("bell\x07 esc\x1b[31m nul\x00 c1\x9b", "bell esc[31m nul c1"),
        ("lone \ud800surrogate", "lone surrogate"),
    ],
    ids=[
        "nbsp",
        "quotes",
        "apostrophe",
        "dashes",
        "zero-width",
        "soft-hyphen",
        "bom",
        "ellipsis",
        "nfkc",
        "spaces",
        "lines",
        "controls",
        "surrogates",
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_a_clause_normalized_alone_is_found_in_the_normalized_page() -> None:
    clause = normalize_text("a one\u2011year moratorium on police use of Acme\u2019s facial recognition")
    assert clause in extract(policy_page(), content_type="text/html", select="article")


def test_nbsp_entity_and_space_give_the_same_text() -> None:
    assert html("<p>facial&nbsp;recognition&#160;&mdash;&nbsp;now</p>") == html(
        "<p>facial recognition - now</p>"
    )


# --- Cloudflare e-mail protection ----------------------------------------------------------------


@pytest.mark.parametrize("key", [0x01, 0x3C, 0xA7, 0xFF])
def test_cloudflare_protected_addresses_are_decoded_whatever_the_key(key: int) -> None:
    token = cf_token("press@example.org", key)
    page = (
        f'<p>Write to <a href="/cdn-cgi/l/email-protection#{token}">[email&#160;protected]</a> or '
        f'<span class="__cf_email__" data-cfemail="{token}">[email&#160;protected]</span>.</p>'
        f'<p><a href="/cdn-cgi/l/email-protection#{token}">Contact us</a></p>'
    )
    assert html(page) == "Write to press@example.org or press@example.org.\nContact us"
    with_links = extract(page.encode(), content_type="text/html", links=True)
    assert with_links == (
        "Write to press@example.org <mailto:press@example.org> or press@example.org.\n"
        "Contact us <mailto:press@example.org>"
    )


def test_cloudflare_link_wrapping_a_protected_span_shows_the_address_once() -> None:
    token = cf_token("a@b.org", 0x42)
    page = (
        f'<a href="/cdn-cgi/l/email-protection#{token}"><span class="__cf_email__" '
        f'data-cfemail="{token}">[email&#160;protected]</span></a>'
    )
    assert html(page) == "a@b.org"


def test_broken_cloudflare_token_leaves_the_placeholder() -> None:
    page = '<span data-cfemail="zz-not-hex">[email&#160;protected]</span><span data-cfemail="">x</span>'
    assert html(page) == "[email protected]x"


# --- ignore patterns -----------------------------------------------------------------------------


def test_ignore_patterns_remove_matches_and_lines_left_empty() -> None:
    page = "<p>Last updated: 09:14 UTC</p><p>Policy text (build 8c1e2f) stays.</p><p>Visitors: 1234</p>"
    text = extract(
        page.encode(),
        content_type="text/html",
        ignore=[r"^Last updated:.*$", r"\(build \w+\)", r"Visitors: \d+"],
    )
    assert text == "Policy text stays."


def test_invalid_ignore_pattern_is_an_error_naming_it() -> None:
    with pytest.raises(ExtractError, match=r"invalid ignore pattern '\(unclosed'"):
        extract(b"<p>x</p>", content_type="text/html", ignore=["(unclosed"])


# --- links ---------------------------------------------------------------------------------------

LINKED = (
    '<p>See <a href="/terms?utm_source=x&amp;section=3&amp;gclid=abc&amp;UTM_Medium=y#sale">the terms</a>, '
    '<a href="https://other.example/p?fbclid=1&amp;mc_cid=2&amp;mc_eid=3&amp;_hsenc=4&amp;_hsmi=5&amp;ref_src=6">'
    'this</a> and <a href="javascript:void(0)">menu</a> <a>no href</a>.</p>'
)


def test_link_targets_are_absent_without_links() -> None:
    assert (
        extract(LINKED.encode(), content_type="text/html", url=POLICY_URL)
        == "See the terms, this and menu no href."
    )


def test_link_targets_follow_link_text_resolved_and_without_tracking() -> None:
    text = extract(LINKED.encode(), content_type="text/html", links=True, url=POLICY_URL)
    assert text == (
        "See the terms <https://acme.example/terms?section=3#sale>, this <https://other.example/p> "
        "and menu no href."
    )


def test_link_target_goes_before_the_punctuation_that_closes_the_link_text() -> None:
    page = (
        b'<p>Write to <a href="mailto:a@b.org">a@b.org.</a> Or <a href="/faq"><b>read this</b>!?</a> '
        b'<a href="/x">...</a> <a href="/e"></a>end</p>'
    )
    assert extract(page, content_type="text/html", links=True) == (
        "Write to a@b.org <mailto:a@b.org>. Or read this </faq>!? ... </x> </e>end"
    )


def test_relative_link_targets_stay_relative_without_a_page_url() -> None:
    page = b'<p><a href="/a/b?x=1#frag">rel</a> <a href="#top">top</a></p>'
    assert extract(page, content_type="text/html", links=True) == "rel </a/b?x=1#frag> top <#top>"


def test_a_changed_link_target_changes_the_text_only_with_links() -> None:
    before = b'<p><a href="/policy-2020">our policy</a></p>'
    after = b'<p><a href="/policy-2021">our policy</a></p>'
    assert extract(before, content_type="text/html") == extract(after, content_type="text/html")
    assert extract(before, content_type="text/html", links=True) != extract(
        after, content_type="text/html", links=True
    )


# --- charsets ------------------------------------------------------------------------------------


def test_utf8_without_any_declaration() -> None:
    body = "<p>Caf\u00e9 \u2014 na\u00efve \u201cquotes\u201d</p>".encode()
    assert extract(body, content_type="text/html") == 'Café - naïve "quotes"'


def test_windows_1252_declared_in_meta() -> None:
    body = '<html><head><meta charset="windows-1252"></head><body><p>\u201cWe won\u2019t\u201d caf\u00e9</p>'
    assert extract(body.encode("cp1252"), content_type="text/html") == '"We won\'t" café'


def test_http_equiv_meta_charset() -> None:
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
    body = meta + "<p>\u00e9t\u00e9 \u2013 ok</p>"
    assert extract(body.encode("cp1252"), content_type="text/html") == "été - ok"


def test_header_charset_wins_over_meta_and_iso_8859_1_means_windows_1252() -> None:
    body = '<meta charset="utf-8"><p>\u201cquoted\u201d</p>'.encode("cp1252")
    assert extract(body, content_type="text/html; charset=ISO-8859-1") == '"quoted"'
    assert extract(body, content_type="text/html", charset="windows-1252") == '"quoted"'


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_byte_order_mark_decides_the_encoding(encoding: str) -> None:
    body = '<meta charset="windows-1252"><p>na\u00efve \u2014 \u65e5\u672c</p>'.encode(encoding)
    assert extract(body, content_type="text/html; charset=iso-8859-1") == "naïve - 日本"


def test_undeclared_invalid_utf8_falls_back_to_windows_1252() -> None:
    assert decode_html(b"<p>caf\xe9 \x93ok\x94</p>", None) == "<p>café \u201cok\u201d</p>"


def test_unknown_charset_label_is_ignored() -> None:
    assert decode_html("<p>\u00e9</p>".encode(), "no-such-charset") == "<p>\u00e9</p>"


# --- other content types -------------------------------------------------------------------------


def test_plain_text_is_decoded_and_normalized() -> None:
    body = "\ufeffWe will\u00a0not sell.\r\n\r\n  Second   line \u2014 here\n".encode()
    assert extract(body, content_type="text/plain") == "We will not sell.\nSecond line - here"


def test_json_is_treated_as_text() -> None:
    body = b'{"pledge": "We will not sell"}'
    assert extract(body, content_type="application/json; charset=utf-8") == '{"pledge": "We will not sell"}'


@pytest.mark.parametrize("content_type", [None, "application/octet-stream"])
def test_html_is_sniffed_when_the_type_is_missing(content_type: str | None) -> None:
    body = b"\n <!DOCTYPE html><html><body><p>Hello <b>there</b></p><script>x()</script></body></html>"
    assert extract(body, content_type=content_type) == "Hello there"


def test_images_are_an_error_naming_the_content_type() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    with pytest.raises(ExtractError, match=r"cannot extract text from content type 'image/png' at https://"):
        extract(png, content_type="image/png", url="https://a.example/logo.png")
    with pytest.raises(ExtractError, match="content type 'unknown'"):
        extract(png, content_type=None)


def minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with a real text content stream, written by hand."""
    stream = "BT /F1 12 Tf 72 720 Td " + " ".join(f"({line}) Tj 0 -16 Td" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


@pytest.mark.parametrize("content_type", ["application/pdf", "application/octet-stream", None])
def test_pdf_text_is_extracted_and_normalized(content_type: str | None) -> None:
    pdf = minimal_pdf(["Acme will not sell facial", "recognition to police   departments."])
    assert extract(pdf, content_type=content_type) == (
        "Acme will not sell facial\nrecognition to police departments."
    )


def test_unreadable_pdf_is_an_error() -> None:
    with pytest.raises(ExtractError, match=r"^unreadable PDF at https://a\.example/p\.pdf"):
        extract(b"%PDF-1.4\n1 0 obj garbage", content_type="application/pdf", url="https://a.example/p.pdf")


# --- hostile pages -------------------------------------------------------------------------------


def test_deeply_nested_blocks_are_refused_quickly() -> None:
    with pytest.raises(ExtractError, match="nested too deeply"):
        extract(b"<div>" * 100_000 + b"deep", content_type="text/html")


def test_deeply_nested_inline_markup_is_read_without_recursion() -> None:
    body = b"<p>top</p>" + b"<span>" * 50_000 + b"deep text" + b"</span>" * 50_000
    assert extract(body, content_type="text/html") == "top\ndeep text"


def test_a_page_of_a_million_tiny_elements_is_refused_before_it_is_built() -> None:
    """8 MB, under max_body: lexbor would take 437 MB for it (benchmarks/page_bombs.py)."""
    body = b"<html><body>" + b"<i>x</i>" * 1_000_000 + b"</body></html>"
    with pytest.raises(ExtractError) as caught:
        extract(body, content_type="text/html", url="https://a.example/bomb")
    assert str(caught.value) == (
        "page too large to read at https://a.example/bomb: over 100,000 elements (8,000,026 bytes);"
        " a policy page has a few thousand"
    )


def test_a_large_real_page_is_still_read() -> None:
    rows = "".join(f"<tr><td>Clause {n}</td><td>text</td></tr>" for n in range(20_000))  # 60,000 elements
    text = extract(f"<table>{rows}</table><p>End.</p>".encode(), content_type="text/html")
    assert text.startswith("Clause 0 | text\n")
    assert text.endswith("Clause 19999 | text\nEnd.")


def test_nul_and_invalid_bytes_do_not_break_extraction() -> None:
    body = b"<p>a\x00b</p><p>\xff\xfe\xc3 tail</p>\x00<p>end</p>"
    assert extract(body, content_type="text/html") == "ab\nÿþÃ tail\nend"


def test_huge_attribute_values_are_harmless() -> None:
    body = b"<p title='" + b"x" * 5_000_000 + b"'>text</p><a href='" + b"y" * 1_000_000 + b"'>link</a>"
    assert extract(body, content_type="text/html") == "text\nlink"


# --- an empty selection is a failed check, never a change to nothing ----------------------------


@pytest.mark.parametrize(
    ("markup", "select"),
    [
        ("<main><div class='app'></div></main>", "main"),
        ("<main>  <p>&nbsp;</p><!-- soon --><script>x()</script></main>", "main"),
        ("<div class='policy'></div><div class='policy'> </div>", ".policy"),
    ],
    ids=["empty", "only-blank-comments-scripts", "several-empty"],
)
def test_a_selection_of_only_empty_elements_is_an_error(markup: str, select: str) -> None:
    with pytest.raises(
        ExtractError, match=f"selector '{select}' matched only empty elements at https://a.example/"
    ):
        extract(markup.encode(), content_type="text/html", select=select, url="https://a.example/")


def test_a_whole_page_without_text_is_still_read_as_empty() -> None:
    """Without a selector nothing was asked for by name; an empty shell reads as empty text."""
    assert extract(b"<html><body><div id='root'></div></body></html>", content_type="text/html") == ""


def test_an_empty_selection_fails_the_check_and_records_no_removal(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    pledge = "We will not sell face recognition to police."
    wl = write_watchlist(
        f"""
        defaults: {{per_host: 10, per_host_delay: 0s}}
        sources:
          - {{id: policy, url: "{site.url("/policy")}", select: "main .policy"}}
        pledges:
          - id: no-police
            company: Acme
            title: No face recognition for police
            made_on: 2020-06-10
            sources: [policy]
            clauses: ["{pledge}"]
        """
    )
    check = Checker(store, wl, fetcher)
    site.put("/policy", f"<html><body><main><div class='policy'><p>{pledge}</p></div></main></body></html>")
    assert check() == {"policy": "baseline"}
    # a redesign: the old wrapper stays as an empty shell, the text moved elsewhere
    site.put("/policy", f"<html><body><main><div class='policy'></div><p>{pledge}</p></main></body></html>")
    assert check() == {"policy": "failed"}
    assert check() == {"policy": "failed"}
    (last,) = store.checks(limit=1)
    assert last.error is not None
    assert "selector 'main .policy' matched only empty elements" in last.error
    assert store.changes() == []
    assert not [e for e in store.events() if e.kind.startswith("pledge.")]
