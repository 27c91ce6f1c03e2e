"""Where SPARQL queries run: the embedded pyoxigraph store or any SPARQL 1.1 endpoint.

Every reader of the graph (the explorer's pages, ``cqpm-graph query``, the ``/sparql`` endpoint, the
dumps) goes through one small interface, :class:`Backend`, so that the same code runs on the store built
on this machine (:class:`EmbeddedBackend`) or on a remote triple store reached over HTTP
(:class:`RemoteBackend`: Oxigraph server, Fuseki, GraphDB, QLever …). :func:`backend_for` picks one from
the settings: ``settings.endpoint`` (``--endpoint`` / ``CQPM_ENDPOINT``) selects the remote one.

Default graph
-------------
Queries are written against the **union of the named graphs** as default graph (``GRAPH ?g`` still
tells which source a triple came from). The embedded backend asks pyoxigraph for that union; a remote
server must be configured to expose it as its default graph:

* Oxigraph server: ``oxigraph serve --location DIR --union-default-graph``
* Apache Jena Fuseki (TDB2): ``tdb2:unionDefaultGraph true`` in the dataset assembler
* GraphDB: the default graph of a repository already reads all named graphs
* QLever: the default graph is the union of all graphs (the default)

We chose this over rewriting every page query with ``GRAPH ?g`` because the stored queries are public
(``queries/*.rq``) and must read the same on any endpoint; :meth:`RemoteBackend.check_union` tells when a
server does not follow the rule.

Values
------
:meth:`Backend.solutions` returns pyoxigraph terms (``NamedNode``, ``Literal``, ``BlankNode``) whatever
the backend: remote results are read with pyoxigraph's SPARQL results parser, so the callers never see
SPARQLWrapper's dictionaries. :meth:`Backend.select` converts them with
:func:`cqpm_graph.store.term_to_python`.
"""
from __future__ import annotations

import hashlib
import re
import threading
import time
import urllib.error
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import pyoxigraph as ox

from . import __version__
from .config import Settings
from .store import live_path, open_store, term_to_python
from .store import query as store_query

# -- media types -------------------------------------------------------------------------------------

SPARQL_JSON = "application/sparql-results+json"
SPARQL_XML = "application/sparql-results+xml"
N_TRIPLES = "application/n-triples"
N_QUADS = "application/n-quads"
TURTLE = "text/turtle"

#: SELECT / ASK result serialisations pyoxigraph writes, by media type.
RESULT_MEDIA_TYPES: dict[str, ox.QueryResultsFormat] = {
    SPARQL_JSON: ox.QueryResultsFormat.JSON,
    SPARQL_XML: ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
#: RDF serialisations pyoxigraph writes, by media type (the quad ones only for datasets).
RDF_MEDIA_TYPES: dict[str, ox.RdfFormat] = {
    TURTLE: ox.RdfFormat.TURTLE,
    N_TRIPLES: ox.RdfFormat.N_TRIPLES,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    N_QUADS: ox.RdfFormat.N_QUADS,
    "application/trig": ox.RdfFormat.TRIG,
}


# -- errors --------------------------------------------------------------------------------------------

class BackendError(RuntimeError):
    """A query could not be answered. :attr:`status` is the HTTP status to report (500 by default;
    502 when a remote endpoint failed or could not be reached), :attr:`message` a readable text."""

    status = 500

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BackendSyntaxError(BackendError, SyntaxError):
    """The query is malformed (the parser's or the remote endpoint's message). Also a ``SyntaxError``,
    so code written for pyoxigraph's own exception keeps working."""

    status = 400


class BackendTimeout(BackendError):
    """The query ran past its time limit (locally, or the remote endpoint did not answer in time)."""

    status = 503


# -- reading SPARQL text without a full parser ----------------------------------------------------------
#
# The lexer below mirrors the terminals of the SPARQL 1.1 grammar as pyoxigraph reads them: \\u escapes are
# decoded inside IRIs and strings only, never in the rest of the text. It is used to find the query
# form (remote endpoints), FROM clauses, updates and SERVICE calls (the SSRF guard in
# cqpm_graph.webapp.protocol). Where it could disagree with the real parser it errs towards seeing
# a keyword, never towards hiding one.

_IRI = re.compile(r'<(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>')
_VAR = re.compile(r"[?$][A-Za-z0-9_\u00B7\u00C0-\uFFFF]+")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LOCAL_CHAR = r"(?:[\w\-\u00B7:]|%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])"
# a bare word (keyword, PN_PREFIX, "a", "true") with no dot, optionally ":" and a local name (PN_LOCAL)
_WORD = re.compile(rf"(?:[A-Za-z_\u00C0-\uFFFF][\w\-\u00B7]*)?(?::{_LOCAL_CHAR}*(?:\.{_LOCAL_CHAR}+)*)?")
UNICODE_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


@dataclass(frozen=True)
class Token:
    """One lexical token: ``kind`` is ``iri`` (value without ``<>``), ``string``, ``var``, ``number``,
    ``word`` (keyword or prefixed name, as written) or ``punct`` (one character)."""

    kind: str
    value: str
    pos: int


def tokens(text: str) -> Iterator[Token]:
    """The tokens of a SPARQL text, comments and whitespace skipped."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch == "#":
            j = min((k for k in (text.find("\n", i), text.find("\r", i)) if k >= 0), default=n)
            i = j
        elif ch in "\"'":
            start = i
            if text.startswith(ch * 3, i):
                j = i + 3
                while j < n and not text.startswith(ch * 3, j):
                    j += 2 if text[j] == "\\" else 1
                i = min(j + 3, n)
            else:
                j = i + 1
                while j < n and text[j] != ch and text[j] not in "\r\n":
                    j += 2 if text[j] == "\\" else 1
                i = min(j + 1, n)
            yield Token("string", text[start:i], start)
        elif ch == "<" and (m := _IRI.match(text, i)):
            yield Token("iri", m.group(0)[1:-1], i)
            i = m.end()
        elif ch in "?$" and (m := _VAR.match(text, i)):
            yield Token("var", m.group(0), i)
            i = m.end()
        elif ch.isdigit():
            m = _NUMBER.match(text, i)
            yield Token("number", m.group(0), i)
            i = m.end()
        elif (m := _WORD.match(text, i)) and m.end() > i:
            yield Token("word", m.group(0), i)
            i = m.end()
        else:
            yield Token("punct", ch, i)
            i += 1


_PROLOGUE_WORDS = {"PREFIX", "BASE"}
QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
UPDATE_WORDS = ("INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH")


def first_keyword(text: str) -> str | None:
    """The first keyword after the prologue (``SELECT``, ``ASK``, ``INSERT`` …), upper-case, or ``None``."""
    skip = 0
    for tok in tokens(text):
        if skip:
            skip -= 1
            continue
        if tok.kind == "word" and tok.value.upper() in _PROLOGUE_WORDS:
            skip = 2 if tok.value.upper() == "PREFIX" else 1
            continue
        return tok.value.upper() if tok.kind == "word" else None
    return None


def query_form(text: str) -> str | None:
    """``"select"``, ``"ask"``, ``"construct"`` or ``"describe"`` for a query text; ``None`` otherwise."""
    word = first_keyword(text)
    return word.lower() if word in QUERY_FORMS else None


def is_update(text: str) -> bool:
    """True when *text* starts (after its prologue) with a SPARQL Update operation."""
    return first_keyword(text) in UPDATE_WORDS


def has_from(text: str) -> bool:
    """True when *text* has a ``FROM`` / ``FROM NAMED`` clause (its own dataset)."""
    return any(t.kind == "word" and t.value.upper() == "FROM" for t in tokens(text))


# -- the interface ------------------------------------------------------------------------------------

Solutions = list[dict[str, object]]


@runtime_checkable
class Backend(Protocol):
    """What every reader of the graph needs. Queries see the union of the named graphs as default graph.

    * ``solutions(sparql, bindings=None) -> (variables, rows)``: a SELECT, rows of pyoxigraph terms
      (``{variable: term}``, unbound variables absent).
    * ``select(sparql, bindings=None) -> list[dict]``: the same rows as plain Python values
      (:func:`cqpm_graph.store.term_to_python`).
    * ``ask(sparql, bindings=None) -> bool``.
    * ``construct(sparql) -> list[pyoxigraph.Triple]``: CONSTRUCT or DESCRIBE.
    * ``raw(sparql, accept, default_graphs=(), named_graphs=()) -> (bytes, media type)``: the answer
      serialised in *accept* (one media type of :data:`RESULT_MEDIA_TYPES` / :data:`RDF_MEDIA_TYPES`),
      with an optional SPARQL Protocol dataset; for the ``/sparql`` pass-through.
    * ``named_graphs() -> list[str]``: IRIs of the named graphs, sorted.
    * ``graph_triples(graph) -> list[pyoxigraph.Triple]``: the content of one named graph.
    * ``build_id() -> str``: changes whenever the data changes (cache key for dumps).

    *bindings* (``{name: term or python value}``) are given to pyoxigraph as substitutions on the
    embedded store and inserted as ``VALUES`` on a remote endpoint.
    All raise :class:`BackendSyntaxError` for a malformed query and :class:`BackendError` otherwise.
    """

    kind: str
    description: str

    def solutions(self, sparql: str, bindings: dict | None = None) -> tuple[list[str], Solutions]: ...
    def select(self, sparql: str, bindings: dict | None = None) -> list[dict]: ...
    def ask(self, sparql: str, bindings: dict | None = None) -> bool: ...
    def construct(self, sparql: str) -> list[ox.Triple]: ...
    def raw(self, sparql: str, accept: str, default_graphs: Iterable[str] = (),
            named_graphs: Iterable[str] = ()) -> tuple[bytes, str]: ...
    def named_graphs(self) -> list[str]: ...
    def graph_triples(self, graph: str) -> list[ox.Triple]: ...
    def build_id(self) -> str: ...


def _to_term(value) -> object:
    """A binding value as a pyoxigraph term (terms unchanged; ``str`` → plain literal, ``int`` → integer)."""
    if isinstance(value, (ox.NamedNode, ox.BlankNode, ox.Literal)):
        return value
    if isinstance(value, bool):
        return ox.Literal("true" if value else "false", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#boolean"))
    if isinstance(value, int):
        return ox.Literal(str(value), datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer"))
    return ox.Literal(str(value))


def with_values(sparql: str, bindings: dict | None) -> str:
    """*sparql* with one ``VALUES ?name { term }`` per binding inserted just inside the outer ``WHERE {``
    (the same rule as :meth:`cqpm_graph.queries.StoredQuery.render`).

    :raises ValueError: when the text has no ``WHERE`` group, or a value cannot be written as SPARQL.
    """
    if not bindings:
        return sparql
    from .queries import _values_insertion_point, sparql_term  # the catalogue's own, tested, writer
    block = "".join(f"\n  VALUES ?{str(name).lstrip('?$')} {{ {sparql_term(_to_term(value))} }}"
                    for name, value in bindings.items())
    pos = _values_insertion_point(sparql)
    if pos is None:
        raise ValueError("no WHERE { … } group to insert the parameter values into")
    return sparql[:pos] + block + "\n" + sparql[pos:]


def _rows(result) -> tuple[list[str], Solutions]:
    names = [v.value for v in result.variables]
    return names, [{n: s[n] for n in names if s[n] is not None} for s in result]


class _BackendBase:
    """Shared conversions; subclasses implement :meth:`_query` (a pyoxigraph-like result)."""

    kind = "base"
    description = ""

    def _query(self, sparql: str, bindings: dict | None = None):  # pragma: no cover - abstract
        raise NotImplementedError

    def solutions(self, sparql, bindings=None):
        result = self._query(sparql, bindings)
        if not isinstance(result, ox.QuerySolutions):
            raise BackendError("solutions() needs a SELECT query")
        return _rows(result)

    def select(self, sparql, bindings=None):
        _, rows = self.solutions(sparql, bindings)
        return [{k: term_to_python(v) for k, v in row.items()} for row in rows]

    def ask(self, sparql, bindings=None):
        result = self._query(sparql, bindings)
        if not isinstance(result, ox.QueryBoolean):
            raise BackendError("ask() needs an ASK query")
        return bool(result)

    def construct(self, sparql):
        result = self._query(sparql)
        if isinstance(result, (ox.QuerySolutions, ox.QueryBoolean)):
            raise BackendError("construct() needs a CONSTRUCT or DESCRIBE query")
        return list(result)

    def named_graphs(self):
        _, rows = self.solutions("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
        return sorted(r["g"].value for r in rows if isinstance(r.get("g"), ox.NamedNode))

    def graph_triples(self, graph):
        return self.construct(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{ox.NamedNode(graph).value}> {{ ?s ?p ?o }} }}")


# -- embedded ------------------------------------------------------------------------------------------

class LiveStore:
    """The live build of a store directory, opened read-only and reopened after ``cqpm-graph build``.

    A read-only pyoxigraph store is a snapshot, and the build it was opened from is deleted after the
    swap, so :attr:`store` checks the ``current`` link on each access (cheap) and reopens once per
    new build.

    :raises cqpm_graph.store.StoreNotFoundError: at construction, when the directory holds no build.
    """

    def __init__(self, store_dir: Path):
        self.dir = Path(store_dir)
        self._lock = threading.Lock()
        self.path = live_path(self.dir)
        self._store = open_store(self.dir)

    @property
    def store(self) -> ox.Store:
        """The current store (reopened at most once per new build)."""
        try:
            path = live_path(self.dir)
        except FileNotFoundError:  # the link vanished mid-swap: keep serving the open snapshot
            return self._store
        if path != self.path:
            with self._lock:
                if path != self.path:
                    try:
                        self._store = open_store(self.dir)
                        self.path = path
                    except OSError:  # pragma: no cover - racing a concurrent swap; keep the old one
                        pass
        return self._store


class EmbeddedBackend(_BackendBase):
    """The pyoxigraph store built on this machine.

    :param store: an open :class:`pyoxigraph.Store` (tests, tools), or
    :param store_dir: a store directory whose live build is opened read-only and followed across
        rebuilds (:class:`LiveStore`).
    """

    kind = "embedded"

    def __init__(self, store: ox.Store | None = None, store_dir: Path | None = None):
        if (store is None) == (store_dir is None):
            raise ValueError("EmbeddedBackend needs exactly one of store or store_dir")
        self._fixed = store
        self.live = LiveStore(store_dir) if store_dir is not None else None
        self.description = f"store {store_dir}" if store_dir is not None else "in-memory store"

    @property
    def store(self) -> ox.Store:
        """The pyoxigraph store queries run on."""
        return self._fixed if self._fixed is not None else self.live.store

    @property
    def store_path(self) -> Path | None:
        """Directory of the live build (what a worker process opens), or ``None`` for a fixed store."""
        return self.live.path if self.live is not None else None

    def _query(self, sparql, bindings=None, **kwargs):
        kwargs = dict(kwargs)
        if bindings:
            kwargs["substitutions"] = {ox.Variable(str(k).lstrip("?$")): _to_term(v) for k, v in bindings.items()}
        try:
            return store_query(self.store, sparql, **kwargs)
        except SyntaxError as exc:
            raise BackendSyntaxError(str(exc)) from exc
        except RuntimeError as exc:
            if bindings and "projection" in str(exc):  # pyoxigraph only substitutes projected variables
                return self._query(with_values(sparql, bindings), **kwargs)
            raise BackendError(f"query failed: {exc}") from exc
        except OSError as exc:
            raise BackendError(f"the store failed: {exc}") from exc

    def query(self, sparql: str, default_graphs: Iterable[str] = (), named_graphs: Iterable[str] = ()):
        """The lazy pyoxigraph result (``QuerySolutions`` / ``QueryBoolean`` / ``QueryTriples``), with an
        optional protocol dataset (which turns the union default graph off, as the protocol requires)."""
        default_graphs, named_graphs = list(default_graphs), list(named_graphs)
        kwargs = {}
        if default_graphs or named_graphs:
            kwargs = {"default_graph": [ox.NamedNode(g) for g in default_graphs],
                      "named_graphs": [ox.NamedNode(g) for g in named_graphs]}
            try:
                return self.store.query(sparql, **kwargs)
            except SyntaxError as exc:
                raise BackendSyntaxError(str(exc)) from exc
        if has_from(sparql):  # the query's own FROM wins over the union
            try:
                return self.store.query(sparql)
            except SyntaxError as exc:
                raise BackendSyntaxError(str(exc)) from exc
        return self._query(sparql)

    def raw(self, sparql, accept, default_graphs=(), named_graphs=()):
        result = self.query(sparql, default_graphs, named_graphs)
        try:
            return serialize_result(result, accept)
        except OSError as exc:
            raise BackendError(f"the store failed: {exc}") from exc

    def named_graphs(self):
        return sorted(g.value for g in self.store.named_graphs() if isinstance(g, ox.NamedNode))

    def graph_triples(self, graph):
        node = ox.NamedNode(graph)
        return [ox.Triple(q.subject, q.predicate, q.object) for q in self.store.quads_for_pattern(None, None, None, node)]

    def build_id(self):
        if self.live is not None:
            self.live.store  # noqa: B018 - follows a rebuild, updating live.path
            return f"embedded-{self.live.path.name}"
        return f"memory-{id(self._fixed):x}-{len(self._fixed)}"


def serialize_result(result, media_type: str) -> tuple[bytes, str]:
    """Serialise a pyoxigraph query result as *media_type* (runs a lazy query).

    :raises BackendError: (406) when the media type does not fit the result kind.
    """
    if isinstance(result, (ox.QuerySolutions, ox.QueryBoolean)):
        fmt = RESULT_MEDIA_TYPES.get(media_type)
        if fmt is None:
            raise BackendError(f"{media_type} is not a SPARQL results format", status=406)
        return result.serialize(format=fmt), media_type
    fmt = RDF_MEDIA_TYPES.get(media_type)
    if fmt is None or fmt in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):
        raise BackendError(f"{media_type} is not an RDF graph format", status=406)
    from .uris import PREFIXES
    prefixes = PREFIXES if fmt == ox.RdfFormat.TURTLE else None
    return ox.serialize(result, format=fmt, prefixes=prefixes), media_type


# -- remote --------------------------------------------------------------------------------------------

GET_LIMIT = 1500  # longer queries are POSTed (URLs over ~2 KB are cut by some proxies)


class RemoteBackend(_BackendBase):
    """Any SPARQL 1.1 Protocol endpoint, through SPARQLWrapper.

    :param url: the query endpoint (Oxigraph server ``http://host:7878/query``, Fuseki
        ``http://host:3030/ds/sparql``, GraphDB ``http://host:7200/repositories/x``, QLever …). It must
        expose the union of its named graphs as default graph (see the module documentation).
    :param timeout: seconds to wait for an answer (per socket operation).
    """

    kind = "remote"

    def __init__(self, url: str, timeout: float = 10.0):
        if not re.match(r"^https?://", url or ""):
            raise ValueError(f"endpoint {url!r} (CQPM_ENDPOINT / --endpoint) must be an http(s) URL")
        self.url = url
        self.timeout = timeout
        self.description = f"endpoint {url}"
        self._build_id: tuple[float, str] | None = None

    def _request(self, sparql: str, accept: str, default_graphs: Iterable[str] = (),
                 named_graphs: Iterable[str] = ()) -> tuple[bytes, str]:
        import socket

        from SPARQLWrapper import GET, POST, SPARQLWrapper
        from SPARQLWrapper import SPARQLExceptions as sx

        wrapper = SPARQLWrapper(self.url, agent=f"cqpm-graph/{__version__}")
        wrapper.setOnlyConneg(True)  # no format=/output= parameters: Accept says it all
        wrapper.setTimeout(max(1, int(round(self.timeout))))
        wrapper.setQuery(sparql)
        # SPARQLWrapper guesses the query type with a regular expression that a comment can fool (it
        # then sends the query as an update); our lexer knows better
        wrapper.queryType = (query_form(sparql) or "select").upper()
        wrapper.setMethod(POST if len(sparql) > GET_LIMIT else GET)
        for g in default_graphs:
            wrapper.addDefaultGraph(g)
        for g in named_graphs:
            wrapper.addNamedGraph(g)
        wrapper.addCustomHttpHeader("Accept", accept)  # replaces the header SPARQLWrapper would choose
        try:
            response = wrapper.query().response
            body = response.read()
        except sx.QueryBadFormed as exc:
            raise BackendSyntaxError(f"the endpoint {self.url} refused the query: {_clean(exc)}") from exc
        except sx.SPARQLWrapperException as exc:
            raise BackendError(f"the endpoint {self.url} failed: {_clean(exc)}", status=502) from exc
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode("utf-8", "replace") if exc.fp else ""
            if exc.code == 400:
                raise BackendSyntaxError(f"the endpoint {self.url} refused the query: {detail}") from exc
            if exc.code in (503, 504) and "timeout" in detail.lower():
                raise BackendTimeout(f"the endpoint {self.url} timed out: {detail}") from exc
            raise BackendError(f"the endpoint {self.url} answered HTTP {exc.code}: {detail}", status=502) from exc
        except (TimeoutError, socket.timeout) as exc:
            raise BackendTimeout(f"no answer from {self.url} within {self.timeout:g} s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise BackendTimeout(f"no answer from {self.url} within {self.timeout:g} s") from exc
            raise BackendError(f"cannot reach the endpoint {self.url}: {exc.reason}", status=502) from exc
        except OSError as exc:
            raise BackendError(f"cannot reach the endpoint {self.url}: {exc}", status=502) from exc
        media_type = (response.headers.get("Content-Type") or accept).split(";")[0].strip().lower()
        return body, media_type

    def _query(self, sparql, bindings=None):
        if bindings:
            try:
                sparql = with_values(sparql, bindings)
            except ValueError as exc:
                raise BackendError(str(exc)) from exc
        form = query_form(sparql)
        if form in ("construct", "describe"):
            body, media_type = self._request(sparql, f"{N_TRIPLES}, {TURTLE};q=0.5")
            return iter(_parse_rdf(body, media_type, self.url))
        body, media_type = self._request(sparql, f"{SPARQL_JSON}, {SPARQL_XML};q=0.5")
        fmt = ox.QueryResultsFormat.XML if "xml" in media_type else ox.QueryResultsFormat.JSON
        try:
            return ox.parse_query_results(body, format=fmt)
        except (SyntaxError, ValueError) as exc:
            raise BackendError(f"unreadable results from {self.url} ({media_type}): {exc}", status=502) from exc

    def raw(self, sparql, accept, default_graphs=(), named_graphs=()):
        return self._request(sparql, accept, default_graphs, named_graphs)

    def build_id(self):
        """Fingerprint of the remote data: the build date in ``graph/build`` and the number of quads,
        recomputed at most every 30 s."""
        now = time.monotonic()
        if self._build_id and now - self._build_id[0] < 30:
            return self._build_id[1]
        _, rows = self.solutions("""SELECT (COUNT(*) AS ?n) (MAX(STR(?c)) AS ?created) WHERE {
            { GRAPH ?g { ?s ?p ?o } } UNION { GRAPH ?g2 { ?d a <http://rdfs.org/ns/void#Dataset> ;
                                                       <http://purl.org/dc/terms/created> ?c } } }""")
        row = rows[0] if rows else {}
        key = f"{self.url}|{getattr(row.get('n'), 'value', '')}|{getattr(row.get('created'), 'value', '')}"
        value = "remote-" + hashlib.sha256(key.encode()).hexdigest()[:16]
        self._build_id = (now, value)
        return value

    def check_union(self) -> bool:
        """True when the endpoint's default graph reads the named graphs (or there are none)."""
        if not self.ask("ASK { GRAPH ?g { ?s ?p ?o } }"):
            return True
        return self.ask("ASK { ?s ?p ?o }")


def _clean(exc: Exception) -> str:
    text = str(exc)
    text = text.split("Response:", 1)[-1].strip() if "Response:" in text else text
    if text.startswith("b'") or text.startswith('b"'):
        try:
            import ast
            text = ast.literal_eval(text).decode("utf-8", "replace")
        except (ValueError, SyntaxError):
            pass
    return text.strip()[:500]


def _parse_rdf(body: bytes, media_type: str, url: str) -> list[ox.Triple]:
    fmt = RDF_MEDIA_TYPES.get(media_type) or ox.RdfFormat.from_media_type(media_type) or ox.RdfFormat.N_TRIPLES
    try:
        return [ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(body, format=fmt)]
    except (SyntaxError, ValueError) as exc:
        raise BackendError(f"unreadable RDF from {url} ({media_type}): {exc}", status=502) from exc


# -- choosing one ----------------------------------------------------------------------------------------

def backend_for(settings: Settings) -> Backend:
    """The backend the settings ask for: :class:`RemoteBackend` when ``settings.endpoint`` is set
    (timeout ``settings.query_timeout``), else :class:`EmbeddedBackend` on ``settings.store``.

    :raises cqpm_graph.store.StoreNotFoundError: embedded, when the store directory holds no build.
    :raises ValueError: remote, when the endpoint is not an http(s) URL.
    """
    if settings.endpoint:
        return RemoteBackend(settings.endpoint, timeout=settings.query_timeout)
    return EmbeddedBackend(store_dir=settings.store)


def as_backend(obj) -> Backend:
    """*obj* if it is already a backend; a :class:`pyoxigraph.Store` wrapped in :class:`EmbeddedBackend`."""
    if isinstance(obj, ox.Store):
        return EmbeddedBackend(store=obj)
    return obj


__all__ = ["Backend", "EmbeddedBackend", "RemoteBackend", "LiveStore", "BackendError", "BackendSyntaxError",
           "BackendTimeout", "backend_for", "as_backend", "with_values", "serialize_result", "tokens", "Token",
           "query_form", "is_update", "has_from", "first_keyword", "RESULT_MEDIA_TYPES", "RDF_MEDIA_TYPES"]
