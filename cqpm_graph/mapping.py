"""Map a parsed :class:`~cqpm_graph.model.Fiche` to RDF quads in its own named graph.

The output follows ``docs/data-model.md`` exactly (that file is the contract for shapes, queries and
the explorer): one named graph per source document, codes in ``skos:notation``, names in
``skos:prefLabel@fr``, other wordings in ``skos:altLabel@fr``, and for each extracted value an
``rdf:Statement`` carrying the raw source text it was read from.
"""
from __future__ import annotations

import pyoxigraph as ox

from .model import ACCESS_ROUTES, Fiche, Span
from .rdfterms import RDF_TYPE, QuadSink, iri, lit, typed
from .uris import CQPM, DCTERMS, PROV, SKOS, URIScheme

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"


def P(ns, local: str) -> ox.NamedNode:  # noqa: N802 - reads like a prefixed name
    return ox.NamedNode(str(ns) + local)


# Predicates used below, named like their prefixed names.
NOTATION, PREF, ALT, IN_SCHEME = P(SKOS, "notation"), P(SKOS, "prefLabel"), P(SKOS, "altLabel"), P(SKOS, "inScheme")
CONCEPT, SCHEME = P(SKOS, "Concept"), P(SKOS, "ConceptScheme")
IDENT, TITLE, SOURCE = P(DCTERMS, "identifier"), P(DCTERMS, "title"), P(DCTERMS, "source")
DERIVED, QUOTED = P(PROV, "wasDerivedFrom"), P(PROV, "wasQuotedFrom")
COMMENT = ox.NamedNode(RDFS + "comment")


def c(local: str) -> ox.NamedNode:
    """A ``cqpm:`` term."""
    return P(CQPM, local)


#: Labels of the certification types the fiches use (``type/<key>``).
CERTIFICATION_TYPES = {
    "CQPM": "Certificat de qualification paritaire de la métallurgie",
    "CQP": "Certificat de qualification professionnelle",
}

#: The two registers, as individuals of the ontology.
REGISTRIES = {"RNCP": c("RNCP"), "RS": c("RS")}


class FicheMapper:
    """Turn one fiche into quads of the named graph ``graph/fiche/<cert id>``.

    :param uris: the URI scheme (base from the settings).
    """

    def __init__(self, uris: URIScheme):
        self.uris = uris

    def graph_of(self, fiche: Fiche) -> str:
        """IRI of the fiche's named graph."""
        return str(self.uris.graph("fiche", fiche.cert_id))

    def source_of(self, fiche: Fiche) -> str:
        """IRI of the source document."""
        return str(self.uris.source("fiche", fiche.source_name.rsplit(".", 1)[0]))

    def map(self, fiche: Fiche) -> list[ox.Quad]:
        """All quads for *fiche*, in its named graph (see ``docs/data-model.md``)."""
        u = self.uris
        out = QuadSink(self.graph_of(fiche))
        source = iri(self.source_of(fiche))
        cert = iri(u.certification(fiche.cert_id))
        spans: list[tuple] = []  # (subject, predicate, object, Span)

        def fact(s, p, o, span: Span | None):
            out.add(s, p, o)
            if o is not None and span is not None:
                spans.append((s, p, o, span))

        out.add(cert, RDF_TYPE, c("Certification"))
        out.add(cert, IDENT, lit(fiche.cert_id))
        if fiche.number:
            fact(cert, NOTATION, lit(fiche.number), fiche.spans.get("number"))
        fact(cert, PREF, lit(fiche.title, "fr"), fiche.spans.get("title"))
        if fiche.short_title:
            out.add(cert, c("shortTitle"), lit(fiche.short_title, "fr"))
        if fiche.abbreviation:
            out.add(cert, c("abbreviation"), lit(fiche.abbreviation))
        if fiche.registry in REGISTRIES:
            out.add(cert, c("registry"), REGISTRIES[fiche.registry])
        if fiche.kind:
            kind = iri(u.certification_type(fiche.kind))
            out.add(cert, c("certificationType"), kind)
            self._concept(out, kind, "type", fiche.kind, CERTIFICATION_TYPES.get(fiche.kind, fiche.kind))
        if fiche.certifier:
            org = iri(u.organisation(fiche.certifier))
            fact(cert, c("certifier"), org, fiche.spans.get("certifier"))
            out.add(org, RDF_TYPE, c("Organisation"))
            out.add(org, PREF, lit(fiche.certifier, "fr"))
        if fiche.signatory:
            fact(cert, c("signatoryQuality"), lit(fiche.signatory, "fr"), fiche.spans.get("signatory"))
        for number, label in fiche.idcc:
            node = iri(u.idcc(number))
            out.add(cert, c("conventionCollective"), node)
            self._concept(out, node, "idcc", number, label)
        for code, label in fiche.nsf:
            node = iri(u.nsf(code))
            out.add(cert, c("nsfCode"), node)
            if label:
                # The wording the fiche prints; the reference label lives in graph/nsf.
                out.add(node, ALT, lit(label, "fr"))
        for code, label in fiche.rome:
            node = iri(u.rome(code))
            out.add(cert, c("romeCode"), node)
            if label:
                out.add(node, ALT, lit(label, "fr"))
        for code, label in fiche.formacodes:
            out.add(cert, c("formacode"), iri(u.formacode(code)))
        if fiche.summary:
            out.add(cert, c("summary"), lit(fiche.summary, "fr"))
        if fiche.sectors:
            out.add(cert, c("sectors"), lit(fiche.sectors, "fr"))
        for job in fiche.jobs:
            node = iri(u.job(job))
            out.add(cert, c("accessibleJob"), node)
            out.add(node, RDF_TYPE, c("Job"))
            out.add(node, PREF, lit(job, "fr"))

        for activity in fiche.activities:
            node = iri(u.activity(fiche.cert_id, activity.code))
            out.add(cert, c("hasActivity"), node)
            out.add(node, RDF_TYPE, c("Activity"))
            out.add(node, NOTATION, lit(activity.code))
            fact(node, PREF, lit(activity.label, "fr"), activity.spans.get("label"))

        for bloc in fiche.blocs:
            node = iri(u.bloc(bloc.code))
            out.add(cert, c("hasBlock"), node)
            out.add(node, c("isBlockOf"), cert)
            out.add(node, RDF_TYPE, c("CompetenceBlock"))
            out.add(node, NOTATION, lit(bloc.code))
            fact(node, PREF, lit(bloc.title, "fr"), bloc.spans.get("title"))
            out.add(node, c("blockNumber"), lit(bloc.number))
            if bloc.evaluation:
                out.add(node, c("evaluationMethod"), lit(bloc.evaluation, "fr"))
            for code in bloc.capacity_codes:
                out.add(node, c("hasCapacity"), iri(u.capacity(fiche.cert_id, code)))

        for cap in fiche.capacities:
            node = iri(u.capacity(fiche.cert_id, cap.code))
            out.add(cert, c("hasCapacity"), node)
            out.add(node, RDF_TYPE, c("Capacity"))
            out.add(node, NOTATION, lit(cap.code))
            fact(node, PREF, lit(cap.label, "fr"), cap.spans.get("label"))
            for i, alt in enumerate(cap.alt_labels):
                fact(node, ALT, lit(alt, "fr"), cap.spans.get("alt_label" if i == 0 else f"alt_label{i}"))
            if cap.condition:
                fact(node, c("realisationCondition"), lit(cap.condition, "fr"), cap.spans.get("condition"))
            for index, criterion in enumerate(cap.criteria, start=1):
                crit = iri(u.criterion(fiche.cert_id, cap.code, index))
                out.add(node, c("hasCriterion"), crit)
                out.add(crit, RDF_TYPE, c("EvaluationCriterion"))
                out.add(crit, NOTATION, lit(f"{cap.code}-{index}"))
                fact(crit, PREF, lit(criterion.label, "fr"), criterion.spans.get("label"))

        for access in fiche.access:
            node = iri(u.access(fiche.cert_id, access.route))
            route = iri(u.access_route(access.route))
            out.add(cert, c("accessCondition"), node)
            out.add(node, RDF_TYPE, c("AccessCondition"))
            out.add(node, c("route"), route)
            self._concept(out, route, "voie-acces", access.route, ACCESS_ROUTES[access.route])
            if access.is_open is not None:
                fact(node, c("isOpen"), lit(access.is_open), access.spans.get("is_open"))
                if access.is_open:
                    out.add(cert, c("accessRoute"), route)
            if access.jury:
                out.add(node, c("juryComposition"), lit(access.jury, "fr"))
        if fiche.new_caledonia is not None:
            fact(cert, c("accessibleInNewCaledonia"), lit(fiche.new_caledonia), fiche.spans.get("new_caledonia"))
        if fiche.french_polynesia is not None:
            fact(cert, c("accessibleInFrenchPolynesia"), lit(fiche.french_polynesia),
                 fiche.spans.get("french_polynesia"))
        if fiche.validity:
            fact(cert, c("componentValidity"), lit(fiche.validity, "fr"), fiche.spans.get("validity"))
        if fiche.validity_years is not None:
            out.add(cert, c("componentValidityYears"), lit(fiche.validity_years))
        if fiche.awards_per_year is not None:
            fact(cert, c("awardsPerYear"), lit(fiche.awards_per_year), fiche.spans.get("awards_per_year"))

        reg = fiche.registration
        if reg is not None:
            node = iri(u.registration(fiche.cert_id))
            out.add(cert, c("registration"), node)
            out.add(node, RDF_TYPE, c("Registration"))
            for field, prop, value in (
                ("decision", "decision", lit(reg.decision, "fr") if reg.decision else None),
                ("decision_date", "decisionDate", lit(reg.decision_date) if reg.decision_date else None),
                ("journal_officiel_date", "journalOfficielDate",
                 lit(reg.journal_officiel_date) if reg.journal_officiel_date else None),
                ("effective_date", "effectiveDate", lit(reg.effective_date) if reg.effective_date else None),
                ("end_date", "endDate", lit(reg.end_date) if reg.end_date else None),
                ("duration_years", "durationYears", lit(reg.duration_years) if reg.duration_years else None),
                ("registered_title", "registeredTitle",
                 lit(reg.registered_title, "fr") if reg.registered_title else None),
            ):
                fact(node, c(prop), value, reg.spans.get(field))

        hist = fiche.history
        if hist is not None:
            for field, prop, value in (
                ("cqpm_number", "cqpmNumber", lit(hist.cqpm_number) if hist.cqpm_number else None),
                ("gtp_number", "gtpNumber", lit(hist.gtp_number) if hist.gtp_number else None),
                ("validation_date", "validationDate", lit(hist.validation_date) if hist.validation_date else None),
                ("validation_year", "validationYear",
                 typed(str(hist.validation_year), "gYear") if hist.validation_year else None),
                ("validation_body", "validationBody",
                 lit(hist.validation_body, "fr") if hist.validation_body else None),
                ("revision_date", "revisionDate", lit(hist.revision_date) if hist.revision_date else None),
                ("category", "category", lit(hist.category) if hist.category else None),
                ("creation_year", "creationYear",
                 typed(str(hist.creation_year), "gYear") if hist.creation_year else None),
                ("text", "history", lit(hist.text, "fr") if hist.text else None),
            ):
                fact(cert, c(prop), value, hist.spans.get(field))

        # Provenance: the source document, its warnings, and the raw text behind each value.
        out.add(cert, DERIVED, source)
        out.add(source, RDF_TYPE, c("SourceDocument"))
        out.add(source, TITLE, lit(fiche.source_name))
        out.add(source, c("layout"), lit(fiche.layout))
        out.add(source, c("sha256"), lit(fiche.sha256))
        for n, warning in enumerate(fiche.warnings, start=1):
            w = iri(f"{self.source_of(fiche)}#warning-{n}")
            out.add(source, c("warning"), w)
            out.add(w, RDF_TYPE, c("ParseWarning"))
            out.add(w, c("warningCode"), lit(warning.code))
            out.add(w, COMMENT, lit(warning.message, "fr"))
            if warning.field:
                out.add(w, c("field"), lit(warning.field))
                out.add(w, c("concerns"), self._concerned(fiche, warning.field) or cert)
            if warning.span is not None:
                out.add(w, c("rawText"), lit(warning.span.text))
                out.add(w, c("line"), lit(warning.span.line))
        for n, (s, p, o, span) in enumerate(spans, start=1):
            st = iri(f"{self.source_of(fiche)}#span-{n}")
            out.add(st, RDF_TYPE, ox.NamedNode(RDF + "Statement"))
            out.add(st, ox.NamedNode(RDF + "subject"), s)
            out.add(st, ox.NamedNode(RDF + "predicate"), p)
            out.add(st, ox.NamedNode(RDF + "object"), o)
            out.add(st, c("rawText"), lit(span.text))
            out.add(st, c("startOffset"), lit(span.start))
            out.add(st, c("endOffset"), lit(span.end))
            if span.line:
                out.add(st, c("line"), lit(span.line))
            out.add(st, QUOTED, source)
        return out.quads

    def _concept(self, out: QuadSink, node, scheme: str, notation: str, label: str) -> None:
        scheme_node = iri(self.uris.scheme(scheme))
        out.add(node, RDF_TYPE, CONCEPT)
        out.add(node, IN_SCHEME, scheme_node)
        out.add(node, NOTATION, lit(notation))
        out.add(node, PREF, lit(label, "fr"))
        out.add(scheme_node, RDF_TYPE, SCHEME)

    def _concerned(self, fiche: Fiche, field: str):
        """The resource a warning's ``field`` names: ``capacities[C6]``, ``blocs[RNCP28242BC02]`` …"""
        if "[" in field and field.endswith("]"):
            kind, key = field[:-1].split("[", 1)
            if kind.startswith("capacit"):
                return iri(self.uris.capacity(fiche.cert_id, key))
            if kind.startswith("bloc"):
                return iri(self.uris.bloc(key))
            if kind.startswith("activit"):
                return iri(self.uris.activity(fiche.cert_id, key))
            if kind.startswith("access"):
                return iri(self.uris.access(fiche.cert_id, key))
        if field.startswith("registration"):
            return iri(self.uris.registration(fiche.cert_id))
        return None

