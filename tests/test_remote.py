"""A real remote triple store: the built graph is published to an Oxigraph server (started here, on
loopback) with `cqpm-graph publish`, then the explorer, the catalogue queries and `cqpm-graph query`
run against it and must give exactly what the embedded store gives."""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from click.testing import CliRunner
from rdflib.compare import isomorphic

from cqpm_graph import queries as q
from cqpm_graph.backend import BackendSyntaxError, EmbeddedBackend, RemoteBackend, backend_for
from cqpm_graph.cli import cli
from cqpm_graph.cli import publish as publish_cli
from cqpm_graph.config import Settings
from cqpm_graph.store import open_store
from cqpm_graph.webapp import create_app

pytestmark = pytest.mark.server

BASE = "https://w3id.org/cqpm/id/"


def oxigraph_binary() -> str | None:
    """The `oxigraph` server CLI of the test extras (PyPI package `oxigraph`), next to this Python first."""
    here = Path(sys.executable).parent / "oxigraph"
    return str(here) if here.exists() else shutil.which("oxigraph")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def oxigraph_server(tmp_path_factory):
    """Root URL of an Oxigraph server (`oxigraph serve --union-default-graph`) on a free loopback port,
    with an empty database; stopped after the module."""
    binary = oxigraph_binary()
    if binary is None:
        pytest.fail("the `oxigraph` server CLI is missing: install the test extras (pip install -e '.[test]')")
    port = free_port()
    location = tmp_path_factory.mktemp("oxigraph-db")
    log = open(location.parent / f"oxigraph-{port}.log", "wb")
    process = subprocess.Popen([binary, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}",
                                "--union-default-graph"], stdout=log, stderr=subprocess.STDOUT)
    root = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{root}/query?query=ASK%7B%7D")
        yield root
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def published(oxigraph_server, built_store):
    """The built store published to the server with the CLI verb; returns the query endpoint URL."""
    endpoint = f"{oxigraph_server}/query"
    result = CliRunner().invoke(publish_cli.command, ["--store", str(built_store.store), "--endpoint", endpoint],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return endpoint


@pytest.fixture(scope="module")
def remote_settings(published, built_store):
    return Settings(store=built_store.store / "unused", endpoint=published, cache_dir=built_store.store.parent / "remote-cache")


def normalise(rows: list[dict], arbitrary: set[str] = frozenset()) -> list[str]:
    """Rows as sorted JSON strings, blank node labels hidden (they differ from store to store), and the
    values of *arbitrary* variables (``SAMPLE(…)``: any member of the group is right) reduced to "bound"."""
    def term(k, t):
        if k in arbitrary:
            return "<bound>"
        if isinstance(t, ox.BlankNode):
            return "_:b"
        return str(t)
    return sorted(json.dumps({k: term(k, v) for k, v in row.items()}, sort_keys=True, ensure_ascii=False)
                  for row in rows)


def sampled_variables(text: str) -> set[str]:
    """Variables bound by ``SAMPLE(…) AS ?v``: engines may pick different members of the group."""
    return set(re.findall(r"SAMPLE\s*\((?:[^()]|\([^()]*\))*\)\s*AS\s*[?$](\w+)", text, re.IGNORECASE))


# -- publish ----------------------------------------------------------------------------------------

def test_publish_uploads_every_named_graph(published, built_store):
    remote = RemoteBackend(published)
    local = open_store(built_store)
    local_graphs = sorted(g.value for g in local.named_graphs())
    assert remote.named_graphs() == local_graphs
    for graph in local_graphs:
        n = remote.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")[0]["n"]
        assert n == sum(1 for _ in local.quads_for_pattern(None, None, None, ox.NamedNode(graph))), graph
    assert remote.check_union()


def test_publish_progress_and_replace(oxigraph_server, built_store, tmp_path):
    """A second, partial publish to another path of the same server: progress lines name each graph;
    --replace deletes the server's graphs that the store lacks."""
    endpoint = f"{oxigraph_server}/query"
    extra = BASE + "graph/stale"
    req = urllib.request.Request(f"{oxigraph_server}/store?graph={extra}", method="PUT",
                                 data=b"<http://example.org/s> <http://example.org/p> \"o\" .\n",
                                 headers={"Content-Type": "application/n-triples"})
    urllib.request.urlopen(req).close()
    assert extra in RemoteBackend(endpoint).named_graphs()
    graph = BASE + "graph/nsf"
    result = CliRunner().invoke(publish_cli.command, ["--store", str(built_store.store), "--endpoint", endpoint,
                                                      "--graph", graph, "--replace"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"PUT <{graph}>" in result.output and "HTTP 20" in result.output
    assert f"DELETE <{extra}>" in result.output
    assert extra not in RemoteBackend(endpoint).named_graphs()


def test_publish_failure_names_graph_and_status(oxigraph_server, built_store):
    result = CliRunner().invoke(publish_cli.command, ["--store", str(built_store.store), "--endpoint",
                                                      f"{oxigraph_server}/query", "--gsp", f"{oxigraph_server}/nope",
                                                      "--graph", BASE + "graph/nsf"])
    assert result.exit_code == 1
    assert f"<{BASE}graph/nsf>" in result.output and "HTTP 404" in result.output
    unreachable = CliRunner().invoke(publish_cli.command, ["--store", str(built_store.store), "--endpoint",
                                                           f"http://127.0.0.1:{free_port()}/query",
                                                           "--graph", BASE + "graph/nsf"])
    assert unreachable.exit_code == 1 and "cannot reach" in unreachable.output


def test_publish_needs_an_endpoint(built_store):
    result = CliRunner().invoke(publish_cli.command, ["--store", str(built_store.store)], env={"CQPM_ENDPOINT": ""})
    assert result.exit_code == 2 and "--endpoint" in result.output


# -- the backend interface, both ways ------------------------------------------------------------------

def test_backend_for_and_interface(remote_settings, built_store):
    remote = backend_for(remote_settings)
    local = backend_for(built_store)
    assert isinstance(remote, RemoteBackend) and isinstance(local, EmbeddedBackend)
    query = "PREFIX dcterms: <http://purl.org/dc/terms/> SELECT ?id WHERE { ?c dcterms:identifier ?id } ORDER BY ?id"
    assert remote.select(query) == local.select(query)
    bound = "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> SELECT ?code ?label WHERE { ?r skos:notation ?code ; skos:prefLabel ?label }"
    assert remote.select(bound, {"code": "H2503"}) == local.select(bound, {"code": "H2503"}) != []
    ask = 'ASK { ?s <http://www.w3.org/2004/02/skos/core#notation> "RNCP28229" }'
    assert remote.ask(ask) is True and local.ask(ask) is True
    construct = f"DESCRIBE <{BASE}bloc/RNCP28229BC01>"
    assert set(remote.construct(construct)) == set(local.construct(construct))
    body, media_type = remote.raw(query, "text/csv")
    assert media_type == "text/csv" and body.splitlines()[0].strip() == b"id"
    with pytest.raises(BackendSyntaxError):
        remote.select("SELECT ?x WHERE { ?x ?p }")
    with pytest.raises(SyntaxError):  # also a SyntaxError, like pyoxigraph's
        local.select("SELECT ?x WHERE { ?x ?p }")
    assert remote.build_id() == remote.build_id()


def test_every_catalogue_query_gives_the_same_rows(remote_settings, built_store, required_params):
    remote, local = backend_for(remote_settings), open_store(built_store)
    catalogue = q.load_catalogue()
    assert len(catalogue) >= 20
    for name, stored in catalogue.items():
        params = required_params(stored)
        expected = q.run(local, stored, params)
        got = q.run_on(remote, stored, params)
        assert got.kind == expected.kind, name
        assert got.variables == expected.variables, name
        arbitrary = sampled_variables(stored.text)
        assert normalise(got.terms, arbitrary) == normalise(expected.terms, arbitrary), name
        if "ORDER BY" in stored.text.upper() and not arbitrary and not any(
                isinstance(t, ox.BlankNode) for r in expected.terms for t in r.values()):
            assert got.rows == expected.rows, f"{name}: order differs"


def test_cli_query_with_endpoint(published, built_store):
    runner = CliRunner()
    args = ["query", "certification-blocs", "-p", "certification=RNCP28229", "--format", "json"]
    local = runner.invoke(cli, args + ["--store", str(built_store.store)], catch_exceptions=False)
    remote = runner.invoke(cli, args + ["--endpoint", published], catch_exceptions=False)
    assert local.exit_code == 0 and remote.exit_code == 0, remote.output
    assert json.loads(remote.output) == json.loads(local.output)
    env = runner.invoke(cli, ["query", "certifications", "--format", "csv"],
                        env={"CQPM_ENDPOINT": published, "CQPM_STORE": "/nonexistent"}, catch_exceptions=False)
    assert env.exit_code == 0 and "RNCP28229" in env.output
    down = runner.invoke(cli, ["query", "certifications", "--endpoint", f"http://127.0.0.1:{free_port()}/query"])
    assert down.exit_code == 2 and "cannot reach" in down.output


# -- the explorer on the remote store ------------------------------------------------------------------

@pytest.fixture(scope="module")
def clients(remote_settings, built_store):
    remote_app = create_app(remote_settings)
    local_app = create_app(dataclasses.replace(built_store, cache_dir=built_store.store.parent / "local-cache"))
    yield remote_app.test_client(), local_app.test_client()
    for app in (remote_app, local_app):
        app.extensions["cqpm_graph"].queries.close()


def test_explorer_json_twins_are_identical(clients):
    remote, local = clients
    listing = local.get("/certifications.json").get_json()
    assert remote.get("/certifications.json").get_json() == listing
    paths = [f"/certification/{c['id']}.json" for c in listing["certifications"]]
    paths += ["/rome/H25.json", "/rome/H2503.json", "/nsf/200.json", "/nsf/2.json", "/search.json?q=equipe",
              "/search.json?q=maintenance"]
    for path in paths:
        a, b = remote.get(path), local.get(path)
        assert a.status_code == b.status_code == 200, path
        assert a.get_json() == b.get_json(), path


def test_explorer_html_pages_are_identical(clients):
    remote, local = clients
    for path in ("/", "/certification/RNCP28229", "/certification/CQPM-management-d-equipe-s-autonome-s",
                 "/rome/", "/rome/H2503", "/nsf/", "/nsf/200", "/search?q=chef", "/bloc/RNCP28229BC01",
                 "/emploi/chef-de-ligne", "/sparql/requetes/certification-blocs?certification=RNCP28229"):
        a, b = remote.get(path), local.get(path)
        assert a.status_code == b.status_code == 200, path
        assert a.get_data(as_text=True) == b.get_data(as_text=True), path
    assert remote.get("/certification/RNCP00000").status_code == 404


def test_explorer_linked_data_is_identical(clients):
    remote, local = clients
    for path in ("/certification/RNCP28229?format=ttl", "/capacite/RNCP28229-C1?format=jsonld",
                 "/graph/nsf?format=nq", "/rome/H2503?format=nt"):
        a, b = remote.get(path), local.get(path)
        assert a.status_code == b.status_code == 200, path
        fmt = {"ttl": "turtle", "jsonld": "json-ld", "nq": "nquads", "nt": "nt"}[path.rsplit("=", 1)[1]]
        if fmt == "nquads":
            ga, gb = rdflib.Dataset(), rdflib.Dataset()
            ga.parse(data=a.get_data(as_text=True), format=fmt)
            gb.parse(data=b.get_data(as_text=True), format=fmt)
            assert len(ga) == len(gb) and set(ga.quads()) == set(gb.quads()), path
        else:
            ga = rdflib.Graph().parse(data=a.get_data(as_text=True), format=fmt)
            gb = rdflib.Graph().parse(data=b.get_data(as_text=True), format=fmt)
            assert isomorphic(ga, gb), path


def test_sparql_endpoint_on_the_remote_store(clients):
    remote, local = clients
    query = ("PREFIX dcterms: <http://purl.org/dc/terms/> "
             "SELECT ?c ?id WHERE { ?c dcterms:identifier ?id } ORDER BY ?id")
    for fmt in ("json", "csv", "tsv", "xml"):
        a = remote.get("/sparql", query_string={"query": query, "format": fmt})
        b = local.get("/sparql", query_string={"query": query, "format": fmt})
        assert a.status_code == b.status_code == 200 and a.data == b.data, fmt
    construct = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ BIND(<{BASE}bloc/RNCP28229BC01> AS ?s) ?s ?p ?o }}"
    a = remote.get("/sparql", query_string={"query": construct}, headers={"Accept": "text/turtle"})
    assert a.status_code == 200 and a.mimetype == "text/turtle"
    assert isomorphic(rdflib.Graph().parse(data=a.get_data(as_text=True), format="turtle"),
                      rdflib.Graph().parse(data=local.get("/sparql", query_string={"query": construct}).get_data(
                          as_text=True), format="turtle"))
    bad = remote.get("/sparql", query_string={"query": "SELECT ?x WHERE { ?x ?p }"})
    assert bad.status_code == 400 and "Requête SPARQL invalide" in bad.get_data(as_text=True)
    refused = remote.get("/sparql", query_string={"query": "INSERT DATA { <http://e/s> <http://e/p> 1 }"})
    assert refused.status_code == 403


def test_dumps_from_the_remote_store(clients, tmp_path):
    remote, _ = clients
    response = remote.get("/dumps/cqpm-graph.nq.gz")
    assert response.status_code == 200
    import gzip
    data = gzip.decompress(response.data)
    assert data.count(b"\n") > 100_000


def test_remote_endpoint_down_is_a_clear_error():
    app = create_app(Settings(endpoint=f"http://127.0.0.1:{free_port()}/query", query_timeout=2))
    client = app.test_client()
    response = client.get("/sparql", query_string={"query": "ASK {}"})
    assert response.status_code == 502 and "cannot reach" in response.get_data(as_text=True)
    page = client.get("/certifications.json")
    assert page.status_code == 502 and "cannot reach" in page.get_json()["message"]
    assert client.get("/").status_code == 502
