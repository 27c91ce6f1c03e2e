"""SPARQL 1.1 Protocol (query operation) for ``/sparql``: request checks, content negotiation, guarded
evaluation (time and memory limits, result cap, SERVICE policy) and the service description,
independent of Flask routing (used by :mod:`.views.sparql`).

Status codes
------------
=====  ===========================================================================================
200    results, in the negotiated format
400    no ``query``, several ``query`` values, a malformed query (the parser's message, text/plain),
       an invalid ``default-graph-uri`` / ``named-graph-uri``
403    an update (``update=`` parameter, ``application/sparql-update`` body, or query text that is an
       update such as ``INSERT DATA``): the endpoint is read-only. A ``SERVICE`` clause when federation
       is off (the default), or naming an endpoint outside ``CQPM_SERVICE_ALLOWLIST``, or a variable /
       relative endpoint that cannot be checked
406    no supported media type in ``Accept`` (and no usable ``format``)
413    request body over 1 MiB
415    a POST body that is neither a form nor ``application/sparql-query``
422    the answer has more rows (or triples) than ``CQPM_RESULT_LIMIT``
500    the store failed while evaluating the query, or the worker process evaluating it crashed (the
       message names the signal or exit code)
502    the remote SPARQL endpoint (``CQPM_ENDPOINT``) failed or could not be reached
503    the query ran past ``CQPM_QUERY_TIMEOUT`` seconds (it was stopped), or needed more than
       ``CQPM_QUERY_MEMORY`` MiB (its worker process died and was replaced), or every worker stayed busy
=====  ===========================================================================================

Formats: SELECT / ASK → ``application/sparql-results+json`` (default), ``application/sparql-results+xml``,
``text/csv``, ``text/tab-separated-values``; CONSTRUCT / DESCRIBE → ``text/turtle`` (default),
``application/ld+json``, ``application/n-triples``, ``application/rdf+xml``. A ``format`` (or ``output``)
parameter — a short name such as ``json``, ``xml``, ``csv``, ``tsv``, ``turtle``, ``json-ld``, ``nt`` or a
media type — wins over ``Accept`` when it names a supported format (a link cannot set headers);
otherwise ``Accept`` decides, and ``*/*`` or no ``Accept`` gives the default.

Federation (``SERVICE``) and SSRF
---------------------------------
pyoxigraph evaluates ``SERVICE <url>`` by itself, over HTTP, with no hook to filter the target. So the
check is made on the query text before evaluation, with a lexer that follows pyoxigraph's own reading
(:func:`cqpm_graph.backend.tokens`; ``\\u`` escapes decoded in IRIs and strings only) *and*, as a second
opinion, the SPARQL specification's reading (escapes decoded first): every ``SERVICE`` keyword either
reading sees must be followed by an absolute ``http(s)`` IRI (written ``<…>`` or as a prefixed name)
that matches an allowlisted prefix — same scheme, host and port, path starting with the prefix's
path. ``SERVICE ?var``, ``BASE`` with ``SERVICE``, user info in the URL, and anything the lexer cannot
read are refused.
"""
from __future__ import annotations

import json
import logging
import re
import time
import urllib.parse
from dataclasses import dataclass

import pyoxigraph as ox
from werkzeug.datastructures import MIMEAccept

from cqpm_graph.backend import (UNICODE_ESCAPE, BackendError, BackendSyntaxError, BackendTimeout, first_keyword,
                                has_from, is_update, tokens)
from cqpm_graph.uris import PREFIXES

from .sandbox import Job, Outcome, PoolTimeout, WorkerPool, evaluate, limit_message, timeout_message

log = logging.getLogger(__name__)


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
GRAPH_FORMATS = (
    Format("text/turtle", ("application/turtle", "application/x-turtle"), ("turtle", "ttl"), ox.RdfFormat.TURTLE,
           charset=True),
    # application/json: JSON-LD is JSON (clients such as rdflib's SPARQLStore ask for it on CONSTRUCT)
    Format("application/ld+json", ("application/x-json+ld", "application/json"), ("json-ld", "jsonld", "json"),
           ox.RdfFormat.JSON_LD),
    Format("application/n-triples", (), ("nt", "ntriples", "n-triples"), ox.RdfFormat.N_TRIPLES, charset=True),
    Format("application/rdf+xml", (), ("rdf", "rdfxml", "rdf+xml", "xml"), ox.RdfFormat.RDF_XML),
)
#: Quad formats, for resources served with their named graphs (``/graph/…``, dumps).
DATASET_FORMATS = (
    Format("application/n-quads", (), ("nq", "nquads", "n-quads"), ox.RdfFormat.N_QUADS, charset=True),
    Format("application/trig", ("application/x-trig",), ("trig",), ox.RdfFormat.TRIG, charset=True),
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


# -- looking inside query text ------------------------------------------------------------------------

def looks_like_update(text: str) -> bool:
    """True when *text* starts (after its prologue) with a SPARQL Update operation."""
    return is_update(text) or is_update(UNICODE_ESCAPE.sub(_unescape, text))


def declares_dataset(text: str) -> bool:
    """True when *text* has a ``FROM`` or ``FROM NAMED`` clause."""
    return has_from(text)


def _unescape(m: re.Match) -> str:
    return chr(int(m.group(1) or m.group(2), 16))


class ServiceRefused(ProtocolError):
    """A ``SERVICE`` clause the policy refuses (403)."""

    def __init__(self, message: str):
        super().__init__(403, message)


def _service_targets_one(text: str) -> list[str]:
    """Endpoint IRIs of the ``SERVICE`` clauses of *text* as the lexer reads it.

    :raises ServiceRefused: for a SERVICE whose target cannot be checked.
    """
    toks = list(tokens(text))
    prefixes: dict[str, str] = {}
    has_base = False
    targets = []
    for i, tok in enumerate(toks):
        if tok.kind != "word":
            continue
        word = tok.value.upper()
        if word == "BASE":
            has_base = True
        elif word == "PREFIX" and i + 2 < len(toks) and toks[i + 1].kind == "word" and toks[i + 2].kind == "iri":
            name = toks[i + 1].value
            if name.endswith(":") and name.count(":") == 1:
                prefixes[name[:-1]] = UNICODE_ESCAPE.sub(_unescape, toks[i + 2].value)
        elif word == "SERVICE":
            j = i + 1
            if j < len(toks) and toks[j].kind == "word" and toks[j].value.upper() == "SILENT":
                j += 1
            target = toks[j] if j < len(toks) else None
            follow = toks[j + 1] if j + 1 < len(toks) else None
            if target is None or follow is None or follow.kind != "punct" or follow.value != "{":
                raise ServiceRefused("Clause SERVICE illisible : elle est refusée.")
            if target.kind == "var":
                raise ServiceRefused("SERVICE avec une variable (SERVICE ?x) n'est pas autorisé : "
                                     "le point d'accès appelé doit être écrit dans la requête.")
            if target.kind == "iri":
                iri = UNICODE_ESCAPE.sub(_unescape, target.value)
            elif target.kind == "word" and ":" in target.value:
                prefix, _, local = target.value.partition(":")
                if prefix not in prefixes:
                    raise ServiceRefused(f"Préfixe inconnu dans SERVICE {target.value}.")
                iri = prefixes[prefix] + re.sub(r"\\(.)", r"\1", local)
            else:
                raise ServiceRefused("Clause SERVICE illisible : elle est refusée.")
            targets.append(iri)
    if targets and has_base:
        raise ServiceRefused("BASE et SERVICE ne peuvent pas être utilisés ensemble sur ce point d'accès.")
    return targets


def service_targets(text: str) -> list[str]:
    """Every endpoint the query's ``SERVICE`` clauses would call, read both as pyoxigraph does and as
    the SPARQL specification does (escapes decoded first).

    :raises ServiceRefused: when a target cannot be checked.
    """
    found = _service_targets_one(text)
    decoded = UNICODE_ESCAPE.sub(_unescape, text)
    if decoded != text:
        found += [t for t in _service_targets_one(decoded) if t not in found]
    return found


def _url_parts(url: str):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password or "@" in parts.netloc:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return parts.scheme, parts.hostname.lower(), port, parts.path or "/"


def service_allowed(target: str, allowlist: tuple[str, ...]) -> bool:
    """True when *target* is an http(s) URL with the scheme, host and port of one allowlist entry and a
    path starting with that entry's path. (Compared parsed, not as strings, so that
    ``http://host.evil`` never passes for ``http://host``.)"""
    t = _url_parts(target)
    if t is None:
        return False
    for entry in allowlist:
        a = _url_parts(entry)
        if a and t[:3] == a[:3] and t[3].startswith(a[3]):
            return True
    return False


def check_service(text: str, allowlist: tuple[str, ...]) -> list[str]:
    """Apply the SERVICE policy to *text*; returns the (allowed) endpoints called.

    :raises ServiceRefused: (403) when federation is off and the query has a SERVICE clause, or when a
        target is not allowlisted or cannot be checked.
    """
    targets = service_targets(text)
    if not targets:
        return []
    if not allowlist:
        raise ServiceRefused("Les requêtes fédérées (SERVICE) ne sont pas autorisées sur ce point d'accès "
                             "(CQPM_SERVICE_ALLOWLIST est vide).")
    for target in targets:
        if not service_allowed(target, allowlist):
            raise ServiceRefused(f"SERVICE <{target}> refusé : ce point d'accès n'est pas dans la liste "
                                 f"autorisée (CQPM_SERVICE_ALLOWLIST).")
    return targets


# -- running ----------------------------------------------------------------------------------------

@dataclass
class Answer:
    """An evaluated query: ``kind`` (``select``, ``ask``, ``graph``), serialised ``body`` in ``media_type``,
    and ``count`` (rows or triples)."""

    kind: str
    body: bytes
    media_type: str
    count: int

    def parsed(self):
        """The answer as pyoxigraph objects: ``QuerySolutions`` / ``QueryBoolean``, or a list of triples."""
        if self.kind == "graph":
            fmt = ox.RdfFormat.from_media_type(self.media_type) or ox.RdfFormat.N_TRIPLES
            return [ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(self.body, format=fmt)]
        fmt = ox.QueryResultsFormat.from_media_type(self.media_type) or ox.QueryResultsFormat.JSON
        return ox.parse_query_results(self.body, format=fmt)


def _graph_nodes(values: list[str], param: str) -> list[str]:
    for v in values:
        try:
            ox.NamedNode(v)
        except ValueError as exc:
            raise ProtocolError(400, f"{param} invalide : {v!r} ({exc})") from exc
    return list(values)


def _form_kind(text: str) -> str | None:
    word = first_keyword(text)
    if word in ("SELECT",):
        return "select"
    if word == "ASK":
        return "ask"
    if word in ("CONSTRUCT", "DESCRIBE"):
        return "graph"
    return None


class QueryService:
    """Runs the untrusted queries of ``/sparql`` and ``/sparql/resultats``: checks (empty, update,
    SERVICE policy, graph IRIs), then evaluation with ``settings.query_timeout`` and
    ``settings.result_limit``.

    * embedded store directory and ``query_workers > 0``: in a :class:`~.sandbox.WorkerPool` (hard time
      limit, and ``settings.query_memory`` MiB per worker process);
    * embedded store object, or ``query_workers == 0``: in the request thread (soft limit, checked
      between solutions);
    * remote endpoint: through the backend (HTTP timeout; the remote server should have its own,
      e.g. ``oxigraph serve --timeout-s``), cap applied on the parsed answer.
    """

    def __init__(self, backend, timeout: float, limit: int, allowlist: tuple[str, ...] = (),
                 pool: WorkerPool | None = None):
        self.backend = backend
        self.timeout = timeout
        self.limit = limit
        self.allowlist = tuple(allowlist)
        self.pool = pool

    @classmethod
    def for_backend(cls, backend, settings) -> "QueryService":
        """The service the settings ask for (a worker pool only for an embedded store directory)."""
        pool = None
        if getattr(backend, "kind", None) == "embedded" and getattr(backend, "live", None) is not None \
                and settings.query_workers > 0:
            pool = WorkerPool(settings.query_workers, memory=settings.query_memory)
        return cls(backend, settings.query_timeout, settings.result_limit, settings.service_allowlist, pool)

    def check(self, text: str) -> str | None:
        """Refuse what must not run; returns the query's kind (``select``/``ask``/``graph``) when the
        lexer can tell.

        :raises ProtocolError: 400 empty, 403 update or refused SERVICE.
        """
        if not text or not text.strip():
            raise ProtocolError(400, "Requête vide : le paramètre « query » est obligatoire.")
        if looks_like_update(text):
            raise ProtocolError(403, "Ce point d'accès est en lecture seule : les mises à jour SPARQL "
                                     "(INSERT, DELETE, LOAD, CLEAR…) sont refusées.")
        check_service(text, self.allowlist)
        return _form_kind(text)

    def kind_of(self, text: str) -> str:
        """The query's kind; when the lexer cannot tell, the parser decides (on an empty in-memory store:
        parsing only, nothing is evaluated).

        :raises ProtocolError: 400 with the parser's message for a malformed query.
        """
        kind = self.check(text)
        if kind:
            return kind
        try:
            result = ox.Store().query(text)
        except SyntaxError as exc:
            raise ProtocolError(400, f"Requête SPARQL invalide : {exc}") from exc
        except (RuntimeError, ValueError, OSError) as exc:  # pragma: no cover
            raise ProtocolError(400, f"Requête SPARQL invalide : {exc}") from exc
        if isinstance(result, ox.QuerySolutions):
            return "select"
        if isinstance(result, ox.QueryBoolean):
            return "ask"
        return "graph"

    def run(self, text: str, media_type: str | None, default_graphs=(), named_graphs=()) -> Answer:
        """Evaluate *text* (already :meth:`check`\\ ed) and serialise it as *media_type* (``None``: SPARQL
        JSON / N-Triples).

        :raises ProtocolError: 400, 422, 500, 502, 503 (see the module table; 503 with
            :func:`~.sandbox.memory_message` when the worker ran out of memory).
        """
        default_graphs = _graph_nodes(list(default_graphs), "default-graph-uri")
        named_graphs = _graph_nodes(list(named_graphs), "named-graph-uri")
        if getattr(self.backend, "kind", None) != "embedded":
            return self._run_remote(text, media_type, default_graphs, named_graphs)
        job = Job(text, media_type, default_graphs, named_graphs, self.limit, self.timeout)
        if self.pool is not None:
            self.backend.store  # noqa: B018 - follow a rebuild before naming the path
            job.store_path = str(self.backend.store_path)
            try:
                outcome = self.pool.run(job)
            except PoolTimeout as exc:
                if str(exc) == "busy":
                    raise ProtocolError(503, "Serveur occupé : toutes les évaluations de requêtes sont en cours. "
                                             "Réessayez dans un instant.") from exc
                raise ProtocolError(503, timeout_message(self.timeout)) from exc
        else:
            outcome = evaluate(self.backend.store, job, deadline=time.monotonic() + self.timeout)
        return _answer(outcome)

    def _run_remote(self, text, media_type, default_graphs, named_graphs) -> Answer:
        kind = self.kind_of(text)
        canonical = "application/n-triples" if kind == "graph" else "application/sparql-results+json"
        try:
            body, got = self.backend.raw(text, canonical, default_graphs, named_graphs)
        except BackendSyntaxError as exc:
            raise ProtocolError(400, f"Requête SPARQL invalide : {exc.message}") from exc
        except BackendTimeout as exc:
            raise ProtocolError(503, timeout_message(self.timeout) + f" ({exc.message})") from exc
        except BackendError as exc:
            raise ProtocolError(exc.status if exc.status >= 500 else 502, exc.message) from exc
        try:
            if kind == "graph":
                fmt = ox.RdfFormat.from_media_type(got) or ox.RdfFormat.N_TRIPLES
                triples = [ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(body, format=fmt)]
                if len(triples) > self.limit:
                    raise ProtocolError(422, limit_message(self.limit, "triplets"))
                target = media_type if media_type in {f.media_type for f in GRAPH_FORMATS} else "application/n-triples"
                rdf_fmt = ox.RdfFormat.from_media_type(target)
                prefixes = PREFIXES if rdf_fmt == ox.RdfFormat.TURTLE else None
                return Answer("graph", ox.serialize(triples, format=rdf_fmt, prefixes=prefixes), target, len(triples))
            fmt = ox.QueryResultsFormat.from_media_type(got) or ox.QueryResultsFormat.JSON
            parsed = ox.parse_query_results(body, format=fmt)
            target = media_type if media_type in {f.media_type for f in RESULT_FORMATS} else "application/sparql-results+json"
            if isinstance(parsed, ox.QueryBoolean):
                return Answer("ask", parsed.serialize(format=ox.QueryResultsFormat.from_media_type(target)), target, 1)
            variables = [v.value for v in parsed.variables]
            rows = []
            for i, solution in enumerate(parsed):
                if i >= self.limit:
                    raise ProtocolError(422, limit_message(self.limit, "lignes"))
                rows.append(solution)
            from cqpm_graph.store import term_to_json
            json_body = json.dumps({"head": {"vars": variables}, "results": {"bindings": [
                {v: term_to_json(s[v]) for v in variables if s[v] is not None} for s in rows]}},
                ensure_ascii=False).encode("utf-8")
            if target != "application/sparql-results+json":
                json_body = ox.parse_query_results(json_body, format=ox.QueryResultsFormat.JSON).serialize(
                    format=ox.QueryResultsFormat.from_media_type(target))
            return Answer("select", json_body, target, len(rows))
        except (SyntaxError, ValueError) as exc:
            raise ProtocolError(502, f"Réponse illisible du point d'accès distant : {exc}") from exc

    def close(self) -> None:
        """Stop the worker processes, if any."""
        if self.pool is not None:
            self.pool.close()


def _answer(outcome: Outcome) -> Answer:
    if not outcome.ok:
        raise ProtocolError(outcome.status, outcome.message)
    return Answer(outcome.kind, outcome.body, outcome.media_type, outcome.count)


# -- service description ----------------------------------------------------------------------------

FORMATS_NS = "http://www.w3.org/ns/formats/"
SD_RESULT_FORMATS = ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                     "Turtle", "N-Triples", "JSON-LD", "RDF_XML")


def service_description(endpoint_url: str, graphs: dict[str, int | None], federation: bool,
                        timeout: float, limit: int) -> list[ox.Triple]:
    """The SPARQL 1.1 Service Description of the endpoint, as triples.

    :param graphs: named graph IRI → number of triples (or ``None`` when unknown).
    """
    sd = "http://www.w3.org/ns/sparql-service-description#"
    void = "http://rdfs.org/ns/void#"
    dcterms = "http://purl.org/dc/terms/"
    rdf_type = ox.NamedNode(PREFIXES["rdf"] + "type")
    service = ox.NamedNode(endpoint_url)
    out: list[ox.Triple] = []

    def add(s, p, o):
        out.append(ox.Triple(s, ox.NamedNode(p) if isinstance(p, str) else p, o))

    add(service, rdf_type, ox.NamedNode(sd + "Service"))
    add(service, sd + "endpoint", service)
    add(service, sd + "supportedLanguage", ox.NamedNode(sd + "SPARQL11Query"))
    for name in SD_RESULT_FORMATS:
        add(service, sd + "resultFormat", ox.NamedNode(FORMATS_NS + name))
    add(service, sd + "feature", ox.NamedNode(sd + "UnionDefaultGraph"))
    if federation:
        add(service, sd + "feature", ox.NamedNode(sd + "BasicFederatedQuery"))
    add(service, sd + "defaultEntailmentRegime", ox.NamedNode("http://www.w3.org/ns/entailment/Simple"))
    add(service, dcterms + "description", ox.Literal(
        f"Point d'accès SPARQL 1.1 en lecture seule de cqpm-graph. Graphe par défaut : l'union des graphes "
        f"nommés. Limites : {timeout:g} s par requête, {limit} lignes par réponse ; "
        f"SERVICE {'limité à une liste blanche' if federation else 'refusé'}.", language="fr"))
    dataset = ox.BlankNode("dataset")
    default_graph = ox.BlankNode("default")
    add(service, sd + "defaultDataset", dataset)
    add(dataset, rdf_type, ox.NamedNode(sd + "Dataset"))
    add(dataset, sd + "defaultGraph", default_graph)
    add(default_graph, rdf_type, ox.NamedNode(sd + "Graph"))
    known = [n for n in graphs.values() if n is not None]
    if known:
        add(default_graph, void + "triples", ox.Literal(str(sum(known)), datatype=ox.NamedNode(PREFIXES["xsd"] + "integer")))
    for i, (iri, count) in enumerate(sorted(graphs.items())):
        named = ox.BlankNode(f"named{i}")
        graph = ox.BlankNode(f"graph{i}")
        add(dataset, sd + "namedGraph", named)
        add(named, rdf_type, ox.NamedNode(sd + "NamedGraph"))
        add(named, sd + "name", ox.NamedNode(iri))
        add(named, sd + "graph", graph)
        add(graph, rdf_type, ox.NamedNode(sd + "Graph"))
        if count is not None:
            add(graph, void + "triples", ox.Literal(str(count), datatype=ox.NamedNode(PREFIXES["xsd"] + "integer")))
    return out


def kind_of(result) -> str:
    """``"select"``, ``"ask"`` or ``"graph"`` for a pyoxigraph query result."""
    if isinstance(result, ox.QuerySolutions):
        return "select"
    if isinstance(result, ox.QueryBoolean):
        return "ask"
    return "graph"
