"""The CSV export reader on the real extract (tests/fixtures/fc/export-fiches-csv-2024-02-22.zip) and its quirks."""
from __future__ import annotations

import datetime

import pytest

from cqpm_graph.fc.clean import parse_siret, siret_is_valid, split_competences
from cqpm_graph.fc.csv_export import read_csv_export
from cqpm_graph.fc.errors import FCExportError
from test_fc_helpers import CSV_EXPORT, rewrite_zip

NUMBERS = ["RNCP509", "RNCP1197", "RNCP4049", "RNCP22094", "RNCP28155", "RNCP30271", "RS5000", "RNCP19468", "RS6117"]


@pytest.fixture(scope="module")
def fiches():
    return {f.number: f for f in read_csv_export(CSV_EXPORT)}


def test_all_nine_fiches_in_file_order():
    assert [f.number for f in read_csv_export(CSV_EXPORT)] == NUMBERS


def test_standard_values(fiches):
    f = fiches["RNCP509"]
    assert f.title == "Agent vérificateur d'appareils extincteurs"
    assert (f.fiche_id, f.abbreviation, f.abbreviation_label) == ("14791", "CAP", "Certificat d'aptitude professionnelle")
    assert (f.level, f.level_label, f.active, f.registry) == ("NIV3", "Niveau 3", False, "RNCP")
    assert f.end_date == datetime.date(2023, 8, 31)  # DD/MM/YYYY
    assert f.decision_date is None and f.effective_date is None and f.partial_validation is None
    assert f.registration_type == "Enregistrement de droit"
    assert f.new_caledonia is False and f.french_polynesia is False
    rs = fiches["RS5000"]
    assert rs.title == "Exploiter la blockchain dans le développement d’applications"
    assert (rs.registry, rs.active, rs.level, rs.partial_validation) == ("RS", True, None, False)
    assert rs.decision_date == datetime.date(2019, 6, 13) and rs.end_date == datetime.date(2024, 5, 24)
    assert fiches["RNCP30271"].journal_officiel_date == datetime.date(2018, 2, 8)


def test_reprise_is_no_level(fiches):
    f = fiches["RNCP19468"]
    assert f.level is None and f.level_code == "REPRISE"
    assert f.level_label.startswith("Sans niveau – le positionnement")


def test_doubled_apostrophes_are_undoubled(fiches):
    labels = dict(fiches["RNCP4049"].rome)
    assert labels["H1102"] == "Management et ingénierie d'affaires"


def test_siret_without_tab_and_valid(fiches):
    assert [(o.siret, o.name) for o in fiches["RNCP509"].certifiers] == [
        ("11004301500012", "MINISTERE DE L'EDUCATION NATIONALE ET DE LA JEUNESSE")]
    sirets = [o.siret for f in fiches.values() for o in f.certifiers + f.partners]
    assert len(sirets) == 16 and all(len(s) == 14 and s.isdigit() and siret_is_valid(s) for s in sirets)


def test_side_files(fiches):
    f = fiches["RNCP509"]
    assert [(b.code, b.label) for b in f.blocs][:2] == [
        ("RNCP509BC01", "UP1 : Vérification d’une installation et organisation de l’intervention"),
        ("RNCP509BC02", "UP2 : Vérification d’une installation de robinet incendie armé")]
    assert [b.code for b in f.blocs] == [f"RNCP509BC0{i}" for i in range(1, 7)]
    assert f.nsf == [("251", "Mécanique générale et de précision, usinage")]
    assert f.formacodes == [("42872", "Sécurité incendie")]
    assert fiches["RS5000"].nsf[1] == ("114b", "Modèles mathématiques ; Informatique mathématique")
    assert fiches["RS6117"].idcc == [("3117", "Boulangerie-pâtisserie (Entreprises artisanales)")]
    partners = fiches["RS6117"].partners
    assert len(partners) == 6 and {p.habilitation for p in partners} == {"HABILITATION_ORGA_FORM"}
    assert [p.siret for p in partners if p.name == "ASS OUVRIERE COMPAGNON DEVOIR TOUR FRANC"] == [
        "77566202600381", "77566202600050"]
    routes = {a.route: a.is_open for a in fiches["RS6117"].access}
    assert routes == {"formation-initiale": False, "apprentissage": False, "formation-continue": True,
                      "contrat-professionnalisation": True, "candidature-individuelle": False, "vae": True}
    assert all(fiches["RNCP509"].access[i].is_open for i in range(6))
    assert fiches["RS5000"].blocs == [] and fiches["RS6117"].blocs == []


def test_lineage(fiches):
    chain = ["RNCP1197", "RNCP4049", "RNCP22094", "RNCP28155", "RNCP30271"]
    for old, new in zip(chain, chain[1:]):
        assert fiches[old].replaced_by == [new]
        assert fiches[new].replaces == [old]
    assert fiches["RNCP19468"].replaced_by == ["RS6117"] and fiches["RS6117"].replaces == ["RNCP19468"]
    assert fiches["RNCP509"].replaced_by == ["RNCP38228"]  # a fiche outside the extract


def test_row_split_across_lines_inside_quotes(tmp_path):
    def edit(name, text):
        if "VoixdAcc" in name:
            # a quoted value with a line break inside, as the full export has
            text = text.replace('"RNCP509";"Après un parcours de formation continue"',
                                '"RNCP509";"Après un parcours de formation\r\ncontinue"', 1)
            assert "formation\r\ncontinue" in text
            # and a bad value three physical lines later: its line number must count the split row
            text = text.replace('"RNCP4049";"Par expérience"', '"RNCP4049";"Par télépathie"', 1)
        return text
    path = rewrite_zip(CSV_EXPORT, tmp_path / "export-fiches-csv-2024-02-22.zip", edit)
    with pytest.raises(FCExportError) as err:
        list(read_csv_export(path))
    assert err.value.file == "export_fiches_CSV_VoixdAccès_2024_02_22.csv"
    assert (err.value.line, err.value.field) == (9, "Si_Jury")  # header + 6 rows of RNCP509, one of them on 2 lines
    path = rewrite_zip(CSV_EXPORT, tmp_path / "ok.zip", lambda n, t: edit(n, t).replace("télépathie", "expérience"))
    fiches = {f.number: f for f in read_csv_export(path)}
    assert all(a.is_open for a in fiches["RNCP509"].access)


def test_siret_check_digit():
    assert siret_is_valid("11004301500012")
    assert not siret_is_valid("11004301500013")
    assert siret_is_valid("35600000000048")  # La Poste head office (Luhn too)
    assert siret_is_valid("35600000049837")  # a La Poste establishment: sum of digits % 5 == 0, not Luhn
    assert not siret_is_valid("35600000049838")
    assert parse_siret("\t110 043 015 00012", lambda r: pytest.fail(r)) == "11004301500012"


@pytest.mark.parametrize("text, expected", [
    ("<p>Le candidat est capable de :</p><ul><li>Analyser un besoin ;</li><li>Concevoir une solution.</li></ul>",
     ["Analyser un besoin", "Concevoir une solution"]),
    ("&lt;ul&gt;&lt;li&gt;Piloter un projet&lt;/li&gt;&lt;li&gt;Évaluer&amp;nbsp;les risques&lt;/li&gt;&lt;/ul&gt;",
     ["Piloter un projet", "Évaluer les risques"]),
    ("- Accueillir le client\n- Conseiller le client\n- Encaisser", ["Accueillir le client", "Conseiller le client", "Encaisser"]),
    ("• Préparer la pâte<br>• Façonner les produits<br/>• Cuire", ["Préparer la pâte", "Façonner les produits", "Cuire"]),
    ("<p>• Lire un plan • Tracer un ouvrage • Contrôler la conformité</p>",
     ["Lire un plan", "Tracer un ouvrage", "Contrôler la conformité"]),
    ("1. Identifier les risques\n2) Mettre en œuvre les mesures de prévention",
     ["Identifier les risques", "Mettre en œuvre les mesures de prévention"]),
    ("<p>C1 : Organiser le chantier</p><p>C2 - Réaliser la sous-traitance</p>",
     ["Organiser le chantier", "Réaliser la sous-traitance"]),
    ("", []),
])
def test_split_competences(text, expected):
    assert split_competences(text) == expected
