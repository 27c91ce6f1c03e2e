"""The SPARQL page, the stored-query catalogue and the SPARQL 1.1 Protocol endpoint ``/sparql``.

``/sparql`` serves the HTML page for a browser GET without ``query``; otherwise it implements the
query operation of the SPARQL 1.1 Protocol (see :mod:`cqpm_graph.webapp.protocol` for formats and
status codes). ``/sparql/resultats?query=`` shows a query's results as an HTML table, and
``/sparql/requetes/<name>`` runs one stored query of the catalogue with a form for its parameters.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request, url_for

from cqpm_graph.backend import BackendError

from ..context import backend, explorer
from ..protocol import GRAPH_FORMATS, RESULT_FORMATS, ProtocolError, negotiate, service_description

bp = Blueprint("sparql", __name__)

MAX_HTML_ROWS = 1000

EXAMPLE_QUERY = """PREFIX cqpm: <https://w3id.org/cqpm/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX dcterms: <http://purl.org/dc/terms/>

SELECT ?id ?intitule (COUNT(DISTINCT ?bloc) AS ?blocs) WHERE {
  ?certification a cqpm:Certification ;
      dcterms:identifier ?id ;
      skos:prefLabel ?intitule .
  OPTIONAL { ?certification cqpm:hasBlock ?bloc }
}
GROUP BY ?id ?intitule
ORDER BY ?id"""


def _wants_page() -> bool:
    accept = request.accept_mimetypes
    return bool(accept) and accept.best_match(["text/html", "application/sparql-results+json"]) == "text/html"


def _text_response(status: int, message: str) -> Response:
    return Response(message.rstrip("\n") + "\n", status=status, mimetype="text/plain")


CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Type, Content-Length, Vary",
}


@bp.route("/sparql", methods=["GET", "POST", "OPTIONS"])
def endpoint():
    """SPARQL 1.1 Protocol query operation (GET ``?query=``, POST form, POST ``application/sparql-query``);
    the SPARQL page for a browser GET without ``query``; the service description (RDF) for other GETs
    without ``query``. Always ``Vary: Accept``; CORS open (read-only)."""
    if request.method == "OPTIONS":  # CORS preflight (e.g. a POST of application/sparql-query from a web page)
        response = Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = (
            request.headers.get("Access-Control-Request-Headers") or "Content-Type, Accept")
        response.headers["Access-Control-Max-Age"] = "86400"
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.vary.add("Access-Control-Request-Headers")
        return response
    try:
        response = _protocol()
    except ProtocolError as exc:
        response = _text_response(exc.status, exc.message)
        if exc.status == 503:
            response.headers["Retry-After"] = "5"
    response.vary.add("Accept")
    for key, value in CORS_HEADERS.items():
        response.headers.setdefault(key, value)
    return response


def _wants_description() -> bool:
    """A GET without ``query`` whose ``Accept`` takes RDF (or anything): the service description."""
    accept = request.accept_mimetypes
    if not accept:
        return True
    types = [f.media_type for f in GRAPH_FORMATS]
    explicit = [v for v, q in accept if q > 0]
    return bool(accept.best_match(types)) and not all(v.startswith("application/sparql-results") for v in explicit)


def _service_description() -> Response:
    from cqpm_graph.uris import PREFIXES

    import pyoxigraph as ox
    fmt = negotiate(GRAPH_FORMATS, request.accept_mimetypes, request.args.getlist("format"))
    ex = explorer()
    key = ("service-description", ex.backend.build_id())
    graphs = ex.cache.memo(key, lambda: _graph_sizes())
    triples = service_description(url_for("sparql.endpoint", _external=True), graphs,
                                  bool(ex.settings.service_allowlist), ex.settings.query_timeout,
                                  ex.settings.result_limit)
    prefixes = dict(PREFIXES, sd="http://www.w3.org/ns/sparql-service-description#", void="http://rdfs.org/ns/void#")
    body = ox.serialize(triples, format=fmt.ox_format,
                        prefixes=prefixes if fmt.ox_format == ox.RdfFormat.TURTLE else None)
    return Response(body, content_type=fmt.content_type)


def _graph_sizes() -> dict[str, int | None]:
    """Named graph → triples, from ``graph/build`` (``void:triples``), for every named graph."""
    b = backend()
    sizes: dict[str, int | None] = {g: None for g in b.named_graphs()}
    try:
        for row in b.select("SELECT ?g ?n WHERE { ?g <http://rdfs.org/ns/void#triples> ?n }"):
            if row.get("g") in sizes and isinstance(row.get("n"), int):
                sizes[row["g"]] = row["n"]
    except BackendError:  # pragma: no cover - the sizes are a nicety
        pass
    return sizes


def _protocol() -> Response:
    if request.method == "GET":
        params = request.args
        if "update" in params:
            raise ProtocolError(403, "Ce point d'accès est en lecture seule : le paramètre « update » est refusé.")
        queries = params.getlist("query")
        if not queries:
            if _wants_page():
                return Response(sparql_page())
            if _wants_description():
                return _service_description()
            raise ProtocolError(400, "Paramètre « query » manquant (SPARQL 1.1 Protocol).")
        default_graphs, named_graphs = params.getlist("default-graph-uri"), params.getlist("named-graph-uri")
        format_params = params.getlist("format") + params.getlist("output")
    else:
        mimetype = request.mimetype
        if mimetype == "application/sparql-update":
            raise ProtocolError(403, "Ce point d'accès est en lecture seule : les mises à jour SPARQL sont refusées.")
        if mimetype == "application/x-www-form-urlencoded":
            form = request.form
            if "update" in form:
                raise ProtocolError(403, "Ce point d'accès est en lecture seule : le paramètre « update » est refusé.")
            queries = form.getlist("query")
            default_graphs = form.getlist("default-graph-uri") + request.args.getlist("default-graph-uri")
            named_graphs = form.getlist("named-graph-uri") + request.args.getlist("named-graph-uri")
            format_params = (form.getlist("format") + form.getlist("output")
                             + request.args.getlist("format") + request.args.getlist("output"))
        elif mimetype == "application/sparql-query":
            try:
                queries = [request.get_data(cache=True).decode(request.mimetype_params.get("charset", "utf-8"))]
            except (UnicodeDecodeError, LookupError) as exc:
                raise ProtocolError(400, f"Corps de requête illisible : {exc}") from exc
            default_graphs = request.args.getlist("default-graph-uri")
            named_graphs = request.args.getlist("named-graph-uri")
            format_params = request.args.getlist("format") + request.args.getlist("output")
        else:
            raise ProtocolError(415, "Type de contenu non pris en charge : envoyer application/x-www-form-urlencoded "
                                     "(query=…) ou application/sparql-query.")
        if not queries:
            raise ProtocolError(400, "Paramètre « query » manquant (SPARQL 1.1 Protocol).")
    if len(queries) > 1:
        raise ProtocolError(400, "Un seul paramètre « query » est permis.")

    service = explorer().queries
    text = queries[0]
    kind = service.kind_of(text)
    formats = GRAPH_FORMATS if kind == "graph" else RESULT_FORMATS
    fmt = negotiate(formats, request.accept_mimetypes, format_params)
    answer = service.run(text, fmt.media_type, default_graphs, named_graphs)
    if answer.media_type != fmt.media_type:  # the lexer guessed the kind wrong: say what we send
        fmt = next((f for f in GRAPH_FORMATS + RESULT_FORMATS if f.media_type == answer.media_type), fmt)
    return Response(answer.body, status=200, content_type=fmt.content_type)


def sparql_page(query: str | None = None) -> str:
    """Render the SPARQL page: catalogue of stored queries and the free query form."""
    catalogue = explorer().get_catalogue()
    return render_template("sparql.html", catalogue=catalogue, example=query or EXAMPLE_QUERY,
                           endpoint=url_for("sparql.endpoint", _external=True))


# -- HTML views of results ---------------------------------------------------------------------------

def term_view(term) -> dict:
    """A pyoxigraph term (or plain Python value) as ``{value, kind, lang, datatype}`` for the templates;
    ``kind`` is ``iri``, ``bnode``, ``literal`` or ``empty``."""
    import pyoxigraph as ox
    if term is None:
        return {"kind": "empty", "value": ""}
    if isinstance(term, ox.NamedNode):
        return {"kind": "iri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"kind": "bnode", "value": f"_:{term.value}"}
    if isinstance(term, ox.Literal):
        dt = term.datatype.value if term.datatype else None
        if dt and (dt.endswith("#string") or dt.endswith("#langString")):
            dt = None
        return {"kind": "literal", "value": term.value, "lang": term.language,
                "datatype": dt.rsplit("#", 1)[-1] if dt else None}
    if isinstance(term, str) and term.startswith(("http://", "https://")):
        return {"kind": "iri", "value": term}
    if isinstance(term, bool):
        return {"kind": "literal", "value": "vrai" if term else "faux"}
    return {"kind": "literal", "value": str(term)}


def _table(answer) -> dict:
    """``{kind, variables, rows (list of lists of term views), truncated, boolean}`` for an
    :class:`~cqpm_graph.webapp.protocol.Answer` (canonical format)."""
    kind = answer.kind
    result = answer.parsed()
    if kind == "ask":
        return {"kind": kind, "boolean": bool(result), "variables": [], "rows": [], "truncated": False}
    if kind == "select":
        variables = [v.value for v in result.variables]
        rows, truncated = [], False
        for i, solution in enumerate(result):
            if i >= MAX_HTML_ROWS:
                truncated = True
                break
            rows.append([term_view(solution[v]) for v in variables])
        return {"kind": kind, "variables": variables, "rows": rows, "truncated": truncated, "boolean": None}
    rows = [[term_view(t.subject), term_view(t.predicate), term_view(t.object)] for t in result[:MAX_HTML_ROWS]]
    return {"kind": kind, "variables": ["sujet", "prédicat", "objet"], "rows": rows,
            "truncated": len(result) > MAX_HTML_ROWS, "boolean": None}


@bp.get("/sparql/resultats")
def results_page():
    """``/sparql/resultats?query=``: run a free query (same checks and limits as ``/sparql``) and show an
    HTML table (first 1000 rows), with links to download the full result from ``/sparql``."""
    query = request.args.get("query", "")
    if not query.strip():
        return Response(sparql_page())
    table, error, status = None, None, 200
    try:
        service = explorer().queries
        service.check(query)
        table = _table(service.run(query, None))
    except ProtocolError as exc:
        error, status = exc.message, exc.status
    downloads = _downloads(query, table["kind"] if table else "select")
    return render_template("sparql_results.html", query=query, table=table, error=error,
                           downloads=downloads), status


def _downloads(query: str | None, kind: str) -> list[tuple[str, str]]:
    if not query:
        return []
    if kind == "graph":
        names = (("Turtle", "turtle"), ("JSON-LD", "json-ld"), ("N-Triples", "nt"))
    else:
        names = (("JSON", "json"), ("CSV", "csv"), ("TSV", "tsv"), ("XML", "xml"))
    return [(label, url_for("sparql.endpoint", query=query, format=name)) for label, name in names]


def _cell(value) -> dict:
    view = term_view(value)
    if view["kind"] == "literal" and value is not None and not isinstance(value, (str, bool)):
        view["value"] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return view


@bp.get("/sparql/requetes/<name>")
def stored_query(name: str):
    """One stored query: its description, a form for its parameters and, once submitted (or when it has
    no parameters and ``run`` is given), its results. 404 for an unknown name; 400 for bad parameters."""
    catalogue = explorer().get_catalogue()
    query = catalogue.queries.get(name)
    if query is None:
        abort(404, description=f"Pas de requête « {name} » dans le catalogue.")
    params_def = list(getattr(query, "params", []) or [])
    values = {p.name: request.args.get(p.name, "").strip() for p in params_def}
    submitted = "run" in request.args or any(values.values())
    table, error, status, rendered = None, None, 200, None
    if submitted:
        given = {k: v for k, v in values.items() if v}
        try:
            result = catalogue.run(backend(), name, given)
            table = _query_result_table(result)
            rendered = catalogue.render(name, given)
        except catalogue.parameter_error as exc:
            error, status = str(exc), 400
        except SyntaxError as exc:
            error, status = f"Requête SPARQL invalide : {exc}", 500
        except BackendError as exc:
            error, status = f"Erreur pendant l'évaluation de la requête : {exc.message}", exc.status
        except (OSError, RuntimeError) as exc:
            error, status = f"Erreur pendant l'évaluation de la requête : {exc}", 500
    downloads = _downloads(rendered, table["kind"] if table else "select") if table else []
    return render_template("stored_query.html", name=name, query=query, params=params_def, values=values,
                           table=table, error=error, downloads=downloads), status


def _query_result_table(result) -> dict:
    """Adapt a catalogue ``QueryResult`` (``kind``, ``variables``, ``rows``, ``terms``, ``boolean``) to the
    table view; ``terms`` (pyoxigraph terms) are preferred so IRIs become links."""
    kind = str(getattr(result, "kind", "select")).lower()
    boolean = getattr(result, "boolean", None)
    if kind == "ask" or boolean is not None:
        return {"kind": "ask", "boolean": bool(boolean), "variables": [], "rows": [], "truncated": False}
    variables = [getattr(v, "value", v) for v in (getattr(result, "variables", None) or [])]
    terms = getattr(result, "terms", None) or None
    rows_in = list(terms if terms is not None else (getattr(result, "rows", None) or []))
    if not variables and rows_in:
        variables = list(dict.fromkeys(k for row in rows_in for k in row))
    cell = term_view if terms is not None else _cell
    rows = [[cell(row.get(v)) for v in variables] for row in rows_in[:MAX_HTML_ROWS]]
    return {"kind": "graph" if kind in ("construct", "describe", "graph") else "select", "variables": variables,
            "rows": rows, "truncated": len(rows_in) > MAX_HTML_ROWS, "boolean": None}
