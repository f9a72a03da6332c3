"""Weakening signals, rule by rule and language by language: what a rewording loses."""

from __future__ import annotations

import pytest

from monitor.clauses import Outcome, find_clause
from monitor.signals import weakening_signals
from monitor.weakening import RULES, RULES_BY_LANGUAGE, rules_for
from tests.test_clauses import AMAZON, IBM, MICROSOFT

# rule name -> (clause, passage, expected explanation)
RULE_CASES: dict[str, tuple[str, str, str]] = {
    "hedge-for-now": (
        "we will not sell facial recognition to police",
        "for now we will not sell facial recognition to police",
        'hedge added: "for now"',
    ),
    "hedge-modal": (
        "we will not sell facial recognition to police",
        "we might not sell facial recognition to police",
        'hedge added: "might"',
    ),
    "hedge-intent": (
        "we will not sell facial recognition to police",
        "we intend not to sell facial recognition to police",
        'hedge added: "intend not to"',
    ),
    "hedge-usually": (
        "IBM no longer offers facial recognition software",
        "IBM typically no longer offers facial recognition software",
        'hedge added: "typically"',
    ),
    "hedge-feasible": (
        "we delete face templates within 30 days",
        "we delete face templates within 30 days where possible",
        'hedge added: "where possible"',
    ),
    "hedge-exception": (
        "we will not sell facial recognition to police",
        "we will not sell facial recognition to police unless required by law",
        'exception added: "unless"',
    ),
    "negation-no-longer": (
        "IBM no longer offers general purpose facial recognition",
        "IBM offers general purpose facial recognition",
        'negation dropped: "no longer"',
    ),
    "negation-not": (
        "Microsoft won’t sell facial recognition to police",
        "Microsoft will sell facial recognition to police",
        'negation dropped: "won’t"',
    ),
    "negation-no": (
        "no police department may use Rekognition",
        "a police department may use Rekognition",
        'negation dropped: "no"',
    ),
    "negation-prohibit": (
        "Amazon bans police use of Rekognition",
        "Amazon limits police use of Rekognition",
        'prohibition dropped: "bans"',
    ),
    "time-shortened": (
        "a two-year moratorium on police use",
        "an 18-month moratorium on police use",
        'time limit shortened: "two year" became "18 month"',
    ),
    "time-duration": (
        "a moratorium on police use of Rekognition",
        "a moratorium on police use of Rekognition for 12 months",
        'time limit added: "for 12 months"',
    ),
    "time-until-further-notice": (
        "an indefinite moratorium on police use",
        "a moratorium on police use until further notice",
        'open-ended condition added: "until further notice"',
    ),
    "time-end-date": (
        "we will not sell facial recognition to police",
        "we will not sell facial recognition to police until June 2025",
        'end date added: "until June 2025"',
    ),
    "time-until": (
        "we will not sell facial recognition to police",
        "we will not sell facial recognition to police until Congress acts",
        'condition added: "until Congress acts"',
    ),
    "time-temporary": (
        "we stopped selling facial recognition to police",
        "we temporarily stopped selling facial recognition to police",
        'made temporary: "temporarily"',
    ),
    "time-date": (
        "we will not sell facial recognition to police",
        "as of June 10, 2020 we will not sell facial recognition to police",
        'date added: "June 10 2020"',
    ),
    "scope-actor": (
        "a moratorium on the use of Rekognition",
        "a moratorium on the use of Rekognition by local police departments",
        'scope narrowed: "by local police departments"',
    ),
    "scope-place": (
        "we will not sell facial recognition to police",
        "we will not sell facial recognition to police in the U.S.",
        'scope narrowed: "in the U.S"',
    ),
    "scope-purpose": (
        "a moratorium on police use of Rekognition",
        "a moratorium on police use of Rekognition for the purpose of mass surveillance",
        'scope narrowed: "for the purpose of mass surveillance"',
    ),
    "scope-criminal": (
        "a moratorium on police use of Rekognition",
        "a moratorium on police use of Rekognition in criminal investigations",
        'scope narrowed: "in criminal investigations"',
    ),
    "scope-only": (
        "we will not sell facial recognition to police",
        "we will not sell facial recognition solely to police",
        'scope narrowed: "solely"',
    ),
    "scope-product": (
        "IBM no longer offers facial recognition software",
        "IBM no longer offers off-the-shelf facial recognition software",
        'scope narrowed: "off the shelf"',
    ),
    "scope-feature": (
        "a moratorium on police use of Rekognition",
        "a moratorium on police use of Rekognition's face comparison feature",
        'scope narrowed: "face comparison feature"',
    ),
    "commitment-future": (
        "Microsoft will not sell facial recognition to police",
        "Microsoft does not sell facial recognition to police",
        'commitment turned into a statement of present fact: "will" dropped',
    ),
    "condition-dropped": (
        "we will not sell facial recognition to police until strong regulation, grounded in human rights,"
        " has been enacted",
        "we will not sell facial recognition to police",
        'condition dropped: "until strong regulation grounded in human rights has been enacted"',
    ),
    "deadline-dropped": (
        "we delete face templates within 30 days",
        "we delete face templates",
        'time limit dropped: "within 30 days"',
    ),
    "number-dropped": (
        "we will cut police contracts by at least 50 percent",
        "we will cut police contracts",
        'number dropped: "at least 50 percent"',
    ),
}
RULES_BY_NAME = {rule.name: rule for rule in RULES}


def test_every_rule_has_a_case() -> None:
    assert set(RULE_CASES) == set(RULES_BY_NAME)


@pytest.mark.parametrize("name", sorted(RULE_CASES))
def test_each_rule_alone(name: str) -> None:
    clause, passage, explanation = RULE_CASES[name]
    rule = RULES_BY_NAME[name]
    (signal,) = weakening_signals(clause, passage, rules=[rule])
    assert signal.kind == rule.kind
    assert signal.explanation == explanation
    assert weakening_signals(clause, clause, rules=[rule]) == ()


@pytest.mark.parametrize("name", sorted(RULE_CASES))
def test_each_rule_within_the_whole_table(name: str) -> None:
    clause, passage, explanation = RULE_CASES[name]
    assert explanation in [s.explanation for s in weakening_signals(clause, passage)]


@pytest.mark.parametrize(
    ("clause", "passage"),
    [
        pytest.param(MICROSOFT, MICROSOFT.replace("will not", "won't"), id="will-not-to-wont"),
        pytest.param("we do not sell data", "we don’t sell data", id="do-not-to-dont"),
        pytest.param(
            "Amazon will never sell Rekognition", "Amazon will not ever sell Rekognition", id="never"
        ),
        pytest.param(AMAZON, AMAZON.replace("one-year", "two-year"), id="lengthened"),
        pytest.param(AMAZON, AMAZON.replace("a one-year", "an indefinite"), id="made-indefinite"),
        pytest.param(MICROSOFT, MICROSOFT.replace("national", "federal"), id="until-condition-reworded"),
        pytest.param(IBM, IBM.replace("software", "products"), id="synonym"),
        pytest.param(MICROSOFT, MICROSOFT.replace("the United States", "the U.S."), id="same-place"),
        pytest.param("a ban on use by police", "a ban on use by law enforcement agencies", id="same-actor"),
        pytest.param(IBM, IBM, id="identical"),
    ],
)
def test_rewordings_that_do_not_weaken(clause: str, passage: str) -> None:
    assert weakening_signals(clause, passage) == ()


# rule name (its language first) -> (clause, passage, expected explanation)
LANGUAGE_RULE_CASES: dict[str, tuple[str, str, str]] = {
    "fr-hedge-for-now": (
        "nous ne vendrons pas la reconnaissance faciale à la police",
        "pour le moment, nous ne vendrons pas la reconnaissance faciale à la police",
        'hedge added: "pour le moment"',
    ),
    "fr-hedge-modal": (
        "la police ne reçoit aucun accès à la reconnaissance faciale",
        "la police ne peut recevoir aucun accès à la reconnaissance faciale",
        'hedge added: "peut"',
    ),
    "fr-hedge-usually": (
        "nous refusons les demandes de la police",
        "nous refusons généralement les demandes de la police",
        'hedge added: "généralement"',
    ),
    "fr-hedge-feasible": (
        "nous supprimons les images de visages sous trente jours",
        "nous supprimons les images de visages sous trente jours dans la mesure du possible",
        'hedge added: "dans la mesure du possible"',
    ),
    "fr-hedge-exception": (
        "nous refusons les demandes de la police",
        "nous refusons les demandes de la police sauf décision de justice",
        'exception added: "sauf"',
    ),
    "fr-negation-never": (
        "nous ne vendrons jamais la reconnaissance faciale à la police",
        "nous vendrons la reconnaissance faciale à la police",
        'negation dropped: "ne vendrons jamais"',
    ),
    "fr-negation-not": (
        "nous ne vendons pas la reconnaissance faciale à la police",
        "nous vendons la reconnaissance faciale à la police",
        'negation dropped: "ne vendons pas"',
    ),
    "fr-negation-prohibit": (
        "notre politique interdit la vente à la police",
        "notre politique encadre la vente à la police",
        'prohibition dropped: "interdit"',
    ),
    "fr-commitment-future": (
        "nous ne vendrons pas la reconnaissance faciale à la police",
        "nous ne vendons pas la reconnaissance faciale à la police",
        'commitment turned into a statement of present fact: "vendrons" dropped',
    ),
    "fr-condition-dropped": (
        "aucune vente à la police jusqu'à l'adoption d'une loi nationale",
        "aucune vente à la police",
        "condition dropped: \"jusqu'à l'adoption d'une loi nationale\"",
    ),
    "fr-time-duration": (
        "un moratoire sur l'usage policier de la reconnaissance faciale",
        "un moratoire d'un an sur l'usage policier de la reconnaissance faciale",
        'time limit added: "d\'un an"',
    ),
    "fr-time-until": (
        "aucune vente de reconnaissance faciale à la police",
        "aucune vente de reconnaissance faciale à la police jusqu'à nouvel ordre",
        'condition added: "jusqu\'à nouvel ordre"',
    ),
    "fr-time-temporary": (
        "nous avons cessé de vendre la reconnaissance faciale à la police",
        "nous avons temporairement cessé de vendre la reconnaissance faciale à la police",
        'made temporary: "temporairement"',
    ),
    "fr-scope-only": (
        "aucune vente de reconnaissance faciale à la police",
        "aucune vente de reconnaissance faciale uniquement à la police municipale",
        'scope narrowed: "uniquement"',
    ),
    "fr-scope-place": (
        "aucune vente de reconnaissance faciale à la police",
        "aucune vente de reconnaissance faciale à la police en France",
        'scope narrowed: "en France"',
    ),
    "fr-scope-purpose": (
        "aucun usage policier de la reconnaissance faciale",
        "aucun usage policier de la reconnaissance faciale dans le cadre des enquêtes pénales",
        'scope narrowed: "dans le cadre des enquêtes pénales"',
    ),
    "de-hedge-for-now": (
        "Wir verkaufen keine Gesichtserkennung an die Polizei",
        "Wir verkaufen derzeit keine Gesichtserkennung an die Polizei",
        'hedge added: "derzeit"',
    ),
    "de-hedge-modal": (
        "Die Polizei erhält keinen Zugang zu unserer Gesichtserkennung",
        "Die Polizei kann keinen Zugang zu unserer Gesichtserkennung erhalten",
        'hedge added: "kann"',
    ),
    "de-hedge-usually": (
        "Wir lehnen Anfragen der Polizei ab",
        "Wir lehnen Anfragen der Polizei grundsätzlich ab",
        'hedge added: "grundsätzlich"',
    ),
    "de-hedge-feasible": (
        "Wir löschen Gesichtsbilder nach dreißig Tagen",
        "Wir löschen Gesichtsbilder soweit möglich nach dreißig Tagen",
        'hedge added: "soweit möglich"',
    ),
    "de-hedge-exception": (
        "Wir geben der Polizei keine Gesichtsdaten",
        "Wir geben der Polizei keine Gesichtsdaten, es sei denn ein Gericht ordnet es an",
        'exception added: "es sei denn"',
    ),
    "de-negation-never": (
        "Wir werden niemals Gesichtserkennung an die Polizei verkaufen",
        "Wir werden Gesichtserkennung an die Polizei verkaufen",
        'negation dropped: "niemals"',
    ),
    "de-negation-not": (
        "Wir verkaufen keine Gesichtserkennung an die Polizei",
        "Wir verkaufen eine Gesichtserkennung an die Polizei",
        'negation dropped: "keine"',
    ),
    "de-negation-prohibit": (
        "Unsere Richtlinie verbietet den Verkauf an die Polizei",
        "Unsere Richtlinie regelt den Verkauf an die Polizei",
        'prohibition dropped: "verbietet"',
    ),
    "de-commitment-future": (
        "Wir werden keine Gesichtserkennung an die Polizei verkaufen",
        "Wir verkaufen keine Gesichtserkennung an die Polizei",
        'commitment turned into a statement of present fact: "werden" dropped',
    ),
    "de-condition-dropped": (
        "Kein Verkauf an die Polizei bis ein Bundesgesetz in Kraft ist",
        "Kein Verkauf an die Polizei",
        'condition dropped: "bis ein Bundesgesetz in Kraft ist"',
    ),
    "de-time-duration": (
        "ein Moratorium für die Nutzung durch die Polizei",
        "ein Moratorium für ein Jahr für die Nutzung durch die Polizei",
        'time limit added: "für ein Jahr"',
    ),
    "de-time-until": (
        "Kein Verkauf von Gesichtserkennung an die Polizei",
        "Kein Verkauf von Gesichtserkennung an die Polizei bis auf Weiteres",
        'condition added: "bis auf Weiteres"',
    ),
    "de-time-temporary": (
        "Wir haben den Verkauf an die Polizei eingestellt",
        "Wir haben den Verkauf an die Polizei vorübergehend eingestellt",
        'made temporary: "vorübergehend"',
    ),
    "de-scope-only": (
        "Kein Verkauf von Gesichtserkennung an die Polizei",
        "Kein Verkauf von Gesichtserkennung nur an die Polizei",
        'scope narrowed: "nur"',
    ),
    "de-scope-place": (
        "Kein Verkauf von Gesichtserkennung an die Polizei",
        "Kein Verkauf von Gesichtserkennung an die Polizei in Deutschland",
        'scope narrowed: "in Deutschland"',
    ),
    "de-scope-purpose": (
        "Keine Nutzung der Gesichtserkennung durch die Polizei",
        "Keine Nutzung der Gesichtserkennung durch die Polizei im Zusammenhang mit Strafverfahren",
        'scope narrowed: "im Zusammenhang mit Strafverfahren"',
    ),
    "es-hedge-for-now": (
        "no venderemos reconocimiento facial a la policía",
        "por ahora no venderemos reconocimiento facial a la policía",
        'hedge added: "por ahora"',
    ),
    "es-hedge-modal": (
        "la policía no tiene acceso al reconocimiento facial",
        "la policía no puede tener acceso al reconocimiento facial",
        'hedge added: "puede"',
    ),
    "es-hedge-usually": (
        "rechazamos las solicitudes de la policía",
        "generalmente rechazamos las solicitudes de la policía",
        'hedge added: "generalmente"',
    ),
    "es-hedge-feasible": (
        "borramos las imágenes faciales en treinta días",
        "borramos las imágenes faciales en treinta días cuando sea posible",
        'hedge added: "cuando sea posible"',
    ),
    "es-hedge-exception": (
        "no compartimos datos faciales con la policía",
        "no compartimos datos faciales con la policía salvo orden judicial",
        'exception added: "salvo"',
    ),
    "es-negation-never": (
        "nunca venderemos reconocimiento facial a la policía",
        "venderemos reconocimiento facial a la policía",
        'negation dropped: "nunca"',
    ),
    "es-negation-not": (
        "no vendemos reconocimiento facial a la policía",
        "vendemos reconocimiento facial a la policía",
        'negation dropped: "no"',
    ),
    "es-negation-prohibit": (
        "nuestra política prohíbe la venta a la policía",
        "nuestra política regula la venta a la policía",
        'prohibition dropped: "prohíbe"',
    ),
    "es-commitment-future": (
        "no venderemos reconocimiento facial a la policía",
        "no vendemos reconocimiento facial a la policía",
        'commitment turned into a statement of present fact: "venderemos" dropped',
    ),
    "es-condition-dropped": (
        "no venderemos a la policía hasta que exista una ley federal",
        "no venderemos a la policía",
        'condition dropped: "hasta que exista una ley federal"',
    ),
    "es-time-duration": (
        "una moratoria sobre el uso policial del reconocimiento facial",
        "una moratoria de un año sobre el uso policial del reconocimiento facial",
        'time limit added: "un año"',
    ),
    "es-time-until": (
        "no venderemos reconocimiento facial a la policía",
        "no venderemos reconocimiento facial a la policía hasta nuevo aviso",
        'condition added: "hasta nuevo aviso"',
    ),
    "es-time-temporary": (
        "dejamos de vender reconocimiento facial a la policía",
        "dejamos temporalmente de vender reconocimiento facial a la policía",
        'made temporary: "temporalmente"',
    ),
    "es-scope-only": (
        "no venderemos reconocimiento facial a la policía",
        "no venderemos reconocimiento facial solo a la policía local",
        'scope narrowed: "solo"',
    ),
    "es-scope-place": (
        "no venderemos reconocimiento facial a la policía",
        "no venderemos reconocimiento facial a la policía en España",
        'scope narrowed: "en España"',
    ),
    "es-scope-purpose": (
        "ningún uso policial del reconocimiento facial",
        "ningún uso policial del reconocimiento facial en relación con investigaciones penales",
        'scope narrowed: "en relación con investigaciones penales"',
    ),
}


def test_every_rule_of_every_language_has_a_case() -> None:
    named = {rule.name for code in ("fr", "de", "es") for rule in RULES_BY_LANGUAGE[code]}
    assert set(LANGUAGE_RULE_CASES) == named
    assert set(RULES_BY_LANGUAGE) == {"en", "fr", "de", "es"}


@pytest.mark.parametrize("name", sorted(LANGUAGE_RULE_CASES))
def test_each_language_rule_alone_and_in_its_table(name: str) -> None:
    clause, passage, explanation = LANGUAGE_RULE_CASES[name]
    language = name[:2]
    (rule,) = [r for r in RULES_BY_LANGUAGE[language] if r.name == name]
    (signal,) = weakening_signals(clause, passage, rules=[rule])
    assert signal.kind == rule.kind
    assert signal.explanation == explanation
    assert weakening_signals(clause, clause, rules=[rule]) == ()
    assert explanation in [s.explanation for s in weakening_signals(clause, passage, language=language)]


def test_the_language_picks_the_rules() -> None:
    """English rules read "derzeit" as nothing; German ones as a hedge. "fr-CA" is French."""
    clause, passage = "Wir verkaufen keine Gesichtserkennung", "Wir verkaufen derzeit eine Gesichtserkennung"
    assert weakening_signals(clause, passage) == ()
    assert [s.kind for s in weakening_signals(clause, passage, language="de-DE")] == [
        "hedge_added",
        "negation_dropped",
    ]
    assert rules_for("fr-CA") is RULES_BY_LANGUAGE["fr"]
    assert rules_for("pt") is RULES
    assert rules_for(None) is RULES


def test_a_french_pledge_found_with_for_now_is_weakened_in_french() -> None:
    clause = "Nous ne vendrons pas de reconnaissance faciale aux services de police"
    page = (
        "Nos engagements\n"
        "Pour le moment, nous ne vendons pas de reconnaissance faciale aux services de police.\n"
        "Contact"
    )
    match = find_clause(clause, page, language="fr")
    assert match.outcome is Outcome.WEAKENED
    assert (
        match.passage
        == "Pour le moment, nous ne vendons pas de reconnaissance faciale aux services de police"
    )
    kinds = {s.kind: s.words for s in match.signals}
    assert kinds == {"hedge_added": "Pour le moment", "commitment_dropped": "vendrons"}


def test_a_german_keine_that_became_eine_is_weakened() -> None:
    clause = "Wir verkaufen keine Gesichtserkennung an Polizeibehörden"
    page = "Unsere Grundsätze\nWir verkaufen eine Gesichtserkennung an Polizeibehörden.\n"
    match = find_clause(clause, page, language="de")
    assert match.outcome is Outcome.WEAKENED
    assert [(s.kind, s.words) for s in match.signals] == [("negation_dropped", "keine")]


def test_may_the_month_is_no_hedge() -> None:
    hedge = [rule for rule in RULES if rule.name == "hedge-modal"]
    assert weakening_signals("announced in June 2020", "announced on May 18 2021", rules=hedge) == ()
    assert weakening_signals("we sell no data", "we may sell no data", rules=hedge) != ()


def test_hedges_are_all_recognised() -> None:
    hedges = (
        "currently", "at this time", "for now", "generally", "may", "might", "aim to", "seek to", "strive to",
        "where feasible", "where possible", "where appropriate", "in most cases", "typically", "intend to",
        "plan to", "expect to", "except", "unless", "subject to",
    )  # fmt: skip
    for hedge in hedges:
        signals = weakening_signals("we will sell no data", f"we will {hedge} sell no data")
        assert [(s.kind, s.words) for s in signals] == [("hedge_added", hedge)], hedge


def test_negations_are_all_recognised() -> None:
    pairs = [
        ("we will not sell", "we will sell", "will not"),
        ("we won't sell", "we will sell", "won't"),
        ("we do not sell", "we sell", "do not"),
        ("it does not sell", "it sells", "does not"),
        ("we never sell", "we sell", "never"),
        ("we no longer sell", "we sell", "no longer"),
        ("we cannot sell", "we can sell", "cannot"),
        ("policy prohibits sales", "policy covers sales", "prohibits"),
        ("policy bans sales", "policy covers sales", "bans"),
    ]
    for clause, passage, words in pairs:
        signals = weakening_signals(clause, passage)
        assert [(s.kind, s.words) for s in signals] == [("negation_dropped", words)], clause


def test_several_signals_come_in_rule_order() -> None:
    signals = weakening_signals(
        "we will not sell facial recognition to police",
        "we currently will sell facial recognition to police in the United States until further notice",
    )
    assert [s.kind for s in signals] == ["hedge_added", "negation_dropped", "time_limited", "scope_narrowed"]
