"""The ROME v347 and NSF reference nomenclatures, built from the real shipped files."""
from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Literal
from rdflib.namespace import OWL, RDF

from cqpm_graph.csvutil import ReferenceDataError, read_csv, to_rdflib
from cqpm_graph.nsf import iter_nsf, load_nsf_labels, nsf_graph, nsf_subspeciality_triples
from cqpm_graph.rome import (ACCESS_PREFIX, CONDITIONS_PREFIX, iter_rome, load_rome_labels,
                             rome_graph)
from cqpm_graph.uris import CQPM, DCTERMS, SKOS, URIScheme

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
ROME_DIR = REFERENCE / "rome-v347"
NSF_DIR = REFERENCE / "nsf"
URIS = URIScheme("https://w3id.org/cqpm/id/")

# Counts found in the v347 files (see data/reference/README.md).
N_APPELLATIONS = 11118
N_SAVOIR_FAIRE, N_SAVOIR = 7462, 3969
N_FICHE_ITEM_LINKS = 26584  # of 32321 lines; the rest point to the 766 skipped "environnement" items


@pytest.fixture(scope="module")
def rome():
    return rome_graph(URIS, ROME_DIR)


@pytest.fixture(scope="module")
def nsf():
    return nsf_graph(URIS, NSF_DIR)


def concepts(graph, scheme: str) -> set:
    return set(graph.subjects(SKOS.inScheme, URIS.scheme(scheme)))


def rome_level(graph, length: int) -> set:
    return {c for c in concepts(graph, "rome") if len(str(graph.value(c, SKOS.notation))) == length}


# -- ROME -------------------------------------------------------------------------------------------

def test_rome_counts(rome):
    assert len(rome_level(rome, 1)) == 14
    assert len(rome_level(rome, 3)) == 110
    assert len(rome_level(rome, 5)) == 532
    assert len(concepts(rome, "rome")) == 14 + 110 + 532
    assert len(concepts(rome, "rome-appellation")) == N_APPELLATIONS
    assert len(set(rome.subjects(RDF.type, CQPM.RomeAppellation))) == N_APPELLATIONS
    items = set(rome.subjects(RDF.type, CQPM.RomeCompetence))
    assert items == concepts(rome, "rome-competence")
    kinds = [str(rome.value(i, CQPM.itemType)) for i in items]
    assert kinds.count("savoir-faire") == N_SAVOIR_FAIRE and kinds.count("savoir") == N_SAVOIR
    assert len(set(rome.subject_objects(CQPM.romeCompetence))) == N_FICHE_ITEM_LINKS


def test_rome_schemes(rome):
    scheme = URIS.scheme("rome")
    assert (scheme, RDF.type, SKOS.ConceptScheme) in rome
    assert rome.value(scheme, SKOS.prefLabel) == Literal(
        "ROME v347 — Répertoire opérationnel des métiers et des emplois", lang="fr")
    assert rome.value(scheme, OWL.versionInfo) == Literal("347")
    assert rome.value(scheme, DCTERMS.license) is not None and rome.value(scheme, DCTERMS.source) is not None
    tops = set(rome.objects(scheme, SKOS.hasTopConcept))
    assert tops == set(rome.subjects(SKOS.topConceptOf, scheme)) == rome_level(rome, 1)
    for name in ("rome-appellation", "rome-competence"):
        assert (URIS.scheme(name), RDF.type, SKOS.ConceptScheme) in rome


def test_rome_hierarchy(rome):
    h2503, h25, h = URIS.rome("H2503"), URIS.rome("H25"), URIS.rome("H")
    assert rome.value(h2503, SKOS.broader) == h25
    assert rome.value(h25, SKOS.broader) == h
    assert (h25, SKOS.narrower, h2503) in rome and (h, SKOS.narrower, h25) in rome
    assert (h, SKOS.topConceptOf, URIS.scheme("rome")) in rome
    # every fiche / domaine sits under the concept its code starts with, and broader/narrower agree
    for c in rome_level(rome, 5) | rome_level(rome, 3):
        code = str(rome.value(c, SKOS.notation))
        parents = list(rome.objects(c, SKOS.broader))
        assert parents == [URIS.rome(code[:3] if len(code) == 5 else code[0])]
        assert (parents[0], SKOS.narrower, c) in rome
    assert len(set(rome.subject_objects(SKOS.narrower))) == 110 + 532


def test_rome_labels_and_notations(rome):
    assert rome.value(URIS.rome("H2503"), SKOS.prefLabel) == Literal(
        "Pilotage d'unité élémentaire de production mécanique ou de travail des métaux", lang="fr")
    assert rome.value(URIS.rome("H1102"), SKOS.prefLabel) == Literal(
        "Management et ingénierie d'affaires", lang="fr")
    assert rome.value(URIS.rome("H25"), SKOS.prefLabel) == Literal(
        "Direction, encadrement et pilotage de fabrication et production industrielles", lang="fr")
    assert rome.value(URIS.rome("H"), SKOS.prefLabel) == Literal("Industrie", lang="fr")
    assert rome.value(URIS.rome("H2503"), SKOS.notation) == Literal("H2503")
    assert rome.value(URIS.rome("H25"), SKOS.notation) == Literal("H25")
    assert rome.value(URIS.rome("H"), SKOS.notation) == Literal("H")


def test_every_concept_has_one_french_preflabel_and_one_notation(rome, nsf):
    for graph in (rome, nsf):
        subjects = set(graph.subjects(RDF.type, SKOS.Concept))
        assert subjects
        for c in subjects:
            labels = list(graph.objects(c, SKOS.prefLabel))
            assert len(labels) == 1 and labels[0].language == "fr" and str(labels[0]).strip(), c
            notations = list(graph.objects(c, SKOS.notation))
            assert len(notations) == 1 and notations[0].datatype is None, c
            assert len(list(graph.objects(c, SKOS.inScheme))) == 1, c


def test_fiche_texts(rome):
    h2503 = URIS.rome("H2503")
    definition = str(rome.value(h2503, SKOS.definition))
    # position 0 then position 1, doubled apostrophes undone
    assert definition.startswith("Supervise et optimise la production d'une unité élémentaire")
    assert definition.endswith("Peut coordonner une équipe de production.")
    notes = sorted(str(n) for n in rome.objects(h2503, SKOS.scopeNote))
    assert len(notes) == 2
    assert notes[0].startswith(ACCESS_PREFIX + "Cet emploi /métier est accessible")
    assert notes[1].startswith(CONDITIONS_PREFIX + "L'activité de cet emploi/métier")
    assert notes[1].endswith("(chaussures de sécurité, ...) est requis.")
    fiches = rome_level(rome, 5)
    assert all(len(list(rome.objects(f, SKOS.definition))) == 1 for f in fiches)
    for _, _, text in rome.triples((None, None, None)):
        if isinstance(text, Literal):
            assert "''" not in text


def test_h2503_appellations_and_items(rome):
    h2503 = URIS.rome("H2503")
    appellations = set(rome.subjects(SKOS.broader, h2503)) - rome_level(rome, 5)
    assert len(appellations) == 16
    a = URIS.rome_appellation("11328")
    assert a in appellations
    assert (a, RDF.type, CQPM.RomeAppellation) in rome and (a, RDF.type, SKOS.Concept) in rome
    assert rome.value(a, SKOS.notation) == Literal("11328")
    assert rome.value(a, SKOS.prefLabel) == Literal(
        "Assistant / Assistante responsable d'unité élémentaire de production mécanique", lang="fr")
    assert rome.value(a, SKOS.altLabel) == Literal(
        "Assistant(e) responsable unité élémentaire prod mécanique", lang="fr")
    # long == short label: no altLabel
    assert rome.value(URIS.rome_appellation("17777"), SKOS.altLabel) is None

    with open(ROME_DIR / "correspondances.csv", newline="", encoding="utf-8") as fh:
        expected = {r["code_ogr"] for r in csv.DictReader(fh) if r["code_rome"] == "H2503"}
    with open(ROME_DIR / "competences.csv", newline="", encoding="utf-8") as fh:
        environment = {r["code_ogr"] for r in csv.DictReader(fh) if r["code_type_referentiel"] == "5"}
    items = set(rome.objects(h2503, CQPM.romeCompetence))
    assert len(expected) == 64 and len(items) == 53  # the 11 "environnement de travail" items are left out
    assert items == {URIS.rome_competence(o) for o in expected - environment}
    weld = URIS.rome_competence("100007")
    assert rome.value(weld, SKOS.prefLabel) == Literal("Techniques de soudage", lang="fr")
    assert rome.value(weld, CQPM.itemType) == Literal("savoir")
    assert len(list(rome.objects(weld, SKOS.prefLabel))) == 1  # listed under two rubriques
    drive = URIS.rome_competence("100003")
    assert rome.value(drive, CQPM.itemType) == Literal("savoir-faire")
    assert rome.value(drive, SKOS.notation) == Literal("100003")


def test_load_rome_labels():
    labels = load_rome_labels(ROME_DIR)
    assert len(labels) == 14 + 110 + 532
    assert labels["H1102"] == "Management et ingénierie d'affaires"
    assert labels["H25"].startswith("Direction, encadrement")
    assert labels["H"] == "Industrie"


def test_iter_rome_is_fast_and_bulk_loads():
    start = time.perf_counter()
    triples = list(iter_rome(URIS, ROME_DIR))
    assert time.perf_counter() - start < 3
    assert all(isinstance(t, ox.Triple) for t in triples[:100])
    graph = ox.NamedNode(str(URIS.graph("rome-v347")))
    store = ox.Store()
    store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples)
    assert len(store) == len(set(triples))
    (row,) = store.query("PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "
                         "SELECT (COUNT(?f) AS ?n) WHERE { GRAPH ?g { ?f skos:broader ?d . ?d skos:broader ?gd . "
                         "?gd skos:topConceptOf ?s } }")
    assert int(row["n"].value) == 532


# -- malformed ROME files ----------------------------------------------------------------------------

@pytest.fixture
def rome_copy(tmp_path):
    folder = tmp_path / "rome"
    shutil.copytree(ROME_DIR, folder)
    return folder


def edit_line(path: Path, line: int, old: str, new: str) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert old in lines[line - 1], lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_text("\n".join(lines), encoding="utf-8")


def expect_error(folder: Path, file: str, line: int | None, *words: str, loader=iter_rome):
    with pytest.raises(ValueError) as exc:
        loader(URIS, folder)
    message = str(exc.value)
    assert file in message, message
    if line is not None:
        assert f"line {line}" in message, message
    for w in words:
        assert w in message, message
    assert isinstance(exc.value, ReferenceDataError)


def test_bad_rome_code(rome_copy):
    edit_line(rome_copy / "metiers.csv", 260, '"H2503"', '"H250"')
    expect_error(rome_copy, "metiers.csv", 260, "H250", "ROME code")


def test_fiche_under_wrong_domaine(rome_copy):
    edit_line(rome_copy / "metiers.csv", 260, '"H2503"', '"H2603"')
    expect_error(rome_copy, "metiers.csv", 260, "H2603", "H25")


def test_missing_column(rome_copy):
    edit_line(rome_copy / "competences.csv", 1, '"code_type_referentiel"', '"type"')
    expect_error(rome_copy, "competences.csv", 1, "code_type_referentiel")


def test_missing_field(rome_copy):
    edit_line(rome_copy / "metiers_domaine_pro.csv", 5, ',"', ',"x","')
    expect_error(rome_copy, "metiers_domaine_pro.csv", 5, "field")


def test_unknown_fiche_in_appellations(rome_copy):
    edit_line(rome_copy / "metiers_exemple.csv", 3, '"I1601"', '"I1699"')
    expect_error(rome_copy, "metiers_exemple.csv", 3, "I1699")


def test_unknown_item_and_type(rome_copy):
    edit_line(rome_copy / "correspondances.csv", 4, '"23904"', '"99999999"')
    expect_error(rome_copy, "correspondances.csv", 4, "99999999")
    edit_line(rome_copy / "correspondances.csv", 4, '"99999999"', '"23904"')
    edit_line(rome_copy / "competences.csv", 3, '"Techniques de soudage","1"', '"Techniques de soudage","7"')
    expect_error(rome_copy, "competences.csv", 3, "code_type_referentiel")


def test_label_lookup_checks_too(rome_copy):
    edit_line(rome_copy / "metiers_domaine.csv", 2, '"A"', '"a"')
    expect_error(rome_copy, "metiers_domaine.csv", 2, "grand domaine",
                 loader=lambda uris, folder: load_rome_labels(folder))


def test_error_line_of_a_multiline_record(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text('"a","b"\n"1","two\nlines"\n"3"\n', encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=r"x\.csv, line 4: 1 field"):
        list(read_csv(path, ["a", "b"]))
    path.write_text('"a","b"\n"1","it\'\'s"\n', encoding="utf-8")
    rows = list(read_csv(path, ["b"], undouble_apostrophes=True))
    assert rows == [(2, {"b": "it's"})]
    assert list(read_csv(path, ["b"])) == [(2, {"b": "it''s"})]


# -- NSF ---------------------------------------------------------------------------------------------

def nsf_level(graph, length: int) -> set:
    return {c for c in concepts(graph, "nsf") if len(str(graph.value(c, SKOS.notation))) == length}


def test_nsf_counts_and_scheme(nsf):
    assert len(nsf_level(nsf, 1)) == 4
    assert len(nsf_level(nsf, 2)) == 17
    assert len(nsf_level(nsf, 3)) == 92
    scheme = URIS.scheme("nsf")
    assert nsf.value(scheme, SKOS.prefLabel) == Literal("Nomenclature des spécialités de formation (NSF)", lang="fr")
    assert "94-522" in str(nsf.value(scheme, DCTERMS.source))
    assert set(nsf.objects(scheme, SKOS.hasTopConcept)) == nsf_level(nsf, 1)


def test_nsf_hierarchy_and_labels(nsf):
    assert nsf.value(URIS.nsf("200"), SKOS.broader) == URIS.nsf("20")
    assert nsf.value(URIS.nsf("20"), SKOS.broader) == URIS.nsf("2")
    assert (URIS.nsf("2"), SKOS.topConceptOf, URIS.scheme("nsf")) in nsf
    assert (URIS.nsf("20"), SKOS.narrower, URIS.nsf("200")) in nsf
    assert nsf.value(URIS.nsf("2"), SKOS.prefLabel) == Literal(
        "Domaines technico-professionnels de la production", lang="fr")
    assert nsf.value(URIS.nsf("20"), SKOS.prefLabel) == Literal(
        "Spécialités pluritechnologiques de production", lang="fr")
    assert nsf.value(URIS.nsf("31"), SKOS.prefLabel) == Literal("Echanges et gestion", lang="fr")
    assert nsf.value(URIS.nsf("251"), SKOS.prefLabel) == Literal(
        "Mécanique générale et de précision, usinage", lang="fr")
    assert nsf.value(URIS.nsf("210"), SKOS.prefLabel) == Literal(
        "Spécialités plurivalentes de l'agronomie et de l'agriculture", lang="fr")
    # the unquoted source file has a ";" inside this label
    assert nsf.value(URIS.nsf("227"), SKOS.prefLabel) == Literal(
        "Energie, génie climatique (y compris énergie nucléaire, thermique, hydraulique ; utilités : froid, "
        "climatisation, chauffage)", lang="fr")
    for c in nsf_level(nsf, 3):
        code = str(nsf.value(c, SKOS.notation))
        assert nsf.value(c, SKOS.broader) == URIS.nsf(code[:2])
    for c in nsf_level(nsf, 2):
        assert set(nsf.objects(c, SKOS.narrower)), c  # every group has specialities


def test_load_nsf_labels():
    labels = load_nsf_labels(NSF_DIR)
    assert len(labels) == 4 + 17 + 92
    assert labels["4"] == "Domaines du développement personnel"
    assert labels["42"] == "Activités quotidiennes et de loisirs"
    assert labels["200"].startswith("Technologies industrielles fondamentales")


def test_nsf_subspeciality(nsf):
    known = load_nsf_labels(NSF_DIR)
    triples = nsf_subspeciality_triples(URIS, "200r", "Contrôle qualité de produits et procédés industriels", known)
    graph = to_rdflib(triples)
    sub = URIS.nsf("200r")
    assert graph.value(sub, SKOS.broader) == URIS.nsf("200")
    assert (URIS.nsf("200"), SKOS.narrower, sub) in graph
    assert graph.value(sub, SKOS.notation) == Literal("200r")
    assert graph.value(sub, SKOS.inScheme) == URIS.scheme("nsf")
    assert graph.value(sub, SKOS.prefLabel) == Literal(
        "Contrôle qualité de produits et procédés industriels", lang="fr")
    assert (sub, RDF.type, SKOS.Concept) in graph
    assert all(isinstance(t, ox.Triple) for t in triples)
    # lands in the same tree as the nomenclature
    merged = to_rdflib(triples, to_rdflib(iter_nsf(URIS, NSF_DIR)))
    assert merged.value(merged.value(sub, SKOS.broader), SKOS.broader) == URIS.nsf("20")


@pytest.mark.parametrize("code,why", [("999r", "999"), ("340u", "340"), ("200", "malformed"),
                                      ("20r", "malformed"), ("200R", "malformed"), ("200rr", "malformed"),
                                      ("", "malformed")])
def test_nsf_subspeciality_errors(code, why):
    with pytest.raises(ValueError, match=why):
        nsf_subspeciality_triples(URIS, code, "Libellé", load_nsf_labels(NSF_DIR))


def test_nsf_subspeciality_defaults_to_shipped_nomenclature():
    triples = nsf_subspeciality_triples(URIS, "200u", "Conduite de machines s.a.i.")
    assert to_rdflib(triples).value(URIS.nsf("200u"), SKOS.broader) == URIS.nsf("200")
    with pytest.raises(ValueError, match="999"):
        nsf_subspeciality_triples(URIS, "999u", "Libellé")


def test_nsf_subspeciality_empty_label():
    with pytest.raises(ValueError, match="empty label"):
        nsf_subspeciality_triples(URIS, "200u", "  ", load_nsf_labels(NSF_DIR))


@pytest.fixture
def nsf_copy(tmp_path):
    folder = tmp_path / "nsf"
    shutil.copytree(NSF_DIR, folder)
    return folder


def test_nsf_malformed_rows(nsf_copy):
    edit_line(nsf_copy / "nsf-specialites.csv", 5, "112;", "11x;")
    expect_error(nsf_copy, "nsf-specialites.csv", 5, "11x", loader=iter_nsf)
    edit_line(nsf_copy / "nsf-specialites.csv", 5, "11x;", "192;")
    expect_error(nsf_copy, "nsf-specialites.csv", 5, "group 19", loader=iter_nsf)
    edit_line(nsf_copy / "nsf-specialites.csv", 5, "192;", "112;")
    edit_line(nsf_copy / "nsf-groupes.csv", 6, "groupe;10;", "groupe;50;")
    expect_error(nsf_copy, "nsf-groupes.csv", 6, "domain 5", loader=iter_nsf)
