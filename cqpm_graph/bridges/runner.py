"""Query runners: how :class:`~cqpm_graph.bridges.Bridges` runs the named queries of ``queries/``.

A runner is any callable ``runner(name, params) -> list[dict]``:

* *name* is a catalogue query name (``bridge-blocks``);
* *params* maps a declared parameter to a string, or to a **list** of strings — the query then runs once
  for all of them, with a multi-row ``VALUES`` block (one query for a whole list of candidates);
* it returns one ``{variable: python value}`` dict per solution (as :func:`cqpm_graph.store.select`),
  unbound variables absent.

:class:`StoreRunner` runs on the embedded pyoxigraph store, :class:`EndpointRunner` on a remote SPARQL 1.1
endpoint through SPARQLWrapper; both read the same ``.rq`` files, so the bridges are the same on both.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import pyoxigraph as ox

from .. import queries as queries_mod
from ..store import json_term_to_python, query as store_query, serialized_rows

Params = Mapping[str, str | Sequence[str] | None]
Runner = Callable[[str, Params], list[dict]]


def render_with_lists(query: queries_mod.StoredQuery, params: Params, only_lists: bool = False) -> str:
    """The query text with one ``VALUES`` block per given parameter, several rows for a list.

    With *only_lists*, single values are left out of the text (the caller binds them otherwise, e.g. as
    pyoxigraph substitutions).

    The blocks go at the top of the ``WHERE`` group, or, when the query has lines ``#VALUES``, at each of
    them (a comment for any other reader: the query stays valid SPARQL).

    Every value is validated by the parameter's declaration (:meth:`QueryParam.to_term`) and written
    escaped (:func:`cqpm_graph.queries.sparql_term`), as :meth:`StoredQuery.render` does for one value.

    :raises cqpm_graph.queries.QueryParameterError: for an undeclared parameter, a missing required one
        or an invalid value.
    :raises ValueError: for an empty list (there would be nothing to ask), or a query without ``WHERE {``.
    """
    single = {k: v for k, v in params.items() if isinstance(v, str)}
    lists = {k: list(v) for k, v in params.items() if v is not None and not isinstance(v, str)}
    for key, values in lists.items():
        if not values:
            raise ValueError(f"parameter '{key}': empty list")
    # bind() checks names, required parameters and the single values; lists are checked below
    query.bind({**single, **{k: v[0] for k, v in lists.items()}})
    blocks: dict[str, str] = {}
    for key, value in ({} if only_lists else single).items():
        blocks[key] = f"VALUES ?{key} {{ {queries_mod.sparql_term(query.param(key).to_term(value))} }}"
    for key, values in lists.items():
        param = query.param(key)
        terms = " ".join(queries_mod.sparql_term(param.to_term(v)) for v in dict.fromkeys(values))
        blocks[key] = f"VALUES ?{key} {{ {terms} }}"
    if not blocks:
        return query.text
    if _VALUES_MARK_RE.search(query.text):
        # the query says where its values go (e.g. at the top of each UNION branch or sub-SELECT, which a
        # VALUES block at the top of the WHERE group does not reach in pyoxigraph's plans); "#VALUES a b"
        # takes the blocks of those parameters only
        def place(m: re.Match) -> str:
            names = m.group(2).split()
            chosen = [b for k, b in blocks.items() if not names or k in names]
            return m.group(1) + ("\n" + m.group(1)).join(chosen) if chosen else m.group(1) + "# (no values)"
        return _VALUES_MARK_RE.sub(place, query.text)
    pos = queries_mod._values_insertion_point(query.text)  # same place as StoredQuery.render
    if pos is None:
        raise ValueError(f"query {query.name!r}: no WHERE {{ … }} group to insert parameter values into")
    return query.text[:pos] + "\n  " + "\n  ".join(blocks.values()) + "\n" + query.text[pos:]


_SUBSTITUTIONS_RE = re.compile(r"^#\s*binding\s*:\s*substitutions\s*$", re.M)
#: A line ``#VALUES`` (or ``#VALUES name …``: those parameters only) in a query body: where
#: :func:`render_with_lists` puts the VALUES blocks (each place).
_VALUES_MARK_RE = re.compile(r"^([ \t]*)#VALUES((?:[ \t]+[A-Za-z_][A-Za-z0-9_]*)*)[ \t]*$", re.M)


class StoreRunner:
    """Run catalogue queries on an embedded pyoxigraph store (union of the named graphs).

    :param store: an open :class:`pyoxigraph.Store` (read-only is fine).
    :param catalogue: ``{name: StoredQuery}``; default :func:`cqpm_graph.queries.load_catalogue`.

    Parameter values go in as a ``VALUES`` block at the top of the ``WHERE`` group, which pyoxigraph's
    optimiser sees (pyoxigraph applies ``substitutions`` to aggregates only after grouping: 100× slower).
    A query whose header has the line ``# binding: substitutions`` (its ``UNION`` branches are each
    anchored on the parameter, which a top ``VALUES`` block does not reach) gets its single values as
    substitutions instead, and its lists as ``VALUES``.
    """

    #: safe to call from several threads at once (pyoxigraph stores are)
    concurrent = True

    def __init__(self, store: ox.Store, catalogue: dict[str, queries_mod.StoredQuery] | None = None):
        self.store = store
        self.catalogue = catalogue if catalogue is not None else queries_mod.load_catalogue()

    def __call__(self, name: str, params: Params) -> list[dict]:
        """Run query *name* with *params*; see the module doc for the shapes.

        :raises cqpm_graph.queries.UnknownQueryError: for a name not in the catalogue.
        :raises cqpm_graph.queries.QueryParameterError: for a bad parameter.
        """
        query = queries_mod.resolve(name, self.catalogue)
        params = {k: v for k, v in params.items() if v is not None}
        if not _SUBSTITUTIONS_RE.search(query.text):
            result = store_query(self.store, render_with_lists(query, params))
        elif any(not isinstance(v, str) for v in params.values()):
            # lists as VALUES; single values stay substitutions, so they are constants in every
            # group of the query (pyoxigraph evaluates UNION branches on their own)
            text = render_with_lists(query, params, only_lists=True)  # validates every value
            substitutions = {ox.Variable(k): query.param(k).to_term(v) for k, v in params.items()
                             if isinstance(v, str)}
            result = store_query(self.store, text, substitutions=substitutions or None)
        else:
            substitutions = query.bind(params)
            try:
                result = store_query(self.store, query.text, substitutions=substitutions or None)
            except RuntimeError as exc:  # a parameter the SELECT does not project
                if "projection" not in str(exc):
                    raise
                result = store_query(self.store, query.render(params))
        return serialized_rows(result)


class BackendRunner:
    """A :mod:`cqpm_graph.bridges.runner` runner over any :class:`~cqpm_graph.backend.Backend`.

    ``runner(name, params) -> [{variable: python value}]`` like :class:`~cqpm_graph.bridges.StoreRunner`,
    but through ``backend.select`` so the explorer's embedded store (followed across rebuilds) and its
    remote endpoint both work. Same binding rule as ``StoreRunner``: parameters go in as a ``VALUES``
    block (one row per list item), except the single values of a query marked ``# binding:
    substitutions``, given as bindings (pyoxigraph substitutions on the embedded store, ``VALUES`` on a
    remote endpoint — see :meth:`cqpm_graph.backend.Backend.select`).

    :raises cqpm_graph.queries.UnknownQueryError: unknown query name.
    :raises cqpm_graph.queries.QueryParameterError: a bad parameter value.
    :raises cqpm_graph.backend.BackendError: the store or endpoint failed.
    """

    #: safe to call from several threads at once (the explorer's threads share the backend already)
    concurrent = True

    def __init__(self, backend, catalogue: dict[str, queries_mod.StoredQuery]):
        self.backend = backend
        self.catalogue = catalogue

    def __call__(self, name: str, params: Params) -> list[dict]:
        query = queries_mod.resolve(name, self.catalogue)
        params = {k: v for k, v in params.items() if v is not None}
        if not _SUBSTITUTIONS_RE.search(query.text):
            return self.backend.select(render_with_lists(query, params))
        text = render_with_lists(query, params, only_lists=True)  # validates every value
        bindings = {k: query.param(k).to_term(v) for k, v in params.items() if isinstance(v, str)}
        return self.backend.select(text, bindings or None)


class EndpointRunner:
    """Run catalogue queries on a remote SPARQL 1.1 query endpoint (SPARQLWrapper, JSON results).

    :param url: the endpoint (e.g. ``http://127.0.0.1:8000/sparql``).
    :param catalogue: as for :class:`StoreRunner`.
    :param timeout: seconds per request.

    The endpoint must use the union of its named graphs as default graph (``oxigraph serve
    --union-default-graph`` and ``cqpm-graph serve`` do).
    """

    def __init__(self, url: str, catalogue: dict[str, queries_mod.StoredQuery] | None = None,
                 timeout: float = 30.0):
        from SPARQLWrapper import JSON, POST, SPARQLWrapper

        self.url = url
        self.catalogue = catalogue if catalogue is not None else queries_mod.load_catalogue()
        self._client = SPARQLWrapper(url)
        self._client.setReturnFormat(JSON)
        self._client.setMethod(POST)
        self._client.setTimeout(int(timeout))

    def __call__(self, name: str, params: Params) -> list[dict]:
        """Run query *name* with *params* on the endpoint.

        :raises cqpm_graph.queries.QueryParameterError: for a bad parameter.
        :raises SPARQLWrapper.SPARQLExceptions.SPARQLWrapperException: for an endpoint error.
        """
        query = queries_mod.resolve(name, self.catalogue)
        params = {k: v for k, v in params.items() if v is not None}
        self._client.setQuery(render_with_lists(query, params))
        data = self._client.queryAndConvert()
        return [{k: json_term_to_python(v) for k, v in b.items()} for b in data["results"]["bindings"]]
