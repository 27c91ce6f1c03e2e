"""The Flask explorer: pages for certifications, ROME and NSF codes, and a SPARQL 1.1 endpoint.

``create_app()`` is the application factory. It chooses the backend once (the embedded pyoxigraph
store of ``settings.store`` opened read-only, a remote SPARQL endpoint when ``settings.endpoint`` is set,
or a store / backend handed in by a test) and keeps it on ``app.extensions["cqpm_graph"]`` (an
:class:`Explorer`); views reach it through :mod:`cqpm_graph.webapp.context` and never open a store or
read the environment themselves.

Blueprints, one per kind of page:

=====================  ====================================================================
``views.home``         ``/`` (list + search box), ``/search``, ``/certifications.json``
``views.certification````/certification/<id>`` and its JSON twin ``/certification/<id>.json``
``views.bridges``      ``/certification/<id>/passerelles.json``, ``/certification/<id>/graphe[.json]``,
                       ``/ecart[.json]`` (gap analysis)
``views.nomenclature`` ``/rome/``, ``/rome/<code>``, ``/nsf/``, ``/nsf/<code>`` (+ ``.json`` twins)
``views.sparql``       ``/sparql`` (page + SPARQL 1.1 Protocol), ``/sparql/resultats``,
                       ``/sparql/requetes/<name>`` (stored query catalogue)
``views.lod``          ``/id/<kind>/<local>`` (303), ``/<kind>/<local>`` (conneg), ``/context.jsonld``,
                       ``/.well-known/void``, ``/catalog``, ``/dumps/…``, ``/ontology``
=====================  ====================================================================
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox
from flask import Flask, render_template, request

from cqpm_graph.backend import Backend, BackendError, EmbeddedBackend, LiveStore, RemoteBackend
from cqpm_graph.config import Settings
from cqpm_graph.uris import URIScheme

EXTENSION_KEY = "cqpm_graph"

log = logging.getLogger(__name__)


class StoreHandle(LiveStore):
    """The live store of a directory, reopened after a rebuild (kept for callers of the first explorer;
    see :class:`cqpm_graph.backend.LiveStore`)."""


@dataclass
class Explorer:
    """What the views share: the settings, the URI scheme, the backend and the query catalogue.

    :ivar settings: resolved :class:`~cqpm_graph.config.Settings` (``base_uri`` decides the URI scheme).
    :ivar uris: the :class:`~cqpm_graph.uris.URIScheme` for ``settings.base_uri``.
    :ivar backend: where queries run (:class:`~cqpm_graph.backend.EmbeddedBackend` or
        :class:`~cqpm_graph.backend.RemoteBackend`).
    :ivar queries: the guarded runner of ``/sparql`` queries (:class:`cqpm_graph.webapp.protocol.QueryService`).
    :ivar catalogue: the stored-query catalogue (:class:`cqpm_graph.webapp.catalogue.Catalogue`),
        loaded lazily on first use; tests may replace it.
    :ivar cache: per-build caches (VoID counts, dumps, ontology documentation): :class:`cqpm_graph.webapp.lod.Cache`.
    :ivar bridges: the :class:`cqpm_graph.bridges.Bridges` engine over :attr:`backend`, built on first use
        by :func:`cqpm_graph.webapp.bridges.engine`; tests may replace it.
    """

    settings: Settings
    uris: URIScheme
    backend: Backend
    queries: Any = None
    catalogue: Any = None
    cache: Any = None
    bridges: Any = None
    _catalogue_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def store(self) -> ox.Store:
        """The embedded pyoxigraph store (read-only). :raises RuntimeError: on a remote backend."""
        store = getattr(self.backend, "store", None)
        if store is None:
            raise RuntimeError(f"the explorer reads {self.backend.description}, not an embedded store")
        return store

    @property
    def handle(self):
        """The :class:`~cqpm_graph.backend.LiveStore` of an embedded store directory, else ``None``."""
        return getattr(self.backend, "live", None)

    def get_catalogue(self):
        """The query catalogue, loaded from :mod:`cqpm_graph.queries` on first call."""
        if self.catalogue is None:
            with self._catalogue_lock:
                if self.catalogue is None:
                    from .catalogue import Catalogue
                    self.catalogue = Catalogue.load()
        return self.catalogue


def create_app(settings: Settings | None = None, store: ox.Store | None = None,
               backend: Backend | None = None) -> Flask:
    """Build the explorer application.

    :param settings: store, base URI, endpoint and limits; default :meth:`Settings.from_env`
        (``CQPM_STORE``, ``CQPM_BASE_URI``, ``CQPM_ENDPOINT``, ``CQPM_QUERY_TIMEOUT`` …). With
        ``settings.endpoint`` every page and ``/sparql`` read that remote SPARQL endpoint
        (:class:`~cqpm_graph.backend.RemoteBackend`); otherwise the embedded store of ``settings.store``.
    :param store: an already open pyoxigraph store to serve instead (tests).
    :param backend: any :class:`~cqpm_graph.backend.Backend` to serve instead (tests, tools).
    :returns: a configured :class:`flask.Flask` app; ``app.extensions["cqpm_graph"]`` is the
        :class:`Explorer`.
    :raises cqpm_graph.store.StoreNotFoundError: embedded, when ``settings.store`` holds no build yet.
    :raises ValueError: when ``settings.endpoint`` is not an http(s) URL.
    """
    if settings is None:
        settings = Settings.from_env()
    if backend is None:
        if store is not None:
            backend = EmbeddedBackend(store=store)
        elif settings.endpoint:
            backend = RemoteBackend(settings.endpoint, timeout=settings.query_timeout)
        else:
            backend = EmbeddedBackend(store_dir=settings.store)

    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(CQPM_SETTINGS=settings, MAX_CONTENT_LENGTH=1024 * 1024)  # 1 MiB of query is plenty
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    from .lod import Cache
    from .protocol import QueryService
    explorer = Explorer(settings=settings, uris=URIScheme(settings.base_uri), backend=backend)
    explorer.queries = QueryService.for_backend(backend, settings)
    explorer.cache = Cache(settings.cache_dir)
    app.extensions[EXTENSION_KEY] = explorer

    from . import filters
    filters.register(app)

    from .views import bridges, certification, home, lod, nomenclature, sparql
    app.url_map.converters["kind"] = lod.KindConverter
    app.register_blueprint(home.bp)
    app.register_blueprint(certification.bp)
    app.register_blueprint(bridges.bp)
    app.register_blueprint(nomenclature.bp)
    app.register_blueprint(sparql.bp)
    app.register_blueprint(lod.bp)

    @app.errorhandler(404)
    def not_found(exc):
        message = getattr(exc, "description", None) or "Page introuvable."
        if request.path.endswith(".json"):
            return {"error": "not found", "message": message}, 404
        return render_template("error.html", status=404, title="Page introuvable", message=message), 404

    @app.errorhandler(BackendError)
    def backend_error(exc):
        # the store or the remote endpoint failed: 502 unreachable / failing endpoint, 503 timeout
        status = exc.status if exc.status >= 500 else 500
        log.warning("backend error on %s: %s", request.path, exc.message)
        if request.path.endswith(".json"):
            return {"error": "backend", "message": exc.message}, status
        return render_template("error.html", status=status, title="Données indisponibles",
                               message=exc.message), status

    @app.errorhandler(500)
    def server_error(exc):  # pragma: no cover - only on bugs or store failures
        return render_template("error.html", status=500, title="Erreur du serveur",
                               message="Une erreur inattendue s'est produite."), 500

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
                "frame-ancestors 'none'; form-action 'self'")
        return response

    return app


__all__ = ["create_app", "Explorer", "StoreHandle", "EXTENSION_KEY"]
