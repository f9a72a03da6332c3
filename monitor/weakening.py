"""The weakening rules as data: which reworded pledge wordings water a pledge down, and how to say so.

Each rule is a regular expression over *normalized words* (``text.normalize_for_match``: lower
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

Rules are per language (``RULES_BY_LANGUAGE``: English, French, German, Spanish), chosen by a
pledge's ``language`` or the page's ``lang`` (``rules_for``). Words are compared without accents,
so patterns are written without them (``a l'heure actuelle``, ``vorubergehend``, ``ano``).
``FUNCTION_WORDS`` are the words that say nothing of what a clause is about: a passage is related
to a clause when it shares enough of the *other* words.
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
# Up to twelve following words: a dropped condition is quoted whole ("until strong regulation ...").
_LONG_TAIL = _TAIL.replace("{0,3}", "{0,12}")
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
    # --- a promise became a statement of present fact ("will not sell" -> "does not currently sell")
    WeakeningRule(
        "commitment-future",
        "commitment_dropped",
        r"will|shall|won't|shan't|(?:commits?|committed|pledges?|pledged|promises?|promised|vows?) to"
        r"|guarantees?",
        'commitment turned into a statement of present fact: "{words}" dropped',
        "removed",
    ),
    # --- what bound the pledge is gone: its condition, its deadline, its number
    WeakeningRule(
        "condition-dropped",
        "condition_dropped",
        rf"(?P<key>until|till|unless|pending)(?= [^ ]){_LONG_TAIL}",
        'condition dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "deadline-dropped",
        "deadline_dropped",
        rf"(?:within|in) (?:the next )?(?:{_NUMBER}|a|an) (?:day|week|month|year)s?"
        rf"|(?:by|before|no later than) (?:the end of )?{_DATE}",
        'time limit dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "number-dropped",
        "number_dropped",
        r"(?:(?:at least|more than|no less than|no more than|over|up to|all) )?"
        r"(?!(?:19|20)\d\d(?![^ ]))\d[\d.,]*(?! (?:day|week|month|year)s?(?![^ ]))"
        r"(?: (?:percent|per cent|million|billion))?",
        'number dropped: "{words}"',
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
        rf"(?P<key>until|till|pending)(?= [^ ]){_LONG_TAIL}",
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
        r"general purpose|off the shelf|commercially available|real time",
        'scope narrowed: "{words}"',
    ),
    WeakeningRule(
        "scope-feature",
        "scope_narrowed",
        r"(?:[^ ]+ ){0,2}?(?:feature|features|functionality|capability|capabilities|module|api)",
        'scope narrowed: "{words}"',
        "introduced",
    ),
)


# --- French ---------------------------------------------------------------------------------------
_FR_TAIL = r"(?: (?!(?:et|ou|mais|qui|que|lorsque|si|sauf)(?![^ ]))[^ ]+){0,12}"
_FR_UNTIL = r"jusqu'(?:a|au|aux|en|ce que|a ce que)|tant que|en attendant"
_FR_COUNT = r"\d+|un|une|deux|trois|quatre|cinq|six|douze|dix huit"
FRENCH: tuple[WeakeningRule, ...] = (
    WeakeningRule(
        "fr-hedge-for-now",
        "hedge_added",
        r"pour le moment|pour l'instant|pour l'heure|actuellement|a l'heure actuelle|a ce jour"
        r"|en ce moment|a present|aujourd'hui",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "fr-hedge-modal",
        "hedge_added",
        r"peut|peuvent|pourrait|pourraient|pourrons|pourra|eventuellement|le cas echeant",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "fr-hedge-usually",
        "hedge_added",
        r"generalement|en general|en principe|habituellement|normalement|dans la plupart des cas"
        r"|le plus souvent",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "fr-hedge-feasible",
        "hedge_added",
        r"dans la mesure du possible|si possible|lorsque c'est possible|autant que possible"
        r"|dans la mesure ou",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "fr-hedge-exception",
        "hedge_added",
        r"sauf(?: si)?|a l'exception d(?:e|es|u)|a moins que|excepte|hormis|sous reserve d(?:e|es|u)",
        'exception added: "{words}"',
    ),
    WeakeningRule(
        "fr-negation-never",
        "negation_dropped",
        r"(?:ne |n')?(?:[^ ]+ )?(?:jamais|plus)",
        'negation dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "fr-negation-not",
        "negation_dropped",
        r"(?:ne |n')?(?:[^ ]+ )?(?:pas|aucune?|nullement|point)|n'[^ ]+|ni",
        'negation dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "fr-negation-prohibit",
        "negation_dropped",
        r"interdi(?:t|te|ts|tes|sons|sent|re|ction)|proscri[^ ]*|refus(?:e|ons|ent|er)",
        'prohibition dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "fr-commitment-future",
        "commitment_dropped",
        r"[^ ]{2,}(?:rons|ront)|nous nous engageons a|s'engage a|nous engageons a|promettons|garantissons",
        'commitment turned into a statement of present fact: "{words}" dropped',
        "removed",
    ),
    WeakeningRule(
        "fr-condition-dropped",
        "condition_dropped",
        rf"(?P<key>{_FR_UNTIL}|a moins que|sauf si)(?= [^ ]){_FR_TAIL}",
        'condition dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "fr-time-duration",
        "time_limited",
        rf"(?:(?:pendant|pour|durant) |d')?(?:{_FR_COUNT}) (?:ans?|annees?|mois|semaines?|jours?)",
        'time limit added: "{words}"',
        "introduced",
    ),
    WeakeningRule(
        "fr-time-until",
        "time_limited",
        rf"(?P<key>{_FR_UNTIL}|jusqu'a nouvel ordre)(?= [^ ]){_FR_TAIL}",
        'condition added: "{words}"',
    ),
    WeakeningRule(
        "fr-time-temporary",
        "time_limited",
        r"temporaire(?:s|ment)?|provisoire(?:s|ment)?|moratoire|suspend[^ ]*|pause",
        'made temporary: "{words}"',
    ),
    WeakeningRule(
        "fr-scope-only",
        "scope_narrowed",
        r"uniquement|seulement|exclusivement|limitee?s? a(?:ux?)?|certaine?s?|specifiques?|particuliere?s?",
        'scope narrowed: "{words}"',
    ),
    WeakeningRule(
        "fr-scope-place",
        "scope_narrowed",
        r"(?:en|aux|au) (?:france|europe|etats unis|allemagne|espagne|canada|quebec)",
        'scope narrowed: "{words}"',
        "introduced",
    ),
    WeakeningRule(
        "fr-scope-purpose",
        "scope_narrowed",
        rf"(?P<key>dans le cadre d(?:e|es|u|')|a des fins d(?:e|')|aux fins d(?:e|es|u|')|en lien avec"
        rf"|en relation avec)(?= [^ ]){_FR_TAIL}",
        'scope narrowed: "{words}"',
    ),
)

# --- German ---------------------------------------------------------------------------------------
_DE_TAIL = r"(?: (?!(?:und|oder|aber|die|der|das|wenn|falls|ausser)(?![^ ]))[^ ]+){0,12}"
_DE_COUNT = r"\d+|ein|eine|einen|einem|zwei|drei|vier|funf|sechs|zwolf|achtzehn"
GERMAN: tuple[WeakeningRule, ...] = (
    WeakeningRule(
        "de-hedge-for-now",
        "hedge_added",
        r"derzeit|zurzeit|zur zeit|momentan|vorerst|gegenwartig|aktuell|im moment|fur den moment"
        r"|bis jetzt|heute",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "de-hedge-modal",
        "hedge_added",
        r"kann|konnen|konnte|konnten|durfen|darf|moglicherweise|gegebenenfalls|eventuell",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "de-hedge-usually",
        "hedge_added",
        r"grundsatzlich|in der regel|im allgemeinen|normalerweise|meistens|uberwiegend|weitgehend",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "de-hedge-feasible",
        "hedge_added",
        r"soweit (?:moglich|machbar|zumutbar)|wenn moglich|nach moglichkeit|wo moglich",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "de-hedge-exception",
        "hedge_added",
        r"ausser|ausgenommen|es sei denn|mit ausnahme (?:von|der|des)|vorbehaltlich",
        'exception added: "{words}"',
    ),
    WeakeningRule(
        "de-negation-never",
        "negation_dropped",
        r"nie|niemals|nimmer|nicht mehr|keinesfalls|auf keinen fall",
        'negation dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "de-negation-not",
        "negation_dropped",
        r"nicht|kein|keine|keinen|keinem|keiner|keines",
        'negation dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "de-negation-prohibit",
        "negation_dropped",
        r"verbiete[nt]?|verboten|verbot|untersag[^ ]*|lehnen [^ ]+ ab",
        'prohibition dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "de-commitment-future",
        "commitment_dropped",
        r"werden|wird|verpflichten uns|verpflichtet sich|versprechen|garantieren",
        'commitment turned into a statement of present fact: "{words}" dropped',
        "removed",
    ),
    WeakeningRule(
        "de-condition-dropped",
        "condition_dropped",
        rf"(?P<key>bis|solange|es sei denn|sofern nicht)(?= [^ ]){_DE_TAIL}",
        'condition dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "de-time-duration",
        "time_limited",
        rf"(?:fur |auf )?(?:{_DE_COUNT}) (?:jahr|jahre|jahren|monat|monate|monaten|woche|wochen|tage?n?)",
        'time limit added: "{words}"',
        "introduced",
    ),
    WeakeningRule(
        "de-time-until",
        "time_limited",
        rf"(?P<key>bis auf weiteres|bis|solange)(?= [^ ]){_DE_TAIL}",
        'condition added: "{words}"',
    ),
    WeakeningRule(
        "de-time-temporary",
        "time_limited",
        r"vorubergehend|befristet|moratorium|zeitweise|vorlaufig|ausgesetzt|pausiert",
        'made temporary: "{words}"',
    ),
    WeakeningRule(
        "de-scope-only",
        "scope_narrowed",
        r"nur|ausschliesslich|lediglich|bestimmte[nmrs]?|spezielle[nmrs]?|beschrankt auf",
        'scope narrowed: "{words}"',
    ),
    WeakeningRule(
        "de-scope-place",
        "scope_narrowed",
        r"in (?:den usa|den vereinigten staaten|deutschland|europa|der eu|osterreich|der schweiz)",
        'scope narrowed: "{words}"',
        "introduced",
    ),
    WeakeningRule(
        "de-scope-purpose",
        "scope_narrowed",
        rf"(?P<key>im zusammenhang mit|im rahmen (?:von|der|des)|zum zweck (?:der|des)"
        rf"|fur zwecke (?:der|des))(?= [^ ]){_DE_TAIL}",
        'scope narrowed: "{words}"',
    ),
)

# --- Spanish --------------------------------------------------------------------------------------
_ES_TAIL = r"(?: (?!(?:y|o|pero|que|cuando|si|salvo|excepto)(?![^ ]))[^ ]+){0,12}"
_ES_COUNT = r"\d+|un|una|dos|tres|cuatro|cinco|seis|doce|dieciocho"
SPANISH: tuple[WeakeningRule, ...] = (
    WeakeningRule(
        "es-hedge-for-now",
        "hedge_added",
        r"por ahora|por el momento|de momento|actualmente|en este momento|en la actualidad|hoy por hoy",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "es-hedge-modal",
        "hedge_added",
        r"puede|pueden|podria|podrian|podemos|podra|posiblemente|eventualmente",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "es-hedge-usually",
        "hedge_added",
        r"generalmente|en general|normalmente|por lo general|en principio|en la mayoria de los casos",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "es-hedge-feasible",
        "hedge_added",
        r"en la medida de lo posible|cuando sea posible|si es posible|siempre que sea posible",
        'hedge added: "{words}"',
    ),
    WeakeningRule(
        "es-hedge-exception",
        "hedge_added",
        r"excepto|salvo|a menos que|con excepcion de|sujeto a|a excepcion de",
        'exception added: "{words}"',
    ),
    WeakeningRule(
        "es-negation-never",
        "negation_dropped",
        r"nunca|jamas|ya no",
        'negation dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "es-negation-not",
        "negation_dropped",
        r"no|ningun|ninguna|ninguno|tampoco|ni",
        'negation dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "es-negation-prohibit",
        "negation_dropped",
        r"prohib[^ ]*|rechaz[^ ]*",
        'prohibition dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "es-commitment-future",
        "commitment_dropped",
        r"[^ ]{2,}(?:aremos|eremos|iremos)|nos comprometemos a|se compromete a|vamos a|garantizamos",
        'commitment turned into a statement of present fact: "{words}" dropped',
        "removed",
    ),
    WeakeningRule(
        "es-condition-dropped",
        "condition_dropped",
        rf"(?P<key>hasta que|mientras|a menos que|salvo que)(?= [^ ]){_ES_TAIL}",
        'condition dropped: "{words}"',
        "removed",
    ),
    WeakeningRule(
        "es-time-duration",
        "time_limited",
        rf"(?:durante |por )?(?:{_ES_COUNT}) (?:anos?|mes|meses|semanas?|dias?)",
        'time limit added: "{words}"',
        "introduced",
    ),
    WeakeningRule(
        "es-time-until",
        "time_limited",
        rf"(?P<key>hasta nuevo aviso|hasta que|hasta|mientras)(?= [^ ]){_ES_TAIL}",
        'condition added: "{words}"',
    ),
    WeakeningRule(
        "es-time-temporary",
        "time_limited",
        r"temporal(?:es|mente)?|provisional(?:es|mente)?|moratoria|suspend[^ ]*|pausa",
        'made temporary: "{words}"',
    ),
    WeakeningRule(
        "es-scope-only",
        "scope_narrowed",
        r"solo|solamente|unicamente|exclusivamente|ciertos|ciertas|determinados|determinadas|especificos"
        r"|especificas|limitado a",
        'scope narrowed: "{words}"',
    ),
    WeakeningRule(
        "es-scope-place",
        "scope_narrowed",
        r"en (?:los estados unidos|estados unidos|espana|europa|la ue|mexico|america latina)",
        'scope narrowed: "{words}"',
        "introduced",
    ),
    WeakeningRule(
        "es-scope-purpose",
        "scope_narrowed",
        rf"(?P<key>en relacion con|con fines de|en el marco de|con el proposito de|en el contexto de)"
        rf"(?= [^ ]){_ES_TAIL}",
        'scope narrowed: "{words}"',
    ),
)

RULES_BY_LANGUAGE: dict[str, tuple[WeakeningRule, ...]] = {
    "en": RULES,
    "fr": FRENCH,
    "de": GERMAN,
    "es": SPANISH,
}
LANGUAGES = tuple(RULES_BY_LANGUAGE)


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": _set(
        "a an the of to in on at by for with from and or but as is are was were be been it its our we us"
        " this that these those their they any all no not will would shall do does did has have had which"
        " who there"
    ),
    "fr": _set(
        "le la les l' un une des de du d' a au aux en et ou mais pour par sur dans avec ne n' pas nous vous"
        " il elle ils elles ce cette ces son sa ses leur leurs notre nos est sont qui que"
    ),
    "de": _set(
        "der die das den dem des ein eine einen einem einer eines und oder aber zu in im an am auf fur mit"
        " von vom bei nicht wir sie es ist sind wird werden unser unsere unseren"
    ),
    "es": _set(
        "el la los las un una unos unas de del a al en y o pero para por con sin no nos su sus nuestro"
        " nuestra es son que se lo"
    ),
}


def language_code(language: str | None) -> str:
    """The rules' language for a BCP 47 tag ("fr-CA" -> "fr"); English when unknown or unsupported."""
    code = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in RULES_BY_LANGUAGE else "en"


def rules_for(language: str | None) -> tuple[WeakeningRule, ...]:
    """The weakening rules for a pledge's or a page's language."""
    return RULES_BY_LANGUAGE[language_code(language)]
