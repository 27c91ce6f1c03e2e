"""Build-time similarity between blocs and between capacities, stored as mapping resources.

:func:`similarity_quads` reads the blocs and capacities already loaded in the store and returns the quads
of the named graph ``graph/bridges``. Each mapping is a resource in the SSSOM RDF form (the form
``sssom-py`` writes: an ``owl:Axiom`` with ``owl:annotatedSource`` / ``owl:annotatedProperty`` /
``owl:annotatedTarget`` and ``sssom:`` slots), plus the plain SKOS triple it asserts, so a SPARQL user can
follow ``skos:exactMatch`` / ``skos:closeMatch`` / ``skos:relatedMatch`` directly::

    id:mapping/3f2a… a owl:Axiom ;
        owl:annotatedSource   id:capacite/CQPM-…-C3 ;
        owl:annotatedProperty skos:closeMatch ;
        owl:annotatedTarget   id:capacite/RNCP28229-C10 ;
        sssom:mapping_justification semapv:LexicalSimilarityThresholdMatching ;
        sssom:similarity_score 0.53 ;
        sssom:similarity_measure "tfidf-cosine" ;
        sssom:mapping_tool "cqpm-graph 0.1.0" .
    id:capacite/CQPM-…-C3 skos:closeMatch id:capacite/RNCP28229-C10 .

Two methods, documented in ``docs/bridges.md``:

* **bloc equivalence** (``skos:exactMatch``, ``semapv:LexicalMatching``, score 1.0): two blocs of different
  certifications whose titles are equal after :func:`title_key` normalisation (``normalised-title``), or
  whose capacities are the same set of normalised wordings (``same-capacities``). The law treats identical
  blocs of two certifications as equivalent.
* **capacity similarity** (``semapv:LexicalSimilarityThresholdMatching``, ``tfidf-cosine``): cosine of
  TF-IDF vectors of French Snowball stems (unigrams and bigrams, stop words removed, accents folded),
  fitted on every capacity wording of the store; ``skos:closeMatch`` from :data:`CLOSE_MATCH` up,
  ``skos:relatedMatch`` from :data:`RELATED_MATCH` up; at most :data:`TOP_K` targets per capacity.

Only pairs of *different* certifications are kept; one mapping per unordered pair (source IRI < target
IRI), queries read both directions.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator

import pyoxigraph as ox

from .. import __version__
from ..store import select
from ..uris import URIScheme

OWL = "http://www.w3.org/2002/07/owl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SSSOM = "https://w3id.org/sssom/"
SEMAPV = "https://w3id.org/semapv/vocab/"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")

#: TF-IDF cosine from which two capacities are a ``skos:closeMatch``.
CLOSE_MATCH = 0.45
#: TF-IDF cosine from which two capacities are a ``skos:relatedMatch`` (lower pairs are not stored).
RELATED_MATCH = 0.20
#: Most targets proposed per capacity (the best ones), which bounds the graph at national scale.
TOP_K = 5
#: Above this many equivalent blocs, each bloc is linked to the next :data:`RING` of its class only (in IRI
#: order, a ring), so the graph stays linear; the class is still whole through those links and through the
#: verbatim-title branch of ``bridge-blocks``.
MAX_CLASS = 50
RING = 10
#: Capacities compared per sparse product chunk (memory bound at national scale).
CHUNK = 2000

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


def fold(text: str) -> str:
    """Lower-case *text*, fold accents and typographic apostrophes (``"L’Équipe"`` → ``"l'equipe"``)."""
    text = text.replace("\u2019", "'").replace("œ", "oe").replace("Œ", "oe").lower()
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def title_key(title: str) -> str:
    """Normalised key of a bloc title: accents folded, leading code (``UP1 :``, ``BC02 -``) and French
    function words removed, punctuation dropped.

    ``"L'animation technique d'une équipe de production"`` and ``"Animation technique d’une équipe de
    production"`` share the key ``"animation technique equipe production"``. An empty key never matches.
    """
    text = _TITLE_CODE_RE.sub("", fold(title))
    return " ".join(w for w in _WORD_RE.findall(text) if w not in STOP_WORDS)


def capacity_key(label: str) -> str:
    """Normalised wording of a capacity (for the ``same-capacities`` bloc test): as :func:`title_key`."""
    return title_key(label)


_STEMMER = None


def french_terms(text: str) -> list[str]:
    """The TF-IDF terms of a French text: Snowball stems of its words (stop words and one-letter words
    removed, accents folded after stemming) and the bigrams of consecutive stems.

    >>> french_terms("Identifier les sources d'amélioration")
    ['identifi', 'sourc', 'amelior', 'identifi sourc', 'sourc amelior']
    """
    global _STEMMER
    if _STEMMER is None:
        import snowballstemmer
        _STEMMER = snowballstemmer.stemmer("french")
    text = text.replace("\u2019", "'").replace("œ", "oe").lower()
    words = [w for w in _WORD_RE.findall(text) if len(w) > 1 and not w.isdigit() and w not in STOP_WORDS]
    stems = [fold(s) for s in _STEMMER.stemWords(words)]
    return stems + [f"{a} {b}" for a, b in zip(stems, stems[1:])]


# -- reading the store ---------------------------------------------------------------------------

_PREFIXES = """PREFIX cqpm: <https://w3id.org/cqpm/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""

_CAPACITIES = _PREFIXES + """
SELECT ?cert ?capacity ?label WHERE {
  ?cert a cqpm:Certification ; cqpm:hasCapacity ?capacity .
  ?capacity skos:prefLabel|skos:altLabel ?label .
}"""

_BLOCS = _PREFIXES + """
SELECT ?cert ?bloc ?title ?capacity WHERE {
  ?cert a cqpm:Certification ; cqpm:hasBlock ?bloc .
  ?bloc skos:prefLabel ?title .
  OPTIONAL { ?bloc cqpm:hasCapacity ?capacity }
}"""


def _read(store: ox.Store, graph: str):
    """Capacities ``{iri: (cert, [wordings])}`` and blocs ``{iri: (cert, title, {capacity iris})}``."""
    kwargs = {}
    graphs = list(store.named_graphs())
    if any(g.value == graph for g in graphs):  # a previous graph/bridges: read the source data only
        kwargs = {"default_graph": [g for g in graphs if g.value != graph]}
    capacities: dict[str, tuple[str, list[str]]] = {}
    for row in select(store, _CAPACITIES, **kwargs):
        cert, words = capacities.setdefault(row["capacity"], (row["cert"], []))
        if row["label"] not in words:
            words.append(row["label"])
    blocs: dict[str, tuple[str, str, set[str]]] = {}
    for row in select(store, _BLOCS, **kwargs):
        entry = blocs.setdefault(row["bloc"], (row["cert"], row["title"], set()))
        if "capacity" in row:
            entry[2].add(row["capacity"])
    return capacities, blocs


# -- the two methods ---------------------------------------------------------------------------------

def equivalent_blocs(blocs: dict[str, tuple[str, str, set[str]]],
                     capacity_labels: dict[str, str]) -> dict[tuple[str, str], str]:
    """Pairs of equivalent blocs of different certifications → method.

    :param blocs: ``{bloc iri: (certification iri, title, {capacity iris})}``.
    :param capacity_labels: ``{capacity iri: preferred wording}``.
    :returns: ``{(iri1, iri2): "normalised-title" | "same-capacities"}`` with ``iri1 < iri2``; a pair
        equivalent both ways is reported as ``normalised-title``. Every pair of a class of equivalent blocs
        up to :data:`MAX_CLASS` blocs; in a larger class each bloc and the next :data:`RING`.
    """
    pairs: dict[tuple[str, str], str] = {}
    for method, key_of in ((METHOD_CAPACITIES, lambda b: _capacity_set_key(b, capacity_labels)),
                           (METHOD_TITLE, lambda b: title_key(b[1]))):
        groups: dict[str, list[str]] = defaultdict(list)
        for iri, bloc in blocs.items():
            key = key_of(bloc)
            if key:
                groups[key].append(iri)
        for members in groups.values():
            members.sort()
            if len(members) <= MAX_CLASS:
                links = ((a, b) for i, a in enumerate(members) for b in members[i + 1:])
            else:
                n = len(members)
                links = ((members[i], members[(i + step) % n]) for i in range(n) for step in range(1, RING + 1))
            for a, b in links:
                if blocs[a][0] != blocs[b][0]:
                    pairs[(a, b) if a < b else (b, a)] = method
    return pairs


def _capacity_set_key(bloc, capacity_labels: dict[str, str]) -> str:
    keys = sorted(capacity_key(capacity_labels.get(c, "")) for c in bloc[2])
    if not keys or not all(keys):
        return ""
    return "\x1f".join(keys)


def similar_capacities(capacities: dict[str, tuple[str, list[str]]], top_k: int = TOP_K,
                       threshold: float = RELATED_MATCH) -> dict[tuple[str, str], float]:
    """TF-IDF cosine between capacities of different certifications, from *threshold* up.

    :param capacities: ``{capacity iri: (certification iri, [wordings])}``; the wordings of one capacity
        (prefLabel and altLabels) make one document.
    :returns: ``{(iri1, iri2): cosine}`` with ``iri1 < iri2``; each capacity proposes its *top_k* best
        targets (so a capacity has at least those, and those that chose it).

    The vectoriser is scikit-learn's ``TfidfVectorizer`` (``sublinear_tf``, l2 norm) over
    :func:`french_terms`. Identical wordings are compared once (registers repeat them: "Communiquer en
    anglais" in hundreds of fiches); within a group of identical wordings each capacity is paired with the
    next *top_k* of the group in IRI order (a ring), so the graph stays linear in size and no capacity
    becomes a hub. The product is computed in chunks of :data:`CHUNK` rows so memory stays bounded.
    """
    if len(capacities) < 2:
        return {}
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    iris = sorted(capacities)
    groups: dict[str, list[int]] = {}
    for i, iri in enumerate(iris):
        groups.setdefault(" \n ".join(capacities[iri][1]), []).append(i)
    texts = list(groups)
    members = [groups[t] for t in texts]
    certs = [capacities[i][0] for i in iris]
    try:
        matrix = TfidfVectorizer(analyzer=french_terms, sublinear_tf=True).fit_transform(texts)
    except ValueError:  # every document empty after stop-word removal
        return {}
    transposed = matrix.T.tocsc()
    # per distinct wording: the other distinct wordings at or above the threshold, best first
    neighbours: list[list[tuple[float, int]]] = []
    for start in range(0, len(texts), CHUNK):
        block = (matrix[start:start + CHUNK] @ transposed).tocsr()
        for r in range(block.shape[0]):
            u = start + r
            row = block.getrow(r)
            keep = (row.data >= threshold) & (row.indices != u)
            cols, vals = row.indices[keep], row.data[keep]
            order = np.lexsort((cols, -vals))[: top_k * 4]
            neighbours.append([(min(1.0, round(float(vals[o]), 4)), int(cols[o])) for o in order])

    pairs: dict[tuple[str, str], float] = {}

    def add(i: int, j: int, score: float) -> None:
        key = (iris[i], iris[j]) if i < j else (iris[j], iris[i])
        if score > pairs.get(key, 0.0):
            pairs[key] = score

    for u, group in enumerate(members):
        for pos, i in enumerate(group):
            taken = 0
            # identical wordings: the next ones of the ring, other certifications only
            for step in range(1, len(group)):
                if taken >= top_k:
                    break
                j = group[(pos + step) % len(group)]
                if certs[j] != certs[i]:
                    add(i, j, 1.0)
                    taken += 1
            for score, v in neighbours[u]:
                if taken >= top_k:
                    break
                other = members[v]
                for step in range(len(other)):
                    if taken >= top_k:
                        break
                    j = other[(pos + step) % len(other)]
                    if certs[j] != certs[i]:
                        add(i, j, score)
                        taken += 1
                        break  # one capacity per neighbouring wording, then the next wording
    return pairs


# -- quads -------------------------------------------------------------------------------------------------

def _mapping_quads(uris: URIScheme, graph: ox.NamedNode, source: str, target: str, predicate: str,
                   justification: str, score: float, measure: str) -> Iterable[ox.Quad]:
    digest = hashlib.sha1(f"{source}|{target}|{measure}".encode()).hexdigest()[:16]
    m = ox.NamedNode(f"{uris.base}mapping/{digest}")
    s, t, p = ox.NamedNode(source), ox.NamedNode(target), ox.NamedNode(SKOS + predicate)
    xsd_double = ox.NamedNode("http://www.w3.org/2001/XMLSchema#double")
    for triple in (
        (m, RDF_TYPE, ox.NamedNode(OWL + "Axiom")),
        (m, ox.NamedNode(OWL + "annotatedSource"), s),
        (m, ox.NamedNode(OWL + "annotatedProperty"), p),
        (m, ox.NamedNode(OWL + "annotatedTarget"), t),
        (m, ox.NamedNode(SSSOM + "mapping_justification"), ox.NamedNode(SEMAPV + justification)),
        (m, ox.NamedNode(SSSOM + "similarity_score"), ox.Literal(repr(float(score)), datatype=xsd_double)),
        (m, ox.NamedNode(SSSOM + "similarity_measure"), ox.Literal(measure)),
        (m, ox.NamedNode(SSSOM + "mapping_tool"), ox.Literal(f"cqpm-graph {__version__}")),
        (s, p, t),
    ):
        yield ox.Quad(*triple, graph)


def iter_similarity_quads(store: ox.Store, uris: URIScheme) -> Iterator[ox.Quad]:
    """The quads of :func:`similarity_quads`, one at a time (national scale: ~30 million quads, feed them
    to ``store.bulk_extend`` in batches rather than as one list)."""
    graph_iri = str(uris.graph("bridges"))
    graph = ox.NamedNode(graph_iri)
    capacities, blocs = _read(store, graph_iri)
    labels = {iri: words[0] for iri, (_cert, words) in capacities.items()}
    for (a, b), method in sorted(equivalent_blocs(blocs, labels).items()):
        yield from _mapping_quads(uris, graph, a, b, "exactMatch", "LexicalMatching", 1.0, method)
    for (a, b), score in sorted(similar_capacities(capacities).items()):
        predicate = "closeMatch" if score >= CLOSE_MATCH else "relatedMatch"
        yield from _mapping_quads(uris, graph, a, b, predicate, "LexicalSimilarityThresholdMatching",
                                  score, METHOD_TFIDF)


def similarity_quads(store: ox.Store, uris: URIScheme) -> list[ox.Quad]:
    """Compute bloc equivalences and capacity similarities and return the quads of ``graph/bridges``.

    Reads every certification's blocs (title, capacities) and capacities (``skos:prefLabel`` and
    ``skos:altLabel``) from *store* (any graph but a previous ``graph/bridges``); call it after the fiches
    (and any export import) are loaded, then ``store.bulk_extend`` the result. At national scale prefer
    :func:`iter_similarity_quads` with batches.

    :param store: a pyoxigraph store holding the certifications.
    :param uris: the URI scheme (gives the ``graph/bridges`` and ``mapping/<hash>`` IRIs).
    :returns: quads, all in ``graph/bridges``, in a deterministic order (empty when nothing matches);
        9 per mapping.
    """
    return list(iter_similarity_quads(store, uris))


def load_similarity(store: ox.Store, uris: URIScheme, progress=lambda _m: None, batch_size: int = 1_000_000) -> int:
    """(Re)compute ``graph/bridges``: the capacity and bloc mappings of :mod:`cqpm_graph.bridges.similarity`,
    loaded in batches so that memory stays bounded at national scale. Returns the number of quads."""
    graph = ox.NamedNode(str(uris.graph("bridges")))
    if store.contains_named_graph(graph):
        store.remove_graph(graph)
    total, batch = 0, []
    for quad in iter_similarity_quads(store, uris):
        batch.append(quad)
        if len(batch) >= batch_size:
            store.bulk_extend(batch)
            total, batch = total + len(batch), []
    store.bulk_extend(batch)
    return total + len(batch)
