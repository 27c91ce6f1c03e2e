"""The URI scheme: the one place that mints and parses data URIs.

Every page, serialiser and mapping asks here, so the public contract stays in one file.
Data URIs live under a configurable base (default ``https://w3id.org/cqpm/id/``)::

    certification/RNCP28229            a certification (RNCP / RS number, or CQPM-<slug> without one)
    bloc/RNCP28229BC01                 a bloc de compétences
    capacite/RNCP28229-C1              a capacité professionnelle of one certification
    activite/RNCP28229-A1              an activité visée
    critere/CQPM-...-C1-2              the 2nd observable criterion of a capacity
    emploi/chef-de-ligne               an accessible job title (shared across certifications)
    acces/RNCP28229-vae                the status of one access route for one certification
    enregistrement/RNCP28229           the registration (arrêté, JO, dates) of a certification
    organisation/<slug>                a certifier or other organisation
    rome/H2503, rome/H25, rome/H       ROME fiche, domaine professionnel, grand domaine
    rome/appellation/<ogr>             a ROME appellation (job title, code OGR)
    rome/competence/<ogr>              a ROME savoir-faire / savoir item (code OGR)
    nsf/200r, nsf/200, nsf/20, nsf/2   NSF sub-speciality, speciality, group, domain
    idcc/3109                          a convention collective
    voie-acces/vae                     an access route (concept)
    type/CQPM                          a kind of certification (concept)
    scheme/rome, scheme/nsf, ...       the SKOS concept schemes
    graph/fiche/RNCP28229              the named graph of one source document
    source/fiche/000_49dbc97dca6e95ec  the source document itself

The ontology namespace is fixed: ``https://w3id.org/cqpm/ontology#`` (prefix ``cqpm:``).
"""
from __future__ import annotations

import re
import unicodedata

from rdflib import Namespace, URIRef

CQPM = Namespace("https://w3id.org/cqpm/ontology#")
ONTOLOGY_URI = URIRef("https://w3id.org/cqpm/ontology")

# Vocabularies the project aligns with (see ontology/alignments.ttl).
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
SCHEMA = Namespace("https://schema.org/")
PROV = Namespace("http://www.w3.org/ns/prov#")
DCTERMS = Namespace("http://purl.org/dc/terms/")
VOID = Namespace("http://rdfs.org/ns/void#")
OA = Namespace("http://www.w3.org/ns/oa#")
ESCO = Namespace("http://data.europa.eu/esco/model#")
ELM = Namespace("http://data.europa.eu/snb/model/elm/")

PREFIXES = {
    "cqpm": str(CQPM), "skos": str(SKOS), "schema": str(SCHEMA), "prov": str(PROV),
    "dcterms": str(DCTERMS), "void": str(VOID), "oa": str(OA),
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "sh": "http://www.w3.org/ns/shacl#",
}

# Kinds of data resources, each one a path segment under the base.
KINDS = ("certification", "bloc", "capacite", "activite", "critere", "emploi", "acces",
         "enregistrement", "organisation", "rome", "nsf", "idcc", "voie-acces", "type",
         "scheme", "graph", "source", "niveau", "formacode", "habilitation", "partenariat", "mapping")

RNCP_RE = re.compile(r"^(RNCP|RS)(\d+)$")
BLOC_RE = re.compile(r"^((?:RNCP|RS)\d+)BC(\d{2,})$")
ROME_RE = re.compile(r"^[A-N](\d{2}(\d{2})?)?$")
NSF_RE = re.compile(r"^\d(\d(\d[a-z]?)?)?$")


def slugify(text: str, max_len: int = 80) -> str:
    """Return a readable, stable ASCII slug: ``"Chef d'équipe de production"`` → ``chef-d-equipe-de-production``.

    Accents are stripped (NFKD), everything that is not a letter or digit becomes one ``-``.
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:max_len].rstrip("-")


class URIScheme:
    """Mint and parse data URIs under one base.

    :param base: the data base URI, ending with ``/`` (e.g. ``https://w3id.org/cqpm/id/``).
    """

    def __init__(self, base: str):
        if not base.endswith(("/", "#")):
            base += "/"
        self.base = base

    def _mint(self, kind: str, local: str) -> URIRef:
        return URIRef(f"{self.base}{kind}/{local}")

    # -- certifications and their parts -------------------------------------------------
    def certification(self, cert_id: str) -> URIRef:
        """``certification/RNCP28229``; *cert_id* is the RNCP/RS number or ``CQPM-<slug>``."""
        return self._mint("certification", cert_id)

    def bloc(self, code: str) -> URIRef:
        """``bloc/RNCP28229BC01``."""
        return self._mint("bloc", code)

    def capacity(self, cert_id: str, code: str) -> URIRef:
        """``capacite/RNCP28229-C1``."""
        return self._mint("capacite", f"{cert_id}-{code}")

    def activity(self, cert_id: str, code: str) -> URIRef:
        """``activite/RNCP28229-A1``."""
        return self._mint("activite", f"{cert_id}-{code}")

    def criterion(self, cert_id: str, capacity_code: str, index: int) -> URIRef:
        """``critere/<cert>-C1-2``: the *index*-th (1-based) criterion of a capacity."""
        return self._mint("critere", f"{cert_id}-{capacity_code}-{index}")

    def job(self, label: str) -> URIRef:
        """``emploi/<slug of the job title>``: one resource per distinct title across certifications."""
        return self._mint("emploi", slugify(label))

    def access(self, cert_id: str, route: str) -> URIRef:
        """``acces/RNCP28229-vae``: one access route's status for one certification."""
        return self._mint("acces", f"{cert_id}-{route}")

    def registration(self, cert_id: str) -> URIRef:
        """``enregistrement/RNCP28229``."""
        return self._mint("enregistrement", cert_id)

    def organisation(self, key: str) -> URIRef:
        """``organisation/<slug>`` (or ``organisation/siret-<14 digits>`` when the SIRET is known)."""
        return self._mint("organisation", slugify(key) if not key.startswith("siret-") else key)

    # -- nomenclatures ---------------------------------------------------------------------
    def rome(self, code: str) -> URIRef:
        """``rome/H2503`` (fiche), ``rome/H25`` (domaine professionnel), ``rome/H`` (grand domaine)."""
        return self._mint("rome", code)

    def rome_appellation(self, ogr: str) -> URIRef:
        """``rome/appellation/<code OGR>``."""
        return self._mint("rome", f"appellation/{ogr}")

    def rome_competence(self, ogr: str) -> URIRef:
        """``rome/competence/<code OGR>`` (savoir-faire or savoir item)."""
        return self._mint("rome", f"competence/{ogr}")

    def nsf(self, code: str) -> URIRef:
        """``nsf/200r``, ``nsf/200``, ``nsf/20``, ``nsf/2``."""
        return self._mint("nsf", code)

    def idcc(self, number: str) -> URIRef:
        """``idcc/3109``."""
        return self._mint("idcc", number)

    def access_route(self, key: str) -> URIRef:
        """``voie-acces/<key>``; keys in :data:`cqpm_graph.model.ACCESS_ROUTES`."""
        return self._mint("voie-acces", key)

    def certification_type(self, key: str) -> URIRef:
        """``type/CQPM``."""
        return self._mint("type", key)

    def scheme(self, name: str) -> URIRef:
        """``scheme/rome``, ``scheme/nsf``, ``scheme/idcc``, ``scheme/voie-acces``, ``scheme/type``."""
        return self._mint("scheme", name)

    # -- provenance ------------------------------------------------------------------------
    def graph(self, *parts: str) -> URIRef:
        """Named graph of one source: ``graph/fiche/RNCP28229``, ``graph/rome-v347``, ``graph/nsf``."""
        return self._mint("graph", "/".join(parts))

    def source(self, *parts: str) -> URIRef:
        """The source document itself: ``source/fiche/000_49dbc97dca6e95ec``."""
        return self._mint("source", "/".join(parts))

    # -- parsing -----------------------------------------------------------------------------
    def parse(self, uri: str) -> tuple[str, str] | None:
        """Split a data URI into ``(kind, local part)``; ``None`` when it is not under the base.

        >>> URIScheme("https://w3id.org/cqpm/id/").parse("https://w3id.org/cqpm/id/bloc/RNCP28229BC01")
        ('bloc', 'RNCP28229BC01')
        """
        if not uri.startswith(self.base):
            return None
        rest = uri[len(self.base):]
        kind, _, local = rest.partition("/")
        if kind not in KINDS or not local:
            return None
        return kind, local

    # -- France Compétences export terms (cqpm_graph.fc) ---------------------------------------
    def level(self, code: str) -> URIRef:
        """``niveau/NIV3``: a level of the national framework (EQF level), in ``scheme/niveau``."""
        return self._mint("niveau", code)

    def formacode(self, code: str) -> URIRef:
        """``formacode/42872``: a Formacode (Centre Inffo), in ``scheme/formacode``."""
        return self._mint("formacode", code)

    def habilitation(self, code: str) -> URIRef:
        """``habilitation/HABILITATION_ORGA_FORM``: a kind of partner habilitation, in ``scheme/habilitation``."""
        return self._mint("habilitation", code)

    def partnership(self, cert_id: str, key: str) -> URIRef:
        """``partenariat/RS6117-31504294500032``: one partner's habilitation for one certification
        (*key*: the partner's SIRET, or the slug of its name when it has none)."""
        return self._mint("partenariat", f"{cert_id}-{key}")
