"""Named SPARQL queries (queries/*.rq, cqpm_graph.queries, `cqpm-graph query`) on a hand-written sample.

tests/fixtures/sample.trig follows docs/data-model.md: four certifications in their own fiche graphs,
ROME (H2503 → H25 → H) and NSF (200r → 200 → 20 → 2) nomenclatures, ontology and build graphs.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import Variable as RVariable

from cqpm_graph import queries as q
from cqpm_graph.cli import cli
from cqpm_graph.store import new_build

FIXTURE = Path(__file__).parent / "fixtures" / "sample.trig"
BASE = "https://w3id.org/cqpm/id/"
OTHER_BASE = "http://example.org/cqpm-data/"

REQUIRED_QUERIES = {
    "certifications", "certifications-by-rome", "certifications-by-nsf", "certifications-by-keyword",
    "certification-blocs", "certification", "certification-rome", "certification-nsf", "certification-jobs",
    "certification-activities", "certification-access", "capacity-criteria", "shared-rome",
    "identical-bloc-titles", "rome-certifications", "nsf-certifications", "provenance", "parse-warnings",
    "graphs", "stats",
}


def load_sample(base: str = BASE) -> ox.Store:
    store = ox.Store()
    store.load(path=str(FIXTURE), format=ox.RdfFormat.TRIG, base_iri=base)
    return store


@pytest.fixture(scope="module")
def store() -> ox.Store:
    return load_sample()


@pytest.fixture(scope="module")
def catalogue() -> dict[str, q.StoredQuery]:
    return q.load_catalogue()


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("store")
    with new_build(path) as st:
        st.load(path=str(FIXTURE), format=ox.RdfFormat.TRIG, base_iri=BASE)
        del st  # closed before new_build moves it in
    return path


def rows(store, catalogue, name, **params):
    return q.run(store, catalogue[name], params).rows


def mine(catalogue):
    """The queries this test file checks row by row (others, e.g. bridge-*, have their own tests)."""
    return [(name, catalogue[name]) for name in sorted(REQUIRED_QUERIES)]


# -- the catalogue itself ----------------------------------------------------------------------

def free_variables(text: str) -> set[str]:
    """Variables a query uses without binding them (by a triple pattern, BIND, VALUES, GRAPH or
    an aggregate): its parameters."""
    algebra = prepareQuery(text).algebra
    mentioned: set[str] = set()
    bound: set[str] = set()
    samples: dict[str, str] = {}
    extends = []

    def walk(node):
        if isinstance(node, RVariable):
            mentioned.add(str(node))
        elif isinstance(node, CompValue):
            if node.name in ("BGP", "TriplesBlock"):
                for triple in node.triples:
                    bound.update(str(x) for x in triple if isinstance(x, RVariable))
            elif node.name == "Extend":
                extends.append(node)
            elif node.name == "values":
                for row in node.res or []:
                    bound.update(str(v) for v in row)
            elif node.name == "Graph" and isinstance(node.term, RVariable):
                bound.add(str(node.term))
            elif node.name == "Aggregate_Sample":
                samples[str(node.res)] = str(node.vars)
            for key, value in node.items():
                if key != "_vars":
                    walk(value)
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(key)
                walk(value)
        elif isinstance(node, (list, tuple, set)):
            for value in node:
                walk(value)

    walk(algebra)
    for ext in extends:  # GROUP BY ?x passes ?x through SAMPLE: that does not bind it
        if not (isinstance(ext.expr, RVariable) and samples.get(str(ext.expr)) == str(ext.var)):
            bound.add(str(ext.var))
    return {v for v in mentioned - bound if not v.startswith("__")}


def test_free_variables_detects_parameters():
    assert free_variables("SELECT ?c (COUNT(?y) AS ?n) WHERE { ?x ?p ?y FILTER(?x = ?c) } GROUP BY ?c") == {"c"}
    assert free_variables("SELECT * WHERE { ?x ?p ?y FILTER NOT EXISTS { ?x ?q ?z } }") == set()


def test_catalogue_has_the_required_queries(catalogue):
    assert REQUIRED_QUERIES <= set(catalogue)


@pytest.mark.parametrize("path", sorted(Path(q.__file__).resolve().parent.parent.joinpath("queries").glob("*.rq")),
                         ids=lambda p: p.stem)
def test_every_catalogue_file_header(path):
    stored = q.load_query(path)
    assert stored.title and stored.description and stored.titles.get("en")
    declared = {p.name for p in stored.params}
    # a parameter is used without being bound (FILTER(… ?rome …)) or joined as a constant
    # (?cert dcterms:identifier ?certification); an unbound variable that is not declared is a bug
    assert free_variables(stored.text) <= declared, "every unbound ?variable must be a declared param"
    mentioned = {str(v) for v in prepareQuery(stored.text).algebra["_vars"]}
    assert declared <= mentioned, "every declared param must be used"
    for p in stored.params:
        assert p.description, p.name
        assert p.pattern, f"{p.name}: give a pattern"
    if stored.name in REQUIRED_QUERIES:
        assert "ORDER BY" in stored.text.upper()


def test_every_query_runs_with_substitutions_and_rendered_values(store, catalogue, required_params):
    for name, stored in mine(catalogue):
        params = required_params(stored)
        result = q.run(store, stored, params)
        assert result.kind == "select"
        assert result.rows, name
        # substitutions directly (no fallback): every parameter is projected
        direct = store.query(stored.text, use_default_graph_as_union=True, substitutions=stored.bind(params) or None)
        assert len(list(direct)) == len(result.rows), name
        rendered = store.query(stored.render(params), use_default_graph_as_union=True)
        assert [{v.value: s[v.value] for v in rendered.variables if s[v.value] is not None} for s in rendered] \
            == result.terms, name


def test_queries_do_not_depend_on_the_base_uri(store, catalogue, required_params):
    other = load_sample(OTHER_BASE)

    def swap(value):
        return value.replace(OTHER_BASE, BASE) if isinstance(value, str) else value

    for name, stored in mine(catalogue):
        params = required_params(stored)
        expected = q.run(store, stored, params).rows
        got = [{k: swap(v) for k, v in row.items()} for row in q.run(other, stored, params).rows]
        assert got == expected, name


# -- expected rows on the sample -----------------------------------------------------------------

def test_certifications(store, catalogue):
    result = rows(store, catalogue, "certifications")
    assert [r["id"] for r in result] == ["CQPM-management-d-equipe-s-autonome-s", "RNCP19453", "RNCP28229", "RNCP28246"]
    by_id = {r["id"]: r for r in result}
    assert by_id["RNCP28229"]["blocs"] == 3 and by_id["RNCP28229"]["capacities"] == 5
    assert by_id["RNCP28229"]["kind"] == "CQPM" and by_id["RNCP28229"]["notation"] == "RNCP28229"
    assert by_id["RNCP28229"]["cert"] == BASE + "certification/RNCP28229"
    assert "notation" not in by_id["CQPM-management-d-equipe-s-autonome-s"]
    assert by_id["RNCP28246"]["blocs"] == 0


@pytest.mark.parametrize("code, expected", [
    ("H2503", [("RNCP28229", "H2503")]),
    ("H25", [("RNCP28229", "H2503"), ("RNCP28229", "H2504")]),
    ("H", [("RNCP19453", "H2903"), ("RNCP19453", "H2906"), ("RNCP28229", "H2503"), ("RNCP28229", "H2504"),
           ("RNCP28246", "H2903")]),
    ("H2903", [("RNCP19453", "H2903"), ("RNCP28246", "H2903")]),
    ("A1101", []),
])
def test_certifications_by_rome(store, catalogue, code, expected):
    result = rows(store, catalogue, "certifications-by-rome", rome=code)
    assert [(r["id"], r["romeCode"]) for r in result] == expected
    if code == "H2503":
        assert result[0]["romeLabel"].startswith("Pilotage d'unité élémentaire")


@pytest.mark.parametrize("code, expected", [
    ("200r", [("CQPM-management-d-equipe-s-autonome-s", "200r")]),
    ("200", [("CQPM-management-d-equipe-s-autonome-s", "200r"), ("RNCP28229", "200")]),
    ("201", [("RNCP19453", "201"), ("RNCP28246", "201")]),
    ("2", [("CQPM-management-d-equipe-s-autonome-s", "200r"), ("RNCP19453", "201"), ("RNCP28229", "200"),
           ("RNCP28246", "201")]),
])
def test_certifications_by_nsf(store, catalogue, code, expected):
    assert [(r["id"], r["nsfCode"]) for r in rows(store, catalogue, "certifications-by-nsf", nsf=code)] == expected


def test_certifications_by_keyword_is_case_and_accent_insensitive(store, catalogue):
    hits = {(r["id"], r["field"], r.get("elementCode", "")) for r in
            rows(store, catalogue, "certifications-by-keyword", q="EQUIPE")}
    assert ("RNCP28229", "bloc", "RNCP28229BC01") in hits
    assert ("RNCP19453", "bloc", "RNCP19453BC01") in hits  # "equipe" without accent in the data
    assert ("RNCP28229", "emploi", "") in hits
    assert ("RNCP28229", "intitulé court", "RNCP28229") in hits
    assert ("CQPM-management-d-equipe-s-autonome-s", "capacité", "C2") in hits
    assert ("RNCP28229", "activité", "A3") in hits
    accented = {(r["id"], r["field"]) for r in rows(store, catalogue, "certifications-by-keyword", q="équipe")}
    assert accented == {(i, f) for i, f, _ in hits}


def test_certifications_by_keyword_matches_alt_labels_and_apostrophes(store, catalogue):
    result = rows(store, catalogue, "certifications-by-keyword", q="ordonnancer")
    assert [(r["id"], r["field"], r["elementCode"]) for r in result] == [("RNCP28229", "capacité", "C1")]
    typographic = rows(store, catalogue, "certifications-by-keyword", q="projet d’amélioration")
    assert {(r["id"], r["elementCode"]) for r in typographic} == {("RNCP19453", "RNCP19453BC03"),
                                                                    ("RNCP28229", "RNCP28229BC03")}
    assert rows(store, catalogue, "certifications-by-keyword", q="zzzz") == []


def test_certification_blocs_in_order_with_alt_labels(store, catalogue):
    result = rows(store, catalogue, "certification-blocs", certification="RNCP28229")
    assert [(r["blocCode"], r["capacityCode"]) for r in result] == [
        ("RNCP28229BC01", "C1"), ("RNCP28229BC01", "C2"), ("RNCP28229BC02", "C6"),
        ("RNCP28229BC03", "C10"), ("RNCP28229BC03", "C11")]
    assert result[0]["altLabels"].startswith("Ordonnancer")
    assert result[1].get("altLabels", "") == ""  # unbound or "" depending on the engine
    assert result[0]["blocTitle"] == "L'animation technique d'une équipe de production"


def test_certification_blocs_of_a_referentiel_without_blocs(store, catalogue):
    result = rows(store, catalogue, "certification-blocs", certification="cqpm-management-d-equipe-s-autonome-s")
    assert [(r.get("blocCode"), r["capacityCode"]) for r in result] == [(None, "C1"), (None, "C2")]


def test_certification_detail(store, catalogue):
    [row] = rows(store, catalogue, "certification", certification="rncp28229")
    assert row["id"] == "RNCP28229"
    assert row["shortTitle"] == "Animateur (trice) d'équipe autonome de production"
    assert row["type"] == "CQPM" and row["registry"] == "RNCP" and row["abbreviation"] == "CQP"
    assert row["certifier"].startswith("Commission paritaire nationale")
    assert row["signatory"] == "Directeur emploi formation de l'UIMM"
    assert row["idcc"] == "3109 - Métallurgie"
    assert row["validity"] == "illimitée" and "validityYears" not in row
    assert row["awardsPerYear"] == 168
    assert row["newCaledonia"] is False and row["frenchPolynesia"] is False
    assert str(row["decisionDate"]) == "2017-04-07" and str(row["endDate"]) == "2022-04-21"
    assert row["durationYears"] == 5
    assert row["cqpmNumber"] == "0251" and row["gtpNumber"] == "2006 07 74 0251"
    assert row["validationYear"] == "2007" and row["category"] == "B"
    assert row["history"].startswith("L'UIMM Haute Savoie")
    assert row["sourceTitle"] == "000_49dbc97dca6e95ec.txt"
    [other] = rows(store, catalogue, "certification", certification="RNCP19453")
    assert other["validityYears"] == 5 and other.get("idcc", "") == ""
    assert rows(store, catalogue, "certification", certification="RNCP99999") == []


def test_certification_rome(store, catalogue):
    result = rows(store, catalogue, "certification-rome", certification="RNCP28229")
    assert [(r["romeCode"], r["domainCode"], r["grandDomainCode"]) for r in result] == [
        ("H2503", "H25", "H"), ("H2504", "H25", "H")]
    assert result[0]["printedLabel"] == "Pilotage d'unité élémentaire de production mécanique"
    assert "printedLabel" not in result[1]
    assert result[0]["grandDomainLabel"] == "Industrie"


def test_certification_nsf(store, catalogue):
    [row] = rows(store, catalogue, "certification-nsf", certification="CQPM-management-d-equipe-s-autonome-s")
    assert (row["nsfCode"], row["specialityCode"], row["groupCode"], row["domainCode"]) == ("200r", "200", "20", "2")
    [row] = rows(store, catalogue, "certification-nsf", certification="RNCP28229")
    assert row["printedLabel"] == "Technologies industrielles fondamentales"
    assert (row["specialityCode"], row["groupCode"], row["domainCode"]) == ("200", "20", "2")


def test_certification_jobs(store, catalogue):
    result = rows(store, catalogue, "certification-jobs", certification="RNCP28229")
    assert [(r["label"], r["otherCertifications"]) for r in result] == [
        ("Chef d'équipe de production", 0), ("Chef de chaîne", 0), ("Chef de ligne", 1)]


def test_certification_activities(store, catalogue):
    result = rows(store, catalogue, "certification-activities", certification="RNCP28229")
    assert [r["code"] for r in result] == ["A1", "A2", "A3"]


def test_certification_access(store, catalogue):
    result = rows(store, catalogue, "certification-access", certification="RNCP28229")
    assert [(r["routeCode"], r["status"]) for r in result] == [
        ("formation-initiale", "ouverte"), ("apprentissage", "fermée"),
        ("candidature-individuelle", "inconnue"), ("vae", "ouverte")]
    assert result[3]["jury"].startswith("Jury paritaire")
    assert "isOpen" not in result[2] and result[1]["isOpen"] is False


def test_capacity_criteria(store, catalogue):
    result = rows(store, catalogue, "capacity-criteria", certification="CQPM-management-d-equipe-s-autonome-s")
    assert [(r["capacityCode"], r["criterionCode"]) for r in result] == [("C1", "C1-1"), ("C1", "C1-2"), ("C2", "C2-1")]
    assert result[0]["condition"].startswith("A partir des prévisions")
    plain = rows(store, catalogue, "capacity-criteria", certification="RNCP28229")
    assert [r["capacityCode"] for r in plain] == ["C1", "C2", "C6", "C10", "C11"]
    assert all("criterion" not in r for r in plain)


def test_shared_rome(store, catalogue):
    result = rows(store, catalogue, "shared-rome")
    assert [(r["id1"], r["id2"], r["sharedCount"], r["sharedCodes"]) for r in result] == [
        ("RNCP19453", "RNCP28246", 1, "H2903")]


def test_identical_bloc_titles(store, catalogue):
    result = rows(store, catalogue, "identical-bloc-titles")
    assert [(r["blocCode1"], r["blocCode2"]) for r in result] == [
        ("RNCP19453BC01", "RNCP28229BC01"), ("RNCP19453BC03", "RNCP28229BC03")]
    assert result[0]["key"] == "l'animation technique d'une equipe de production"
    assert result[1]["key"] == "la contribution a un projet d'amelioration"


def test_rome_certifications(store, catalogue):
    result = rows(store, catalogue, "rome-certifications", rome="H2503")
    assert [(r["code"], r["id"], r["certRomeCode"]) for r in result] == [("H2503", "RNCP28229", "H2503")]
    assert result[0]["definition"].startswith("Organise et coordonne")
    assert result[0]["broaderCode"] == "H25"
    domain = rows(store, catalogue, "rome-certifications", rome="H29")
    assert [(r["id"], r["certRomeCode"]) for r in domain] == [
        ("RNCP19453", "H2903"), ("RNCP19453", "H2906"), ("RNCP28246", "H2903")]
    assert len(rows(store, catalogue, "rome-certifications", rome="H")) == 5
    # a known concept no certification leads to: one row, no certification
    [alone] = rows(store, catalogue, "rome-certifications", rome="H2502")
    assert alone["label"] == "Management et ingénierie de production" and "id" not in alone
    assert rows(store, catalogue, "rome-certifications", rome="A1101") == []


def test_nsf_certifications(store, catalogue):
    result = rows(store, catalogue, "nsf-certifications", nsf="200")
    assert [(r["id"], r["certNsfCode"]) for r in result] == [
        ("CQPM-management-d-equipe-s-autonome-s", "200r"), ("RNCP28229", "200")]
    assert result[0]["broaderCode"] == "20"
    [row] = rows(store, catalogue, "nsf-certifications", nsf="200r")
    assert row["code"] == "200r" and row["label"].startswith("Contrôle qualité")


def test_provenance(store, catalogue):
    [row] = rows(store, catalogue, "provenance", certification="RNCP28229")
    assert row["graph"] == BASE + "graph/fiche/RNCP28229"
    assert row["sha256"].startswith("49dbc97dca6e95ec")
    assert row["path"] == "data/fiches/000_49dbc97dca6e95ec.txt"
    assert row["layout"] == "rncp-html"
    store_triples = store.query(
        "SELECT ?c ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { { ?c ?p ?o } UNION { ?s ?p ?c } } } GROUP BY ?c ?g",
        substitutions={ox.Variable("c"): ox.NamedNode(BASE + "certification/RNCP28229"),
                       ox.Variable("g"): ox.NamedNode(BASE + "graph/fiche/RNCP28229")})
    assert row["triples"] == int(next(iter(store_triples))["n"].value)


def test_parse_warnings(store, catalogue):
    result = rows(store, catalogue, "parse-warnings")
    assert [(r["sourceTitle"], r["code"]) for r in result] == [
        ("000_49dbc97dca6e95ec.txt", "capacity-wording-differs"),
        ("002_47ce5fae93505f98.txt", "blocs-missing"), ("002_47ce5fae93505f98.txt", "nsf-code-unknown")]
    assert result[0]["concernsCode"] == "C1" and result[0]["id"] == "RNCP28229"
    only = rows(store, catalogue, "parse-warnings", certification="RNCP28246")
    assert [r["code"] for r in only] == ["blocs-missing", "nsf-code-unknown"]
    assert rows(store, catalogue, "parse-warnings", certification="RNCP19453") == []


def test_graphs(store, catalogue):
    result = rows(store, catalogue, "graphs")
    graphs = [r["graph"] for r in result]
    assert graphs == sorted(graphs) and len(graphs) == 8
    assert BASE + "graph/rome-v347" in graphs and BASE + "graph/nsf" in graphs
    assert sum(r["triples"] for r in result) == len(store)


def test_stats(store, catalogue):
    stats = {r["measure"]: r["count"] for r in rows(store, catalogue, "stats")}
    assert stats["certifications"] == 4 and stats["blocs"] == 6 and stats["capacities"] == 10
    assert stats["criteria"] == 3 and stats["jobs"] == 4 and stats["rome-codes"] == 4
    assert stats["nsf-codes"] == 3 and stats["warnings"] == 3 and stats["triples"] == len(store)


# -- parameters ----------------------------------------------------------------------------------

def test_bind_returns_substitutions(catalogue):
    bound = catalogue["certifications-by-rome"].bind({"rome": " H2503 "})
    assert bound == {ox.Variable("rome"): ox.Literal("H2503")}


@pytest.mark.parametrize("name, params, bad", [
    ("certifications-by-rome", {}, "rome"),
    ("certifications-by-rome", {"rome": "H2503X"}, "rome"),
    ("certifications-by-rome", {"rome": ""}, "rome"),
    ("certifications-by-rome", {"rome": "H2503", "nsf": "200"}, "nsf"),
    ("certifications-by-rome", {"rome": "h2503"}, "rome"),  # codes as printed: upper-case letter
    ("certifications-by-nsf", {"nsf": "2000"}, "nsf"),
    ("nsf-certifications", {"nsf": "200R"}, "nsf"),
    ("certification-blocs", {"certification": "28229; DROP"}, "certification"),
    ("certifications-by-keyword", {"q": "a"}, "q"),
    ("certifications-by-keyword", {"q": "bad\x00value"}, "q"),
])
def test_invalid_parameters_name_the_parameter(catalogue, name, params, bad):
    with pytest.raises(q.QueryParameterError) as info:
        catalogue[name].bind(params)
    assert info.value.param == bad
    assert f"'{bad}'" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_optional_parameter_may_be_left_out(catalogue):
    stored = catalogue["parse-warnings"]
    assert stored.bind({}) == {}
    assert stored.render({}) == stored.text


def test_render_escapes_literals():
    stored = q.StoredQuery("t", "t", "", [q.QueryParam("x", pattern=None)],
                           'SELECT ?x ?y WHERE { BIND(STRLEN(?x) AS ?y) }\n')
    nasty = 'a"b\\c } ; DROP ALL # \u00e9\n\\u0022'
    text = stored.render({"x": nasty})
    assert 'VALUES ?x { "a\\"b\\\\c } ; DROP ALL # \u00e9\\n\\\\u0022" }' in text
    [row] = q.run(ox.Store(), q.StoredQuery("t", "t", "", [], text), {}).rows
    assert row["x"] == nasty.strip()


def test_render_inserts_into_the_outer_where_group():
    text = ('PREFIX ex: <http://ex/#where{>\n# WHERE { in a comment\n'
            'SELECT ?x ("WHERE {" AS ?s) WHERE { { SELECT ?y WHERE { ?y ?p ?o } } FILTER(?x != "}") }\n')
    stored = q.StoredQuery("t", "t", "", [q.QueryParam("x", kind="iri")], text)
    out = stored.render({"x": "http://example.org/a"})
    assert 'WHERE {\n  VALUES ?x { <http://example.org/a> }\n { SELECT ?y' in out
    with pytest.raises(q.QueryParameterError):
        stored.bind({"x": "http://example.org/a b>"})
    integer = q.StoredQuery("t", "t", "", [q.QueryParam("n", kind="integer")], "SELECT ?n { }")
    assert 'VALUES ?n { "5"^^<http://www.w3.org/2001/XMLSchema#integer> }' in integer.render({"n": "5"})
    with pytest.raises(q.QueryParameterError):
        integer.bind({"n": "five"})


def test_run_falls_back_to_values_when_the_parameter_is_not_projected(store):
    stored = q.StoredQuery("t", "t", "", [q.QueryParam("rome")],
                           "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
                           "SELECT ?label WHERE { ?c skos:notation ?rome ; skos:prefLabel ?label }")
    assert q.run(store, stored, {"rome": "H25"}).rows == [
        {"label": "Direction, encadrement et pilotage de fabrication et production industrielles"}]


# -- header parsing, resolve ---------------------------------------------------------------------

@pytest.mark.parametrize("header, line, message", [
    ("# description: d\n", 1, "title"),
    ("# title: t\n", 1, "description"),
    ("# title: t\n# description: d\n# param: rome (literal, weird) — x\n", 3, "weird"),
    ("# title: t\n# description: d\n# param: 9rome\n", 3, "malformed"),
    ("# title: t\n# description: d\n# pattern: rome ^H$\n", 3, "undeclared"),
    ("# title: t\n# description: d\n# param: rome — x\n# pattern: rome ([\n", 4, "invalid pattern"),
    ("# title: t\n# description: d\n# param: rome — x\n# param: rome — y\n", 4, "twice"),
])
def test_header_errors_name_file_and_line(tmp_path, header, line, message):
    (tmp_path / "good.rq").write_text("# title: t\n# description: d\nSELECT * WHERE { ?s ?p ?o } ORDER BY ?s\n")
    bad = tmp_path / "bad.rq"
    bad.write_text(header + "SELECT * WHERE { ?s ?p ?o }\n", encoding="utf-8")
    with pytest.raises(q.QueryHeaderError) as info:
        q.load_catalogue(tmp_path)
    assert str(info.value).startswith(f"{bad}:{line}:")
    assert message in str(info.value)


def test_header_syntax(tmp_path):
    path = tmp_path / "x.rq"
    path.write_text("# title: Titre\n# title@en: Title\n# A free comment line\n"
                    "# description: Desc\n# param: a (iri, optional) -- an IRI\n# param: b\n"
                    "# pattern: b (?i)^x+$\nSELECT ?a ?b WHERE { ?a ?p ?b }\n", encoding="utf-8")
    stored = q.load_query(path)
    assert (stored.name, stored.title, stored.titles["en"], stored.description) == ("x", "Titre", "Title", "Desc")
    assert stored.params == [q.QueryParam("a", "iri", "an IRI", False, None),
                             q.QueryParam("b", "literal", "", True, "(?i)^x+$")]


def test_resolve(tmp_path, catalogue):
    assert q.resolve("stats", catalogue) is catalogue["stats"]
    path = tmp_path / "adhoc.rq"
    path.write_text("SELECT * WHERE { ?s ?p ?o } LIMIT 1\n")
    adhoc = q.resolve(str(path), catalogue)
    assert adhoc.name == "adhoc" and adhoc.params == [] and adhoc.path == path
    with pytest.raises(q.UnknownQueryError) as info:
        q.resolve("no-such-query", catalogue)
    assert "certifications-by-rome" in str(info.value) and "stats" in info.value.available


# -- results -------------------------------------------------------------------------------------

def test_result_formats(store, catalogue):
    result = q.run(store, catalogue["certifications-by-rome"], {"rome": "H25"})
    data = json.loads(result.to_json())
    assert data["head"]["vars"] == result.variables
    assert data["results"]["bindings"][0]["cert"] == {"type": "uri", "value": BASE + "certification/RNCP28229"}
    table = result.to_table().splitlines()
    assert table[0].split() == result.variables and set(table[1]) <= {"-", " "} and len(table) == 4
    assert table[2][table[0].index(" id ") + 1:].startswith("RNCP28229 ")
    parsed = list(csv.reader(io.StringIO(result.to_csv())))
    assert parsed[0] == result.variables and len(parsed) == 3 and parsed[1][2] == "RNCP28229"


def test_ask_and_construct_results(store):
    ask = q.run(store, q.StoredQuery("a", "a", "", [], "ASK { ?s a <https://w3id.org/cqpm/ontology#Certification> }"), {})
    assert ask.kind == "ask" and ask.boolean is True and ask.to_table() == "true"
    assert json.loads(ask.to_json()) == {"head": {}, "boolean": True}
    assert ask.to_csv() == "boolean\r\ntrue\r\n"
    construct = q.run(store, q.StoredQuery("c", "c", "", [], (
        "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
        "CONSTRUCT { ?c skos:notation ?n } WHERE { ?c skos:notation ?n FILTER(?n = \"H25\") }")), {})
    assert construct.kind == "construct" and construct.variables == ["subject", "predicate", "object"]
    assert construct.rows == [{"subject": BASE + "rome/H25", "predicate": "http://www.w3.org/2004/02/skos/core#notation",
                               "object": "H25"}]
    assert json.loads(construct.to_json())["head"]["vars"] == ["subject", "predicate", "object"]
    assert construct.to_csv().startswith("subject,predicate,object\r\n")


# -- command line --------------------------------------------------------------------------------

def invoke(*args):
    return CliRunner().invoke(cli, ["query", *args])


def test_cli_table(store_dir):
    result = invoke("certifications-by-rome", "--param", "rome=H25", "--store", str(store_dir))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == ["rome", "cert", "id", "title", "romeCode", "romeLabel"]
    assert "H2504" in result.stdout


def test_cli_json_and_csv(store_dir):
    result = invoke("certifications", "--format", "json", "--store", str(store_dir))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "id" in data["head"]["vars"] and len(data["results"]["bindings"]) == 4
    result = invoke("certification-blocs", "-p", "certification=RNCP28229", "-f", "csv", "--store", str(store_dir))
    assert result.exit_code == 0, result.output
    lines = list(csv.reader(io.StringIO(result.stdout)))
    assert lines[0][0] == "certification" and len(lines) == 6


def test_cli_list():
    result = invoke("--list")
    assert result.exit_code == 0, result.output
    assert "certifications-by-rome" in result.stdout and "Certifications par code ROME" in result.stdout
    assert "--param rome=" in result.stdout and "(literal, optional)" in result.stdout


def test_cli_unknown_name(store_dir):
    result = invoke("no-such-query", "--store", str(store_dir))
    assert result.exit_code == 2
    assert "no-such-query" in result.output and "certifications-by-rome" in result.output


def test_cli_file_query(store_dir, tmp_path):
    path = tmp_path / "count.rq"
    path.write_text("PREFIX cqpm: <https://w3id.org/cqpm/ontology#>\n"
                    "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?c a cqpm:Certification }\n")
    result = invoke(str(path), "--store", str(store_dir), "-f", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b"n\r\n4\r\n"


def test_cli_malformed_file_query(store_dir, tmp_path):
    path = tmp_path / "bad.rq"
    path.write_text("SELECT * WHERE { ?s ?p }\n")
    result = invoke(str(path), "--store", str(store_dir))
    assert result.exit_code == 2
    assert "SPARQL syntax error" in result.output and "bad.rq" in result.output


def test_cli_bad_params(store_dir):
    result = invoke("certifications-by-rome", "--param", "rome", "--store", str(store_dir))
    assert result.exit_code == 2 and "--param" in result.output and "name=value" in result.output
    result = invoke("certifications-by-rome", "--param", "rome=Z99", "--store", str(store_dir))
    assert result.exit_code == 2 and "--param rome" in result.output
    result = invoke("certifications-by-rome", "--store", str(store_dir))
    assert result.exit_code == 2 and "'rome'" in result.output


def test_cli_missing_store(tmp_path):
    result = invoke("stats", "--store", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "no graph store" in result.output and "cqpm-graph build" in result.output


def test_cli_sparql_text():
    result = invoke("certifications-by-rome", "-p", 'rome=H25', "--sparql")
    assert result.exit_code == 0, result.output
    assert 'VALUES ?rome { "H25" }' in result.stdout


def test_real_build_if_available(request, catalogue, required_params):
    """Smoke test on the integrator's real build, once tests/conftest.py provides ``built_store``."""
    try:
        built = request.getfixturevalue("built_store")
    except pytest.FixtureLookupError:
        pytest.skip("no built_store fixture yet")
    if not isinstance(built, ox.Store):  # Settings or a store directory
        from cqpm_graph.store import open_store
        built = open_store(built)
    for name, stored in mine(catalogue):
        result = q.run(built, stored, required_params(stored))
        assert result.kind == "select", name
    ids = {r["id"] for r in q.run(built, catalogue["certifications"], {}).rows}
    assert {"RNCP28229", "RNCP19453"} <= ids
    pairs = {(r["blocCode1"], r["blocCode2"]) for r in q.run(built, catalogue["identical-bloc-titles"], {}).rows}
    assert {("RNCP19453BC01", "RNCP28229BC01"), ("RNCP19453BC03", "RNCP28229BC03")} <= pairs
