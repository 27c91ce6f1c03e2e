"""SPARQL 1.1 Protocol (query operation) over the read-only store: request parsing, content
negotiation and serialisation, independent of Flask routing (used by :mod:`.views.sparql`).

Status codes
------------
=====  ===========================================================================================
200    results, in the negotiated format
400    no ``query``, several ``query`` values, a malformed query (the parser's message, text/plain),
       an invalid ``default-graph-uri`` / ``named-graph-uri``
403    an update (``update=`` parameter, ``application/sparql-update`` body, or query text that is an
       update such as ``INSERT DATA``), or a federated ``SERVICE`` call: the endpoint is read-only
       and makes no outbound requests
406    no supported media type in ``Accept`` (and no usable ``format``)
415    a POST body that is neither a form nor ``application/sparql-query``
500    the store failed while evaluating the query
=====  ===========================================================================================

Formats: SELECT / ASK → ``application/sparql-results+json`` (default), ``application/sparql-results+xml``,
``text/csv``, ``text/tab-separated-values``; CONSTRUCT / DESCRIBE → ``text/turtle`` (default),
``application/ld+json``, ``application/n-triples``, ``application/rdf+xml``. A ``format`` (or ``output``)
parameter — a short name such as ``json``, ``xml``, ``csv``, ``tsv``, ``turtle``, ``json-ld``, ``nt`` or a
media type — wins over ``Accept`` when it names a supported format (a link cannot set headers);
otherwise ``Accept`` decides, and ``*/*`` or no ``Accept`` gives the default.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pyoxigraph as ox
from werkzeug.datastructures import MIMEAccept

from cqpm_graph.store import query as store_query
from cqpm_graph.uris import PREFIXES


class ProtocolError(Exception):
    """A request the endpoint refuses: :attr:`status` and a plain-text :attr:`message`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Format:
    """One result serialisation: canonical media type, accepted aliases and short names."""

    media_type: str
    aliases: tuple[str, ...]
    names: tuple[str, ...]
    ox_format: object
    charset: bool = False

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header value (with ``charset=utf-8`` for text formats)."""
        return f"{self.media_type}; charset=utf-8" if self.charset else self.media_type


RESULT_FORMATS = (
    Format("application/sparql-results+json", ("application/json",), ("json", "srj"), ox.QueryResultsFormat.JSON),
    Format("application/sparql-results+xml", (), ("xml", "srx"), ox.QueryResultsFormat.XML),
    Format("text/csv", (), ("csv",), ox.QueryResultsFormat.CSV, charset=True),
    Format("text/tab-separated-values", (), ("tsv",), ox.QueryResultsFormat.TSV, charset=True),
)
_JSON_LD = getattr(ox.RdfFormat, "JSON_LD", None)
GRAPH_FORMATS = (
    Format("text/turtle", ("application/turtle", "application/x-turtle"), ("turtle", "ttl"), ox.RdfFormat.TURTLE,
           charset=True),
    Format("application/ld+json", ("application/x-json+ld",), ("json-ld", "jsonld", "json"), _JSON_LD),
    Format("application/n-triples", (), ("nt", "ntriples", "n-triples"), ox.RdfFormat.N_TRIPLES, charset=True),
    Format("application/rdf+xml", (), ("rdf", "rdfxml", "rdf+xml", "xml"), ox.RdfFormat.RDF_XML),
)


def negotiate(formats: tuple[Format, ...], accept: MIMEAccept, format_params: list[str]) -> Format:
    """Choose the serialisation for one query form.

    :param formats: :data:`RESULT_FORMATS` or :data:`GRAPH_FORMATS` (the first is the default).
    :param accept: the request's parsed ``Accept`` header (may be empty).
    :param format_params: values of ``format`` / ``output`` parameters, in order.
    :raises ProtocolError: 406 when nothing acceptable is supported.
    """
    by_name = {}
    by_type = {}
    for f in formats:
        for name in f.names:
            by_name.setdefault(name, f)
        for t in (f.media_type, *f.aliases):
            by_type[t] = f
    for value in format_params:
        for piece in value.split(","):
            piece = piece.strip().lower().split(";")[0]
            if piece in by_name:
                return by_name[piece]
            if piece in by_type:
                return by_type[piece]
    if not accept:
        return formats[0]
    types = list(by_type)
    explicit = MIMEAccept([(v, q) for v, q in accept if "*" not in v and q > 0])
    chosen = explicit.best_match(types)
    if chosen:
        return by_type[chosen]
    if accept.best_match([formats[0].media_type]):  # */* or type/* covering the default
        return formats[0]
    chosen = accept.best_match(types)
    if chosen:
        return by_type[chosen]
    supported = ", ".join(f.media_type for f in formats)
    raise ProtocolError(406, f"Aucun format demandé n'est disponible (Accept: {accept.to_header() or '-'}). "
                             f"Formats possibles : {supported}.")


# -- looking inside query text without a parser -------------------------------------------------------

_LEXICAL = re.compile(r'''"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|<[^<>"{}|^`\\\s]*>|#[^\n]*''')
_UNICODE_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_UPDATE_START = re.compile(
    r"^\s*(?:(?:PREFIX\s+[\w.\-]*:\s*<>|BASE\s*<>)\s*)*(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)\b",
    re.IGNORECASE)
_SERVICE = re.compile(r"(?<![\w?$:.\-])SERVICE\s+(?:SILENT\s+)?(?:<|[?$]|[A-Za-z_][\w.\-]*:|:)", re.IGNORECASE)
_FROM = re.compile(r"(?<![\w?$:.\-])FROM\s+(?:NAMED\s+)?(?:<|[A-Za-z_][\w.\-]*:|:)", re.IGNORECASE)


def skeleton(text: str) -> str:
    """*text* with escapes decoded and strings, IRIs and comments blanked (``""``, ``<>``, space), so
    keywords can be looked for without matching inside literals."""
    text = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)

    def blank(m: re.Match) -> str:
        token = m.group(0)
        if token.startswith("#"):
            return " "
        if token.startswith("<"):
            return "<>"
        return '""'

    return _LEXICAL.sub(blank, text)


def looks_like_update(text: str) -> bool:
    """True when *text* starts (after its prologue) with a SPARQL Update operation."""
    return bool(_UPDATE_START.search(skeleton(text)))


def uses_service(text: str) -> bool:
    """True when *text* contains a ``SERVICE`` clause (federated query)."""
    return bool(_SERVICE.search(skeleton(text)))


def declares_dataset(text: str) -> bool:
    """True when *text* has a ``FROM`` or ``FROM NAMED`` clause."""
    return bool(_FROM.search(skeleton(text)))


# -- running ----------------------------------------------------------------------------------------

def _graph_nodes(values: list[str], param: str) -> list[ox.NamedNode]:
    nodes = []
    for v in values:
        try:
            nodes.append(ox.NamedNode(v))
        except ValueError as exc:
            raise ProtocolError(400, f"{param} invalide : {v!r} ({exc})") from exc
    return nodes


def execute(store: ox.Store, text: str, default_graph_uris: list[str] = (), named_graph_uris: list[str] = ()):
    """Evaluate a query string (lazily: iterate or serialise the result to run it).

    Without a protocol dataset the default graph is the union of the named graphs (unless the query has
    its own ``FROM``); with ``default-graph-uri`` / ``named-graph-uri`` the dataset is exactly those graphs.

    :returns: a pyoxigraph ``QuerySolutions``, ``QueryBoolean`` or ``QueryTriples``.
    :raises ProtocolError: 403 for updates and ``SERVICE``, 400 for malformed queries or graph IRIs.
    """
    if not text or not text.strip():
        raise ProtocolError(400, "Requête vide : le paramètre « query » est obligatoire.")
    if uses_service(text):
        raise ProtocolError(403, "Les requêtes fédérées (SERVICE) ne sont pas autorisées sur ce point d'accès.")
    kwargs = {}
    if default_graph_uris or named_graph_uris:
        kwargs["default_graph"] = _graph_nodes(list(default_graph_uris), "default-graph-uri")
        kwargs["named_graphs"] = _graph_nodes(list(named_graph_uris), "named-graph-uri")
    try:
        if kwargs or declares_dataset(text):
            return store.query(text, **kwargs)
        return store_query(store, text)
    except SyntaxError as exc:
        if looks_like_update(text):
            raise ProtocolError(403, "Ce point d'accès est en lecture seule : les mises à jour SPARQL "
                                     "(INSERT, DELETE, LOAD, CLEAR…) sont refusées.") from exc
        raise ProtocolError(400, f"Requête SPARQL invalide : {exc}") from exc


def kind_of(result) -> str:
    """``"select"``, ``"ask"`` or ``"graph"`` for a pyoxigraph query result."""
    if isinstance(result, ox.QuerySolutions):
        return "select"
    if isinstance(result, ox.QueryBoolean):
        return "ask"
    return "graph"


def serialize(result, fmt: Format) -> bytes:
    """Serialise a query result (runs the query).

    JSON-LD uses pyoxigraph when it has it, else rdflib from N-Triples. Turtle gets the project prefixes.
    :raises OSError: when the store fails during evaluation.
    """
    if kind_of(result) != "graph":
        return result.serialize(format=fmt.ox_format)
    if fmt.media_type == "application/ld+json" and fmt.ox_format is None:  # pragma: no cover - old pyoxigraph
        import rdflib
        nt = ox.serialize(result, format=ox.RdfFormat.N_TRIPLES)
        return rdflib.Graph().parse(data=nt, format="nt").serialize(format="json-ld").encode()
    prefixes = PREFIXES if fmt.ox_format == ox.RdfFormat.TURTLE else None
    if prefixes:
        return ox.serialize(result, format=fmt.ox_format, prefixes=prefixes)
    return ox.serialize(result, format=fmt.ox_format)
