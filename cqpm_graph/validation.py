"""Which SHACL engine validates a store: pyshacl, the reference, while the graph is small; the engine of
:mod:`cqpm_graph.shacl_fast` (every shape compiled to SPARQL run by oxigraph over the whole store,
cross-checked against pyshacl by the tests) when the graph is national-scale.

pyshacl evaluates each SHACL-SPARQL constraint once per focus node (~17 ms each) on an rdflib copy of the
graph: seconds for the shipped fiches, hours (and several GiB) for the 25,000 fiches of a France
Compétences export; the fast engine validates those in about a minute (docs/benchmarks.md).
"""
from __future__ import annotations

import pyoxigraph as ox

#: Engines a user can ask for (``--engine``).
ENGINES = ("auto", "pyshacl", "fast")
#: With ``auto``, pyshacl up to this many certifications in the store, the fast engine above.
AUTO_PYSHACL_MAX_CERTIFICATIONS = 100

_COUNT = """SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {
  ?c a <https://w3id.org/cqpm/ontology#Certification> }"""


def choose_engine(store: ox.Store, engine: str = "auto") -> str:
    """``"pyshacl"`` or ``"fast"`` for *store*.

    :param engine: ``"auto"`` (by the number of ``cqpm:Certification`` in the store, see
        :data:`AUTO_PYSHACL_MAX_CERTIFICATIONS`), ``"pyshacl"`` or ``"fast"``.
    :raises ValueError: for another *engine* name.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown SHACL engine {engine!r} (one of {', '.join(ENGINES)})")
    if engine != "auto":
        return engine
    rows = list(store.query(_COUNT, use_default_graph_as_union=True))
    count = int(rows[0]["n"].value) if rows else 0
    return "pyshacl" if count <= AUTO_PYSHACL_MAX_CERTIFICATIONS else "fast"


def validate_store(store: ox.Store, engine: str = "auto", shapes=None):
    """Validate everything in *store* (all named graphs together) against the shapes.

    :param engine: see :func:`choose_engine`.
    :param shapes: an rdflib graph of shapes (default: every ``shapes/*.ttl``).
    :returns: a :class:`cqpm_graph.shacl.ValidationReport` whose ``engine`` attribute names the engine
        used (``"pyshacl"``, ``"oxigraph-sparql"``).
    :raises ValueError: for an unknown engine name.
    """
    chosen = choose_engine(store, engine)
    if chosen == "fast":
        from .shacl_fast import load_all_shapes, validate_fast
        return validate_fast(store, shapes if shapes is not None else load_all_shapes())
    from .shacl import graph_from_store, validate
    report = validate(graph_from_store(store), shapes)
    report.engine = "pyshacl"
    return report
