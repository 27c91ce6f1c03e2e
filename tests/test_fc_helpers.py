"""Helpers shared by the tests of cqpm_graph.fc (stores, modified copies of the real extract)."""
from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import pyoxigraph as ox
import rdflib

from cqpm_graph.config import Settings
from cqpm_graph.resources import data_dir, ontology_dir, shapes_dir
from cqpm_graph.store import live_path, new_build
from cqpm_graph.uris import URIScheme

FIXTURES = Path(__file__).parent / "fixtures" / "fc"
CSV_EXPORT = FIXTURES / "export-fiches-csv-2024-02-22.zip"
XML_EXPORT = FIXTURES / "export-fiches-rncp-v4-1-2024-02-22.xml"
BASE = "https://w3id.org/cqpm/id/"
URIS = URIScheme(BASE)
CQPM = "https://w3id.org/cqpm/ontology#"
STANDARD = "export_fiches_CSV_Standard_2024_02_22.csv"


def make_base_store(store_dir: Path, with_reference: bool = False) -> Settings:
    """A live store holding the ontology (and, optionally, ROME v347 and NSF), like a build without fiches."""
    with new_build(store_dir) as store:
        for ttl in sorted(ontology_dir().glob("*.ttl")):
            store.bulk_load(path=str(ttl), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(str(URIS.graph("ontology"))))
        if with_reference:
            from cqpm_graph.nsf import iter_nsf
            from cqpm_graph.rome import iter_rome
            for graph, triples in ((URIS.graph("rome-v347"), iter_rome(URIS, data_dir() / "reference" / "rome-v347")),
                                   (URIS.graph("nsf"), iter_nsf(URIS, data_dir() / "reference" / "nsf"))):
                g = ox.NamedNode(str(graph))
                store.bulk_extend([ox.Quad(t.subject, t.predicate, t.object, g) for t in triples])
        del store  # closed before new_build moves it in
    return Settings(store=store_dir)


def copy_store(src: Settings, dst: Path) -> Settings:
    """A copy of a store directory (symlinks kept), for a test that changes it."""
    shutil.copytree(src.store, dst, symlinks=True)
    return Settings(store=dst)


def register_shapes() -> rdflib.Graph:
    """Only shapes/cqpm-register-shapes.ttl (the shapes of this import)."""
    return rdflib.Graph().parse(shapes_dir() / "cqpm-register-shapes.ttl")


def dump(settings: Settings, prefix: str | None = None) -> str:
    """Sorted N-Quads of the live store (only the graphs whose IRI starts with *prefix*)."""
    store = ox.Store.read_only(str(live_path(settings.store)))
    lines = []
    for q in store:
        if prefix is None or (isinstance(q.graph_name, ox.NamedNode) and q.graph_name.value.startswith(prefix)):
            lines.append(str(q))
    del store
    return "\n".join(sorted(lines))


def checksum(settings: Settings) -> str:
    return hashlib.sha256(dump(settings).encode()).hexdigest()


def current_target(settings: Settings) -> str:
    return os.readlink(settings.store / "current")


def rewrite_zip(src: Path, dst: Path, edit) -> Path:
    """Copy the CSV zip to *dst*, passing each member's text through ``edit(name, text) -> text | None``
    (``None`` drops the member). Member names keep the export's UTF-8-without-flag encoding."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            from cqpm_graph.fc.csv_export import member_name
            name = member_name(info)
            text = zin.read(info).decode("utf-8")
            new = edit(name, text)
            if new is None:
                continue
            zi = zipfile.ZipInfo(name, date_time=info.date_time)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(zi, new.encode("utf-8"))
    return dst


def expand(query: str) -> str:
    """``id:certification/RNCP509`` (not a legal prefixed name: it has a slash) → full IRI."""
    import re
    return re.sub(r"\bid:([\w-]+/[\w/-]+)", lambda m: f"<{BASE}{m.group(1)}>", query)


def select(settings: Settings, query: str) -> list[dict]:
    from cqpm_graph.store import select as sel
    query = expand(query)
    store = ox.Store.read_only(str(live_path(settings.store)))
    try:
        return sel(store, f"PREFIX cqpm: <{CQPM}>\nPREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
                          f"PREFIX id: <{BASE}>\nPREFIX prov: <http://www.w3.org/ns/prov#>\n"
                          f"PREFIX dcterms: <http://purl.org/dc/terms/>\n{query}")
    finally:
        del store
