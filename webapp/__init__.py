"""The Flask explorer: pages for certifications, ROME and NSF codes, and a SPARQL 1.1 endpoint.

``create_app()`` is the application factory. It chooses the store once (the embedded pyoxigraph
store of ``settings.store``, opened read-only, or a store handed in by a test) and keeps it on
``app.extensions["cqpm_graph"]`` (an :class:`Explorer`); views reach it through
:mod:`cqpm_graph.webapp.context` and never open a store or read the environment themselves.

Blueprints, one per kind of page:

=====================  ====================================================================
``views.home``         ``/`` (list + search box), ``/search``, ``/certifications.json``
``views.certification````/certification/<id>`` and its JSON twin ``/certification/<id>.json``
``views.nomenclature`` ``/rome/``, ``/rome/<code>``, ``/nsf/``, ``/nsf/<code>`` (+ ``.json`` twins)
``views.sparql``       ``/sparql`` (page + SPARQL 1.1 Protocol), ``/sparql/resultats``,
                       ``/sparql/requetes/<name>`` (stored query catalogue)
=====================  ====================================================================
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from flask import Flask, render_template, request

from cqpm_graph.config import Settings
from cqpm_graph.store import live_path, open_store
from cqpm_graph.uris import URIScheme

EXTENSION_KEY = "cqpm_graph"

log = logging.getLogger(__name__)


class StoreHandle:
    """The store the explorer reads, chosen once by :func:`create_app`.

    With a fixed store (handed in by a caller), :attr:`store` always returns it. With a store
    directory, the live build (``DIR/current``) is opened read-only; when ``cqpm-graph build`` swaps in
    a new build, the next request reopens the new one (a read-only pyoxigraph store is a snapshot, and
    the build it was opened from is deleted after the swap).

    :raises cqpm_graph.store.StoreNotFoundError: at construction, when the directory holds no build.
    """

    def __init__(self, store: ox.Store | None = None, store_dir: Path | None = None):
        if store is None and store_dir is None:
            raise ValueError("StoreHandle needs a store or a store directory")
        self._lock = threading.Lock()
        self._dir = None if store is not None else Path(store_dir)
        self._path: Path | None = None
        if store is not None:
            self._store = store
        else:
            self._path = live_path(self._dir)
            self._store = open_store(self._dir)

    @property
    def store(self) -> ox.Store:
        """The current store (reopened at most once per new build)."""
        if self._dir is None:
            return self._store
        try:
            path = live_path(self._dir)
        except FileNotFoundError:  # the link vanished mid-swap: keep serving the open snapshot
            return self._store
        if path != self._path:
            with self._lock:
                if path != self._path:
                    try:
                        self._store = open_store(self._dir)
                        self._path = path
                        log.info("explorer: reopened the live store %s", path)
                    except OSError as exc:  # pragma: no cover - racing a concurrent swap
                        log.warning("explorer: could not reopen %s (%s); keeping the previous one", path, exc)
        return self._store


@dataclass
class Explorer:
    """What the views share: the settings, the URI scheme, the store and the query catalogue.

    :ivar settings: resolved :class:`~cqpm_graph.config.Settings` (``base_uri`` decides the URI scheme).
    :ivar uris: the :class:`~cqpm_graph.uris.URIScheme` for ``settings.base_uri``.
    :ivar handle: the :class:`StoreHandle`; use :attr:`store`.
    :ivar catalogue: the stored-query catalogue (:class:`cqpm_graph.webapp.catalogue.Catalogue`),
        loaded lazily on first use; tests may replace it.
    """

    settings: Settings
    uris: URIScheme
    handle: StoreHandle
    catalogue: Any = None
    _catalogue_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def store(self) -> ox.Store:
        """The pyoxigraph store to query (read-only)."""
        return self.handle.store

    def get_catalogue(self):
        """The query catalogue, loaded from :mod:`cqpm_graph.queries` on first call."""
        if self.catalogue is None:
            with self._catalogue_lock:
                if self.catalogue is None:
                    from .catalogue import Catalogue
                    self.catalogue = Catalogue.load()
        return self.catalogue


def create_app(settings: Settings | None = None, store: ox.Store | None = None) -> Flask:
    """Build the explorer application.

    :param settings: where the store is and the base URI; default :meth:`Settings.from_env`
        (``CQPM_STORE``, ``CQPM_BASE_URI``). ``settings.endpoint`` is ignored: the explorer always
        reads the embedded store.
    :param store: an already open pyoxigraph store to serve instead of ``settings.store`` (tests).
    :returns: a configured :class:`flask.Flask` app; ``app.extensions["cqpm_graph"]`` is the
        :class:`Explorer`.
    :raises cqpm_graph.store.StoreNotFoundError: when no *store* is given and ``settings.store`` holds
        no build yet.
    """
    if settings is None:
        settings = Settings.from_env()
    handle = StoreHandle(store=store) if store is not None else StoreHandle(store_dir=settings.store)

    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(CQPM_SETTINGS=settings, MAX_CONTENT_LENGTH=1024 * 1024)  # 1 MiB of query is plenty
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions[EXTENSION_KEY] = Explorer(settings=settings, uris=URIScheme(settings.base_uri), handle=handle)

    from . import filters
    filters.register(app)

    from .views import certification, home, nomenclature, sparql
    app.register_blueprint(home.bp)
    app.register_blueprint(certification.bp)
    app.register_blueprint(nomenclature.bp)
    app.register_blueprint(sparql.bp)

    @app.errorhandler(404)
    def not_found(exc):
        message = getattr(exc, "description", None) or "Page introuvable."
        if request.path.endswith(".json"):
            return {"error": "not found", "message": message}, 404
        return render_template("error.html", status=404, title="Page introuvable", message=message), 404

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
