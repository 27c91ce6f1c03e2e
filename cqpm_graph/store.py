"""The embedded pyoxigraph store on disk, with atomic builds.

Layout of a store directory (``--store DIR`` / ``CQPM_STORE``)::

    DIR/current             symlink to the live build (what every reader opens)
    DIR/builds/<stamp>/     one pyoxigraph database per build
    DIR/.build-<stamp>/     a build in progress (removed if it fails)

A build writes a new database beside the live one and swaps the ``current`` symlink in one
``os.replace`` (atomic on POSIX): readers see the old graph or the new one, never half of one, and a
failed build leaves the previous store untouched.

Queries see the union of all named graphs as their default graph (as ``oxigraph serve
--union-default-graph`` does); ``GRAPH ?g`` still tells which source a triple came from.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox

from .config import Settings


class StoreNotFoundError(FileNotFoundError):
    """No built store at the given directory: run ``cqpm-graph build`` first."""

    def __init__(self, store_dir: Path):
        self.store_dir = store_dir
        super().__init__(f"no graph store in {store_dir} (run `cqpm-graph build --store {store_dir}` first)")


def live_path(store_dir: Path) -> Path:
    """Directory of the live database (``DIR/current`` resolved), or raise :class:`StoreNotFoundError`."""
    link = Path(store_dir) / "current"
    if not link.exists():
        raise StoreNotFoundError(Path(store_dir))
    return link.resolve()


def open_store(settings: Settings | Path, read_only: bool = True) -> ox.Store:
    """Open the live store of *settings.store* (or of a store directory).

    Read-only opening lets several readers (explorer workers, CLI queries) share the database while a
    new build is written beside it.

    :raises StoreNotFoundError: when no build has been made there yet.
    """
    store_dir = settings.store if isinstance(settings, Settings) else Path(settings)
    path = live_path(store_dir)
    return ox.Store.read_only(str(path)) if read_only else ox.Store(str(path))


@contextlib.contextmanager
def new_build(store_dir: Path, from_live: bool = False, optimize: bool = True) -> Iterator[ox.Store]:
    """Yield a store to fill; on normal exit make it the live store, on error discard it.

    :param from_live: start from a copy of the live store (a RocksDB checkpoint: hard links, cheap)
        instead of an empty one — for incremental changes such as an import.
    :param optimize: compact the database (:meth:`pyoxigraph.Store.optimize`) before it goes live; at
        national scale this costs ~10 s and gains little after bulk loads, which write sorted files.
    :raises StoreNotFoundError: with *from_live* when there is no live store yet.

    The swap is an atomic ``os.replace`` of the ``current`` symlink; the build it replaces is then
    deleted. Exceptions propagate after the half-written build is removed.

    The store must be closed before its directory is moved (RocksDB keeps compacting in the background
    and would write its files to the old path): the caller must not keep a reference to it past the
    ``with`` block (``del store`` as its last statement, and objects holding it deleted too).

    :raises RuntimeError: on exit when the caller still holds the store (a programming error: the new
        build is then discarded and the live store kept).
    """
    store_dir = Path(store_dir)
    (store_dir / "builds").mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    work = store_dir / f".build-{stamp}"
    final = store_dir / "builds" / stamp
    if from_live:
        ox.Store.read_only(str(live_path(store_dir))).backup(str(work))
    store = ox.Store(str(work))
    try:
        yield store
        store.flush()
        if optimize:
            store.optimize()
        _check_sole_reference(store, work)
        del store  # the last reference: closes the database, its background compactions done
        os.replace(work, final)
    except BaseException:
        with contextlib.suppress(NameError):
            del store
        shutil.rmtree(work, ignore_errors=True)
        raise
    previous = (store_dir / "current").resolve() if (store_dir / "current").exists() else None
    tmp_link = store_dir / f".current-{stamp}"
    os.symlink(Path("builds") / stamp, tmp_link)
    os.replace(tmp_link, store_dir / "current")
    if previous is not None and previous != final and previous.parent == (store_dir / "builds").resolve():
        shutil.rmtree(previous, ignore_errors=True)


def _check_sole_reference(store: ox.Store, work: Path) -> None:
    """Check that *store* is referenced only by :func:`new_build` (and this call), so that deleting it closes
    the database; raise :class:`RuntimeError` naming *work* otherwise."""
    import gc
    import sys

    if sys.getrefcount(store) > 3:  # new_build's local, this argument, getrefcount's own
        gc.collect()  # a reference cycle may still hold it
    if sys.getrefcount(store) > 3:
        raise RuntimeError(f"the build store {work} is still referenced outside `with new_build()`: "
                           "it cannot be closed and moved (delete the caller's references in the block)")


#: Quads deleted per transaction by :func:`drop_graph`.
DROP_CHUNK = 50_000


def drop_graph(store: ox.Store, graph: ox.NamedNode, chunk: int = DROP_CHUNK) -> None:
    """Remove the named graph *graph* and its quads from *store*, in transactions of at most *chunk* quads.

    ``Store.remove_graph`` deletes a graph in one transaction, which holds every deletion in memory: for
    the 1.46 M quads of a national ``graph/bridges`` it peaked at 2 GiB of RSS and took 90 s, against
    1 GiB and 63–75 s by chunks of 20,000–100,000 (SPARQL ``DELETE`` of a ``LIMIT``-ed sub-SELECT; measured
    by hand, see docs/benchmarks.md "Updating with a newer export"). A graph of at most *chunk* quads is
    removed in one transaction.

    :raises OSError: from the store.
    """
    import itertools

    if not store.contains_named_graph(graph):
        return
    quads = store.quads_for_pattern(None, None, None, graph)
    if next(itertools.islice(quads, chunk, None), None) is not None:  # more than one chunk
        g = f"<{graph.value}>"
        delete = (f"DELETE {{ GRAPH {g} {{ ?s ?p ?o }} }} WHERE {{ {{ SELECT ?s ?p ?o WHERE {{ GRAPH {g} "
                  f"{{ ?s ?p ?o }} }} LIMIT {chunk} }} }}")
        while next(store.quads_for_pattern(None, None, None, graph), None) is not None:
            store.update(delete)
    store.remove_graph(graph)


#: Quads per bulk load of an :class:`NQuadsStream`: pyoxigraph's loader keeps the quads of a call in memory,
#: by batches of a million, until it has indexed them (~1 KB a quad at peak: a call of 1 M quads peaked at
#: 0.94 GiB, of 2 M at 1.4 GiB, of 3.5 M at 1.7 GiB, of 6.2 M at 1.9 GiB — ``benchmarks/bench_bulk_load.py``);
#: calls of 700,000, two at a time, hold ~1.3 GiB at most (measured: docs/benchmarks.md). Each call ingests its own files when it ends: fewer calls also mean less
#: compaction for RocksDB (see ``batch=None``).
STREAM_BATCH = 700_000
#: Halvings of the first batch of an :class:`NQuadsStream` (175,000 quads, then 350,000, then 700,000).
STREAM_RAMP = 2


class NQuadsStream:
    """Feed N-Quads text to :meth:`pyoxigraph.Store.bulk_load` while it is being produced, in bounded memory.

    Each bulk load runs in a thread reading the other end of an OS pipe (``/dev/fd/<n>``): it parses and
    indexes in Rust without the GIL, so it loads on one core while the caller reads the export and formats
    quads on the other. Every *batch* quads the stream moves on to a new pipe and a new bulk load, the
    previous one finishing its indexing meanwhile; at most *loaders* run at once (the writer waits for the
    oldest). Where ``/dev/fd`` does not exist each batch goes to a temporary file loaded when the next one
    starts. Use as a context manager; on error the data already written may be partly loaded (the caller
    works in a :func:`~cqpm_graph.store.new_build` copy, which is then discarded).

    :param lenient: skip the loader's IRI validation (pyoxigraph's ``lenient``, ~12 % less CPU): for text
        this project writes itself from IRIs it minted (the mappers' and the similarity's output, which
        the tests parse strictly); ``False`` for anything else.
    :param batch: quads per bulk load (:data:`STREAM_BATCH`); text is split at line ends only. ``None``: one
        bulk load for the whole stream — pyoxigraph then batches by itself (a million quads a batch, ~1 KB a
        quad at peak: 1.9 GiB at most, fed as fast as it parses; see :data:`STREAM_BATCH`) and ingests every file it wrote at once when the stream ends,
        so that RocksDB compacts the data once instead of again after every batch (an import's compactions:
        35 s of CPU → 14–17 s; docs/benchmarks.md); nothing of it is visible before :meth:`close`.
    :param loaders: bulk loads running at once (each holds up to *batch* quads in memory).
    :param ramp: the first batches are smaller (*batch* / 2**ramp, then doubling up to *batch*), so that the
        loaders start indexing while the caller is still producing the first full batch, instead of leaving
        a core idle that long.
    :raises RuntimeError: from :meth:`write` / :meth:`close` when the loader rejected the text (a bug: the
        mapper writes valid N-Quads), with the loader's message.
    """

    def __init__(self, store: ox.Store, lenient: bool = True, batch: int | None = STREAM_BATCH, loaders: int = 2,
                 ramp: int = STREAM_RAMP):
        self.store, self.error, self.quads, self.lenient = store, None, 0, lenient
        self.batch, self.loaders = (None if batch is None else max(1, batch)), max(1, loaders)
        # size of the batch being written
        self._limit = float("inf") if batch is None else max(1, self.batch >> max(0, ramp))
        self._running: list[threading.Thread] = []
        self._out = None
        self._in_batch = 0
        self._pipes = Path("/dev/fd").is_dir()

    def _load(self, path: str, fd: int | None = None) -> None:
        try:
            self.store.bulk_load(path=path, format=ox.RdfFormat.N_QUADS, lenient=self.lenient)
        except BaseException as exc:  # reported by write() / close() in the producer's thread
            self.error = self.error or exc
        finally:
            if fd is not None:
                os.close(fd)  # the writer then gets EPIPE instead of blocking on a full pipe

    def _end_batch(self) -> None:
        """Close the batch being written: its loader finishes on its own (or, without pipes, runs now)."""
        if self._out is None:
            return
        out, self._out, self._in_batch = self._out, None, 0
        try:
            out.close()
        except BrokenPipeError:
            pass
        if not self._pipes:  # pragma: no cover - platforms without /dev/fd
            try:
                self._load(out.name)
            finally:
                os.unlink(out.name)

    def _start_batch(self) -> None:
        while len(self._running) >= self.loaders:
            self._running.pop(0).join()
        self._check()
        if self._pipes:
            r, w = os.pipe()
            thread = threading.Thread(target=self._load, args=(f"/dev/fd/{r}", r), daemon=True)
            thread.start()
            self._running.append(thread)
            self._out = os.fdopen(w, "wb", buffering=1 << 20)
        else:  # pragma: no cover - platforms without /dev/fd
            self._out = tempfile.NamedTemporaryFile(suffix=".nq", delete=False)

    def _check(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"chargement N-Quads refusé par pyoxigraph : {self.error}") from self.error

    def write(self, text: str | bytes, quads: int) -> None:
        """Queue *text* (complete N-Quads lines holding *quads* quads; ``str`` or UTF-8 ``bytes``) for loading."""
        if self._out is not None and self._in_batch >= self._limit:
            self._end_batch()
            self._limit = min(self.batch, self._limit * 2)  # batch is not None: the limit was reached
        if self._out is None:
            self._start_batch()
        try:
            self._out.write(text if isinstance(text, bytes) else text.encode("utf-8"))
        except BrokenPipeError:
            self.close()
        self._in_batch += quads
        self.quads += quads

    def write_file(self, fh, lines: int = 20_000) -> None:
        """Queue the N-Quads lines of the binary file *fh* (one quad a line, read from its current position)
        for loading, *lines* at a time: a spool written earlier, e.g. while the loads had to wait."""
        import itertools

        for chunk in iter(lambda: list(itertools.islice(fh, lines)), []):
            self.write(b"".join(chunk), len(chunk))

    def cut(self) -> None:
        """End the batch being written, so that its load completes in the background while the caller does
        something else (:meth:`close` waits for it); a later :meth:`write` starts a new batch."""
        self._end_batch()

    def join(self) -> None:
        """Wait for the loads of the batches ended so far (:meth:`cut`), from any thread; unlike :meth:`close`,
        reports no error and ends nothing."""
        for thread in list(self._running):
            thread.join()

    def close(self) -> None:
        """Finish loading (blocks until every load is done)."""
        self._end_batch()
        while self._running:
            self._running.pop(0).join()
        self._check()

    def __enter__(self) -> "NQuadsStream":
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.close()
        except RuntimeError:
            if exc_info[0] is None:
                raise  # otherwise the producer's own error (bad export) is the one to report


def query(store: ox.Store, sparql: str, **kwargs):
    """Run a SPARQL query with the union of the named graphs as default graph.

    Keyword arguments are passed to :meth:`pyoxigraph.Store.query` (``substitutions``,
    ``default_graph``, ``named_graphs`` …); giving ``default_graph`` turns the union off, as the
    SPARQL 1.1 Protocol's ``default-graph-uri`` requires.

    :raises SyntaxError: for a malformed query (message from the SPARQL parser).
    """
    if "default_graph" not in kwargs:
        kwargs.setdefault("use_default_graph_as_union", True)
    return store.query(sparql, **kwargs)


def term_to_python(term):
    """Convert a pyoxigraph term to a plain Python value for tables and JSON.

    IRIs and blank nodes become ``str``; literals become ``int`` / ``float`` / ``bool`` /
    ``datetime.date`` for the XSD numeric, boolean and date types, else their lexical ``str``;
    ``None`` stays ``None``.
    """
    if term is None:
        return None
    if isinstance(term, (ox.NamedNode, ox.BlankNode)):
        return term.value
    if isinstance(term, ox.Literal):
        return _literal_value(term.value, term.datatype.value if term.datatype else "")
    return str(term)


def _literal_value(v: str, dt: str):
    """A literal's Python value from its lexical form *v* and datatype IRI *dt* (see :func:`term_to_python`)."""
    try:
        if dt.endswith(("#integer", "#int", "#long", "#nonNegativeInteger", "#positiveInteger", "#short")):
            return int(v)
        if dt.endswith(("#decimal", "#double", "#float")):
            return float(v)
        if dt.endswith("#boolean"):
            return v in ("true", "1")
        if dt.endswith("#date"):
            import datetime
            return datetime.date.fromisoformat(v)
    except ValueError:
        return v
    return v


def term_to_json(term) -> dict:
    """A pyoxigraph term as a SPARQL 1.1 Query Results JSON term (``{"type": "uri", "value": …}``, literals
    with ``xml:lang`` or ``datatype``; RDF 1.2 triple terms as ``{"type": "triple", …}``)."""
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype and term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            out["datatype"] = term.datatype.value
        return out
    if isinstance(term, ox.Triple):
        return {"type": "triple", "value": {"subject": term_to_json(term.subject),
                                            "predicate": term_to_json(term.predicate),
                                            "object": term_to_json(term.object)}}
    return {"type": "literal", "value": str(term)}


def select(store: ox.Store, sparql: str, **kwargs) -> list[dict]:
    """Run a SELECT query and return its rows as ``{variable: python value}`` dicts (see
    :func:`term_to_python`); unbound variables are absent from a row's dict.

    :raises SyntaxError: for a malformed query; :raises TypeError: when it is not a SELECT.
    """
    result = query(store, sparql, **kwargs)
    if not isinstance(result, ox.QuerySolutions):
        raise TypeError("select() needs a SELECT query")
    return solutions_to_rows(result)


def serialized_rows(result: ox.QuerySolutions) -> list[dict]:
    """As :func:`solutions_to_rows`, the results evaluated and serialised by pyoxigraph in one call
    (SPARQL JSON) and read back: pyoxigraph then releases the GIL for the whole evaluation, so that
    queries run in several threads at once really do (row by row, each row takes the GIL back)."""
    import json

    data = json.loads(result.serialize(format=ox.QueryResultsFormat.JSON))
    names = data["head"]["vars"]
    return [{name: json_term_to_python(b[name]) for name in names if name in b} for b in data["results"]["bindings"]]


def json_term_to_python(term: dict):
    """A term of the SPARQL 1.1 Query Results JSON format (``{"type": "literal", "value": …, "datatype": …}``)
    as the same Python value :func:`term_to_python` gives for the pyoxigraph term."""
    kind = term.get("type")
    if kind in ("uri", "bnode"):
        return term["value"]
    if kind in ("literal", "typed-literal"):
        return _literal_value(term["value"], term.get("datatype", ""))
    return str(term.get("value", term))


def solutions_to_rows(result: ox.QuerySolutions) -> list[dict]:
    """The rows of SELECT results as ``{variable: python value}`` dicts (:func:`term_to_python`);
    unbound variables are absent from a row's dict."""
    names = [v.value for v in result.variables]
    return [{name: term_to_python(solution[name]) for name in names if solution[name] is not None}
            for solution in result]
