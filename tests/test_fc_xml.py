"""The XML export (export-fiches-rncp-v4-x): same certifications as the CSV extract, blocs with capacities."""
from __future__ import annotations

import zipfile

import pytest

from cqpm_graph.fc.errors import FCExportError
from cqpm_graph.fc.importer import import_export
from cqpm_graph.fc.mapping import FCMapper
from cqpm_graph.fc.xml_export import read_xml_export
from cqpm_graph.fc.csv_export import read_csv_export
from test_fc_helpers import BASE, CSV_EXPORT, URIS, XML_EXPORT, copy_store, dump, make_base_store, select

CERT_PROPS = ("prefLabel", "notation", "identifier", "registry", "active", "level", "levelNote", "partialValidation",
              "accessibleInNewCaledonia", "accessibleInFrenchPolynesia", "romeCode", "nsfCode", "formacode",
              "conventionCollective", "certifier", "partner", "accessRoute", "replaces", "isReplacedBy",
              "registration", "franceCompetencesId", "hasBlock")


def _cert_facts(path):
    """(subject, predicate, object) of certification-level and registration facts, graph and source left out."""
    mapper = FCMapper(URIS, "http://example.org/source")
    reader = read_csv_export if path.suffix == ".zip" else read_xml_export
    facts = set()
    for fiche in reader(path):
        for q in mapper.map(fiche):
            p = q.predicate.value.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
            s = q.subject.value
            if (s.startswith(f"{BASE}certification/") and p in CERT_PROPS) or s.startswith(f"{BASE}enregistrement/"):
                facts.add((s, p, str(q.object)))
    return facts


def test_xml_gives_the_same_certifications_as_csv():
    csv_facts, xml_facts = _cert_facts(CSV_EXPORT), _cert_facts(XML_EXPORT)
    # the XML adds registration durations etc. only where the CSV has them too: same facts exactly
    assert xml_facts == csv_facts
    assert len(csv_facts) > 150


def test_xml_blocs_and_capacities():
    fiches = {f.number: f for f in read_xml_export(XML_EXPORT)}
    blocs = {b.code: b for b in fiches["RNCP509"].blocs}
    assert blocs["RNCP509BC01"].capacities == [
        "Collecter les informations relatives à l’installation et au site",
        "Organiser l’intervention dans le respect des règles de sécurité",
        "Contrôler l’accessibilité et la signalisation des appareils"]
    assert blocs["RNCP509BC01"].competences_text.startswith("<p>Le titulaire est capable de :</p><ul><li>")
    assert blocs["RNCP509BC04"].capacities == ["Lire et comprendre un texte", "Rédiger un écrit structuré"]
    assert blocs["RNCP509BC05"].capacities[0] == "Rechercher, extraire et organiser l'information"
    assert blocs["RNCP509BC01"].evaluation == "Évaluation en contrôle en cours de formation ou épreuve ponctuelle pratique et orale."
    assert fiches["RNCP509"].state == "Publiée"
    jury = {a.route: a.jury for a in fiches["RNCP509"].access}
    assert jury["formation-initiale"] == "Jury présidé par un enseignant-chercheur"
    assert fiches["RS6117"].partners[0].habilitation == "HABILITATION_ORGA_FORM"


@pytest.fixture(scope="module")
def imported_xml(tmp_path_factory):
    settings = make_base_store(tmp_path_factory.mktemp("xml") / "store")
    import_export(settings, XML_EXPORT, validate=False)
    return settings


def test_xml_import_capacities_in_store(imported_xml):
    rows = select(imported_xml, """SELECT DISTINCT ?bloc ?code ?label WHERE {
        id:certification/RNCP509 cqpm:hasBlock ?bloc . ?bloc cqpm:hasCapacity ?cap .
        id:certification/RNCP509 cqpm:hasCapacity ?cap . ?cap a cqpm:Capacity ; skos:notation ?code ; skos:prefLabel ?label }""")
    by_code = {r["code"]: (r["bloc"].rsplit("/", 1)[1], r["label"]) for r in rows}
    assert len(by_code) == 16
    assert by_code["C1"] == ("RNCP509BC01", "Collecter les informations relatives à l’installation et au site")
    assert by_code["C4"][0] == "RNCP509BC02" and by_code["C16"][0] == "RNCP509BC06"
    raw = select(imported_xml, "SELECT ?t WHERE { id:bloc/RNCP509BC02 cqpm:competenceList ?t }")
    assert raw[0]["t"].startswith("- Vérifier l’état")


def test_xml_in_a_zip(tmp_path):
    z = tmp_path / "export-fiches-rncp-v4-1-2024-02-22.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(XML_EXPORT, XML_EXPORT.name)
    assert [f.number for f in read_xml_export(z)] == [f.number for f in read_xml_export(XML_EXPORT)]


def test_reimport_xml_idempotent_and_csv_then_xml_same_certification_graph(imported_xml, tmp_path):
    settings = copy_store(imported_xml, tmp_path / "s")
    before = dump(settings)
    import_export(settings, XML_EXPORT, validate=False)
    assert dump(settings) == before


@pytest.mark.parametrize("old, new, line, field", [
    ("<DATE_FIN_ENREGISTREMENT>31/08/2023</DATE_FIN_ENREGISTREMENT>",
     "<DATE_FIN_ENREGISTREMENT>31/13/2023</DATE_FIN_ENREGISTREMENT>", 13, "FICHE/DATE_FIN_ENREGISTREMENT"),
    ("<SIRET_CERTIFICATEUR>11004301500012</SIRET_CERTIFICATEUR>",
     "<SIRET_CERTIFICATEUR>11004301500013</SIRET_CERTIFICATEUR>", 39, "FICHE/CERTIFICATEURS/CERTIFICATEUR/SIRET_CERTIFICATEUR"),
    ("<NIVEAU>NIV3</NIVEAU>", "<NIVEAU>NIV9</NIVEAU>", 16, "FICHE/NOMENCLATURE_EUROPE/NIVEAU"),
    ("<ACTIF>Non</ACTIF>", "<ACTIF>Peut-être</ACTIF>", 12, "FICHE/ACTIF"),
    ("</INTITULE>\n    <ABREGE>", "\n    <ABREGE>", 5, None),  # malformed XML
])
def test_xml_errors_name_file_line_field(tmp_path, old, new, line, field):
    text = XML_EXPORT.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / XML_EXPORT.name
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(FCExportError) as err:
        list(read_xml_export(bad))
    assert err.value.file == XML_EXPORT.name
    assert err.value.line == line or field is None
    assert err.value.field == field


def test_truncated_xml(tmp_path):
    bad = tmp_path / XML_EXPORT.name
    bad.write_bytes(XML_EXPORT.read_bytes()[:3000])
    with pytest.raises(FCExportError, match="XML mal formé|tronqué"):
        list(read_xml_export(bad))


def test_unescaped_html_inside_a_text_field(tmp_path):
    """Some exports carry LISTE_COMPETENCES as real XML elements rather than escaped HTML: they are read back
    as HTML (comments dropped) and split into capacities the same way."""
    text = XML_EXPORT.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if "<LISTE_COMPETENCES>&lt;p&gt;Le titulaire" in line)
    new = ("        <LISTE_COMPETENCES><p>Le titulaire est capable de :</p><ul><li class=\"x\">Collecter les "
           "informations relatives à l’installation et au site</li><!-- note --><li>Organiser l’intervention "
           "dans le respect des règles de sécurité</li></ul></LISTE_COMPETENCES>")
    bad = tmp_path / XML_EXPORT.name
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    bloc = next(b for f in read_xml_export(bad) for b in f.blocs if b.competences_text and "<p>" in b.competences_text)
    assert bloc.competences_text.startswith('<p>Le titulaire est capable de :</p><ul><li class="x">Collecter')
    assert "note" not in bloc.competences_text
    assert bloc.capacities[:2] == ["Collecter les informations relatives à l’installation et au site",
                                   "Organiser l’intervention dans le respect des règles de sécurité"]


@pytest.mark.parametrize("content, message", [
    (b"", "vide"),
    (b"<?xml version='1.0'?>\n<EXPORT><FICHE><NUMERO_FICHE>RNCP1</NUMERO_FICHE></FICHE></EXPORT>", "racine"),
    (b"<?xml version='1.0'?>\n<EXPORT/>", "racine"),
])
def test_empty_document_or_wrong_root(tmp_path, content, message):
    bad = tmp_path / XML_EXPORT.name
    bad.write_bytes(content)
    with pytest.raises(FCExportError, match=message) as err:
        list(read_xml_export(bad))
    assert err.value.file == XML_EXPORT.name
