"""The pledge cases of ``benchmarks/pledges.py``: real pledge histories, as a page before and after.

Each case names the public record it comes from. ``illustrative`` marks a change written for the
benchmark in the style of the record (the pledge is real, that edit of it was not published);
the others quote both wordings as published. ``expect`` is what a careful reader of the two pages
would say: weakened, reworded, removed, gone, moved, or changed (the page changed, the clause did
not).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    id: str
    company: str
    record: str  # where the wording comes from
    clause: str
    before: str  # the article, as HTML
    after: str  # the article after the change ("" for gone and moved: the page is not there)
    expect: str  # weakened | reworded | removed | gone | moved | changed
    illustrative: bool = False


def p(*paragraphs: str) -> str:
    return "\n".join(f"<p>{x}</p>" for x in paragraphs)


# --- IBM: Arvind Krishna's letter to Congress, 8 June 2020 -------------------------------------------

IBM_RECORD = "IBM CEO Arvind Krishna, letter to Congress on racial justice reform, 8 June 2020"
IBM_1 = "IBM no longer offers general purpose IBM facial recognition or analysis software."
IBM_2 = (
    "IBM firmly opposes and will not condone uses of any technology, including facial recognition "
    "technology offered by other vendors, for mass surveillance, racial profiling, violations of basic "
    "human rights and freedoms, or any purpose which is not consistent with our values and Principles of "
    "Trust and Transparency."
)
IBM_3 = (
    "We believe now is the time to begin a national dialogue on whether and how facial recognition "
    "technology should be employed by domestic law enforcement agencies."
)
IBM_LETTER = "<h1>IBM CEO's Letter to Congress on Racial Justice Reform</h1>" + p(
    "IBM would like to work with Congress in pursuit of justice and racial equity, focused initially "
    "in three key policy areas: police reform, responsible use of technology, and broadening skills "
    "and educational opportunities.",
    IBM_1 + " " + IBM_2 + " " + IBM_3,
    "Artificial Intelligence is a powerful tool that can help law enforcement keep citizens safe. But "
    "vendors and users of AI systems have a shared responsibility to ensure that AI is tested for bias.",
)

# --- Amazon: the Rekognition moratorium, 10 June 2020 ----------------------------------------------

AMAZON_RECORD = (
    "Amazon, 'We are implementing a one-year moratorium on police use of Rekognition', 10 June 2020"
)
AMAZON_1 = "We're implementing a one-year moratorium on police use of Amazon's facial recognition technology."
AMAZON_2 = (
    "We will continue to allow organizations like Thorn, the International Center for Missing and "
    "Exploited Children, and Marinus Analytics to use Amazon Rekognition to help rescue human "
    "trafficking victims and reunite missing children with their families."
)
AMAZON_3 = (
    "We've advocated that governments should put in place stronger regulations to govern the ethical "
    "use of facial recognition technology, and in recent days, Congress appears ready to take on this "
    "challenge. We hope this one-year moratorium might give Congress enough time to implement "
    "appropriate rules, and we stand ready to help if requested."
)
AMAZON_POST = "<h1>We are implementing a one-year moratorium on police use of Rekognition</h1>" + p(
    AMAZON_1, AMAZON_2, AMAZON_3
)
AMAZON_2024 = (
    "Amazon has implemented a moratorium on police departments' use of Amazon Rekognition's face "
    "comparison feature in connection with criminal investigations."
)

# --- Microsoft: Brad Smith, Washington Post Live, 11 June 2020 -------------------------------------

MS_RECORD = "Microsoft President Brad Smith, Washington Post Live, 11 June 2020"
MS_1 = (
    "We will not sell facial recognition technology to police departments in the United States until "
    "we have a national law in place, grounded in human rights, that will govern this technology."
)
MS_PAGE = "<h1>Facial recognition: our position</h1>" + p(
    "Microsoft has long called for regulation of facial recognition.",
    MS_1,
    "We need to use this moment to pursue a strong national law to govern facial recognition that is "
    "grounded in the protection of human rights.",
    "Our Responsible AI Standard guides how we design, build and test AI systems.",
)
MS_CLAUSE = "we will not sell facial recognition technology to police departments in the United States"

MS_RAI_RECORD = "Microsoft, 'Microsoft's framework for building AI systems responsibly', 21 June 2022"
MS_RAI = (
    "we will retire facial analysis capabilities that purport to infer emotional states and identity "
    "attributes such as gender, age, smile, facial hair, hair, and makeup"
)
MS_RAI_PAGE = "<h1>Responsible AI Standard: facial recognition</h1>" + p(
    "Experts inside and outside the company have highlighted the lack of scientific consensus on the "
    "definition of emotions.",
    f"Taking emotional states and identity attributes into account, {MS_RAI}.",
    "Azure Face API will be available to new customers by application only.",
)
MS_CARBON_RECORD = "Microsoft, 'Microsoft will be carbon negative by 2030', 16 January 2020"
MS_CARBON = "by 2030 Microsoft will be carbon negative"
MS_CARBON_PAGE = "<h1>Our carbon commitment</h1>" + p(
    "While the world will need to reach net zero, those of us who can afford to move faster and go "
    "further should do so.",
    "That's why today we are announcing an ambitious goal and a new plan to reduce and ultimately remove "
    "Microsoft's carbon footprint. By 2030 Microsoft will be carbon negative, and by 2050 Microsoft will "
    "remove from the environment all the carbon the company has emitted either directly or by electrical "
    "consumption since it was founded in 1975.",
)

# --- Google: AI Principles, 7 June 2018; their 2025 revision -----------------------------------------

GOOGLE_RECORD = "Google, 'Artificial Intelligence at Google: Our Principles', 7 June 2018"
GOOGLE_2025 = (
    "Google's revised AI Principles of 4 February 2025 no longer list 'applications we will not pursue'"
)
G_HEAD = "we will not design or deploy AI in the following application areas"
G_WEAPONS = (
    "Weapons or other technologies whose principal purpose or implementation is to cause or directly "
    "facilitate injury to people"
)
G_SURVEILLANCE = (
    "Technologies that gather or use information for surveillance violating internationally accepted norms"
)
G_OBJECTIVES = p(
    "We will assess AI applications in view of the following objectives. We believe that AI should:",
    "1. Be socially beneficial. 2. Avoid creating or reinforcing unfair bias. 3. Be built and tested "
    "for safety. 4. Be accountable to people. 5. Incorporate privacy design principles. 6. Uphold high "
    "standards of scientific excellence. 7. Be made available for uses that accord with these principles.",
)
G_PAGE = (
    "<h1>Our Principles</h1>"
    + G_OBJECTIVES
    + "<h2>AI applications we will not pursue</h2>"
    + p(
        "In addition to the above objectives, " + G_HEAD + ":",
        "1. Technologies that cause or are likely to cause overall harm.",
        "2. " + G_WEAPONS + ".",
        "3. " + G_SURVEILLANCE + ".",
        "4. Technologies whose purpose contravenes widely accepted principles of international law and "
        "human rights.",
    )
)
G_PAGE_2025 = (
    "<h1>Our Principles</h1>"
    + G_OBJECTIVES
    + p(
        "Responsible development and deployment: we will implement appropriate human oversight, due "
        "diligence, and feedback mechanisms to align with user goals, social responsibility, and widely "
        "accepted principles of international law and human rights."
    )
)
G_CLOUD_RECORD = "Google SVP Kent Walker, 'AI for Social Good in Asia Pacific', 13 December 2018"
G_CLOUD = (
    "Google Cloud has chosen not to offer general-purpose facial recognition APIs before working through "
    "important technology and policy questions"
)
G_CLOUD_PAGE = "<h1>AI for Social Good in Asia Pacific</h1>" + p(
    "Facial recognition technology has benefits in areas like new assistive technologies.",
    "We've seen that it needs to be used carefully. " + G_CLOUD + ".",
)
G_CARBON_RECORD = (
    "Google sustainability pages: 'carbon neutral for our operations since 2007' until the 2023 "
    "Environmental Report, which says Google is no longer maintaining operational carbon neutrality"
)
G_CARBON = "Google has been carbon neutral for our operations since 2007"
G_CARBON_PAGE = "<h1>Our commitments</h1>" + p(
    G_CARBON + ".",
    "In 2020, we set a goal to run on 24/7 carbon-free energy on every grid where we operate by 2030.",
    "We aim to achieve net-zero emissions across all of our operations and value chain by 2030.",
)
G_CARBON_2023 = "<h1>Our commitments</h1>" + p(
    "Starting in 2023, we're no longer maintaining operational carbon neutrality and are instead "
    "focusing on accelerating an array of carbon solutions and partnerships.",
    "In 2020, we set a goal to run on 24/7 carbon-free energy on every grid where we operate by 2030.",
    "We aim to achieve net-zero emissions across all of our operations and value chain by 2030.",
)
G_COC_RECORD = (
    "Google Code of Conduct: 'Don't be evil' left the preamble in 2018; the closing line still says "
    "'And remember... don't be evil, and if you see something that you think isn't right - speak up!'"
)
G_COC_BEFORE = "<h1>Google Code of Conduct</h1>" + p(
    '"Don\'t be evil." Googlers generally apply those words to how we serve our users. But "Don\'t be '
    'evil" is much more than that.',
    "The Google Code of Conduct is one of the ways we put Google's values into practice.",
    "And remember... don't be evil, and if you see something that you think isn't right - speak up!",
)
G_COC_AFTER = "<h1>Google Code of Conduct</h1>" + p(
    "Employees of Google, its subsidiaries, and affiliates are expected to adhere to the Code of Conduct.",
    "The Google Code of Conduct is one of the ways we put Google's values into practice.",
    "And remember... don't be evil, and if you see something that you think isn't right - speak up!",
)

# --- Others -----------------------------------------------------------------------------------------

ZOOM_RECORD = "Zoom Terms of Service section 10.4, 7 August 2023, and its revision of 11 August 2023"
ZOOM = (
    "Zoom will not use audio, video or chat Customer Content to train our artificial intelligence "
    "models without your consent"
)
ZOOM_PAGE = "<h1>Terms of Service</h1>" + p(
    "10.2 Service Generated Data. You agree that Zoom compiles and may compile Service Generated Data.",
    "10.4 Customer License Grant. Notwithstanding the above, " + ZOOM + ".",
    "10.5 Feedback. You may provide suggestions or other feedback.",
)
ZOOM_PAGE_AFTER = "<h1>Terms of Service</h1>" + p(
    "10.2 Service Generated Data. You agree that Zoom compiles and may compile Service Generated Data.",
    "10.4 Customer License Grant. Zoom does not use any of your audio, video, chat, screen sharing, "
    "attachments or other communications-like Customer Content (such as poll results, whiteboard and "
    "reactions) to train Zoom or third-party artificial intelligence models.",
    "10.5 Feedback. You may provide suggestions or other feedback.",
)
OPENAI_RECORD = "OpenAI usage policies before and after 10 January 2024 ('Military and warfare' removed)"
OPENAI_BEFORE = "<h1>Usage policies</h1>" + p(
    "We don't allow the use of our models for the following:",
    "Activity that has high risk of physical harm, including: Weapons development; Military and "
    "warfare; Management or operation of critical infrastructure in energy, transportation, and water.",
    "Fraudulent or deceptive activity, including: Scams; Coordinated inauthentic behavior; Plagiarism.",
)
OPENAI_AFTER = "<h1>Usage policies</h1>" + p(
    "We have established universal policies applicable to all our services:",
    "Don't use our service to harm yourself or others - for example, to promote suicide or self-harm, "
    "develop or use weapons, injure others or destroy property, or engage in unauthorized activities "
    "that violate the security of any service or system.",
    "Fraudulent or deceptive activity, including: Scams; Coordinated inauthentic behavior; Plagiarism.",
)
META_RECORD = "Meta, 'An Update On Our Use of Face Recognition', 2 November 2021"
META = "People who've opted in will no longer be automatically recognized in photos and videos"
META_PAGE = "<h1>An Update On Our Use of Face Recognition</h1>" + p(
    "We're shutting down the Face Recognition system on Facebook.",
    META + ", and we will delete more than a billion people's individual facial recognition templates.",
    "There are many concerns about the place of facial recognition technology in society.",
)
AXON_RECORD = "Axon AI and Policing Technology Ethics Board, first report, 27 June 2019"
AXON = "Axon will not be commercializing face matching products on our body cameras"
AXON_PAGE = "<h1>First report of the Axon AI Ethics Board</h1>" + p(
    "Face recognition technology is not currently reliable enough to ethically justify its use on "
    "body-worn cameras.",
    "Following the board's recommendation, " + AXON + ".",
    "We will continue to evaluate the state of face recognition technologies.",
)
CLIMATE_RECORD = "Amazon and Global Optimism, The Climate Pledge, 19 September 2019"
CLIMATE = "net-zero carbon across our businesses by 2040"
CLIMATE_PAGE = "<h1>The Climate Pledge</h1>" + p(
    "Signatories commit to regular reporting, carbon elimination and credible offsets.",
    "We commit to reaching " + CLIMATE + ", ten years ahead of the Paris Agreement.",
    "Amazon co-founded The Climate Pledge in 2019.",
)


def _swap(page: str, old: str, new: str) -> str:
    assert old in page, old
    return page.replace(old, new)


CASES: tuple[Case, ...] = (
    # IBM
    Case(
        "ibm-hedge",
        "IBM",
        IBM_RECORD,
        IBM_1,
        IBM_LETTER,
        _swap(IBM_LETTER, "IBM no longer offers", "At this time, IBM no longer offers"),
        "weakened",
        True,
    ),
    Case(
        "ibm-negation-dropped",
        "IBM",
        IBM_RECORD,
        IBM_1,
        IBM_LETTER,
        _swap(IBM_LETTER, "IBM no longer offers", "IBM offers"),
        "weakened",
        True,
    ),
    Case(
        "ibm-reworded-2023",
        "IBM",
        IBM_RECORD + "; IBM's 2023 statement drops the second 'IBM'",
        IBM_1,
        IBM_LETTER,
        _swap(IBM_LETTER, "general purpose IBM facial", "general purpose facial"),
        "reworded",
        True,
    ),
    Case(
        "ibm-letter-removed",
        "IBM",
        IBM_RECORD,
        IBM_1,
        IBM_LETTER,
        _swap(IBM_LETTER, IBM_1 + " ", ""),
        "removed",
        True,
    ),
    Case(
        "ibm-oppose-narrowed",
        "IBM",
        IBM_RECORD,
        IBM_2.rstrip("."),
        IBM_LETTER,
        _swap(IBM_LETTER, "any technology, including", "facial recognition technology, including"),
        "reworded",
        True,
    ),
    Case(
        "ibm-oppose-time-limited",
        "IBM",
        IBM_RECORD,
        IBM_2.rstrip("."),
        IBM_LETTER,
        _swap(
            IBM_LETTER,
            "firmly opposes and will not condone",
            "firmly opposes and will not condone, until 2025,",
        ),
        "weakened",
        True,
    ),
    Case(
        "ibm-dialogue-reworded",
        "IBM",
        IBM_RECORD,
        IBM_3.rstrip("."),
        IBM_LETTER,
        _swap(IBM_LETTER, "should be employed", "ought to be used"),
        "reworded",
        True,
    ),
    Case("ibm-letter-gone", "IBM", IBM_RECORD, IBM_1, IBM_LETTER, "", "gone", True),
    # Amazon
    Case(
        "amazon-2024-narrowed",
        "Amazon",
        AMAZON_RECORD + "; Amazon's 2024 wording",
        "a moratorium on police use of Amazon's facial recognition technology",
        AMAZON_POST,
        _swap(AMAZON_POST, AMAZON_1, AMAZON_2024),
        "weakened",
    ),
    Case(
        "amazon-six-months",
        "Amazon",
        AMAZON_RECORD,
        AMAZON_1.rstrip("."),
        AMAZON_POST,
        _swap(AMAZON_POST, "one-year moratorium on police", "six-month moratorium on police"),
        "weakened",
        True,
    ),
    Case(
        "amazon-moratorium-removed",
        "Amazon",
        AMAZON_RECORD,
        AMAZON_1.rstrip("."),
        AMAZON_POST,
        _swap(
            _swap(AMAZON_POST, f"<p>{AMAZON_1}</p>", ""),
            "We are implementing a one-year moratorium on police use of Rekognition",
            "An update on Amazon Rekognition",
        ),
        "removed",
        True,
    ),
    Case(
        "amazon-may-continue",
        "Amazon",
        AMAZON_RECORD,
        AMAZON_2.rstrip("."),
        AMAZON_POST,
        _swap(AMAZON_POST, "We will continue to allow", "We may continue to allow"),
        "weakened",
        True,
    ),
    Case("amazon-post-moved", "Amazon", AMAZON_RECORD, AMAZON_1.rstrip("."), AMAZON_POST, "", "moved", True),
    Case(
        "amazon-climate-aim",
        "Amazon",
        CLIMATE_RECORD,
        CLIMATE,
        CLIMATE_PAGE,
        _swap(CLIMATE_PAGE, "We commit to reaching", "We aim to reach"),
        "weakened",
        True,
    ),
    Case(
        "amazon-climate-intact",
        "Amazon",
        CLIMATE_RECORD,
        CLIMATE,
        CLIMATE_PAGE,
        _swap(
            CLIMATE_PAGE,
            "co-founded The Climate Pledge in 2019",
            "co-founded The Climate Pledge in 2019 "
            "with Global Optimism; more than 500 companies have signed it",
        ),
        "changed",
        True,
    ),
    # Microsoft
    Case(
        "microsoft-does-not-currently",
        "Microsoft",
        MS_RECORD + "; the wording of the issue's 2024 page",
        MS_CLAUSE,
        MS_PAGE,
        _swap(
            MS_PAGE,
            MS_1,
            "Microsoft does not currently sell facial recognition technology to police "
            "departments in the United States.",
        ),
        "weakened",
        True,
    ),
    Case(
        "microsoft-hedge",
        "Microsoft",
        MS_RECORD,
        MS_CLAUSE,
        MS_PAGE,
        _swap(MS_PAGE, "We will not sell", "At present we will not sell"),
        "weakened",
        True,
    ),
    Case(
        "microsoft-end-date",
        "Microsoft",
        MS_RECORD,
        MS_CLAUSE,
        MS_PAGE,
        _swap(
            MS_PAGE,
            "until we have a national law in place, grounded in human rights, that will govern "
            "this technology",
            "until the end of 2025",
        ),
        "weakened",
        True,
    ),
    Case(
        "microsoft-scope-real-time",
        "Microsoft",
        MS_RECORD,
        MS_CLAUSE,
        MS_PAGE,
        _swap(MS_PAGE, "sell facial recognition", "sell real-time facial recognition"),
        "weakened",
        True,
    ),
    Case(
        "microsoft-removed",
        "Microsoft",
        MS_RECORD,
        MS_CLAUSE,
        MS_PAGE,
        _swap(MS_PAGE, f"<p>{MS_1}</p>", ""),
        "removed",
        True,
    ),
    Case("microsoft-page-gone", "Microsoft", MS_RECORD, MS_CLAUSE, MS_PAGE, "", "gone", True),
    Case(
        "microsoft-emotion-may",
        "Microsoft",
        MS_RAI_RECORD,
        MS_RAI,
        MS_RAI_PAGE,
        _swap(MS_RAI_PAGE, "we will retire", "we may retire"),
        "weakened",
        True,
    ),
    Case(
        "microsoft-emotion-reworded",
        "Microsoft",
        MS_RAI_RECORD,
        MS_RAI,
        MS_RAI_PAGE,
        _swap(MS_RAI_PAGE, "that purport to infer", "that claim to infer"),
        "reworded",
        True,
    ),
    Case(
        "microsoft-carbon-later",
        "Microsoft",
        MS_CARBON_RECORD,
        MS_CARBON,
        MS_CARBON_PAGE,
        _swap(MS_CARBON_PAGE, "By 2030 Microsoft", "By 2035 Microsoft"),
        "weakened",
        True,
    ),
    # Google
    Case(
        "google-head-removed-2025",
        "Google",
        f"{GOOGLE_RECORD}; {GOOGLE_2025}",
        G_HEAD,
        G_PAGE,
        G_PAGE_2025,
        "removed",
    ),
    Case(
        "google-weapons-removed-2025",
        "Google",
        f"{GOOGLE_RECORD}; {GOOGLE_2025}",
        G_WEAPONS,
        G_PAGE,
        G_PAGE_2025,
        "removed",
    ),
    Case(
        "google-surveillance-removed-2025",
        "Google",
        f"{GOOGLE_RECORD}; {GOOGLE_2025}",
        G_SURVEILLANCE,
        G_PAGE,
        G_PAGE_2025,
        "removed",
    ),
    Case(
        "google-surveillance-primarily",
        "Google",
        GOOGLE_RECORD,
        G_SURVEILLANCE,
        G_PAGE,
        _swap(G_PAGE, "Technologies that gather", "Technologies that primarily gather"),
        "weakened",
        True,
    ),
    Case("google-principles-moved", "Google", GOOGLE_RECORD, G_WEAPONS, G_PAGE, "", "moved", True),
    Case(
        "google-cloud-currently",
        "Google",
        G_CLOUD_RECORD,
        G_CLOUD,
        G_CLOUD_PAGE,
        _swap(G_CLOUD_PAGE, "has chosen not to offer", "currently has chosen not to offer"),
        "weakened",
        True,
    ),
    Case(
        "google-carbon-neutral-dropped",
        "Google",
        G_CARBON_RECORD,
        G_CARBON,
        G_CARBON_PAGE,
        G_CARBON_2023,
        "removed",
    ),
    Case(
        "google-dont-be-evil", "Google", G_COC_RECORD, "don't be evil", G_COC_BEFORE, G_COC_AFTER, "changed"
    ),
    # Others
    Case("zoom-terms-2023", "Zoom", ZOOM_RECORD, ZOOM, ZOOM_PAGE, ZOOM_PAGE_AFTER, "reworded"),
    Case(
        "openai-military-removed",
        "OpenAI",
        OPENAI_RECORD,
        "Military and warfare",
        OPENAI_BEFORE,
        OPENAI_AFTER,
        "removed",
    ),
    Case(
        "meta-exception-added",
        "Meta",
        META_RECORD,
        META,
        META_PAGE,
        _swap(
            META_PAGE,
            "recognized in photos and videos,",
            "recognized in photos and videos, except for identity verification,",
        ),
        "weakened",
        True,
    ),
    Case(
        "axon-one-year",
        "Axon",
        AXON_RECORD,
        AXON,
        AXON_PAGE,
        _swap(AXON_PAGE, "on our body cameras.", "on our body cameras for one year."),
        "weakened",
        True,
    ),
)
