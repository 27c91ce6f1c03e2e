"""The ROME v347 nomenclature (France Travail open data) as SKOS.

Reads the CSV files of ``data/reference/rome-v347/`` (see its ``SOURCE.md``) and produces three concept
schemes:

* ``scheme/rome``: 14 grands domaines (``rome/H``, top concepts) → 110 domaines professionnels (``rome/H25``)
  → 532 fiches (``rome/H2503``), linked both ways by ``skos:broader`` / ``skos:narrower``; a fiche carries its
  definition (``skos:definition``) and its access and working conditions (``skos:scopeNote``, prefixed with
  :data:`ACCESS_PREFIX` / :data:`CONDITIONS_PREFIX`);
* ``scheme/rome-appellation``: the appellations (``rome/appellation/<OGR>``, ``cqpm:RomeAppellation``), each
  ``skos:broader`` its fiche (no ``skos:narrower`` back, so the fiche tree stays within ``scheme/rome``);
* ``scheme/rome-competence``: the savoir-faire and savoir items (``rome/competence/<OGR>``,
  ``cqpm:RomeCompetence`` with ``cqpm:itemType``), linked from fiches by ``cqpm:romeCompetence``.

Items of type 5 ("environnements de travail": sectors, structures, conditions such as "Industrie de santé")
are neither savoir-faire nor savoir and are left out, with their fiche links.

:func:`iter_rome` yields pyoxigraph triples for the store's bulk load; :func:`rome_graph` gives the same
triples as an rdflib graph; :func:`load_rome_labels` is the light code → label lookup.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph

from .csvutil import ReferenceDataError, read_csv, to_rdflib
from .uris import CQPM, DCTERMS, SKOS, URIScheme

ROME_VERSION = "347"
ROME_SOURCE = "https://francetravail.org/opendata/repertoire-operationnel-des-meti.html"
ETALAB_LICENCE = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"

ACCESS_PREFIX = "Accès à l'emploi / métier : "
CONDITIONS_PREFIX = "Conditions d'exercice de l'activité : "

#: code_type_referentiel of ``competences.csv`` → cqpm:itemType (type 5, environnements de travail, skipped).
ITEM_TYPES = {"1": "savoir", "2": "savoir-faire"}
SKIPPED_ITEM_TYPES = {"5": "environnement de travail"}
#: code_type_texte → libelle_type_texte of ``metiers_definition.csv``.
TEXT_TYPES = {"1": "definition", "2": "acces_a_em", "3": "cond_exercice_activite"}

GRAND_DOMAINE_RE = re.compile(r"^[A-N]$")
DOMAINE_RE = re.compile(r"^[A-N]\d{2}$")
FICHE_RE = re.compile(r"^[A-N]\d{4}$")
OGR_RE = re.compile(r"^\d+$")

FILES = {
    "fiches": "metiers.csv",
    "grands_domaines": "metiers_domaine.csv",
    "domaines": "metiers_domaine_pro.csv",
    "appellations": "metiers_exemple.csv",
    "items": "competences.csv",
    "links": "correspondances.csv",
    "texts": "metiers_definition.csv",
}

_RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
_OWL_VERSION = ox.NamedNode("http://www.w3.org/2002/07/owl#versionInfo")


def _n(uri) -> ox.NamedNode:
    return ox.NamedNode(str(uri))


_CONCEPT, _SCHEME = _n(SKOS.Concept), _n(SKOS.ConceptScheme)
_PREF, _ALT, _NOTATION = _n(SKOS.prefLabel), _n(SKOS.altLabel), _n(SKOS.notation)
_IN_SCHEME, _TOP_OF, _HAS_TOP = _n(SKOS.inScheme), _n(SKOS.topConceptOf), _n(SKOS.hasTopConcept)
_BROADER, _NARROWER = _n(SKOS.broader), _n(SKOS.narrower)
_DEFINITION, _SCOPE_NOTE = _n(SKOS.definition), _n(SKOS.scopeNote)
_SOURCE, _LICENSE = _n(DCTERMS.source), _n(DCTERMS.license)
_APPELLATION, _COMPETENCE = _n(CQPM.RomeAppellation), _n(CQPM.RomeCompetence)
_ROME_COMPETENCE, _ITEM_TYPE = _n(CQPM.romeCompetence), _n(CQPM.itemType)


def _fr(text: str) -> ox.Literal:
    return ox.Literal(text, language="fr")


@dataclass
class _Rome:
    grands_domaines: dict[str, str] = field(default_factory=dict)
    domaines: dict[str, str] = field(default_factory=dict)
    fiches: dict[str, tuple[str, str]] = field(default_factory=dict)  # code → (label, domaine)
    texts: dict[str, dict[str, str]] = field(default_factory=dict)  # fiche → text type → joined text
    appellations: list[tuple[str, str, str, str]] = field(default_factory=list)  # ogr, long, court, fiche
    items: dict[str, tuple[str, str]] = field(default_factory=dict)  # ogr → (label, item type)
    links: list[tuple[str, str]] = field(default_factory=list)  # (fiche, ogr)
    skipped_items: set[str] = field(default_factory=set)


def _check(path: Path, line: int, value: str, pattern: re.Pattern, what: str) -> str:
    if not pattern.match(value):
        raise ReferenceDataError(path, line, f"malformed {what} {value!r} (expected {pattern.pattern})")
    return value


def _label(path: Path, line: int, value: str, what: str) -> str:
    if not value:
        raise ReferenceDataError(path, line, f"empty {what}")
    return value


def _read_hierarchy(folder: Path) -> _Rome:
    folder = Path(folder)
    rome = _Rome()
    path = folder / FILES["grands_domaines"]
    for line, r in read_csv(path, ["code_grand_domaine", "libelle_grand_domaine"]):
        code = _check(path, line, r["code_grand_domaine"], GRAND_DOMAINE_RE, "grand domaine code")
        if code in rome.grands_domaines:
            raise ReferenceDataError(path, line, f"duplicate grand domaine {code}")
        rome.grands_domaines[code] = _label(path, line, r["libelle_grand_domaine"], "label")

    path = folder / FILES["domaines"]
    for line, r in read_csv(path, ["code_domaine_professionnel", "libelle_domaine_professionnel"]):
        code = _check(path, line, r["code_domaine_professionnel"], DOMAINE_RE, "domaine professionnel code")
        if code in rome.domaines:
            raise ReferenceDataError(path, line, f"duplicate domaine professionnel {code}")
        if code[0] not in rome.grands_domaines:
            raise ReferenceDataError(path, line, f"domaine professionnel {code}: grand domaine {code[0]} "
                                                 f"not in {FILES['grands_domaines']}")
        rome.domaines[code] = _label(path, line, r["libelle_domaine_professionnel"], "label")

    path = folder / FILES["fiches"]
    # "code_domaine_professionel" (one n) is the official column name of this file.
    cols = ["code_rome", "libelle_rome", "code_grand_domaine", "libelle_grand_domaine",
            "code_domaine_professionel", "libelle_domaine_professionel"]
    for line, r in read_csv(path, cols):
        code = _check(path, line, r["code_rome"], FICHE_RE, "ROME code")
        gd, dp = r["code_grand_domaine"], r["code_domaine_professionel"]
        if code in rome.fiches:
            raise ReferenceDataError(path, line, f"duplicate fiche {code}")
        if not (code.startswith(dp) and dp.startswith(gd)):
            raise ReferenceDataError(path, line, f"fiche {code} filed under domaine {dp!r} / grand domaine "
                                                 f"{gd!r}, which are not its prefixes")
        if rome.domaines.get(dp) != r["libelle_domaine_professionel"]:
            raise ReferenceDataError(path, line, f"domaine professionnel {dp} {r['libelle_domaine_professionel']!r}"
                                                 f" does not match {FILES['domaines']}")
        if rome.grands_domaines.get(gd) != r["libelle_grand_domaine"]:
            raise ReferenceDataError(path, line, f"grand domaine {gd} {r['libelle_grand_domaine']!r} does not "
                                                 f"match {FILES['grands_domaines']}")
        rome.fiches[code] = (_label(path, line, r["libelle_rome"], "libelle_rome"), dp)
    return rome


def _fiche(rome: _Rome, path: Path, line: int, code: str) -> str:
    _check(path, line, code, FICHE_RE, "ROME code")
    if code not in rome.fiches:
        raise ReferenceDataError(path, line, f"unknown fiche {code} (not in {FILES['fiches']})")
    return code


def _read(folder: Path) -> _Rome:
    folder = Path(folder)
    rome = _read_hierarchy(folder)

    path = folder / FILES["texts"]
    parts: dict[tuple[str, str], dict[int, str]] = {}
    cols = ["code_rome", "position_libelle_txt", "code_type_texte", "libelle_texte", "libelle_type_texte"]
    for line, r in read_csv(path, cols, undouble_apostrophes=True):
        code = _fiche(rome, path, line, r["code_rome"])
        kind = TEXT_TYPES.get(r["code_type_texte"])
        if kind is None or kind != r["libelle_type_texte"]:
            raise ReferenceDataError(path, line, f"unknown text type {r['code_type_texte']!r} / "
                                                 f"{r['libelle_type_texte']!r} (expected one of {TEXT_TYPES})")
        if not r["position_libelle_txt"].isdigit():
            raise ReferenceDataError(path, line, f"malformed position {r['position_libelle_txt']!r}")
        pos = int(r["position_libelle_txt"])
        slot = parts.setdefault((code, kind), {})
        if pos in slot:
            raise ReferenceDataError(path, line, f"duplicate position {pos} of {kind} text of {code}")
        slot[pos] = _label(path, line, r["libelle_texte"], "libelle_texte")
    for (code, kind), slot in parts.items():
        rome.texts.setdefault(code, {})[kind] = " ".join(slot[p] for p in sorted(slot))

    path = folder / FILES["appellations"]
    seen: set[str] = set()
    for line, r in read_csv(path, ["code_ogr", "libelle_appellation_long", "libelle_appellation_court",
                                   "code_rome"]):
        ogr = _check(path, line, r["code_ogr"], OGR_RE, "code OGR")
        if ogr in seen:
            raise ReferenceDataError(path, line, f"duplicate appellation {ogr}")
        seen.add(ogr)
        rome.appellations.append((ogr, _label(path, line, r["libelle_appellation_long"], "long label"),
                                  r["libelle_appellation_court"], _fiche(rome, path, line, r["code_rome"])))

    # One line per (item, rubrique): the same OGR repeats with the same label and type.
    path = folder / FILES["items"]
    for line, r in read_csv(path, ["code_ogr", "libelle", "code_type_referentiel"]):
        ogr = _check(path, line, r["code_ogr"], OGR_RE, "code OGR")
        kind = r["code_type_referentiel"]
        if kind in SKIPPED_ITEM_TYPES:
            rome.skipped_items.add(ogr)
            continue
        if kind not in ITEM_TYPES:
            raise ReferenceDataError(path, line, f"unknown code_type_referentiel {kind!r} "
                                                 f"(expected one of {sorted(ITEM_TYPES | SKIPPED_ITEM_TYPES)})")
        value = (_label(path, line, r["libelle"], "libelle"), ITEM_TYPES[kind])
        if rome.items.setdefault(ogr, value) != value:
            raise ReferenceDataError(path, line, f"item {ogr} {value} contradicts an earlier line "
                                                 f"{rome.items[ogr]}")
    both = rome.skipped_items & rome.items.keys()
    if both:
        raise ReferenceDataError(path, None, f"items {sorted(both)[:5]} are both skipped and kept types")

    path = folder / FILES["links"]
    pairs: set[tuple[str, str]] = set()
    for line, r in read_csv(path, ["code_rome", "code_ogr"]):
        code = _fiche(rome, path, line, r["code_rome"])
        ogr = _check(path, line, r["code_ogr"], OGR_RE, "code OGR")
        if ogr in rome.skipped_items:
            continue
        if ogr not in rome.items:
            raise ReferenceDataError(path, line, f"unknown item {ogr} (not in {FILES['items']})")
        if (code, ogr) not in pairs:
            pairs.add((code, ogr))
            rome.links.append((code, ogr))
    return rome


def _scheme_triples(node: ox.NamedNode, label: str) -> Iterator[ox.Triple]:
    yield ox.Triple(node, _RDF_TYPE, _SCHEME)
    yield ox.Triple(node, _PREF, _fr(label))
    yield ox.Triple(node, _SOURCE, ox.NamedNode(ROME_SOURCE))
    yield ox.Triple(node, _OWL_VERSION, ox.Literal(ROME_VERSION))
    yield ox.Triple(node, _LICENSE, ox.NamedNode(ETALAB_LICENCE))


def _concept(node: ox.NamedNode, scheme: ox.NamedNode, notation: str, label: str) -> Iterator[ox.Triple]:
    yield ox.Triple(node, _RDF_TYPE, _CONCEPT)
    yield ox.Triple(node, _IN_SCHEME, scheme)
    yield ox.Triple(node, _NOTATION, ox.Literal(notation))
    yield ox.Triple(node, _PREF, _fr(label))


def _triples(uris: URIScheme, rome: _Rome) -> Iterator[ox.Triple]:
    T = ox.Triple
    scheme = _n(uris.scheme("rome"))
    yield from _scheme_triples(scheme, f"ROME v{ROME_VERSION} — Répertoire opérationnel des métiers et des emplois")
    nodes: dict[str, ox.NamedNode] = {}
    for code, label in rome.grands_domaines.items():
        node = nodes[code] = _n(uris.rome(code))
        yield from _concept(node, scheme, code, label)
        yield T(node, _TOP_OF, scheme)
        yield T(scheme, _HAS_TOP, node)
    for code, label in rome.domaines.items():
        node = nodes[code] = _n(uris.rome(code))
        yield from _concept(node, scheme, code, label)
        yield T(node, _BROADER, nodes[code[0]])
        yield T(nodes[code[0]], _NARROWER, node)
    for code, (label, dp) in rome.fiches.items():
        node = nodes[code] = _n(uris.rome(code))
        yield from _concept(node, scheme, code, label)
        yield T(node, _BROADER, nodes[dp])
        yield T(nodes[dp], _NARROWER, node)
        texts = rome.texts.get(code, {})
        if "definition" in texts:
            yield T(node, _DEFINITION, _fr(texts["definition"]))
        if "acces_a_em" in texts:
            yield T(node, _SCOPE_NOTE, _fr(ACCESS_PREFIX + texts["acces_a_em"]))
        if "cond_exercice_activite" in texts:
            yield T(node, _SCOPE_NOTE, _fr(CONDITIONS_PREFIX + texts["cond_exercice_activite"]))

    scheme = _n(uris.scheme("rome-appellation"))
    yield from _scheme_triples(scheme, f"Appellations du ROME v{ROME_VERSION}")
    for ogr, long, short, code in rome.appellations:
        node = _n(uris.rome_appellation(ogr))
        yield from _concept(node, scheme, ogr, long)
        yield T(node, _RDF_TYPE, _APPELLATION)
        if short and short != long:
            yield T(node, _ALT, _fr(short))
        yield T(node, _BROADER, nodes[code])

    scheme = _n(uris.scheme("rome-competence"))
    yield from _scheme_triples(scheme, f"Savoir-faire et savoirs du ROME v{ROME_VERSION}")
    items: dict[str, ox.NamedNode] = {}
    for ogr, (label, kind) in rome.items.items():
        node = items[ogr] = _n(uris.rome_competence(ogr))
        yield from _concept(node, scheme, ogr, label)
        yield T(node, _RDF_TYPE, _COMPETENCE)
        yield T(node, _ITEM_TYPE, ox.Literal(kind))
    for code, ogr in rome.links:
        yield T(nodes[code], _ROME_COMPETENCE, items[ogr])


def iter_rome(uris: URIScheme, folder: Path | str) -> Iterator[ox.Triple]:
    """All ROME v347 triples (the three schemes above) as ``pyoxigraph.Triple`` objects.

    Reads every CSV file of *folder* (``data/reference/rome-v347``: metiers.csv, metiers_domaine.csv,
    metiers_domaine_pro.csv, metiers_exemple.csv, competences.csv, correspondances.csv,
    metiers_definition.csv). The files are read and checked when this function is called, before the first
    triple is produced, so a bad file never leaves a half-loaded graph; wrap the triples in
    ``pyoxigraph.Quad(s, p, o, graph)`` for ``Store.bulk_extend``.

    :raises ReferenceDataError: (a ``ValueError``) naming the file and line of a malformed row: a missing
        column or field, a code not matching ``^[A-N]\\d{4}$`` / ``^[A-N]\\d{2}$`` / ``^[A-N]$``, a fiche
        filed under a domaine that is not its prefix, a label contradicting the domaine files, an unknown
        fiche or item, a duplicate, an unknown item or text type.
    """
    return _triples(uris, _read(Path(folder)))


def rome_graph(uris: URIScheme, folder: Path | str) -> Graph:
    """The triples of :func:`iter_rome` in a new rdflib ``Graph`` (tests, SHACL); same errors."""
    return to_rdflib(iter_rome(uris, folder))


def load_rome_labels(folder: Path | str) -> dict[str, str]:
    """Map every ROME code of the hierarchy to its label: ``{"H": "Industrie", "H25": "Direction, …",
    "H2503": "Pilotage d'unité élémentaire …"}`` (14 + 110 + 532 entries).

    Reads metiers_domaine.csv, metiers_domaine_pro.csv and metiers.csv of *folder* only.

    :raises ReferenceDataError: (a ``ValueError``) as :func:`iter_rome` for these three files.
    """
    rome = _read_hierarchy(Path(folder))
    return {**rome.grands_domaines, **rome.domaines, **{c: label for c, (label, _) in rome.fiches.items()}}
