"""The SPARQL 1.1 Protocol endpoint ``/sparql``, served for real by waitress on loopback and queried
with SPARQLWrapper and requests."""
from __future__ import annotations

import csv
import io
import json
import threading
import urllib.error
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
import requests
from SPARQLWrapper import CSV, JSON, JSONLD, POST, POSTDIRECTLY, TSV, TURTLE, XML, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

from cqpm_graph.config import Settings
from cqpm_graph.store import new_build
from cqpm_graph.webapp import create_app

pytestmark = pytest.mark.server

FIXTURE = Path(__file__).parent / "fixtures" / "web" / "sample.trig"
BASE = "https://w3id.org/cqpm/id/"
PREFIXES = """PREFIX cqpm: <https://w3id.org/cqpm/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""
SELECT_IDS = PREFIXES + "SELECT ?id ?title WHERE { ?c a cqpm:Certification ; dcterms:identifier ?id . " \
                        "OPTIONAL { ?c skos:prefLabel ?title } } ORDER BY ?id"
CONSTRUCT_BLOCS = PREFIXES + """CONSTRUCT { ?b skos:prefLabel ?t ; cqpm:isBlockOf ?c }
WHERE { ?c dcterms:identifier "RNCP28229" ; cqpm:hasBlock ?b . ?b skos:prefLabel ?t }"""
ALL_IDS = ["CQPM-management-d-equipe-s-autonome-s", "RNCP19453", "RNCP28229"]


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """URL of ``/sparql`` on a waitress server (free port on 127.0.0.1), closed after the module."""
    from waitress.server import create_server

    store_dir = tmp_path_factory.mktemp("sparql-store")
    with new_build(store_dir) as store:
        store.load(path=str(FIXTURE), format=ox.RdfFormat.TRIG)
    app = create_app(Settings(store=store_dir))
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="waitress-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/sparql"
    finally:
        server.close()
        thread.join(timeout=5)


def wrapper(endpoint: str, query: str, fmt=JSON) -> SPARQLWrapper:
    sparql = SPARQLWrapper(endpoint)
    sparql.setQuery(query)
    sparql.setReturnFormat(fmt)
    return sparql


def ids_of_json(results: dict) -> list[str]:
    return [b["id"]["value"] for b in results["results"]["bindings"]]


# -- SELECT ---------------------------------------------------------------------------------------

def test_select_get_json(endpoint):
    sparql = wrapper(endpoint, SELECT_IDS)
    response = sparql.query()
    assert response.response.headers["Content-Type"].startswith("application/sparql-results+json")
    results = response.convert()
    assert results["head"]["vars"] == ["id", "title"]
    assert ids_of_json(results) == ALL_IDS


def test_select_post_form(endpoint):
    sparql = wrapper(endpoint, SELECT_IDS)
    sparql.setMethod(POST)
    assert ids_of_json(sparql.query().convert()) == ALL_IDS


def test_select_post_direct_with_sparqlwrapper(endpoint):
    sparql = wrapper(endpoint, SELECT_IDS)
    sparql.setMethod(POST)
    sparql.setRequestMethod(POSTDIRECTLY)
    assert ids_of_json(sparql.query().convert()) == ALL_IDS


def test_select_post_direct_with_requests(endpoint):
    response = requests.post(endpoint, data=SELECT_IDS.encode("utf-8"),
                             headers={"Content-Type": "application/sparql-query; charset=utf-8",
                                      "Accept": "application/sparql-results+json"})
    assert response.status_code == 200
    assert ids_of_json(response.json()) == ALL_IDS
    assert "Accept" in response.headers["Vary"]


def test_select_xml(endpoint):
    sparql = wrapper(endpoint, SELECT_IDS, XML)
    response = sparql.query()
    assert response.response.headers["Content-Type"].startswith("application/sparql-results+xml")
    document = response.convert()  # xml.dom.minidom Document
    values = [node.firstChild.data for node in document.getElementsByTagName("literal")]
    assert "RNCP28229" in values and "RNCP19453" in values


def test_select_csv_and_tsv(endpoint):
    text = wrapper(endpoint, SELECT_IDS, CSV).query().convert().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["id"] for r in rows] == ALL_IDS
    assert rows[2]["title"].startswith("Certificat de qualification professionnelle Animateur")
    tsv = wrapper(endpoint, SELECT_IDS, TSV).query().convert().decode("utf-8")
    lines = tsv.strip().split("\n")
    assert lines[0] == "?id\t?title"
    assert lines[3].startswith('"RNCP28229"\t"Certificat de qualification professionnelle Animateur')


def test_unicode_and_empty_results(endpoint):
    query = PREFIXES + 'SELECT ?b WHERE { ?b skos:prefLabel "La contribution à un projet d\'amélioration"@fr } ORDER BY ?b'
    bindings = wrapper(endpoint, query).query().convert()["results"]["bindings"]
    assert [b["b"]["value"] for b in bindings] == [BASE + "bloc/RNCP19453BC03", BASE + "bloc/RNCP28229BC03"]
    none = wrapper(endpoint, PREFIXES + 'SELECT ?x WHERE { ?x skos:notation "nope" }').query().convert()
    assert none["results"]["bindings"] == []


# -- ASK, CONSTRUCT, DESCRIBE ---------------------------------------------------------------------

def test_ask(endpoint):
    assert wrapper(endpoint, PREFIXES + 'ASK { ?c dcterms:identifier "RNCP28229" }').query().convert()["boolean"] is True
    assert wrapper(endpoint, PREFIXES + 'ASK { ?c dcterms:identifier "RNCP1" }').query().convert()["boolean"] is False
    xml = requests.get(endpoint, params={"query": "ASK {}"}, headers={"Accept": "application/sparql-results+xml"})
    assert xml.status_code == 200 and "<boolean>true</boolean>" in xml.text


def test_construct_turtle(endpoint):
    response = wrapper(endpoint, CONSTRUCT_BLOCS, TURTLE).query()
    assert response.response.headers["Content-Type"].startswith("text/turtle")
    graph = response.convert()
    if isinstance(graph, bytes):
        graph = rdflib.Graph().parse(data=graph.decode("utf-8"), format="turtle")
    titles = {str(o) for o in graph.objects(None, rdflib.SKOS.prefLabel)}
    assert "L'assurance du bon fonctionnement des postes de fabrication" in titles
    assert len(graph) == 6


def test_construct_turtle_default_uses_prefixes(endpoint):
    response = requests.get(endpoint, params={"query": CONSTRUCT_BLOCS})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/turtle")
    assert "@prefix skos:" in response.text
    assert len(rdflib.Graph().parse(data=response.text, format="turtle")) == 6


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # rdflib's ConjunctiveGraph inside SPARQLWrapper
def test_construct_json_ld(endpoint):
    response = wrapper(endpoint, CONSTRUCT_BLOCS, JSONLD).query()
    assert response.response.headers["Content-Type"].startswith("application/ld+json")
    graph = response.convert()
    if not isinstance(graph, rdflib.Graph):
        graph = rdflib.Graph().parse(data=graph, format="json-ld")
    bloc = rdflib.URIRef(BASE + "bloc/RNCP28229BC01")
    assert graph.value(bloc, rdflib.SKOS.prefLabel) == rdflib.Literal(
        "L'animation technique d'une équipe de production", lang="fr")
    assert len(graph) == 6


def test_construct_n_triples_and_describe(endpoint):
    response = requests.get(endpoint, params={"query": CONSTRUCT_BLOCS}, headers={"Accept": "application/n-triples"})
    assert response.headers["Content-Type"].startswith("application/n-triples")
    assert len(rdflib.Graph().parse(data=response.text, format="nt")) == 6
    describe = requests.get(endpoint, params={"query": f"DESCRIBE <{BASE}rome/H2503>"})
    graph = rdflib.Graph().parse(data=describe.text, format="turtle")
    assert (rdflib.URIRef(BASE + "rome/H2503"), rdflib.SKOS.notation, rdflib.Literal("H2503")) in graph


# -- content negotiation --------------------------------------------------------------------------

def test_accept_wildcard_gives_defaults_and_format_param(endpoint):
    response = requests.get(endpoint, params={"query": SELECT_IDS}, headers={"Accept": "*/*"})
    assert response.headers["Content-Type"].startswith("application/sparql-results+json")
    response = requests.get(endpoint, params={"query": SELECT_IDS, "format": "csv"},
                            headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert response.headers["Content-Type"].startswith("text/csv")
    response = requests.get(endpoint, params={"query": CONSTRUCT_BLOCS, "format": "json-ld"})
    assert response.headers["Content-Type"].startswith("application/ld+json")
    assert isinstance(json.loads(response.text), (list, dict))


def test_accept_quality_values(endpoint):
    response = requests.get(endpoint, params={"query": SELECT_IDS},
                            headers={"Accept": "application/sparql-results+json;q=0.5, text/tab-separated-values"})
    assert response.headers["Content-Type"].startswith("text/tab-separated-values")


def test_unsupported_accept_is_406(endpoint):
    response = requests.get(endpoint, params={"query": SELECT_IDS}, headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "application/sparql-results+json" in response.text
    assert "Accept" in response.headers["Vary"]
    graph = requests.get(endpoint, params={"query": CONSTRUCT_BLOCS}, headers={"Accept": "text/csv"})
    assert graph.status_code == 406


# -- read-only: updates are refused -----------------------------------------------------------------

INSERT = "INSERT DATA { <http://example.org/s> <http://example.org/p> <http://example.org/o> }"


@pytest.mark.parametrize("how", ["get-update", "post-update-form", "post-sparql-update", "query-is-update",
                                 "post-query-is-update"])
def test_updates_are_refused_with_403(endpoint, how):
    if how == "get-update":
        response = requests.get(endpoint, params={"update": INSERT})
    elif how == "post-update-form":
        response = requests.post(endpoint, data={"update": INSERT})
    elif how == "post-sparql-update":
        response = requests.post(endpoint, data=INSERT.encode(), headers={"Content-Type": "application/sparql-update"})
    elif how == "query-is-update":
        response = requests.get(endpoint, params={"query": "PREFIX ex: <http://example.org/>\n" + INSERT})
    else:
        response = requests.post(endpoint, data=INSERT.encode(), headers={"Content-Type": "application/sparql-query"})
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "lecture seule" in response.text
    # nothing was written
    ask = requests.get(endpoint, params={"query": "ASK { <http://example.org/s> ?p ?o }"})
    assert ask.json()["boolean"] is False


def test_update_via_sparqlwrapper_raises(endpoint):
    sparql = SPARQLWrapper(endpoint)
    sparql.setQuery(INSERT)
    sparql.setMethod(POST)
    with pytest.raises((urllib.error.HTTPError, SPARQLWrapperException)) as info:
        sparql.query()
    if isinstance(info.value, urllib.error.HTTPError):
        assert info.value.code == 403


def test_federated_service_is_refused(endpoint):
    query = "SELECT * WHERE { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }"
    response = requests.get(endpoint, params={"query": query})
    assert response.status_code == 403
    # the word inside a literal or a variable name is fine
    ok = requests.get(endpoint, params={"query": 'SELECT ?service WHERE { BIND("SERVICE <x>" AS ?service) }'})
    assert ok.status_code == 200


# -- errors ---------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # SPARQLWrapper cannot tell the query type of "SELEC"
def test_malformed_query_is_400_with_parser_message(endpoint):
    response = requests.get(endpoint, params={"query": "SELECT ?x WHERE { ?x ?p }"})
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "Requête SPARQL invalide" in response.text
    assert "error at" in response.text or "expected" in response.text  # the parser's own message
    sparql = wrapper(endpoint, "SELEC ?x")
    with pytest.raises(SPARQLWrapperException):
        sparql.query()


def test_missing_or_repeated_query_is_400(endpoint):
    assert requests.get(endpoint, headers={"Accept": "application/sparql-results+json"}).status_code == 400
    assert requests.get(endpoint, params=[("query", "ASK {}"), ("query", "ASK {}")]).status_code == 400
    assert requests.post(endpoint, data={"format": "json"}).status_code == 400


def test_other_post_content_types_are_415(endpoint):
    response = requests.post(endpoint, data="{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 415


def test_invalid_graph_iri_is_400(endpoint):
    response = requests.get(endpoint, params={"query": SELECT_IDS, "default-graph-uri": "not an iri"})
    assert response.status_code == 400


def test_cors_preflight(endpoint):
    response = requests.options(endpoint, headers={"Origin": "https://example.org",
                                                   "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 204
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert requests.get(endpoint, params={"query": "ASK {}"}).headers["Access-Control-Allow-Origin"] == "*"


def test_browser_gets_the_page(endpoint):
    response = requests.get(endpoint, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<textarea" in response.text


# -- dataset: default-graph-uri / named-graph-uri / FROM ------------------------------------------

def test_default_graph_uri_restricts_to_one_named_graph(endpoint):
    sparql = wrapper(endpoint, SELECT_IDS)
    sparql.addDefaultGraph(BASE + "graph/fiche/RNCP19453")
    assert ids_of_json(sparql.query().convert()) == ["RNCP19453"]
    response = requests.post(endpoint, data={"query": SELECT_IDS, "default-graph-uri": BASE + "graph/fiche/RNCP28229"})
    assert ids_of_json(response.json()) == ["RNCP28229"]
    direct = requests.post(endpoint, params={"default-graph-uri": BASE + "graph/rome-v347"}, data=SELECT_IDS.encode(),
                           headers={"Content-Type": "application/sparql-query"})
    assert ids_of_json(direct.json()) == []


def test_named_graph_uri_limits_graph_patterns(endpoint):
    query = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g"
    response = requests.get(endpoint, params=[("query", query), ("named-graph-uri", BASE + "graph/nsf"),
                                              ("named-graph-uri", BASE + "graph/rome-v347")])
    graphs = [b["g"]["value"] for b in response.json()["results"]["bindings"]]
    assert graphs == [BASE + "graph/nsf", BASE + "graph/rome-v347"]
    everything = requests.get(endpoint, params={"query": query}).json()["results"]["bindings"]
    assert len(everything) == 7


def test_from_clause_is_honoured(endpoint):
    query = PREFIXES + f"SELECT ?id FROM <{BASE}graph/fiche/RNCP28229> WHERE {{ ?c dcterms:identifier ?id }}"
    assert ids_of_json(requests.get(endpoint, params={"query": query}).json()) == ["RNCP28229"]
