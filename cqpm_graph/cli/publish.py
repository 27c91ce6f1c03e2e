"""``cqpm-graph publish``: copy the named graphs of the built store to a remote triple store.

Uses the SPARQL 1.1 Graph Store HTTP Protocol: one ``PUT <gsp>?graph=<iri>`` per named graph, with the
graph as N-Triples in the body (``PUT`` replaces that graph on the server, so publishing twice gives the
same result). ``--replace`` also ``DELETE``\\ s the server's named graphs that the store does not have, so
the server mirrors the store exactly.

Where the Graph Store endpoint is (``--gsp``; default: ``store`` beside the query endpoint, which is
right for Oxigraph server):

=================  ==========================================  ==========================================
server             query endpoint (``--endpoint``)             graph store (``--gsp``)
=================  ==========================================  ==========================================
Oxigraph server    ``http://host:7878/query``                  ``http://host:7878/store``
Apache Jena Fuseki ``http://host:3030/ds/sparql`` (or ``/query``) ``http://host:3030/ds/data``
GraphDB            ``http://host:7200/repositories/REPO``      ``http://host:7200/repositories/REPO/rdf-graphs/service``
QLever             ``http://host:7001/``                       ``http://host:7001/`` (GSP needs an access token:
                                                               ``CQPM_PUBLISH_TOKEN``)
=================  ==========================================  ==========================================

Credentials, when the server asks for them: ``CQPM_PUBLISH_AUTH=user:password`` (HTTP Basic) or
``CQPM_PUBLISH_TOKEN`` (``Authorization: Bearer``) in the environment, never on the command line.

The server must expose the union of its named graphs as default graph for the explorer and the
stored queries (``oxigraph serve --union-default-graph``; see :mod:`cqpm_graph.backend`).
"""
from __future__ import annotations

import base64
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

import click
import pyoxigraph as ox

from .. import __version__
from . import settings_options


class PublishError(click.ClickException):
    """Publishing stopped: the message names the graph and the HTTP status (exit status 1)."""


@dataclass
class PublishReport:
    """What :func:`publish` did: ``uploaded`` ``{graph IRI: triples}``, ``deleted`` graph IRIs, ``seconds``."""

    uploaded: dict[str, int] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    seconds: float = 0.0


def default_gsp(endpoint: str) -> str:
    """The Graph Store endpoint beside a query endpoint: ``http://h:7878/query`` → ``http://h:7878/store``."""
    return urllib.parse.urljoin(endpoint, "store")


def _auth_headers(environ=None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    if env.get("CQPM_PUBLISH_TOKEN"):
        return {"Authorization": f"Bearer {env['CQPM_PUBLISH_TOKEN']}"}
    if env.get("CQPM_PUBLISH_AUTH"):
        token = base64.b64encode(env["CQPM_PUBLISH_AUTH"].encode("utf-8")).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    return {}


def _graph_url(gsp: str, graph: str) -> str:
    separator = "&" if urllib.parse.urlsplit(gsp).query else "?"
    return f"{gsp}{separator}{urllib.parse.urlencode({'graph': graph})}"


def _send(method: str, url: str, graph: str, timeout: float, body=None, length: int | None = None) -> int:
    headers = {"User-Agent": f"cqpm-graph/{__version__}", **_auth_headers()}
    if body is not None:
        headers["Content-Type"] = "application/n-triples"
        headers["Content-Length"] = str(length)
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace").strip() if exc.fp else ""
        raise PublishError(f"{method} of graph <{graph}> failed: HTTP {exc.code} {exc.reason} from {url}"
                           + (f": {detail}" if detail else "")) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PublishError(f"{method} of graph <{graph}> failed: cannot reach {url} ({reason})") from exc


def publish(store: ox.Store, gsp: str, graphs: list[str] | None = None, replace: bool = False,
            remote_graphs: Callable[[], list[str]] | None = None, timeout: float = 300.0,
            progress: Callable[[str], None] = lambda _m: None) -> PublishReport:
    """Upload named graphs of *store* to the Graph Store endpoint *gsp*.

    :param graphs: IRIs to upload (default: every named graph of the store).
    :param replace: also delete the server's named graphs missing from the store (needs *remote_graphs*,
        a function listing them, e.g. :meth:`cqpm_graph.backend.RemoteBackend.named_graphs`).
    :param timeout: seconds allowed for one HTTP request.
    :raises PublishError: on the first failed request (names the graph, the URL and the HTTP status), or
        for a requested graph that is not in the store.
    """
    started = time.monotonic()
    local = sorted(g.value for g in store.named_graphs() if isinstance(g, ox.NamedNode))
    if graphs:
        missing = [g for g in graphs if g not in local]
        if missing:
            raise PublishError(f"no named graph {', '.join(f'<{g}>' for g in missing)} in the store")
        selected = list(graphs)
    else:
        selected = local
    report = PublishReport()
    for i, graph in enumerate(selected, start=1):
        node = ox.NamedNode(graph)
        with tempfile.TemporaryFile() as body:
            count = 0
            triples = (ox.Triple(q.subject, q.predicate, q.object)
                       for q in store.quads_for_pattern(None, None, None, node))

            def counted():
                nonlocal count
                for t in triples:
                    count += 1
                    yield t
            ox.serialize(counted(), body, ox.RdfFormat.N_TRIPLES)
            length = body.tell()
            body.seek(0)
            t0 = time.monotonic()
            status = _send("PUT", _graph_url(gsp, graph), graph, timeout, body, length)
        report.uploaded[graph] = count
        progress(f"[{i}/{len(selected)}] PUT <{graph}>: {count} triples, {length / 1e6:.1f} MB, "
                 f"HTTP {status} in {time.monotonic() - t0:.1f} s")
    if replace:
        if remote_graphs is None:
            raise ValueError("replace=True needs remote_graphs")
        for graph in remote_graphs():
            if graph not in local:
                status = _send("DELETE", _graph_url(gsp, graph), graph, timeout)
                report.deleted.append(graph)
                progress(f"DELETE <{graph}> (not in the store): HTTP {status}")
    report.seconds = time.monotonic() - started
    return report


@click.command()
@click.option("--gsp", "gsp", default=None, metavar="URL",
              help="Graph Store HTTP Protocol endpoint (default: 'store' beside --endpoint, as on Oxigraph "
                   "server; Fuseki: http://host:3030/ds/data; GraphDB: …/repositories/REPO/rdf-graphs/service).")
@click.option("--graph", "graphs", multiple=True, metavar="IRI",
              help="Publish only this named graph (repeatable). Default: every named graph of the store.")
@click.option("--replace", is_flag=True,
              help="Also delete the server's named graphs that the store does not have (mirror the store).")
@click.option("--timeout", default=300.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds allowed for one HTTP request.")
@settings_options
def command(settings, gsp, graphs, replace, timeout) -> None:
    """Upload the named graphs of the built store (--store) to the SPARQL server at --endpoint
    (env CQPM_ENDPOINT), one HTTP PUT per graph (SPARQL 1.1 Graph Store Protocol).

    Example, with an Oxigraph server started as
    `oxigraph serve --location DIR --bind 127.0.0.1:7878 --union-default-graph`:

        cqpm-graph publish --endpoint http://127.0.0.1:7878/query

    then `cqpm-graph serve --endpoint http://127.0.0.1:7878/query` (or CQPM_ENDPOINT=…) serves the
    explorer from it.
    """
    from ..backend import BackendError, RemoteBackend
    from ..store import StoreNotFoundError, open_store

    if not settings.endpoint:
        raise click.UsageError("give the SPARQL server with --endpoint URL (or CQPM_ENDPOINT)")
    try:
        store = open_store(settings)
    except StoreNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    gsp = gsp or default_gsp(settings.endpoint)
    remote = RemoteBackend(settings.endpoint, timeout=timeout)
    click.echo(f"Publishing {settings.store} to {gsp}")
    report = publish(store, gsp, list(graphs) or None, replace, remote.named_graphs, timeout, click.echo)
    total = sum(report.uploaded.values())
    click.echo(f"{len(report.uploaded)} graph(s), {total} triples in {report.seconds:.1f} s"
               + (f"; {len(report.deleted)} deleted" if report.deleted else ""))
    try:
        if not remote.check_union():
            click.echo(f"warning: the default graph of {settings.endpoint} does not read the named graphs; the "
                       "explorer and the stored queries need the union (oxigraph serve --union-default-graph, "
                       "Fuseki tdb2:unionDefaultGraph true).", err=True)
    except BackendError as exc:
        click.echo(f"warning: could not query {settings.endpoint} after publishing: {exc.message}", err=True)
