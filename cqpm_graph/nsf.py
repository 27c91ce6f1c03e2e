"""The NSF nomenclature (Nomenclature des spécialités de formation, INSEE, décret n° 94-522) as SKOS.

``scheme/nsf`` holds the 4 domains (``nsf/2``, top concepts), the 17 groups (``nsf/20``) and the 92
specialities (``nsf/200``), linked both ways by ``skos:broader`` / ``skos:narrower``. Domains and groups come
from ``data/reference/nsf/nsf-groupes.csv`` (niveau;code;libelle), specialities from ``nsf-specialites.csv``
(code;libelle). Lettered sub-specialities (``200r``) are not part of the shipped files: their labels come with
the certification data, and the graph build mints them with :func:`nsf_subspeciality_triples`.

:func:`iter_nsf` yields pyoxigraph triples for the store's bulk load, :func:`nsf_graph` the same as an rdflib
graph, :func:`load_nsf_labels` the code → label lookup.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterator
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph

from .csvutil import ReferenceDataError, read_csv, to_rdflib
from .rome import ETALAB_LICENCE
from .uris import DCTERMS, SKOS, URIScheme

NSF_LABEL = "Nomenclature des spécialités de formation (NSF)"
NSF_SOURCE = ("INSEE, Nomenclature des spécialités de formation, approuvée par le décret n° 94-522 "
              "du 26 juin 1994")
GROUPS_FILE = "nsf-groupes.csv"
SPECIALITIES_FILE = "nsf-specialites.csv"

DOMAIN_RE = re.compile(r"^\d$")
GROUP_RE = re.compile(r"^\d{2}$")
SPECIALITY_RE = re.compile(r"^\d{3}$")
SUBSPECIALITY_RE = re.compile(r"^(\d{3})([a-z])$")

_RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


def _n(uri) -> ox.NamedNode:
    return ox.NamedNode(str(uri))


_CONCEPT, _SCHEME = _n(SKOS.Concept), _n(SKOS.ConceptScheme)
_PREF, _NOTATION, _IN_SCHEME = _n(SKOS.prefLabel), _n(SKOS.notation), _n(SKOS.inScheme)
_TOP_OF, _HAS_TOP = _n(SKOS.topConceptOf), _n(SKOS.hasTopConcept)
_BROADER, _NARROWER = _n(SKOS.broader), _n(SKOS.narrower)
_SOURCE, _LICENSE = _n(DCTERMS.source), _n(DCTERMS.license)


def _read(folder: Path) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Return ``(domains, groups, specialities)``, each code → label, in file order."""
    domains: dict[str, str] = {}
    groups: dict[str, str] = {}
    specialities: dict[str, str] = {}
    path = folder / GROUPS_FILE
    for line, r in read_csv(path, ["niveau", "code", "libelle"], delimiter=";"):
        level, code, label = r["niveau"], r["code"], r["libelle"]
        if not label:
            raise ReferenceDataError(path, line, f"empty label for {code!r}")
        if level == "domaine":
            if not DOMAIN_RE.match(code):
                raise ReferenceDataError(path, line, f"malformed NSF domain code {code!r} (expected one digit)")
            target = domains
        elif level == "groupe":
            if not GROUP_RE.match(code):
                raise ReferenceDataError(path, line, f"malformed NSF group code {code!r} (expected two digits)")
            if code[0] not in domains:
                raise ReferenceDataError(path, line, f"group {code}: domain {code[0]} not declared above")
            target = groups
        else:
            raise ReferenceDataError(path, line, f"unknown niveau {level!r} (expected domaine or groupe)")
        if code in target:
            raise ReferenceDataError(path, line, f"duplicate {level} {code}")
        target[code] = label

    path = folder / SPECIALITIES_FILE
    for line, r in read_csv(path, ["code", "libelle"], delimiter=";", join_extra=True):
        code, label = r["code"], r["libelle"]
        if not SPECIALITY_RE.match(code):
            raise ReferenceDataError(path, line, f"malformed NSF speciality code {code!r} (expected three digits)")
        if code[:2] not in groups:
            raise ReferenceDataError(path, line, f"speciality {code}: group {code[:2]} not in {GROUPS_FILE}")
        if not label:
            raise ReferenceDataError(path, line, f"empty label for {code}")
        if code in specialities:
            raise ReferenceDataError(path, line, f"duplicate speciality {code}")
        specialities[code] = label
    return domains, groups, specialities


def _concept(node: ox.NamedNode, scheme: ox.NamedNode, code: str, label: str) -> Iterator[ox.Triple]:
    yield ox.Triple(node, _RDF_TYPE, _CONCEPT)
    yield ox.Triple(node, _IN_SCHEME, scheme)
    yield ox.Triple(node, _NOTATION, ox.Literal(code))
    yield ox.Triple(node, _PREF, ox.Literal(label, language="fr"))


def _triples(uris: URIScheme, domains: dict[str, str], groups: dict[str, str],
             specialities: dict[str, str]) -> Iterator[ox.Triple]:
    T = ox.Triple
    scheme = _n(uris.scheme("nsf"))
    yield T(scheme, _RDF_TYPE, _SCHEME)
    yield T(scheme, _PREF, ox.Literal(NSF_LABEL, language="fr"))
    yield T(scheme, _SOURCE, ox.Literal(NSF_SOURCE, language="fr"))
    yield T(scheme, _LICENSE, ox.NamedNode(ETALAB_LICENCE))
    for code, label in domains.items():
        node = _n(uris.nsf(code))
        yield from _concept(node, scheme, code, label)
        yield T(node, _TOP_OF, scheme)
        yield T(scheme, _HAS_TOP, node)
    for level, parent_len in ((groups, 1), (specialities, 2)):
        for code, label in level.items():
            node, parent = _n(uris.nsf(code)), _n(uris.nsf(code[:parent_len]))
            yield from _concept(node, scheme, code, label)
            yield T(node, _BROADER, parent)
            yield T(parent, _NARROWER, node)


def iter_nsf(uris: URIScheme, folder: Path | str) -> Iterator[ox.Triple]:
    """The NSF scheme (4 domains, 17 groups, 92 specialities) as ``pyoxigraph.Triple`` objects.

    Reads ``nsf-groupes.csv`` and ``nsf-specialites.csv`` of *folder* (``data/reference/nsf``) when called,
    before the first triple is produced.

    :raises ReferenceDataError: (a ``ValueError``) naming the file and line of a malformed row: missing
        column or field, a code of the wrong shape, a group or speciality whose parent is not declared,
        an empty label, a duplicate.
    """
    return _triples(uris, *_read(Path(folder)))


def nsf_graph(uris: URIScheme, folder: Path | str) -> Graph:
    """The triples of :func:`iter_nsf` in a new rdflib ``Graph`` (tests, SHACL); same errors."""
    return to_rdflib(iter_nsf(uris, folder))


def load_nsf_labels(folder: Path | str) -> dict[str, str]:
    """Map every NSF code of the shipped files to its label: ``{"2": "Domaines technico-professionnels de la
    production", "20": "Spécialités pluritechnologiques de production", "200": "Technologies industrielles
    fondamentales (…)", …}`` (4 + 17 + 92 entries, no lettered codes).

    :raises ReferenceDataError: (a ``ValueError``) as :func:`iter_nsf`.
    """
    domains, groups, specialities = _read(Path(folder))
    return {**domains, **groups, **specialities}


@functools.cache
def _shipped_codes() -> frozenset[str]:
    from .resources import data_dir  # late: keeps this module importable on its own

    return frozenset(load_nsf_labels(data_dir() / "reference" / "nsf"))


def nsf_subspeciality_triples(uris: URIScheme, code: str, label: str,
                              nomenclature: Collection[str] | None = None) -> list[ox.Triple]:
    """Mint a lettered sub-speciality such as ``("200r", "Contrôle qualité de produits et procédés
    industriels")``: a ``skos:Concept`` ``nsf/200r`` in ``scheme/nsf`` with ``skos:notation "200r"``,
    ``skos:prefLabel label@fr`` and ``skos:broader nsf/200`` (plus ``nsf/200 skos:narrower nsf/200r``).

    Call it once per code (two labels for one code would give two prefLabels).

    :param nomenclature: the known codes, e.g. the keys of :func:`load_nsf_labels`; by default the shipped
        ``data/reference/nsf`` files (read once).
    :returns: a list of ``pyoxigraph.Triple`` (pass to :func:`cqpm_graph.csvutil.to_rdflib` for rdflib).
    :raises ValueError: when *code* is not three digits and a lowercase letter, its three-digit parent is not
        a speciality of *nomenclature*, or *label* is empty.
    """
    match = SUBSPECIALITY_RE.match(code or "")
    if not match:
        raise ValueError(f"malformed NSF sub-speciality code {code!r} (expected three digits and a letter, "
                         f"e.g. 200r)")
    parent_code = match.group(1)
    if nomenclature is None:
        nomenclature = _shipped_codes()
    if parent_code not in nomenclature:
        raise ValueError(f"NSF sub-speciality {code}: speciality {parent_code} is not in the nomenclature")
    label = (label or "").strip()
    if not label:
        raise ValueError(f"NSF sub-speciality {code}: empty label")
    node, parent = _n(uris.nsf(code)), _n(uris.nsf(parent_code))
    return [*_concept(node, _n(uris.scheme("nsf")), code, label),
            ox.Triple(node, _BROADER, parent), ox.Triple(parent, _NARROWER, node)]
