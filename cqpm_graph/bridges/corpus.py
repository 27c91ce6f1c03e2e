"""What the build-time similarity reads: certifications, blocs, capacities with their wordings, lineage,
ROME and NSF codes (:class:`Corpus`), read from the store or, for the fiches just imported, from their
records.

Reading a national store back is the slow part of computing ``graph/bridges``: pyoxigraph decodes every
string from RocksDB (~10–35 µs a row on the project's machine), so the 413,000 capacities of the
synthetic national export take ~20 s to read. An import has those fiches in hand as records while it maps
them (:class:`CorpusRows`, filled by :func:`cqpm_graph.fc.importer.load_export`): only the other sources of
the store (the seed fiches, fiches of earlier exports) are read back, restricted to their graphs
(:func:`read_corpus` with ``rows`` and ``written``).

Both ways give the same :class:`Corpus` (``tests/test_bridges.py`` compares them on the seeds, the real
France Compétences extract and a synthetic export sharing a number with a seed), provided that each source
graph describes the blocs and capacities it names — their type and labels — as both mappers do
(:mod:`cqpm_graph.mapping`, :mod:`cqpm_graph.fc.mapping`). Where sources disagree (two titles for one bloc,
two wordings for one capacity), the choice is deterministic: the smallest title, the smallest wording as
the first one and every other wording after it, sorted.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import pyoxigraph as ox

from ..uris import URIScheme

_PREFIXES = """PREFIX cqpm: <https://w3id.org/cqpm/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""
# Written for pyoxigraph on a large on-disk store: predicate scans joined by hash (sub-SELECTs) rather than
# one seek per row, and as few strings decoded as possible.
Q_CERTS = _PREFIXES + "SELECT ?cert ?id WHERE { ?cert a cqpm:Certification ; dcterms:identifier ?id }"
Q_BLOCS = _PREFIXES + """SELECT ?cert ?bloc ?title WHERE {
  ?cert cqpm:hasBlock ?bloc .
  OPTIONAL { { SELECT ?bloc ?title WHERE { ?bloc skos:prefLabel ?title } } }
}"""
Q_BLOC_CAPACITIES = _PREFIXES + """SELECT ?bloc ?capacity ?label WHERE {
  { SELECT ?bloc WHERE { ?bloc a cqpm:CompetenceBlock } }
  ?bloc cqpm:hasCapacity ?capacity .
  { SELECT ?capacity ?label WHERE { ?capacity skos:prefLabel ?label } }
}"""
# capacities of certifications without blocs (référentiels, RS fiches); with blocs, every capacity is in a
# bloc (shape cqpmsh:CapacityCoveredByBlockShape)
Q_OTHER_CAPACITIES = _PREFIXES + """SELECT ?cert ?capacity ?label WHERE {
  { SELECT ?cert WHERE { ?cert a cqpm:Certification MINUS { ?cert cqpm:hasBlock ?bloc } } }
  ?cert cqpm:hasCapacity ?capacity .
  ?capacity skos:prefLabel ?label .
}"""
Q_ALT = _PREFIXES + """SELECT ?capacity ?label WHERE {
  ?capacity skos:altLabel ?label .
  ?cert cqpm:hasCapacity ?capacity .
}"""
Q_LINEAGE = _PREFIXES + """SELECT ?newer ?older WHERE {
  { ?newer cqpm:replaces ?older } UNION { ?older cqpm:isReplacedBy ?newer }
}"""
Q_CERT_NSF = _PREFIXES + "SELECT ?cert ?c WHERE { ?cert cqpm:nsfCode ?c }"
# the notations of the NSF concepts named (the VALUES block is filled in): in the NSF graph, or in an
# export's graph for a lettered sub-speciality
Q_NOTATIONS = _PREFIXES + "SELECT ?c ?code WHERE { VALUES ?c { } ?c skos:notation ?code }"
Q_NSF_ANCESTORS = _PREFIXES + """SELECT DISTINCT ?code ?ancestor WHERE {
  { SELECT DISTINCT ?c WHERE { ?cert cqpm:nsfCode ?c } }
  ?c skos:notation ?code ; skos:broader* ?a . ?a skos:notation ?ancestor .
}"""
Q_CERT_ROME = _PREFIXES + "SELECT ?cert ?fiche WHERE { ?cert cqpm:romeCode ?fiche }"
Q_CERT_LEVEL = _PREFIXES + "SELECT ?cert ?level WHERE { ?cert cqpm:level/skos:notation ?level }"
# the ROME items of the fiches certifications name, and which items are savoir-faire with a label (as
# bridge-rome-items and bridge-rome-item-ids read them)
Q_ROME_FICHE_ITEMS = _PREFIXES + """SELECT ?fiche ?item WHERE {
  { SELECT DISTINCT ?fiche WHERE { ?cert cqpm:romeCode ?fiche } }
  ?fiche cqpm:romeCompetence ?item .
}"""
Q_ROME_SAVOIR_FAIRE = _PREFIXES + """SELECT ?item WHERE {
  ?item cqpm:itemType ?type ; skos:prefLabel ?label . FILTER(?type = "savoir-faire")
}"""
# as bridge-rome: fiches and domaines with their labels only
Q_ROME_DOMAINS = _PREFIXES + """SELECT ?fiche ?domaine WHERE {
  { SELECT DISTINCT ?fiche WHERE { ?cert cqpm:romeCode ?fiche } }
  ?fiche skos:broader ?d ; skos:notation ?code ; skos:prefLabel ?label .
  ?d skos:notation ?domaine ; skos:prefLabel ?domaineLabel .
}"""

#: Graphs that describe no certification (reference data, build metadata, the bridges themselves), by the
#: local part of their IRI under ``<base>graph/``; the graphs of whole exports (``import/…``) neither.
NON_CERTIFICATION_GRAPHS = ("build", "bridges", "ontology", "rome-v347", "nsf")
#: Above this many other certification graphs, :func:`read_corpus` reads the whole store instead of
#: restricting its queries to those graphs (a ``FROM`` list that long costs more than it saves).
MAX_RESTRICTED_GRAPHS = 2000


def rows(store: ox.Store, sparql: str, graphs: list | None = None) -> list[list[str]]:
    """Rows of a SELECT as lists of strings (IRIs and literal values; unbound: ``""``), header dropped.

    :param graphs: the default graph of the query: these graphs merged (``None``: the union of all named
        graphs).
    """
    if graphs is None:
        result = store.query(sparql, use_default_graph_as_union=True)
    else:
        result = store.query(sparql, default_graph=graphs)
    data = result.serialize(format=ox.QueryResultsFormat.CSV)
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))[1:]


@dataclass
class Corpus:
    """What the similarity reads: certifications, blocs, capacities, lineage.

    :ivar certs: ``{certification iri: identifier}``.
    :ivar blocs: ``{bloc iri: (certification iri, title, {capacity iris})}`` (title ``""`` when none).
    :ivar capacities: ``{capacity iri: (certification iri, [wordings])}``: the smallest prefLabel first, then
        the other prefLabels and the altLabels, sorted.
    :ivar lineage: ``[(newer iri, older iri)]`` (``cqpm:replaces`` / ``cqpm:isReplacedBy``), sorted.
    """

    certs: dict[str, str] = field(default_factory=dict)
    blocs: dict[str, tuple[str, str, set[str]]] = field(default_factory=dict)
    capacities: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    lineage: list[tuple[str, str]] = field(default_factory=list)
    #: ``{certification iri: {ROME fiche iri}}``, ``{fiche iri: domaine code}``
    rome: dict[str, set[str]] = field(default_factory=dict)
    rome_domains: dict[str, str] = field(default_factory=dict)
    #: ``{certification iri: {NSF code}}``, ``{NSF code: {itself and its broader codes}}``
    nsf: dict[str, set[str]] = field(default_factory=dict)
    nsf_ancestors: dict[str, set[str]] = field(default_factory=dict)
    #: ``{ROME fiche iri: ([savoir-faire item iris], [all item iris])}``, each list sorted
    rome_items: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    #: ``{certification iri: {level notation}}`` (``NIV5``…)
    levels: dict[str, set[str]] = field(default_factory=dict)


class CorpusRows:
    """The rows of the corpus queries (:data:`Q_CERTS`, :data:`Q_BLOCS`, :data:`Q_BLOC_CAPACITIES`,
    :data:`Q_LINEAGE`, :data:`Q_CERT_ROME`, :data:`Q_CERT_NSF`) for fiches in hand, gathered while they are
    mapped, so that the similarity does not read them back from the store. A graph written again (the same
    fiche in a later export) replaces its rows.

    :ivar by_graph: ``{named graph IRI: {query kind: [row tuple]}}``, kinds ``certs`` ``(certification,
        identifier)``, ``blocs`` ``(certification, bloc, title)``, ``capacities`` ``(bloc, capacity,
        wording)``, ``lineage`` ``(newer, older)``, ``rome`` ``(certification, ROME fiche)``, ``nsf``
        ``(certification, NSF concept)`` — all IRIs as strings.
    """

    KINDS = ("certs", "blocs", "capacities", "lineage", "rome", "nsf")

    def __init__(self):
        self.by_graph: dict[str, dict[str, list[tuple[str, ...]]]] = {}
        self.dropped: set[str] = set()

    @property
    def graphs(self) -> set[str]:
        """The named graphs the fiches were written to (their rows are not read from the store)."""
        return set(self.by_graph)

    def of(self, kind: str) -> list[tuple[str, ...]]:
        """Every row of one *kind* (see :attr:`by_graph`).

        :raises ValueError: for a kind :meth:`drop` has let go of.
        """
        if kind in self.dropped:
            raise ValueError(f"rows of kind {kind!r} were dropped")
        return [r for rows in self.by_graph.values() for r in rows[kind]]

    def drop(self, *kinds: str) -> None:
        """Let go of the rows of *kinds* (memory: the blocs and capacities, once read into a corpus)."""
        self.dropped.update(kinds)
        for rows in self.by_graph.values():
            for kind in kinds:
                rows[kind] = []

    def add_fc_fiche(self, uris: URIScheme, fiche, graph: str) -> None:
        """Add a France Compétences fiche (:class:`cqpm_graph.fc.model.FCFiche`) written to *graph*, with the
        IRIs :meth:`cqpm_graph.fc.mapping.FCMapper.map_nquads` gives it (capacities numbered ``C1``… across
        its blocs, in order; lineage stated both ways)."""
        number = fiche.number
        cert = str(uris.certification(number))
        cap_base = str(uris.capacity(number, ""))
        index = 0
        blocs: list[tuple[str, str, str]] = []
        caps: list[tuple[str, str, str]] = []
        for bloc in fiche.blocs:
            node = str(uris.bloc(bloc.code))
            blocs.append((cert, node, bloc.label or ""))
            for label in bloc.capacities:
                index += 1
                caps.append((node, f"{cap_base}C{index}", label))
        lineage = [(cert, str(uris.certification(old))) for old in fiche.replaces]
        lineage += [(str(uris.certification(new)), cert) for new in fiche.replaced_by]
        self.by_graph[graph] = {
            "certs": [(cert, number)], "blocs": blocs, "capacities": caps, "lineage": lineage,
            "rome": [(cert, str(uris.rome(code))) for code, _label in fiche.rome],
            "nsf": [(cert, str(uris.nsf(code))) for code, _label in fiche.nsf]}


def other_graphs(store: ox.Store, uris: URIScheme, written: set[str]) -> list[ox.NamedNode]:
    """The named graphs of *store* that may describe certifications, except *written*: the graphs of
    fiches (seed fiches, France Compétences fiches), not reference data, build metadata or whole exports."""
    skip = {str(uris.graph(name)) for name in NON_CERTIFICATION_GRAPHS}
    exports = str(uris.graph("import")) + "/"
    return sorted((g for g in store.named_graphs()
                   if g.value not in written and g.value not in skip and not g.value.startswith(exports)),
                  key=lambda g: g.value)


def read_corpus(store: ox.Store, uris: URIScheme | None = None, extra: CorpusRows | None = None) -> Corpus:
    """Read the certifications, blocs, capacities (with their wordings), lineage, ROME and NSF codes of
    *store* (the union of its named graphs; ``graph/bridges`` holds none of them):
    :func:`read_wordings`, then :func:`read_signals`.

    :param extra: rows of fiches in hand (written to ``extra.graphs`` of *store*): their rows are taken from
        it and only the other certification graphs are read (:func:`other_graphs`), unless they are more
        than :data:`MAX_RESTRICTED_GRAPHS` (then the whole store is read and *extra* is not used). Needs
        *uris*.
    :returns: a :class:`Corpus`, the same whichever way it was read (see the module doc).
    """
    corpus = read_wordings(store, uris, extra)
    read_signals(store, uris, extra, corpus)
    return corpus


def _scope(store: ox.Store, uris: URIScheme | None, extra: CorpusRows | None):
    """``(graphs to read, rows in hand)``: the other certification graphs and *extra*, or ``(None, None)``
    for the union of the whole store."""
    if extra is not None and uris is not None:
        others = other_graphs(store, uris, extra.graphs)
        if len(others) <= MAX_RESTRICTED_GRAPHS:
            return others, extra
    return None, None


def _found(store: ox.Store, scope, extra: CorpusRows | None, queries: dict[str, str]) -> dict[str, list]:
    found = {kind: (extra.of(kind) if extra is not None and kind in CorpusRows.KINDS else [])
             for kind in queries}
    if scope is None or scope:
        for kind, sparql in queries.items():
            found[kind] += [tuple(r) for r in rows(store, sparql, scope)]
    return found


def read_wordings(store: ox.Store, uris: URIScheme | None = None, extra: CorpusRows | None = None) -> Corpus:
    """The certifications, blocs and capacities of *store* (a :class:`Corpus` without its signals): what
    the bloc equivalences and capacity similarities need.

    With *extra* (see :func:`read_corpus`) only graphs other than ``extra.graphs`` are read, so this may run
    while those graphs are still being bulk-loaded.
    """
    scope, extra = _scope(store, uris, extra)
    found = _found(store, scope, extra, {"certs": Q_CERTS, "blocs": Q_BLOCS, "capacities": Q_BLOC_CAPACITIES,
                                         "other": Q_OTHER_CAPACITIES, "alt": Q_ALT})
    return assemble(found["certs"], found["blocs"], found["capacities"], found["other"], found["alt"])


def read_signals(store: ox.Store, uris: URIScheme | None, extra: CorpusRows | None, corpus: Corpus) -> None:
    """Fill the lineage, ROME and NSF codes of *corpus* (what the shortlists add to the mappings). Reads the
    reference graphs and every graph's ``cqpm:nsfCode`` / ``cqpm:romeCode``: the loads must be complete."""
    scope, extra = _scope(store, uris, extra)
    found = _found(store, scope, extra, {"lineage": Q_LINEAGE, "rome": Q_CERT_ROME, "nsf": Q_CERT_NSF})
    corpus.lineage = sorted({(n, o) for n, o in found["lineage"] if n != o})
    for cert, fiche in found["rome"]:
        corpus.rome.setdefault(cert, set()).add(fiche)
    nodes = sorted({c for _cert, c in found["nsf"]})
    notations: dict[str, set[str]] = {}
    for start in range(0, len(nodes), 500):
        values = " ".join(f"<{n}>" for n in nodes[start:start + 500])
        for c, code in rows(store, Q_NOTATIONS.replace("VALUES ?c { }", f"VALUES ?c {{ {values} }}")):
            notations.setdefault(c, set()).add(code)
    for cert, c in found["nsf"]:
        for code in notations.get(c, ()):
            corpus.nsf.setdefault(cert, set()).add(code)
    del found
    for code, ancestor in rows(store, Q_NSF_ANCESTORS):
        corpus.nsf_ancestors.setdefault(code, {code}).add(ancestor)
    corpus.rome_domains = {fiche: dom for fiche, dom in rows(store, Q_ROME_DOMAINS)}
    savoir_faire = {item for (item,) in rows(store, Q_ROME_SAVOIR_FAIRE)}
    items: dict[str, set[str]] = {}
    for fiche, item in rows(store, Q_ROME_FICHE_ITEMS):
        items.setdefault(fiche, set()).add(item)
    corpus.rome_items = {fiche: (sorted(found & savoir_faire), sorted(found)) for fiche, found in items.items()}
    for cert, level in rows(store, Q_CERT_LEVEL):
        corpus.levels.setdefault(cert, set()).add(level)


def _smaller(table: dict, key, value) -> None:
    """``table[key] = value`` unless it holds a smaller value already."""
    old = table.get(key)
    if old is None or value < old:
        table[key] = value


def assemble(cert_rows, bloc_rows, capacity_rows, other_rows, alt_rows) -> Corpus:
    """A :class:`Corpus` (certifications, blocs, capacities) from the rows of :data:`Q_CERTS`,
    :data:`Q_BLOCS`, :data:`Q_BLOC_CAPACITIES`, :data:`Q_OTHER_CAPACITIES` and :data:`Q_ALT`, in any order
    and with repeats (rows from several sources): no choice depends on the order (module doc). A bloc
    belongs to the smallest certification IRI naming it, with the smallest title; a capacity to the
    certification of its smallest bloc (or, without bloc, to the smallest certification naming it); its
    wordings are the smallest prefLabel, then the other prefLabels and the altLabels, sorted."""
    corpus = Corpus()
    certs = corpus.certs
    for cert, ident in cert_rows:
        _smaller(certs, cert, ident)
    with_blocs: set[str] = set()
    bloc_owner: dict[str, str] = {}
    titles: dict[str, str] = {}
    for cert, bloc, title in bloc_rows:
        with_blocs.add(cert)  # MINUS semantics: a bloc of any certification
        if cert in certs:
            _smaller(bloc_owner, bloc, cert)
            if title:
                _smaller(titles, bloc, title)
    blocs = corpus.blocs
    for bloc in sorted(bloc_owner):
        blocs[bloc] = (bloc_owner[bloc], titles.get(bloc, ""), set())
    owner: dict[str, str] = {}  # capacity → its smallest bloc, or its certification
    prefs: dict[str, str | set[str]] = {}  # one wording (the usual case) or several

    def wording(capacity: str, label: str) -> None:
        known = prefs.get(capacity)
        if known is None:
            prefs[capacity] = label
        elif isinstance(known, set):
            known.add(label)
        elif known != label:
            prefs[capacity] = {known, label}

    get_bloc, get_owner = blocs.get, owner.get
    for bloc, capacity, label in capacity_rows:  # 413,000 rows at national scale: inlined
        entry = get_bloc(bloc)
        if entry is None:
            continue
        entry[2].add(capacity)
        known = get_owner(capacity)
        if known is None:
            owner[capacity] = bloc
            prefs[capacity] = label
            continue
        if bloc < known:
            owner[capacity] = bloc
        wording(capacity, label)
    owner = {capacity: blocs[bloc][0] for capacity, bloc in owner.items()}
    direct: dict[str, str] = {}
    for cert, capacity, label in other_rows:
        if cert in certs and cert not in with_blocs:
            if capacity not in owner:
                _smaller(direct, capacity, cert)
            wording(capacity, label)
    owner.update((c, cert) for c, cert in direct.items() if c not in owner)
    alts: dict[str, set[str]] = {}
    for capacity, label in alt_rows:
        if capacity in prefs:
            alts.setdefault(capacity, set()).add(label)
    caps = corpus.capacities
    for capacity in sorted(prefs):
        known = prefs[capacity]
        if known.__class__ is str and capacity not in alts:
            caps[capacity] = (owner[capacity], [known])
            continue
        extra = alts.get(capacity)
        known = {known} if isinstance(known, str) else known
        first = min(known)
        caps[capacity] = (owner[capacity], [first, *sorted((known | (extra or set())) - {first})])
    return corpus
