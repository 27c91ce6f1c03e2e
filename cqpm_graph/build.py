"""``cqpm-graph build``: parse → map → load → validate → swap, once, in that order.

Reads the fiches (``data/fiches/*.txt``), the ROME v347 and NSF reference data (``data/reference/``)
and the ontology (``ontology/*.ttl``); writes a new pyoxigraph store with one named graph per source,
plus ``graph/build`` (build metadata as VoID / PROV); validates it with the SHACL shapes; and only then
makes it the live store (see :mod:`cqpm_graph.store`). Any failure leaves the previous store untouched.

When France Compétences exports have been imported (``cqpm-graph import-fc``), the build starts from a copy
of the live store that keeps only their graphs (:func:`keep_imported_graphs`) instead of replaying them from
the kept files: at national scale that is seconds instead of minutes, with the same graph.
"""
from __future__ import annotations

import datetime
import hashlib
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from . import __version__
from .config import Settings
from .fiche import parse_fiche
from .mapping import FicheMapper
from .model import Fiche
from .rdfterms import RDF_TYPE, iri, lit
from .resources import data_dir, ontology_dir
from .store import drop_graph, new_build
from .uris import CQPM, DCTERMS, PROV, SCHEMA, VOID, URIScheme

Progress = Callable[[str], None]


class BuildError(RuntimeError):
    """The build could not complete; the message says which step and which file. The live store is unchanged."""


@dataclass
class BuildReport:
    """What a build did.

    :ivar fiches: the parsed fiches, in file-name order.
    :ivar graphs: named graph IRI → number of triples.
    :ivar counts: instances per class (``certifications``, ``blocs``, ``capacities`` …).
    :ivar validation: the SHACL report (:class:`cqpm_graph.shacl.ValidationReport`) or ``None`` when skipped.
    :ivar seconds: wall-clock duration of the build.
    """

    fiches: list[Fiche] = field(default_factory=list)
    graphs: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    validation: object | None = None
    seconds: float = 0.0

    @property
    def warnings(self):
        """``[(source file name, ParseWarning)]`` over all fiches."""
        return [(f.source_name, w) for f in self.fiches for w in f.warnings]


COUNTED_CLASSES = {
    "certifications": "Certification", "blocs": "CompetenceBlock", "capacities": "Capacity",
    "activities": "Activity", "criteria": "EvaluationCriterion", "jobs": "Job",
}


def parse_all(fiches_dir: Path, progress: Progress = lambda _m: None) -> list[Fiche]:
    """Parse every ``*.txt`` fiche of *fiches_dir*, sorted by file name.

    :raises BuildError: when the folder holds no fiche, or two fiches claim the same certification id.
    :raises cqpm_graph.model.FicheParseError: for a fiche that cannot be read (names the file).
    """
    paths = sorted(p for p in Path(fiches_dir).glob("*.txt"))
    if not paths:
        raise BuildError(f"no fiche (*.txt) found in {fiches_dir}")
    fiches, seen = [], {}
    for path in paths:
        fiche = parse_fiche(path)
        if fiche.cert_id in seen:
            raise BuildError(f"{path.name}: certification {fiche.cert_id} already read from {seen[fiche.cert_id]}")
        seen[fiche.cert_id] = path.name
        fiches.append(fiche)
        progress(f"  {path.name}: {fiche.cert_id} — {len(fiche.blocs)} blocs, {len(fiche.capacities)} capacités"
                 + (f", {len(fiche.warnings)} avertissement(s)" if fiche.warnings else ""))
    return fiches


#: Below this many quads a write goes through a transaction (RocksDB's memtable, flushed once when the
#: build ends) rather than the bulk loader, whose every call adds a set of files the queries must then
#: look into (a dozen small loads made the bridges queries of a national store twice slower).
SMALL_WRITE = 200_000


def _write_small(store: ox.Store, quads: list[ox.Quad]) -> None:
    if len(quads) < SMALL_WRITE:
        store.extend(quads)
    else:  # a build from scratch loads ROME too
        store.bulk_extend(quads)


def _add_triples(quads: list[ox.Quad], triples, graph: str) -> None:
    g = iri(graph)
    quads.extend(ox.Quad(t.subject, t.predicate, t.object, g) for t in triples)


def build(settings: Settings, fiches_dir: Path | None = None, reference_dir: Path | None = None,
          validate: bool = True, progress: Progress = lambda _m: None) -> BuildReport:
    """Build a new store from the fiches and reference data (and the France Compétences imports kept by the
    live store, see the module doc) and make it live.

    :param settings: where the store lives and the base of data URIs.
    :param fiches_dir: folder of fiches (default: the shipped ``data/fiches``).
    :param reference_dir: folder holding ``rome-v347/`` and ``nsf/`` (default: shipped ``data/reference``).
    :param validate: run the SHACL shapes on the new store before it goes live (engine chosen by
        :func:`cqpm_graph.validation.choose_engine`); a violation aborts.
    :param progress: called with one human-readable line per step.
    :returns: a :class:`BuildReport`.
    :raises BuildError: on SHACL violations or inconsistent input (the live store is unchanged).
    :raises cqpm_graph.model.FicheParseError: for an unreadable fiche (the live store is unchanged).
    :raises cqpm_graph.fc.errors.FCExportError: when a France Compétences export kept by ``import-fc``
        under ``<store>/imports/`` is missing or altered (the live store is unchanged).
    """
    from .nsf import iter_nsf, nsf_subspeciality_triples
    from .rome import iter_rome

    started = time.monotonic()
    fiches_dir = Path(fiches_dir) if fiches_dir else data_dir() / "fiches"
    reference_dir = Path(reference_dir) if reference_dir else data_dir() / "reference"
    uris = URIScheme(settings.base_uri)
    report = BuildReport()

    progress(f"[1/5] Lecture des fiches ({fiches_dir})")
    report.fiches = parse_all(fiches_dir, progress)

    # With France Compétences imports, start from a copy of the live store and keep their graphs: reloading
    # a national export would cost minutes (reapply_imports then finds them present and reloads nothing).
    from .fc.importer import read_manifest
    incremental = (settings.store / "current").exists() and bool(read_manifest(settings.store))
    rome_graph = str(uris.graph("rome-v347"))
    rome_sha = _sha256_many(_files(reference_dir / "rome-v347"))
    with new_build(settings.store, from_live=incremental, optimize=not incremental) as store:
        rome_kept = False
        if incremental:
            kept = keep_imported_graphs(store, uris, settings.store,
                                        {rome_graph: (str(uris.source("rome-v347")), rome_sha)})
            rome_kept = rome_graph in kept
            imported = len(kept) - rome_kept
            progress(f"      graphe en service repris : {imported} graphes importés conservés" if imported else
                     "      graphe en service repris : imports à recharger")
        progress("[2/5] Ontologie, ROME v347, NSF")
        # Every graph of this step and the next in one write (see SMALL_WRITE).
        quads: list[ox.Quad] = []
        onto_graph = iri(uris.graph("ontology"))
        for ttl in sorted(ontology_dir().glob("*.ttl")):
            quads.extend(ox.Quad(t.subject, t.predicate, t.object, onto_graph)
                         for t in ox.parse(path=str(ttl), format=ox.RdfFormat.TURTLE))
        if not rome_kept:  # the largest reference graph: kept as is when its files have not changed
            _add_triples(quads, iter_rome(uris, reference_dir / "rome-v347"), rome_graph)
        nsf_graph = str(uris.graph("nsf"))
        _add_triples(quads, iter_nsf(uris, reference_dir / "nsf"), nsf_graph)
        lettered = {}
        for fiche in report.fiches:
            for code, label in fiche.nsf:
                if code[-1:].isalpha():
                    lettered.setdefault(code, label)
        for code, label in sorted(lettered.items()):
            try:
                _add_triples(quads, nsf_subspeciality_triples(uris, code, label), nsf_graph)
            except ValueError as exc:
                raise BuildError(f"NSF {code}: {exc}") from exc

        progress("[3/5] Conversion des fiches en RDF")
        mapper = FicheMapper(uris)
        for fiche in report.fiches:
            quads.extend(mapper.map(fiche))
        _write_small(store, quads)
        del quads
        # France Compétences exports imported with `import-fc` survive a rebuild.
        from .bridges.corpus import CorpusRows
        from .bridges.similarity import load_similarity
        from .fc.importer import COMPACT_FROM, reapply_imports
        rows = CorpusRows()  # the blocs and capacities of reloaded exports, for the similarity
        reapply_imports(store, uris, settings.store, progress, rows=rows)
        progress("      similarité des capacités et des blocs (graph/bridges)")
        written = load_similarity(store, uris, progress, rows=rows if rows.by_graph else None)
        if incremental and (rows.by_graph or written >= COMPACT_FROM):
            store.optimize()  # many bulk loads: compacted, as after an import (cqpm_graph.fc.importer)
        del rows

        _write_build_metadata(store, uris, settings, report, fiches_dir, reference_dir, mapper)

        if validate:
            progress("[4/5] Validation SHACL")
            from .validation import validate_store  # pyshacl, or the fast engine at national scale
            report.validation = validate_store(store)
            if not report.validation.conforms:
                raise BuildError("SHACL validation failed; the previous store is kept:\n"
                                 + report.validation.to_text())
        progress("[5/5] Mise en service du nouveau graphe")
        del store  # new_build closes it before moving it in
    report.seconds = time.monotonic() - started
    return report


def keep_imported_graphs(store: ox.Store, uris: URIScheme, store_dir: Path,
                         references: dict[str, tuple[str, str]] | None = None) -> set[str]:
    """Empty a copy of the live store except what a rebuild may keep: the graphs of the France Compétences
    imports (``graph/france-competences/*``, ``graph/import/france-competences/*``) when every export of
    ``<store_dir>/imports/manifest.json`` is there with its recorded SHA-256; ``graph/bridges`` (which
    :func:`cqpm_graph.bridges.similarity.load_similarity` keeps only when its input is unchanged); and each
    reference graph of *references* (``{graph IRI: (source IRI, SHA-256 of its files)}``) whose source the
    previous build recorded with the same digest in ``graph/build``.

    :returns: the IRIs of the graphs kept, ``graph/bridges`` excepted (no imported graph: the imports are
        replayed from their files).
    """
    from .fc.importer import holds_import, read_manifest

    prefixes = (str(uris.graph("france-competences")) + "/", str(uris.graph("import", "france-competences")) + "/")
    keep_imports = all(holds_import(store, uris, e) for e in read_manifest(store_dir))
    build_graph, sha_p = iri(uris.graph("build")), iri(str(CQPM) + "sha256")
    same = {g for g, (source, sha) in (references or {}).items()
            if any(True for _ in store.quads_for_pattern(iri(source), sha_p, lit(sha), build_graph))}
    bridges = str(uris.graph("bridges"))
    kept = set()
    for graph in list(store.named_graphs()):
        name = graph.value
        if (keep_imports and name.startswith(prefixes)) or name in same:
            kept.add(name)
        elif name != bridges:
            drop_graph(store, graph)  # the ROME graph is large: in chunks
    store.clear_graph(ox.DefaultGraph())
    return kept


def _files(path: Path) -> list[Path]:
    """The files a source document is made of: *path* itself, or the files of the folder, sorted."""
    return [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())


def _write_build_metadata(store: ox.Store, uris: URIScheme, settings: Settings, report: BuildReport,
                          fiches_dir: Path, reference_dir: Path, mapper: FicheMapper) -> None:
    """Describe the build in ``graph/build`` with VoID, PROV and schema.org terms only.

    ``<base>dataset`` is a ``void:Dataset`` with a ``void:subset`` per named graph (each
    ``prov:wasDerivedFrom`` its source document, with file names and SHA-256), ``void:triples`` per
    graph, ``void:classPartition``s with entity counts, and ``prov:wasGeneratedBy`` a build activity
    (start/end time) associated with the software used (name and version).
    """
    import pyshacl
    import rdflib


    g = iri(uris.graph("build"))
    dataset = iri(f"{uris.base}dataset")
    activity = iri(f"{uris.base}dataset#build")
    quads: list[ox.Quad] = []

    def add(s, p, o):
        quads.append(ox.Quad(s, p, o, g))

    def n(ns, local):
        return ox.NamedNode(str(ns) + local)

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    add(dataset, RDF_TYPE, n(VOID, "Dataset"))
    add(dataset, n(DCTERMS, "title"), lit("cqpm-graph — graphe des certifications professionnelles", "fr"))
    add(dataset, n(DCTERMS, "created"), lit(now))
    add(dataset, n(VOID, "uriSpace"), lit(uris.base))
    add(dataset, n(PROV, "wasGeneratedBy"), activity)
    add(activity, RDF_TYPE, n(PROV, "Activity"))
    add(activity, n(PROV, "endedAtTime"), lit(now))
    for name, version in (("cqpm-graph", __version__), ("Python", platform.python_version()),
                          ("pyoxigraph", ox.__version__), ("rdflib", rdflib.__version__),
                          ("pyshacl", pyshacl.__version__)):
        agent = iri(f"{uris.base}dataset#software-{name.lower()}")
        add(activity, n(PROV, "wasAssociatedWith"), agent)
        add(agent, RDF_TYPE, n(PROV, "SoftwareAgent"))
        add(agent, n(SCHEMA, "name"), lit(name))
        add(agent, n(SCHEMA, "softwareVersion"), lit(version))

    sources = [(str(uris.graph("fiche", f.cert_id)), mapper.source_of(f), f.source_path, f.sha256)
               for f in report.fiches]
    sources += [(str(uris.graph("rome-v347")), str(uris.source("rome-v347")), reference_dir / "rome-v347", None),
                (str(uris.graph("nsf")), str(uris.source("nsf")), reference_dir / "nsf", None),
                (str(uris.graph("ontology")), str(uris.source("ontology")), ontology_dir(), None)]
    for graph, source, path, sha in sources:
        gnode, snode = iri(graph), iri(source)
        add(dataset, n(VOID, "subset"), gnode)
        add(gnode, RDF_TYPE, n(VOID, "Dataset"))
        add(gnode, n(PROV, "wasDerivedFrom"), snode)
        add(snode, RDF_TYPE, n(CQPM, "SourceDocument"))
        files = _files(path)
        for f in files:
            add(snode, n(DCTERMS, "source"), lit(f.name if path.is_file() else f"{path.name}/{f.name}"))
        add(snode, n(CQPM, "sha256"), lit(sha or _sha256_many(files)))

    for graph, count in sorted(graph_sizes(store).items()):
        report.graphs[graph] = count
        add(iri(graph), n(VOID, "triples"), lit(count))

    counts_q = store.query("SELECT ?cls (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?cls } GROUP BY ?cls",
                           use_default_graph_as_union=True)
    by_class = {row["cls"].value: int(row["n"].value) for row in counts_q}
    report.counts = {key: by_class.get(str(CQPM) + cls, 0) for key, cls in COUNTED_CLASSES.items()}
    for key, cls in COUNTED_CLASSES.items():
        part = iri(f"{uris.base}dataset#class-{cls}")
        add(dataset, n(VOID, "classPartition"), part)
        add(part, n(VOID, "class"), n(CQPM, cls))
        add(part, n(VOID, "entities"), lit(report.counts[key]))
    _write_small(store, quads)
    report.graphs[g.value] = len(quads)


def graph_sizes(store: ox.Store) -> dict[str, int]:
    """``{named graph IRI: number of triples}`` of *store*: the size a graph states about itself
    (``GRAPH ?g { ?g void:triples ?n }``, written by the France Compétences import with the graph), else
    counted — with one aggregate query (counting graph by graph in Python takes ~30 s at national scale;
    counting the 25,000 imported graphs too, 2.3 s)."""
    stated = {row["g"].value: int(row["n"].value)
              for row in store.query(f"SELECT ?g ?n WHERE {{ GRAPH ?g {{ ?g <{VOID}triples> ?n }} }}")
              if isinstance(row["g"], ox.NamedNode)}
    rest = [g for g in store.named_graphs() if g.value not in stated]
    sizes = dict(stated)
    for start in range(0, len(rest), 1000):
        values = " ".join(str(g) for g in rest[start:start + 1000])
        for row in store.query(f"SELECT ?g (COUNT(*) AS ?n) WHERE {{ VALUES ?g {{ {values} }} GRAPH ?g {{ ?s ?p ?o }} }} "
                               "GROUP BY ?g"):
            sizes[row["g"].value] = int(row["n"].value)
    return sizes


def _sha256_many(files: list[Path]) -> str:
    """One digest over several files (name and bytes of each, in order)."""
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()
