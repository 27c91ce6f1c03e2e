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

import hashlib
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

# The same terms in N-Triples form, for :meth:`FCMapper.map_nquads`.
NT_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
NT_NOTATION, NT_PREF, NT_ALT = f"<{SKOS}notation>", f"<{SKOS}prefLabel>", f"<{SKOS}altLabel>"
NT_IDENT, NT_DERIVED = f"<{DCTERMS}identifier>", f"<{PROV}wasDerivedFrom>"
NT_TRUE, NT_FALSE = f'"true"^^<{XSD}boolean>', f'"false"^^<{XSD}boolean>'
NT_CERT = f"<{CQPM}Certification>"
NT_REGISTRIES = {"RNCP": f"<{CQPM}RNCP>", "RS": f"<{CQPM}RS>"}


class _CqpmTerms(dict):
    """``NT_C["hasBlock"]`` → ``"<https://w3id.org/cqpm/ontology#hasBlock>"`` (built once per name)."""

    def __missing__(self, local: str) -> str:
        value = self[local] = f"<{CQPM}{local}>"
        return value


NT_C = _CqpmTerms()
_NT_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def _escape(text: str) -> str:
    # most texts need no escape: four substring tests are ~5 times cheaper than str.translate
    if "\\" in text or '"' in text or "\n" in text or "\r" in text:
        return text.translate(_NT_ESCAPES)
    return text


def _nt_str(text: str) -> str:
    """An ``xsd:string`` literal in N-Triples form."""
    return f'"{_escape(text)}"'


def _nt_fr(text: str) -> str:
    """A ``@fr`` literal in N-Triples form."""
    return f'"{_escape(text)}"@fr'


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
        ox.NamedNode(uris.base)  # a bad base IRI fails here, not in the middle of a bulk load
        self._source_nt = f"<{source}>"
        self._nodes: dict[tuple[str, str], str] = {}
        self._schemes = {name: ox.NamedNode(str(uris.scheme(name)))
                         for name in ("niveau", "formacode", "idcc", "voie-acces", "type", "habilitation", "nsf")}
        #: Descriptions of the concepts the export names (level, type, Formacode, IDCC, access route,
        #: habilitation, lettered NSF): written once per export in its own graph, not in every fiche graph.
        #: Keyed by the concept's IRI in N-Triples form (``<…>``).
        self.shared: dict[str, list[tuple]] = {}
        #: :meth:`map_nquads`' last ``cqpm:contentDigest``
        self.last_digest = ""

    @staticmethod
    def source_iri(uris: URIScheme, export_name: str) -> str:
        """``source/france-competences/<file name without .zip/.xml>``."""
        stem = re.sub(r"\.(zip|xml)$", "", export_name, flags=re.I)
        return str(uris.source("france-competences", stem))

    def graph_iri(self, number: str) -> str:
        """``graph/france-competences/<number>``."""
        return str(self.uris.graph("france-competences", number))

    def _nt_node(self, kind: str, key: str) -> str:
        # Shared nodes (concepts, organisations) are met again and again at national scale: mint once.
        k = (kind, key)
        node = self._nodes.get(k)
        if node is None:
            node = self._nodes[k] = f"<{getattr(self.uris, kind)(key)}>"
        return node

    def map(self, f: FCFiche) -> list[ox.Quad]:
        """All quads of fiche *f* in ``graph/france-competences/<number>`` (see the module doc): the
        N-Quads of :meth:`map_nquads`, parsed."""
        return list(ox.parse(self.map_nquads(f).encode(), format=ox.RdfFormat.N_QUADS))

    def map_nquads(self, f: FCFiche) -> str:
        """The quads of :meth:`map` as N-Quads text, one quad per line (what the importer streams into
        pyoxigraph's bulk loader: formatting text is ~3 times cheaper than building ``pyoxigraph.Quad``
        objects). IRIs are minted from codes the readers have checked (numbers, bloc codes, ROME / NSF /
        Formacode / IDCC codes, SIRETs) or from slugs, so they need no escaping; literals are escaped.

        The last two lines are ``<graph> cqpm:contentDigest "<SHA-1>"`` — the SHA-1 of the other lines, the
        export they came from left out (so that the same fiche in a newer export has the same digest; also
        left in :attr:`last_digest`) — and ``<graph> void:triples <number of lines>``."""
        u = self.uris
        lines: list[str] = []
        gt = f" <{self.graph_iri(f.number)}> .\n"
        append = lines.append

        def add(s: str, p: str, o: str) -> None:
            append(f"{s} {p} {o}{gt}")

        def concept(node: str, scheme: str, notation: str, label: str | None):
            if node in self.shared:  # first wording met in the export wins: one prefLabel per concept
                return
            n = ox.NamedNode(node[1:-1])
            self.shared[node] = [(n, RDF_TYPE, CONCEPT), (n, IN_SCHEME, self._schemes[scheme]),
                                 (n, NOTATION, ox.Literal(notation))] + ([(n, PREF, fr(label))] if label else [])

        node_of = self._nt_node
        n = f.number
        cert = f"<{u.certification(n)}>"
        add(f"<{self.graph_iri(n)}>", NT_DERIVED, self._source_nt)
        add(cert, NT_TYPE, NT_CERT)
        add(cert, NT_IDENT, _nt_str(n))
        add(cert, NT_NOTATION, _nt_str(n))
        add(cert, NT_PREF, _nt_fr(f.title))
        add(cert, NT_C["registry"], NT_REGISTRIES[f.registry])
        add(cert, NT_DERIVED, self._source_nt)
        if f.fiche_id:
            add(cert, NT_C["franceCompetencesId"], _nt_str(f.fiche_id))
        if f.state:
            add(cert, NT_C["ficheState"], _nt_fr(f.state))
        if f.active is not None:
            add(cert, NT_C["active"], NT_TRUE if f.active else NT_FALSE)
        if f.abbreviation:
            add(cert, NT_C["abbreviation"], _nt_str(f.abbreviation))
            key = f.abbreviation if _KEY_RE.match(f.abbreviation) else slugify(f.abbreviation)
            node = node_of("certification_type", key)
            add(cert, NT_C["certificationType"], node)
            concept(node, "type", f.abbreviation, f.abbreviation_label or f.abbreviation)
        if f.level:
            node = node_of("level", f.level)
            add(cert, NT_C["level"], node)
            concept(node, "niveau", f.level, f.level_label or f"Niveau {f.level[3:]}")
        elif f.level_code:  # REPRISE: no level of the national framework, say so
            add(cert, NT_C["levelNote"], _nt_fr(f.level_label or f.level_code))
        if f.partial_validation is not None:
            add(cert, NT_C["partialValidation"], NT_TRUE if f.partial_validation else NT_FALSE)
        if f.new_caledonia is not None:
            add(cert, NT_C["accessibleInNewCaledonia"], NT_TRUE if f.new_caledonia else NT_FALSE)
        if f.french_polynesia is not None:
            add(cert, NT_C["accessibleInFrenchPolynesia"], NT_TRUE if f.french_polynesia else NT_FALSE)

        reg = f"<{u.registration(n)}>"
        add(cert, NT_C["registration"], reg)
        add(reg, NT_TYPE, NT_C["Registration"])
        for prop, value in (("decisionDate", f.decision_date), ("journalOfficielDate", f.journal_officiel_date),
                            ("effectiveDate", f.effective_date), ("endDate", f.end_date)):
            if value is not None:
                add(reg, NT_C[prop], f'"{value.isoformat()}"^^<{XSD}date>')
        if f.registration_type:
            add(reg, NT_C["registrationType"], _nt_fr(f.registration_type))
        if f.duration_years is not None:
            add(reg, NT_C["durationYears"], f'"{int(f.duration_years)}"^^<{XSD}integer>')

        for code, label in f.rome:
            node = node_of("rome", code)
            add(cert, NT_C["romeCode"], node)
            if label:
                add(node, NT_ALT, _nt_fr(label))
        for code, label in f.nsf:
            node = node_of("nsf", code)
            add(cert, NT_C["nsfCode"], node)
            if label and SUBSPECIALITY_RE.match(code):
                if node in self.shared:
                    continue
                try:  # lettered sub-specialities are not in the shipped nomenclature: mint them here
                    self.shared[node] = [(t.subject, t.predicate, t.object) for t in nsf_subspeciality_triples(u, code, label)]
                    continue
                except ValueError:
                    pass
            if label:
                add(node, NT_ALT, _nt_fr(label))
        for code, label in f.formacodes:
            node = node_of("formacode", code)
            add(cert, NT_C["formacode"], node)
            concept(node, "formacode", code, label)
        for number, label in f.idcc:
            node = node_of("idcc", number)
            add(cert, NT_C["conventionCollective"], node)
            concept(node, "idcc", number, label)

        names: dict[str, str] = {}

        def organisation(org) -> str:
            node = node_of("organisation", f"siret-{org.siret}" if org.siret else org.name)
            if node not in names:
                names[node] = org.name
                add(node, NT_TYPE, NT_C["Organisation"])
                add(node, NT_PREF, _nt_fr(org.name))
                if org.siret:
                    add(node, NT_C["siret"], _nt_str(org.siret))
            elif names[node] != org.name:
                add(node, NT_ALT, _nt_fr(org.name))  # one SIRET, two wordings: keep one prefLabel
            return node

        for org in f.certifiers:
            add(cert, NT_C["certifier"], organisation(org))
        for org in f.partners:
            node = organisation(org)
            add(cert, NT_C["partner"], node)
            link = f"<{u.partnership(n, org.siret or slugify(org.name))}>"
            add(cert, NT_C["partnership"], link)
            add(link, NT_TYPE, NT_C["Partnership"])
            add(link, NT_C["partnerOrganisation"], node)
            if org.habilitation:
                hab = node_of("habilitation", org.habilitation if _KEY_RE.match(org.habilitation)
                              else slugify(org.habilitation))
                add(link, NT_C["habilitationType"], hab)
                concept(hab, "habilitation", org.habilitation, HABILITATIONS.get(org.habilitation, org.habilitation))

        for access in f.access:
            node = f"<{u.access(n, access.route)}>"
            route = node_of("access_route", access.route)
            add(cert, NT_C["accessCondition"], node)
            add(node, NT_TYPE, NT_C["AccessCondition"])
            add(node, NT_C["route"], route)
            add(node, NT_C["isOpen"], NT_TRUE if access.is_open else NT_FALSE)
            if access.is_open:
                add(cert, NT_C["accessRoute"], route)
            if access.jury:
                add(node, NT_C["juryComposition"], _nt_fr(access.jury))
            concept(route, "voie-acces", access.route, ACCESS_ROUTES[access.route])

        index = 0
        cap_base = f"<{u.capacity(n, '')}"
        for bloc in f.blocs:
            node = f"<{u.bloc(bloc.code)}>"
            add(cert, NT_C["hasBlock"], node)
            add(node, NT_C["isBlockOf"], cert)
            add(node, NT_TYPE, NT_C["CompetenceBlock"])
            add(node, NT_NOTATION, _nt_str(bloc.code))
            if bloc.label:
                add(node, NT_PREF, _nt_fr(bloc.label))
            add(node, NT_C["blockNumber"], f'"{int(bloc.code.rsplit("BC", 1)[1])}"^^<{XSD}integer>')
            if bloc.evaluation:
                add(node, NT_C["evaluationMethod"], _nt_fr(bloc.evaluation))
            if bloc.competences_text:
                add(node, NT_C["competenceList"], _nt_fr(bloc.competences_text))
            for label in bloc.capacities:
                index += 1
                cap = f"{cap_base}C{index}>"
                add(node, NT_C["hasCapacity"], cap)
                add(cert, NT_C["hasCapacity"], cap)
                add(cap, NT_TYPE, NT_C["Capacity"])
                add(cap, NT_NOTATION, f'"C{index}"')
                add(cap, NT_PREF, _nt_fr(label))

        # Lineage, both directions in this fiche's graph: the data stays symmetric whichever fiches
        # of the chain an export holds.
        for old in f.replaces:
            other = f"<{u.certification(old)}>"
            add(cert, NT_C["replaces"], other)
            add(other, NT_C["isReplacedBy"], cert)
        for new in f.replaced_by:
            other = f"<{u.certification(new)}>"
            add(cert, NT_C["isReplacedBy"], other)
            add(other, NT_C["replaces"], cert)

        text = "".join(lines)
        # what the graph says whichever export it came from: an import skips a fiche whose graph has it
        digest = hashlib.sha1(text.replace(self._source_nt, "<>").encode("utf-8")).hexdigest()
        self.last_digest = digest
        graph = f"<{self.graph_iri(n)}>"
        # its size (these two lines included): the build's VoID reads it instead of counting the graph
        return (f'{text}{graph} {NT_C["contentDigest"]} "{digest}"{gt}'
                f'{graph} <{VOID}triples> "{len(lines) + 2}"^^<{XSD}integer>{gt}')

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
