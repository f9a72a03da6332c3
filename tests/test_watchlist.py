"""watchlist.yaml loading: every rule, every message located by file, line and key path."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from textwrap import dedent

import pytest
from pydantic import ValidationError

from monitor.errors import NotFoundError, WatchlistError
from monitor.events import Severity
from monitor.watchlist import (
    BrowserSource,
    FeedSource,
    ItemSource,
    ListingSource,
    PageSource,
    SourceKind,
    Watchlist,
    load_watchlist,
    missing_env_vars,
    parse_duration,
    parse_watchlist,
)

FIXTURES = Path(__file__).parent / "fixtures" / "watchlists"
BAD_FILES = sorted((FIXTURES / "bad").glob("*.yaml"))

IBM_URL = "https://www.ibm.com/policy/facial-recognition-sunset-racial-justice-reforms/"


def issues_of(text: str) -> list[str]:
    with pytest.raises(WatchlistError) as caught:
        parse_watchlist(dedent(text))
    return [str(issue) for issue in caught.value.issues]


@pytest.fixture(scope="module")
def good() -> Watchlist:
    return load_watchlist(FIXTURES / "good.yaml")


# --------------------------------------------------------------------------- one bad file per rule


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.stem for p in BAD_FILES])
def test_bad_file_reports_its_rule_with_file_line_and_key(path: Path) -> None:
    first_line = path.read_bytes().decode("utf-8", "replace").splitlines()[0]
    assert first_line.startswith("# expect: "), f"{path.name} must say what it expects"
    expected = first_line.removeprefix("# expect: ")
    assert expected.startswith(f"{path.name}:"), "the expectation names the file and the line"

    with pytest.raises(WatchlistError) as caught:
        load_watchlist(path)

    assert any(expected in str(issue) for issue in caught.value.issues), str(caught.value)
    for issue in caught.value.issues:
        assert issue.file == str(path)
        assert issue.line is not None


def test_bad_files_cover_distinct_rules() -> None:
    expectations = [p.read_bytes().decode("utf-8", "replace").splitlines()[0] for p in BAD_FILES]
    assert len(BAD_FILES) >= 50
    assert len(set(expectations)) == len(expectations)


# --------------------------------------------------------------------------- the good example


def test_good_example_defaults(good: Watchlist) -> None:
    d = good.defaults
    assert d.interval == timedelta(hours=6)
    assert d.timeout == timedelta(seconds=20)
    assert d.user_agent == "pledge-monitor/0.1 (+https://example.org/pledge-monitor)"
    assert d.confirm_after == timedelta(minutes=15)
    assert d.gone_after == timedelta(days=2)
    assert d.failing_after == 4
    assert d.max_body == 5_000_000
    assert (d.concurrency, d.per_host) == (8, 1)
    assert d.per_host_delay == timedelta(seconds=2)
    assert d.expiry_reminders == (30, 7, 1)
    assert d.stale_after == timedelta(days=2)
    assert d.jitter == pytest.approx(0.2)


def test_good_example_sources(good: Watchlist) -> None:
    assert [s.id for s in good.sources] == [
        "ibm-letter",
        "amazon-moratorium-post",
        "amazon-press-center",
        "microsoft-on-the-issues",
        "microsoft-face-limited-access",
    ]
    ibm = good.source("ibm-letter")
    assert ibm.url == IBM_URL
    assert ibm.kind == "page"
    assert ibm.select == "article"
    assert ibm.remove == (".ibm-share", "nav", "footer")
    assert ibm.ignore == (r"\d+ min read", r"Updated \w+ \d{1,2}, \d{4}")
    assert dict(ibm.headers) == {"Accept-Language": "en-US"}
    assert ibm.links is False
    assert isinstance(ibm, PageSource)

    amazon = good.source("amazon-moratorium-post")
    assert amazon.remove == (".share-buttons",)  # a single string is a one-item list
    assert amazon.headers == {}

    listing = good.source("amazon-press-center")
    assert isinstance(listing, ListingSource)
    assert (listing.kind, listing.item_select) == ("listing", "a.news-release-title")
    assert isinstance(good.source("microsoft-on-the-issues"), FeedSource)


def test_sources_inherit_unset_settings_from_defaults(good: Watchlist) -> None:
    ibm = good.source("ibm-letter")
    assert (ibm.interval, ibm.timeout, ibm.confirm_after, ibm.failing_after) == (
        timedelta(hours=6),
        timedelta(seconds=20),
        timedelta(minutes=15),
        4,
    )
    amazon = good.source("amazon-moratorium-post")
    assert (amazon.interval, amazon.confirm_after) == (timedelta(hours=1), timedelta(minutes=5))
    assert (amazon.gone_after, ibm.gone_after) == (timedelta(hours=12), timedelta(days=2))
    assert amazon.timeout == timedelta(seconds=20)
    feed = good.source("microsoft-on-the-issues")
    assert (feed.interval, feed.timeout, feed.failing_after) == (timedelta(hours=6), timedelta(minutes=1), 6)


def test_without_defaults_section_sources_get_the_built_in_defaults() -> None:
    watchlist = parse_watchlist(f"sources:\n  - id: ibm-letter\n    url: {IBM_URL}\n")
    source = watchlist.source("ibm-letter")
    assert (source.interval, source.timeout, source.confirm_after, source.failing_after) == (
        timedelta(hours=6),
        timedelta(seconds=30),
        timedelta(minutes=10),
        3,
    )
    assert source.gone_after == timedelta(days=1)
    d = watchlist.defaults
    assert d.user_agent == "pledge-monitor/0.1 (+https://github.com/pledge-monitor)"
    assert (d.max_body, d.concurrency, d.per_host, d.expiry_reminders) == (10_000_000, 10, 2, (30, 7))
    assert (d.per_host_delay, d.stale_after, d.jitter) == (timedelta(seconds=1), timedelta(days=3), 0.1)
    assert watchlist.pledges == ()
    assert watchlist.routes == ()


def test_empty_sources_list_is_allowed() -> None:
    assert parse_watchlist("sources: []\n").sources == ()


def test_good_example_pledges(good: Watchlist) -> None:
    ibm = good.pledge("ibm-exit-general-purpose-facial-recognition")
    assert (ibm.company, ibm.made_on, ibm.expires_on, ibm.renewed) == ("IBM", date(2020, 6, 8), None, None)
    assert (
        ibm.clauses[0] == "IBM no longer offers general purpose IBM facial recognition or analysis software"
    )
    assert len(ibm.clauses) == 2
    assert ibm.sources == ("ibm-letter",)
    assert ibm.effective_expiry() is None

    amazon = good.pledge("amazon-rekognition-moratorium")
    assert amazon.expires_on == date(2021, 6, 10)
    assert amazon.renewed is not None
    assert amazon.renewed.until is None  # indefinite
    assert amazon.renewed.on == date(2021, 5, 18)  # `on:` is a key here, not YAML 1.1's True
    assert amazon.renewed.source == "amazon-press-center"
    assert amazon.effective_expiry() is None
    assert amazon.keywords == ("Rekognition", "facial recognition", "moratorium", "police")
    assert amazon.tags == ("facial-recognition", "police")

    microsoft = good.pledge("microsoft-no-police-sales")
    assert len(microsoft.clauses) == 1
    assert microsoft.clauses[0].startswith("we will not sell")


def test_effective_expiry_follows_a_dated_renewal() -> None:
    text = (FIXTURES / "good.yaml").read_text().replace("until: indefinite", "until: 2022-06-10")
    amazon = parse_watchlist(text).pledge("amazon-rekognition-moratorium")
    assert amazon.expires_on == date(2021, 6, 10)
    assert amazon.effective_expiry() == date(2022, 6, 10)


def test_good_example_routes_keep_secret_templates(good: Watchlist) -> None:
    console, slack, auditors = good.routes
    assert (console.name, console.urls, console.events) == ("console", ("console://",), ("*",))
    assert console.min_severity is Severity.INFO
    assert console.digest is None
    assert slack.urls == ("slack://${SLACK_TOKEN_A}/${SLACK_TOKEN_B}/${SLACK_TOKEN_C}/#pledge-alerts",)
    assert slack.events == ("pledge.*", "source.gone", "statement.new")
    assert slack.min_severity is Severity.HIGH
    assert (slack.companies, slack.tags) == (("Amazon", "Microsoft"), ("police",))
    assert auditors.urls[0] == "mailtos://${SMTP_USER}:${SMTP_PASS}@smtp.example.org?to=audit@example.org"
    assert auditors.pledges == ("ibm-exit-general-purpose-facial-recognition",)
    assert auditors.digest == "daily"


def test_models_are_frozen(good: Watchlist) -> None:
    source = good.sources[0]
    with pytest.raises(ValidationError):
        source.interval = timedelta(minutes=1)
    with pytest.raises(TypeError):
        source.headers["Accept-Language"] = "fr"  # type: ignore[index]
    assert hash(source) == hash(good.source("ibm-letter"))


def test_lookups_suggest_the_closest_id(good: Watchlist) -> None:
    assert good.pledges_for("amazon-press-center") == (good.pledge("amazon-rekognition-moratorium"),)
    assert good.pledges_for("microsoft-face-limited-access")[0].company == "Microsoft"
    assert good.pledges_for("nobody") == ()
    assert good.route("auditors").digest == "daily"
    with pytest.raises(
        NotFoundError, match=r"no source 'ibm-leter' in .*good.yaml \(did you mean 'ibm-letter'\?\)"
    ):
        good.source("ibm-leter")
    with pytest.raises(NotFoundError, match="did you mean 'microsoft-no-police-sales'"):
        good.pledge("microsoft-no-police-sale")
    with pytest.raises(NotFoundError, match="no route 'pagerduty'"):
        good.route("pagerduty")


def test_rules_fingerprint_changes_with_extraction_rules_only(good: Watchlist) -> None:
    ibm = good.source("ibm-letter")
    fingerprint = ibm.rules_fingerprint()
    assert len(fingerprint) == 64
    assert int(fingerprint, 16) >= 0
    assert ibm.model_copy(update={"interval": timedelta(minutes=5)}).rules_fingerprint() == fingerprint
    for change in (
        {"select": "main"},
        {"remove": ("nav",)},
        {"ignore": ()},
        {"links": True},
        {"kind": "feed"},
    ):
        assert ibm.model_copy(update=change).rules_fingerprint() != fingerprint, change


def test_watchlist_path_is_the_filename() -> None:
    watchlist = parse_watchlist("sources: []\n", filename="config/watchlist.yaml")
    assert watchlist.path == Path("config/watchlist.yaml")


# --------------------------------------------------------------------------- messages


def test_unknown_source_message_matches_the_issue_text() -> None:
    text = """\
        sources:
          - id: ibm-letter
            url: https://www.ibm.com/policy/facial-recognition-sunset-racial-justice-reforms/
        pledges:
          - {id: a, company: IBM, title: T, made_on: 2020-06-08, sources: [ibm-letter], clauses: [c]}
          - {id: b, company: IBM, title: T, made_on: 2020-06-08, sources: [ibm-letter], clauses: [c]}
          - id: ibm-exit-general-purpose-facial-recognition
            company: IBM
            title: No general purpose facial recognition or analysis software
            made_on: 2020-06-08
            clauses:
              - IBM no longer offers general purpose IBM facial recognition or analysis software
            sources:
              - ibm-leter
        """
    assert issues_of(text) == [
        "watchlist.yaml:14: pledges[2].sources[0]: unknown source 'ibm-leter' (did you mean 'ibm-letter'?)"
    ]


def test_duration_message_matches_the_issue_text() -> None:
    text = f"""\
        sources:
          - id: ibm-letter
            url: {IBM_URL}
          - id: microsoft-on-the-issues
            kind: feed
            url: https://blogs.microsoft.com/on-the-issues/feed/
            interval: 6 hours
        """
    assert issues_of(text) == [
        "watchlist.yaml:7: sources[1].interval: expected a duration like 30m, 6h or 1d, got '6 hours'"
    ]


def test_all_errors_are_collected_in_line_order() -> None:
    text = f"""\
        defaults:
          timeout: soon
        sources:
          - id: ibm-letter
            url: {IBM_URL}
            ignore: ["(unclosed"]
          - id: amazon-moratorium-post
            url: https://www.aboutamazon.com/news/policy-news-views/police-use-of-rekognition
            kind: webpage
        pledges:
          - id: amazon-rekognition-moratorium
            company: Amazon
            title: Moratorium on police use of Rekognition
            made_on: 2020-06-10
            expires_on: 2019-06-10
            sources: [amazon-moratorium]
            clauses: ["a one-year moratorium on police use of Amazon's facial recognition technology"]
        routes:
          slack:
            urls: ["slack://${{SLACK_TOKEN}}"]
            events: [pledges.*]
        """
    keys = [issue.split(": ")[0:2] for issue in issues_of(text)]
    assert keys == [
        ["watchlist.yaml:2", "defaults.timeout"],
        ["watchlist.yaml:6", "sources[0].ignore[0]"],
        ["watchlist.yaml:9", "sources[1].kind"],
        ["watchlist.yaml:15", "pledges[0].expires_on"],
        ["watchlist.yaml:16", "pledges[0].sources[0]"],
        ["watchlist.yaml:21", "routes.slack.events[0]"],
    ]


def test_a_missing_key_is_reported_on_its_parent_line() -> None:
    text = """\
        sources:

          - id: ibm-letter
            select: article
        """
    assert issues_of(text) == [
        "watchlist.yaml:3: sources[0].url: missing required key; expected the http(s) URL to watch"
    ]


def test_duplicate_yaml_keys_at_every_level() -> None:
    text = f"""\
        sources:
          - id: ibm-letter
            url: {IBM_URL}
        routes:
          console:
            urls: ["console://"]
          console:
            urls: ["json://127.0.0.1:8080/"]
        sources: []
        """
    assert issues_of(text) == [
        "watchlist.yaml:7: routes.console: duplicate key 'console' (first on line 5)",
        "watchlist.yaml:9: sources: duplicate key 'sources' (first on line 1)",
    ]


def test_anchors_and_merge_keys_are_plain_data() -> None:
    text = """\
        sources:
          - &amazon
            id: amazon-moratorium-post
            url: https://www.aboutamazon.com/news/policy-news-views/police-use-of-rekognition
            remove: &chrome [".share-buttons", "nav"]
          - <<: *amazon
            id: amazon-moratorium-post-2021
            remove: *chrome
            select: article
        """
    first, second = parse_watchlist(dedent(text)).sources
    assert second.id == "amazon-moratorium-post-2021"
    assert (second.url, second.remove, second.select) == (first.url, (".share-buttons", "nav"), "article")


def test_recursive_alias_is_an_error() -> None:
    assert issues_of("sources: &loop [*loop]\n")[0].startswith(
        "watchlist.yaml:1: sources[0]: an alias refers to"
    )


def test_missing_file_is_a_watchlist_error(tmp_path: Path) -> None:
    missing = tmp_path / "watchlist.yaml"
    with pytest.raises(WatchlistError, match=r"watchlist\.yaml: file not found"):
        load_watchlist(missing)
    with pytest.raises(WatchlistError, match="is a directory"):
        load_watchlist(tmp_path)


# --------------------------------------------------------------------------- kinds of source


def test_a_page_refuses_the_key_of_a_listing_with_its_line() -> None:
    found = issues_of(
        """
        sources:
          - id: newsroom
            url: https://example.org/news
            item_select: "ul.news a"
        """
    )
    assert found == [
        "watchlist.yaml:5: sources[0].item_select: only used by kind listing, this source is kind page; "
        "remove it, or set kind: listing"
    ]


def test_a_feed_refuses_the_keys_of_a_page_each_on_its_line() -> None:
    found = issues_of(
        """
        sources:
          - id: newsroom
            kind: feed
            url: https://example.org/news.xml
            select: article
            remove: [nav]
            ignore: ['Updated .*']
            links: true
            item_select: "ul.news a"
        """
    )
    advice = (
        "remove it (a feed is read as its list of items; to watch part of a page, add a source of kind page)"
    )
    assert found == [
        f"watchlist.yaml:6: sources[0].select: only used by kind page, this source is kind feed; {advice}",
        f"watchlist.yaml:7: sources[0].remove: only used by kind page, this source is kind feed; {advice}",
        f"watchlist.yaml:8: sources[0].ignore: only used by kind page, this source is kind feed; {advice}",
        f"watchlist.yaml:9: sources[0].links: only used by kind page, this source is kind feed; {advice}",
        "watchlist.yaml:10: sources[0].item_select: only used by kind listing, this source is kind feed; "
        + advice,
    ]


def test_a_listing_refuses_the_keys_of_a_page_with_their_lines() -> None:
    found = issues_of(
        """
        sources:
          - id: newsroom
            kind: listing
            url: https://example.org/news
            item_select: "ul.news a"
            select: main
            links: true
        """
    )
    advice = (
        "remove it (a listing is read as the links item_select picks; to watch the page's text, "
        "add a source of kind page)"
    )
    assert found == [
        f"watchlist.yaml:7: sources[0].select: only used by kind page, this source is kind listing; {advice}",
        f"watchlist.yaml:8: sources[0].links: only used by kind page, this source is kind listing; {advice}",
    ]


def test_a_key_of_another_kind_is_reported_with_the_other_problems_of_its_source() -> None:
    found = issues_of(
        """
        sources:
          - id: newsroom
            kind: feed
            select: article
            interval: soon
        """
    )
    assert [issue.split(": ")[:2] for issue in found] == [
        ["watchlist.yaml:3", "sources[0].url"],
        ["watchlist.yaml:5", "sources[0].select"],
        ["watchlist.yaml:6", "sources[0].interval"],
    ]


def test_kind_item_is_made_by_checks_and_cannot_be_written() -> None:
    found = issues_of(
        """
        sources:
          - id: newsroom
            kind: item
            url: https://example.org/news/1
        """
    )
    assert found == ["watchlist.yaml:4: sources[0].kind: expected 'page', 'feed' or 'listing', got 'item'"]


def test_each_kind_loads_as_its_own_model() -> None:
    watchlist = parse_watchlist(
        dedent(
            """
            sources:
              - {id: policy, url: "https://example.org/policy", select: main}
              - {id: news, kind: feed, url: "https://example.org/news.xml"}
              - {id: releases, kind: listing, url: "https://example.org/news", item_select: "li a"}
            """
        )
    )
    page, feed, listing = watchlist.sources
    assert isinstance(page, PageSource)
    assert isinstance(feed, FeedSource)
    assert isinstance(listing, ListingSource)
    assert [s.kind for s in watchlist.sources] == [SourceKind.PAGE, SourceKind.FEED, SourceKind.LISTING]
    assert [s.kind for s in watchlist.sources] == ["page", "feed", "listing"]  # what the store writes


def test_an_item_page_takes_its_parents_settings_and_a_browser_only_from_a_listing() -> None:
    watchlist = parse_watchlist(
        dedent(
            """
            defaults:
              browser: true
            sources:
              - {id: news, kind: feed, url: "https://example.org/news.xml", interval: 2h}
              - {id: releases, kind: listing, url: "https://example.org/news", item_select: "li a"}
            """
        )
    )
    from_feed = ItemSource.of(watchlist.source("news"), "news~1", "https://example.org/1", headers=False)
    from_listing = ItemSource.of(
        watchlist.source("releases"), "releases~1", "https://example.org/2", headers=False
    )
    assert (from_feed.kind, from_feed.id, from_feed.url) == ("item", "news~1", "https://example.org/1")
    assert from_feed.interval == timedelta(hours=2)
    assert (from_feed.browser, from_listing.browser) == (False, True)


# Fingerprints stored before sources had a model per kind: the same rules must give the same
# fingerprint, or every source would start a new baseline after an upgrade.
STORED_FINGERPRINTS = {
    "ibm-letter": "1e24962ac81baa69b6b46e3beb7cf4cc7114fd777cf2e5b2d28842cff679f14f",
    "amazon-moratorium-post": "27266117dcbbd13df2f22f67c30a6f2b174381a07ccc1a6c7b87b1331b6ca2e4",
    "amazon-press-center": "7bc755ab3175da5bd66c144ba1fe2f6d6d7f0b4c69ea278a5f8a8c1f725b20b5",
    "microsoft-on-the-issues": "0e7629c949eb1f9cc7984ccf2432bc5f644d1b19da5efd25348591a395b869cd",
    "microsoft-face-limited-access": "98425f553704ba7e34b0f88931ae1b61d2863b547fe77492dbf1b40079a4bbff",
}


def test_rules_fingerprints_stored_before_the_models_per_kind_stay_valid(good: Watchlist) -> None:
    assert {s.id: s.rules_fingerprint() for s in good.sources} == STORED_FINGERPRINTS
    feed, listing = good.source("microsoft-on-the-issues"), good.source("amazon-press-center")
    item = ItemSource.of(feed, "x~1", "https://blogs.microsoft.com/a", headers=True)
    assert item.rules_fingerprint() == "c4ea86291617bacd82cd471ddfaf6f1883fafc96a849c511f73bb59f6aff4f9e"
    browsed = ItemSource.of(
        listing.model_copy(update={"browser": True}), "x~1", "https://a.example/", headers=True
    )
    assert browsed.rules_fingerprint() == "bb206d23bd2612be15b6a976244e171a97ba20212dee28791349b4998204dcb5"


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("6h", timedelta(hours=6)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 1d12h ", timedelta(days=1, hours=12)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["6 hours", "", "6", "h", "1.5h", "30m1h", "-1h", "6H", "1ms"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected a duration like 30m, 6h or 1d, got '"):
        parse_duration(text)


def test_durations_are_bounded_to_a_year_unless_a_command_says_otherwise() -> None:
    assert parse_duration("365d") == timedelta(days=365)
    assert parse_duration("52w1d") == timedelta(days=365)
    for text in ("366d", "53w", "8761h", "99999999999999999999d"):
        with pytest.raises(ValueError, match=r"expected a duration of at most 365d"):
            parse_duration(text)
    assert parse_duration("400d", at_most=timedelta(days=36500)) == timedelta(days=400)


def test_a_source_checked_once_a_year_is_valid_and_schedules_without_overflow() -> None:
    watchlist = parse_watchlist(f"sources:\n  - id: yearly\n    url: {IBM_URL}\n    interval: 365d\n")
    assert watchlist.source("yearly").interval == timedelta(days=365)


def test_known_apprise_schemes_and_templated_schemes_are_accepted() -> None:
    text = dedent(
        """\
        routes:
          many:
            urls:
              - console://
              - "json://hooks.example.org/pledges"
              - "mailtos://${SMTP_USER}:${SMTP_PASS}@smtp.example.org?to=a@example.org"
              - "${SCHEME}://hooks.example.org"
              - "${WHOLE_URL}"
        sources: []
        """
    )
    assert len(parse_watchlist(text).route("many").urls) == 5


@pytest.mark.parametrize(
    ("written", "size"),
    [("10MB", 10_000_000), ("512 KB", 512_000), ("1GiB", 2**30), ("2mib", 2 * 2**20), ("1000", 1000)],
)
def test_max_body_sizes(written: str, size: int) -> None:
    watchlist = parse_watchlist(f"defaults:\n  max_body: {written}\nsources: []\n")
    assert watchlist.defaults.max_body == size


# --------------------------------------------------------------------------- secrets


def test_literal_password_is_rejected_without_echoing_it() -> None:
    text = """\
        sources: []
        routes:
          auditors:
            urls: ["mailtos://pledge-bot:hunter2@smtp.example.org?to=audit@example.org"]
        """
    (issue,) = issues_of(text)
    assert issue == (
        "watchlist.yaml:4: routes.auditors.urls[0]: mailtos://smtp.example.org/*** holds a literal password;"
        " write secrets as ${ENV_VAR} references"
    )
    assert "hunter2" not in issue
    assert "pledge-bot" not in issue


def test_user_without_password_and_whole_url_references_are_accepted() -> None:
    text = """\
        sources: []
        routes:
          ops:
            urls:
              - "mailtos://pledge-bot@smtp.example.org?to=ops@example.org&pass=${SMTP_PASS}"
              - "${SLACK_WEBHOOK_URL}"
        """
    (route,) = parse_watchlist(dedent(text)).routes
    assert route.urls[1] == "${SLACK_WEBHOOK_URL}"


def test_missing_env_vars_lists_route_and_variable(good: Watchlist) -> None:
    env = {"SLACK_TOKEN_A": "a", "SLACK_TOKEN_B": "b", "SMTP_USER": "u", "SMTP_PASS": ""}
    assert missing_env_vars(good, env) == [("advocacy-slack", "SLACK_TOKEN_C"), ("auditors", "SMTP_PASS")]
    assert (
        missing_env_vars(
            good,
            {
                "SLACK_TOKEN_A": "a",
                "SLACK_TOKEN_B": "b",
                "SLACK_TOKEN_C": "c",
                "SMTP_USER": "u",
                "SMTP_PASS": "p",
            },
        )
        == []
    )


def test_browser_settings_are_inherited_where_they_apply() -> None:
    watchlist = parse_watchlist(
        dedent(
            """
            defaults:
              browser: true
              screenshot: true
              browser_pages: 3
            sources:
              - id: shell
                url: https://example.org/app
                wait_for: "#policy p"
                wait_until: networkidle
              - id: plain
                url: https://example.org/static
                browser: false
              - id: news
                url: https://example.org/feed.xml
                kind: feed
              - id: releases
                url: https://example.org/news
                kind: listing
                item_select: "li a"
            """
        )
    )
    shell, plain, news, releases = watchlist.sources
    assert (shell.browser, shell.screenshot, shell.wait_for, shell.wait_until) == (
        True,
        True,
        "#policy p",
        "networkidle",
    )
    assert watchlist.defaults.browser_pages == 3
    assert (plain.browser, plain.screenshot) == (False, False)  # no browser: no picture either
    assert not isinstance(news, BrowserSource)  # feeds are read without one: no browser keys at all
    assert isinstance(releases, BrowserSource)
    assert (releases.browser, releases.screenshot) == (True, True)


def test_browser_keys_that_cannot_apply_are_errors_with_their_line() -> None:
    found = issues_of(
        """
        sources:
          - id: plain
            url: https://example.org/static
            screenshot: true
            wait_for: "#policy"
          - id: news
            url: https://example.org/feed.xml
            kind: feed
            browser: true
          - id: shell
            url: https://example.org/app
            browser: true
            wait_until: forever
        """
    )
    assert found == [
        "watchlist.yaml:5: sources[0].screenshot: screenshots are taken by the browser; add browser: true",
        "watchlist.yaml:6: sources[0].wait_for: only used with browser: true",
        "watchlist.yaml:10: sources[1].browser: feeds are read without a browser; use it for page or listing",
        "watchlist.yaml:14: sources[2].wait_until: expected 'load' or 'networkidle', got 'forever'",
    ]


def test_turning_the_browser_on_starts_a_new_baseline_and_off_keeps_old_fingerprints(good: Watchlist) -> None:
    ibm = good.source("ibm-letter")
    assert ibm.model_copy(update={"browser": True}).rules_fingerprint() != ibm.rules_fingerprint()
    screenshot = {"screenshot": True, "wait_until": "networkidle"}
    assert ibm.model_copy(update=screenshot).rules_fingerprint() == ibm.rules_fingerprint()


def test_a_pledge_language_is_checked_and_kept() -> None:
    text = """
    sources:
      - id: page
        url: https://www.example.org/engagements
    pledges:
      - id: p
        company: Example SA
        title: Engagement
        made_on: 2020-06-10
        language: fr-CA
        sources: [page]
        clauses: ["nous ne vendrons pas"]
    """
    assert parse_watchlist(dedent(text)).pledge("p").language == "fr-ca"
    assert parse_watchlist(dedent(text.replace("        language: fr-CA\n", ""))).pledge("p").language is None
    (issue,) = issues_of(text.replace("fr-CA", "pt"))
    assert "pledges[0].language: expected a language with weakening rules (en, fr, de, es" in issue


# --------------------------------------------------------------------------- archive copies


def test_archive_section_defaults_and_env_names() -> None:
    watchlist = parse_watchlist(
        dedent("""
        sources: []
        archive:
          secret_env: ${IA_SECRET}
          per_minute: 2
        """)
    )
    spec = watchlist.archive
    assert spec is not None
    assert (spec.enabled, spec.endpoint) == (True, "https://web.archive.org/save")
    assert (spec.access_env, spec.secret_env, spec.per_minute) == ("PLEDGE_MONITOR_IA_ACCESS", "IA_SECRET", 2)
    assert parse_watchlist("sources: []\n").archive is None


def test_archive_credentials_written_in_the_file_are_refused_without_showing_them() -> None:
    found = issues_of("""
        sources: []
        archive:
          access: AKIA1234567890
          secret_env: "abc:def-literal-secret"
        """)
    assert len(found) == 2
    assert all("AKIA1234567890" not in issue and "literal-secret" not in issue for issue in found)
    assert "archive.access" in found[0]
    assert "archive.secret_env" in found[1]
