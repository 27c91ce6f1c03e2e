"""Linked Open Data on the real build: every kind of data URI in every RDF format (Accept and ?format=),
the 303 from /id/…, schema.org JSON-LD in the pages, VoID, DCAT, dumps with checksums, the ontology."""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import html
import json
import re
import socket
import threading

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.namespace import RDF

from cqpm_graph.store import open_store
from cqpm_graph.uris import KINDS
from cqpm_graph.webapp import create_app

BASE = "https://w3id.org/cqpm/id/"
SCHEMA = rdflib.Namespace("https://schema.org/")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
DCTERMS = rdflib.Namespace("http://purl.org/dc/terms/")
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
FORMATS = {  # ?format= name → (media type, rdflib parser)
    "ttl": ("text/turtle", "turtle"),
    "jsonld": ("application/ld+json", "json-ld"),
    "rdf": ("application/rdf+xml", "xml"),
    "nt": ("application/n-triples", "nt"),
    "nq": ("application/n-quads", "nquads"),
    "trig": ("application/trig", "trig"),
}


@pytest.fixture(scope="module")
def lod_store(tmp_path_factory):
    """The five seed fiches plus the real France Compétences extract: every kind of data URI is present."""
    from pathlib import Path

    from cqpm_graph.build import build
    from cqpm_graph.config import Settings
    from cqpm_graph.fc.importer import import_export

    settings = Settings(store=tmp_path_factory.mktemp("lod-store"))
    build(settings, validate=False)
    import_export(settings, Path(__file__).parent / "fixtures" / "fc" / "export-fiches-csv-2024-02-22.zip",
                  validate=False)
    return settings


@pytest.fixture(scope="module")
def settings(lod_store, tmp_path_factory):
    return dataclasses.replace(lod_store, cache_dir=tmp_path_factory.mktemp("lod-cache"))


@pytest.fixture(scope="module")
def app(settings):
    app = create_app(settings)
    yield app
    app.extensions["cqpm_graph"].queries.close()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def examples(lod_store) -> dict[str, str]:
    """One data URI of each kind present in the build (kind → local part)."""
    store = open_store(lod_store)
    found: dict[str, str] = {}
    for row in store.query("SELECT DISTINCT ?s WHERE { GRAPH ?g { ?s ?p ?o } FILTER(isIRI(?s)) } ORDER BY ?s"):
        iri = row["s"].value
        if iri.startswith(BASE) and "#" not in iri:
            kind, _, local = iri[len(BASE):].partition("/")
            if kind in KINDS and local:
                found.setdefault(kind, local)
    return found


def parse(body: bytes, fmt: str):
    if fmt in ("nquads", "trig"):
        graph = rdflib.Dataset()
        graph.parse(data=body.decode("utf-8"), format=fmt)
        return graph
    return rdflib.Graph().parse(data=body.decode("utf-8"), format=fmt)


def test_the_build_has_every_kind(examples):
    assert set(examples) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_in_every_format(client, examples, kind):
    local = examples[kind]
    iri = rdflib.URIRef(f"{BASE}{kind}/{local}")
    for name, (media_type, parser) in FORMATS.items():
        for how, response in (("?format", client.get(f"/{kind}/{local}?format={name}")),
                              ("Accept", client.get(f"/{kind}/{local}", headers={"Accept": media_type}))):
            assert response.status_code == 200, (kind, name, how)
            assert response.mimetype == media_type, (kind, name, how)
            assert "Accept" in response.headers["Vary"]
            graph = parse(response.data, parser)
            triples = list(graph.quads()) if isinstance(graph, rdflib.Dataset) else list(graph)
            assert any(t[0] == iri for t in triples), (kind, name, how)
            if isinstance(graph, rdflib.Dataset):  # quads keep the named graph they came from
                assert all(str(q[3]).startswith(BASE + "graph/") for q in triples), (kind, name)
    page = client.get(f"/{kind}/{local}", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "?format=ttl" in text and "?format=jsonld" in text and "?format=nq" in text
    assert '<script type="application/ld+json">' in text


@pytest.mark.parametrize("kind", ["certification", "bloc", "graph", "rome"])
def test_the_data_uri_303s_to_its_document(client, examples, kind):
    local = examples[kind]
    response = client.get(f"/id/{kind}/{local}", headers={"Accept": "text/turtle"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/{kind}/{local}?format=ttl")
    assert "Accept" in response.headers["Vary"]
    followed = client.get(f"/id/{kind}/{local}", headers={"Accept": "application/rdf+xml"}, follow_redirects=True)
    assert followed.status_code == 200 and followed.mimetype == "application/rdf+xml"
    browser = client.get(f"/id/{kind}/{local}", headers={"Accept": "text/html"})
    assert browser.status_code == 303 and browser.headers["Location"].endswith(f"/{kind}/{local}")
    assert client.get(f"/id/{kind}/{local}?format=nt").headers["Location"].endswith("?format=nt")


def test_unknown_resources_and_formats(client):
    assert client.get("/bloc/RNCP00000BC01?format=ttl").status_code == 404
    assert client.get("/bloc/RNCP00000BC01").status_code == 404
    assert client.get("/graph/nope", headers={"Accept": "application/n-quads"}).status_code == 404
    assert client.get("/capacite/RNCP28229-C1?format=docx").status_code == 406
    assert client.get("/capacite/RNCP28229-C1", headers={"Accept": "image/png"}).status_code == 406
    assert client.get("/id/nothing/here").status_code == 404


def test_a_named_graph_as_a_dataset(client):
    response = client.get("/graph/nsf?format=nq")
    dataset = rdflib.Dataset()
    dataset.parse(data=response.get_data(as_text=True), format="nquads")
    nsf = rdflib.URIRef(BASE + "graph/nsf")
    in_graph = [q for q in dataset.quads() if q[3] == nsf]
    assert len(in_graph) > 500  # the whole graph, not only its description
    turtle = rdflib.Graph().parse(data=client.get("/graph/nsf?format=ttl").get_data(as_text=True), format="turtle")
    assert (nsf, VOID.triples, None) in turtle


def test_hash_uris_are_described_by_their_document(client, lod_store):
    store = open_store(lod_store)
    row = next(iter(store.query("""SELECT ?w WHERE { ?src <https://w3id.org/cqpm/ontology#warning> ?w
                                     FILTER(isIRI(?w)) } LIMIT 1""", use_default_graph_as_union=True)), None)
    if row is None:
        pytest.skip("no hash-URI warnings in this build")
    warning = row["w"].value
    document = warning.split("#")[0][len(BASE):]
    graph = rdflib.Graph().parse(data=client.get(f"/{document}?format=ttl").get_data(as_text=True), format="turtle")
    assert (rdflib.URIRef(warning), None, None) in graph


def schema_jsonld(response) -> dict:
    text = response.get_data(as_text=True)
    m = re.search(r'<script type="application/ld\+json">(.*?)</script>', text, re.S)
    assert m, "no JSON-LD in the page"
    return json.loads(m.group(1))


def test_pages_embed_schema_org(client, examples):
    cert = schema_jsonld(client.get("/certification/RNCP28229"))
    assert cert["@context"] == "https://schema.org" and cert["@type"] == "EducationalOccupationalCredential"
    assert cert["@id"] == BASE + "certification/RNCP28229" and cert["identifier"] == "RNCP28229"
    assert [p["identifier"] for p in cert["hasPart"]] == ["RNCP28229BC01", "RNCP28229BC02", "RNCP28229BC03"]
    assert {c["codeValue"] for c in cert["occupationalCategory"] if c["inCodeSet"] == "ROME"} >= {"H2503"}
    # valid JSON-LD too (schema.org's remote context replaced by its meaning: no outside request in tests)
    offline = dict(cert, **{"@context": {"@vocab": "https://schema.org/"}})
    graph = rdflib.Graph().parse(data=json.dumps(offline), format="json-ld")
    assert (rdflib.URIRef(cert["@id"]), RDF.type, SCHEMA.EducationalOccupationalCredential) in graph
    assert schema_jsonld(client.get("/bloc/RNCP28229BC01"))["@type"] == "EducationalOccupationalCredential"
    assert schema_jsonld(client.get("/rome/H2503"))["@type"] == "Occupation"
    assert schema_jsonld(client.get(f"/emploi/{examples['emploi']}"))["@type"] == "Occupation"
    for kind in ("capacite", "nsf", "activite", "critere", "idcc"):
        doc = schema_jsonld(client.get(f"/{kind}/{examples[kind]}"))
        assert doc["@type"] == "DefinedTerm", kind
    nsf = schema_jsonld(client.get("/nsf/200"))
    assert nsf["@type"] == "DefinedTerm" and nsf["termCode"] == "200"


def test_certification_page_conneg_keeps_the_json_twin(client):
    assert client.get("/certification/RNCP28229.json").mimetype == "application/json"
    turtle = client.get("/certification/RNCP28229", headers={"Accept": "text/turtle"})
    assert turtle.mimetype == "text/turtle" and turtle.headers["Content-Location"].endswith("?format=ttl")
    page = client.get("/certification/RNCP28229", headers={"Accept": "text/html"})
    assert page.mimetype == "text/html" and "Accept" in page.headers["Vary"]


def test_context_document(client):
    response = client.get("/context.jsonld")
    assert response.mimetype == "application/ld+json"
    context = response.get_json()["@context"]
    assert context["cqpm"] == "https://w3id.org/cqpm/ontology#" and context["id"] == BASE
    inline = client.get("/certification/RNCP28229?format=jsonld").get_json()
    assert inline["@context"] == context  # answers embed the published context


def _void(client, headers=None):
    response = client.get("/.well-known/void", headers=headers or {})
    assert response.status_code == 200 and response.mimetype == "text/turtle"
    return rdflib.Graph().parse(data=response.get_data(as_text=True), format="turtle")


def _graph_size(store, graph: str) -> int:
    return sum(1 for _ in store.quads_for_pattern(None, None, None, ox.NamedNode(graph)))


CERTIFICATION = rdflib.URIRef("https://w3id.org/cqpm/ontology#Certification")
FC_SOURCE = rdflib.URIRef(BASE + "source/france-competences/export-fiches-csv-2024-02-22")


def _partitions(graph, dataset) -> dict:
    return {graph.value(p, VOID["class"]): int(graph.value(p, VOID.entities))
            for p in graph.objects(dataset, VOID.classPartition)}


def test_void(client, lod_store):
    """lod_store was built, then the France Compétences extract imported: graph/build does not count the
    imported graphs, and the description says so instead of counting 4.9 M triples at request time."""
    graph = _void(client)
    dataset = rdflib.URIRef(BASE + "dataset")
    assert (dataset, RDF.type, VOID.Dataset) in graph
    assert str(graph.value(dataset, VOID.sparqlEndpoint)) == "http://localhost/sparql"
    assert str(graph.value(dataset, DCTERMS.license)) == "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
    dumps = {str(o) for o in graph.objects(dataset, VOID.dataDump)}
    assert "http://localhost/dumps/cqpm-graph.nq.gz" in dumps
    subsets = set(graph.objects(dataset, VOID.subset))
    store = open_store(lod_store)
    assert {rdflib.URIRef(g.value) for g in store.named_graphs()} == subsets  # one subset per named graph
    # the graphs of the build: their size as the build counted it (exact: the import did not touch them)
    for name in ("rome-v347", "nsf", "ontology", "fiche/RNCP28229"):
        iri = BASE + "graph/" + name
        assert int(graph.value(rdflib.URIRef(iri), VOID.triples)) == _graph_size(store, iri), name
    assert int(graph.value(rdflib.URIRef(BASE + "graph/nsf"), VOID.triples)) > 500
    # imported after the build: no count for the imported graphs, nor for graph/bridges (recomputed), nor in total
    assert graph.value(dataset, VOID.triples) is None
    assert graph.value(rdflib.URIRef(BASE + "graph/france-competences/RS5000"), VOID.triples) is None
    assert graph.value(rdflib.URIRef(BASE + "graph/bridges"), VOID.triples) is None
    assert graph.value(dataset, DCTERMS.modified) is None
    note = str(graph.value(dataset, rdflib.RDFS.comment))
    assert "export-fiches-csv-2024-02-22.zip (9 fiches, export du 2024-02-22)" in note
    # the imported fiches, from void:entities of the import's own graph, added to the build's 5
    assert _partitions(graph, dataset)[CERTIFICATION] == 5 + 9
    assert FC_SOURCE in set(graph.objects(dataset, DCTERMS.source))
    assert int(graph.value(FC_SOURCE, VOID.entities)) == 9
    assert str(graph.value(FC_SOURCE, DCTERMS.issued)) == "2024-02-22"
    as_jsonld = client.get("/.well-known/void", headers={"Accept": "application/ld+json"})
    assert len(rdflib.Graph().parse(data=as_jsonld.get_data(as_text=True), format="json-ld")) == len(graph)
    # the format is negotiated first: HTML is not offered
    refused = client.get("/.well-known/void", headers={"Accept": "text/html"})
    assert refused.status_code == 406 and "text/turtle" in refused.get_data(as_text=True)


@pytest.fixture(scope="module")
def rebuilt_store(tmp_path_factory):
    """Seeds, the France Compétences extract, then a rebuild: graph/build then counts every graph."""
    from pathlib import Path

    from cqpm_graph.build import build
    from cqpm_graph.config import Settings
    from cqpm_graph.fc.importer import import_export

    settings = Settings(store=tmp_path_factory.mktemp("rebuilt-store"), cache_dir=tmp_path_factory.mktemp("rb-cache"))
    build(settings, validate=False)
    import_export(settings, Path(__file__).parent / "fixtures" / "fc" / "export-fiches-csv-2024-02-22.zip",
                  validate=False)
    build(settings, validate=False)
    return settings


def test_void_after_a_rebuild_counts_everything(rebuilt_store):
    client = create_app(rebuilt_store).test_client()
    graph = _void(client, {"Accept": "text/turtle"})
    dataset = rdflib.URIRef(BASE + "dataset")
    store = open_store(rebuilt_store)
    assert int(graph.value(dataset, VOID.triples)) == len(store)
    for g in store.named_graphs():
        if g.value != BASE + "graph/build":
            assert int(graph.value(rdflib.URIRef(g.value), VOID.triples)) == _graph_size(store, g.value), g.value
    assert _partitions(graph, dataset)[CERTIFICATION] == 14
    assert graph.value(dataset, rdflib.RDFS.comment) is None
    assert graph.value(dataset, DCTERMS.modified) is not None
    assert int(graph.value(FC_SOURCE, VOID.entities)) == 9
    catalog = rdflib.Graph().parse(data=client.get("/catalog?format=ttl").get_data(as_text=True), format="turtle")
    assert int(catalog.value(dataset, VOID.triples)) == len(store)


def test_dcat_catalog_and_dumps(client, lod_store):
    sums = client.get("/dumps/SHA256SUMS")  # generates the three dumps
    assert sums.status_code == 200 and sums.mimetype == "text/plain"
    lines = dict(reversed(line.split("  ")) for line in sums.get_data(as_text=True).splitlines())
    assert set(lines) == {"cqpm-graph.nq.gz", "cqpm-graph.trig.gz", "cqpm-graph.ttl.gz"}
    store = open_store(lod_store)
    total = len(store)
    for name, fmt in (("cqpm-graph.nq.gz", ox.RdfFormat.N_QUADS), ("cqpm-graph.trig.gz", ox.RdfFormat.TRIG),
                      ("cqpm-graph.ttl.gz", ox.RdfFormat.TURTLE)):
        response = client.get(f"/dumps/{name}")
        assert response.status_code == 200 and response.mimetype == "application/gzip"
        assert hashlib.sha256(response.data).hexdigest() == lines[name], name
        quads = list(ox.parse(gzip.decompress(response.data), format=fmt))
        if fmt.supports_datasets:
            assert len(quads) == total, name
            assert {q.graph_name.value for q in quads} == {g.value for g in store.named_graphs()}
        else:
            assert 0 < len(quads) <= total
    assert client.get("/dumps/other.zip").status_code == 404
    assert "cqpm-graph.nq.gz" in client.get("/dumps/").get_data(as_text=True)

    catalog = client.get("/catalog", headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=catalog.get_data(as_text=True), format="turtle")
    cat = rdflib.URIRef("http://localhost/catalog")
    dataset = graph.value(cat, DCAT.dataset)
    assert dataset == rdflib.URIRef(BASE + "dataset")
    assert str(graph.value(dataset, DCTERMS.license)).startswith("https://www.etalab.gouv.fr/licence-ouverte")
    urls = {}
    for dist in graph.objects(dataset, DCAT.distribution):
        url = graph.value(dist, DCAT.downloadURL)
        if url is not None:
            urls[str(url)] = dist
    assert set(urls) == {f"http://localhost/dumps/{n}" for n in lines}
    spdx = rdflib.Namespace("http://spdx.org/rdf/terms#")
    for url, dist in urls.items():  # once generated, sizes and checksums are announced
        checksum = graph.value(dist, spdx.checksum)
        assert str(graph.value(checksum, spdx.checksumValue)) == lines[url.rsplit("/", 1)[1]]
        assert int(graph.value(dist, DCAT.byteSize)) > 0
    service = graph.value(cat, DCAT.service)
    assert str(graph.value(service, DCAT.endpointURL)) == "http://localhost/sparql"
    # imported after the build (see test_void): the total is not recounted, the description says why
    assert graph.value(dataset, VOID.triples) is None
    assert "9 fiches" in str(graph.value(dataset, rdflib.RDFS.comment))
    assert client.get("/catalog", headers={"Accept": "text/html"}).status_code == 406


def test_ontology_documentation_and_rdf(client):
    page = client.get("/ontology")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = html.unescape(page.get_data(as_text=True))
    for name in ("Certification", "CompetenceBlock", "Capacity", "Bloc de compétences"):
        assert name in text
    assert "pyLODE" in text or "pylode" in text.lower()
    for media_type, fmt in (("text/turtle", "turtle"), ("application/rdf+xml", "xml"),
                            ("application/ld+json", "json-ld")):
        response = client.get("/ontology", headers={"Accept": media_type})
        assert response.mimetype == media_type
        graph = rdflib.Graph().parse(data=response.get_data(as_text=True), format=fmt)
        assert (rdflib.URIRef("https://w3id.org/cqpm/ontology#Certification"), RDF.type, rdflib.OWL.Class) in graph
    assert client.get("/ontology?format=ttl").mimetype == "text/turtle"


# -- a deployment whose data URIs are its own URLs -----------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def local_base_server(built_store, tmp_path_factory):
    """The fiche graphs re-based on ``http://127.0.0.1:PORT/id/`` and served there by waitress: every
    data URI is then literally a URL of the server."""
    from waitress.server import create_server

    from cqpm_graph.config import Settings
    port = _free_port()
    base = f"http://127.0.0.1:{port}/id/"
    source = open_store(built_store)
    store = ox.Store()

    def rebase(term):
        if isinstance(term, ox.NamedNode) and term.value.startswith(BASE):
            return ox.NamedNode(base + term.value[len(BASE):])
        return term
    quads = [ox.Quad(rebase(q.subject), q.predicate, rebase(q.object), rebase(q.graph_name))
             for q in source.quads_for_pattern(None, None, None, None)
             if "rome-v347" not in q.graph_name.value]
    store.extend(quads)
    app = create_app(Settings(base_uri=base, cache_dir=tmp_path_factory.mktemp("local-base-cache")), store=store)
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.close()
        thread.join(timeout=5)


def test_data_uris_resolve_on_a_local_base(local_base_server):
    """rdflib dereferences the data URI itself (content negotiation, 303 followed)."""
    import requests
    base = local_base_server
    iri = f"{base}certification/RNCP28229"
    graph = rdflib.Graph().parse(iri)
    assert (rdflib.URIRef(iri), rdflib.SKOS.notation, rdflib.Literal("RNCP28229")) in graph
    response = requests.get(f"{base}bloc/RNCP28229BC01", headers={"Accept": "application/ld+json"},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 303
    followed = requests.get(f"{base}bloc/RNCP28229BC01", headers={"Accept": "application/ld+json"}, timeout=10)
    assert followed.headers["Content-Type"].startswith("application/ld+json")
    data = rdflib.Graph().parse(data=followed.text, format="json-ld")
    assert (rdflib.URIRef(f"{base}bloc/RNCP28229BC01"), None, None) in data
    page = requests.get(iri, headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 200 and "Animateur" in page.text
