"""Bridge to the stored-query catalogue (:mod:`cqpm_graph.queries`), imported lazily.

The catalogue module is optional for the explorer: when it cannot be imported the SPARQL page says so
and only offers the free query form.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)


@dataclass
class Catalogue:
    """The stored queries offered on the SPARQL page.

    :ivar queries: ``{name: StoredQuery}`` (objects with ``name, title, description, params, text``;
        each param has ``name, kind, description, required, pattern``).
    :ivar runner: ``runner(backend, stored_query, params: dict[str, str]) -> QueryResult`` (with
        ``kind``, ``variables``, ``rows``) — :func:`cqpm_graph.queries.run_on` (works on the embedded
        store and on a remote endpoint), or :func:`cqpm_graph.queries.run` when the module has no
        ``run_on``.
    :ivar parameter_error: exception class raised for bad parameters (shown to the user as a 400).
    :ivar error: why the catalogue is unavailable, or ``None``.
    """

    queries: dict[str, Any] = field(default_factory=dict)
    runner: Callable | None = None
    parameter_error: type[Exception] = ValueError
    error: str | None = None

    @classmethod
    def load(cls) -> "Catalogue":
        """Load :func:`cqpm_graph.queries.load_catalogue`; never raises (errors land in :attr:`error`)."""
        try:
            from cqpm_graph import queries as module
        except ImportError as exc:
            return cls(error=f"le module cqpm_graph.queries est absent ({exc})")
        try:
            catalogue = module.load_catalogue()
        except Exception as exc:  # a broken .rq file must not take the explorer down
            log.exception("cannot load the query catalogue")
            return cls(error=f"le catalogue de requêtes n'a pas pu être chargé : {exc}")
        return cls(queries=dict(catalogue), runner=getattr(module, "run_on", module.run),
                   parameter_error=getattr(module, "QueryParameterError", ValueError))

    def run(self, backend, name: str, params: dict[str, str]):
        """Run the stored query *name* with *params* on *backend* (:class:`cqpm_graph.backend.Backend`).

        :raises KeyError: unknown name. :raises parameter_error: bad or missing parameters.
        """
        if self.runner is None:
            raise KeyError(name)
        return self.runner(backend, self.queries[name], params)

    def render(self, name: str, params: dict[str, str]) -> str | None:
        """The SPARQL text with *params* substituted, if the stored query can render itself."""
        query = self.queries[name]
        render = getattr(query, "render", None)
        if render is None:
            return getattr(query, "text", None)
        try:
            return render(params)
        except Exception:  # noqa: BLE001 - only used for a download link
            return None
