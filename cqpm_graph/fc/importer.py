"""Import a France Compétences export into the live store, atomically, and replay imports after a rebuild.

:func:`import_export` (the ``cqpm-graph import-fc`` verb):

1. reads the export (CSV zip, XML zip or plain XML — :func:`read_export`) as a stream of fiches;
2. in a copy of the live store (:func:`cqpm_graph.store.new_build` with ``from_live=True``) drops the graph
   ``graph/france-competences/<number>`` of every fiche being imported and bulk-loads the new quads,
   streamed to one bulk load while the export is read (:class:`NQuadsStream`, ``batch=None``); describes the
   export and the concepts it names in ``graph/import/france-competences/<export file stem>``; recomputes
   ``graph/bridges`` when fiches changed (:class:`~cqpm_graph.bridges.similarity.BridgesJob`: the
   similarities while the new graphs are indexed, then the store compacted while the rest is loaded);
3. validates the result with the SHACL shapes (:mod:`cqpm_graph.shacl_fast`) — a violation aborts;
4. keeps a copy of the export under ``<store>/imports/`` listed in ``imports/manifest.json``, and swaps
   the new store in.

Any error (:class:`FCExportError` for bad input, :class:`ImportValidationError` for SHACL violations)
leaves the live store exactly as it was.

``cqpm-graph build`` calls :func:`reapply_imports` after loading the fiches so that the imported exports
survive a rebuild (same quads, same order of imports); it starts from a copy of the live store keeping the
imported graphs (:func:`cqpm_graph.build.keep_imported_graphs`), so nothing is reloaded unless the store
lacks them (first build, another base URI).
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from ..config import Settings
from ..digest import sha256_file
from ..store import NQuadsStream, new_build
from ..uris import URIScheme
from .csv_export import MEMBER_RE, export_date_from_name, member_name, read_csv_export
from .errors import FCExportError
from .mapping import FCMapper, export_graph_iri, source_quads
from .model import FCFiche
from .xml_export import read_xml_export

Progress = Callable[[str], None]

IMPORTS_DIR = "imports"
MANIFEST = "manifest.json"


class ImportValidationError(RuntimeError):
    """The imported data breaks a SHACL shape with severity Violation; the live store is unchanged.

    :ivar report: the validation report (``to_text()`` lists each result).
    """

    def __init__(self, report):
        self.report = report
        super().__init__("validation SHACL en échec, le graphe précédent est conservé :\n" + report.to_text())


@dataclass
class ImportReport:
    """What an import did.

    :ivar export: file name; ``kind`` ``"csv"`` | ``"xml"``; ``export_date`` ISO date from the file name.
    :ivar fiches: fiches imported; ``replaced`` how many of their graphs existed with other content,
        ``unchanged`` how many existed with the same content (kept as they were).
    :ivar quads: quads written in the fiche graphs.
    :ivar validation: the SHACL report, or ``None`` when skipped.
    :ivar seconds: wall-clock duration.
    """

    export: str
    kind: str
    export_date: str | None = None
    sha256: str = ""
    fiches: int = 0
    replaced: int = 0
    unchanged: int = 0
    quads: int = 0
    numbers: list[str] = field(default_factory=list)
    validation: object | None = None
    seconds: float = 0.0


def export_kind(path: Path) -> str:
    """``"csv"`` for the CSV zip, ``"xml"`` for the XML export (zip or plain ``.xml``).

    :raises FCExportError: for a missing file, or a zip that is unreadable (truncated, corrupt) or
        holds neither export.
    """
    path = Path(path)
    if not path.is_file():
        raise FCExportError(path.name, None, None, f"fichier introuvable : {path}")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(b"<"):
            return "xml"
        if head.startswith(b"PK"):
            raise FCExportError(path.name, None, None, "archive zip tronquée ou corrompue")
        raise FCExportError(path.name, None, None, "ni une archive zip ni un fichier XML")
    try:
        with zipfile.ZipFile(path) as zf:
            names = [member_name(i) for i in zf.infolist()]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FCExportError(path.name, None, None, f"archive zip tronquée ou corrompue : {exc}") from exc
    if any(MEMBER_RE.match(n) for n in names):
        return "csv"
    if any(n.lower().endswith(".xml") for n in names):
        return "xml"
    raise FCExportError(path.name, None, None,
                        "l'archive ne contient ni les fichiers export_fiches_CSV_* ni un fichier XML")


def read_export(path: Path | str) -> tuple[str, Iterator[FCFiche]]:
    """``(kind, fiches)`` for any export file; the fiches are read lazily.

    :raises FCExportError: see :func:`export_kind`, :func:`~cqpm_graph.fc.csv_export.read_csv_export`,
        :func:`~cqpm_graph.fc.xml_export.read_xml_export`.
    """
    kind = export_kind(Path(path))
    return kind, (read_csv_export(path) if kind == "csv" else read_xml_export(path))


class ExportLoad:
    """Write one export into *store* (no validation, no swap), in two steps: :meth:`read` reads the export and
    streams its new fiche graphs to the bulk loader; :meth:`finish` waits for the loads and writes what must
    wait for them. Between the two the caller may work while the loads complete (the import computes the
    bloc and capacity similarities then). :func:`load_export` does both.

    A fiche whose graph exists with the same ``cqpm:contentDigest`` (:meth:`FCMapper.map_nquads`) is kept as
    it is — only its ``prov:wasDerivedFrom`` is moved to this export; a fiche whose graph exists with other
    content is replaced (the old graph dropped once the new graphs are loaded: pyoxigraph's bulk loader
    must not run beside deletions); fiches the export does not hold keep their graph.

    :param name: the export's original file name (default: *path*'s), which names its source IRI.
    :param rows: a :class:`cqpm_graph.bridges.corpus.CorpusRows` to fill with the blocs and capacities of
        the export's fiches (the similarity then need not read them back from the store).
    :ivar changed: after :meth:`read`, how many fiche graphs are new or replaced (0: the store's data is
        the same, whichever export file it came from).
    :raises FCExportError: from :meth:`read`, for bad input; the caller's :func:`new_build` then discards
        the store.
    """

    def __init__(self, store: ox.Store, uris: URIScheme, path: Path, *, name: str | None = None,
                 stored_as: str | None = None, sha256: str | None = None, progress: Progress = lambda _m: None,
                 report: ImportReport | None = None, rows=None):
        self.store, self.uris, self.path, self.progress, self.rows = store, uris, Path(path), progress, rows
        self.name = name or self.path.name
        self.sha256 = sha256 or sha256_file(self.path)
        self.stored_as = stored_as
        self.report = report or ImportReport(export=self.name, kind="")
        self.source = FCMapper.source_iri(uris, self.name)
        self.mapper = FCMapper(uris, self.source)
        self.export_graph = ox.NamedNode(export_graph_iri(uris, self.name))
        self.changed = 0
        #: after :meth:`read`: quads of the new graphs (and bytes of the replaced ones)
        self.changed_quads = 0
        self._replaced: list[str] = []
        self._unchanged: list[str] = []
        self._later = None
        self._stream = None

    def read(self) -> None:
        """Read the export, stream the new graphs to the bulk loader (left running: :meth:`finish` waits)."""
        store, report, mapper = self.store, self.report, self.mapper
        kind, fiches = read_export(self.path)
        report.kind, report.sha256 = kind, self.sha256
        report.export_date = export_date_from_name(self.name)
        if store.contains_named_graph(self.export_graph):
            store.remove_graph(self.export_graph)
        digests = existing_digests(store, self.uris)
        seen: set[str] = set()
        started = time.monotonic()
        self._later = tempfile.TemporaryFile(mode="w+b")
        # one bulk load for every new graph: its files are ingested at once when it ends (:meth:`finish`), so
        # that RocksDB compacts them once (NQuadsStream, batch=None)
        self._stream = stream = NQuadsStream(store, batch=None)
        try:
            for fiche in fiches:
                if fiche.number in seen:  # the CSV reader checks this itself, with the line
                    raise FCExportError(self.path.name, fiche.line, "NUMERO_FICHE",
                                        f"fiche {fiche.number} présente deux fois")
                seen.add(fiche.number)
                text = mapper.map_nquads(fiche)
                count = text.count("\n")
                graph = mapper.graph_iri(fiche.number)
                if self.rows is not None:
                    self.rows.add_fc_fiche(self.uris, fiche, graph)
                if graph not in digests:
                    stream.write(text, count)
                elif digests[graph] == mapper.last_digest:
                    self._unchanged.append(graph)
                else:
                    self._replaced.append(graph)
                    self._later.write(text.encode("utf-8"))
                report.quads += count
                report.numbers.append(fiche.number)
                if len(seen) % 2500 == 0:
                    self.progress(f"  {len(seen)} fiches lues ({time.monotonic() - started:.1f} s)")
        except BaseException:
            self._close()
            raise
        stream.cut()  # the loader finishes in the background
        report.fiches = len(seen)
        report.replaced = len(self._replaced)
        report.unchanged = len(self._unchanged)
        self.changed = report.fiches - report.unchanged
        self.changed_quads = stream.quads + self._later.tell()  # bytes for the replaced: an upper bound

    def wait_loaded(self) -> None:
        """After :meth:`read`, from any thread: wait until the new graphs are loaded (the replaced ones are
        loaded by :meth:`finish`)."""
        if self._stream is not None:
            self._stream.join()

    def _close(self) -> None:
        try:
            if self._stream is not None:
                self._stream.close()
        finally:
            self._stream = None
            if self._later is not None:
                self._later.close()
                self._later = None

    def finish(self) -> ImportReport:
        """Wait for the loads, replace the changed graphs, point the unchanged ones to this export, and write
        the export's own graph (its shared concepts and its description)."""
        store, report = self.store, self.report
        try:
            self._stream.close()
            for graph in self._replaced:
                store.remove_graph(ox.NamedNode(graph))
            if self._replaced:
                self._later.flush()
                self._later.seek(0)
                with NQuadsStream(store) as stream:  # bounded batches, as the new graphs
                    stream.write_file(self._later)
        finally:
            self._close()
        _move_provenance(store, self._unchanged, self.source)
        shared = self.mapper.shared_quads(self.export_graph.value)
        report.quads += len(shared)
        store.extend(shared + source_quads(  # a transaction: a bulk load would add a set of files (see build)
            self.uris, self.source, file_name=self.name, stored_as=self.stored_as or f"{IMPORTS_DIR}/{self.name}",
            sha256=self.sha256, export_date=report.export_date, kind=report.kind, fiches=report.fiches))
        return report


#: An import that writes at least this many quads (fiches and graph/bridges) compacts the store
#: (:meth:`pyoxigraph.Store.optimize`).
COMPACT_FROM = 1_000_000


def load_export(store: ox.Store, uris: URIScheme, path: Path, **kwargs) -> ImportReport:
    """Write one export into *store* (no validation, no swap): :class:`ExportLoad` read and finished — the
    shared core of an import and of :func:`reapply_imports`. Keyword arguments as :class:`ExportLoad`.

    :raises FCExportError: for bad input; the caller's :func:`new_build` then discards the store.
    """
    load = ExportLoad(store, uris, path, **kwargs)
    load.read()
    return load.finish()


_DIGESTS = """SELECT ?g ?d WHERE { GRAPH ?g { ?g <https://w3id.org/cqpm/ontology#contentDigest> ?d } }"""


def existing_digests(store: ox.Store, uris: URIScheme) -> dict[str, str | None]:
    """``{fiche graph IRI: its cqpm:contentDigest}`` of the France Compétences fiche graphs of *store*
    (``None`` for a graph written without one)."""
    prefix = str(uris.graph("france-competences")) + "/"
    found: dict[str, str | None] = {g.value: None for g in store.named_graphs() if g.value.startswith(prefix)}
    for row in store.query(_DIGESTS):
        if row["g"].value in found:
            found[row["g"].value] = row["d"].value
    return found


def _move_provenance(store: ox.Store, graphs: list[str], source: str) -> None:
    """In each of *graphs*, make ``prov:wasDerivedFrom`` (of the graph and of its certification) name
    *source*, the export just imported, instead of the earlier export it held."""
    for start in range(0, len(graphs), 2000):
        values = " ".join(f"<{g}>" for g in graphs[start:start + 2000])
        store.update(f"""PREFIX prov: <http://www.w3.org/ns/prov#>
DELETE {{ GRAPH ?g {{ ?s prov:wasDerivedFrom ?old }} }}
INSERT {{ GRAPH ?g {{ ?s prov:wasDerivedFrom <{source}> }} }}
WHERE {{ VALUES ?g {{ {values} }} GRAPH ?g {{ ?s prov:wasDerivedFrom ?old }} FILTER (?old != <{source}>) }}""")


def read_manifest(store_dir: Path) -> list[dict]:
    """Entries of ``<store>/imports/manifest.json`` in import order (``[]`` when none).

    Each entry: ``file`` (path relative to the store directory), ``name`` (original file name),
    ``sha256``, ``date`` (export date), ``kind`` (``csv``/``xml``), ``fiches``, ``imported_at``.
    """
    path = Path(store_dir) / IMPORTS_DIR / MANIFEST
    if not path.exists():
        return []
    return json.loads(path.read_text(encoding="utf-8"))["imports"]


def _write_manifest(store_dir: Path, entries: list[dict]) -> None:
    folder = Path(store_dir) / IMPORTS_DIR
    tmp = folder / f".{MANIFEST}.{os.getpid()}"
    tmp.write_text(json.dumps({"imports": entries}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)  # atomic: readers see the old or the new manifest


def _stored_name(store_dir: Path, path: Path, sha: str) -> str:
    """Where the export is kept, relative to the store: ``imports/<name>``, or ``imports/<sha>-<name>``
    when another file of that name is already kept."""
    target = Path(store_dir) / IMPORTS_DIR / path.name
    if target.exists() and sha256_file(target) != sha:
        return f"{IMPORTS_DIR}/{sha[:12]}-{path.name}"
    return f"{IMPORTS_DIR}/{path.name}"


def _keep_copy(store_dir: Path, path: Path, stored_as: str) -> None:
    """Copy the export to ``<store>/<stored_as>`` (once per content)."""
    target = Path(store_dir) / stored_as
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = target.parent
    if not target.exists():
        tmp = folder / f".{target.name}.{os.getpid()}"
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)


def import_export(settings: Settings, path: Path | str, *, validate: bool = True, shapes=None,
                  progress: Progress = lambda _m: None) -> ImportReport:
    """Import an export into the live store of *settings* (``cqpm-graph import-fc PATH``).

    :param path: ``export-fiches-csv-YYYY-MM-DD.zip``, ``export-fiches-rncp-v4-x-YYYY-MM-DD.zip`` or its
        ``.xml``.
    :param validate: run the SHACL shapes on the new store before it goes live (violations abort).
    :param shapes: an rdflib graph of shapes (default: every ``shapes/*.ttl``).
    :param progress: called with one human-readable line per step and every 2,500 fiches.
    :returns: an :class:`ImportReport`.
    :raises FCExportError: bad input (file, line and field named); the live store is unchanged.
    :raises ImportValidationError: SHACL violations; the live store is unchanged.
    :raises cqpm_graph.store.StoreNotFoundError: no store built yet.
    """
    started = time.monotonic()
    path = Path(path)
    uris = URIScheme(settings.base_uri)
    kind = export_kind(path)
    sha = sha256_file(path)
    report = ImportReport(export=path.name, kind=kind, sha256=sha)
    progress(f"[1/3] Lecture de {path.name} (export {kind.upper()}) et chargement")
    stored_as = _stored_name(settings.store, path, sha)
    from ..bridges.corpus import CorpusRows
    from ..bridges.similarity import BridgesJob, input_fingerprint, stored_fingerprint
    rows = CorpusRows()  # the imported blocs and capacities, for the similarity (not read back)
    with new_build(settings.store, from_live=True, optimize=False) as store:
        load = ExportLoad(store, uris, path, stored_as=stored_as, sha256=sha, progress=progress, report=report,
                          rows=rows)
        load.read()
        # The bridges between certifications depend on every certification. When fiches changed, their
        # wordings are read (from the rows and the other graphs only) and the bloc and capacity similarities
        # computed while the loader is still indexing the new graphs; the shortlists once it is done.
        job = BridgesJob(store, uris, rows, progress)
        written = load.changed_quads
        try:
            if load.changed:
                # a changed or new fiche changes the input fingerprint: the old graph/bridges goes, in the
                # background while the rest is read and computed
                job.drop_old()
                if written >= COMPACT_FROM and not report.replaced:
                    # the store is compacted as soon as the new graphs are in, while the similarities are
                    # computed (replaced graphs are loaded later, by finish(): then the job compacts)
                    job.compact_after(load.wait_loaded)
                job.read()
                job.map()
            load.finish()
            progress(f"      {report.fiches} fiches, {report.quads} triplets ({report.replaced} graphes remplacés, "
                     f"{report.unchanged} inchangés)")
            fingerprint = input_fingerprint(store, uris)
            if not load.changed and stored_fingerprint(store, uris) == fingerprint:
                progress("      graph/bridges à jour (empreinte des données inchangée) : conservé")
            else:
                # bulk loads leave overlapping files, which every query must look into: compacted, the
                # national store answers the bridges queries 1.3-1.5 times faster (docs/benchmarks.md); unless
                # compact_after did, the job compacts while it loads graph/bridges and computes the shortlists
                written += job.write(fingerprint, compact_from=max(0, COMPACT_FROM - written))
        finally:
            job.close()  # never leave a thread on a store about to be swapped in or discarded
        compacted = job.compacted
        del rows, job
        if written >= COMPACT_FROM and not compacted:  # a national export, or a national graph/bridges replaced
            started_compaction = time.monotonic()
            store.optimize()
            progress(f"      base compactée ({time.monotonic() - started_compaction:.1f} s)")
        if validate:
            progress("[2/3] Validation SHACL")
            from ..shacl_fast import load_all_shapes, validate_fast
            report.validation = validate_fast(store, shapes if shapes is not None else load_all_shapes())
            if not report.validation.conforms:
                raise ImportValidationError(report.validation)
        progress("[3/3] Mise en service du nouveau graphe")
        del load, store  # new_build closes it before moving it in
    _keep_copy(settings.store, path, stored_as)
    entries = [e for e in read_manifest(settings.store) if e["sha256"] != sha]
    entries.append({"file": stored_as, "name": path.name, "sha256": sha, "date": report.export_date,
                    "kind": kind, "fiches": report.fiches,
                    "imported_at": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()})
    _write_manifest(settings.store, entries)
    report.seconds = time.monotonic() - started
    return report


def reapply_imports(store: ox.Store, uris: URIScheme, store_dir: Path, progress: Progress = lambda _m: None,
                    rows=None) -> None:
    """Replay every import of ``<store_dir>/imports/manifest.json`` into *store*, in import order.

    For ``cqpm-graph build`` (which starts from an empty store): call it after the fiches are loaded and
    before the build metadata and validation. Each kept export is checked against its recorded SHA-256.

    When *store* already holds every imported export (its graph ``graph/import/france-competences/<stem>``
    with the recorded SHA-256 — a build that started from a copy of the live store keeping those graphs),
    nothing is reloaded.

    :param rows: a :class:`cqpm_graph.bridges.corpus.CorpusRows` filled with the blocs and capacities of the
        fiches reloaded (see :func:`load_export`).
    :raises FCExportError: when a kept export is missing, altered or unreadable (the build then fails and
        the live store is kept).
    """
    entries = read_manifest(store_dir)
    if entries and all(holds_import(store, uris, e) for e in entries):
        progress(f"  imports France Compétences déjà présents ({len(entries)}), rien à recharger")
        return
    for entry in entries:
        path = Path(store_dir) / entry["file"]
        if not path.is_file():
            raise FCExportError(entry["file"], None, None, "export importé introuvable sous le dossier du store")
        sha = sha256_file(path)
        if sha != entry["sha256"]:
            raise FCExportError(entry["file"], None, None, "export importé modifié depuis son import (SHA-256)")
        progress(f"  import France Compétences {entry['name']} ({entry['kind']}, {entry.get('fiches', '?')} fiches)")
        load_export(store, uris, path, name=entry["name"], stored_as=entry["file"], sha256=sha, progress=progress,
                    report=ImportReport(export=entry["name"], kind=entry["kind"]), rows=rows)


def holds_import(store: ox.Store, uris: URIScheme, entry: dict) -> bool:
    """Whether *store* holds the export of manifest *entry* (its graph names the recorded SHA-256)."""
    graph = ox.NamedNode(export_graph_iri(uris, entry["name"]))
    sha = ox.Literal(entry["sha256"])
    return any(True for _ in store.quads_for_pattern(None, ox.NamedNode("https://w3id.org/cqpm/ontology#sha256"), sha, graph))
