"""monitor.alerts.render: an Event as text, HTML and Slack mrkdwn; a digest of several."""

from __future__ import annotations

from monitor.alerts.render import WHAT, render_digest, render_event
from monitor.events import EventKind, Severity
from monitor.lifecycle import EventDraft
from tests.alert_events import (
    PLEDGE,
    TITLE,
    URL,
    event_row,
    weakened,
)


def test_a_message_says_what_changed_in_every_format() -> None:
    message = render_event(event_row(weakened()), "team")
    assert message.title == TITLE
    assert message.key == "pm-7-team"
    assert "Pledged:  ~~a one-year~~ moratorium on police use of facial recognition" in message.text
    assert "Page now: **an indefinite** moratorium on police use of facial recognition" in message.text
    for rendered in (message.text, message.html, message.slack):
        assert "a deadline became open-ended" in rendered
        assert "2026-03-01 10:00 UTC" in rendered
        assert "pledge-monitor show 12" in rendered
        assert "pm-7-team" in rendered
    assert "Source: " + URL in message.text
    assert '<del style="background:#fdd;color:#900">a one-year</del>' in message.html
    assert ">an indefinite</ins>" in message.html
    assert f'<a href="{URL.replace("&", "&amp;")}">' in message.html
    assert "~a one-year~ moratorium" in message.slack
    assert "*an indefinite* moratorium" in message.slack
    assert f"<{URL.replace('&', '&amp;')}|Source page>" in message.slack
    assert message.severity == Severity.CRITICAL


def test_every_event_kind_says_in_words_what_happened() -> None:
    assert set(EventKind) <= set(WHAT)
    assert all(WHAT[kind].endswith(".") for kind in EventKind)


def test_page_text_is_escaped_for_html_and_slack() -> None:
    hostile = "<script>alert(1)</script> <!channel>"
    message = render_event(event_row(weakened(passage_extra=hostile)), "team")
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert "<!channel>" not in message.slack
    assert "&lt;!channel&gt;" in message.slack
    assert "<script>alert(1)</script>" in message.text  # plain text stays as the page wrote it


def test_removed_and_changed_events_show_their_details() -> None:
    removed = EventDraft(
        "pledge.removed",
        Severity.CRITICAL,
        "Amazon: Moratorium on police use of Rekognition: clause removed",
        PLEDGE,
        "amazon-post",
        {
            "clause": "a one-year moratorium",
            "last_passage": "a one-year moratorium on police use",
            "url": URL,
            "first_missed": "2026-03-01T09:50:00+00:00",
            "confirmed": "2026-03-01T10:00:00+00:00",
        },
    )
    text = render_event(event_row(removed, change_id=None), "team").text
    assert "Last seen on the page: a one-year moratorium on police use" in text
    assert "Missing since 2026-03-01 09:50 UTC; confirmed 2026-03-01 10:00 UTC." in text
    assert "pledge-monitor show" not in text
    changed = EventDraft(
        "source.changed",
        Severity.INFO,
        "amazon-post: text changed (+2 -1 words)",
        None,
        "amazon-post",
        {
            "url": URL,
            "summary": "+2 -1 words",
            "added": ["new words"],
            "removed": ["old"],
            "pledges": [PLEDGE],
        },
    )
    text = render_event(event_row(changed), "team").text
    assert "- removed: old\n+ added: new words" in text
    assert f"Pledges: {PLEDGE}" in text


def narrowed_event(context: str | None = None) -> EventDraft:
    """A real assessment (Amazon's 2024 wording) turned into an event, as a check records it."""
    from monitor.clauses import find_clause, in_context
    from monitor.lifecycle import ClauseRecord, _clause_event

    clause = "a one-year moratorium on police use of Amazon's facial recognition technology"
    page = (
        "Rekognition FAQ\nAt this time, Amazon has implemented a moratorium on police departments’ use of"
        " Amazon Rekognition’s face comparison feature in connection with criminal investigations.\nContact."
    )
    match = in_context(find_clause(clause, page), page, context)
    assert match.passage is not None
    pledge = type("P", (), {"company": "Amazon", "title": "Moratorium", "id": PLEDGE})()
    fetched = type("F", (), {"final_url": URL})()
    source = type("S", (), {"id": "amazon-post"})()
    record = ClauseRecord(PLEDGE, clause, state="exact", passage=clause)
    return _clause_event("pledge.weakened", source, pledge, match, fetched, record)  # type: ignore[arg-type]


def test_quotes_are_exact_and_only_changed_words_are_marked() -> None:
    """Punctuation, case and possessives as published; the comma after "At this time" stays; the
    passage ends at the end of its phrase; "Pledged:" is the clause, not the sentence."""
    message = render_event(event_row(narrowed_event()), "team")
    assert (
        "Pledged:  a ~~one-year~~ moratorium on police use of ~~Amazon's facial recognition technology~~\n"
        in message.text
    )
    assert (
        "Page now: **At this time**, **Amazon has implemented** a moratorium on police **departments**’"
        " use of **Amazon Rekognition’s face comparison feature in connection with criminal"
        " investigations**\n"
    ) in message.text
    assert "the clause as pledged is gone, this passage stands in its place" in message.text
    assert "<del " in message.html
    assert "departments</ins>’ use of" in message.html
    assert "*departments*’ use of" in message.slack


def test_the_readme_example_a_narrowed_pledge() -> None:
    """The console alert docs/events-and-alerts.md shows under "Alerts", from a real assessment."""
    from monitor.clauses import find_clause, in_context, sentences_of
    from monitor.lifecycle import ClauseRecord, _clause_event

    clause = (
        "Microsoft will not sell facial recognition technology to police departments in the United States"
        " until strong regulation, grounded in human rights, has been enacted"
    )
    before = f"Azure AI Face\nFace is a Limited Access service.\n{clause}.\nCustomers must apply for access."
    now = (
        "Microsoft does not currently sell facial recognition technology to police departments"
        " in the United States"
    )
    after = before.replace(clause, now)
    found = find_clause(clause, after, last_location=before.index("Microsoft"), stood=sentences_of(before))
    match = in_context(found, after, clause + ".")
    pledge = type("P", (), {"company": "Example Corp", "title": "No sales to US police", "id": PLEDGE})()
    source, fetched = type("S", (), {"id": "face-policy"})(), type("F", (), {"final_url": URL})()
    record = ClauseRecord(PLEDGE, clause, state="exact", passage=clause)
    draft = _clause_event("pledge.weakened", source, pledge, match, fetched, record)  # type: ignore[arg-type]
    text = render_event(event_row(draft, change_id=1), "console").text
    assert (
        "Pledged:  Microsoft ~~will~~ not sell facial recognition technology to police departments in the"
        " United States ~~until strong regulation~~, ~~grounded in human rights~~, ~~has been enacted~~\n"
        "Page now: Microsoft **does** not **currently** sell facial recognition technology to police"
        " departments in the United States\n"
        "(67% of the words still match: the clause as pledged is gone, this passage stands in its place)\n"
        "\n"
        "Why this may weaken the pledge:\n"
        '- hedge added: "currently"\n'
        '- commitment turned into a statement of present fact: "will" dropped\n'
        '- condition dropped: "until strong regulation grounded in human rights has been enacted"\n'
    ) in text


def test_words_that_stood_there_before_are_not_marked() -> None:
    """The sentence the clause was last found intact in said "At this time, Amazon has
    implemented": those words are not news, only the narrowing is."""
    intact = (
        "At this time, Amazon has implemented a one-year moratorium on police use of Amazon's facial"
        " recognition technology."
    )
    text = render_event(event_row(narrowed_event(intact)), "team").text
    assert (
        "Page now: At this time, Amazon has implemented a moratorium on police **departments**’ use" in text
    )


def test_a_removal_shows_what_stands_where_the_clause_stood() -> None:
    removed = EventDraft(
        "pledge.removed",
        Severity.CRITICAL,
        "Microsoft: No sales to US police: clause removed",
        PLEDGE,
        "amazon-post",
        {
            "clause": "will not sell facial recognition technology to police departments",
            "last_passage": "will not sell facial recognition technology to police departments",
            "url": URL,
            "first_missed": "2026-03-01T09:50:00+00:00",
            "confirmed": "2026-03-01T10:00:00+00:00",
            "now_before": "Face is a Limited Access service.",
            "now_after": "Customers must apply for access.",
        },
    )
    message = render_event(event_row(removed, change_id=5), "team")
    assert (
        "Where it stood, the page now reads:\n"
        "  before: Face is a Limited Access service.\n"
        "  after:  Customers must apply for access.\n"
    ) in message.text
    assert "Change 5: pledge-monitor show 5" in message.text
    assert "Now before" not in message.text  # not repeated as a raw fact
    assert "[the clause stood here]" in message.html
    assert ">Customers must apply for access." in message.slack


def test_a_digest_lists_the_worst_first() -> None:
    info = EventDraft("source.changed", Severity.INFO, "a: text changed", None, "a", {"summary": "+1 words"})
    message = render_digest("team", [event_row(info, 1), event_row(weakened(), 2)])
    assert message.text.index(TITLE) < message.text.index("a: text changed")
    assert message.severity == Severity.CRITICAL


def test_an_archive_copy_saved_in_time_is_in_the_message_and_the_digest() -> None:
    copy = "https://web.archive.org/web/20260301120000/https://example.org/policy"
    info = EventDraft("source.changed", Severity.INFO, "a: text changed", None, "a", {"summary": "+1 words"})
    message = render_event(event_row(info, 1, change_id=12), "team", archive_url=copy)
    assert f"Archive copy: {copy}" in message.text
    assert f'Archive copy: <a href="{copy}">{copy}</a>' in message.html
    assert f"<{copy}|Archive copy>" in message.slack
    assert message.data["archive_url"] == copy
    assert "Archive copy" not in render_event(event_row(info, 1, change_id=12), "team").text
    digest = render_digest(
        "team", [event_row(info, 1, change_id=12), event_row(weakened(), 2, change_id=13)], {12: copy}
    )
    assert digest.text.count("Archive copy:") == 1
    assert "javascript:" not in render_event(event_row(info), "team", archive_url="javascript:alert(1)").html
