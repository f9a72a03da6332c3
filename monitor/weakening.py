"""The weakening rules as data: which reworded pledge wordings water a pledge down, and how to say so.

Each rule is a regular expression over *normalized words* (``clauses.normalize_for_match``: lower
case, straight quotes, hyphens and dashes read as spaces, punctuation at word edges dropped, one
space between words), so ``"one-year"`` is written ``one year`` and ``"Won’t"`` is ``won't``. A pattern
always matches whole words. The optional group ``key`` names what is counted (``until`` in ``until
further notice``); without it the whole match is counted.

``compare`` says when a rule fires, comparing the clause as pledged with the passage now on the page:

- ``added``: the passage has more of a key than the clause (a hedge or qualifier appeared);
- ``introduced``: the clause had no match at all and the passage has one (a time limit appeared);
- ``removed``: the passage has fewer matches than the clause, counted over every ``removed`` rule of
  the same kind, so ``will not`` -> ``won't`` is no loss but ``will not`` -> ``will`` is;
- ``shorter``: both carry a duration (groups ``n``/``a`` and ``unit``, or ``open``) and the passage's
  shortest one is shorter than the clause's.

Order matters: within one kind, a later match overlapping an earlier one is not reported again, so
specific rules come before generic ones. ``extends_passage``: a match just outside the best-matching
words, in the same sentence, is taken into the passage ("... technology until further notice"); off
for dates, which near a pledge usually say when it was made, not until when it holds.

Templates are formatted with ``words`` (the page's words, or the clause's for ``removed``) and
``before`` (the clause's words, for ``shorter``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Compare = Literal["added", "introduced", "removed", "shorter"]


@dataclass(frozen=True)
class WeakeningRule:
    """One row of the table: a named pattern, the signal kind it raises, and its explanation."""

    name: str
    kind: str
    pattern: str
    template: str
    compare: Compare = "added"
    extends_passage: bool = True


_NUMBER = (
    r"\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|eighteen|twenty four|thirty six"
)
_UNIT = r"(?P<unit>day|week|month|year)s?"
_FINITE_DURATION = rf"(?:for (?P<a>an?) |(?:for )?(?P<n>{_NUMBER}) ){_UNIT}"
_OPEN_ENDED = r"(?P<open>indefinite(?:ly)?|permanent(?:ly)?|forever|in perpetuity|until further notice)"
# Up to three following words, stopping before a word that starts another condition.
_TAIL = (
    r"(?: (?!(?:until|till|unless|except|through|and|or|but|that|which|who|where|when|if)(?![^ ]))[^ ]+){0,3}"
)
_MONTH = r"january|february|march|april|may|june|july|august|september|october|november|december"
_YEAR = r"(?:19|20)\d\d"
_DATE = rf"(?:(?:{_MONTH})(?: \d{{1,2}})?(?: {_YEAR})|(?:{_MONTH}) \d{{1,2}}|{_YEAR})"

# Words for numbers that durations use; digits are read as they are.
NUMBER_WORDS: dict[str, int] = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "eighteen": 18,
    "twenty four": 24,
    "thirty six": 36,
}
UNIT_DAYS: dict[str, int] = {"day": 1, "week": 7, "month": 30, "year": 365}

RULES: tuple[WeakeningRule, ...] = (
    # --- hedges: the pledge now holds only for now, usually, or if convenient
    WeakeningRule(
        "hedge-for-now",
        "hedge_added",
        r"currently|at this time|at present|presently|for now|for the time being|at the moment"
        r"|as of (?:now|today)|right now",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "hedge-modal",
        "hedge_added",
        r"may(?! \d)|might|could|should",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "hedge-intent",
        "hedge_added",
        r"(?:aims?|seeks?|strives?|intends?|plans?|expects?|hopes?|endeavou?rs?|tries|try|works?)"
        r" (?:not )?to",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "hedge-usually",
        "hedge_added",
        r"generally|typically|usually|normally|ordinarily|in (?:most|many|some) cases|in general"
        r"|as a rule|in principle|largely|mostly|primarily",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "hedge-feasible",
        "hedge_added",
        r"(?:where|when|if|as) (?:feasible|possible|practicable|appropriate|practical)"
        r"|to the extent (?:feasible|possible|practicable|appropriate|permitted)|as far as possible"
        r"|(?:commercially )?reasonable efforts",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "hedge-exception",
        "hedge_added",
        r"except(?: for| as| where| when)?|excepting|unless|subject to|other than|with the exception of"
        r"|save for|barring",
        'exception added: "{words}"',
    ),
    # --- negations: "will not" became "will"; counted together, so "will not" -> "won't" is no loss
    WeakeningRule(
        "negation-no-longer",
        "negation_dropped",
        r"no longer|never|not ever|no more",
        'negation dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "negation-not",
        "negation_dropped",
        r"(?:will|would|do|does|did|shall|should|must|can|could|are|is|may) not"
        r"|won't|wouldn't|don't|doesn't|didn't|shan't|can't|cannot|isn't|aren't|not",
        'negation dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "negation-no",
        "negation_dropped",
        r"no|none|nor|neither",
        'negation dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "negation-prohibit",
        "negation_dropped",
        r"prohibit(?:s|ed|ing)?|ban(?:s|ned|ning)?|forbid(?:s|den|ding)?|refus(?:e|es|ed|ing)"
        r"|declines? to",
        'prohibition dropped: "{words}"',
        "removed",
    ),
    # --- time: a deadline, a condition or a shorter term appeared
    WeakeningRule(
        "time-shortened",
        "time_limited",
        rf"{_OPEN_ENDED}|{_FINITE_DURATION}",
        'time limit shortened: "{before}" became "{words}"',
        "shorter",
    ),
    WeakeningRule(
        "time-duration",
        "time_limited",
        _FINITE_DURATION,
        'time limit added: "{words}"',
        "introduced",
    ),
    WeakeningRule(
        "time-until-further-notice",
        "time_limited",
        r"until further notice|for the foreseeable future|until we decide otherwise",
        'open-ended condition added: "{words}"',
    ),
    WeakeningRule(
        "time-end-date",
        "time_limited",
        rf"(?P<key>through|thru|until|till|by|before|ending|ends|expiring|expires|sunsets?)"
        rf"(?: on| in)? (?:the end of )?{_DATE}",
        'end date added: "{words}"',
    ),
    WeakeningRule(
        "time-until",
        "time_limited",
        rf"(?P<key>until|till|pending)(?= [^ ]){_TAIL}",
        'condition added: "{words}"',
    ),
    WeakeningRule(
        "time-temporary",
        "time_limited",
        r"temporar(?:y|ily)|interim|provisional(?:ly)?|for a limited (?:time|period)|time limited"
        r"|moratorium|pause[ds]?|suspend(?:s|ed)?",
        'made temporary: "{words}"',
    ),
    WeakeningRule(
        "time-date",
        "time_limited",
        _DATE,
        'date added: "{words}"',
        extends_passage=False,
    ),
    # --- scope: the pledge now covers less (some products, one country, one purpose, one customer)
    WeakeningRule(
        "scope-actor",
        "scope_narrowed",
        r"by (?:or for )?(?:a |an |any |the )?(?:[^ ]+ ){0,2}"
        r"(?:police|law enforcement)(?: departments?| forces?| agenc(?:y|ies))?",
        'scope narrowed: "{words}"',
        "introduced",  # "by police" -> "by law enforcement" is the same scope said otherwise
    ),
    WeakeningRule(
        "scope-place",
        "scope_narrowed",
        r"(?:in|within|inside|across) (?:the (?:united states|us|usa|u\.s|u\.s\.a|uk|united kingdom|eu"
        r"|european union)|united states|u\.s|usa|u\.s\.a|america|europe|canada|china|california)"
        r"|(?:u\.s|american|federal|state|local|municipal) (?:police|law enforcement)",
        'scope narrowed: "{words}"',
        "introduced",  # "in the United States" -> "in the U.S." is the same place
    ),
    WeakeningRule(
        "scope-purpose",
        "scope_narrowed",
        r"(?P<key>in connection with|for the purposes? of|for use (?:in|by|with)|with respect to"
        r"|in relation to|relating to|related to|as part of|in the context of|in the course of)" + _TAIL,
        'scope narrowed: "{words}"',
    ),
    WeakeningRule(
        "scope-criminal",
        "scope_narrowed",
        r"(?:for|in|during) (?:[^ ]+ ){0,2}?(?:criminal|investigative|law enforcement)"
        r" (?:investigations?|purposes?|cases?|matters?|use)",
        'scope narrowed: "{words}"',
    ),
    WeakeningRule(
        "scope-only",
        "scope_narrowed",
        r"only|solely|exclusively|limited to|restricted to|limited|specifically|specific|specified"
        r"|certain|particular|some|a subset of",
        'scope narrowed: "{words}"',
    ),
    WeakeningRule(
        "scope-product",
        "scope_narrowed",
        r"general purpose|off the shelf|commercially available",
        'scope narrowed: "{words}"',
    ),
)
