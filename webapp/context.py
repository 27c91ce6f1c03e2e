"""Accessors the views use to reach what :func:`cqpm_graph.webapp.create_app` chose."""
from __future__ import annotations

import pyoxigraph as ox
from flask import current_app

from cqpm_graph.backend import Backend
from cqpm_graph.uris import URIScheme


def explorer():
    """The app's :class:`cqpm_graph.webapp.Explorer` (``app.extensions["cqpm_graph"]``)."""
    from . import EXTENSION_KEY
    return current_app.extensions[EXTENSION_KEY]


def backend() -> Backend:
    """Where the pages' queries run: the embedded store or a remote SPARQL endpoint."""
    return explorer().backend


def store() -> ox.Store:
    """The read-only embedded pyoxigraph store (:raises RuntimeError: on a remote backend)."""
    return explorer().store


def uris() -> URIScheme:
    """The URI scheme for the configured base URI."""
    return explorer().uris


def settings():
    """The explorer's :class:`cqpm_graph.config.Settings`."""
    return explorer().settings
