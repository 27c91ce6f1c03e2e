"""Dumps of the graph in the usual RDF formats (``cqpm-graph export``).

Dataset formats (N-Quads, TriG, JSON-LD) keep the named graphs, hence the provenance; triple formats
(Turtle, N-Triples) hold the union of all graphs, or one graph with ``graph=``.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox

from .uris import PREFIXES

FORMATS: dict[str, ox.RdfFormat] = {
    "ttl": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "nq": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "jsonld": ox.RdfFormat.JSON_LD,
}


def dump(store: ox.Store, fmt: str, out: BinaryIO, graph: str | None = None) -> None:
    """Serialise the store (or one named graph) to a binary stream.

    :param fmt: a key of :data:`FORMATS`.
    :param graph: IRI of one named graph to export; ``None`` for everything.
    :raises ValueError: for an unknown format or a graph that is not in the store.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    rdf_format = FORMATS[fmt]
    prefixes = PREFIXES if rdf_format in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else None
    if graph is not None:
        node = ox.NamedNode(graph)
        if not store.contains_named_graph(node):
            raise ValueError(f"no named graph {graph} in the store")
        if rdf_format.supports_datasets:
            quads = store.quads_for_pattern(None, None, None, node)
            ox.serialize(quads, out, rdf_format, prefixes=prefixes)
        else:
            store.dump(out, rdf_format, from_graph=node, prefixes=prefixes)
        return
    if rdf_format.supports_datasets:
        store.dump(out, rdf_format, prefixes=prefixes)
        return
    # Triple formats: the union of all named graphs, each triple once.
    triples = store.query("CONSTRUCT { ?s ?p ?o } WHERE { SELECT DISTINCT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } } }")
    ox.serialize(triples, out, rdf_format, prefixes=prefixes)


def export_to_file(store: ox.Store, fmt: str, output: Path, graph: str | None = None) -> int:
    """Write a dump to *output* atomically (temporary file, then rename): a failure leaves no half file.

    :returns: the size written, in bytes.
    :raises ValueError: see :func:`dump`; :raises OSError: when the output folder is not writable.
    """
    output = Path(output)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            dump(store, fmt, fh, graph)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return output.stat().st_size
