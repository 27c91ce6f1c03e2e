"""The build on the real data: what lands in the store, provenance, atomic swaps, exports."""
from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from click.testing import CliRunner

from cqpm_graph.build import BuildError, build
from cqpm_graph.cli import cli
from cqpm_graph.config import Settings
from cqpm_graph.export import FORMATS
from cqpm_graph.model import FicheParseError
from cqpm_graph.store import StoreNotFoundError, live_path, open_store, select

BASE = "https://w3id.org/cqpm/id/"
PREFIXES = """PREFIX cqpm: <https://w3id.org/cqpm/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX void: <http://rdfs.org/ns/void#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
"""


@pytest.fixture(scope="module")
def store(built_store):
    return open_store(built_store)


def q(store, text):
    return select(store, PREFIXES + text)


def test_counts_and_named_graphs(built_store, store):
    report = built_store.build_report
    assert report.counts["certifications"] == 5
    assert report.counts["blocs"] == 11
    assert report.counts["capacities"] == 45
    graphs = {g for g in report.graphs}
    for cert in ("RNCP28229", "RNCP19453", "RNCP28246", "RNCP28242", "CQPM-management-d-equipe-s-autonome-s"):
        assert f"{BASE}graph/fiche/{cert}" in graphs
    for name in ("rome-v347", "nsf", "ontology", "build"):
        assert f"{BASE}graph/{name}" in graphs


EXPECTED_BLOCS = {
    "RNCP28229": {"RNCP28229BC01": ["C1", "C2", "C3", "C4", "C5"], "RNCP28229BC02": ["C6", "C7", "C8", "C9"],
                  "RNCP28229BC03": ["C10", "C11"]},
    "RNCP19453": {"RNCP19453BC01": ["C1", "C2", "C3"], "RNCP19453BC02": ["C4", "C5"],
                  "RNCP19453BC03": ["C6", "C7", "C8"]},
    "RNCP28246": {"RNCP28246BC01": ["C1", "C2", "C3", "C4", "C5", "C6"], "RNCP28246BC02": ["C7", "C8"]},
    "RNCP28242": {"RNCP28242BC01": ["C1", "C2", "C3"], "RNCP28242BC02": ["C4", "C5", "C6"],
                  "RNCP28242BC03": ["C7", "C8"]},
}


@pytest.mark.parametrize("cert", sorted(EXPECTED_BLOCS))
def test_bloc_membership_is_exact(store, cert):
    rows = q(store, f"""SELECT ?bloc ?cap WHERE {{
        ?c skos:notation "{cert}" ; cqpm:hasBlock ?b . ?b skos:notation ?bloc ; cqpm:hasCapacity ?k .
        ?k skos:notation ?cap . ?c cqpm:hasCapacity ?k . }}""")
    got: dict[str, set] = {}
    for r in rows:
        got.setdefault(r["bloc"], set()).add(r["cap"])
    assert got == {b: set(caps) for b, caps in EXPECTED_BLOCS[cert].items()}


def test_every_certification_has_activities_rome_nsf_jobs(store):
    rows = q(store, """SELECT ?id (COUNT(DISTINCT ?a) AS ?acts) (COUNT(DISTINCT ?r) AS ?rome)
        (COUNT(DISTINCT ?n) AS ?nsf) (COUNT(DISTINCT ?j) AS ?jobs) WHERE {
        ?c a cqpm:Certification ; dcterms:identifier ?id ; cqpm:hasActivity ?a .
        OPTIONAL { ?c cqpm:romeCode ?r } OPTIONAL { ?c cqpm:nsfCode ?n } OPTIONAL { ?c cqpm:accessibleJob ?j }
    } GROUP BY ?id ORDER BY ?id""")
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"RNCP28229", "RNCP19453", "RNCP28246", "RNCP28242",
                          "CQPM-management-d-equipe-s-autonome-s"}
    assert by_id["RNCP28229"]["rome"] == 2 and by_id["RNCP28229"]["jobs"] == 7
    assert by_id["RNCP19453"]["rome"] == 5 and by_id["RNCP19453"]["acts"] == 4
    assert by_id["RNCP28246"]["nsf"] == 2
    assert by_id["RNCP28242"]["rome"] == 3 and by_id["RNCP28242"]["jobs"] == 4


def test_registration_and_statistics(store):
    rows = q(store, """SELECT ?id ?start ?end ?awards WHERE {
        ?c dcterms:identifier ?id ; cqpm:awardsPerYear ?awards ; cqpm:registration ?r .
        ?r cqpm:effectiveDate ?start ; cqpm:endDate ?end } ORDER BY ?id""")
    assert [(r["id"], r["start"].isoformat(), r["end"].isoformat(), r["awards"]) for r in rows] == [
        ("RNCP19453", "2014-08-09", "2019-08-09", 56),
        ("RNCP28229", "2017-04-21", "2022-04-21", 168),
        ("RNCP28242", "2017-04-21", "2022-04-21", 67),
        ("RNCP28246", "2017-04-21", "2022-04-21", 996),
    ]


def test_referentiel_capacities_carry_conditions_and_criteria(store):
    rows = q(store, """SELECT ?code ?cond (COUNT(?k) AS ?n) WHERE {
        ?c dcterms:identifier "CQPM-management-d-equipe-s-autonome-s" ; cqpm:hasCapacity ?cap .
        ?cap skos:notation ?code ; cqpm:realisationCondition ?cond ; cqpm:hasCriterion ?k .
    } GROUP BY ?code ?cond""")
    assert len(rows) == 10
    assert all(r["n"] >= 4 for r in rows)
    c1 = next(r for r in rows if r["code"] == "C1")
    assert c1["cond"].startswith("A partir des prévisions et des objectifs d'activité du secteur")


def test_both_wordings_of_a_capacity_are_kept(store):
    rows = q(store, """SELECT ?pref ?alt WHERE {
        <https://w3id.org/cqpm/id/capacite/RNCP28229-C1> skos:prefLabel ?pref ; skos:altLabel ?alt }""")
    assert len(rows) == 1
    assert rows[0]["pref"].startswith("Ordonner et optimiser")
    assert rows[0]["alt"].startswith("Ordonnancer et optimiser")


def test_raw_spans_point_into_the_source_files(store, fiches_dir):
    rows = q(store, """SELECT ?file ?raw ?start ?end WHERE {
        ?st a rdf:Statement ; cqpm:rawText ?raw ; cqpm:startOffset ?start ; cqpm:endOffset ?end ;
            prov:wasQuotedFrom ?src . ?src dcterms:title ?file }""")
    assert len(rows) > 200
    texts = {}
    for r in rows:
        text = texts.setdefault(r["file"], (fiches_dir / r["file"]).read_text(encoding="utf-8"))
        assert text[r["start"]:r["end"]] == r["raw"]


def test_provenance_names_the_source_file_and_its_checksum(store, fiches_dir):
    rows = q(store, """SELECT ?file ?sha WHERE { GRAPH ?g {
        <https://w3id.org/cqpm/id/certification/RNCP28242> skos:prefLabel ?t }
        GRAPH <https://w3id.org/cqpm/id/graph/build> { ?g prov:wasDerivedFrom ?src . ?src dcterms:source ?file ;
        cqpm:sha256 ?sha } }""")
    assert rows == [{"file": "004_22ee70d99d31557e.txt",
                     "sha": hashlib.sha256((fiches_dir / "004_22ee70d99d31557e.txt").read_bytes()).hexdigest()}]


def test_build_metadata_has_date_versions_and_counts(store):
    rows = q(store, """SELECT ?created ?entities WHERE { GRAPH <https://w3id.org/cqpm/id/graph/build> {
        ?d a void:Dataset ; dcterms:created ?created ; void:classPartition ?p .
        ?p void:class cqpm:Certification ; void:entities ?entities } }""")
    assert rows and rows[0]["entities"] == 5
    versions = q(store, """PREFIX schema: <https://schema.org/> SELECT ?name WHERE {
        GRAPH <https://w3id.org/cqpm/id/graph/build> { ?a schema:name ?name ; schema:softwareVersion ?v } }""")
    assert {"cqpm-graph", "pyoxigraph", "rdflib", "pyshacl"} <= {r["name"] for r in versions}


def _dump(store_dir: Path) -> bytes:
    return open_store(store_dir).dump(format=ox.RdfFormat.N_QUADS)


def test_failed_build_leaves_the_previous_store_untouched(tmp_path, fiches_dir):
    settings = Settings(store=tmp_path / "store")
    build(settings, validate=False)
    before_target, before = live_path(settings.store), _dump(settings.store)
    broken = tmp_path / "fiches"
    shutil.copytree(fiches_dir, broken)
    (broken / "005_broken.txt").write_text("Une page de prose sans fiche.\n", encoding="utf-8")
    with pytest.raises(FicheParseError, match="005_broken.txt"):
        build(settings, fiches_dir=broken, validate=False)
    assert live_path(settings.store) == before_target
    assert _dump(settings.store) == before
    assert not list(settings.store.glob(".build-*")), "no half-written build is left behind"


def test_duplicate_certification_is_refused(tmp_path, fiches_dir):
    dup = tmp_path / "fiches"
    dup.mkdir()
    for name in ("000_49dbc97dca6e95ec.txt",):
        shutil.copy(fiches_dir / name, dup / name)
        shutil.copy(fiches_dir / name, dup / ("copy_" + name))
    with pytest.raises(BuildError, match="RNCP28229 already read"):
        build(Settings(store=tmp_path / "s"), fiches_dir=dup, validate=False)


def test_configurable_base_uri(tmp_path):
    settings = Settings(store=tmp_path / "s", base_uri="https://example.org/certif/")
    build(settings, validate=False)
    rows = select(open_store(settings), "SELECT ?c WHERE { ?c a <https://w3id.org/cqpm/ontology#Certification> }")
    assert sorted(r["c"] for r in rows)[0] == "https://example.org/certif/certification/CQPM-management-d-equipe-s-autonome-s"


def test_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(StoreNotFoundError, match="cqpm-graph build"):
        open_store(tmp_path / "nowhere")


EXPORT_FORMATS = [("ttl", "turtle", False), ("nt", "nt", False), ("nq", "nquads", True), ("trig", "trig", True),
                  ("jsonld", "json-ld", True)]
CERTIFICATION = rdflib.URIRef("https://w3id.org/cqpm/ontology#Certification")


@pytest.mark.parametrize("fmt,rdflib_format,is_dataset", EXPORT_FORMATS)
def test_full_export_in_every_format(built_store, tmp_path, fmt, rdflib_format, is_dataset):
    out = tmp_path / f"dump.{fmt}"
    result = CliRunner().invoke(cli, ["export", "--store", str(built_store.store), "--format", fmt,
                                      "--output", str(out)])
    assert result.exit_code == 0, result.output
    # The whole dump (170k triples) is checked with Oxigraph's parser, which is fast.
    quads = list(ox.parse(path=str(out), format=FORMATS[fmt]))
    graphs = {q.graph_name.value for q in quads if isinstance(q.graph_name, ox.NamedNode)}
    if is_dataset:
        assert f"{BASE}graph/fiche/RNCP28229" in graphs and f"{BASE}graph/rome-v347" in graphs
    else:
        assert not graphs
    assert len(quads) > 170_000


@pytest.mark.parametrize("fmt,rdflib_format,is_dataset", EXPORT_FORMATS)
def test_one_graph_export_parses_with_rdflib(built_store, tmp_path, fmt, rdflib_format, is_dataset):
    out = tmp_path / f"fiche.{fmt}"
    result = CliRunner().invoke(cli, ["export", "--store", str(built_store.store), "--format", fmt,
                                      "--output", str(out), "--graph", f"{BASE}graph/fiche/RNCP28229"])
    assert result.exit_code == 0, result.output
    data = rdflib.Dataset() if is_dataset else rdflib.Graph()
    data.parse(out, format=rdflib_format)
    cert = rdflib.URIRef(f"{BASE}certification/RNCP28229")
    if is_dataset:
        assert (cert, rdflib.RDF.type, CERTIFICATION) in data.graph(rdflib.URIRef(f"{BASE}graph/fiche/RNCP28229"))
    else:
        assert (cert, rdflib.RDF.type, CERTIFICATION) in data


def test_export_one_graph_and_errors(built_store, tmp_path):
    runner = CliRunner()
    out = tmp_path / "one.ttl"
    ok = runner.invoke(cli, ["export", "--store", str(built_store.store), "--format", "ttl", "--output", str(out),
                             "--graph", f"{BASE}graph/fiche/RNCP19453"])
    assert ok.exit_code == 0, ok.output
    g = rdflib.Graph().parse(out)
    assert {str(s) for s in g.subjects(rdflib.RDF.type, rdflib.URIRef("https://w3id.org/cqpm/ontology#Certification"))} \
        == {f"{BASE}certification/RNCP19453"}
    bad = runner.invoke(cli, ["export", "--store", str(built_store.store), "--output", str(tmp_path / "x.trig"),
                              "--graph", f"{BASE}graph/nope"])
    assert bad.exit_code == 2 and "no named graph" in bad.output
    missing = runner.invoke(cli, ["export", "--store", str(tmp_path / "none"), "--output", str(tmp_path / "x.nq")])
    assert missing.exit_code == 1 and "cqpm-graph build" in missing.output


def test_build_cli_reports_counts_and_warnings(tmp_path):
    result = CliRunner().invoke(cli, ["build", "--store", str(tmp_path / "s"), "--no-validate"])
    assert result.exit_code == 0, result.output
    assert "5 certifications" in result.output
    assert "[certifier-missing]" in result.output
    assert (tmp_path / "s" / "current").is_symlink()


def test_store_option_falls_back_on_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CQPM_STORE", str(tmp_path / "env-store"))
    result = CliRunner().invoke(cli, ["build", "--no-validate", "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env-store" / "current").exists()


def test_built_graph_has_zero_violations_and_reports_the_real_inconsistencies(built_store):
    report = built_store.build_report.validation
    assert report is not None and report.conforms
    assert report.counts_by_severity.get("Violation", 0) == 0
    warned = {r.focus_node for r in report.results if r.severity.endswith("Warning")}
    assert {f"{BASE}capacite/RNCP28229-C1", f"{BASE}capacite/RNCP19453-C1",
            f"{BASE}capacite/RNCP19453-C2"} <= {str(f) for f in warned}


def test_validate_cli_on_the_built_store(built_store):
    result = CliRunner().invoke(cli, ["validate", "--store", str(built_store.store)])
    assert result.exit_code == 0, result.output
    assert "RNCP28229" in result.output
