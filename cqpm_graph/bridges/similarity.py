"""Build-time similarity between blocs and between capacities, and the bridge shortlists, in ``graph/bridges``.

:func:`load_similarity` reads the certifications, blocs and capacities of the store and (re)writes the named
graph ``graph/bridges``:

* **mappings** in the RDF form of SSSOM (an ``owl:Axiom`` annotating the SKOS triple it asserts), with only
  the slots that vary per mapping; the constant ones are on the mapping set ``<base>graph/bridges``::

    id:mapping/3f2a… owl:annotatedSource   id:capacite/CQPM-…-C3 ;
                     owl:annotatedProperty skos:closeMatch ;
                     owl:annotatedTarget   id:capacite/RNCP28229-C10 ;
                     sssom:similarity_score 0.53 .
    id:capacite/CQPM-…-C3 skos:closeMatch id:capacite/RNCP28229-C10 .
    id:graph/bridges a sssom:MappingSet ; sssom:mapping_justification semapv:LexicalSimilarityThresholdMatching ;
        sssom:similarity_measure "tfidf-cosine" ; sssom:mapping_tool "cqpm-graph 0.1.0" ; cqpm:inputFingerprint "…" .

  Bloc mappings (``skos:exactMatch``) state their own ``sssom:mapping_justification`` (``semapv:LexicalMatching``)
  and ``sssom:similarity_measure`` (``normalised-title`` / ``same-capacities``).
* **shortlists** (:data:`SHORTLIST` best candidate certifications of each certification, with the bloc and
  capacity coverage and the lineage already computed), one ``cqpm:BridgeShortlist`` per certification, read by
  the query ``bridge-shortlist`` so that :meth:`Bridges.bridges` needs one indexed lookup instead of
  comparing a certification with all others at request time.

Methods (``docs/bridges.md``):

* **bloc equivalence** (``skos:exactMatch``, score 1.0): titles equal after :func:`title_key` normalisation
  (``normalised-title``) or the same set of normalised capacity wordings (``same-capacities``). Blocs whose
  titles are equal character for character are *not* stored: ``bridge-blocks`` finds them in the fiches
  (``identical-title``).
* **capacity similarity** (``tfidf-cosine``): cosine of TF-IDF vectors of French Snowball stems (unigrams and
  bigrams, stop words removed, accents folded), one document per distinct wording; ``skos:closeMatch`` from
  :data:`CLOSE_MATCH` up, ``skos:relatedMatch`` from :data:`RELATED_MATCH` up. Each distinct wording proposes
  its :data:`TOP_K` best other wordings, stored once between the first capacities (IRI order) of the two
  wordings in different certifications. Capacities worded identically are not stored either:
  ``bridge-capacities`` finds them in the fiches (``identical-wording``).

Only pairs of *different* certifications; one mapping per unordered pair (source IRI < target IRI).
"""
from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyoxigraph as ox

from .. import __version__
from ..uris import URIScheme
from .corpus import _PREFIXES, Corpus, CorpusRows, read_corpus, read_signals
from .corpus import rows as _rows

OWL = "http://www.w3.org/2002/07/owl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SSSOM = "https://w3id.org/sssom/"
SEMAPV = "https://w3id.org/semapv/vocab/"
CQPM = "https://w3id.org/cqpm/ontology#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD = "http://www.w3.org/2001/XMLSchema#"

#: TF-IDF cosine from which two capacities are a ``skos:closeMatch``.
CLOSE_MATCH = 0.45
#: TF-IDF cosine from which two capacities are a ``skos:relatedMatch`` (lower pairs are not stored).
RELATED_MATCH = 0.20
#: Most other wordings proposed per distinct capacity wording (the best ones): bounds the graph.
TOP_K = 1
#: Above this many equivalent blocs, each bloc is linked to the first bloc of at most :data:`RING` other
#: title variants of its class only (the graph stays linear).
MAX_CLASS = 50
RING = 10
#: Neighbour search: a term found in more than this many wordings compares each wording with the
#: :data:`POSTING_BLOCK` wordings next to it in alphabetical order only (near duplicates sort together);
#: candidates are then scored by their exact cosine.
POSTING_BLOCK = 16
#: Candidate wordings rescored exactly per wording.
CANDIDATES = 4
#: Wordings per sparse product chunk (memory bound).
CHUNK = 4000
#: Wordings tokenised at once (memory bound).
TOKEN_CHUNK = 20_000
#: Quads per bulk load when writing the mappings of ``graph/bridges`` (:class:`BridgesJob`): a national graph
#: in two calls (~0.7 GiB each, one after the other, beside the corpus in memory).
BRIDGES_BATCH = 700_000
#: Lines per write to the spool of ``graph/bridges``.
WRITE_CHUNK = 20_000
#: Candidate certifications stored per certification (``cqpm:BridgeShortlist``).
SHORTLIST = 30
#: A bloc title or capacity wording held by more certifications than this (the general blocs of CAPs,
#: "Communiquer en anglais") does not nominate shortlist candidates by itself (as a shared ROME fiche).
UBIQUITOUS = 200
#: Weights of the signals the shortlist ranks by (the defaults of :data:`cqpm_graph.bridges.WEIGHTS`).
SHORTLIST_WEIGHTS = {"block": 0.40, "capacity": 0.25, "lineage": 0.15}
#: A certification with fewer candidates than this gets the ROME and NSF nominations of
#: :meth:`Bridges.bridges` in its shortlist too (weights and per-relation scores as there).
FILL_BELOW = 10
FILL_WEIGHTS = {"rome": 0.10, "nsf": 0.05}
ROME_SCORES = {"same-fiche": 1.0, "same-domaine": 0.5}
NSF_SCORES = {"same-code": 1.0, "broader": 0.75, "narrower": 0.75, "same-speciality": 0.6}

#: Credit of a capacity of the candidate by the best mapping it has (as in :mod:`cqpm_graph.bridges.core`).
CREDIT = {"exactMatch": 1.0, "closeMatch": 1.0, "relatedMatch": 0.5}
#: Part of the input fingerprint: change it when the method changes.
METHOD_VERSION = "6"

METHOD_TITLE = "normalised-title"
METHOD_CAPACITIES = "same-capacities"
METHOD_TFIDF = "tfidf-cosine"

#: French function words left out of title keys and TF-IDF terms (with elided forms: l', d', qu'…).
STOP_WORDS = frozenset("""
a à au aux avec ce ces cet cette d de des du dans elle elles en et eux il ils je l la le les leur leurs lui
ma mais me même mes moi mon ne nos notre nous on ou où par pas pour qu que qui sa se ses son sur ta te tes
toi ton tu un une vos votre vous y s n c j m t ainsi afin selon tout tous toute toutes etc dont être avoir
sans sous entre vers chez lors cas ci est sont
""".split())

# Leading bloc codes some registers print in the title: "UP1 :", "UG2 -", "BC03 :", "Bloc 2 -", "Module 3 :".
_TITLE_CODE_RE = re.compile(
    r"^\s*(?:(?:bloc|module|unite|domaine)\s*(?:de\s+competences?\s*)?(?:n\s*[°o]?\s*)?\d+|bc\s*\d+|[a-z]{1,3}\s*\d{1,2})"
    r"\s*[:\-.)]\s*")
_WORD_RE = re.compile(r"\w+")
_TOKEN_RE = re.compile(r"\w+|\x01")


def _fold_slow(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


# Latin letters with accents → without (the NFKD decomposition without combining marks), as one table
_FOLD_TABLE = {i: _fold_slow(chr(i)) for i in range(0x80, 0x250) if _fold_slow(chr(i)) != chr(i)}
_BEYOND_TABLE_RE = re.compile("[^\x00-\u024f]")


def fold(text: str) -> str:
    """Lower-case *text*, fold accents and typographic apostrophes (``"L’Équipe"`` → ``"l'equipe"``)."""
    text = text.replace("\u2019", "'").replace("œ", "oe").replace("Œ", "oe").lower()
    if text.isascii():
        return text
    folded = text.translate(_FOLD_TABLE)
    return _fold_slow(text) if _BEYOND_TABLE_RE.search(folded) else folded


def title_key(title: str) -> str:
    """Normalised key of a bloc title: accents folded, leading code (``UP1 :``, ``BC02 -``) and French
    function words removed, punctuation dropped.

    ``"L'animation technique d'une équipe de production"`` and ``"Animation technique d’une équipe de
    production"`` share the key ``"animation technique equipe production"``. An empty key never matches.

    Computed space-separated chunk by chunk through a cache (national-scale corpora repeat their words):
    folding is character by character and a word never spans a space, so the result is that of
    :func:`_title_key_whole`, which ``tests/test_bridges.py`` compares it with.
    """
    chunks = title.split(" ")
    cache = _CHUNKS
    if len(cache) > 500_000:  # bounded: the cache lives as long as the process
        cache.clear()
    found = [cache.get(c) for c in chunks]
    for i, entry in enumerate(found):
        if entry is None:
            folded = fold(chunks[i])
            entry = found[i] = cache[chunks[i]] = (
                folded, [w for w in _WORD_RE.findall(folded) if w not in STOP_WORDS])
    folded = " ".join(entry[0] for entry in found)
    code = _TITLE_CODE_RE.match(folded)
    if code is not None and code.end():
        return " ".join(w for w in _WORD_RE.findall(folded[code.end():]) if w not in STOP_WORDS)
    if len(found) == 1:
        return " ".join(found[0][1])
    return " ".join([w for entry in found for w in entry[1]])


_CHUNKS: dict[str, tuple[str, list[str]]] = {}


def _title_key_whole(title: str) -> str:
    """:func:`title_key` on the whole text at once (the definition; slower)."""
    text = _TITLE_CODE_RE.sub("", fold(title))
    return " ".join(w for w in _WORD_RE.findall(text) if w not in STOP_WORDS)


def capacity_key(label: str) -> str:
    """Normalised wording of a capacity (for the ``same-capacities`` bloc test): as :func:`title_key`."""
    return title_key(label)


_STEMMER = None
_STEMS: dict[str, str | None] = {}


def _stem(word: str) -> str | None:
    """Folded Snowball stem of a lower-cased word, or ``None`` for a word that is not a term (cached)."""
    found = _STEMS.get(word, "")
    if found != "":
        return found
    global _STEMMER
    if _STEMMER is None:
        import snowballstemmer
        _STEMMER = snowballstemmer.stemmer("french")
    stem = None if len(word) <= 1 or word.isdigit() or word in STOP_WORDS else fold(_STEMMER.stemWord(word))
    _STEMS[word] = stem
    return stem


def _prepare(text: str) -> str:
    return text.replace("\u2019", "'").replace("œ", "oe").lower()


def french_terms(text: str) -> list[str]:
    """The TF-IDF terms of a French text: Snowball stems of its words (stop words and one-letter words
    removed, accents folded after stemming) and the bigrams of consecutive stems.

    >>> french_terms("Identifier les sources d'amélioration")
    ['identifi', 'sourc', 'amelior', 'identifi sourc', 'sourc amelior']
    """
    stems = [s for s in map(_stem, _WORD_RE.findall(_prepare(text))) if s is not None]
    return stems + [f"{a} {b}" for a, b in zip(stems, stems[1:])]


# -- reading the store: see .corpus ----------------------------------------------------------------

_Q_SOURCES = _PREFIXES + """SELECT DISTINCT ?g ?source ?sha WHERE {
  GRAPH ?g { ?source cqpm:sha256 ?sha } FILTER (?g != ?build)
}"""
_Q_DIGESTS = _PREFIXES + "SELECT ?g ?d WHERE { GRAPH ?g { ?g cqpm:contentDigest ?d } }"
_Q_COUNTS = _PREFIXES + """SELECT ?class (COUNT(*) AS ?n) WHERE {
  VALUES ?class { cqpm:Certification cqpm:CompetenceBlock cqpm:Capacity } ?x a ?class
} GROUP BY ?class"""
_Q_REFERENCE_SIZES = """SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"""


def input_fingerprint(store: ox.Store, uris: URIScheme | None = None) -> str:
    """SHA-256 (hex) of what ``graph/bridges`` is computed from, without reading every wording.

    It covers the ``cqpm:contentDigest`` of every France Compétences fiche graph (its content, whichever
    export file it came from: a newer export that changes no fiche keeps the bridges), the SHA-256 of the
    other source documents whose data the store holds (``cqpm:sha256`` of the seed fiches, read in their own
    graphs — not in ``graph/build``, which a build writes only after ``graph/bridges``: an import and the
    build after it see the same sources; the exports' own SHA-256 too when a fiche graph has no digest,
    from an older import), the number of triples of the reference graphs (ROME, NSF, ontology: their data
    gives the ROME domaines and NSF hierarchy), the number of certifications, blocs and capacities, the
    software version and the method's parameters. Reading all wordings back from a national-scale on-disk
    store takes longer than recomputing on a change (see ``docs/bridges.md``), so they are not hashed one
    by one.

    :param uris: the URI scheme (names ``graph/build`` and the reference graphs); default: the default base.
    """
    uris = uris or URIScheme("https://w3id.org/cqpm/id/")
    h = hashlib.sha256()
    params = (METHOD_VERSION, __version__, CLOSE_MATCH, RELATED_MATCH, TOP_K, MAX_CLASS, RING, POSTING_BLOCK,
              CANDIDATES, SHORTLIST, UBIQUITOUS, FILL_BELOW, tuple(sorted(SHORTLIST_WEIGHTS.items())),
              tuple(sorted(FILL_WEIGHTS.items())))
    h.update(repr(params).encode())
    digests = sorted(map(tuple, _rows(store, _Q_DIGESTS)))
    fc = str(uris.graph("france-competences")) + "/"
    exports = str(uris.graph("import")) + "/"
    every_digest = len(digests) == sum(1 for g in store.named_graphs() if g.value.startswith(fc))
    for graph, digest in digests:
        h.update(f"\n{graph}\t{digest}".encode())
    sources = _PREFIXES + _Q_SOURCES[len(_PREFIXES):].replace("?build", f"<{uris.graph('build')}>")
    for source, sha in sorted({(source, sha) for g, source, sha in _rows(store, sources)
                               if not (every_digest and g.startswith(exports))}):
        h.update(f"\n{source}\t{sha}".encode())
    references = " ".join(f"<{uris.graph(name)}>" for name in ("ontology", "rome-v347", "nsf"))
    sizes = _rows(store, _Q_REFERENCE_SIZES.replace("WHERE {", f"WHERE {{ VALUES ?g {{ {references} }}", 1))
    for graph, n in sorted(map(tuple, sizes)):
        h.update(f"\n{graph}\t{n}".encode())
    counts = dict(map(tuple, _rows(store, _Q_COUNTS)))
    for cls in ("Certification", "CompetenceBlock", "Capacity"):
        h.update(f"\n{cls}\t{counts.get(CQPM + cls, 0)}".encode())
    return h.hexdigest()


# -- bloc equivalence ---------------------------------------------------------------------------------

def equivalent_blocs(blocs: dict[str, tuple[str, str, set[str]]],
                     capacity_labels: dict[str, str]) -> dict[tuple[str, str], str]:
    """Pairs of equivalent blocs of different certifications → method, except pairs whose titles are equal
    character for character (``bridge-blocks`` finds those in the fiches).

    :param blocs: ``{bloc iri: (certification iri, title, {capacity iris})}``.
    :param capacity_labels: ``{capacity iri: preferred wording}``.
    :returns: ``{(iri1, iri2): "normalised-title" | "same-capacities"}`` with ``iri1 < iri2``; a pair
        equivalent both ways is reported as ``normalised-title``. In a class of up to :data:`MAX_CLASS`
        blocs every pair; in a larger one each bloc and the first bloc of :data:`RING` other title variants.
    """
    pairs: dict[tuple[str, str], str] = {}
    keys: dict[str, str] = {}  # wording → key (registers repeat wordings)

    def norm(text: str) -> str:
        found = keys.get(text)
        if found is None:
            found = keys[text] = title_key(text)
        return found

    def capacity_set(bloc) -> str:
        found = sorted(norm(capacity_labels.get(c, "")) for c in bloc[2])
        return "\x1f".join(found) if found and all(found) else ""

    for method, key_of in ((METHOD_CAPACITIES, capacity_set), (METHOD_TITLE, lambda b: norm(b[1]))):
        groups: dict[str, list[str]] = defaultdict(list)
        for iri, bloc in blocs.items():
            key = key_of(bloc)
            if key:
                groups[key].append(iri)
        for members in groups.values():
            if len(members) < 2:
                continue
            members.sort()
            if len(members) <= MAX_CLASS:
                links = ((a, b) for i, a in enumerate(members) for b in members[i + 1:])
            else:
                variants: dict[str, list[str]] = defaultdict(list)
                for m in members:
                    variants[blocs[m][1]].append(m)
                firsts = sorted(v[0] for v in variants.values())
                links = ((m, f) for m in members for f in
                         [f for f in firsts if blocs[f][1] != blocs[m][1]][:RING])
            for a, b in links:
                if blocs[a][0] != blocs[b][0] and blocs[a][1] != blocs[b][1]:
                    pairs[(a, b) if a < b else (b, a)] = method
    _CHUNKS.clear()  # memory: the wordings of a national corpus are not met again
    return pairs


# -- capacity similarity ------------------------------------------------------------------------------------

def tfidf_matrix(texts: list[str]):
    """TF-IDF of *texts* over :func:`french_terms`, as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``
    computes it (tf ``1 + ln(count)``, idf ``ln((1 + n) / (1 + df)) + 1``, rows l2-normalised), vectorised:
    each distinct word is stemmed once. Returns a ``scipy.sparse.csr_matrix`` (texts × terms)."""
    import numpy as np
    import scipy.sparse as sp

    n = len(texts)
    # the words of the texts, a "\x01" (not a word character) after each; word ids in order of first
    # occurrence, "\x01" first (dict.fromkeys and map run in C); by chunks of texts: bounded memory
    vocab_words: dict[str, int] = {"\x01": 0}
    id_parts = []
    for start in range(0, n, TOKEN_CHUNK):
        tokens = _TOKEN_RE.findall(_prepare("\x01".join(texts[start:start + TOKEN_CHUNK]) + "\x01"))
        for w in dict.fromkeys(tokens):
            if w not in vocab_words:
                vocab_words[w] = len(vocab_words)
        id_parts.append(np.fromiter(map(vocab_words.__getitem__, tokens), dtype=np.int64, count=len(tokens)))
        del tokens
    ids = np.concatenate(id_parts) if id_parts else np.zeros(0, dtype=np.int64)
    del id_parts
    stem_ids: dict[str, int] = {}
    word_stem: list[int] = []
    for w in vocab_words:  # insertion order = id order
        s = None if w == "\x01" else _stem(w)
        word_stem.append(-1 if s is None else stem_ids.setdefault(s, len(stem_ids)))
    separator = ids == 0
    doc = np.cumsum(separator)[~separator]
    ids = ids[~separator]
    stems = np.asarray(word_stem, dtype=np.int64)[ids] if len(ids) else np.zeros(0, dtype=np.int64)
    keep = stems >= 0
    stems, doc = stems[keep], doc[keep]
    n_stems = max(len(stem_ids), 1)
    # bigrams of consecutive kept stems of the same document
    same = doc[1:] == doc[:-1]
    bigrams = stems[:-1][same] * n_stems + stems[1:][same]
    bi_doc = doc[:-1][same]
    uniq_bi, bi_ids = np.unique(bigrams, return_inverse=True)
    del bigrams, same
    n_terms = n_stems + len(uniq_bi)
    # 32-bit indices and counts (exact for counts): the national corpus has ~10 million term occurrences
    terms = np.concatenate([stems.astype(np.int32), (n_stems + bi_ids.reshape(-1)).astype(np.int32)])
    docs = np.concatenate([doc.astype(np.int32), bi_doc.astype(np.int32)])
    del stems, doc, bi_doc, bi_ids, ids
    counts = sp.csr_matrix((np.ones(len(terms), dtype=np.float32), (docs, terms)), shape=(n, n_terms))
    del terms, docs
    counts.sum_duplicates()
    counts.data = counts.data.astype(np.float64)
    df = np.bincount(counts.indices, minlength=n_terms)
    idf = np.log((1 + n) / (1 + df)) + 1.0
    counts.data = (1.0 + np.log(counts.data)) * idf[counts.indices]
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ counts)


def iter_wording_neighbours(matrix, threshold: float = RELATED_MATCH, top: int = CANDIDATES):
    """For each row of an l2-normalised TF-IDF *matrix*, its best other rows by cosine, from *threshold* up,
    by chunks of :data:`CHUNK` consecutive rows.

    :returns: an iterator of three numpy arrays ``(rows, cols, cosines)`` per chunk, sorted by row, cosine
        descending, column (every candidate of a row is in its row's chunk).

    Rows sharing a term are compared through the sparse product; a term found in more than
    :data:`POSTING_BLOCK` rows only pairs each row with the rows of its block (consecutive rows in that
    term's posting list), which bounds the work at national scale; the :data:`CANDIDATES` best candidates of
    each row are then scored by their exact cosine. Small corpora (no term that common) get the exact
    result.
    """
    import numpy as np
    import scipy.sparse as sp

    n = matrix.shape[0]
    if n < 2 or matrix.nnz == 0:
        return
    csc = matrix.tocsc()
    csc.sort_indices()
    df = np.diff(csc.indptr)
    pos = np.arange(csc.nnz) - np.repeat(csc.indptr[:-1], df)
    blocks = (df + POSTING_BLOCK - 1) // POSTING_BLOCK
    offsets = np.concatenate([[0], np.cumsum(blocks)])
    col_of = np.repeat(np.arange(csc.shape[1]), df)
    new_cols = offsets[col_of] + pos // POSTING_BLOCK
    blocked = sp.csr_matrix((csc.data, (csc.indices, new_cols)), shape=(n, int(offsets[-1])))
    del csc, pos, col_of, new_cols  # memory: the national matrix has 5 million entries
    blocked_t = blocked.T.tocsr()
    for start in range(0, n, CHUNK):
        part = blocked[start:start + CHUNK] @ blocked_t
        # partial scores (only the shared terms of a common block) are lower bounds of the cosine; pairs
        # far below the threshold are left out before sorting
        keep = part.data >= threshold / 2
        r = np.repeat(np.arange(start, start + part.shape[0], dtype=np.int64), np.diff(part.indptr))[keep]
        c, v = part.indices[keep].astype(np.int64), part.data[keep]
        del part
        keep = c != r
        r, c, v = r[keep], c[keep], v[keep]
        if len(r) > 2 * top * CHUNK:
            # most pairs cannot be among the best of their row: a one-key sort (row, then score, up to
            # ~1e-10) gives each row's top-th score, and only pairs from it up (with slack, ties kept) go to
            # the exact three-key sort below, which alone decides
            approx = np.argsort(r * 2.0 + (1.0 - v))
            rs, vs = r[approx], v[approx]
            rank = np.arange(len(rs)) - np.searchsorted(rs, rs, side="left")
            at = np.flatnonzero(rank == top - 1)
            floor = np.full(CHUNK, -np.inf)
            floor[rs[at] - start] = vs[at]
            keep = v >= floor[r - start] - 1e-9
            r, c, v = r[keep], c[keep], v[keep]
            del approx, rs, vs, rank, at
        order = np.lexsort((c, -v, r))
        r, c, v = r[order], c[order], v[order]
        first = np.searchsorted(r, r, side="left")
        rank = np.arange(len(r)) - first
        keep = rank < top
        r, c = r[keep], c[keep]
        exact = np.asarray(matrix[r].multiply(matrix[c]).sum(axis=1)).ravel() if len(r) else np.zeros(0)
        keep = exact >= threshold - 1e-9
        r, c, v = r[keep], c[keep], np.minimum(1.0, np.round(exact[keep], 4))
        order = np.lexsort((c, -v, r))
        yield r[order], c[order], v[order]


def wording_neighbours(matrix, threshold: float = RELATED_MATCH, top: int = CANDIDATES):
    """:func:`iter_wording_neighbours` in one piece: three numpy arrays ``(rows, cols, cosines)``, sorted by
    row, cosine descending, column."""
    import numpy as np

    parts = list(iter_wording_neighbours(matrix, threshold, top))
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def similar_capacities(capacities: dict[str, tuple[str, list[str]]], top_k: int = TOP_K,
                       threshold: float = RELATED_MATCH, expand: bool = False,
                       on_pairs=None) -> dict[tuple[str, str], float]:
    """TF-IDF cosine between capacities of different certifications, from *threshold* up.

    :param capacities: ``{capacity iri: (certification iri, [wordings])}``; the wordings of one capacity
        (prefLabel and altLabels) make one document; identical documents are one wording.
    :param expand: also give every pair of capacities the wording pairs imply (for evaluation), not only
        the stored one.
    :returns: ``{(iri1, iri2): cosine}`` with ``iri1 < iri2``: each distinct wording proposes its *top_k*
        best other wordings; a proposal is stored once, between the first capacities (IRI order) of the two
        wordings that belong to different certifications. Identical wordings are not paired here (see the
        module doc).
    :param on_pairs: called with the list of pairs ``[((iri1, iri2), cosine)]`` new in each chunk of wordings
        (:func:`iter_wording_neighbours`), as soon as they are known — a pair proposed twice comes once, with
        the same cosine — so that they can be written while the next chunks are computed.
    """
    if len(capacities) < 2:
        return {}
    iris = sorted(capacities)
    groups: dict[str, list[str]] = {}
    for iri in iris:
        words = capacities[iri][1]
        groups.setdefault(words[0] if len(words) == 1 else "\n".join(words), []).append(iri)
    texts = sorted(groups)  # near duplicates sort together (see wording_neighbours)
    members = [groups[t] for t in texts]
    del groups
    pairs: dict[tuple[str, str], float] = {}
    for rows, cols, vals in iter_wording_neighbours(tfidf_matrix(texts), threshold, max(top_k * 2, CANDIDATES)):
        fresh: list[tuple[tuple[str, str], float]] = []
        taken: dict[int, int] = defaultdict(int)  # a row's candidates are all in its chunk
        for u, v, score in zip(rows.tolist(), cols.tolist(), vals.tolist()):
            if taken[u] >= top_k:
                continue
            a_members, b_members = members[u], members[v]
            if len(a_members) == 1 and len(b_members) == 1 and not expand:  # the usual case
                a, b = a_members[0], b_members[0]
                if capacities[a][0] != capacities[b][0]:
                    key = (a, b) if a < b else (b, a)
                    if key not in pairs:
                        pairs[key] = score
                        fresh.append((key, score))
                    taken[u] += 1
                continue
            if expand:
                found = [(a, b) for a in a_members for b in b_members if capacities[a][0] != capacities[b][0]]
            else:
                found = next(([(a, b)] for a in a_members for b in b_members
                              if capacities[a][0] != capacities[b][0]), [])
            for a, b in found:
                # a pair of capacities is a pair of wordings: its cosine is the same whoever proposes it
                key = (a, b) if a < b else (b, a)
                if key not in pairs:
                    pairs[key] = score
                    fresh.append((key, score))
            if found:
                taken[u] += 1
        if on_pairs is not None and fresh:
            on_pairs(fresh)
    return pairs


# -- shortlists -------------------------------------------------------------------------------------------

@dataclass
class Shortlist:
    """The best candidate certifications of one certification (see :func:`shortlists`).

    :ivar count: how many certifications have bloc, capacity or lineage evidence with it.
    :ivar entries: ``[(identifier, block share, capacity share, lineage score, rome, nsf, refining rome,
        refining nsf, refining level)]``, best first (score with :data:`SHORTLIST_WEIGHTS`, then identifier),
        at most :data:`SHORTLIST`; ``rome`` and ``nsf`` are the nominating signals of :func:`_fill`, the last
        three the signals :meth:`Bridges.bridges` refines with (:func:`_refine`).
    """

    count: int
    entries: list[tuple]
    #: with fewer than :data:`FILL_BELOW` candidates: how many ROME and NSF nominate too (entries then
    #: ranked with those signals: ``(…, rome, nsf)``)
    nominated: int | None = None

    def text(self) -> str:
        """``"RNCP19453 0.666667 0.125 0 1 0.6;…"``: the ``cqpm:candidates`` literal."""
        num = _NUMS.__getitem__
        return ";".join(" ".join([e[0], *map(num, e[1:])]) for e in self.entries)


def _num(x: float) -> str:
    return "0" if x == 0 else f"{round(x, 6):g}"  # most signals of a candidate are 0


class _NumText(dict):
    """``{float: _num(float)}`` filled on demand: the signals of a national register take a few thousand
    distinct values among millions."""

    def __missing__(self, x: float) -> str:
        if len(self) > 100_000:  # bounded: it lives as long as the process
            self.clear()
        text = self[x] = _num(x)
        return text


_NUMS = _NumText()


def lineage_scores(lineage: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """``{a: {b: 1 / distance}}`` for every pair of the same lineage chain, both ways; the distance is the
    number of certifications from *a* (included) to *b* (excluded) that lead to *b* (query
    ``bridge-lineage``: the number of replacements in a chain)."""
    older: dict[str, set[str]] = defaultdict(set)
    newer: dict[str, set[str]] = defaultdict(set)
    for n, o in lineage:
        older[n].add(o)
        newer[o].add(n)

    def reach(start: str, edges) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    out: dict[str, dict[str, float]] = defaultdict(dict)
    for edges in (older, newer):
        cache = {}
        for a in list(edges):
            down = cache.setdefault(a, reach(a, edges))
            steps = [a, *down]
            for b in down:
                if b == a:
                    continue
                distance = sum(1 for s in steps if b in cache.setdefault(s, reach(s, edges)))
                out[a][b] = max(out[a].get(b, 0.0), 1.0 / max(1, distance))
    return out


def shortlists(corpus: Corpus, capacity_pairs: dict[tuple[str, str], float],
               bloc_pairs: dict[tuple[str, str], str], size: int = SHORTLIST) -> dict[str, Shortlist]:
    """For every certification, its candidate certifications ranked by the bloc, capacity and lineage
    signals, exactly as :meth:`Bridges.bridges` computes them from the queries (identical titles and
    wordings in the fiches, the stored mappings, the lineage), vectorised with scipy.

    :returns: ``{certification iri: Shortlist}`` (certifications without any candidate included, count 0).
    """
    import numpy as np
    import scipy.sparse as sp

    ids = sorted(corpus.certs.items(), key=lambda kv: kv[1])
    index = {iri: i for i, (iri, _ident) in enumerate(ids)}
    n = len(ids)
    if n == 0:
        return {}
    idents = [ident for _iri, ident in ids]

    def incidence_arrays(rows, cols, n_keys):
        """(certification, key) pairs as two index arrays → (binary cert × key, counts cert × key), keys held
        by more than :data:`UBIQUITOUS` certifications left out."""
        counts = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, max(n_keys, 1)))
        counts.sum_duplicates()
        holders = np.bincount(counts.indices, minlength=counts.shape[1])
        counts = counts @ sp.diags((holders <= UBIQUITOUS).astype(float))
        counts.eliminate_zeros()
        binary = counts.copy()
        binary.data[:] = 1.0
        return binary.tocsr(), counts.tocsr()

    def incidence(items):
        keys: dict[str, int] = {}
        rows = np.fromiter((index[c] for c, _k in items), dtype=np.int64, count=len(items))
        cols = np.fromiter((keys.setdefault(k, len(keys)) for _c, k in items), dtype=np.int64, count=len(items))
        return incidence_arrays(rows, cols, len(keys))

    def pair_matrix(items, shape_n):
        """Sum of values per (row cert, column cert) from (row, col, value) triples."""
        if not items:
            return sp.csr_matrix((shape_n, shape_n))
        r, c, v = zip(*items)
        m = sp.csr_matrix((np.asarray(v, dtype=float), (np.asarray(r), np.asarray(c))), shape=(shape_n, shape_n))
        m.sum_duplicates()
        return m

    blocs = {iri: b for iri, b in corpus.blocs.items() if b[0] in index}
    n_blocs = np.bincount([index[b[0]] for b in blocs.values()], minlength=n).astype(float)

    # capacities, as integer arrays: the capacity's certification and first wording
    kept = [(iri, cert, words[0]) for iri, (cert, words) in corpus.capacities.items() if cert in index]
    cap_iris, cap_certs, firsts = zip(*kept) if kept else ((), (), ())
    del kept
    n_cap_items = len(cap_iris)
    cap_cert = np.fromiter(map(index.__getitem__, cap_certs), dtype=np.int64, count=n_cap_items)
    word_ids: dict[str, int] = dict.fromkeys(firsts)
    for i, w in enumerate(word_ids):
        word_ids[w] = i
    n_words = max(len(word_ids), 1)
    word_of = np.fromiter(map(word_ids.__getitem__, firsts), dtype=np.int64, count=n_cap_items)
    cap_pos = dict(zip(cap_iris, range(n_cap_items)))
    del cap_certs, firsts, word_ids
    n_caps = np.bincount(cap_cert, minlength=n).astype(float)

    # identical prefLabels (credit 1), then stored mappings for the capacities not already covered: for
    # each (holder certification, capacity of another) the best credit of a mapping from one of the
    # holder's capacities, unless the holder has that very wording
    cap_bin, cap_count = incidence_arrays(cap_cert, word_of, n_words)
    cap_map = sp.csr_matrix((n, n))
    if capacity_pairs and n_cap_items:
        firsts_a, firsts_b = zip(*capacity_pairs)
        pa = np.fromiter(map(cap_pos.get, firsts_a, itertools.repeat(-1)), dtype=np.int64, count=len(firsts_a))
        pb = np.fromiter(map(cap_pos.get, firsts_b, itertools.repeat(-1)), dtype=np.int64, count=len(firsts_b))
        scores = np.fromiter(capacity_pairs.values(), dtype=float, count=len(firsts_a))
        ok = (pa >= 0) & (pb >= 0)
        credit = np.where(scores[ok] >= CLOSE_MATCH, CREDIT["closeMatch"], CREDIT["relatedMatch"])
        x = np.concatenate([pa[ok], pb[ok]])
        y = np.concatenate([pb[ok], pa[ok]])
        credit = np.concatenate([credit, credit])
        holder = cap_cert[x]
        held = np.unique(cap_cert * n_words + word_of)
        code = holder * n_words + word_of[y]
        at = np.minimum(np.searchsorted(held, code), len(held) - 1)
        fresh = held[at] != code
        holder, y, credit = holder[fresh], y[fresh], credit[fresh]
        key = holder * n_cap_items + y
        order = np.lexsort((-credit, key))
        _, first = np.unique(key[order], return_index=True)
        best = order[first]
        cap_map = sp.csr_matrix((credit[best], (holder[best], cap_cert[y[best]])), shape=(n, n))
        cap_map.sum_duplicates()
    del cap_pos

    # blocs: identical titles, then stored equivalences for the blocs not already covered
    titled = [(cert, title) for cert, title, _c in blocs.values() if title]
    blk_bin, blk_count = incidence(titled)
    held_titles = {(index[cert], title) for cert, title in titled}
    covered: set[tuple[int, str]] = set()
    for a, b in bloc_pairs:
        if a not in blocs or b not in blocs:
            continue
        for x, y in ((a, b), (b, a)):
            holder = index[blocs[x][0]]
            if (holder, blocs[y][1]) not in held_titles:
                covered.add((holder, y))
    blk_map = pair_matrix([(h, index[blocs[y][0]], 1.0) for h, y in covered], n)

    lin = lineage_scores([(n_, o) for n_, o in corpus.lineage if n_ in index and o in index])
    lin_m = pair_matrix([(index[a], index[b], s) for a, others in lin.items() for b, s in others.items()], n)

    inv_caps = np.divide(1.0, n_caps, out=np.zeros(n), where=n_caps > 0)
    inv_blocs = np.divide(1.0, n_blocs, out=np.zeros(n), where=n_blocs > 0)
    w = SHORTLIST_WEIGHTS
    out: dict[str, Shortlist] = {}
    chunk = 1000
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        block_cov = (blk_bin[start:stop] @ blk_count.T + blk_map[start:stop]).tocsr()
        cap_cov = (cap_bin[start:stop] @ cap_count.T + cap_map[start:stop]).tocsr()
        block_share = block_cov.multiply(inv_blocs[None, :]).tocsr()
        cap_share = cap_cov.multiply(inv_caps[None, :]).tocsr()
        block_share.data = np.minimum(block_share.data, 1.0)
        cap_share.data = np.minimum(cap_share.data, 1.0)
        lin_part = lin_m[start:stop]
        # one structure holding every candidate, each signal aligned on it
        union = (abs(block_cov) + abs(cap_cov) + abs(lin_part)).tocsr()
        union.sort_indices()
        r = np.repeat(np.arange(stop - start, dtype=np.int64), np.diff(union.indptr))
        c = union.indices.astype(np.int64)
        keys = r * n + c
        bs, cs, ls = (_aligned(m, keys, n) for m in (block_share, cap_share, lin_part.tocsr()))
        keep = (r + start) != c
        r, c, bs, cs, ls = r[keep], c[keep], bs[keep], cs[keep], ls[keep]
        score = w["block"] * bs + w["capacity"] * cs + w["lineage"] * ls
        # a candidate with evidence but a zero score (a bloc count of 0) still counts, as in Bridges.bridges
        order = np.lexsort((c, -np.round(score, 12), r))
        r, c, bs, cs, ls = r[order], c[order], bs[order], cs[order], ls[order]
        counts = np.bincount(r, minlength=stop - start)
        first = np.concatenate([[0], np.cumsum(counts)])
        for i in range(stop - start):
            lo, hi = first[i], first[i] + min(counts[i], size)
            out[ids[start + i][0]] = Shortlist(int(counts[i]), [
                (idents[c[j]], float(bs[j]), float(cs[j]), float(ls[j]), 0.0, 0.0) for j in range(lo, hi)])
    _fill(corpus, out, ids, index, size)
    _refine(corpus, out, ids, index)
    return out


def _core_scores():
    """``(NSF_SCORES, LEVEL_SCORES)`` of :mod:`cqpm_graph.bridges.core`: one definition of the scores."""
    from .core import LEVEL_SCORES, NSF_SCORES as EXACT_NSF_SCORES
    return EXACT_NSF_SCORES, LEVEL_SCORES


def _refine(corpus: Corpus, out: dict[str, "Shortlist"], ids, index: dict[str, int]) -> None:
    """Add to every shortlist entry the ROME, NSF and level signals :meth:`Bridges.bridges` refines its
    ranking with (the best relation of ``bridge-pair-rome``, ``bridge-nsf`` and ``bridge-level``, scored as
    there), so that a request ranks without those queries: three more fields per entry."""
    import numpy as np

    if not out:
        return
    nsf_scores, level_scores = _core_scores()
    n = len(ids)
    position = {ident: i for i, (_iri, ident) in enumerate(ids)}
    pairs = [(index[iri], position[e[0]]) for iri, short in out.items() for e in short.entries]
    if not pairs:
        return
    left, right = (np.asarray(x, dtype=np.int64) for x in zip(*pairs))

    def padded(lists, fill):
        width = max(1, max((len(v) for v in lists), default=1))
        table = np.full((n, width), fill, dtype=np.int64)
        for i, values in enumerate(lists):
            table[i, :len(values)] = values
        return table

    def any_equal(table_a, table_b):
        a, b = table_a[left], table_b[right]
        return (a[:, :, None] == b[:, None, :]).any(axis=(1, 2))

    # ROME: a shared fiche (1.0), else a shared domaine (0.5), among fiches with a domaine (as bridge-pair-rome)
    fiche_ids: dict[str, int] = {}
    dom_ids: dict[str, int] = {}
    fiches, doms = [[] for _ in range(n)], [[] for _ in range(n)]
    for iri, i in index.items():
        for fiche in sorted(corpus.rome.get(iri, ())):
            if fiche in corpus.rome_domains:
                fiches[i].append(fiche_ids.setdefault(fiche, len(fiche_ids)))
                doms[i].append(dom_ids.setdefault(corpus.rome_domains[fiche], len(dom_ids)))
    rome = np.where(any_equal(padded(fiches, -1), padded(fiches, -2)), ROME_SCORES["same-fiche"],
                    np.where(any_equal(padded(doms, -1), padded(doms, -2)), ROME_SCORES["same-domaine"], 0.0))
    # NSF: the best relation between a code of each (as bridge-nsf: a shared code or broader code of at
    # least two characters), one score per pair of codes
    codes = sorted({c for cs in corpus.nsf.values() for c in cs})
    code_id = {c: k + 1 for k, c in enumerate(codes)}  # 0: no code
    score = np.zeros((len(codes) + 1, len(codes) + 1))
    for x in codes:
        for y in codes:
            best = 0.0
            for common in corpus.nsf_ancestors.get(x, {x}) & corpus.nsf_ancestors.get(y, {y}):
                if len(common) < 2:
                    continue
                relation = ("same-code" if x == y else "broader" if common == y else "narrower" if common == x
                            else "same-speciality" if len(common) >= 3 else "same-group")
                best = max(best, nsf_scores[relation])
            score[code_id[x], code_id[y]] = best
    by_cert = [[] for _ in range(n)]
    for iri, i in index.items():
        by_cert[i] = [code_id[c] for c in sorted(corpus.nsf.get(iri, ()))]
    table = padded(by_cert, 0)
    nsf = score[table[left][:, :, None], table[right][:, None, :]].max(axis=(1, 2))
    # level: across, one up, more up, down (as bridge-level; no signal without both levels)
    level = np.full(n, -1, dtype=np.int64)
    for iri, i in index.items():
        found = [int(m.group(1)) for v in sorted(corpus.levels.get(iri, ())) if (m := re.search(r"(\d+)", v))]
        if found:
            level[i] = found[0]
    mine, theirs = level[left], level[right]
    step = theirs - mine
    moves = np.where(step == 0, level_scores["across"], np.where(step == 1, level_scores["up"],
                     np.where(step > 1, level_scores["far-up"], level_scores["down"])))
    lvl = np.where((mine >= 0) & (theirs >= 0), moves, 0.0)
    k = 0
    for short in out.values():
        short.entries = [(*e[:6], float(rome[k + j]), float(nsf[k + j]), float(lvl[k + j]))
                         for j, e in enumerate(short.entries)]
        k += len(short.entries)


def _fill(corpus: Corpus, out: dict[str, Shortlist], ids, index: dict[str, int], size: int) -> None:
    """Add the ROME and NSF nominations to the shortlists with fewer than :data:`FILL_BELOW` candidates
    (as ``bridge-rome`` and ``bridge-nsf-neighbours`` give them: a shared ROME fiche or domaine, an NSF code
    sharing a speciality of at least three characters)."""
    import numpy as np

    n = len(ids)
    idents = [ident for _iri, ident in ids]
    position = {ident: i for i, ident in enumerate(idents)}

    def holders(pairs):
        groups: dict[str, list[int]] = defaultdict(list)
        for cert, key in pairs:
            if cert in index:
                groups[key].append(index[cert])
        return {k: np.unique(np.asarray(v, dtype=np.int64)) for k, v in groups.items()}

    by_fiche = holders((cert, f) for cert, fiches in corpus.rome.items() for f in fiches
                       if f in corpus.rome_domains)
    by_domaine = holders((cert, corpus.rome_domains[f]) for cert, fiches in corpus.rome.items() for f in fiches
                         if f in corpus.rome_domains)
    keys_of = {code: {a for a in anc if len(a) >= 3} for code, anc in corpus.nsf_ancestors.items()}
    nsf_holders: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for cert, codes in corpus.nsf.items():
        if cert in index:
            for code in codes:
                for key in keys_of.get(code, ()):
                    nsf_holders[key].append((index[cert], code))
    code_ids: dict[str, int] = {}  # NSF codes compared as integers
    nsf_arrays = {k: (np.asarray([i for i, _c in v], dtype=np.int64),
                      np.asarray([code_ids.setdefault(c, len(code_ids)) for _i, c in v], dtype=np.int64))
                  for k, v in nsf_holders.items()}
    w, sw = FILL_WEIGHTS, SHORTLIST_WEIGHTS
    rome_v, nsf_v, strong_v = np.zeros(n), np.zeros(n), np.zeros(n)
    marked = np.zeros(n, dtype=bool)
    for iri, short in out.items():
        if short.count >= FILL_BELOW:
            continue
        a = index[iri]
        touched = []
        for fiche in corpus.rome.get(iri, ()):
            if fiche not in corpus.rome_domains:
                continue
            same, dom = by_fiche[fiche], by_domaine[corpus.rome_domains[fiche]]
            rome_v[dom] = np.maximum(rome_v[dom], ROME_SCORES["same-domaine"])
            rome_v[same] = ROME_SCORES["same-fiche"]
            touched.append(dom)
        for code in corpus.nsf.get(iri, ()):
            for key in keys_of.get(code, ()):
                certs, codes = nsf_arrays[key]
                rel = np.where(codes == code_ids.get(code, -1), NSF_SCORES["same-code"],
                               np.where(codes == code_ids.get(key, -1), NSF_SCORES["broader"],
                                        NSF_SCORES["narrower"] if code == key else NSF_SCORES["same-speciality"]))
                np.maximum.at(nsf_v, certs, rel.astype(float))
                touched.append(certs)
        strong = {}
        for e in short.entries:
            j = position[e[0]]
            strong[j] = e
            strong_v[j] = sw["block"] * e[1] + sw["capacity"] * e[2] + sw["lineage"] * e[3]
            touched.append(np.asarray([j]))
        for arr in touched:
            marked[arr] = True
        marked[a] = False
        cand = np.flatnonzero(marked)
        nominated = len(cand)
        total = np.round(strong_v[cand] + w["rome"] * rome_v[cand] + w["nsf"] * nsf_v[cand], 12)
        if len(cand) > 4 * size:  # only the best *size* are kept: sort those (and the ties at the limit)
            top = total >= _kth_largest(total, size)
            cand, total = cand[top], total[top]
        order = np.lexsort((cand, -total))
        best = cand[order[:size]].tolist()
        chosen = best + [j for j in strong if j not in set(best)]
        entries = []
        for j in chosen:
            e = strong.get(j, (idents[j], 0.0, 0.0, 0.0, 0.0, 0.0))
            entries.append((e[0], e[1], e[2], e[3], float(rome_v[j]), float(nsf_v[j])))
        entries.sort(key=lambda e: (-round(sw["block"] * e[1] + sw["capacity"] * e[2] + sw["lineage"] * e[3]
                                           + w["rome"] * e[4] + w["nsf"] * e[5], 12), position[e[0]]))
        out[iri] = Shortlist(short.count, entries, nominated)
        for arr in touched:  # back to zero for the next certification
            rome_v[arr] = nsf_v[arr] = strong_v[arr] = 0.0
            marked[arr] = False



def _kth_largest(values, k: int) -> float:
    """The *k*-th largest of *values* (a 1-d numpy array of at least *k*, duplicates counted), as
    ``np.partition(values, len(values) - k)[len(values) - k]``: by distinct values from the top, since
    nomination scores take a dozen distinct values among thousands (where partition is ~70× slower);
    partition after a few steps."""
    import numpy as np

    m = values.max()
    for _ in range(8):
        if np.count_nonzero(values >= m) >= k:
            return m
        m = values[values < m].max()
    return np.partition(values, len(values) - k)[len(values) - k]


def _aligned(matrix, keys, n):
    """Values of sparse *matrix* at the sorted positions ``row * n + col`` of *keys* (0 where absent)."""
    import numpy as np

    coo = matrix.tocoo()
    mine = coo.row.astype(np.int64) * n + coo.col.astype(np.int64)
    out = np.zeros(len(keys))
    if len(mine):
        pos = np.searchsorted(keys, mine)
        ok = (pos < len(keys)) & (keys[np.minimum(pos, len(keys) - 1)] == mine)
        out[pos[ok]] = coo.data[ok]
    return out


# -- the graph ---------------------------------------------------------------------------------------------

def _lit(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def _mapping_lines(uris: URIScheme, g: str, source: str, target: str, predicate: str, score: float,
                   measure: str, justification: str | None = None) -> list[str]:
    digest = hashlib.sha1(f"{source}|{target}|{measure}".encode()).hexdigest()[:16]
    m, s, t, p = f"<{uris.base}mapping/{digest}>", f"<{source}>", f"<{target}>", f"<{SKOS}{predicate}>"
    lines = [f"{m} <{OWL}annotatedSource> {s} {g} .",
             f"{m} <{OWL}annotatedProperty> {p} {g} .",
             f"{m} <{OWL}annotatedTarget> {t} {g} .",
             f'{m} <{SSSOM}similarity_score> "{float(score)!r}"^^<{XSD}double> {g} .',
             f"{s} {p} {t} {g} ."]
    if justification:
        lines.append(f"{m} <{SSSOM}mapping_justification> <{SEMAPV}{justification}> {g} .")
        lines.append(f"{m} <{SSSOM}similarity_measure> {_lit(measure)} {g} .")
    return lines


@dataclass
class BridgesGraph:
    """The content of ``graph/bridges`` (see :func:`compute`)."""

    bloc_pairs: dict[tuple[str, str], str]
    capacity_pairs: dict[tuple[str, str], float]
    shortlists: dict[str, Shortlist]
    fingerprint: str = ""
    #: ``{ROME fiche iri: ([savoir-faire item iris], [all item iris])}`` (:attr:`Corpus.rome_items`)
    rome_items: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    def nquads(self, uris: URIScheme) -> Iterator[str]:
        """The graph as N-Quads lines, in a deterministic order."""
        yield from self.header_nquads(uris)
        yield from self.mapping_nquads(uris)
        yield from self.shortlist_nquads(uris)

    def header_nquads(self, uris: URIScheme) -> Iterator[str]:
        """The mapping set ``<base>graph/bridges`` (with :attr:`fingerprint`)."""
        g = mset = f"<{uris.graph('bridges')}>"
        yield f"{mset} <{RDF_TYPE}> <{SSSOM}MappingSet> {g} ."
        yield f"{mset} <{SSSOM}mapping_justification> <{SEMAPV}LexicalSimilarityThresholdMatching> {g} ."
        yield f"{mset} <{SSSOM}similarity_measure> {_lit(METHOD_TFIDF)} {g} ."
        yield f"{mset} <{SSSOM}mapping_tool> {_lit(f'cqpm-graph {__version__}')} {g} ."
        if self.fingerprint:
            yield f"{mset} <{CQPM}inputFingerprint> {_lit(self.fingerprint)} {g} ."

    def mapping_nquads(self, uris: URIScheme) -> Iterator[str]:
        """The bloc and capacity mappings."""
        g = f"<{uris.graph('bridges')}>"
        for (a, b), method in sorted(self.bloc_pairs.items()):
            yield from _mapping_lines(uris, g, a, b, "exactMatch", 1.0, method, "LexicalMatching")
        for (a, b), score in sorted(self.capacity_pairs.items()):
            predicate = "closeMatch" if score >= CLOSE_MATCH else "relatedMatch"
            yield from _mapping_lines(uris, g, a, b, predicate, score, METHOD_TFIDF)

    def shortlist_nquads(self, uris: URIScheme) -> Iterator[str]:
        """The shortlists, four or five triples each, and the ROME item index (two triples per fiche)."""
        g = f"<{uris.graph('bridges')}>"
        for fiche, (savoir_faire, items) in sorted(self.rome_items.items()):
            for prop, found in (("romeSavoirFaireIndex", savoir_faire), ("romeItemIndex", items)):
                yield f"<{fiche}> <{CQPM}{prop}> {_lit(' '.join(found))} {g} ."
        for cert, short in sorted(self.shortlists.items()):
            node = f"<{uris.base}passerelles/{cert.rsplit('/', 1)[-1]}>"
            yield f"{node} <{RDF_TYPE}> <{CQPM}BridgeShortlist> {g} ."
            yield f"{node} <{CQPM}shortlistOf> <{cert}> {g} ."
            yield f'{node} <{CQPM}candidateCount> "{short.count}"^^<{XSD}integer> {g} .'
            if short.nominated is not None:
                yield f'{node} <{CQPM}nominatedCount> "{short.nominated}"^^<{XSD}integer> {g} .'
            yield f"{node} <{CQPM}candidates> {_lit(short.text())} {g} ."


def compute(corpus: Corpus, progress=lambda _m: None) -> BridgesGraph:
    """Bloc equivalences, capacity similarities and shortlists of *corpus* (see the module doc)."""
    labels = {iri: words[0] for iri, (_cert, words) in corpus.capacities.items()}
    blocs = equivalent_blocs(corpus.blocs, labels)
    caps = similar_capacities(corpus.capacities)
    progress(f"      {len(blocs)} blocs équivalents, {len(caps)} paires de capacités proches")
    return BridgesGraph(blocs, caps, shortlists(corpus, caps, blocs), rome_items=corpus.rome_items)


def iter_similarity_quads(store: ox.Store, uris: URIScheme) -> Iterator[ox.Quad]:
    """The quads of ``graph/bridges`` for *store*, one at a time (see :func:`similarity_quads`)."""
    graph = compute(read_corpus(store))
    graph.fingerprint = input_fingerprint(store, uris)
    data = ("\n".join(graph.nquads(uris)) + "\n").encode()
    yield from ox.parse(data, format=ox.RdfFormat.N_QUADS)


def similarity_quads(store: ox.Store, uris: URIScheme) -> list[ox.Quad]:
    """Compute bloc equivalences, capacity similarities and shortlists and return the quads of
    ``graph/bridges`` (all in that graph, deterministic order; a few per mapping, four per certification).

    Reads every certification's blocs and capacities from *store*. For a store, prefer
    :func:`load_similarity`, which writes them (and skips the work when the input is unchanged).
    """
    return list(iter_similarity_quads(store, uris))


def stored_fingerprint(store: ox.Store, uris: URIScheme) -> str | None:
    """The ``cqpm:inputFingerprint`` of the ``graph/bridges`` in *store*, or ``None``."""
    graph = ox.NamedNode(str(uris.graph("bridges")))
    for quad in store.quads_for_pattern(graph, ox.NamedNode(CQPM + "inputFingerprint"), None, graph):
        return quad.object.value
    return None


class BridgesJob:
    """Compute and write ``graph/bridges`` in three steps, so that an import overlaps them with its loading:

    1. :meth:`read` reads the certifications, blocs and capacities — the rows in hand and the other graphs
       only, which the import does not write: it may run while the import's graphs are being bulk-loaded;
    2. :meth:`map` computes the bloc equivalences and the capacity similarities and writes their mappings to
       a spool on disk (needs nothing from the store: it too may run while the import's graphs load);
    3. :meth:`write`, once every load is complete, compacts the store (``compact_from``) in a background
       thread, unless :meth:`compact_after` already started it (an import: as soon as its new graphs are
       loaded, while :meth:`map` runs), loads the spool in another while the shortlists are computed
       (lineage, ROME and NSF read then), and loads the shortlists last.

    The spool is loaded in calls of :data:`BRIDGES_BATCH` quads: a national ``graph/bridges`` adds two or
    three sets of files to the compacted store, instead of a set per batch compacted again and again while
    the import runs (RocksDB's compactions of a national import: 35 s of CPU before, 14–17 s now).

    The old ``graph/bridges`` is dropped in a background thread (:meth:`drop_old`, started by the import as
    soon as it knows that fiches changed, else by :meth:`write`): a national one takes about a minute to
    delete, which then overlaps the reading and the computation (pyoxigraph releases the GIL); the spool is
    loaded once the old quads are gone (a bulk load must not write the keys a transaction is deleting), the
    shortlists computed meanwhile if the drop is still running. :meth:`close` waits for the threads (call it
    before the store is closed or discarded).

    :param rows: the blocs and capacities of fiches just loaded (:class:`CorpusRows`), or ``None`` to read
        everything from the store.
    """

    def __init__(self, store: ox.Store, uris: URIScheme, rows: CorpusRows | None = None,
                 progress=lambda _m: None):
        import time

        self.store, self.uris, self.rows, self.progress = store, uris, rows, progress
        self.started = time.monotonic()
        self.corpus: Corpus | None = None
        self._result: BridgesGraph | None = None
        self._spool: _Spool | None = None
        self._dropping = None
        self._error: BaseException | None = None
        self._compacting = None
        self._closing = False
        #: whether the job compacted the store (:meth:`compact_after`, ``compact_from``)
        self.compacted = False

    def drop_old(self) -> None:
        """Start dropping the old ``graph/bridges`` (if any) in a background thread."""
        import threading

        from ..store import drop_graph

        graph = ox.NamedNode(str(self.uris.graph("bridges")))
        if self._dropping is not None or not self.store.contains_named_graph(graph):
            return

        def drop() -> None:
            try:
                drop_graph(self.store, graph)  # in chunks: bounded memory
            except BaseException as exc:  # re-raised by close()
                self._error = exc
        self._dropping = threading.Thread(target=drop, name="cqpm-drop-bridges", daemon=True)
        self._dropping.start()

    def compact_after(self, ready) -> None:
        """Compact the store in a background thread once ``ready()`` returns and the old ``graph/bridges`` is
        dropped (an import: once its new graphs are loaded), while this job computes; :meth:`write` then
        does not compact again (it loads ``graph/bridges`` beside this compaction)."""
        self._compact(", pendant le calcul des similarités", ready)

    def _compact(self, during: str, ready=None) -> None:
        """Start compacting the store (:meth:`pyoxigraph.Store.optimize`, which releases the GIL) in a
        background thread, after ``ready()`` and the drop of the old graph if given; :meth:`close` waits for
        it. *during* ends its progress line."""
        import threading
        import time

        def compact() -> None:
            try:
                if ready is not None:
                    ready()
                    if self._dropping is not None:
                        self._dropping.join()
                if self._error is not None or self._closing:
                    return  # the job failed or is abandoned: the store will be discarded
                started = time.monotonic()
                self.store.optimize()
                self.progress(f"      base compactée ({time.monotonic() - started:.1f} s{during})")
            except BaseException as exc:  # re-raised by close()
                self._error = exc
        self._compacting = threading.Thread(target=compact, name="cqpm-compact", daemon=True)
        self._compacting.start()
        self.compacted = True

    def close(self) -> None:
        """Wait for the drop of the old ``graph/bridges`` and for the compaction; re-raise their error, if
        any; delete the spool."""
        self._closing = True  # a compaction still waiting to start is not needed any more
        for thread in (self._dropping, self._compacting):
            if thread is not None:
                thread.join()
        self._dropping = self._compacting = None
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def read(self) -> None:
        """Step 1: read the certifications, blocs and capacities with their wordings."""
        import time

        from .corpus import read_wordings

        started = time.monotonic()
        self.corpus = corpus = read_wordings(self.store, self.uris, self.rows)
        if self.rows is not None:
            self.rows.drop("certs", "blocs", "capacities")  # in the corpus now
        self.progress(f"      lu : {len(corpus.certs)} certifications, {len(corpus.blocs)} blocs, "
                      f"{len(corpus.capacities)} capacités ({time.monotonic() - started:.1f} s)")

    def map(self) -> None:
        """Step 2: the bloc equivalences and capacity similarities, their mappings written to the spool."""
        import time

        if self.corpus is None:
            self.read()
        corpus, uris = self.corpus, self.uris
        result = self._result = BridgesGraph({}, {}, {})
        spool = self._spool = _Spool()
        g = f"<{uris.graph('bridges')}>"
        labels = {iri: words[0] for iri, (_cert, words) in corpus.capacities.items()}
        result.bloc_pairs = equivalent_blocs(corpus.blocs, labels)
        del labels
        spool.write_lines(result.mapping_nquads(uris))

        def written(pairs: list) -> None:
            spool.write_lines(line for (a, b), score in pairs for line in _mapping_lines(
                uris, g, a, b, "closeMatch" if score >= CLOSE_MATCH else "relatedMatch", score, METHOD_TFIDF))
        result.capacity_pairs = similar_capacities(corpus.capacities, on_pairs=written)
        spool.end()
        self.progress(f"      {len(result.bloc_pairs)} blocs équivalents, {len(result.capacity_pairs)} paires de "
                      f"capacités proches ({time.monotonic() - self.started:.1f} s)")

    def write(self, fingerprint: str, compact_from: int | None = None) -> int:
        """Step 3 (every load of the caller complete): replace ``graph/bridges``; returns the number of quads
        written.

        :param compact_from: when the mappings reach this many quads, compact the store while they are
            loaded and the shortlists computed (see the class doc), unless :meth:`compact_after` did;
            ``None``: never (see :attr:`compacted`).
        """
        import threading
        import time

        self.drop_old()
        if self._result is None:
            self.map()
        result, corpus, spool = self._result, self.corpus, self._spool
        result.fingerprint = fingerprint
        lines = None
        if self._dropping is not None and self._dropping.is_alive():
            lines = self._shortlist_lines(result, corpus)  # while the old graph is still being deleted
            self._result = None
            del corpus, result  # memory: the spool goes to the loader next
        if self._dropping is not None:
            self._dropping.join()
            self._raise()
        if self._compacting is None and compact_from is not None and spool.quads >= compact_from:
            self._compact(", pendant les listes" if lines is None else "")

        def load() -> None:
            # beside the compaction, if any: RocksDB ingests the files at a level the compaction does not
            # write (measured: import 56.7 s → 53.2 s against loading after it; docs/benchmarks.md)
            try:
                spool.load(self.store)
            except BaseException as exc:  # re-raised below
                self._error = self._error or exc
        loading = threading.Thread(target=load, name="cqpm-load-bridges", daemon=True)
        loading.start()
        try:
            if lines is None:
                lines = self._shortlist_lines(result, corpus)
                self._result = None
                del corpus, result
        finally:
            loading.join()
        self._raise()
        self.store.bulk_load(("\n".join(lines) + "\n").encode("utf-8"), format=ox.RdfFormat.N_QUADS, lenient=True)
        written = spool.quads + len(lines)
        self.progress(f"      graph/bridges : {written} triplets en {time.monotonic() - self.started:.1f} s")
        return written

    def _shortlist_lines(self, result: BridgesGraph, corpus: Corpus) -> list[str]:
        """Read the signals (the loads of the fiches complete), compute the shortlists into *result*, and
        return the mapping set's header and the shortlists as N-Quads lines (~5 per certification)."""
        read_signals(self.store, self.uris, self.rows, corpus)
        result.shortlists = shortlists(corpus, result.capacity_pairs, result.bloc_pairs)
        result.rome_items = corpus.rome_items
        self.corpus = None
        return [*result.header_nquads(self.uris), *result.shortlist_nquads(self.uris)]


class _Spool:
    """N-Quads lines of our own, written to temporary files of at most :data:`BRIDGES_BATCH` quads each, and
    bulk-loaded later file by file (one loader call each: bounded memory, one set of RocksDB files each)."""

    def __init__(self):
        import tempfile

        self._dir = tempfile.TemporaryDirectory(prefix="cqpm-bridges-")
        self.files: list[str] = []
        self.quads = 0
        self._out = None
        self._in_file = 0

    def write_lines(self, lines: Iterator[str]) -> None:
        chunk: list[str] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= WRITE_CHUNK:
                self._write(chunk)
                chunk = []
        if chunk:
            self._write(chunk)

    def _write(self, chunk: list[str]) -> None:
        import os

        if self._out is None or self._in_file >= BRIDGES_BATCH:
            self.end()
            self.files.append(os.path.join(self._dir.name, f"{len(self.files)}.nq"))
            self._out = open(self.files[-1], "wb", buffering=1 << 20)
        self._out.write(("\n".join(chunk) + "\n").encode("utf-8"))
        self._in_file += len(chunk)
        self.quads += len(chunk)

    def end(self) -> None:
        """Close the file being written (call before :meth:`load`)."""
        if self._out is not None:
            self._out.close()
            self._out, self._in_file = None, 0

    def load(self, store: ox.Store) -> None:
        """Bulk-load every file, one after the other (lenient: IRIs this project minted)."""
        self.end()
        for path in self.files:
            store.bulk_load(path=path, format=ox.RdfFormat.N_QUADS, lenient=True)

    def close(self) -> None:
        self.end()
        self._dir.cleanup()


def load_similarity(store: ox.Store, uris: URIScheme, progress=lambda _m: None, force: bool = False,
                    rows: CorpusRows | None = None) -> int:
    """(Re)compute ``graph/bridges`` in *store*: bloc and capacity mappings and bridge shortlists
    (:class:`BridgesJob`, both steps).

    When *store* already holds a ``graph/bridges`` whose input fingerprint (:func:`input_fingerprint`)
    equals the current one, it is kept and nothing is computed (returns 0) unless *force*. Otherwise the old
    graph is dropped (in the background, in chunks) and the new one written to a spool, then bulk-loaded
    (:class:`BridgesJob`).

    :param store: a writable pyoxigraph store holding the certifications (call after fiches and imports are
        loaded).
    :param uris: the URI scheme (``graph/bridges``, ``mapping/<hash>``, ``passerelles/<id>`` IRIs).
    :param progress: called with a few human-readable lines (French, as the build's).
    :param rows: the blocs and capacities of fiches just loaded (an import), so that only the other sources
        are read back from the store (:func:`cqpm_graph.bridges.corpus.read_corpus`).
    :returns: the number of quads written (0 when kept).
    """
    fingerprint = input_fingerprint(store, uris)
    if not force and stored_fingerprint(store, uris) == fingerprint:
        progress("      graph/bridges à jour (empreinte des données inchangée) : conservé")
        return 0
    job = BridgesJob(store, uris, rows, progress)
    try:
        return job.write(fingerprint)
    finally:
        job.close()
