"""Linked-data routes: dereferenceable data URIs, the JSON-LD context, VoID, DCAT, dumps, the ontology.

================================  =========================================================================
``/id/<kind>/<local>``            303 See Other to the document (HTML page or ``?format=…``), by ``Accept``
``/<kind>/<local>``               the resource: HTML (schema.org JSON-LD inside) or Turtle, JSON-LD, RDF/XML,
                                  N-Triples, N-Quads, TriG (``?format=`` or ``Accept``); 404 unknown, 406
``/context.jsonld``               the JSON-LD context used by every JSON-LD answer
``/.well-known/void``             VoID description of the dataset (RDF, conneg)
``/catalog``                      DCAT catalogue: dataset, distributions (dumps), SPARQL data service
``/dumps/``, ``/dumps/<name>``    ``cqpm-graph.nq.gz``, ``.trig.gz``, ``.ttl.gz``, ``SHA256SUMS`` (generated
                                  on first request, cached per build)
``/ontology``                     the ontology: pyLODE HTML, or Turtle / RDF/XML / JSON-LD / N-Triples
================================  =========================================================================

``certification``, ``rome`` and ``nsf`` resources keep their rich pages (:mod:`.certification`,
:mod:`.nomenclature`), which call :func:`rdf_response` first.
"""
from __future__ import annotations

import urllib.parse
from collections.abc import Callable

import pyoxigraph as ox
from flask import Blueprint, Response, abort, redirect, render_template, request, send_file
from werkzeug.routing import BaseConverter

from cqpm_graph.backend import BackendError
from cqpm_graph.uris import KINDS

from .. import lod
from ..context import backend, explorer, settings, uris

bp = Blueprint("lod", __name__)


class KindConverter(BaseConverter):
    """A URL segment that is one of the data URI kinds (:data:`cqpm_graph.uris.KINDS`)."""

    regex = "(?:" + "|".join(sorted(KINDS, key=len, reverse=True)) + ")"


def site_root() -> str:
    """The deployment's public root URL (``CQPM_PUBLIC_URL``, else the request's), ending with ``/``."""
    return settings().public_url or request.url_root


def _plain(status: int, message: str) -> Response:
    return Response(message.rstrip("\n") + "\n", status=status, mimetype="text/plain")


def _vary(response: Response) -> Response:
    response.vary.add("Accept")
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response


def document_path(kind: str, local: str) -> str:
    """The document URL path of a resource: ``/<kind>/<local>`` (under the app's root)."""
    return f"{request.script_root}/{kind}/{urllib.parse.quote(local, safe='/-_.~')}"


def format_links(kind: str, local: str) -> list[dict]:
    """``[{label, media_type, url}]``: the ``?format=`` links offered on every resource page."""
    base = document_path(kind, local)
    return [{"label": f.label, "media_type": f.media_type, "url": f"{base}?format={f.ext}"} for f in lod.RDF_FORMATS]


def _description(kind: str, iri: str, fmt: lod.RdfFormat | None) -> list[ox.Quad]:
    b = explorer().backend
    quads = lod.describe(b, iri)
    if kind == "graph" and fmt is not None and fmt.dataset and iri in b.named_graphs():
        quads += lod.graph_quads(b, iri)
    return quads


def rdf_response(kind: str, local: str, html: bool = True) -> Response | None:
    """The RDF answer for a resource when ``?format=`` / ``Accept`` asks for RDF; ``None`` when the HTML
    page should be rendered. 404 (text) when the resource has no description, 406 when nothing
    acceptable is offered."""
    try:
        fmt = lod.choose(request.accept_mimetypes, request.args.get("format"), html=html)
    except lod.NotAcceptable as exc:
        return _vary(_plain(406, str(exc)))
    if fmt is None:
        return None
    iri = f"{uris().base}{kind}/{local}"
    try:
        quads = _description(kind, iri, fmt)
    except BackendError as exc:
        return _vary(_plain(exc.status, exc.message))
    if not quads:
        return _vary(_plain(404, f"Aucune ressource <{iri}> dans le graphe."))
    body = lod.serialize(quads, fmt, uris())
    response = Response(body, content_type=fmt.content_type)
    response.headers["Content-Location"] = f"{document_path(kind, local)}?format={fmt.ext}"
    return _vary(response)


def page_lod(kind: str, local: str, quads: list[ox.Quad] | None = None) -> dict:
    """What ``base.html`` needs to embed schema.org JSON-LD and offer the formats of a page:
    ``{iri, jsonld (script-safe text), formats[{label, media_type, url}]}``."""
    iri = f"{uris().base}{kind}/{local}"
    if quads is None:
        try:
            quads = lod.describe(backend(), iri)
        except BackendError:
            quads = []
    doc = lod.schema_org(kind, iri, quads, page_url=request.base_url)
    return {"iri": iri, "jsonld": lod.script_json(doc), "formats": format_links(kind, local)}


# -- data URIs ----------------------------------------------------------------------------------------

@bp.get("/id/<kind:kind>/<path:local>")
def thing(kind: str, local: str):
    """The data URI itself (``<base>/id/<kind>/<local>``): 303 See Other to the document describing it,
    in the format ``Accept`` / ``?format=`` ask for (W3C "Cool URIs", 303 pattern)."""
    try:
        fmt = lod.choose(request.accept_mimetypes, request.args.get("format"))
    except lod.NotAcceptable as exc:
        return _vary(_plain(406, str(exc)))
    target = document_path(kind, local) + (f"?format={fmt.ext}" if fmt else "")
    return _vary(redirect(target, code=303))


@bp.get("/id/")
@bp.get("/id/<path:rest>")
def thing_unknown(rest: str = ""):
    """Paths under ``/id/`` that are not ``<kind>/<local>``: 404."""
    abort(404, description=f"« /id/{rest} » n'est pas l'URI d'une ressource du graphe.")


@bp.get("/<kind:kind>/<path:local>")
def resource(kind: str, local: str):
    """The document of one resource (any kind): RDF by ``?format=`` / ``Accept``, else an HTML page
    listing its properties, with the formats and schema.org JSON-LD."""
    if kind in ("certification", "rome", "nsf") and "/" not in local:  # pragma: no cover - own views win
        abort(404)
    rdf = rdf_response(kind, local)
    if rdf is not None:
        return rdf
    iri = f"{uris().base}{kind}/{local}"
    try:
        quads = lod.describe(backend(), iri)
    except BackendError as exc:
        abort(exc.status if exc.status in (500, 502, 503) else 500, description=exc.message)
    if not quads:
        abort(404, description=f"Aucune ressource « {kind}/{local} » dans le graphe.")
    view = _resource_view(iri, quads)
    response = Response(render_template("resource.html", res=view, kind=kind, local=local, kind_label=KIND_LABELS.get(kind),
                                        lod=page_lod(kind, local, quads)))
    return _vary(response)


KIND_LABELS = {
    "certification": "Certification", "bloc": "Bloc de compétences", "capacite": "Capacité professionnelle",
    "activite": "Activité visée", "critere": "Critère observable", "emploi": "Emploi accessible",
    "acces": "Voie d'accès (statut)", "enregistrement": "Enregistrement", "organisation": "Organisation",
    "rome": "ROME", "nsf": "NSF", "idcc": "Convention collective", "voie-acces": "Voie d'accès",
    "type": "Type de certification", "scheme": "Nomenclature", "graph": "Graphe nommé", "source": "Document source",
}


def _compact(iri: str) -> str:
    for prefix, ns in sorted(lod.CONTEXT_PREFIXES.items(), key=lambda kv: -len(kv[1])):
        if iri.startswith(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def _resource_view(iri: str, quads: list[ox.Quad]) -> dict:
    """``{iri, label, properties[{predicate, curie, objects[{kind, value, label, lang, datatype}]}], graphs}``."""
    from .sparql import term_view
    labels: dict[str, str] = {}
    for q in quads:
        if isinstance(q.subject, ox.NamedNode) and q.predicate.value in lod.LABEL_PREDICATES \
                and isinstance(q.object, ox.Literal) and (q.object.language in ("fr", None, "")):
            labels.setdefault(q.subject.value, q.object.value)
    props: dict[str, list] = {}
    graphs = set()
    for q in quads:
        if isinstance(q.subject, ox.NamedNode) and q.subject.value == iri:
            graphs.add(q.graph_name.value if isinstance(q.graph_name, ox.NamedNode) else "")
            view = term_view(q.object)
            if view["kind"] == "iri":
                view["label"] = labels.get(view["value"])
            if view not in props.setdefault(q.predicate.value, []):
                props[q.predicate.value].append(view)
    properties = [{"predicate": p, "curie": _compact(p), "objects": v}
                  for p, v in sorted(props.items(), key=lambda kv: (kv[0] != lod.RDF_TYPE, _compact(kv[0])))]
    return {"iri": iri, "label": labels.get(iri), "properties": properties, "graphs": sorted(g for g in graphs if g)}


# -- context, VoID, DCAT -------------------------------------------------------------------------------

@bp.get("/context.jsonld")
def context():
    """The JSON-LD context: project prefixes and ``id:`` for the data base URI."""
    response = Response(lod.json.dumps(lod.context_document(uris()), indent=2, ensure_ascii=False),
                        content_type="application/ld+json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _facts() -> dict:
    b = backend()
    return explorer().cache.memo(("facts", b.build_id(), uris().base), lambda: lod.dataset_facts(b, uris()))


def _rdf_document(kind: str, build: Callable[[dict, str, dict], list[ox.Triple]]) -> Response:
    """The VoID or DCAT document in the negotiated format. The format is chosen first (a 406 costs
    nothing); the serialised document is cached per build, base URI, site root, format and state of the
    dumps — at national scale VoID lists 25,000 named graphs (~1 s to write)."""
    try:
        fmt = lod.choose(request.accept_mimetypes, request.args.get("format"), html=False, datasets=False)
    except lod.NotAcceptable as exc:
        return _vary(_plain(406, str(exc)))
    ex, b, site = explorer(), backend(), site_root()
    dumps = lod.cached_dump_info(ex.cache, b)
    key = (kind, b.build_id(), uris().base, site, fmt.media_type, tuple(sorted(dumps.items())))

    def render() -> bytes:
        return lod.serialize_triples(build(_facts(), site, dumps), fmt, uris())

    return _vary(Response(ex.cache.memo(key, render), content_type=fmt.content_type))


@bp.get("/.well-known/void")
def void():
    """VoID description: counts, subsets (one per named graph), class partitions, SPARQL endpoint, dumps,
    licence (Licence Ouverte 2.0). Turtle by default; any RDF format by ``Accept`` / ``?format=``. The
    numbers are those the build wrote in ``graph/build`` (see :func:`cqpm_graph.webapp.lod.dataset_facts`)."""
    return _rdf_document("void", lambda facts, site, dumps: lod.void_triples(uris(), facts, site, dumps))


@bp.get("/catalog")
def catalog():
    """DCAT catalogue: the dataset, a distribution per dump (download URL, media type, size and checksum
    once generated), the SPARQL endpoint as a data service."""
    return _rdf_document("dcat", lambda facts, site, dumps: lod.dcat_triples(uris(), facts, site, dumps))


# -- dumps -------------------------------------------------------------------------------------------

@bp.get("/dumps/")
def dumps_index():
    """The list of dumps (HTML), with ``SHA256SUMS``."""
    return render_template("dumps.html", dumps=lod.DUMPS, sums=lod.SUMS)


@bp.get("/dumps/<name>")
def dump(name: str):
    """One dump (gzip) or ``SHA256SUMS``; generated on first request for the current build, then cached.
    404 for another name."""
    ex = explorer()
    try:
        if name == lod.SUMS:
            path = lod.sums_path(ex.cache, ex.backend)
            response = send_file(path, mimetype="text/plain", max_age=3600, conditional=True, etag=True)
            response.headers["Content-Type"] = "text/plain; charset=utf-8"
            return response
        if name not in lod.DUMPS:
            abort(404, description=f"Pas d'export « {name} ». Exports : {', '.join(lod.DUMPS)}, {lod.SUMS}.")
        path = lod.dump_path(ex.cache, ex.backend, name)
    except BackendError as exc:
        return _plain(exc.status, exc.message)
    response = send_file(path, mimetype="application/gzip", as_attachment=True, download_name=name,
                         max_age=3600, conditional=True, etag=True)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# -- ontology ----------------------------------------------------------------------------------------

@bp.get("/ontology")
def ontology():
    """The ontology at its namespace path: pyLODE HTML documentation (generated once, cached) or the
    Turtle / RDF/XML / JSON-LD / N-Triples of ``ontology/*.ttl``."""
    try:
        fmt = lod.choose(request.accept_mimetypes, request.args.get("format"), datasets=False)
    except lod.NotAcceptable as exc:
        return _vary(_plain(406, str(exc)))
    cache = explorer().cache
    if fmt is None:
        html = cache.memo(("ontology-html",), lambda: _ontology_html_cached(cache))
        response = Response(html, mimetype="text/html")
        # pyLODE pages carry their own inline CSS
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; script-src 'none'; "
            "frame-ancestors 'none'")
        return _vary(response)
    graph = cache.memo(("ontology-graph",), lod.ontology_graph)
    rdflib_format = {"text/turtle": "turtle", "application/rdf+xml": "xml", "application/ld+json": "json-ld",
                     "application/n-triples": "nt"}[fmt.media_type]
    body = graph.serialize(format=rdflib_format)
    return _vary(Response(body, content_type=fmt.content_type))


def _ontology_html_cached(cache: lod.Cache) -> str:
    from cqpm_graph.resources import ontology_dir
    import hashlib
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(ontology_dir().glob("*.ttl")))).hexdigest()[:16]
    path = cache.file(f"ontology-{digest}", "ontology.html", lambda fh: fh.write(lod.ontology_html().encode("utf-8")))
    return path.read_text(encoding="utf-8")
