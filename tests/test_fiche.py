"""Tests of the fiche parser (:mod:`cqpm_graph.fiche`) and its text helpers (:mod:`cqpm_graph.text`)
on the five real fiches of ``data/fiches`` and on broken inputs built in ``tmp_path``."""
from __future__ import annotations

import dataclasses
import hashlib
import re
from datetime import date
from pathlib import Path

import pytest

from cqpm_graph.fiche import WARNING_CODES, detect_layout, parse_fiche, parse_text
from cqpm_graph.model import ACCESS_ROUTES, Fiche, FicheParseError, Span
from cqpm_graph.text import (LOOKALIKES, clean_block, clean_inline, known_acronyms, mask_markup,
                             normalise_for_compare, repair_lookalikes, repair_ocr, strip_html,
                             strip_item_punctuation)

FICHES = Path(__file__).resolve().parent.parent / "data" / "fiches"
FILES = {
    "000": "000_49dbc97dca6e95ec.txt",
    "001": "001_ea942a2c7d180680.txt",
    "002": "002_47ce5fae93505f98.txt",
    "003": "003_59b883e404a36628.txt",
    "004": "004_22ee70d99d31557e.txt",
}
CERTIFIER = ("Commission paritaire nationale de l'emploi (CPNE) de la métallurgie - "
             "Union des industries et métiers de la métallurgie (UIMM)")
JURY_START = "Jury paritaire"


@pytest.fixture(scope="module")
def fiches() -> dict[str, Fiche]:
    return {key: parse_fiche(FICHES / name) for key, name in FILES.items()}


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return {key: (FICHES / name).read_text(encoding="utf-8") for key, name in FILES.items()}


# -- helpers -------------------------------------------------------------------------------------

def all_span_holders(f: Fiche):
    """Every record of a fiche that carries ``spans``, with a name for messages."""
    yield "fiche", f
    for a in f.activities:
        yield f"activity {a.code}", a
    for c in f.capacities:
        yield f"capacity {c.code}", c
        for i, k in enumerate(c.criteria):
            yield f"criterion {c.code}-{i + 1}", k
    for b in f.blocs:
        yield f"bloc {b.code}", b
    for a in f.access:
        yield f"access {a.route}", a
    if f.registration:
        yield "registration", f.registration
    if f.history:
        yield "history", f.history


def all_strings(obj, path="fiche"):
    """Every string value reachable from a parsed record (spans and warnings excluded)."""
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, (list, tuple)):
        for i, x in enumerate(obj):
            yield from all_strings(x, f"{path}[{i}]")
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, Span):
        for fld in dataclasses.fields(obj):
            if fld.name in ("spans", "warnings", "source_path"):
                continue
            yield from all_strings(getattr(obj, fld.name), f"{path}.{fld.name}")


def caps(f: Fiche) -> dict[str, str]:
    return {c.code: c.label for c in f.capacities}


def members(f: Fiche) -> dict[str, list[str]]:
    return {b.code: b.capacity_codes for b in f.blocs}


def access(f: Fiche) -> dict[str, bool | None]:
    return {a.route: a.is_open for a in f.access}


def codes(f: Fiche) -> set[str]:
    return {w.code for w in f.warnings}


# -- properties shared by all fiches -----------------------------------------------------------

@pytest.mark.parametrize("key", FILES)
def test_spans_point_at_their_source_text(fiches, texts, key):
    text = texts[key]
    n = 0
    for where, holder in all_span_holders(fiches[key]):
        for fld, span in holder.spans.items():
            assert text[span.start:span.end] == span.text, (where, fld)
            assert span.line == text.count("\n", 0, span.start) + 1, (where, fld)
            assert span.end > span.start, (where, fld)
            n += 1
    for w in fiches[key].warnings:
        if w.span:
            assert text[w.span.start:w.span.end] == w.span.text
    assert n > 20


@pytest.mark.parametrize("key", FILES)
def test_every_value_has_a_span(fiches, key):
    f = fiches[key]
    for a in f.activities:
        assert "label" in a.spans
    for c in f.capacities:
        assert "label" in c.spans
        assert all(f"alt_labels[{i}]" in c.spans for i in range(len(c.alt_labels)))
        assert (c.condition is None) == ("condition" not in c.spans)
        assert all("label" in k.spans for k in c.criteria)
    for b in f.blocs:
        assert "title" in b.spans
    for a in f.access:
        assert "route" in a.spans and (a.jury is None) == ("jury" not in a.spans)
    for fld in ("title", "number", "certifier", "signatory", "awards_per_year", "validity",
                "new_caledonia", "french_polynesia", "short_title", "kind", "abbreviation"):
        if getattr(f, fld) not in (None, ""):
            assert fld in f.spans, fld
    for i in range(len(f.jobs)):
        assert f"jobs[{i}]" in f.spans
    for i in range(len(f.rome)):
        assert f"rome[{i}]" in f.spans
    if f.registration:
        for fld in ("decision", "decision_date", "journal_officiel_date", "effective_date", "end_date",
                    "duration_years", "registered_title"):
            assert (getattr(f.registration, fld) is None) == (fld not in f.registration.spans), fld


_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
_NOISE = re.compile("[" + "".join(LOOKALIKES) + "☐•’\u2013]|\\*\\*|^#|\\s{2,}|^\\s|\\s$")


@pytest.mark.parametrize("key", FILES)
def test_no_markup_or_lookalike_left_in_values(fiches, key):
    for path, value in all_strings(fiches[key]):
        assert not _TAG.search(value), (path, value)
        if path.endswith((".text", ".summary", ".evaluation", ".sectors")):
            lines = value.split("\n")   # multi-line prose: check each line
        else:
            lines = [value]
            assert "\n" not in value, (path, value)
        for line in lines:
            assert not _NOISE.search(line), (path, line)


@pytest.mark.parametrize("key", FILES)
def test_file_facts(fiches, key):
    f = fiches[key]
    assert f.source_name == FILES[key]
    assert f.source_path == FICHES / FILES[key]
    assert f.sha256 == hashlib.sha256((FICHES / FILES[key]).read_bytes()).hexdigest()
    assert all(w.code in WARNING_CODES and w.message.startswith(FILES[key]) for w in f.warnings)
    assert not any(w.code == "section-missing" for w in f.warnings)
    assert f.formacodes == []


def test_layouts(fiches):
    assert {k: f.layout for k, f in fiches.items()} == {
        "000": "rncp-html", "001": "rncp-markdown", "002": "rncp-pdf", "003": "cqpm-referentiel",
        "004": "rncp-ocr"}


@pytest.mark.parametrize("key", ["000", "001", "002", "004"])
def test_rncp_common_values(fiches, key):
    f = fiches[key]
    assert f.registry == "RNCP" and f.cert_id == f.number
    assert f.abbreviation == "CQP" and f.kind == "CQPM"
    assert f.title == f"Certificat de qualification professionnelle {f.short_title} (CQPM)"
    assert len(f.access) == 6 and [a.route for a in f.access] == list(ACCESS_ROUTES)
    assert f.registration.registered_title == f.title
    assert f.registration.duration_years == 5
    # every capacity is in exactly the bloc that lists it
    for b in f.blocs:
        assert b.code == f"{f.number}BC{b.number:02d}"
        for code in b.capacity_codes:
            assert f.capacity(code).bloc_code == b.code
        assert b.evaluation.startswith("Evaluation en situation professionnelle réelle")
        assert "Attestation" in b.evaluation
    assert all(c.bloc_code for c in f.capacities)
    assert "capacity-without-bloc" not in codes(f)


# -- 000: RNCP 28229, text with HTML fragments -----------------------------------------------------

def test_000_identity(fiches):
    f = fiches["000"]
    assert f.number == "RNCP28229"
    assert f.title == ("Certificat de qualification professionnelle Animateur (trice) d'équipe autonome "
                       "de production (CQPM)")
    assert f.short_title == "Animateur (trice) d'équipe autonome de production"
    assert f.certifier == CERTIFIER
    assert f.signatory == "Directeur emploi formation de l'UIMM"
    assert f.idcc == [("3109", "Métallurgie")]
    assert f.nsf == [("200", "Technologies industrielles fondamentales")]
    assert f.rome == [("H2503", "Pilotage d'unité élémentaire de production mécanique"),
                      ("H2504", "Encadrement d'équipe en industrie de transformation")]
    assert f.jobs == ["Chef de ligne", "Chef d'équipe de production", "Coordinateur d'équipe de production",
                      "Animateur d'unité autonome ou d'ilot de fabrication",
                      "Animateur de ligne de fabrication et/ ou de conditionnement",
                      "Animateur de groupe de fabrication et/ ou de conditionnement", "Chef de chaîne"]
    assert f.sectors == "Le ou la titulaire de la qualification exerce ses activités au sein d'entreprises"
    assert f.summary.startswith("Le (la) titulaire de la qualification anime un groupe d'opérateurs")


def test_000_activities_capacities_blocs(fiches):
    f = fiches["000"]
    assert [(a.code, a.label) for a in f.activities] == [
        ("A1", "Animation de la production dans sa zone de responsabilité"),
        ("A2", "Amélioration de la performance"),
        ("A3", "Communication avec son équipe, sa hiérarchie et les services supports")]
    assert caps(f) == {
        "C1": "Ordonner et optimiser l'activité du secteur dans son périmètre de responsabilité, en adéquation "
              "avec les objectifs de production",
        "C2": "Affecter ou réaffecter les ressources humaines de son secteur en fonction des nécessités de la "
              "production",
        "C3": "Communiquer à sa hiérarchie tout élément nécessaire à la gestion du secteur",
        "C4": "Relayer auprès du personnel de son secteur toutes informations nécessaires à son bon fonctionnement",
        "C5": "Faire appel, dans les conditions fixées par le responsable de l'unité ou de l'atelier, aux services "
              "supports nécessaires au bon fonctionnement de son secteur",
        "C6": "S'assurer de la conformité des moyens de mesure et de leur étalonnage",
        "C7": "Veiller à l'application des procédures, notamment Qualité Sécurité Environnement, pour son secteur",
        "C8": "Evaluer le bon fonctionnement de l'ensemble des postes de son secteur",
        "C9": "Assurer la remontée d'informations et le suivi des données de la gestion de production",
        "C10": "Identifier les dysfonctionnements de son secteur et proposer des solutions d'amélioration",
        "C11": "Conduire les actions correctives qui lui sont confiées dans le cadre de plans d'actions",
    }
    assert members(f) == {"RNCP28229BC01": ["C1", "C2", "C3", "C4", "C5"],
                          "RNCP28229BC02": ["C6", "C7", "C8", "C9"],
                          "RNCP28229BC03": ["C10", "C11"]}
    assert [b.title for b in f.blocs] == ["L'animation technique d'une équipe de production",
                                          "L'assurance du bon fonctionnement des postes de fabrication",
                                          "La contribution à un projet d'amélioration"]
    # the bloc says "Ordonnancer": a real difference, kept as an alternative wording
    assert f.capacity("C1").alt_labels == [
        "Ordonnancer et optimiser l'activité du secteur dans son périmètre de responsabilité, en adéquation "
        "avec les objectifs de production"]
    assert all(not c.alt_labels for c in f.capacities if c.code != "C1")
    [w] = [w for w in f.warnings if w.code == "capacity-wording-differs"]
    assert w.field == "capacities[C1]" and "Ordonner" in w.message and "Ordonnancer" in w.message
    assert codes(f) == {"capacity-wording-differs"}


def test_000_access_registration_history(fiches):
    f = fiches["000"]
    assert access(f) == {k: True for k in ACCESS_ROUTES}
    jury = {a.route: a.jury for a in f.access}
    assert jury["formation-initiale"] is None and jury["candidature-individuelle"] is None
    assert jury["vae"].startswith("Jury paritaire: 50% de représentants des salariés")
    assert jury["vae"].endswith("celle du président du jury est prépondérante.")
    assert f.spans["new_caledonia"].text == "X"
    assert (f.new_caledonia, f.french_polynesia) == (False, False)
    assert (f.validity, f.validity_years) == ("illimitée", None)
    r = f.registration
    assert r.decision == "Arrêté du 07 avril 2017"
    assert (r.decision_date, r.journal_officiel_date) == (date(2017, 4, 7), date(2017, 4, 21))
    assert (r.effective_date, r.end_date) == (date(2017, 4, 21), date(2022, 4, 21))
    assert r.spans["decision_date"].text == "07 avril 2017"
    assert r.spans["duration_years"].text == "cinq"
    assert f.awards_per_year == 168 and f.spans["awards_per_year"].text == "168"
    h = f.history
    assert (h.cqpm_number, h.gtp_number) == ("0251", "2006 07 74 0251")
    assert (h.validation_date, h.validation_year) == (date(2007, 5, 15), 2007)
    assert h.validation_body == "Groupe Technique Paritaire de la Métallurgie"
    assert (h.category, h.revision_date, h.creation_year) == ("B", None, None)
    assert f.other_sources == ["http://cqpm.fr", "https://uimm.fr/"]
    assert f.certification_places == [
        "Union des industries et métiers de la métallurgie (UIMM) - 56, avenue de Wagram - 75017 Paris"]


# -- 001: RNCP 19453, Markdown ---------------------------------------------------------------------

def test_001_values(fiches):
    f = fiches["001"]
    assert f.number == "RNCP19453"
    assert f.short_title == "Pilote de systèmes de production automatisée"
    assert (f.certifier, f.signatory) == (CERTIFIER, "Président")
    assert f.idcc == []
    assert f.nsf == [("201", "Technologies de commandes des transformations industrielles")]
    assert [c for c, _ in f.rome] == ["H2903", "H2904", "H2905", "H2906", "H2907"]
    assert f.rome[3] == ("H2906", "Conduite d'installation automatisée ou robotisée de fabrication mécanique")
    assert f.jobs == ["Pilote de systèmes de production automatisée", "Conducteur d'installations",
                      "Leader de Groupe Autonome de Production", "Technicien de conduite",
                      "Pilote d'installations de production automatisée"]
    assert f.sectors.startswith("Les missions ou activités qualité susceptibles")
    # "A3. … A4. …" on one line are two activities
    assert [(a.code, a.label) for a in f.activities] == [
        ("A1", "Conduite de plusieurs installations de production automatisée de moyenne ou grande série"),
        ("A2", "Animation technique ou fonctionnelle d'un groupe d'opérateurs de production travaillant dans sa zone"),
        ("A3", "Maintenance de plusieurs installations de production automatisée de moyenne ou grande série"),
        ("A4", "Participation à l'amélioration de la production")]
    assert "(Source : www.les-industries-technologiques.fr)" in f.summary
    assert members(f) == {"RNCP19453BC01": ["C1", "C2", "C3"], "RNCP19453BC02": ["C4", "C5"],
                          "RNCP19453BC03": ["C6", "C7", "C8"]}
    assert [b.title for b in f.blocs] == ["L'animation technique d'une équipe de production",
                                          "La réalisation de la maintenance préventive et curative de niveau 2",
                                          "La contribution à un projet d'amélioration"]
    c1, c2 = f.capacity("C1"), f.capacity("C2")
    assert c1.label == "Conduire différents postes opérateurs de la ligne ou du système de production"
    assert c1.alt_labels == ["Conduire différents postes d'opérateurs de la ligne ou du système de production "
                             "automatisée"]
    assert c2.label == ("Organiser l'activité ou les moyens nécessaires de la ligne ou du système de production "
                        "dont il (elle) coordonne techniquement la conduite")
    assert c2.alt_labels == ["Organiser l'activité et les moyens nécessaires de la ligne ou du système de "
                             "production dont il (elle) coordonne techniquement la conduite"]
    assert f.capacity("C5").label.startswith("Assurer les opérations de maintenance curative de niveau 2 (au sens")
    assert all(not c.alt_labels for c in f.capacities[2:])
    assert len(f.capacities) == 8
    assert codes(f) == {"capacity-wording-differs"}
    assert access(f) == {k: True for k in ACCESS_ROUTES}
    assert (f.new_caledonia, f.french_polynesia) == (False, False)
    assert (f.validity, f.validity_years) == ("5 an(s)", 5)
    r = f.registration
    assert (r.decision, r.decision_date, r.journal_officiel_date) == (
        "Arrêté du 29 juillet 2014", date(2014, 7, 29), date(2014, 8, 9))
    assert (r.effective_date, r.end_date) == (date(2014, 8, 9), date(2019, 8, 9))
    assert f.awards_per_year == 56
    assert f.history.text == ("Modalité d'élaboration des références : Commission paritaire nationale de "
                              "l'emploi (CPNE) de la métallurgie")
    assert f.history.cqpm_number is None and f.history.validation_year is None
    assert f.other_sources == ["http://cqpm.fr"]


# -- 002: RNCP 28246, PDF extraction ------------------------------------------------------------

def test_002_values(fiches):
    f = fiches["002"]
    assert f.number == "RNCP28246"
    assert f.short_title == "Equipier(ère) autonome de production industrielle"
    assert f.certifier == CERTIFIER          # en dash and ’ normalised, lines joined
    assert f.spans["certifier"].text.count("\n") == 2
    assert f.signatory == "Directeur emploi formation de l'UIMM"
    assert f.idcc == [("3109", "Métallurgie")]
    assert f.nsf == [("200u", "Conduite de machines s.a.i."),
                     ("201", "Technologies de commandes des transformations industrielles")]
    assert f.rome == [("H2903", "Conduite d'équipement d'usinage")]
    assert f.jobs == ["Conducteur / Conductrice de machines automatiques du travail des métaux",
                      "Conducteur / Conductrice de machines outils d'usinage des métaux"]
    assert f.sectors.endswith("par exemple l'aéronautique, l'automobile, la navale, le ferroviaire.")
    assert [(a.code, a.label) for a in f.activities] == [
        ("A1", "La préparation de l'activité de production"),
        ("A2", "La réalisation de l'activité de production"),
        ("A3", "Les propositions d'actions en appliquant des outils d'amélioration continue")]
    # summary numbered "1)", blocs "C1": the same capacities, same wording
    assert caps(f) == {
        "C1": "Identifier et vérifier tous les éléments nécessaires à l'activité",
        "C2": "Appliquer les règles sécurité et environnement",
        "C3": "Réaliser les opérations professionnelles confiées",
        "C4": "Contrôler la conformité du résultat de l'activité",
        "C5": "Réagir à une situation anormale",
        "C6": "Maintenir, nettoyer, ranger son poste de travail",
        "C7": "Renseigner les supports ou documents relatifs à l'activité",
        "C8": "Contribuer à l'amélioration du poste de travail",
    }
    assert f.capacity("C1").spans["label"].text == "Identifier et vérifier tous les éléments nécessaires à l’activité"
    assert all(not c.alt_labels for c in f.capacities)
    assert members(f) == {"RNCP28246BC01": ["C1", "C2", "C3", "C4", "C5", "C6"], "RNCP28246BC02": ["C7", "C8"]}
    assert [b.title for b in f.blocs] == [
        "La réalisation de son activité de production",
        "Le suivi de la fabrication et la communication avec son environnement de travail"]
    assert f.blocs[0].spans["title"].text == "La\nréalisation de son activité de\nproduction"
    # the OUI/NON columns are lost: no value, a warning per row
    assert access(f) == {k: None for k in ACCESS_ROUTES}
    assert (f.new_caledonia, f.french_polynesia) == (None, None)
    ambiguous = [w for w in f.warnings if w.code == "access-route-ambiguous"]
    assert sorted(w.field for w in ambiguous) == sorted(f"access[{k}]" for k in ACCESS_ROUTES)
    assert sum(w.code == "territory-ambiguous" for w in f.warnings) == 2
    assert codes(f) == {"access-route-ambiguous", "territory-ambiguous"}
    juries = {a.route: a.jury for a in f.access}
    assert juries["contrat-professionnalisation"].startswith("Jury paritaire: 50% de représentants des salariés")
    assert juries["vae"].endswith("est prépondérante.") and juries["apprentissage"] is None
    assert (f.validity, f.validity_years) == ("illimitée", None)
    r = f.registration
    assert (r.decision_date, r.journal_officiel_date, r.effective_date, r.end_date) == (
        date(2017, 4, 7), date(2017, 4, 21), date(2017, 4, 21), date(2022, 4, 21))
    assert f.awards_per_year == 996
    assert f.history.creation_year == 1997 and f.history.cqpm_number is None
    assert "http" not in f.history.text          # page footer URL dropped
    assert "pole-emploi" not in " ".join(f.other_sources)
    assert f.other_sources == ["http://cqpm.fr", "https://uimm.fr/"]


# -- 003: référentiel CQPM without RNCP number --------------------------------------------------------

CRITERIA_COUNTS = {"C1": 4, "C2": 4, "C3": 4, "C4": 4, "C5": 4, "C6": 4, "C7": 4, "C8": 4, "C9": 5, "C10": 4}


def test_003_identity(fiches):
    f = fiches["003"]
    assert (f.registry, f.number) == (None, None)
    assert f.title == f.short_title == "Management d'équipe(s) autonome(s)"
    assert f.cert_id == "CQPM-management-d-equipe-s-autonome-s"
    assert f.kind == "CQPM" and f.abbreviation is None
    assert f.blocs == [] and f.access == [] and f.registration is None and f.history is None
    assert f.certifier is None and f.awards_per_year is None and f.validity is None
    assert (f.new_caledonia, f.french_polynesia) == (None, None)
    assert codes(f) == {"activity-codes-assigned"}


def test_003_activities_and_capacities(fiches):
    f = fiches["003"]
    assert [a.code for a in f.activities] == ["A1", "A2", "A3", "A4", "A5", "A6"]
    assert f.activities[0].label == "La coordination des actions de plusieurs équipes ou animateurs d'équipes"
    assert f.activities[5].label == ("La contribution au plan de progrès inter services avec une approche globale "
                                     "sur l'entreprise")
    assert caps(f) == {
        "C1": "Définir l'organisation de l'activité de son secteur",
        "C2": "Optimiser le fonctionnement de son secteur face aux aléas et événements",
        "C3": "Proposer des solutions d'amélioration de la performance de son secteur",
        "C4": "Elaborer et mettre en œuvre des démarches d'amélioration de la performance",
        "C5": "Définir les besoins en compétences de son secteur",
        "C6": "Evaluer les compétences des membres de son équipe",
        "C7": "Assurer l'évolution des compétences des membres de son équipe",
        "C8": "Gérer les informations nécessaires au fonctionnement de son secteur",
        "C9": "Créer la cohésion de l'équipe",
        "C10": "Conduire les projets d'évolution de son secteur",
    }
    assert {c.code: len(c.criteria) for c in f.capacities} == CRITERIA_COUNTS
    assert all(c.bloc_code is None and not c.alt_labels and c.condition for c in f.capacities)


def test_003_conditions_and_criteria(fiches):
    f = fiches["003"]
    c1 = f.capacity("C1")
    assert c1.condition == ("A partir des prévisions et des objectifs d'activité du secteur, sur un horizon donné "
                            "par l'entreprise, et selon les pratiques de l'entreprise.")
    assert c1.criteria[1].label == "La capacité est comparée à la charge de travail à assurer. Les écarts sont identifiés."
    assert f.capacity("C6").condition == ("Dans le respect des pratiques RH de l'entreprise et en utilisant les "
                                          "supports et outils de l'entreprise")
    c5 = f.capacity("C5")
    assert c5.criteria[3].label == ("Face à un besoin de ressources, les compétences prioritaires sont identifiées; "
                                    "le profil recherché est défini et transmis au service décisionnaire.")
    c7 = [k.label for k in f.capacity("C7").criteria]   # two criteria in one cell, then two rows
    assert c7[0] == ("Le potentiel et les projets d'évolution de chaque collaborateur sont repérés et formulés au "
                     "cours d'un entretien formel.")
    assert c7[1] == "Un plan d'objectifs personnalisé est défini avec chaque collaborateur et proposé à la hiérarchie."
    assert c7[3].startswith("Les actions d'accompagnement individuel (tutorat, mobilité)")
    c9 = [k.label for k in f.capacity("C9").criteria]
    assert c9[4] == ("Les situations de conflits, de crises, d'intérêts divergents sont identifiées et traitées "
                     "dans le sens d'une recherche de solution, en autonomie.")
    assert f.capacity("C3").criteria[0].label.startswith(
        "Les données d'activité (quantité ou niveau d'activité, non conformités, heures déclarées, ...)")
    assert f.capacity("C9").criteria[0].spans["label"].text.startswith("Les objectifs du secteur sont expliqués")


# -- 004: RNCP 28242, OCR ---------------------------------------------------------------------------

def test_004_identity(fiches):
    f = fiches["004"]
    assert f.number == "RNCP28242"
    assert f.short_title == "Coordonnateur(trice) de système qualité, sécurité, environnement"
    assert f.certifier is None
    assert f.signatory == "Directeur emploi formation de l'UIMM"
    assert f.spans["signatory"].text == "Directeur emploi formation de I'UIMM"
    assert f.idcc == [("3109", "Métallurgie")]
    assert f.nsf == [("200r", "Contrôle qualité de produits et procédés industriels")]
    assert f.rome == [("H1502", "Management et ingénierie qualité industrielle"),
                      ("H1301", "Inspection de conformité"),
                      ("H1303", "Intervention technique en Hygiène Sécurité Environnement -HSE- industriel")]
    assert f.spans["rome[1]"].text == "H1301</u> : Inspection de conformité"
    assert f.jobs == ["Coordonnateur qualité-sécurité-environnement", "Chargé/e de prévention et de sécurité",
                      "Coordonnateur/trice sécurité et protection de la santé (SPS)",
                      "Responsable qualité sécurité environnement (QSE)"]
    assert [(a.code, a.label) for a in f.activities] == [
        ("A1", "La participation à l'élaboration ou l'amélioration de la politique QSE"),
        ("A2", "L'organisation du système de management QSE et des audits"),
        ("A3", "Le management de l'amélioration continue avec plusieurs équipes fonctionnelles, en agissant sur "
               "les domaines qualité, sécurité, environnement")]


def test_004_capacities_and_blocs(fiches):
    f = fiches["004"]
    assert caps(f) == {
        "C1": "Préparer les éléments pour définir ou améliorer une politique Q, S, E",
        "C2": "Décrire un processus nécessaire au fonctionnement de l'organisation (opérationnel, support, "
              "management,...)",
        "C3": "Organiser et formaliser un système de management Q, S, E applicable à l'organisation",
        "C4": "Garantir la cohérence des objectifs déclinés de la politique qualité",
        "C5": "Garantir l'efficacité du pilotage des objectifs par des indicateurs appropriés",
        "C6": "Coordonner la mise en oeuvre d'outils de diagnostic et d'analyse pour identifier les risques dans "
              "les domaines Q, S, E",
        "C7": "Organiser le système d'audit Q, S, E appliqué dans l'entreprise",
        "C8": "Réaliser un audit au regard d'un référentiel interne ou externe",
    }
    # "O. S. E" vs "Q, S, E", œ vs oe and a final "." are no difference
    assert all(not c.alt_labels for c in f.capacities)
    assert members(f) == {"RNCP28242BC01": ["C1", "C2", "C3"], "RNCP28242BC02": ["C4", "C5", "C6"],
                          "RNCP28242BC03": ["C7", "C8"]}
    assert [b.title for b in f.blocs] == ["L'analyse de la politique QSE en place",
                                          "La mise en œuvre de la politique QSE", "L'audit QSE"]
    b3 = f.blocs[2]
    assert (b3.spans["title"].text, b3.spans["title_continued"].text) == ("L'audit", "OSE")
    repaired = [w for w in f.warnings if w.code == "bloc-title-repaired"]
    assert [w.field for w in repaired] == ["blocs[RNCP28242BC02].title", "blocs[RNCP28242BC03].title"]
    assert "suivantes :" in repaired[0].message


def test_004_access_registration_history(fiches):
    f = fiches["004"]
    assert access(f) == {"formation-initiale": True, "apprentissage": True, "formation-continue": True,
                         "contrat-professionnalisation": True, "candidature-individuelle": False, "vae": True}
    ci = next(a for a in f.access if a.route == "candidature-individuelle")
    assert ci.spans["is_open"].text == "\u0425"       # the Cyrillic Ha, read as X in the NON column
    assert ci.jury is None                           # "preportectance." is OCR debris
    assert (f.new_caledonia, f.french_polynesia) == (False, False)
    assert f.spans["french_polynesia"].text == "\u03a7"   # Greek Chi
    r = f.registration
    assert (r.decision, r.decision_date, r.journal_officiel_date) == (None, None, None)
    assert (r.effective_date, r.end_date, r.duration_years) == (date(2017, 4, 21), date(2022, 4, 21), 5)
    assert f.awards_per_year == 67
    h = f.history
    assert (h.cqpm_number, h.gtp_number) == ("0195", "2001 01 89 0195")
    assert (h.validation_date, h.validation_year) == (None, 2001)
    assert h.revision_date == date(2007, 1, 9)
    assert h.category == "C*"
    assert h.validation_body == "Groupe Technique Paritaire de la Métallurgie"
    assert "Оu" not in " ".join(b.evaluation for b in f.blocs)
    assert "guestionnements" in f.blocs[1].evaluation   # prose typos are left as printed


def test_004_warnings(fiches):
    f = fiches["004"]
    assert codes(f) == {"certifier-missing", "registration-decision-missing", "bloc-title-repaired",
                        "activity-not-coded", "access-table-stray-text", "access-jury-unreadable"}
    [w] = [w for w in f.warnings if w.code == "activity-not-coded"]
    assert "La liaison avec les organismes extérieurs" in w.message
    [w] = [w for w in f.warnings if w.code == "access-table-stray-text"]
    assert w.span.text == "validation"
    [w] = [w for w in f.warnings if w.code == "certifier-missing"]
    assert w.field == "certifier"


# -- errors --------------------------------------------------------------------------------------------

def test_empty_file_is_refused(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_text("", encoding="utf-8")
    with pytest.raises(FicheParseError, match=r"empty\.txt.*no 'Code RNCP' and no 'TITRE DU CQPM'"):
        parse_fiche(p)


def test_prose_file_is_refused(tmp_path):
    p = tmp_path / "prose.txt"
    p.write_text("Il était une fois une usine.\n\nElle fabriquait des vis et des écrous.\n", encoding="utf-8")
    with pytest.raises(FicheParseError) as exc:
        parse_fiche(p)
    assert "prose.txt" in str(exc.value) and "not a certification fiche" in str(exc.value)
    assert exc.value.path == str(p)


def test_fiche_without_title_is_refused(tmp_path, texts):
    broken = texts["000"].replace(
        "CQP : Certificat de qualification professionnelle Animateur (trice) d'équipe autonome de production "
        "(CQPM)\n", "")
    p = tmp_path / "no_title.txt"
    p.write_text(broken, encoding="utf-8")
    with pytest.raises(FicheParseError, match=r"no_title\.txt: no title found"):
        parse_fiche(p)


def test_referentiel_without_title_is_refused(tmp_path, texts):
    p = tmp_path / "ref.txt"
    p.write_text(texts["003"].replace("Management d'équipe(s) autonome(s)", "", 1), encoding="utf-8")
    with pytest.raises(FicheParseError, match=r"ref\.txt.*title"):
        parse_fiche(p)


def test_non_utf8_file_is_refused(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("Code RNCP : 1\nIntitulé\n".encode("latin-1"))
    with pytest.raises(FicheParseError, match="latin1.txt: not UTF-8"):
        parse_fiche(p)


def test_parse_text_matches_parse_fiche(fiches, texts):
    f = parse_text(texts["004"], FILES["004"], FICHES / FILES["004"])
    assert f.sha256 == fiches["004"].sha256
    assert caps(f) == caps(fiches["004"])


@pytest.mark.parametrize("key", FILES)
def test_crlf_line_ends_give_the_same_values(fiches, texts, key):
    crlf = texts[key].replace("\n", "\r\n")
    f, g = fiches[key], parse_text(crlf, FILES[key])
    assert [(c.code, c.label, c.alt_labels, c.bloc_code, len(c.criteria)) for c in g.capacities] == \
        [(c.code, c.label, c.alt_labels, c.bloc_code, len(c.criteria)) for c in f.capacities]
    assert (g.title, g.jobs, g.rome, access(g), [b.title for b in g.blocs]) == \
        (f.title, f.jobs, f.rome, access(f), [b.title for b in f.blocs])
    assert [w.code for w in g.warnings] == [w.code for w in f.warnings]
    for _, holder in all_span_holders(g):
        assert all(crlf[s.start:s.end] == s.text for s in holder.spans.values())


def test_partial_fiche_reports_missing_sections():
    f = parse_text("Code RNCP : 42\n\nIntitulé\n\nCQP : Certificat de qualification professionnelle Soudeur "
                   "(CQPM)\n", "mini.txt")
    assert f.cert_id == "RNCP42" and f.short_title == "Soudeur"
    assert "section-missing" in codes(f)
    assert f.capacities == [] and f.access == []


def test_capacity_in_no_bloc_or_only_in_a_bloc_is_reported():
    text = ("Code RNCP : 7\n\nIntitulé\n\nCQP : Certificat de qualification professionnelle Test (CQPM)\n\n"
            "Les capacités attestées :\n\nC1 Faire une chose\n\nC2 Faire une autre chose\n\n"
            "Bloc de compétence :\n\nBloc de compétence n°1 de la fiche n° 7 - Le bloc\t"
            "Descriptif : Ce bloc de compétences reprend les capacités professionnelles suivantes : "
            "C1 Faire une chose C3 Faire encore autre chose Modalités d'évaluation : Observation.\n\n"
            "Validité des composantes acquises : illimitée\n")
    f = parse_text(text, "t.txt")
    assert members(f) == {"RNCP7BC01": ["C1", "C3"]}
    assert f.capacity("C3").label == "Faire encore autre chose" and f.capacity("C3").bloc_code == "RNCP7BC01"
    assert f.capacity("C2").bloc_code is None
    assert {"capacity-without-bloc", "capacity-not-in-summary"} <= codes(f)
    assert f.blocs[0].evaluation == "Observation."


# -- layout detection and text helpers ---------------------------------------------------------------------

def test_detect_layout_rules():
    assert detect_layout("TITRE DU CQPM : X") == "cqpm-referentiel"
    assert detect_layout("## Intitulé\n<p>x</p>") == "rncp-markdown"
    assert detect_layout("a\tb\nde I'UIMM") == "rncp-ocr"
    assert detect_layout("a\tb <p>x</p>") == "rncp-html"
    assert detect_layout("a\nb") == "rncp-pdf"


def test_mask_markup_keeps_offsets():
    raw = "<p><b>C1</b> Conduire</p>\t**Gras** [lien](http://x.fr) l’Оu – <input type=\"checkbox\"/> <http://a.fr>"
    view = mask_markup(raw)
    assert len(view) == len(raw)
    assert "C1" in view and "<" not in view.replace("<http://a.fr>", "")
    assert "l'Ou - ☐" in view and " lien " in view and "http://x.fr" not in view


def test_lookalike_repair():
    assert repair_lookalikes("Оu \u0425 \u03a7 ok") == "Ou X X ok"
    assert repair_lookalikes("Москва") == "Москва"          # a real Cyrillic word is kept
    assert normalise_for_compare("Mise en œuvre d’outils Q, S, E.") == normalise_for_compare(
        "mise en oeuvre d'outils QSE")
    assert normalise_for_compare("postes opérateurs") != normalise_for_compare("postes d'opérateurs")


def test_ocr_repair_needs_context():
    assert repair_ocr("formation de I'UIMM") == "formation de l'UIMM"
    assert repair_ocr("I'UIMM est là") == "L'UIMM est là"
    assert repair_ocr("les domaines O. S. E", {"QSE"}) == "les domaines Q, S, E"
    assert repair_ocr("L'audit OSE", {"QSE"}) == "L'audit QSE"
    assert repair_ocr("L'audit OSE") == "L'audit OSE"        # no QSE context: untouched
    assert repair_ocr("OUI NON", {"QSE"}) == "OUI NON"
    assert known_acronyms("politique QSE ; système Q, S, E ; OSE") == {"QSE"}


def test_cleaners():
    assert strip_html("<p>a &amp; b</p><i>c</i>").split() == ["a", "&", "b", "c"]
    assert clean_inline("<p>Directeur   emploi\nformation de I’UIMM</p>") == "Directeur emploi formation de l'UIMM"
    assert clean_block("ligne un\ncoupée\n\n- item\n•A1 La suite\nhttp://page.footer/x\n") == \
        "ligne un coupée\n- item\nA1 La suite"
    assert strip_item_punctuation("Chef de ligne ;") == "Chef de ligne"
    assert strip_item_punctuation("etc...") == "etc..."
