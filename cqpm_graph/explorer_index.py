"""The explorer's index: the certification list, its filters and the keyword search in one SQLite file.

Why an index beside the graph
-----------------------------
pyoxigraph has no full-text index, and at national scale (25,000 certifications, 100,000 blocs, 438,000
capacités, 4.9 M triples) the explorer's list and search cannot be answered from SPARQL in a request:
measured on the project's 2-core machine, ``CONTAINS(LCASE(STR(?label)), "maintenance")`` over the capacity
labels takes 16 s (``REGEX`` the same), ordering the 25,000 certifications by identifier ~1 s, and a
join such as "capacities of every certification with their labels" 36 s (each row is a RocksDB point
lookup). Plain scans of one predicate are the cheapest way to read the store (~20 µs per triple), so the
index is built with **single-pattern SELECTs joined in Python**, once per build, and queried with SQL.

It is a SQLite database (Python's standard library ``sqlite3``, FTS5 — no new dependency):

=====================  ==================================================================================
``meta``               ``version``, ``created``, ``seconds``, ``statistics`` (JSON: the home page counts)
``cert``               one row per certification; ``n`` is its rank in natural identifier order
                       (``RNCP2`` before ``RNCP10``); title, type, registry, level, active flag, end date
                       of registration, numbers of blocs and capacities, ROME and NSF codes
``concept``            the ROME / NSF concepts the certifications use and their broader concepts
``cert_concept``       certification → ROME / NSF code (as stated)
``concept_ancestor``   concept → every ``skos:broader+`` ancestor (for "certifications under H25")
``item``               searchable texts: identifier, titles, blocs, capacities (and other wordings),
                       activities, jobs, ``ROME code + label``, ``NSF code + label``; one row per
                       (certification, kind, text); its id encodes certification and kind (:func:`item_id`)
``item_text``          FTS5 table over the folded text of each item, **trigram** tokenizer
``short_text``         the folded identifiers, titles and codes (queries without a word of 3 letters)
=====================  ==================================================================================

The search keeps the explorer's semantics exactly: every word of the query (folded: lower case, accents
removed, ``’`` → ``'``, ``œ`` → ``oe``) must occur *as a substring* of the same text. The trigram
tokenizer answers substring queries from the index (words of 3 characters or more); shorter words filter
the candidates with ``instr``. A word-prefix tokenizer (``unicode61``) is smaller (65 MB against 140 MB at
national scale) and faster, but would change what matches (``19453`` would no longer find ``RNCP19453``).

Where the file lives
--------------------
* written ahead into the build directory (``<store>/builds/<stamp>/explorer-index.sqlite``,
  :data:`INDEX_FILE`) by :func:`write_build_index` — ``python -m cqpm_graph.explorer_index --store DIR``,
  e.g. right after an import, before serving: it then lives and dies with the graph it describes (a
  later build or import makes a new build directory). RocksDB leaves files it does not know alone, and a
  checkpoint (``from_live``) does not copy them. ``build`` and ``import-fc`` do not write it themselves:
  at national scale it takes about a minute, which the explorer can spend in the background instead;
* otherwise the explorer builds it once per build into its cache directory (see
  :mod:`cqpm_graph.webapp.directory`), in the background at national scale.

``python -m cqpm_graph.explorer_index --store DIR`` builds it for the live build of *DIR* (into the build
directory, or ``--output FILE``).
"""
from __future__ import annotations

import datetime
import json
import logging
import os
import re
import sqlite3
import tempfile
import threading
import time
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

log = logging.getLogger(__name__)

#: File name of the index inside a build directory.
INDEX_FILE = "explorer-index.sqlite"
#: Schema version; an index of another version is ignored (and rebuilt by the explorer).
VERSION = 2

CQPM = "https://w3id.org/cqpm/ontology#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCTERMS = "http://purl.org/dc/terms/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

PROLOGUE = (f"PREFIX cqpm: <{CQPM}>\nPREFIX skos: <{SKOS}>\nPREFIX dcterms: <{DCTERMS}>\n")

#: Search weight of a match, by kind (same as the explorer's historic search).
KIND_WEIGHT = {"id": 10, "title": 8, "job": 5, "bloc": 4, "rome": 3, "nsf": 3, "capacity": 2, "activity": 2}

#: What a query made only of words of one or two characters looks at (see :meth:`ExplorerIndex.search`).
SHORT_QUERY_KINDS = ("id", "title", "rome", "nsf")
#: Kinds of searchable text, numbered in item ids (see :func:`item_id`).
KINDS = ("id", "title", "bloc", "capacity", "activity", "job", "rome", "nsf")


def item_id(cert: int, kind: str, seq: int) -> int:
    """The id of a searchable text: ``cert << 20 | kind << 16 | seq``. The full-text index then gives the
    certification and the kind of every match from its rowid alone, without reading the ``item`` table
    (37,000 matches for « maintenance » at national scale: 110 ms → 25 ms)."""
    return (cert << 20) | (KINDS.index(kind) << 16) | seq

Progress = Callable[[str], None]


# -- text folding ---------------------------------------------------------------------------------------

_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold_text(text: str) -> str:
    """Lower-case, accent-free *text*: the same result as :func:`cqpm_graph.webapp.data.fold` (``[0]``) for
    the explorer's texts, but computed on the whole string (~20× faster, for building the index)."""
    folded = _COMBINING.sub("", unicodedata.normalize("NFKD", text)).lower()
    return folded.replace("\u2019", "'").replace("œ", "oe").replace("æ", "ae")


def natural_key(text: str | None):
    """Sort key putting ``C2`` before ``C10`` and ``RNCP2`` before ``RNCP10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower())
            for part in re.findall(r"\d+|\D+", text or "")]


# -- reading the graph ------------------------------------------------------------------------------------

def _stream(source, sparql: str) -> Iterator[list]:
    """Rows of a SELECT as lists of terms (``None`` when unbound), lazily on an embedded store."""
    sparql = PROLOGUE + sparql
    store = source if isinstance(source, ox.Store) else getattr(source, "store", None)
    if isinstance(store, ox.Store):
        result = store.query(sparql, use_default_graph_as_union=True)
        width = len(result.variables)
        for solution in result:
            yield [solution[i] for i in range(width)]
        return
    names, rows = source.solutions(sparql)
    for row in rows:
        yield [row.get(n) for n in names]


def _pairs(source, predicate: str) -> Iterator[tuple[str, object]]:
    """``(subject IRI, object term)`` for every triple of *predicate* (a scan of one index)."""
    for s, o in _stream(source, f"SELECT ?s ?o WHERE {{ ?s <{predicate}> ?o }}"):
        if isinstance(s, ox.NamedNode):
            yield s.value, o


def _lang_rank(term) -> int:
    lang = getattr(term, "language", None)
    return 0 if lang == "fr" else (1 if not lang else 2)


def _lit(term) -> tuple[int, str] | None:
    """A literal as ``(language rank, value)`` (French 0, untagged 1, other 2) — smaller than the term."""
    return (_lang_rank(term), term.value) if isinstance(term, ox.Literal) else None


def _best(values: list) -> str | None:
    """The French (else untagged, else any) value of ``(rank, value)`` pairs (or literals), the smallest
    on ties: deterministic."""
    pairs = [v if isinstance(v, tuple) else _lit(v) for v in values]
    pairs = [p for p in pairs if p is not None]
    return min(pairs)[1] if pairs else None


@dataclass
class _Cert:
    uri: str
    id: str
    short_titles: list = field(default_factory=list)
    types: list = field(default_factory=list)
    registries: list = field(default_factory=list)
    levels: list = field(default_factory=list)
    active: bool | None = None
    end_date: str | None = None
    blocs: set = field(default_factory=set)
    capacities: set = field(default_factory=set)
    activities: set = field(default_factory=set)
    jobs: set = field(default_factory=set)
    rome: set = field(default_factory=set)
    nsf: set = field(default_factory=set)


def collect(source, progress: Progress = lambda _m: None) -> dict:
    """Read what the index holds from *source* (a :class:`pyoxigraph.Store` or a
    :class:`cqpm_graph.backend.Backend`, embedded or remote) with single-pattern SELECTs.

    :returns: ``{certs: {uri: _Cert}, labels, alt_labels, notations, broader, statistics}`` (internal).
    """
    started = time.monotonic()

    def step(name: str, since: float) -> float:
        now = time.monotonic()
        progress(f"  index : {name} ({now - since:.1f} s)")
        return now

    t = time.monotonic()
    certs: dict[str, _Cert] = {}
    for c, ident in _stream(source, "SELECT ?c ?id WHERE { ?c a cqpm:Certification ; dcterms:identifier ?id }"):
        if isinstance(c, ox.NamedNode) and isinstance(ident, ox.Literal):
            cert = certs.get(c.value)
            if cert is None or natural_key(ident.value) < natural_key(cert.id):
                certs[c.value] = _Cert(c.value, ident.value) if cert is None else _replace_id(cert, ident.value)
    t = step(f"{len(certs)} certifications", t)

    links = {"hasBlock": "blocs", "hasActivity": "activities", "accessibleJob": "jobs", "romeCode": "rome",
             "nsfCode": "nsf"}
    for pred, attr in links.items():
        for s, o in _pairs(source, CQPM + pred):
            cert = certs.get(s)
            if cert is not None and isinstance(o, ox.NamedNode):
                getattr(cert, attr).add(o.value)
    for pred, attr in (("certificationType", "types"), ("registry", "registries"), ("level", "levels"),
                       ("shortTitle", "short_titles")):
        for s, o in _pairs(source, CQPM + pred):
            cert = certs.get(s)
            if cert is not None:
                getattr(cert, attr).append(o)
    for s, o in _pairs(source, CQPM + "active"):
        cert = certs.get(s)
        if cert is not None and isinstance(o, ox.Literal):
            value = o.value in ("true", "1")
            cert.active = value if cert.active is None else (cert.active and value)
    registrations = defaultdict(list)
    for s, o in _pairs(source, CQPM + "registration"):
        if s in certs and isinstance(o, ox.NamedNode):
            registrations[o.value].append(s)
    if registrations:
        for s, o in _pairs(source, CQPM + "endDate"):
            for c in registrations.get(s, ()):
                if isinstance(o, ox.Literal):
                    cert = certs[c]
                    cert.end_date = max(cert.end_date or "", o.value[:10]) or None
    t = step("liens, types, niveaux, enregistrements", t)

    # capacities of each certification: from the certifications (a scan of cqpm:hasCapacity would also read
    # the 438,000 bloc → capacity triples)
    for c, k in _stream(source, "SELECT ?c ?k WHERE { ?c a cqpm:Certification ; cqpm:hasCapacity ?k }"):
        cert = certs.get(c.value) if isinstance(c, ox.NamedNode) else None
        if cert is not None and isinstance(k, ox.NamedNode):
            cert.capacities.add(k.value)
    t = step("capacités", t)

    wanted: set[str] = set(certs)
    concepts: set[str] = set()
    for cert in certs.values():
        wanted.update(cert.blocs, cert.capacities, cert.activities, cert.jobs)
        for term in cert.types + cert.registries + cert.levels:
            if isinstance(term, ox.NamedNode):
                concepts.add(term.value)
        concepts.update(cert.rome, cert.nsf)

    # broader concepts of the ROME / NSF codes used (a scan: the nomenclatures are small)
    broader = defaultdict(set)
    for s, o in _pairs(source, SKOS + "broader"):
        if isinstance(o, ox.NamedNode):
            broader[s].add(o.value)
    used = set().union(*(cert.rome | cert.nsf for cert in certs.values())) if certs else set()
    ancestors = {u: _closure(u, broader) for u in used}
    for anc in ancestors.values():
        concepts.update(anc)
    wanted |= concepts
    t = step("hiérarchies ROME / NSF", t)

    labels: dict[str, list] = defaultdict(list)
    alt_labels: dict[str, list] = defaultdict(list)
    notations: dict[str, list] = defaultdict(list)
    for pred, target in (("prefLabel", labels), ("altLabel", alt_labels), ("notation", notations)):
        for s, o in _pairs(source, SKOS + pred):
            if s in wanted and isinstance(o, ox.Literal):
                target[s].append(_lit(o))
    t = step("libellés et codes", t)

    statistics = {}
    for key, pattern in (("certifications", "?x a cqpm:Certification"), ("blocs", "?x a cqpm:CompetenceBlock"),
                         ("capacities", "?x a cqpm:Capacity"), ("jobs", "?x a cqpm:Job"),
                         ("rome", "?c cqpm:romeCode ?x"), ("nsf", "?c cqpm:nsfCode ?x")):
        rows = list(_stream(source, f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ {pattern} }}"))
        statistics[key] = int(rows[0][0].value) if rows and rows[0][0] is not None else 0
    step("statistiques", t)
    progress(f"  index : lecture du graphe en {time.monotonic() - started:.1f} s")
    return {"certs": certs, "labels": labels, "alt_labels": alt_labels, "notations": notations,
            "ancestors": ancestors, "concepts": concepts, "statistics": statistics}


def _replace_id(cert: _Cert, ident: str) -> _Cert:
    cert.id = ident
    return cert


def _closure(start: str, broader: dict[str, set]) -> set[str]:
    seen: set[str] = set()
    todo = list(broader.get(start, ()))
    while todo:
        x = todo.pop()
        if x not in seen:
            seen.add(x)
            todo.extend(broader.get(x, ()))
    seen.discard(start)
    return seen


# -- writing the index -----------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE cert(
  n INTEGER PRIMARY KEY, uri TEXT NOT NULL UNIQUE, id TEXT NOT NULL, notation TEXT,
  title TEXT NOT NULL, title_key TEXT NOT NULL, short_title TEXT,
  type TEXT, type_label TEXT, registry TEXT, registry_label TEXT, level TEXT, level_label TEXT,
  active INTEGER, end_date TEXT, blocs INTEGER NOT NULL, capacities INTEGER NOT NULL,
  rome TEXT NOT NULL, nsf TEXT NOT NULL);
CREATE INDEX cert_id ON cert(id);
CREATE INDEX cert_notation ON cert(notation);
CREATE INDEX cert_title ON cert(title_key, n);
CREATE TABLE concept(uri TEXT PRIMARY KEY, scheme TEXT, code TEXT, label TEXT);
CREATE TABLE cert_concept(scheme TEXT NOT NULL, uri TEXT NOT NULL, cert INTEGER NOT NULL,
  PRIMARY KEY(scheme, uri, cert)) WITHOUT ROWID;
CREATE TABLE concept_ancestor(ancestor TEXT NOT NULL, uri TEXT NOT NULL, PRIMARY KEY(ancestor, uri)) WITHOUT ROWID;
CREATE TABLE item(id INTEGER PRIMARY KEY, cert INTEGER NOT NULL, kind TEXT NOT NULL, code TEXT, text TEXT NOT NULL);
CREATE INDEX item_cert ON item(cert);
CREATE VIRTUAL TABLE item_text USING fts5(folded, tokenize='trigram');
CREATE TABLE short_text(id INTEGER PRIMARY KEY, folded TEXT NOT NULL);
"""


def _local(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _texts(values: list) -> list[str]:
    """Every value of ``(rank, value)`` pairs, French / untagged first, each once."""
    return list(dict.fromkeys(v for _rank, v in sorted(values)))


def fill(db: sqlite3.Connection, data: dict, progress: Progress = lambda _m: None) -> None:
    """Create the tables of :data:`SCHEMA` in *db* and fill them from :func:`collect`'s *data*."""
    started = time.monotonic()
    certs: dict[str, _Cert] = data["certs"]
    labels, alts, notations = data["labels"], data["alt_labels"], data["notations"]

    def label(uri: str) -> str | None:
        return _best(labels.get(uri, []))

    def code(uri: str) -> str | None:
        return _best(notations.get(uri, []))

    def concept_code(term) -> tuple[str | None, str | None]:
        if isinstance(term, ox.NamedNode):
            return code(term.value) or _local(term.value), label(term.value)
        if isinstance(term, ox.Literal):
            return term.value, None
        return None, None

    db.executescript(SCHEMA)
    order = sorted(certs.values(), key=lambda c: (natural_key(c.id), c.uri))
    rank = {c.uri: n for n, c in enumerate(order, start=1)}
    cert_rows, concept_rows, item_rows = [], [], []
    for cert in order:
        n = rank[cert.uri]
        title = label(cert.uri) or cert.id
        type_code, type_label = min((concept_code(t) for t in cert.types), default=(None, None),
                                    key=lambda x: (x[0] or ""))
        reg_code, reg_label = min((concept_code(t) for t in cert.registries), default=(None, None),
                                  key=lambda x: (x[0] or ""))
        level_code, level_label = min((concept_code(t) for t in cert.levels), default=(None, None),
                                      key=lambda x: (x[0] or ""))
        rome = sorted({code(u) for u in cert.rome} - {None}, key=natural_key)
        nsf = sorted({code(u) for u in cert.nsf} - {None}, key=natural_key)
        cert_rows.append((n, cert.uri, cert.id, code(cert.uri), title, fold_text(title),
                          _best(cert.short_titles), type_code, type_label, reg_code, reg_label, level_code,
                          level_label, None if cert.active is None else int(cert.active), cert.end_date,
                          len(cert.blocs), len(cert.capacities), json.dumps(rome), json.dumps(nsf)))
        for scheme, uris in (("rome", cert.rome), ("nsf", cert.nsf)):
            for u in uris:
                concept_rows.append((scheme, u, n))
        # searchable texts: the same as the explorer's historic search, plus NSF codes
        texts: list[tuple[str, str | None, str]] = [("id", None, cert.id)]
        texts += [("title", None, t) for t in _texts(labels.get(cert.uri, []))]
        texts += [("title", None, t.value) for t in cert.short_titles if isinstance(t, ox.Literal)]
        for kind, members, with_alt in (("bloc", cert.blocs, False), ("capacity", cert.capacities, True),
                                        ("activity", cert.activities, False), ("job", cert.jobs, False)):
            for m in members:
                member_code = None if kind == "job" else code(m)
                wordings = _texts(labels.get(m, []) + (alts.get(m, []) if with_alt else []))
                texts += [(kind, member_code, w) for w in wordings]
        for kind, uris in (("rome", cert.rome), ("nsf", cert.nsf)):
            for u in uris:
                c, lab = code(u), label(u)
                if c and lab:
                    texts.append((kind, c, f"{c} {lab}"))
        seen = set()
        for kind, item_code, text in texts:
            if (kind, text) not in seen:
                seen.add((kind, text))
                item_rows.append((n, kind, item_code, text))
    db.executemany("INSERT INTO cert VALUES (" + ",".join("?" * 19) + ")", cert_rows)
    db.executemany("INSERT OR IGNORE INTO cert_concept VALUES (?,?,?)", concept_rows)
    scheme_of = {}
    for scheme, u, _n in concept_rows:
        scheme_of[u] = scheme
    for u, anc in data["ancestors"].items():
        for a in anc:
            scheme_of.setdefault(a, scheme_of.get(u))
    db.executemany("INSERT INTO concept VALUES (?,?,?,?)",
                   ((u, s, code(u) or _local(u), label(u)) for u, s in scheme_of.items()))
    db.executemany("INSERT INTO concept_ancestor VALUES (?,?)",
                   ((a, u) for u, anc in data["ancestors"].items() for a in anc))
    ids, seq = [], defaultdict(int)
    for n, kind, _code, _text in item_rows:
        seq[(n, kind)] += 1
        if seq[(n, kind)] >= 1 << 16:
            raise ValueError(f"certification {n}: more than 65,535 texts of kind {kind}")
        ids.append(item_id(n, kind, seq[(n, kind)]))
    db.executemany("INSERT INTO item(id, cert, kind, code, text) VALUES (?,?,?,?,?)",
                   ((k, *row) for k, row in zip(ids, item_rows)))
    db.executemany("INSERT INTO item_text(rowid, folded) VALUES (?,?)",
                   ((k, fold_text(row[3])) for k, row in zip(ids, item_rows)))
    # identifiers, titles and codes apart too: a query of short words (no trigram) scans only them
    db.executemany("INSERT INTO short_text(id, folded) VALUES (?,?)",
                   ((k, fold_text(row[3])) for k, row in zip(ids, item_rows) if row[1] in SHORT_QUERY_KINDS))
    db.execute("INSERT INTO item_text(item_text) VALUES ('optimize')")
    meta = {"version": str(VERSION),
            "created": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
            "statistics": json.dumps(data["statistics"]), "items": str(len(item_rows))}
    db.executemany("INSERT INTO meta VALUES (?,?)", meta.items())
    progress(f"  index : {len(cert_rows)} certifications, {len(item_rows)} textes indexés "
             f"({time.monotonic() - started:.1f} s)")


def write_index(source, path: Path | str, progress: Progress = lambda _m: None) -> Path:
    """Build the index of *source* (a pyoxigraph store or a backend) into the file *path*, atomically
    (a temporary file in the same folder, then ``os.replace``): readers see no index or a whole one.

    :returns: *path*.
    """
    started = time.monotonic()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = collect(source, progress)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        db = sqlite3.connect(tmp)
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            fill(db, data, progress)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('seconds', ?)", (f"{time.monotonic() - started:.1f}",))
            db.commit()
        finally:
            db.close()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_build_index(store: ox.Store, build_dir: Path | str, progress: Progress = lambda _m: None) -> Path:
    """Write :data:`INDEX_FILE` into *build_dir*, the directory of the (new) build *store* — for
    :func:`cqpm_graph.store.new_build`, just before the swap, so that the index goes live with its graph."""
    return write_index(store, Path(build_dir) / INDEX_FILE, progress)


# -- reading the index -----------------------------------------------------------------------------------

@dataclass
class Filters:
    """Filters of the certification list (``None``: no filter).

    :ivar registre: ``RNCP`` or ``RS`` (the register), or ``CQPM`` (certifications of type CQPM).
    :ivar niveau: a level code (``NIV5``).
    :ivar type: a certification type code (``BTS``, ``CQPM`` …).
    :ivar etat: ``active`` or ``inactive`` (see :func:`state_sql`).
    """

    registre: str | None = None
    niveau: str | None = None
    type: str | None = None
    etat: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The filters that are set, ``{name: value}``."""
        return {k: v for k, v in (("registre", self.registre), ("niveau", self.niveau), ("type", self.type),
                                  ("etat", self.etat)) if v}


def state_sql(today: str) -> tuple[str, list]:
    """SQL expression (and parameters) for the state of a certification on *today* (ISO date):
    ``'inactive'`` when the register says inactive or the registration has ended, ``'active'`` when it says
    active or the registration runs, ``NULL`` when nothing is known."""
    return ("(CASE WHEN active = 0 OR (end_date IS NOT NULL AND end_date < ?) THEN 'inactive' "
            "WHEN active = 1 OR end_date IS NOT NULL THEN 'active' END)", [today])


class ExplorerIndex:
    """Read-only access to an index file (or an in-memory index), from any thread.

    Each thread gets its own SQLite connection (SQLite connections must not be shared between threads).
    """

    def __init__(self, uri: str, keeper: sqlite3.Connection | None = None, origin: str = ""):
        self._uri = uri
        self._keeper = keeper  # keeps a shared in-memory database alive
        self._local = threading.local()
        self.origin = origin
        meta = dict(self._db().execute("SELECT key, value FROM meta").fetchall())
        if meta.get("version") != str(VERSION):
            raise ValueError(f"explorer index version {meta.get('version')!r}, expected {VERSION}")
        self.meta = meta

    # construction
    @classmethod
    def open(cls, path: Path | str) -> "ExplorerIndex":
        """Open an index file read-only. :raises ValueError: other version; :raises sqlite3.Error: not an index."""
        path = Path(path)
        return cls(f"file:{path}?mode=ro", origin=str(path))

    @classmethod
    def in_memory(cls, source, progress: Progress = lambda _m: None) -> "ExplorerIndex":
        """Build the index of *source* in memory (small graphs: tests, the seed fiches)."""
        uri = f"file:cqpm-explorer-{uuid.uuid4().hex}?mode=memory&cache=shared"
        keeper = sqlite3.connect(uri, uri=True, check_same_thread=False)
        fill(keeper, collect(source, progress), progress)
        keeper.commit()
        return cls(uri, keeper=keeper, origin="memory")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    # queries
    def statistics(self) -> dict:
        """The home page counts: ``{certifications, blocs, capacities, jobs, rome, nsf}``."""
        return json.loads(self.meta.get("statistics") or "{}")

    def find(self, cert_id: str) -> tuple[str, str] | None:
        """``(uri, identifier)`` of the certification whose identifier or notation is *cert_id* (as given,
        then in upper case), else ``None`` — the order of :func:`cqpm_graph.webapp.data.find_certification`."""
        db = self._db()
        candidates = [cert_id] + ([cert_id.upper()] if cert_id.upper() != cert_id else [])
        for candidate in candidates:
            row = db.execute("SELECT uri, id FROM cert WHERE id = ?1 OR notation = ?1 ORDER BY id != ?1, n LIMIT 1",
                             (candidate,)).fetchone()
            if row:
                return row["uri"], row["id"]
        return None

    def find_uri(self, uri: str) -> tuple[str, str] | None:
        """``(uri, identifier)`` when *uri* is a certification, else ``None``."""
        row = self._db().execute("SELECT uri, id FROM cert WHERE uri = ?", (uri,)).fetchone()
        return (row["uri"], row["id"]) if row else None

    def _where(self, filters: Filters, today: str, skip: str | None = None) -> tuple[str, list]:
        clauses, params = [], []
        if filters.registre and skip != "registre":
            if filters.registre == "CQPM":
                clauses.append("type = 'CQPM'")
            else:
                clauses.append("registry = ?")
                params.append(filters.registre)
        if filters.niveau and skip != "niveau":
            clauses.append("level = ?")
            params.append(filters.niveau)
        if filters.type and skip != "type":
            clauses.append("type = ?")
            params.append(filters.type)
        if filters.etat and skip != "etat":
            expr, p = state_sql(today)
            clauses.append(f"{expr} = ?")
            params += p + [filters.etat]
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def certifications(self, filters: Filters, today: str, offset: int = 0, limit: int = 50,
                       order: str = "numero") -> tuple[int, list[dict]]:
        """``(total, rows)``: the certifications matching *filters*, in identifier (``numero``) or title
        (``intitule``) order, *limit* rows from *offset*."""
        where, params = self._where(filters, today)
        db = self._db()
        total = db.execute(f"SELECT count(*) FROM cert{where}", params).fetchone()[0]
        expr, p = state_sql(today)
        sort = "title_key, n" if order == "intitule" else "n"
        rows = db.execute(f"SELECT *, {expr} AS state FROM cert{where} ORDER BY {sort} LIMIT ? OFFSET ?",
                          p + params + [limit, offset]).fetchall()
        return total, [self._cert_row(r) for r in rows]

    @staticmethod
    def _cert_row(r: sqlite3.Row) -> dict:
        return {"id": r["id"], "uri": r["uri"], "title": r["title"], "short_title": r["short_title"],
                "type": r["type"], "type_label": r["type_label"], "registry": r["registry"],
                "blocs": r["blocs"], "capacities": r["capacities"], "rome": json.loads(r["rome"]),
                "nsf": json.loads(r["nsf"]), "level": r["level"], "level_label": r["level_label"],
                "active": r["state"] == "active" if r["state"] else None, "end_date": r["end_date"]}

    def facets(self, filters: Filters, today: str) -> dict[str, list[dict]]:
        """For each filter, its values with the number of certifications they give (the other filters
        applied): ``{registre|niveau|type|etat: [{value, label, count}]}``."""
        db = self._db()
        out: dict[str, list[dict]] = {}
        where, params = self._where(filters, today, skip="registre")
        registres = [{"value": r[0], "label": r[1] or r[0], "count": r[2]} for r in db.execute(
            f"SELECT registry, registry_label, count(*) FROM cert{where} {'AND' if where else 'WHERE'} "
            f"registry IS NOT NULL GROUP BY registry ORDER BY registry", params)]
        cqpm = db.execute(f"SELECT count(*) FROM cert{where} {'AND' if where else 'WHERE'} type = 'CQPM'",
                          params).fetchone()[0]
        if cqpm:
            registres.append({"value": "CQPM", "label": "CQPM (métallurgie)", "count": cqpm})
        out["registre"] = registres
        where, params = self._where(filters, today, skip="niveau")
        out["niveau"] = [{"value": r[0], "label": r[1] or r[0], "count": r[2]} for r in db.execute(
            f"SELECT level, level_label, count(*) FROM cert{where} {'AND' if where else 'WHERE'} "
            f"level IS NOT NULL GROUP BY level", params)]
        out["niveau"].sort(key=lambda x: natural_key(x["value"]))
        where, params = self._where(filters, today, skip="type")
        out["type"] = [{"value": r[0], "label": r[1] or r[0], "count": r[2]} for r in db.execute(
            f"SELECT type, type_label, count(*) FROM cert{where} {'AND' if where else 'WHERE'} "
            f"type IS NOT NULL GROUP BY type ORDER BY type", params)]
        where, params = self._where(filters, today, skip="etat")
        expr, p = state_sql(today)
        counts = dict(db.execute(f"SELECT {expr} AS s, count(*) FROM cert{where} GROUP BY s", p + params).fetchall())
        out["etat"] = [{"value": v, "label": lab, "count": counts.get(v, 0)}
                       for v, lab in (("active", "active"), ("inactive", "inactive")) if counts.get(v)]
        return out

    def search(self, words: list[str], offset: int = 0, limit: int = 20,
               max_matches: int = 20) -> tuple[int, list[dict]]:
        """Certifications with a text containing every folded word of *words*, best first.

        Words of three characters or more are looked up in the trigram index; shorter ones filter its
        candidates. A query with no word of three characters looks at identifiers, titles and ROME / NSF
        codes only (:data:`SHORT_QUERY_KINDS`).

        :returns: ``(total certifications, hits)``; each hit ``{id, uri, title, score, match_count,
            matches: [{kind, code, text}]}`` (at most *max_matches* matches, best kinds first); score = sum
            of :data:`KIND_WEIGHT` over the matching texts; ties in identifier order.
        """
        if not words:
            return 0, []
        db = self._db()
        long_words = [w for w in words if len(w) >= 3]
        short_words = [w for w in words if len(w) < 3]
        conditions, params = [], []
        if long_words:
            table = "item_text"
            conditions.append("item_text MATCH ?")
            params.append(" AND ".join('"' + w.replace('"', '""') + '"' for w in long_words))
        else:
            # no word the trigram index can look up: scan the identifiers, titles and codes only (the
            # capacity wordings would be a scan of every text: ~350 ms at national scale)
            table = "short_text"
        for w in short_words:
            conditions.append(f"instr({table}.folded, ?) > 0")
            params.append(w)
        kind = "((rowid >> 16) & 15)"
        weight = (f"CASE {kind} " + " ".join(f"WHEN {KINDS.index(k)} THEN {v}" for k, v in KIND_WEIGHT.items())
                  + " ELSE 1 END")
        by_cert = (f"SELECT rowid >> 20 AS cert, SUM({weight}) AS score, count(*) AS n FROM {table} "
                   f"WHERE {' AND '.join(conditions)} GROUP BY cert")
        page = db.execute(f"SELECT cert, score, n, count(*) OVER () FROM ({by_cert}) "
                          f"ORDER BY score DESC, cert LIMIT ? OFFSET ?", params + [limit, offset]).fetchall()
        if not page:
            total = db.execute(f"SELECT count(*) FROM ({by_cert})", params).fetchone()[0]
            return total, []
        total = page[0][3]
        ns = [r[0] for r in page]
        marks = ",".join("?" * len(ns))
        certs = {r["n"]: r for r in db.execute(f"SELECT n, id, uri, title FROM cert WHERE n IN ({marks})", ns)}
        # the matching texts of these certifications: their items, filtered here with the same rule (every
        # folded word in the folded text) — cheaper than running the full-text query again
        only = "" if long_words else " AND kind IN (" + ",".join(f"'{k}'" for k in SHORT_QUERY_KINDS) + ")"
        matches = defaultdict(list)
        for cert, kind, item_code, text in db.execute(
                f"SELECT cert, kind, code, text FROM item WHERE cert IN ({marks}){only}", ns):
            folded = fold_text(text)
            if all(w in folded for w in words):
                matches[cert].append({"kind": kind, "code": item_code, "text": text})
        hits = []
        for n, score, count, _total in page:
            c = certs[n]
            ms = sorted(matches[n], key=lambda m: (-KIND_WEIGHT.get(m["kind"], 1), natural_key(m["code"]),
                                                  m["text"]))
            hits.append({"id": c["id"], "uri": c["uri"], "title": c["title"], "score": score,
                         "match_count": count, "matches": ms[:max_matches]})
        return total, hits

    def concept_usage(self, scheme: str) -> list[dict]:
        """The codes of *scheme* (``rome`` / ``nsf``) the certifications state, with how many state each:
        ``[{uri, code, label, certifications}]`` in natural code order."""
        rows = self._db().execute(
            "SELECT cc.uri, k.code, k.label, count(*) AS n FROM cert_concept cc LEFT JOIN concept k ON k.uri = cc.uri "
            "WHERE cc.scheme = ? GROUP BY cc.uri", (scheme,)).fetchall()
        out = [{"uri": r[0], "code": r[1] or _local(r[0]), "label": r[2], "certifications": r[3]} for r in rows]
        out.sort(key=lambda x: natural_key(x["code"]))
        return out

    #: certifications coded with ?2 or a concept under ?2, in scheme ?1
    #: (index lookups, ancestors first — CROSS JOIN fixes the order; an ``OR`` would scan the whole scheme)
    _UNDER = ("SELECT cc.cert, cc.uri FROM cert_concept cc WHERE cc.scheme = ?1 AND cc.uri = ?2 UNION ALL "
              "SELECT cc.cert, cc.uri FROM concept_ancestor a CROSS JOIN cert_concept cc ON cc.scheme = ?1 AND cc.uri = a.uri "
              "WHERE a.ancestor = ?2")

    def concept_certifications(self, scheme: str, uri: str, offset: int = 0,
                               limit: int = 50) -> tuple[int, list[dict]]:
        """``(total, rows)``: certifications coded with *uri* or a narrower concept, in identifier order;
        each row ``{id, uri, title, via: [codes]}`` (``via``: the codes they state under *uri*)."""
        db = self._db()
        total = db.execute(f"SELECT count(DISTINCT cert) FROM ({self._UNDER})", (scheme, uri)).fetchone()[0]
        rows = db.execute(f"SELECT n, id, uri, title FROM cert WHERE n IN (SELECT cert FROM ({self._UNDER})) "
                          f"ORDER BY n LIMIT ?3 OFFSET ?4", (scheme, uri, limit, offset)).fetchall()
        if not rows:
            return total, []
        ns = [r["n"] for r in rows]
        via = defaultdict(list)
        for n, code, concept in db.execute(
                f"SELECT u.cert, k.code, u.uri FROM ({self._UNDER}) u LEFT JOIN concept k ON k.uri = u.uri "
                f"WHERE u.cert IN ({','.join(str(int(n)) for n in ns)})", (scheme, uri)):
            code = code or _local(concept)
            if code not in via[n]:
                via[n].append(code)
        return total, [{"id": r["id"], "uri": r["uri"], "title": r["title"],
                        "via": sorted(via[r["n"]], key=natural_key)} for r in rows]

    def concept_counts(self, scheme: str, uris: Iterable[str]) -> dict[str, int]:
        """``{uri: number of certifications coded with it or a narrower concept}``."""
        db = self._db()
        return {u: db.execute(f"SELECT count(DISTINCT cert) FROM ({self._UNDER})", (scheme, u)).fetchone()[0]
                for u in uris}


def open_index(path: Path | str) -> ExplorerIndex | None:
    """The index at *path*, or ``None`` when there is none (or of another version, or unreadable)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return ExplorerIndex.open(path)
    except (ValueError, sqlite3.Error) as exc:
        log.warning("ignoring explorer index %s: %s", path, exc)
        return None


def main(argv: list[str] | None = None) -> int:
    """``python -m cqpm_graph.explorer_index --store DIR [--output FILE]``."""
    import argparse

    from .config import Settings
    from .store import live_path, open_store

    parser = argparse.ArgumentParser(description="Build the explorer's index for the live build of a store.")
    parser.add_argument("--store", type=Path, default=None, help="store directory (default: CQPM_STORE)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"index file (default: <live build>/{INDEX_FILE})")
    args = parser.parse_args(argv)
    settings = Settings.from_env() if args.store is None else Settings(store=args.store)
    target = args.output or (live_path(settings.store) / INDEX_FILE)
    started = time.monotonic()
    write_index(open_store(settings), target, progress=lambda m: print(m, flush=True))
    print(f"{target} ({target.stat().st_size // 2**20} MiB) en {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
