"""Map an :class:`~cqpm_graph.fc.model.FCFiche` to pyoxigraph quads in the fiche's own named graph.

Graph of a fiche: ``graph/france-competences/<number>`` (e.g. ``…/id/graph/france-competences/RNCP509``),
separate from the ``graph/fiche/<number>`` of a fiche document of ``data/``: the same certification URI
(``certification/RNCP509``) gets its values from each source in that source's graph, so where the two
disagree both values are kept, each with its provenance. The graph also says where it comes from:
``<graph> prov:wasDerivedFrom <source/france-competences/<export file stem>>``.

The export as a whole has the graph ``graph/import/france-competences/<export file stem>``: the description of
the file (name, SHA-256, date, kind — :func:`source_quads`) and, once, the concepts its fiches name (levels,
certification types, Formacodes, IDCC, access routes, habilitation types, lettered NSF sub-specialities —
:meth:`FCMapper.shared_quads`), rather than a copy in each of 25,000 fiche graphs.

Every URI is minted from codes of the export (no blank node), so mapping the same fiche twice gives the
same quads: re-importing an export is idempotent.
"""
from __future__ import annotations

import re

import pyoxigraph as ox

from ..model import ACCESS_ROUTES
from ..nsf import SUBSPECIALITY_RE, nsf_subspeciality_triples
from ..uris import CQPM, DCTERMS, PROV, SKOS, VOID, URIScheme, slugify
from .model import FCFiche

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


def _p(ns, local: str) -> ox.NamedNode:
    return ox.NamedNode(str(ns) + local)


def c(local: str) -> ox.NamedNode:
    """A ``cqpm:`` term."""
    return _p(CQPM, local)


NOTATION, PREF, ALT = _p(SKOS, "notation"), _p(SKOS, "prefLabel"), _p(SKOS, "altLabel")
IN_SCHEME, CONCEPT, SCHEME = _p(SKOS, "inScheme"), _p(SKOS, "Concept"), _p(SKOS, "ConceptScheme")
IDENT, TITLE, SOURCE, ISSUED = _p(DCTERMS, "identifier"), _p(DCTERMS, "title"), _p(DCTERMS, "source"), _p(DCTERMS, "issued")
PUBLISHER, LICENSE = _p(DCTERMS, "publisher"), _p(DCTERMS, "license")
DERIVED = _p(PROV, "wasDerivedFrom")
T_BOOL, T_INT, T_DATE = ox.NamedNode(XSD + "boolean"), ox.NamedNode(XSD + "integer"), ox.NamedNode(XSD + "date")
TRUE, FALSE = ox.Literal("true", datatype=T_BOOL), ox.Literal("false", datatype=T_BOOL)
ETALAB = ox.NamedNode("https://www.etalab.gouv.fr/licence-ouverte-open-licence/")

C_CERT, C_BLOC, C_CAP, C_ACCESS, C_ORG = c("Certification"), c("CompetenceBlock"), c("Capacity"), c("AccessCondition"), c("Organisation")
C_REG, C_PARTNERSHIP, C_SOURCE = c("Registration"), c("Partnership"), c("SourceDocument")
REGISTRIES = {"RNCP": c("RNCP"), "RS": c("RS")}

#: Labels of the partner habilitation codes met in the export; an unknown code is labelled by itself.
HABILITATIONS = {
    "HABILITATION_ORGA_FORM": "Habilitation pour organiser la formation",
    "HABILITATION_FORMER_EVALUER": "Habilitation pour former et organiser l'évaluation",
    "HABILITATION_EVALUER": "Habilitation pour organiser l'évaluation",
}
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def fr(text: str) -> ox.Literal:
    return ox.Literal(text, language="fr")


def date_lit(d) -> ox.Literal:
    return ox.Literal(d.isoformat(), datatype=T_DATE)


class FCMapper:
    """Turn fiches of one export into quads.

    :param uris: the URI scheme (base from the settings).
    :param source: IRI of the export as a source document (:meth:`source_iri`).
    """

    def __init__(self, uris: URIScheme, source: str):
        self.uris = uris
        self.source = ox.NamedNode(source)
        self._nodes: dict[tuple[str, str], ox.NamedNode] = {}
        self._schemes = {name: ox.NamedNode(str(uris.scheme(name)))
                         for name in ("niveau", "formacode", "idcc", "voie-acces", "type", "habilitation", "nsf")}
        #: Descriptions of the concepts the export names (level, type, Formacode, IDCC, access route,
        #: habilitation, lettered NSF): written once per export in its own graph, not in every fiche graph.
        self.shared: dict[ox.NamedNode, list[tuple]] = {}

    @staticmethod
    def source_iri(uris: URIScheme, export_name: str) -> str:
        """``source/france-competences/<file name without .zip/.xml>``."""
        stem = re.sub(r"\.(zip|xml)$", "", export_name, flags=re.I)
        return str(uris.source("france-competences", stem))

    def graph_iri(self, number: str) -> str:
        """``graph/france-competences/<number>``."""
        return str(self.uris.graph("france-competences", number))

    def _node(self, kind: str, key: str) -> ox.NamedNode:
        # Shared nodes (concepts, organisations) are met again and again at national scale: mint once.
        k = (kind, key)
        node = self._nodes.get(k)
        if node is None:
            node = self._nodes[k] = ox.NamedNode(str(getattr(self.uris, kind)(key)))
        return node

    def map(self, f: FCFiche) -> list[ox.Quad]:
        """All quads of fiche *f* in ``graph/france-competences/<number>`` (see the module doc)."""
        u = self.uris
        g = ox.NamedNode(self.graph_iri(f.number))
        out: list[ox.Quad] = []
        Q = ox.Quad

        def add(s, p, o):
            out.append(Q(s, p, o, g))

        def concept(node, scheme: str, notation: str, label: str | None):
            if node in self.shared:  # first wording met in the export wins: one prefLabel per concept
                return
            self.shared[node] = [(node, RDF_TYPE, CONCEPT), (node, IN_SCHEME, self._schemes[scheme]),
                                 (node, NOTATION, ox.Literal(notation))] + ([(node, PREF, fr(label))] if label else [])

        n = f.number
        cert = ox.NamedNode(str(u.certification(n)))
        add(g, DERIVED, self.source)
        add(cert, RDF_TYPE, C_CERT)
        add(cert, IDENT, ox.Literal(n))
        add(cert, NOTATION, ox.Literal(n))
        add(cert, PREF, fr(f.title))
        add(cert, c("registry"), REGISTRIES[f.registry])
        add(cert, DERIVED, self.source)
        if f.fiche_id:
            add(cert, c("franceCompetencesId"), ox.Literal(f.fiche_id))
        if f.state:
            add(cert, c("ficheState"), fr(f.state))
        if f.active is not None:
            add(cert, c("active"), TRUE if f.active else FALSE)
        if f.abbreviation:
            add(cert, c("abbreviation"), ox.Literal(f.abbreviation))
            key = f.abbreviation if _KEY_RE.match(f.abbreviation) else slugify(f.abbreviation)
            node = self._node("certification_type", key)
            add(cert, c("certificationType"), node)
            concept(node, "type", f.abbreviation, f.abbreviation_label or f.abbreviation)
        if f.level:
            node = self._node("level", f.level)
            add(cert, c("level"), node)
            concept(node, "niveau", f.level, f.level_label or f"Niveau {f.level[3:]}")
        elif f.level_code:  # REPRISE: no level of the national framework, say so
            add(cert, c("levelNote"), fr(f.level_label or f.level_code))
        if f.partial_validation is not None:
            add(cert, c("partialValidation"), TRUE if f.partial_validation else FALSE)
        if f.new_caledonia is not None:
            add(cert, c("accessibleInNewCaledonia"), TRUE if f.new_caledonia else FALSE)
        if f.french_polynesia is not None:
            add(cert, c("accessibleInFrenchPolynesia"), TRUE if f.french_polynesia else FALSE)

        reg = ox.NamedNode(str(u.registration(n)))
        add(cert, c("registration"), reg)
        add(reg, RDF_TYPE, C_REG)
        for prop, value in (("decisionDate", f.decision_date), ("journalOfficielDate", f.journal_officiel_date),
                            ("effectiveDate", f.effective_date), ("endDate", f.end_date)):
            if value is not None:
                add(reg, c(prop), date_lit(value))
        if f.registration_type:
            add(reg, c("registrationType"), fr(f.registration_type))
        if f.duration_years is not None:
            add(reg, c("durationYears"), ox.Literal(str(f.duration_years), datatype=T_INT))

        for code, label in f.rome:
            node = self._node("rome", code)
            add(cert, c("romeCode"), node)
            if label:
                add(node, ALT, fr(label))
        for code, label in f.nsf:
            node = self._node("nsf", code)
            add(cert, c("nsfCode"), node)
            if label and SUBSPECIALITY_RE.match(code):
                if node in self.shared:
                    continue
                try:  # lettered sub-specialities are not in the shipped nomenclature: mint them here
                    self.shared[node] = [(t.subject, t.predicate, t.object) for t in nsf_subspeciality_triples(u, code, label)]
                    continue
                except ValueError:
                    pass
            if label:
                add(node, ALT, fr(label))
        for code, label in f.formacodes:
            node = self._node("formacode", code)
            add(cert, c("formacode"), node)
            concept(node, "formacode", code, label)
        for number, label in f.idcc:
            node = self._node("idcc", number)
            add(cert, c("conventionCollective"), node)
            concept(node, "idcc", number, label)

        names: dict[ox.NamedNode, str] = {}

        def organisation(org) -> ox.NamedNode:
            node = self._node("organisation", f"siret-{org.siret}" if org.siret else org.name)
            if node not in names:
                names[node] = org.name
                add(node, RDF_TYPE, C_ORG)
                add(node, PREF, fr(org.name))
                if org.siret:
                    add(node, c("siret"), ox.Literal(org.siret))
            elif names[node] != org.name:
                add(node, ALT, fr(org.name))  # one SIRET, two wordings: keep one prefLabel
            return node

        for org in f.certifiers:
            add(cert, c("certifier"), organisation(org))
        for org in f.partners:
            node = organisation(org)
            add(cert, c("partner"), node)
            link = ox.NamedNode(str(u.partnership(n, org.siret or slugify(org.name))))
            add(cert, c("partnership"), link)
            add(link, RDF_TYPE, C_PARTNERSHIP)
            add(link, c("partnerOrganisation"), node)
            if org.habilitation:
                hab = self._node("habilitation", org.habilitation if _KEY_RE.match(org.habilitation)
                                 else slugify(org.habilitation))
                add(link, c("habilitationType"), hab)
                concept(hab, "habilitation", org.habilitation, HABILITATIONS.get(org.habilitation, org.habilitation))

        for access in f.access:
            node = ox.NamedNode(str(u.access(n, access.route)))
            route = self._node("access_route", access.route)
            add(cert, c("accessCondition"), node)
            add(node, RDF_TYPE, C_ACCESS)
            add(node, c("route"), route)
            add(node, c("isOpen"), TRUE if access.is_open else FALSE)
            if access.is_open:
                add(cert, c("accessRoute"), route)
            if access.jury:
                add(node, c("juryComposition"), fr(access.jury))
            concept(route, "voie-acces", access.route, ACCESS_ROUTES[access.route])

        index = 0
        for bloc in f.blocs:
            node = ox.NamedNode(str(u.bloc(bloc.code)))
            add(cert, c("hasBlock"), node)
            add(node, c("isBlockOf"), cert)
            add(node, RDF_TYPE, C_BLOC)
            add(node, NOTATION, ox.Literal(bloc.code))
            if bloc.label:
                add(node, PREF, fr(bloc.label))
            add(node, c("blockNumber"), ox.Literal(str(int(bloc.code.rsplit("BC", 1)[1])), datatype=T_INT))
            if bloc.evaluation:
                add(node, c("evaluationMethod"), fr(bloc.evaluation))
            if bloc.competences_text:
                add(node, c("competenceList"), fr(bloc.competences_text))
            for label in bloc.capacities:
                index += 1
                code = f"C{index}"
                cap = ox.NamedNode(str(u.capacity(n, code)))
                add(node, c("hasCapacity"), cap)
                add(cert, c("hasCapacity"), cap)
                add(cap, RDF_TYPE, C_CAP)
                add(cap, NOTATION, ox.Literal(code))
                add(cap, PREF, fr(label))

        # Lineage, both directions in this fiche's graph: the data stays symmetric whichever fiches
        # of the chain an export holds.
        for old in f.replaces:
            other = ox.NamedNode(str(u.certification(old)))
            add(cert, c("replaces"), other)
            add(other, c("isReplacedBy"), cert)
        for new in f.replaced_by:
            other = ox.NamedNode(str(u.certification(new)))
            add(cert, c("isReplacedBy"), other)
            add(other, c("replaces"), cert)

        return out

    def shared_quads(self, graph: str) -> list[ox.Quad]:
        """The shared concept descriptions met so far, and their schemes, in *graph* (the export's graph)."""
        g = ox.NamedNode(graph)
        quads = [ox.Quad(s, p, o, g) for triples in self.shared.values() for s, p, o in triples]
        schemes = {o for triples in self.shared.values() for _s, p, o in triples if p == IN_SCHEME}
        quads += [ox.Quad(scheme, RDF_TYPE, SCHEME, g) for scheme in sorted(schemes, key=str)]
        return quads


def export_graph_iri(uris: URIScheme, export_name: str) -> str:
    """``graph/import/france-competences/<file name without .zip/.xml>``: the graph of one export as a whole."""
    stem = re.sub(r"\.(zip|xml)$", "", export_name, flags=re.I)
    return str(uris.graph("import", "france-competences", stem))


def source_quads(uris: URIScheme, source: str, *, file_name: str, stored_as: str, sha256: str,
                 export_date: str | None, kind: str, fiches: int) -> list[ox.Quad]:
    """Describe one imported export in its graph ``graph/import/france-competences/<stem>``.

    ``<source> a cqpm:SourceDocument ; dcterms:title <file name> ; dcterms:source <path under the store>
    ; cqpm:sha256 ; dcterms:issued <export date> ; cqpm:layout "fc-export-csv"|"fc-export-xml" ;
    dcterms:publisher "France Compétences" ; dcterms:license Licence Ouverte ; void:entities <fiches>``.
    Deterministic (no import time): importing the same file twice writes the same quads.
    """
    g = ox.NamedNode(export_graph_iri(uris, file_name))
    s = ox.NamedNode(source)
    quads = [
        ox.Quad(s, RDF_TYPE, C_SOURCE, g),
        ox.Quad(s, TITLE, ox.Literal(file_name), g),
        ox.Quad(s, SOURCE, ox.Literal(stored_as), g),
        ox.Quad(s, c("sha256"), ox.Literal(sha256), g),
        ox.Quad(s, c("layout"), ox.Literal(f"fc-export-{kind}"), g),
        ox.Quad(s, PUBLISHER, ox.Literal("France Compétences"), g),
        ox.Quad(s, LICENSE, ETALAB, g),
        ox.Quad(s, _p(VOID, "entities"), ox.Literal(str(fiches), datatype=T_INT), g),
    ]
    if export_date:
        quads.append(ox.Quad(s, ISSUED, ox.Literal(export_date, datatype=T_DATE), g))
    return quads
