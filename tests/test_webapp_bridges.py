"""The explorer's bridges: the Passerelles section of certification pages, the gap analysis page
(/ecart), the neighbourhood graph (/certification/<id>/graphe) and their JSON twins, on the graph built
from the five real fiches (session fixture ``built_store``)."""
from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

import pytest

from cqpm_graph.backend import EmbeddedBackend
from cqpm_graph.bridges import Bridges, StoreRunner
from cqpm_graph.store import open_store
from cqpm_graph.webapp import create_app
# a real remote endpoint: the graph published to an Oxigraph server on loopback (test_remote.py's fixtures)
from test_remote import oxigraph_server, published, remote_settings  # noqa: F401

CQPM_ID = "CQPM-management-d-equipe-s-autonome-s"
VENDOR = Path(__file__).resolve().parents[1] / "webapp" / "static" / "vendor"


@pytest.fixture(scope="module")
def app(built_store):
    app = create_app(dataclasses.replace(built_store, cache_dir=built_store.store.parent / "bridges-web-cache"))
    app.config.update(TESTING=True)
    yield app
    app.extensions["cqpm_graph"].queries.close()


@pytest.fixture()
def client(app):
    return app.test_client()


def text(response) -> str:
    """The page as plain text (tags removed, entities decoded, spaces collapsed)."""
    body = re.sub(r"<script\b.*?</script>", " ", response.get_data(as_text=True), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def section(response, ident: str, end: str | None = None) -> str:
    """The HTML from the element with id *ident* to *end* (default: the closing tag of the same name,
    good enough for a <section>, which does not nest)."""
    body = response.get_data(as_text=True)
    m = re.search(rf'<(\w+)[^>]*\bid="{re.escape(ident)}"', body)
    assert m, f"no element #{ident}"
    return body[m.start():body.index(end or f"</{m.group(1)}>", m.end())]


def rows_of(response, cls: str) -> dict[str, str]:
    """Gap table rows: ``{bloc code: row HTML}`` for rows whose first cell links a bloc."""
    body = response.get_data(as_text=True)
    table = body[body.index(f'class="data {cls}"'):]
    table = table[:table.index("</table>")]
    out = {}
    for row in re.findall(r"<tr class=\"gap-[^\"]+\">.*?</tr>", table, flags=re.S):
        m = re.search(r'title="Bloc (\S+)"', row)
        if m:
            out[m.group(1)] = row
    return out


# -- certification page ------------------------------------------------------------------------------------

def test_certification_page_lists_bridge_with_identical_blocs(client):
    r = client.get("/certification/RNCP28229")
    assert r.status_code == 200
    part = section(r, "passerelles")
    assert "Passerelles" in part
    bridge = section(r, "passerelle-RNCP19453", end='<li class="bridge"')
    # the bridge names both sides of each identical bloc, and links them to their bloc rows
    for code, cert in (("RNCP28229BC01", "RNCP28229"), ("RNCP19453BC01", "RNCP19453"),
                       ("RNCP28229BC03", "RNCP28229"), ("RNCP19453BC03", "RNCP19453")):
        assert f'href="/certification/{cert}#bloc-{code}"' in bridge, code
    assert "Blocs équivalents" in bridge
    assert "L&#39;animation technique d&#39;une équipe de production" in bridge
    assert "intitulé identique" in bridge
    # a score a person can read, and the gap analysis one click away
    assert re.search(r"\d+&nbsp;%", bridge)
    assert 'href="/ecart?de=RNCP28229&amp;vers=RNCP19453"' in bridge
    assert "voir l'écart" in bridge
    # the bloc anchors the links point to exist on the target page
    target = client.get("/certification/RNCP19453").get_data(as_text=True)
    assert 'id="bloc-RNCP19453BC01"' in target
    assert 'id="capacite-RNCP19453-C1"' in target


def test_certification_page_links_graph_and_gap(client):
    body = client.get("/certification/RNCP28229").get_data(as_text=True)
    assert 'href="#passerelles"' in body
    assert 'href="/certification/RNCP28229/graphe"' in body
    assert 'href="/ecart?de=RNCP28229"' in body
    assert 'href="/certification/RNCP28229/passerelles.json"' in body


def test_referentiel_page_has_bridges_section(client):
    r = client.get(f"/certification/{CQPM_ID}")
    assert r.status_code == 200
    part = section(r, "passerelles")
    assert "Passerelles" in part
    assert f'href="/certification/{CQPM_ID}/graphe"' in part
    # capacities outside any bloc get the anchors evidence links point to
    assert f'id="capacite-{CQPM_ID}-C1"' in r.get_data(as_text=True)


def test_bridges_json_has_the_cli_shape(client, built_store):
    r = client.get("/certification/RNCP28229/passerelles.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    data = r.get_json()
    assert list(data) == ["certification", "bridges"]
    assert data["certification"] == "RNCP28229"
    assert 1 <= len(data["bridges"]) <= 10
    kinds = {"block", "capacity", "rome", "nsf", "lineage", "level"}
    for b in data["bridges"]:
        assert list(b) == ["certification", "score", "evidence"]
        assert 0.0 <= b["score"] <= 1.0
        assert all(e["kind"] in kinds for e in b["evidence"])
    scores = [b["score"] for b in data["bridges"]]
    assert scores == sorted(scores, reverse=True)
    first = data["bridges"][0]
    assert first["certification"] == "RNCP19453"
    blocks = {(e["source"], e["target"]) for e in first["evidence"] if e["kind"] == "block"}
    assert {("RNCP28229BC01", "RNCP19453BC01"), ("RNCP28229BC03", "RNCP19453BC03")} <= blocks
    # exactly what the engine (the CLI's `bridges --format json`) gives on the embedded store
    expected = Bridges(StoreRunner(open_store(built_store))).bridges("RNCP28229", top=10).to_dict()
    assert data == expected


def test_bridges_json_parameters(client):
    assert len(client.get("/certification/RNCP28229/passerelles.json?top=1").get_json()["bridges"]) == 1
    held = client.get("/certification/RNCP28229/passerelles.json?blocs=BC02").get_json()
    for b in held["bridges"]:
        assert not [e for e in b["evidence"] if e["kind"] == "block"]  # BC02 has no equivalent
    bad = client.get("/certification/RNCP28229/passerelles.json?top=0")
    assert bad.status_code == 400 and bad.get_json()["error"] == "bad request"
    other = client.get("/certification/RNCP28229/passerelles.json?blocs=RNCP19453BC01")
    assert other.status_code == 400 and "RNCP19453BC01" in other.get_json()["message"]
    lower = client.get("/certification/rncp28229/passerelles.json")
    assert lower.status_code == 200 and lower.get_json()["certification"] == "RNCP28229"


def test_unknown_certification_is_404(client):
    r = client.get("/certification/RNCP99999/passerelles.json")
    assert r.status_code == 404
    assert r.get_json() == {"error": "not found", "message": "Aucune certification « RNCP99999 » dans le graphe."}
    for path in ("/certification/RNCP99999/graphe", "/certification/RNCP99999/graphe.json"):
        assert client.get(path).status_code == 404, path
    page = client.get("/certification/RNCP99999/graphe")
    assert "Aucune certification « RNCP99999 » dans le graphe." in text(page)


# -- gap analysis ------------------------------------------------------------------------------------------

def test_gap_form_alone(client):
    r = client.get("/ecart")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert "Analyse d'écart" in text(r)
    assert '<form class="gap-form" action="/ecart" method="get">' in body
    assert '<label for="de">' in body and '<label for="vers">' in body
    assert f'value="{CQPM_ID}"' in body  # the référentiel without RNCP number can be chosen
    assert 'href="/ecart"' in body  # in the site navigation


def test_gap_page_statuses(client):
    r = client.get("/ecart?de=RNCP28229&vers=RNCP19453")
    assert r.status_code == 200
    rows = rows_of(r, "gap")
    assert set(rows) == {"RNCP19453BC01", "RNCP19453BC02", "RNCP19453BC03"}
    for code in ("RNCP19453BC01", "RNCP19453BC03"):
        assert "status-acquis" in rows[code] and "acquis" in rows[code]
        assert "RNCP28229" in rows[code]  # the held bloc that covers it is named
    assert "status-acquis" not in rows["RNCP19453BC02"].split("</td>")[0] + rows["RNCP19453BC02"].split("</td>")[1]
    assert "à acquérir" in rows["RNCP19453BC02"]
    # every held bloc is offered as a checkbox, checked by default; the JSON twin is linked
    body = r.get_data(as_text=True)
    for code in ("RNCP28229BC01", "RNCP28229BC02", "RNCP28229BC03"):
        assert re.search(rf'<input type="checkbox" name="blocs" value="{code}" checked>', body), code
    assert 'href="/ecart.json?de=RNCP28229&amp;vers=RNCP19453"' in body
    # colour is never the only signal: a symbol and words go with each badge
    assert re.search(r'class="badge status-a-acquerir"><span aria-hidden="true">✗</span> à acquérir', body)


def _status(row: str) -> str:
    m = re.search(r'<td><span class="badge status-([a-z-]+)"', row)
    return m.group(1)


def test_gap_page_held_blocs_change_statuses(client):
    full = rows_of(client.get("/ecart?de=RNCP28229&vers=RNCP19453"), "gap")
    assert _status(full["RNCP19453BC01"]) == "acquis" and _status(full["RNCP19453BC03"]) == "acquis"
    # only BC01 held (as the form sends it: repeated checkbox + the certification the boxes were for)
    r = client.get("/ecart?de=RNCP28229&blocs_de=RNCP28229&blocs=RNCP28229BC01&vers=RNCP19453")
    assert r.status_code == 200
    rows = rows_of(r, "gap")
    assert _status(rows["RNCP19453BC01"]) == "acquis"
    assert _status(rows["RNCP19453BC03"]) != "acquis"
    body = r.get_data(as_text=True)
    assert re.search(r'value="RNCP28229BC01" checked>', body)
    assert re.search(r'value="RNCP28229BC03">', body)  # unchecked now
    # the bookmarkable comma-separated form gives the same
    same = rows_of(client.get("/ecart?de=RNCP28229&vers=RNCP19453&blocs=BC01"), "gap")
    assert {k: _status(v) for k, v in same.items()} == {k: _status(v) for k, v in rows.items()}


def test_gap_page_errors(client):
    r = client.get("/ecart?de=RNCP99999&vers=RNCP19453")
    assert r.status_code == 404
    assert "Aucune certification « RNCP99999 » dans le graphe." in text(r)
    assert '<form class="gap-form"' in r.get_data(as_text=True)  # the user can correct it right there
    bad = client.get("/ecart?de=RNCP28229&vers=RNCP19453&blocs=RNCP19453BC01")
    assert bad.status_code == 400 and "pas un bloc de RNCP28229" in text(bad)
    # checkboxes drawn for another certification are ignored, not an error
    switched = client.get("/ecart?de=RNCP28229&blocs_de=RNCP28242&blocs=RNCP28242BC01&vers=RNCP19453")
    assert switched.status_code == 200 and "sont ignorés" in text(switched)
    assert client.get("/ecart?de=RNCP28229").status_code == 200


def test_gap_with_referentiel(client):
    r = client.get(f"/ecart?de=RNCP28229&vers={CQPM_ID}")
    assert r.status_code == 200
    assert "certification sans blocs" in text(r)
    back = client.get(f"/ecart?de={CQPM_ID}&vers=RNCP28229")
    assert back.status_code == 200
    assert f"{CQPM_ID} n'a pas de blocs de compétences" in text(back)


def test_gap_json_has_the_cli_shape(client, built_store):
    r = client.get("/ecart.json?de=RNCP28229&vers=RNCP19453")
    assert r.status_code == 200 and r.mimetype == "application/json"
    data = r.get_json()
    assert list(data) == ["from", "to", "blocks"]
    assert (data["from"], data["to"]) == ("RNCP28229", "RNCP19453")
    status = {b["block"]: b["status"] for b in data["blocks"]}
    assert status == {"RNCP19453BC01": "covered", "RNCP19453BC02": status["RNCP19453BC02"], "RNCP19453BC03": "covered"}
    assert status["RNCP19453BC02"] != "covered"
    for b in data["blocks"]:
        assert list(b) == ["block", "status", "capacities", "evidence"]
        assert b["status"] in ("covered", "partial", "missing")
    engine = Bridges(StoreRunner(open_store(built_store)))
    assert data == engine.gap("RNCP28229", "RNCP19453").to_dict()
    held = client.get("/ecart.json?de=RNCP28229&vers=RNCP19453&blocs=RNCP28229BC01").get_json()
    assert held == engine.gap("RNCP28229", "RNCP19453", held_blocks=["RNCP28229BC01"]).to_dict()
    assert {b["block"]: b["status"] for b in held["blocks"]}["RNCP19453BC03"] != "covered"
    assert client.get("/ecart.json?de=RNCP28229").status_code == 400
    missing = client.get("/ecart.json?de=RNCP28229&vers=RNCP00001")
    assert missing.status_code == 404 and "RNCP00001" in missing.get_json()["message"]


# -- neighbourhood graph -----------------------------------------------------------------------------------

def test_graph_json_has_nodes_and_edges(client):
    r = client.get("/certification/RNCP28229/graphe.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    data = r.get_json()
    nodes = {n["data"]["id"]: n for n in data["elements"]["nodes"]}
    edges = data["elements"]["edges"]
    me = nodes["certification:RNCP28229"]
    assert "focus" in me["classes"] and me["data"]["href"] == "/certification/RNCP28229"
    assert "certification:RNCP19453" in nodes
    assert {"bloc:RNCP28229BC01", "bloc:RNCP19453BC01"} <= set(nodes)
    assert any(n["data"]["kind"] == "rome" for n in nodes.values())
    kinds = {e["data"]["kind"] for e in edges}
    assert {"bridge", "has-bloc", "equivalent", "rome"} <= kinds
    for e in edges:  # every edge joins two nodes of the graph (cytoscape refuses dangling edges)
        assert e["data"]["source"] in nodes and e["data"]["target"] in nodes, e
    bridge = next(e for e in edges if e["data"]["kind"] == "bridge" and e["data"]["target"] == "certification:RNCP19453")
    assert 0 < bridge["data"]["score"] <= 1


def test_graph_page_uses_vendored_cytoscape(client):
    r = client.get("/certification/RNCP28229/graphe")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert 'src="/static/vendor/cytoscape.min.js"' in body
    assert 'src="/static/graph.js"' in body
    assert 'data-src="/certification/RNCP28229/graphe.json' in body
    assert "<script>" not in body and "https://" not in re.sub(r'<code class="iri">.*?</code>', "", body).split("<footer")[0]
    # without JavaScript the same neighbourhood is there as lists
    page = text(r)
    assert "Le voisinage en listes" in page and "RNCP19453" in page and "H2503" in page
    js = client.get("/static/vendor/cytoscape.min.js")
    assert js.status_code == 200 and "javascript" in js.mimetype
    assert js.get_data()[:3] == b"/**" and len(js.get_data()) > 100_000
    assert client.get("/static/graph.js").status_code == 200
    assert client.get("/certification/rncp28229/graphe").status_code == 301


def test_vendored_file_is_recorded():
    import hashlib
    record = (VENDOR / "VENDORED.md").read_text(encoding="utf-8")
    digest = hashlib.sha256((VENDOR / "cytoscape.min.js").read_bytes()).hexdigest()
    assert digest in record
    assert (VENDOR / "cytoscape.LICENSE").is_file()


def test_graph_of_referentiel(client):
    data = client.get(f"/certification/{CQPM_ID}/graphe.json").get_json()
    assert f"certification:{CQPM_ID}" in {n["data"]["id"] for n in data["elements"]["nodes"]}
    assert client.get(f"/certification/{CQPM_ID}/graphe").status_code == 200


# -- backends ----------------------------------------------------------------------------------------------

class QueryOnlyBackend:
    """A backend that only answers SPARQL text (no ``store``): what a remote endpoint offers. The views must
    give the same pages through it, so none of them reaches for an embedded store."""

    kind = "remote"
    description = "query-only test backend"

    def __init__(self, inner: EmbeddedBackend):
        self._inner = inner

    def solutions(self, sparql, bindings=None):
        return self._inner.solutions(sparql, bindings)

    def select(self, sparql, bindings=None):
        return self._inner.select(sparql, bindings)

    def ask(self, sparql, bindings=None):
        return self._inner.ask(sparql, bindings)

    def construct(self, sparql):
        return self._inner.construct(sparql)

    def raw(self, sparql, accept, default_graphs=(), named_graphs=()):
        return self._inner.raw(sparql, accept, default_graphs, named_graphs)

    def named_graphs(self):
        return self._inner.named_graphs()

    def graph_triples(self, graph):
        return self._inner.graph_triples(graph)

    def build_id(self):
        return "query-only"


def test_same_answers_through_a_query_only_backend(built_store, client):
    settings = dataclasses.replace(built_store, cache_dir=built_store.store.parent / "query-only-cache")
    other = create_app(settings, backend=QueryOnlyBackend(EmbeddedBackend(store=open_store(built_store))))
    try:
        remote = other.test_client()
        for path in ("/certification/RNCP28229/passerelles.json", "/ecart.json?de=RNCP28229&vers=RNCP19453",
                     "/ecart.json?de=RNCP28229&vers=RNCP19453&blocs=BC01", "/certification/RNCP28229/graphe.json",
                     f"/certification/{CQPM_ID}/passerelles.json"):
            assert remote.get(path).get_json() == client.get(path).get_json(), path
        for path in ("/certification/RNCP28229", "/ecart?de=RNCP28229&vers=RNCP19453", "/certification/RNCP28229/graphe"):
            a, b = remote.get(path), client.get(path)
            assert a.status_code == b.status_code == 200, path
            assert a.get_data(as_text=True) == b.get_data(as_text=True), path
    finally:
        other.extensions["cqpm_graph"].queries.close()



@pytest.mark.server
def test_same_answers_on_a_remote_endpoint(remote_settings, client):
    remote_app = create_app(remote_settings)
    try:
        remote = remote_app.test_client()
        for path in ("/certification/RNCP28229/passerelles.json", "/ecart.json?de=RNCP28229&vers=RNCP19453&blocs=BC01",
                     "/certification/RNCP28229/graphe.json", f"/ecart.json?de=RNCP28229&vers={CQPM_ID}"):
            a, b = remote.get(path), client.get(path)
            assert a.status_code == b.status_code == 200, path
            assert a.get_json() == b.get_json(), path
        for path in ("/certification/RNCP28229", "/ecart?de=RNCP28229&vers=RNCP19453&blocs=RNCP28229BC01",
                     "/certification/RNCP28229/graphe"):
            a, b = remote.get(path), client.get(path)
            assert a.status_code == b.status_code == 200, path
            assert a.get_data(as_text=True) == b.get_data(as_text=True), path
        assert remote.get("/ecart.json?de=RNCP28229&vers=RNCP00001").status_code == 404
    finally:
        remote_app.extensions["cqpm_graph"].queries.close()
