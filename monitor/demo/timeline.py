"""The demo's story as data: dated scenes, what each does to the local site and to the watchlist.

Dates and quoted words follow the public record of the 2020 facial recognition pledges and what
became of them. The pages are written for the demo; a scene says so when a page edit is
illustrative (the words were said or reported, but not necessarily on that page), and the one
made-up pledge (Example Vision) is there only to show a deadline that passes without renewal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

IBM_LETTER = "/ibm/policy/facial-recognition-sunset-racial-justice-reforms/"
IBM_POLICY = "/ibm/policy/facial-recognition/"
GOOGLE = "/google/principles/"
AMAZON = (
    "/amazon/news/policy-news-views/we-are-implementing-a-one-year-moratorium-on-police-use-of-rekognition"
)
MS_STATEMENT = "/microsoft/on-the-issues/facial-recognition-police/"
MS_FACE_OLD = "/microsoft/azure/cognitive-services/face/limited-access"
MS_FACE_NEW = "/microsoft/azure/ai-services/computer-vision/limited-access-identity"
MS_CODE = "/microsoft/legal/cognitive-services/openai/code-of-conduct"
EXAMPLE = "/example-vision/pause/"


@dataclass(frozen=True)
class Response:
    """How the demo site answers one path: a bundled page, an error, a redirect, or a stall."""

    page: str | None = None
    status: int = 200
    location: str | None = None
    stall: float = 0.0  # seconds before answering: longer than the source's timeout is a timeout


def page(name: str) -> Response:
    return Response(page=name)


def moved(to: str) -> Response:
    return Response(status=301, location=to)


def outage(status: int = 503) -> Response:
    return Response(status=status)


def stalled(name: str, seconds: float = 1.3) -> Response:
    return Response(page=name, stall=seconds)


@dataclass(frozen=True)
class Step:
    """One moment: change the site and the watchlist, then check every source and run the sweep."""

    at: datetime
    site: Mapping[str, Response] = field(default_factory=lambda: MappingProxyType({}))
    enable: tuple[str, ...] = ()
    note: str | None = None  # a sub-heading for scenes of several steps
    show_all: bool = False  # list every check, not only those with something to say


@dataclass(frozen=True)
class Scene:
    title: str
    story: tuple[str, ...]
    steps: tuple[Step, ...]


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


SCENES: tuple[Scene, ...] = (
    Scene(
        "IBM writes to Congress",
        (
            "IBM's CEO Arvind Krishna writes to Congress: \"IBM no longer offers general purpose IBM",
            'facial recognition or analysis software." The watchlist starts with the letter, an IBM policy',
            "page quoting it, and Google's 2018 AI Principles with their \"AI applications we will not",
            'pursue". The first check of each page stores it as the baseline and locates every clause.',
        ),
        (
            Step(
                at(2020, 6, 8),
                site={
                    IBM_LETTER: page("ibm-letter.html"),
                    IBM_POLICY: page("ibm-policy-2020.html"),
                    GOOGLE: page("google-2018.html"),
                },
                show_all=True,
            ),
        ),
    ),
    Scene(
        "The next check: nothing changed",
        (
            "A day later the pages are the same. Each check is logged (the attestation that the",
            "words were still there), but nothing new is stored and nobody is alerted.",
        ),
        (Step(at(2020, 6, 9), show_all=True),),
    ),
    Scene(
        "Amazon announces a one-year moratorium",
        (
            "Amazon: \"We're implementing a one-year moratorium on police use of Amazon's facial",
            'recognition technology." A maintainer adds the post to the watchlist, with its deadline',
            "(expires_on: 2021-06-10).",
        ),
        (Step(at(2020, 6, 10), site={AMAZON: page("amazon-2020.html")}, enable=("amazon",)),),
    ),
    Scene(
        "Microsoft: no sales to US police until there is a national law",
        (
            "Microsoft's president Brad Smith: \"We will not sell facial recognition technology to police",
            "departments in the United States until we have a national law in place, grounded in human",
            "rights, that will govern this technology.\" (He said it at a public event; the demo's page",
            "for it is illustrative.)",
        ),
        (
            Step(
                at(2020, 6, 11),
                site={MS_STATEMENT: page("microsoft-statement.html")},
                enable=("microsoft",),
            ),
        ),
    ),
    Scene(
        "30 days before Amazon's deadline",
        (
            "The daily sweep sees that the moratorium's one-year term ends on 10 June 2021 and that no",
            "renewal is recorded in the watchlist: a reminder, 30 days ahead (another would come at 7).",
        ),
        (Step(at(2021, 5, 11)),),
    ),
    Scene(
        'Amazon extends the moratorium "until further notice"',
        (
            "Amazon tells reporters the moratorium is extended until further notice. In the demo the",
            "post gains an update note, and a maintainer records the renewal in the watchlist:",
            "  renewed: {until: indefinite, on: 2021-05-18}",
            "The clause itself is untouched, so this is a change of the page, not of the pledge.",
        ),
        (Step(at(2021, 5, 18), site={AMAZON: page("amazon-2021.html")}, enable=("renewal",)),),
    ),
    Scene(
        "The original deadline passes",
        (
            "10 June 2021 was the end of the one-year term. The renewal is recorded, so the 7-day",
            "reminder was not sent and this is no expiry: the sweep stays quiet.",
        ),
        (Step(at(2021, 6, 10)),),
    ),
    Scene(
        "A bad morning for IBM's web site (illustrative)",
        (
            "The letter's page answers 503 Service Unavailable, then times out. A failed check is",
            "never read as a lapse: after 3 failures in a row pledge-monitor says the source is",
            "failing (not that the pledge is gone), and says so again when it recovers.",
        ),
        (
            Step(at(2022, 3, 14, 8), note="08:00 · all pages answer normally"),
            Step(at(2022, 3, 14, 9), site={IBM_LETTER: outage(503)}, note="09:00 · IBM's server answers 503"),
            Step(at(2022, 3, 14, 10), note="10:00 · still 503"),
            Step(
                at(2022, 3, 14, 11),
                site={IBM_LETTER: stalled("ibm-letter.html")},
                note="11:00 · the server is too slow to answer within the 1 s timeout",
            ),
            Step(
                at(2022, 3, 14, 12),
                site={IBM_LETTER: page("ibm-letter.html")},
                note="12:00 · the page is back, as it was",
            ),
        ),
    ),
    Scene(
        "Microsoft puts Face API behind Limited Access",
        (
            "Under its Responsible AI Standard, Microsoft restricts face identification to approved",
            "customers and retires emotion and gender inference. A maintainer adds the page.",
        ),
        (
            Step(
                at(2022, 6, 21),
                site={MS_FACE_OLD: page("microsoft-face.html")},
                enable=("face",),
            ),
        ),
    ),
    Scene(
        "The Azure documentation moves",
        (
            "Azure Cognitive Services is renamed Azure AI services (July 2023; the day is approximate)",
            "and its documentation moves: the old address answers 301 Moved Permanently. The new page",
            "still carries the clause, so this is a move to note, not a removal.",
        ),
        (
            Step(
                at(2023, 7, 12),
                site={MS_FACE_OLD: moved(MS_FACE_NEW), MS_FACE_NEW: page("microsoft-face.html")},
            ),
        ),
    ),
    Scene(
        "IBM and facial matching for UK law enforcement",
        (
            "Reporting reveals an IBM contract with the UK government for a biometrics platform that",
            'includes facial matching for law enforcement. IBM answers that it "no longer offers',
            "general purpose facial recognition and, consistent with our 2020 commitment, does not",
            "support the use of facial recognition for mass surveillance, racial profiling, or other",
            "human rights violations\". The letter stays as it was; the demo's IBM policy page now uses",
            "the new words (illustrative).",
        ),
        (Step(at(2023, 8, 30), site={IBM_POLICY: page("ibm-policy-2023.html")}),),
    ),
    Scene(
        "Amazon narrows how it describes the moratorium",
        (
            "Asked about the FBI's planned use of Rekognition (January 2024; the day is approximate),",
            "Amazon describes the moratorium as covering \"police departments' use of Amazon",
            "Rekognition's face comparison feature in connection with criminal investigations\". In the",
            "demo the post is rewritten in those terms (illustrative).",
        ),
        (Step(at(2024, 1, 22), site={AMAZON: page("amazon-2024.html")}),),
    ),
    Scene(
        "Microsoft bars US police from facial recognition with Azure OpenAI",
        (
            "Reported on 2 May 2024: Microsoft's code of conduct for Azure OpenAI Service now says",
            'integrations must not be used "for facial recognition purposes by or for a police department',
            'in the United States". A maintainer adds the page and the pledge.',
        ),
        (
            Step(
                at(2024, 5, 2),
                site={MS_CODE: page("microsoft-code-of-conduct.html")},
                enable=("code-of-conduct",),
            ),
        ),
    ),
    Scene(
        "A pledge with a deadline (hypothetical)",
        (
            "Example Vision, a company made up for this demo, announced on 1 June 2024 a 90-day pause",
            "on police use of its face search, ending 30 August 2024. A maintainer adds it; the",
            "deadline is 30 days away.",
        ),
        (
            Step(
                at(2024, 7, 31),
                site={EXAMPLE: page("example-vision.html")},
                enable=("example-vision",),
            ),
        ),
    ),
    Scene("7 days left (hypothetical)", ("The second reminder.",), (Step(at(2024, 8, 23)),)),
    Scene(
        "The pause ends without renewal (hypothetical)",
        ("No renewal was recorded by the deadline: the pledge has expired.",),
        (Step(at(2024, 8, 30)),),
    ),
    Scene(
        'Google removes "AI applications we will not pursue"',
        (
            "Google publishes new AI Principles. The list of applications it will not pursue, weapons",
            "and surveillance among them, is gone. pledge-monitor does not cry wolf on the first miss:",
            "it re-checks after confirm_after (10 minutes) and only then reports the removal.",
        ),
        (
            Step(at(2025, 2, 4, 10), site={GOOGLE: page("google-2025.html")}, note="10:00 · the new page"),
            Step(at(2025, 2, 4, 10, 10), note="10:10 · the re-check"),
        ),
    ),
)
