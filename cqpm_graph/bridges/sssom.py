"""Export the mappings of ``graph/bridges`` as an SSSOM mapping set (TSV with a YAML metadata header).

The format is the one of the SSSOM specification (https://w3id.org/sssom/) as read by
``sssom.parsers.parse_sssom_table``: ``#``-prefixed YAML (``curie_map``, ``mapping_set_id``, ``license`` …)
then a tab-separated table with one mapping per row. Identifiers are CURIEs: ``bloc:RNCP28229BC01``,
``capacite:RNCP28229-C10`` (prefixes declared in the ``curie_map`` from the store's base URI).
"""
from __future__ import annotations

import datetime
from typing import TextIO

from .. import __version__
from .runner import Runner

LICENSE = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
COLUMNS = ("subject_id", "subject_label", "predicate_id", "object_id", "object_label",
           "mapping_justification", "similarity_score", "similarity_measure", "mapping_tool")
#: Kinds of data IRIs given their own CURIE prefix (``<base><kind>/``).
KIND_PREFIXES = ("bloc", "capacite", "certification")
STANDARD_PREFIXES = {
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "semapv": "https://w3id.org/semapv/vocab/",
    "owl": "http://www.w3.org/2002/07/owl#",
    "cqpm": "https://w3id.org/cqpm/ontology#",
}


def _curie(iri: str, prefixes: dict[str, str]) -> str:
    best = max((p for p in prefixes.items() if iri.startswith(p[1])), key=lambda p: len(p[1]), default=None)
    return f"{best[0]}:{iri[len(best[1]):]}" if best else iri


def _cell(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def write_sssom(runner: Runner, out: TextIO, base_uri: str, mapping_date: datetime.date | None = None) -> int:
    """Write every mapping of ``graph/bridges`` (query ``bridge-mappings``) to *out* as SSSOM TSV.

    :param runner: a query runner (:class:`~cqpm_graph.bridges.runner.StoreRunner` …).
    :param base_uri: the data base URI (``https://w3id.org/cqpm/id/``): gives the CURIE prefixes and the
        ``mapping_set_id`` (``<base>graph/bridges``).
    :param mapping_date: date written in the header (default: today).
    :returns: the number of mappings written (0 when the store has no ``graph/bridges``: header only).
    """
    prefixes = {kind: f"{base_uri}{kind}/" for kind in KIND_PREFIXES}
    prefixes["cqpmid"] = base_uri
    prefixes.update(STANDARD_PREFIXES)
    rows = runner("bridge-mappings", {})
    date = (mapping_date or datetime.date.today()).isoformat()
    header = [
        "curie_map:",
        *(f"  {name}: {iri}" for name, iri in prefixes.items()),
        f"mapping_set_id: {base_uri}graph/bridges",
        "mapping_set_title: Passerelles entre certifications professionnelles (cqpm-graph)",
        "mapping_set_description: Blocs de compétences équivalents (skos:exactMatch) et capacités"
        " professionnelles proches (skos:closeMatch, skos:relatedMatch) entre certifications RNCP, RS et CQPM,"
        " calculés à la construction du graphe (voir docs/bridges.md).",
        f"license: {LICENSE}",
        f"mapping_tool: cqpm-graph {__version__}",
        f"mapping_date: '{date}'",
    ]
    out.write("".join(f"# {line}\n" for line in header))
    out.write("\t".join(COLUMNS) + "\n")
    for r in rows:
        cells = {
            "subject_id": _curie(r["subject"], prefixes),
            "subject_label": r.get("subjectLabel", ""),
            "predicate_id": _curie(r["predicate"], prefixes),
            "object_id": _curie(r["object"], prefixes),
            "object_label": r.get("objectLabel", ""),
            "mapping_justification": _curie(r["justification"], prefixes),
            "similarity_score": f"{float(r['score']):.4f}",
            "similarity_measure": r["measure"],
            "mapping_tool": r.get("tool", ""),
        }
        out.write("\t".join(_cell(cells[c]) for c in COLUMNS) + "\n")
    return len(rows)
