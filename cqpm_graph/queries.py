"""Named SPARQL queries ("stored queries"): the ``queries/*.rq`` catalogue, parameters and results.

Each ``queries/<name>.rq`` file starts with a header of ``#`` comment lines (syntax in
``queries/README.md``)::

    # title: Certifications par code ROME
    # title@en: Certifications by ROME code
    # description: Les certifications qui mènent à une fiche ROME donnée …
    # param: rome (literal) — code ROME (H2503), domaine professionnel (H25) ou grand domaine (H)
    # pattern: rome ^[A-N]([0-9]{2}([0-9]{2})?)?$

Parameters are never pasted into the query text as raw input. On the embedded store they are given
to pyoxigraph as SEP-0007 ``substitutions`` (:meth:`StoredQuery.bind`); for a remote endpoint
:meth:`StoredQuery.render` inserts a ``VALUES`` block of validated, escaped terms at the top of the
outer ``WHERE`` group.

Typical use::

    catalogue = load_catalogue()
    result = run(open_store(settings), catalogue["certifications-by-rome"], {"rome": "H25"})
    print(result.to_table())
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from . import store as store_mod

XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"

#: Kinds of parameter a header may declare, and the RDF term each becomes.
PARAM_KINDS = ("literal", "iri", "integer")

_DEFAULT_PATTERNS = {
    "iri": r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*",
    "integer": r"[+-]?\d+",
}
_PARAM_RE = re.compile(
    r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\((?P<opts>[^)]*)\))?\s*(?:(?:—|–|--|-|:)\s*(?P<desc>.*))?$")
_HEADER_RE = re.compile(r"^#\s*(?P<key>[A-Za-z][A-Za-z0-9_-]*(?:@[A-Za-z-]+)?)\s*:\s?(?P<value>.*)$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class QueryHeaderError(ValueError):
    """A ``.rq`` header that cannot be read; the message starts with ``<file>:<line>:``."""

    def __init__(self, path: Path | str, line: int, message: str):
        self.path = str(path)
        self.line = line
        super().__init__(f"{path}:{line}: {message}")


class QueryParameterError(ValueError):
    """A missing, unknown or invalid parameter value; ``param`` names the parameter."""

    def __init__(self, param: str, message: str):
        self.param = param
        super().__init__(f"parameter '{param}': {message}")


class UnknownQueryError(LookupError):
    """Neither a catalogue name nor a readable ``.rq`` file; ``available`` lists the names."""

    def __init__(self, name: str, available: list[str]):
        self.name = name
        self.available = available
        super().__init__(f"unknown query {name!r}; available queries: {', '.join(available) or '(none)'}")


@dataclass
class QueryParam:
    """One declared parameter of a stored query.

    :ivar name: the SPARQL variable it binds (``rome`` for ``?rome``).
    :ivar kind: ``literal`` (xsd:string), ``iri`` or ``integer`` (xsd:integer).
    :ivar description: French help text from the header.
    :ivar required: ``False`` when declared ``optional``; an absent optional parameter leaves the
        variable unbound.
    :ivar pattern: regular expression the whole (stripped) value must match, or ``None``.
    """

    name: str
    kind: str = "literal"
    description: str = ""
    required: bool = True
    pattern: str | None = None

    def to_term(self, value: str):
        """Validate *value* and return its pyoxigraph term.

        :raises QueryParameterError: when the value is empty, has control characters or does not
            match the kind or the pattern.
        """
        value = value.strip()
        if not value:
            raise QueryParameterError(self.name, "empty value")
        if _CONTROL_RE.search(value):
            raise QueryParameterError(self.name, "the value contains control characters")
        default = _DEFAULT_PATTERNS.get(self.kind)
        if default and not re.fullmatch(default, value):
            raise QueryParameterError(self.name, f"{value!r} is not a valid {self.kind}")
        if self.pattern and not re.fullmatch(self.pattern, value):
            expected = f"expected {self.description}" if self.description else "expected"
            raise QueryParameterError(self.name, f"{value!r} is not valid; {expected} (pattern {self.pattern})")
        if self.kind == "iri":
            return ox.NamedNode(value)
        if self.kind == "integer":
            return ox.Literal(str(int(value)), datatype=ox.NamedNode(XSD_INTEGER))
        return ox.Literal(value)


@dataclass
class StoredQuery:
    """A named SPARQL query of the catalogue (or any ``.rq`` file).

    :ivar name: file stem (``certifications-by-rome``); ``title`` / ``description`` in French;
        ``params`` in header order; ``text`` the whole file; ``path`` where it was read.
    :ivar titles: every ``title`` / ``title@<lang>`` line by language (``""`` for the default);
        ``descriptions`` likewise.
    """

    name: str
    title: str
    description: str
    params: list[QueryParam]
    text: str
    path: Path | None = None
    titles: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)

    def param(self, name: str) -> QueryParam | None:
        """The declared parameter called *name*, or ``None``."""
        return next((p for p in self.params if p.name == name), None)

    def bind(self, params: dict[str, str] | None = None) -> dict[ox.Variable, object]:
        """Validate *params* and return pyoxigraph ``substitutions`` (``{Variable: term}``).

        Absent optional parameters are left out (their variable stays unbound).

        :raises QueryParameterError: for an undeclared name, a missing required parameter or an
            invalid value; the error names the parameter.
        """
        params = {k: v for k, v in (params or {}).items() if v is not None}
        for key in params:
            if self.param(key) is None:
                declared = ", ".join(p.name for p in self.params) or "none"
                raise QueryParameterError(key, f"unknown parameter for query {self.name!r} (declared: {declared})")
        bound: dict[ox.Variable, object] = {}
        for p in self.params:
            raw = params.get(p.name)
            if raw is None or (not p.required and not str(raw).strip()):
                if p.required:
                    raise QueryParameterError(p.name, f"required by query {self.name!r} ({p.description})")
                continue
            bound[ox.Variable(p.name)] = p.to_term(str(raw))
        return bound

    def render(self, params: dict[str, str] | None = None) -> str:
        """The query text with a ``VALUES`` block per bound parameter, for a remote endpoint.

        The block is inserted just inside the outer ``WHERE {`` (a trailing ``VALUES`` would only
        join after aggregation), so parameters must be used at the top level of that group.
        Values are validated by :meth:`bind` and written as escaped literals or checked ``<IRI>``\\ s.

        :raises QueryParameterError: as :meth:`bind`.
        :raises ValueError: when the text has no ``WHERE`` group to insert into.
        """
        bound = self.bind(params)
        if not bound:
            return self.text
        block = "".join(f"\n  VALUES ?{var.value} {{ {sparql_term(term)} }}" for var, term in bound.items())
        pos = _values_insertion_point(self.text)
        if pos is None:
            raise ValueError(f"query {self.name!r}: no WHERE {{ … }} group to insert parameter values into")
        return self.text[:pos] + block + "\n" + self.text[pos:]


def sparql_term(term) -> str:
    """Write a pyoxigraph NamedNode or Literal as SPARQL text (escaped ``"…"``, ``<IRI>``).

    :raises ValueError: for an IRI with characters SPARQL forbids, or another kind of term.
    """
    if isinstance(term, ox.NamedNode):
        if re.search(r"[\x00-\x20<>\"{}|^`\\]", term.value):
            raise ValueError(f"invalid IRI {term.value!r}")
        return f"<{term.value}>"
    if isinstance(term, ox.Literal):
        text = (term.value.replace("\\", "\\\\").replace('"', '\\"')
                .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))
        if term.language:
            return f'"{text}"@{term.language}'
        dt = term.datatype.value if term.datatype else ""
        if dt and dt != "http://www.w3.org/2001/XMLSchema#string":
            return f'"{text}"^^<{dt}>'
        return f'"{text}"'
    raise ValueError(f"cannot write {term!r} as a SPARQL parameter")


def _scan(text: str):
    """Yield ``(position, token)`` for the braces and bare words of *text*, skipping comments,
    strings and IRIs (enough of the SPARQL lexer to find the outer ``WHERE {``)."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif c in "\"'":
            if text.startswith(c * 3, i):
                j = i + 3
                while j < n and not text.startswith(c * 3, j):
                    j += 2 if text[j] == "\\" else 1
                i = j + 3
            else:
                j = i + 1
                while j < n and text[j] != c and text[j] != "\n":
                    j += 2 if text[j] == "\\" else 1
                i = j + 1
        elif c == "<":
            m = re.match(r"<[^<>\"{}|^`\\\x00-\x20]*>", text[i:])
            i += len(m.group(0)) if m else 1
        elif c in "{}":
            yield i, c
            i += 1
        elif c.isalpha() or c in "?$_":
            m = re.match(r"[?$]?[A-Za-z_][A-Za-z0-9_:\-]*", text[i:])
            yield i, m.group(0)
            i += len(m.group(0))
        else:
            i += 1


def _values_insertion_point(text: str) -> int | None:
    """Position just after the ``{`` opening the outer WHERE group of *text*, or ``None``."""
    depth = 0
    seen_where = False
    first_brace = None
    form = None
    for pos, tok in _scan(text):
        if tok == "{":
            if depth == 0:
                if seen_where:
                    return pos + 1
                if first_brace is None:
                    first_brace = pos + 1
            depth += 1
        elif tok == "}":
            depth -= 1
        elif depth == 0:
            up = tok.upper()
            if form is None and up in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
                form = up
            if up == "WHERE":
                seen_where = True
    # ``SELECT * { … }`` / ``ASK { … }`` without the WHERE keyword
    return first_brace if form in ("SELECT", "ASK") else None


def parse_header(text: str, path: Path | str, require: bool = True) -> tuple[dict[str, str], dict[str, str], list[QueryParam]]:
    """Read the ``#`` header of a ``.rq`` file.

    :returns: ``(titles, descriptions, params)``; titles/descriptions keyed by language tag (``""``
        for the French default).
    :raises QueryHeaderError: for a malformed ``param`` / ``pattern`` line, a duplicate parameter,
        a pattern for an undeclared parameter, or (when *require*) a missing title or description.
    """
    titles: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    params: list[QueryParam] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        m = _HEADER_RE.match(stripped)
        if not m:
            continue  # free comment line
        key, value = m.group("key").lower(), m.group("value").strip()
        base, _, lang = key.partition("@")
        if base in ("title", "description"):
            if not value:
                raise QueryHeaderError(path, lineno, f"empty {key}")
            (titles if base == "title" else descriptions)[lang] = value
        elif base == "param":
            pm = _PARAM_RE.match(value)
            if not pm:
                raise QueryHeaderError(path, lineno, f"malformed param line {value!r}; expected 'name (kind[, optional]) — description'")
            name = pm.group("name")
            if any(p.name == name for p in params):
                raise QueryHeaderError(path, lineno, f"parameter {name!r} declared twice")
            kind, required = "literal", True
            for opt in filter(None, (o.strip().lower() for o in (pm.group("opts") or "").split(","))):
                if opt in PARAM_KINDS:
                    kind = opt
                elif opt == "optional":
                    required = False
                elif opt == "required":
                    required = True
                else:
                    raise QueryHeaderError(path, lineno, f"unknown option {opt!r} for parameter {name!r}; expected one of {', '.join(PARAM_KINDS)}, optional")
            params.append(QueryParam(name, kind, (pm.group("desc") or "").strip(), required))
        elif base == "pattern":
            name, _, regex = value.partition(" ")
            regex = regex.strip()
            param = next((p for p in params if p.name == name), None)
            if param is None:
                raise QueryHeaderError(path, lineno, f"pattern for undeclared parameter {name!r} (declare it first with '# param:')")
            if not regex:
                raise QueryHeaderError(path, lineno, f"empty pattern for parameter {name!r}")
            try:
                re.compile(regex)
            except re.error as exc:
                raise QueryHeaderError(path, lineno, f"invalid pattern for parameter {name!r}: {exc}") from exc
            param.pattern = regex
    if require:
        if "" not in titles:
            raise QueryHeaderError(path, 1, "missing '# title:' line")
        if "" not in descriptions:
            raise QueryHeaderError(path, 1, "missing '# description:' line")
    return titles, descriptions, params


def load_query(path: Path | str, require_header: bool = True) -> StoredQuery:
    """Read one ``.rq`` file into a :class:`StoredQuery` named after its stem.

    :raises QueryHeaderError: for a malformed header (see :func:`parse_header`).
    :raises OSError: when the file cannot be read.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    titles, descriptions, params = parse_header(text, path, require=require_header)
    return StoredQuery(
        name=path.stem, title=titles.get("", path.stem), description=descriptions.get("", ""),
        params=params, text=text, path=path, titles=titles, descriptions=descriptions)


def load_catalogue(folder: Path | str | None = None) -> dict[str, StoredQuery]:
    """Load every ``*.rq`` of *folder* (default: :func:`cqpm_graph.resources.queries_dir`).

    :returns: ``{name: StoredQuery}`` sorted by name.
    :raises QueryHeaderError: naming the file and line of the first malformed header.
    """
    if folder is None:
        from .resources import queries_dir
        folder = queries_dir()
    return {p.stem: load_query(p) for p in sorted(Path(folder).glob("*.rq"))}


def resolve(name_or_path: str | Path, catalogue: dict[str, StoredQuery] | None = None) -> StoredQuery:
    """A catalogue query by name, or any ``.rq`` file by path (its header is then optional).

    :raises UnknownQueryError: listing the catalogue names when it is neither.
    :raises QueryHeaderError: for a malformed header.
    """
    catalogue = load_catalogue() if catalogue is None else catalogue
    key = str(name_or_path)
    if key in catalogue:
        return catalogue[key]
    path = Path(key)
    if path.is_file():
        return load_query(path, require_header=False)
    raise UnknownQueryError(key, sorted(catalogue))


@dataclass
class QueryResult:
    """Results of :func:`run`.

    :ivar kind: ``"select"``, ``"ask"`` or ``"construct"`` (also DESCRIBE).
    :ivar variables: column names (``subject``, ``predicate``, ``object`` for a graph result;
        empty for ASK).
    :ivar rows: one ``{variable: python value}`` dict per solution (see
        :func:`cqpm_graph.store.term_to_python`); unbound variables are absent.
    :ivar terms: the same rows with pyoxigraph terms (to tell IRIs from literals).
    :ivar boolean: the answer of an ASK query, else ``None``.
    """

    kind: str
    variables: list[str]
    rows: list[dict]
    terms: list[dict] = field(default_factory=list)
    boolean: bool | None = None
    _json: bytes | None = field(default=None, repr=False)

    def to_table(self, max_width: int | None = 80) -> str:
        """An aligned plain-text table (``true``/``false`` for ASK); cells longer than *max_width*
        are cut with ``…``, line breaks become spaces."""
        if self.kind == "ask":
            return "true" if self.boolean else "false"

        def cell(value) -> str:
            if value is None:
                return ""
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            text = " ".join(text.split())
            if max_width and len(text) > max_width:
                text = text[: max_width - 1] + "…"
            return text

        header = list(self.variables)
        body = [[cell(row.get(v)) for v in header] for row in self.rows]
        widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
                 "  ".join("-" * w for w in widths)]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
        return "\n".join(lines)

    def to_json(self) -> str:
        """SPARQL 1.1 Query Results JSON (``{"head": {"vars": […]}, "results": {"bindings": […]}}``,
        or ``{"head": {}, "boolean": …}``); a graph result is given as bindings of
        ``subject``/``predicate``/``object``."""
        if self._json is not None:
            return self._json.decode("utf-8")
        bindings = [{k: store_mod.term_to_json(t) for k, t in row.items()} for row in self.terms]
        return json.dumps({"head": {"vars": self.variables}, "results": {"bindings": bindings}}, ensure_ascii=False)

    def to_csv(self) -> str:
        """SPARQL 1.1 Query Results CSV (header of variable names, CRLF line ends); for ASK a
        one-column ``boolean`` table."""
        if self.kind == "ask":
            return f"boolean\r\n{'true' if self.boolean else 'false'}\r\n"
        data = self.to_json().encode("utf-8")
        parsed = ox.parse_query_results(data, format=ox.QueryResultsFormat.JSON)
        return parsed.serialize(format=ox.QueryResultsFormat.CSV).decode("utf-8")


def run(store: ox.Store, query: StoredQuery, params: dict[str, str] | None = None) -> QueryResult:
    """Run *query* on *store* (union default graph) with validated *params*.

    Parameters go in as pyoxigraph ``substitutions``; pyoxigraph only accepts those for variables
    the SELECT projects, so for an ad-hoc file that does not project them the VALUES-rendered text
    (:meth:`StoredQuery.render`) is run instead.

    :returns: a :class:`QueryResult`.
    :raises QueryParameterError: for a missing or invalid parameter.
    :raises SyntaxError: for a malformed query (message from the SPARQL parser).
    """
    substitutions = query.bind(params)
    try:
        result = store_mod.query(store, query.text, substitutions=substitutions or None)
    except RuntimeError as exc:
        if not substitutions or "projection" not in str(exc):
            raise
        result = store_mod.query(store, query.render(params))
    if isinstance(result, ox.QueryBoolean):
        return QueryResult("ask", [], [], boolean=bool(result),
                           _json=result.serialize(format=ox.QueryResultsFormat.JSON))
    if isinstance(result, ox.QuerySolutions):
        raw = result.serialize(format=ox.QueryResultsFormat.JSON)
        parsed = ox.parse_query_results(raw, format=ox.QueryResultsFormat.JSON)
        variables = [v.value for v in parsed.variables]
        terms = []
        for solution in parsed:
            terms.append({v: solution[v] for v in variables if solution[v] is not None})
        rows = [{k: store_mod.term_to_python(t) for k, t in row.items()} for row in terms]
        return QueryResult("select", variables, rows, terms, _json=raw)
    variables = ["subject", "predicate", "object"]
    terms = [dict(zip(variables, (t.subject, t.predicate, t.object))) for t in result]
    rows = [{k: store_mod.term_to_python(t) for k, t in row.items()} for row in terms]
    return QueryResult("construct", variables, rows, terms)


def run_on(backend, query: StoredQuery, params: dict[str, str] | None = None) -> QueryResult:
    """Run *query* on any :class:`cqpm_graph.backend.Backend` (or a pyoxigraph store).

    On the embedded store this is :func:`run` (parameters as substitutions). On a remote endpoint the
    text is :meth:`StoredQuery.render`\\ ed with ``VALUES`` for the parameters and sent with the SPARQL
    1.1 Protocol; the answer is read into the same :class:`QueryResult`.

    :raises QueryParameterError: for a missing or invalid parameter.
    :raises SyntaxError: for a malformed query (``cqpm_graph.backend.BackendSyntaxError`` on a remote
        endpoint, which is a ``SyntaxError``).
    :raises cqpm_graph.backend.BackendError: when the endpoint fails or cannot be reached.
    """
    if isinstance(backend, ox.Store):
        return run(backend, query, params)
    if getattr(backend, "kind", None) == "embedded":
        return run(backend.store, query, params)
    from .backend import SPARQL_JSON, query_form
    text = query.render(params)
    if query_form(text) in ("construct", "describe"):
        variables = ["subject", "predicate", "object"]
        terms = [dict(zip(variables, (t.subject, t.predicate, t.object))) for t in backend.construct(text)]
        rows = [{k: store_mod.term_to_python(t) for k, t in row.items()} for row in terms]
        return QueryResult("construct", variables, rows, terms)
    raw, _ = backend.raw(text, SPARQL_JSON)
    parsed = ox.parse_query_results(raw, format=ox.QueryResultsFormat.JSON)
    if isinstance(parsed, ox.QueryBoolean):
        return QueryResult("ask", [], [], boolean=bool(parsed), _json=raw)
    variables = [v.value for v in parsed.variables]
    terms = [{v: s[v] for v in variables if s[v] is not None} for s in parsed]
    rows = [{k: store_mod.term_to_python(t) for k, t in row.items()} for row in terms]
    return QueryResult("select", variables, rows, terms, _json=raw)
