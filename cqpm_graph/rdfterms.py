"""Small helpers to write pyoxigraph quads: IRIs, typed and language-tagged literals.

The build writes pyoxigraph terms directly (no rdflib round trip): that is what keeps bulk loading fast.
"""
from __future__ import annotations

import datetime
from collections.abc import Iterable

import pyoxigraph as ox

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


def iri(value: str) -> ox.NamedNode:
    """An IRI term from a string (or an rdflib URIRef, which is a ``str``)."""
    return ox.NamedNode(str(value))


def lit(value, lang: str | None = None) -> ox.Literal:
    """A literal typed from its Python type.

    ``str`` → ``xsd:string`` (or ``rdf:langString`` when *lang* is given), ``bool`` → ``xsd:boolean``,
    ``int`` → ``xsd:integer``, ``float`` → ``xsd:double``, ``datetime.date`` → ``xsd:date``,
    ``datetime.datetime`` → ``xsd:dateTime``.
    """
    if isinstance(value, bool):
        return ox.Literal("true" if value else "false", datatype=ox.NamedNode(XSD + "boolean"))
    if isinstance(value, int):
        return ox.Literal(str(value), datatype=ox.NamedNode(XSD + "integer"))
    if isinstance(value, float):
        return ox.Literal(repr(value), datatype=ox.NamedNode(XSD + "double"))
    if isinstance(value, datetime.datetime):
        return ox.Literal(value.isoformat(), datatype=ox.NamedNode(XSD + "dateTime"))
    if isinstance(value, datetime.date):
        return ox.Literal(value.isoformat(), datatype=ox.NamedNode(XSD + "date"))
    if lang:
        return ox.Literal(str(value), language=lang)
    return ox.Literal(str(value))


def typed(value: str, datatype: str) -> ox.Literal:
    """A literal with an explicit XSD datatype local name, e.g. ``typed("2007", "gYear")``."""
    return ox.Literal(value, datatype=ox.NamedNode(XSD + datatype))


class QuadSink:
    """Collect quads for one named graph.

    :param graph: IRI of the named graph every quad goes to.
    """

    def __init__(self, graph: str):
        self.graph = iri(graph)
        self.quads: list[ox.Quad] = []

    def add(self, s, p, o) -> None:
        """Add one triple; ``None`` objects are skipped so callers need no ``if`` for optional values."""
        if o is None:
            return
        self.quads.append(ox.Quad(s if isinstance(s, (ox.NamedNode, ox.BlankNode)) else iri(s),
                                  p if isinstance(p, ox.NamedNode) else iri(p),
                                  o if isinstance(o, (ox.NamedNode, ox.BlankNode, ox.Literal)) else iri(o),
                                  self.graph))

    def add_all(self, s, p, objects: Iterable) -> None:
        """Add ``(s, p, o)`` for every ``o`` in *objects*."""
        for o in objects:
            self.add(s, p, o)
