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
        del store  # closed before new_build moves it in
    app = create_app(Settings(store=store_dir, cache_dir=tmp_path_factory.mktemp("sparql-cache")))
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="waitress-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/sparql"
    finally:
        server.close()
        thread.join(timeout=5)
        app.extensions["cqpm_graph"].queries.close()


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


# -- more formats, service description, CORS ---------------------------------------------------------

def test_construct_rdf_xml(endpoint):
    response = requests.get(endpoint, params={"query": CONSTRUCT_BLOCS}, headers={"Accept": "application/rdf+xml"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/rdf+xml")
    assert len(rdflib.Graph().parse(data=response.text, format="xml")) == 6
    assert requests.get(endpoint, params={"query": CONSTRUCT_BLOCS, "format": "rdf"}).headers[
        "Content-Type"].startswith("application/rdf+xml")


SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")


@pytest.mark.parametrize("accept, fmt", [(None, "turtle"), ("text/turtle", "turtle"),
                                         ("application/ld+json", "json-ld"), ("application/rdf+xml", "xml"),
                                         ("application/n-triples", "nt")])
def test_service_description(endpoint, accept, fmt):
    headers = {"Accept": accept} if accept else {}
    response = requests.get(endpoint, headers=headers)
    if accept is None:
        response = requests.get(endpoint, headers={"Accept": ""})
    assert response.status_code == 200, response.text
    graph = rdflib.Graph().parse(data=response.text, format=fmt)
    service = rdflib.URIRef(endpoint)
    assert (service, rdflib.RDF.type, SD.Service) in graph
    assert (service, SD.endpoint, service) in graph
    assert (service, SD.supportedLanguage, SD.SPARQL11Query) in graph
    assert (service, SD.feature, SD.UnionDefaultGraph) in graph
    assert (service, SD.feature, SD.BasicFederatedQuery) not in graph  # SERVICE is off by default
    names = {str(o) for o in graph.objects(None, SD.name)}
    assert BASE + "graph/fiche/RNCP28229" in names
    assert "Accept" in response.headers["Vary"]


def test_cors_headers_on_answers_and_errors(endpoint):
    origin = {"Origin": "https://example.org"}
    for response in (requests.get(endpoint, params={"query": "ASK {}"}, headers=origin),
                     requests.get(endpoint, params={"query": "SELECT WHERE {"}, headers=origin),
                     requests.post(endpoint, data=INSERT.encode(), headers={**origin,
                                                                            "Content-Type": "application/sparql-update"})):
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = requests.options(endpoint, headers={**origin, "Access-Control-Request-Method": "POST",
                                                    "Access-Control-Request-Headers": "content-type, accept"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "content-type" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert int(preflight.headers["Access-Control-Max-Age"]) > 0


# -- other clients no one here wrote: rdflib's SPARQLStore, Comunica --------------------------------------

def test_rdflib_sparqlstore(endpoint):
    from rdflib.plugins.stores.sparqlstore import SPARQLStore
    store = SPARQLStore(endpoint, returnFormat="json")
    graph = rdflib.Graph(store=store)
    rows = list(graph.query(SELECT_IDS))
    assert [str(r.id) for r in rows] == ALL_IDS
    bloc = rdflib.URIRef(BASE + "bloc/RNCP28229BC01")
    labels = list(graph.objects(bloc, rdflib.SKOS.prefLabel))
    assert rdflib.Literal("L'animation technique d'une équipe de production", lang="fr") in labels
    assert graph.query(PREFIXES + 'ASK { ?c dcterms:identifier "RNCP28229" }').askAnswer is True
    # rdflib's default store asks for RDF/XML or SPARQL XML results: fits every query form
    default = rdflib.Graph(store=SPARQLStore(endpoint))
    assert len(default.query(CONSTRUCT_BLOCS).graph) == 6
    assert [str(r.id) for r in default.query(SELECT_IDS)] == ALL_IDS
    with pytest.raises(TypeError):  # read-only store in rdflib, and refused by the server anyway
        graph.add((bloc, rdflib.RDFS.label, rdflib.Literal("x")))


def _comunica() -> list[str] | None:
    import shutil
    import subprocess
    root = Path(__file__).resolve().parent.parent
    local = root / "node_modules" / ".bin" / "comunica-sparql"
    if shutil.which("node") is None:
        return None
    if not local.exists():
        tools = root / "scripts" / "test-tools"
        subprocess.run([str(tools)], check=True, cwd=root, timeout=600)
    return [str(local)]


def test_comunica_queries_the_endpoint(endpoint):
    """Comunica (npm @comunica/query-sparql) finds the SPARQL endpoint from its URL alone (the service
    description) and runs a SELECT, an ASK and a CONSTRUCT."""
    import subprocess
    command = _comunica()
    if command is None:
        pytest.skip("node is not installed: the Comunica client (npm) cannot run here")
    result = subprocess.run(command + [endpoint, SELECT_IDS], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert sorted(json.loads(json.dumps(r))["id"].strip('"') for r in rows) == sorted(ALL_IDS)
    ask = subprocess.run(command + [endpoint, PREFIXES + 'ASK { ?c dcterms:identifier "RNCP28229" }'],
                         capture_output=True, text=True, timeout=120)
    assert ask.returncode == 0 and ask.stdout.strip() == "true", ask.stderr
    construct = subprocess.run(command + [endpoint, CONSTRUCT_BLOCS, "-t", "application/n-triples"],
                               capture_output=True, text=True, timeout=120)
    assert construct.returncode == 0, construct.stderr
    assert len(rdflib.Graph().parse(data=construct.stdout, format="nt")) == 6


# -- limits: time, result cap, SERVICE (on the real build) ----------------------------------------------

ROME = BASE + "graph/rome-v347"
SLOW = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{ROME}> {{ ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }} }}"


@pytest.fixture(scope="module")
def limited(built_store, tmp_path_factory):
    """``/sparql`` on the real build with a 2 s time limit, a 100-row cap and SERVICE allowed only to the
    server's own endpoint."""
    import dataclasses
    import socket

    from waitress.server import create_server
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/sparql"
    settings = dataclasses.replace(built_store, query_timeout=2.0, result_limit=100, service_allowlist=(url,),
                                   query_workers=2, cache_dir=tmp_path_factory.mktemp("limited-cache"))
    app = create_app(settings)
    server = create_server(app, host="127.0.0.1", port=port, threads=6)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.close()
        thread.join(timeout=5)
        app.extensions["cqpm_graph"].queries.close()


def test_slow_query_is_stopped_and_the_server_stays_responsive(limited):
    import time
    requests.get(limited, params={"query": "ASK {}"}, timeout=30)  # workers started
    started = time.monotonic()
    response = requests.get(limited, params={"query": SLOW}, timeout=30)
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "Délai dépassé" in response.text and "2 s" in response.text
    assert elapsed < 2 + 1.5, elapsed
    started = time.monotonic()
    fast = requests.get(limited, params={"query": SELECT_IDS}, timeout=30)
    assert fast.status_code == 200 and len(fast.json()["results"]["bindings"]) == 5
    assert time.monotonic() - started < 1.5
    # several slow ones at once do not block the pages either
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        slow = [pool.submit(requests.get, limited, params={"query": SLOW}, timeout=30) for _ in range(3)]
        page = requests.get(limited.replace("/sparql", "/certification/RNCP28229.json"), timeout=30)
        assert page.status_code == 200
        assert all(f.result().status_code == 503 for f in slow)
    assert requests.get(limited, params={"query": "ASK {}"}, timeout=30).json()["boolean"] is True


def test_result_cap(limited):
    query = f"SELECT ?s WHERE {{ GRAPH <{ROME}> {{ ?s a ?t }} }}"
    response = requests.get(limited, params={"query": query})
    assert response.status_code == 422
    assert "plus de 100 lignes" in response.text and "LIMIT" in response.text
    assert requests.get(limited, params={"query": query + " LIMIT 100"}).status_code == 200
    construct = requests.get(limited, params={"query": f"CONSTRUCT {{ ?s a ?t }} WHERE {{ GRAPH <{ROME}> {{ ?s a ?t }} }}"})
    assert construct.status_code == 422 and "triplets" in construct.text


def test_service_allowed_for_the_allowlisted_endpoint(limited):
    query = (f"PREFIX dcterms: <http://purl.org/dc/terms/> SELECT ?id WHERE {{ SERVICE <{limited}> "
             f"{{ ?c dcterms:identifier ?id }} }} ORDER BY ?id")
    response = requests.get(limited, params={"query": query}, timeout=30)
    assert response.status_code == 200, response.text
    assert "RNCP28229" in [b["id"]["value"] for b in response.json()["results"]["bindings"]]
    description = rdflib.Graph().parse(data=requests.get(limited, headers={"Accept": "text/turtle"}).text,
                                       format="turtle")
    assert (rdflib.URIRef(limited), SD.feature, SD.BasicFederatedQuery) in description


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { SERVICE <http://127.0.0.2:9/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE<http://127.0.0.2:9/sparql>{ ?s ?p ?o } }",
    "select * where { service silent <http://127.0.0.2:9/sparql> { ?s ?p ?o } }",
    "PREFIX e: <http://127.0.0.2:9/> SELECT * WHERE { SERVICE e:sparql { ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE <http://127.0.0.\\u0032:9/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { VALUES ?x { <http://127.0.0.2:9/sparql> } SERVICE ?x { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p <http://e/a\u00a0#> . SERVICE <http://127.0.0.2:9/sparql> { ?s ?p ?o } }",
    "PREFIX ex: <http://e/> SELECT * WHERE { ?s ?p ex:a\\#b . SERVICE <http://127.0.0.2:9/sparql> { ?s ?p ?o } }",
    'SELECT * WHERE { BIND("x\\u0022" AS ?v) SERVICE <http://127.0.0.2:9/sparql> { ?s ?p ?o } BIND("" AS ?w) }',
    "SELECT * WHERE { ?s ?p true.SERVICE <http://127.0.0.2:9/sparql> { ?s ?p ?o } }",
    "BASE <http://127.0.0.2:9/> SELECT * WHERE { SERVICE <sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE <http://127.0.0.1:1@127.0.0.2:9/sparql> { ?s ?p ?o } }",
])
def test_service_refused_for_other_endpoints(limited, query):
    port = limited.split(":")[2].split("/")[0]
    query = query.replace("127.0.0.1:1@", f"127.0.0.1:{port}@")
    response = requests.get(limited, params={"query": query}, timeout=30)
    assert response.status_code == 403, (query, response.status_code, response.text)
    assert "SERVICE" in response.text


def test_service_refused_by_default_names_the_setting(endpoint):
    response = requests.get(endpoint, params={"query": f"SELECT * WHERE {{ SERVICE <{endpoint}> {{ ?s ?p ?o }} }}"})
    assert response.status_code == 403 and "CQPM_SERVICE_ALLOWLIST" in response.text


def test_free_query_page_has_the_same_limits(limited):
    page = requests.get(limited.replace("/sparql", "/sparql/resultats"), params={"query": SLOW}, timeout=30)
    assert page.status_code == 503 and "Délai dépassé" in html_text(page.text)
    page = requests.get(limited.replace("/sparql", "/sparql/resultats"),
                        params={"query": "SELECT * WHERE { SERVICE <http://127.0.0.2:9/> { ?s ?p ?o } }"})
    assert page.status_code == 403


def html_text(text: str) -> str:
    import html
    return html.unescape(text)
