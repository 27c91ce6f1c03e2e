"""Accessors the views use to reach what :func:`cqpm_graph.webapp.create_app` chose."""
from __future__ import annotations

import pyoxigraph as ox
from flask import current_app

from cqpm_graph.uris import URIScheme


def explorer():
    """The app's :class:`cqpm_graph.webapp.Explorer` (``app.extensions["cqpm_graph"]``)."""
    from . import EXTENSION_KEY
    return current_app.extensions[EXTENSION_KEY]


def store() -> ox.Store:
    """The read-only pyoxigraph store chosen by the factory."""
    return explorer().store


def uris() -> URIScheme:
    """The URI scheme for the configured base URI."""
    return explorer().uris
