"""The data behind each explorer page, read from the store with SPARQL (see docs/data-model.md).

Every function takes the backend (:class:`cqpm_graph.backend.Backend`: the embedded store or a remote
SPARQL endpoint; a bare pyoxigraph store is accepted too) and the :class:`~cqpm_graph.uris.URIScheme` and returns
plain Python (``dict`` / ``list`` / ``str`` / ``int`` / ``bool`` / ``None``; dates as ISO strings), so the
same structure renders the HTML page and its JSON twin.

The queries are inline here until the stored-query catalogue (:mod:`cqpm_graph.queries`) settles; the
page sections map to catalogue queries by name: list → ``certifications``, identity →
``certification``, blocs → ``certification-blocs``, codes → ``certification-rome`` /
``certification-nsf``, jobs → ``certification-jobs``, activities → ``certification-activities``,
access → ``certification-access``, référentiel → ``capacity-criteria``, provenance → ``provenance``,
ROME / NSF pages → ``rome-certifications`` / ``nsf-certifications``, search →
``certifications-by-keyword``.
"""
from __future__ import annotations

import datetime
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

import pyoxigraph as ox

from cqpm_graph.backend import Backend, as_backend
from cqpm_graph.store import term_to_python
from cqpm_graph.uris import CQPM, DCTERMS, PREFIXES, PROV, SKOS, URIScheme

RDF = PREFIXES["rdf"]
RDFS = PREFIXES["rdfs"]
RDF_TYPE = RDF + "type"

PROLOGUE = "\n".join(f"PREFIX {k}: <{v}>" for k, v in PREFIXES.items()) + "\n"

# Predicates, as plain strings (keys of Resource.props).
P = {
    "type": RDF_TYPE,
    "notation": f"{SKOS}notation", "prefLabel": f"{SKOS}prefLabel", "altLabel": f"{SKOS}altLabel",
    "definition": f"{SKOS}definition", "broader": f"{SKOS}broader", "inScheme": f"{SKOS}inScheme",
    "identifier": f"{DCTERMS}identifier", "title": f"{DCTERMS}title", "source": f"{DCTERMS}source",
    "label": f"{RDFS}label", "comment": f"{RDFS}comment",
    "derivedFrom": f"{PROV}wasDerivedFrom",
}


def c(local: str) -> str:
    """Full IRI (str) of the ontology term ``cqpm:<local>``."""
    return f"{CQPM}{local}"


# -- small helpers ---------------------------------------------------------------------------------

def _iri(value: str) -> str:
    """``<value>`` for a SPARQL text, refusing characters that cannot be in an IRI."""
    if re.search(r'[\s<>"{}|\\^`]', value):
        raise ValueError(f"not an IRI: {value!r}")
    return f"<{value}>"


def _values(var: str, iris: Iterable[str]) -> str:
    return f"VALUES ?{var} {{ {' '.join(_iri(i) for i in iris)} }}"


def _solutions(store, sparql: str) -> list[dict[str, object]]:
    """Run a SELECT (union default graph) on a :class:`cqpm_graph.backend.Backend` (or a pyoxigraph
    store) and return rows of raw pyoxigraph terms."""
    return as_backend(store).solutions(PROLOGUE + sparql)[1]


def py(term):
    """A pyoxigraph term as JSON-friendly Python: :func:`cqpm_graph.store.term_to_python`, with dates
    as ISO ``str`` so that page data and their JSON twins stay plain JSON."""
    value = term_to_python(term)
    return value.isoformat() if isinstance(value, datetime.date) else value


def natural_key(text: str | None):
    """Sort key putting ``C2`` before ``C10`` and ``RNCP28229BC02`` before ``RNCP28229BC10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower())
            for part in re.findall(r"\d+|\D+", text or "")]


def _local(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


class Resource:
    """The triples of one subject: ``props[predicate IRI] -> [terms]`` (duplicates removed)."""

    def __init__(self, uri: str):
        self.uri = uri
        self.props: dict[str, list] = defaultdict(list)

    def add(self, pred: str, obj) -> None:
        """Record one ``(pred, obj)`` pair (ignored if already there)."""
        if obj not in self.props[pred]:
            self.props[pred].append(obj)

    def all(self, pred: str) -> list:
        """Every object of *pred*."""
        return self.props.get(pred, [])

    def iris(self, pred: str) -> list[str]:
        """The IRI objects of *pred*, as strings."""
        return [o.value for o in self.all(pred) if isinstance(o, ox.NamedNode)]

    def one(self, pred: str):
        """One object of *pred* as Python (a French literal first), or ``None``."""
        values = self.all(pred)
        if not values:
            return None
        return py(_prefer_fr(values))

    def texts(self, pred: str) -> list[str]:
        """All literal values of *pred* as strings, French (or untagged) ones first."""
        values = self.all(pred)
        values = sorted(values, key=lambda t: 0 if getattr(t, "language", None) in ("fr", None) else 1)
        return [py(v) for v in values]

    def label(self) -> str | None:
        """``skos:prefLabel`` (or ``rdfs:label``, ``dcterms:title``), French first."""
        for pred in (P["prefLabel"], P["label"], P["title"]):
            if self.all(pred):
                return self.one(pred)
        return None

    def code(self) -> str:
        """``skos:notation`` or, failing it, the last segment of the IRI."""
        return self.one(P["notation"]) or _local(self.uri)

    def has_type(self, cls: str) -> bool:
        """True when the resource has ``rdf:type`` *cls* (full IRI)."""
        return any(isinstance(t, ox.NamedNode) and t.value == cls for t in self.all(RDF_TYPE))


def _prefer_fr(values: list):
    for v in values:
        if isinstance(v, ox.Literal) and v.language == "fr":
            return v
    for v in values:
        if not (isinstance(v, ox.Literal) and v.language):
            return v
    return values[0]


def resources(store: Backend | ox.Store, iris: Iterable[str]) -> dict[str, Resource]:
    """Fetch every triple (any graph) whose subject is one of *iris*; returns ``{iri: Resource}``
    with an (empty) entry for each requested IRI."""
    iris = sorted({i for i in iris if i})
    out = {i: Resource(i) for i in iris}
    for start in range(0, len(iris), 200):
        chunk = iris[start:start + 200]
        # DISTINCT: the union default graph repeats a triple stated in several named graphs (a ROME code's
        # label printed by thousands of fiches: 6,800 rows instead of 69 at national scale)
        rows = _solutions(store, f"SELECT DISTINCT ?s ?p ?o WHERE {{ {_values('s', chunk)} ?s ?p ?o }}")
        for row in rows:
            out[row["s"].value].add(row["p"].value, row["o"])
    return out


# -- certification list (home) ---------------------------------------------------------------------

def list_certifications(store: Backend | ox.Store, uris: URIScheme) -> list[dict]:
    """Every certification: ``[{id, uri, title, short_title, type, type_label, registry, blocs,
    capacities, rome: [codes]}]`` sorted by identifier. Catalogue twin: ``certifications``."""
    rows = _solutions(store, """
        SELECT ?c ?id (SAMPLE(?t) AS ?title) (SAMPLE(?st) AS ?short) (SAMPLE(?tycode) AS ?type)
               (SAMPLE(?tylabel) AS ?typeLabel) (SAMPLE(?regcode) AS ?registry)
               (SAMPLE(?nb) AS ?blocs) (SAMPLE(?nc) AS ?capacities)
        WHERE {
          ?c a cqpm:Certification ; dcterms:identifier ?id .
          OPTIONAL { ?c skos:prefLabel ?t FILTER(lang(?t) IN ("fr", "")) }
          OPTIONAL { ?c cqpm:shortTitle ?st }
          OPTIONAL { ?c cqpm:certificationType ?ty .
                     OPTIONAL { ?ty skos:notation ?tycode } OPTIONAL { ?ty skos:prefLabel ?tylabel } }
          OPTIONAL { ?c cqpm:registry ?reg . OPTIONAL { ?reg skos:notation ?regcode } }
          OPTIONAL { SELECT ?c (COUNT(DISTINCT ?b) AS ?nb) WHERE { ?c cqpm:hasBlock ?b } GROUP BY ?c }
          OPTIONAL { SELECT ?c (COUNT(DISTINCT ?k) AS ?nc) WHERE { ?c cqpm:hasCapacity ?k } GROUP BY ?c }
        } GROUP BY ?c ?id""")
    rome = defaultdict(list)
    for row in _solutions(store, """
            SELECT DISTINCT ?c ?code WHERE { ?c a cqpm:Certification ; cqpm:romeCode ?r .
                                             OPTIONAL { ?r skos:notation ?n } BIND(COALESCE(?n, "") AS ?code) }"""):
        code = py(row.get("code")) or ""
        rome[row["c"].value].append(code)
    out = []
    for row in rows:
        uri = row["c"].value
        out.append({
            "id": py(row["id"]), "uri": uri,
            "title": py(row.get("title")) or py(row["id"]),
            "short_title": py(row.get("short")),
            "type": py(row.get("type")), "type_label": py(row.get("typeLabel")),
            "registry": py(row.get("registry")),
            "blocs": py(row.get("blocs")) or 0, "capacities": py(row.get("capacities")) or 0,
            "rome": sorted(c for c in rome.get(uri, []) if c),
        })
    out.sort(key=lambda r: natural_key(r["id"]))
    return out


def statistics(store: Backend | ox.Store) -> dict:
    """Counts for the home page: ``{certifications, blocs, capacities, jobs, rome, nsf}``."""
    counts = {}
    for key, pattern in (("certifications", "?x a cqpm:Certification"), ("blocs", "?x a cqpm:CompetenceBlock"),
                         ("capacities", "?x a cqpm:Capacity"), ("jobs", "?x a cqpm:Job"),
                         ("rome", "?c cqpm:romeCode ?x"), ("nsf", "?c cqpm:nsfCode ?x")):
        rows = _solutions(store, f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ {pattern} }}")
        counts[key] = py(rows[0]["n"]) if rows else 0
    return counts


# -- one certification -----------------------------------------------------------------------------

def find_certification(store: Backend | ox.Store, uris: URIScheme, cert_id: str) -> tuple[str, str] | None:
    """Resolve a page id (``RNCP28229``, ``rncp28229``, ``CQPM-…``) to ``(uri, canonical id)``."""
    candidates = [cert_id]
    if cert_id.upper() != cert_id:
        candidates.append(cert_id.upper())
    for candidate in candidates:
        key = str(ox.Literal(candidate))  # N-Triples escaping is valid SPARQL
        # VALUES first: pyoxigraph then looks the key up (0.3 ms) instead of joining every certification
        # with the UNION (140 ms at national scale)
        rows = _solutions(store, f"""
            SELECT ?c ?id WHERE {{ VALUES ?key {{ {key} }} {{ ?c dcterms:identifier ?key }} UNION {{ ?c skos:notation ?key }}
                                   ?c a cqpm:Certification ; dcterms:identifier ?id . }} LIMIT 1""")
        if rows:
            return rows[0]["c"].value, py(rows[0]["id"])
    uri = str(uris.certification(cert_id))
    res = resources(store, [uri])[uri]
    if res.has_type(c("Certification")):
        return uri, res.one(P["identifier"]) or cert_id
    return None


def _concept_ref(res: Resource | None, uri: str, fiche_res: Resource | None = None) -> dict:
    """``{uri, code, label, fiche_label}`` for a nomenclature concept (label from the reference scheme,
    ``fiche_label`` = the wording the fiche prints when it differs)."""
    res = res or Resource(uri)
    label = res.label()
    alts = [a for a in res.texts(P["altLabel"]) if a != label]
    return {"uri": uri, "code": res.code(), "label": label or (alts[0] if alts else None),
            "fiche_label": alts[0] if (alts and label) else None}


def _capacity(res: Resource, rs: dict[str, Resource]) -> dict:
    label = res.label()
    criteria = []
    for crit_uri in res.iris(c("hasCriterion")):
        crit = rs.get(crit_uri) or Resource(crit_uri)
        criteria.append({"uri": crit_uri, "code": crit.one(P["notation"]), "label": crit.label()})
    criteria.sort(key=lambda k: natural_key(k["code"] or k["uri"]))
    return {
        "uri": res.uri, "code": res.one(P["notation"]), "label": label,
        "alt_labels": [a for a in res.texts(P["altLabel"]) if a != label],
        "condition": res.one(c("realisationCondition")),
        "criteria": criteria,
    }


ROUTE_ORDER = ("formation-initiale", "apprentissage", "formation-continue", "contrat-professionnalisation",
               "candidature-individuelle", "vae")


def certification(store: Backend | ox.Store, uris: URIScheme, cert_id: str,
                  found: tuple[str, str] | None = None) -> dict | None:
    """Everything the certification page shows, or ``None`` for an unknown id.

    :param found: ``(uri, canonical id)`` when the caller has resolved *cert_id* already (the explorer
        index does it without SPARQL); else :func:`find_certification`.

    Shape (keys always present; missing values are ``None`` or empty lists)::

        {id, uri, notation, title, short_title, abbreviation, type{uri,code,label},
         registry{uri,code,label}, certifiers[{uri,label}], signatory, idcc[{uri,code,label}],
         summary, sectors, history,
         blocs[{uri, code, number, title, evaluation, capacities[capacity]}],
         capacities[capacity + {bloc}], referentiel (bool: conditions/criteria or capacities
         outside any bloc), activities[{uri,code,label}], rome[concept], nsf[concept],
         formacode[concept], jobs[{uri,label}], access[{route{uri,code,label}, open, jury}],
         open_routes[{uri,code,label}], territories{new_caledonia, french_polynesia},
         validity{text, years}, registration{…}|None, statistics{awards_per_year},
         cqpm{number, gtp_number, validation_date, validation_year, validation_body, revision_date,
              category, creation_year}, replaces[{uri,id,title}], replaced_by[…],
         provenance{graphs[{uri, triples, source, sha256, files}], sources[{uri, title, layout, sha256,
                    warnings[{code, field, comment, concerns}]}], extracts[{property, raw_text, line}]}}

    where a capacity is ``{uri, code, label, alt_labels, condition, criteria[{uri,code,label}]}`` and a
    concept ``{uri, code, label, fiche_label}``.
    """
    if found is None:
        found = find_certification(store, uris, cert_id)
    if found is None:
        return None
    uri, canonical = found
    cert = resources(store, [uri])[uri]

    linked_preds = ["hasBlock", "hasCapacity", "hasActivity", "accessibleJob", "accessCondition", "registration",
                    "certifier", "certificationType", "registry", "conventionCollective", "nsfCode", "romeCode",
                    "formacode", "accessRoute", "replaces", "isReplacedBy"]
    linked = {i for p in linked_preds for i in cert.iris(c(p))} | set(cert.iris(P["derivedFrom"]))
    rs = resources(store, linked)
    second = set()
    for res in rs.values():
        second.update(res.iris(c("hasCapacity")))
        second.update(res.iris(c("hasCriterion")))
        second.update(res.iris(c("route")))
    rs.update(resources(store, second - rs.keys()))
    third = {i for u in second for i in rs[u].iris(c("hasCriterion"))} - rs.keys()
    if third:
        rs.update(resources(store, third))

    def get(u: str) -> Resource:
        return rs.get(u) or Resource(u)

    def concept(u: str) -> dict:
        return _concept_ref(get(u), u)

    # blocs and capacities
    blocs, in_bloc = [], {}
    for b in cert.iris(c("hasBlock")):
        res = get(b)
        caps = [_capacity(get(k), rs) for k in res.iris(c("hasCapacity"))]
        caps.sort(key=lambda k: natural_key(k["code"] or k["uri"]))
        code = res.one(P["notation"]) or _local(b)
        for k in caps:
            in_bloc[k["uri"]] = code
        blocs.append({"uri": b, "code": code, "number": res.one(c("blockNumber")), "title": res.label(),
                      "evaluation": res.one(c("evaluationMethod")), "capacities": caps})
    blocs.sort(key=lambda b: (b["number"] if isinstance(b["number"], int) else 10**6, natural_key(b["code"])))
    capacities = []
    cap_uris = list(dict.fromkeys(cert.iris(c("hasCapacity")) + list(in_bloc)))
    for k in cap_uris:
        cap = _capacity(get(k), rs)
        cap["bloc"] = in_bloc.get(k)
        capacities.append(cap)
    capacities.sort(key=lambda k: natural_key(k["code"] or k["uri"]))
    referentiel = any(k["condition"] or k["criteria"] or not k["bloc"] for k in capacities)

    activities = [{"uri": a, "code": get(a).one(P["notation"]), "label": get(a).label()}
                  for a in cert.iris(c("hasActivity"))]
    activities.sort(key=lambda a: natural_key(a["code"] or a["uri"]))
    jobs = sorted(({"uri": j, "label": get(j).label() or _local(j)} for j in cert.iris(c("accessibleJob"))),
                  key=lambda j: j["label"].lower())

    access = []
    for a in cert.iris(c("accessCondition")):
        res = get(a)
        route_uri = (res.iris(c("route")) or [None])[0]
        route = concept(route_uri) if route_uri else {"uri": None, "code": _local(a), "label": _local(a)}
        is_open = res.one(c("isOpen"))
        access.append({"uri": a, "route": route, "open": is_open if isinstance(is_open, bool) else None,
                       "jury": res.one(c("juryComposition"))})
    access.sort(key=lambda x: (ROUTE_ORDER.index(x["route"]["code"]) if x["route"]["code"] in ROUTE_ORDER
                               else len(ROUTE_ORDER), x["route"]["label"] or ""))

    registration = None
    reg_uris = cert.iris(c("registration"))
    if reg_uris:
        reg = get(reg_uris[0])
        registration = {
            "uri": reg.uri, "decision": reg.one(c("decision")), "decision_date": reg.one(c("decisionDate")),
            "journal_officiel_date": reg.one(c("journalOfficielDate")),
            "effective_date": reg.one(c("effectiveDate")), "end_date": reg.one(c("endDate")),
            "duration_years": reg.one(c("durationYears")), "registered_title": reg.one(c("registeredTitle")),
            "registration_type": reg.one(c("registrationType")),
        }

    def cert_ref(u: str) -> dict:
        res = get(u)
        return {"uri": u, "id": res.one(P["identifier"]) or _local(u), "title": res.label()}

    type_uri = (cert.iris(c("certificationType")) or [None])[0]
    registry_uri = (cert.iris(c("registry")) or [None])[0]
    data = {
        "id": canonical, "uri": uri, "notation": cert.one(P["notation"]),
        "title": cert.label() or canonical, "short_title": cert.one(c("shortTitle")),
        "abbreviation": cert.one(c("abbreviation")),
        "type": concept(type_uri) if type_uri else None,
        "registry": concept(registry_uri) if registry_uri else None,
        "certifiers": [{"uri": o, "label": get(o).label() or _local(o)} for o in cert.iris(c("certifier"))],
        "signatory": cert.one(c("signatoryQuality")),
        "idcc": sorted((concept(u) for u in cert.iris(c("conventionCollective"))), key=lambda x: natural_key(x["code"])),
        "summary": cert.one(c("summary")), "sectors": cert.one(c("sectors")), "history": cert.one(c("history")),
        "blocs": blocs, "capacities": capacities, "referentiel": referentiel,
        "activities": activities,
        "rome": sorted((concept(u) for u in cert.iris(c("romeCode"))), key=lambda x: natural_key(x["code"])),
        "nsf": sorted((concept(u) for u in cert.iris(c("nsfCode"))), key=lambda x: natural_key(x["code"])),
        "formacode": sorted((concept(u) for u in cert.iris(c("formacode"))), key=lambda x: natural_key(x["code"])),
        "jobs": jobs, "access": access,
        "open_routes": [concept(u) for u in cert.iris(c("accessRoute"))],
        "territories": {"new_caledonia": _bool(cert.one(c("accessibleInNewCaledonia"))),
                        "french_polynesia": _bool(cert.one(c("accessibleInFrenchPolynesia")))},
        "validity": {"text": cert.one(c("componentValidity")), "years": cert.one(c("componentValidityYears"))},
        "registration": registration,
        "statistics": {"awards_per_year": cert.one(c("awardsPerYear"))},
        "cqpm": {"number": cert.one(c("cqpmNumber")), "gtp_number": cert.one(c("gtpNumber")),
                 "validation_date": cert.one(c("validationDate")), "validation_year": cert.one(c("validationYear")),
                 "validation_body": cert.one(c("validationBody")), "revision_date": cert.one(c("revisionDate")),
                 "category": cert.one(c("category")), "creation_year": cert.one(c("creationYear"))},
        "replaces": [cert_ref(u) for u in cert.iris(c("replaces"))],
        "replaced_by": [cert_ref(u) for u in cert.iris(c("isReplacedBy"))],
    }
    refs = [u for p in ("romeCode", "nsfCode", "formacode", "conventionCollective", "certificationType", "registry")
            for u in cert.iris(c(p))]
    data["provenance"] = provenance(store, uri, refs, cert.iris(P["derivedFrom"]), rs)
    return data


def _bool(value):
    return value if isinstance(value, bool) else None


def provenance(store: Backend | ox.Store, cert_uri: str, reference_uris: list[str], source_uris: list[str],
               rs: dict[str, Resource] | None = None) -> dict:
    """Where a certification's triples come from.

    :param reference_uris: nomenclature concepts the certification uses (ROME, NSF, IDCC…), whose labels
        come from reference graphs.
    :returns: ``{graphs: [{uri, role, triples, source, sha256, files}], sources: [{uri, title, layout,
        sha256, files, warnings: [{code, field, comment, concerns}]}], extracts: [{property, raw_text,
        line}]}``. ``graphs`` are the named graphs stating the certification (role ``"fiche"``) and those
        labelling its codes (role ``"référence"``); ``triples`` (size of the graph), source and checksum
        come from ``graph/build``.
    """
    rs = rs or {}
    roles: dict[str, str] = {}
    for row in _solutions(store, f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ {_iri(cert_uri)} ?p ?o }} }}"):
        roles[row["g"].value] = "fiche"
    refs = sorted({u for u in reference_uris if u})
    if refs:
        # reference graphs only: a fiche graph that also labels a shared code is not a source for it
        for row in _solutions(store, f"""SELECT DISTINCT ?g WHERE {{ {_values('x', refs)}
                                          GRAPH ?g {{ ?x skos:prefLabel|rdfs:label ?l }}
                                          FILTER NOT EXISTS {{ GRAPH ?g {{ ?any a cqpm:Certification }} }} }}"""):
            roles.setdefault(row["g"].value, "référence")
    graphs = []
    if roles:
        described = {}
        for row in _solutions(store, f"""
                SELECT ?g (SAMPLE(?src0) AS ?src) (SAMPLE(?sha0) AS ?sha) (SAMPLE(?n0) AS ?n)
                       (GROUP_CONCAT(DISTINCT ?file; separator="\\n") AS ?files) WHERE {{
                  {_values('g', roles)}
                  OPTIONAL {{ ?g prov:wasDerivedFrom ?src0 .
                             OPTIONAL {{ ?src0 cqpm:sha256 ?sha0 }} OPTIONAL {{ ?src0 dcterms:source ?file }} }}
                  OPTIONAL {{ ?g void:triples ?n0 }}
                }} GROUP BY ?g"""):
            described[row["g"].value] = {
                "source": py(row.get("src")), "sha256": py(row.get("sha")), "triples": py(row.get("n")),
                "files": sorted(f for f in (py(row.get("files")) or "").split("\n") if f)}
        for g, role in roles.items():
            info = described.get(g) or {"source": None, "sha256": None, "triples": None, "files": []}
            graphs.append({"uri": g, "role": role, **info})
        graphs.sort(key=lambda g: (g["role"] != "fiche", g["uri"]))

    sources = []
    if source_uris:
        srcs = {u: rs.get(u) for u in source_uris}
        missing = [u for u, r in srcs.items() if r is None]
        if missing:
            srcs.update(resources(store, missing))
        warnings = defaultdict(list)
        for row in _solutions(store, f"""
                SELECT ?src ?w ?code ?field ?comment ?concerns WHERE {{
                  {_values('src', source_uris)} ?src cqpm:warning ?w .
                  OPTIONAL {{ ?w cqpm:warningCode ?code }} OPTIONAL {{ ?w cqpm:field ?field }}
                  OPTIONAL {{ ?w rdfs:comment ?comment }} OPTIONAL {{ ?w cqpm:concerns ?concerns }} }}"""):
            warnings[row["src"].value].append({
                "code": py(row.get("code")), "field": py(row.get("field")),
                "comment": py(row.get("comment")), "concerns": py(row.get("concerns"))})
        for u in source_uris:
            res = srcs[u]
            ws = sorted(warnings.get(u, []), key=lambda w: (w["code"] or "", natural_key(w["field"])))
            sources.append({"uri": u, "title": res.one(P["title"]), "layout": res.one(c("layout")),
                            "sha256": res.one(c("sha256")), "files": res.texts(P["source"]), "warnings": ws})

    extracts = []
    for row in _solutions(store, f"""
            SELECT ?p ?raw ?line WHERE {{ ?st rdf:subject {_iri(cert_uri)} ; rdf:predicate ?p ; cqpm:rawText ?raw .
                                          OPTIONAL {{ ?st cqpm:line ?line }} }} ORDER BY ?line LIMIT 200"""):
        extracts.append({"property": _compact(row["p"].value), "raw_text": py(row["raw"]),
                         "line": py(row.get("line"))})
    return {"graphs": graphs, "sources": sources, "extracts": extracts}


def _compact(iri: str) -> str:
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


# -- nomenclature concepts (ROME, NSF) -------------------------------------------------------------

SCHEMES = {"rome": "romeCode", "nsf": "nsfCode"}


def concept_page(store: Backend | ox.Store, uris: URIScheme, scheme: str, code: str,
                 certifications: bool = True) -> dict | None:
    """A ROME or NSF concept and the certifications that lead to it, or ``None`` when unknown.

    :param scheme: ``"rome"`` or ``"nsf"``.
    :param certifications: ``False``: leave out the certifications (``[]``) and the numbers of
        certifications of the narrower concepts (``None``) — the explorer index gives them, paginated
        (:mod:`cqpm_graph.webapp.directory`); the concept is then ``None`` when the graph does not describe it.
    :returns: ``{scheme, uri, code, label, definition, fiche_labels, ancestors[{uri,code,label}] (top
        first), narrower[{uri,code,label,certifications}], appellations[{uri,code,label}],
        competences[{uri,code,label,item_type}], certifications[{id, uri, title, via[codes]}]}``;
        ``certifications`` include those coded with a narrower concept (``via`` names the codes).
        Catalogue twin: ``rome-certifications`` / ``nsf-certifications``.
    """
    uri = str(uris.rome(code) if scheme == "rome" else uris.nsf(code))
    res = resources(store, [uri])[uri]
    link = c(SCHEMES[scheme])
    cert_rows = _solutions(store, f"""
        SELECT ?cert ?id ?title ?x ?xcode WHERE {{
          ?x skos:broader* {_iri(uri)} . ?cert cqpm:{SCHEMES[scheme]} ?x ; dcterms:identifier ?id .
          OPTIONAL {{ ?cert skos:prefLabel ?title FILTER(lang(?title) IN ("fr", "")) }}
          OPTIONAL {{ ?x skos:notation ?xcode }} }}""") if certifications else []
    if not res.props and not cert_rows:
        return None
    label = res.label()
    ancestors = []
    for row in _solutions(store, f"""
            SELECT DISTINCT ?a ?code ?label WHERE {{ {_iri(uri)} skos:broader+ ?a .
              OPTIONAL {{ ?a skos:notation ?code }} OPTIONAL {{ ?a skos:prefLabel ?label FILTER(lang(?label) IN ("fr", "")) }} }}"""):
        ancestors.append({"uri": row["a"].value, "code": py(row.get("code")) or _local(row["a"].value),
                          "label": py(row.get("label"))})
    ancestors.sort(key=lambda a: len(a["code"]))
    narrower, appellations = [], []
    counts = defaultdict(set)
    for row in cert_rows:
        counts[row["x"].value].add(row["cert"].value)
    for row in _solutions(store, f"""
            SELECT DISTINCT ?n ?code ?label ?appellation WHERE {{ ?n skos:broader {_iri(uri)} .
              OPTIONAL {{ ?n skos:notation ?code }} OPTIONAL {{ ?n skos:prefLabel ?label FILTER(lang(?label) IN ("fr", "")) }}
              BIND(EXISTS {{ ?n a cqpm:RomeAppellation }} AS ?appellation) }}"""):
        n = row["n"].value
        item = {"uri": n, "code": py(row.get("code")) or _local(n), "label": py(row.get("label"))}
        if py(row.get("appellation")):
            appellations.append(item)
        elif not certifications:
            item["certifications"] = None
            narrower.append(item)
        else:
            below = _solutions(store, f"""SELECT (COUNT(DISTINCT ?cert) AS ?k) WHERE {{
                ?x skos:broader* {_iri(n)} . ?cert {_iri(link)} ?x }}""")
            item["certifications"] = py(below[0]["k"]) if below else 0
            narrower.append(item)
    narrower.sort(key=lambda x: natural_key(x["code"]))
    appellations.sort(key=lambda x: (x["label"] or "").lower())
    competences = []
    for row in _solutions(store, f"""
            SELECT DISTINCT ?k ?code ?label ?type WHERE {{ {_iri(uri)} cqpm:romeCompetence ?k .
              OPTIONAL {{ ?k skos:notation ?code }} OPTIONAL {{ ?k skos:prefLabel ?label FILTER(lang(?label) IN ("fr", "")) }}
              OPTIONAL {{ ?k cqpm:itemType ?type }} }}"""):
        competences.append({"uri": row["k"].value, "code": py(row.get("code")), "label": py(row.get("label")),
                            "item_type": py(row.get("type"))})
    competences.sort(key=lambda x: (x["item_type"] or "", (x["label"] or "").lower()))
    certs: dict[str, dict] = {}
    for row in cert_rows:
        entry = certs.setdefault(row["cert"].value, {"id": py(row["id"]), "uri": row["cert"].value,
                                                     "title": py(row.get("title")) or py(row["id"]), "via": []})
        via = py(row.get("xcode")) or _local(row["x"].value)
        if via not in entry["via"]:
            entry["via"].append(via)
    alts = [a for a in res.texts(P["altLabel"]) if a != label]
    return {
        "scheme": scheme, "uri": uri, "code": res.one(P["notation"]) or code,
        "label": label or (alts[0] if alts else None), "definition": res.one(P["definition"]),
        "fiche_labels": alts, "ancestors": ancestors, "narrower": narrower, "appellations": appellations,
        "competences": competences,
        "certifications": sorted(certs.values(), key=lambda x: natural_key(x["id"])),
    }


def concept_index(store: Backend | ox.Store, uris: URIScheme, scheme: str) -> dict:
    """The browse page of ROME or NSF: ``{scheme, used[{uri, code, label, certifications}],
    top[{uri, code, label}]}`` — codes the certifications use (with how many) and the top level of
    the nomenclature."""
    link = SCHEMES[scheme]
    used = []
    for row in _solutions(store, f"""
            SELECT ?x (SAMPLE(?code) AS ?c) (SAMPLE(?label) AS ?l) (COUNT(DISTINCT ?cert) AS ?n) WHERE {{
              ?cert a cqpm:Certification ; cqpm:{link} ?x .
              OPTIONAL {{ ?x skos:notation ?code }} OPTIONAL {{ ?x skos:prefLabel ?label FILTER(lang(?label) IN ("fr", "")) }}
            }} GROUP BY ?x"""):
        x = row["x"].value
        used.append({"uri": x, "code": py(row.get("c")) or _local(x), "label": py(row.get("l")),
                     "certifications": py(row["n"])})
    used.sort(key=lambda x: natural_key(x["code"]))
    return {"scheme": scheme, "used": used, "top": concept_top(store, uris, scheme)}


def concept_top(store: Backend | ox.Store, uris: URIScheme, scheme: str) -> list[dict]:
    """The top level of the ROME or NSF scheme (concepts without ``skos:broader``): ``[{uri, code, label}]``."""
    top = []
    # MINUS, not FILTER NOT EXISTS: oxigraph evaluates the latter per concept (42 ms against 8 ms for ROME)
    for row in _solutions(store, f"""
            SELECT DISTINCT ?t ?code ?label WHERE {{
              {{ ?t skos:inScheme {_iri(str(uris.scheme(scheme)))} MINUS {{ ?t skos:broader ?b }} }}
              OPTIONAL {{ ?t skos:notation ?code }} OPTIONAL {{ ?t skos:prefLabel ?label FILTER(lang(?label) IN ("fr", "")) }}
            }}"""):
        t = row["t"].value
        top.append({"uri": t, "code": py(row.get("code")) or _local(t), "label": py(row.get("label"))})
    top.sort(key=lambda x: natural_key(x["code"]))
    return top


def empty_concept(scheme: str, uri: str, code: str) -> dict:
    """The page of a code the certifications state but the graph does not describe (no label)."""
    return {"scheme": scheme, "uri": uri, "code": code, "label": None, "definition": None, "fiche_labels": [],
            "ancestors": [], "narrower": [], "appellations": [], "competences": [], "certifications": []}


# -- keyword search --------------------------------------------------------------------------------

KIND_LABELS = {
    "id": "numéro", "title": "intitulé", "bloc": "bloc de compétences", "capacity": "capacité professionnelle",
    "activity": "activité visée", "job": "emploi accessible", "rome": "code ROME", "nsf": "code NSF",
}
KIND_WEIGHT = {"id": 10, "title": 8, "job": 5, "bloc": 4, "rome": 3, "capacity": 2, "activity": 2}


def fold(text: str) -> tuple[str, list[int]]:
    """Lower-case, accent-free version of *text*, with the index in *text* of each folded character."""
    out, index = [], []
    for i, ch in enumerate(text):
        folded = "".join(x for x in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(x)).lower()
        folded = folded.replace("\u2019", "'").replace("œ", "oe").replace("æ", "ae")
        for x in folded:
            out.append(x)
            index.append(i)
    return "".join(out), index


def tokens(q: str) -> list[str]:
    """Search words of *q*, folded (accents and case ignored); one-letter words dropped."""
    words = re.findall(r"\w+", fold(q)[0])
    return [w for w in words if len(w) > 1 or w.isdigit()]


def highlight(text: str, words: list[str]) -> list[tuple[str, bool]]:
    """Split *text* into ``(segment, matched)`` pairs marking where the folded *words* occur."""
    folded, index = fold(text)
    marks = [False] * len(text)
    for w in words:
        for m in re.finditer(re.escape(w), folded):
            for k in range(m.start(), m.end()):
                marks[index[k]] = True
    segments: list[tuple[str, bool]] = []
    for ch, mark in zip(text, marks):
        if segments and segments[-1][1] == mark:
            segments[-1] = (segments[-1][0] + ch, mark)
        else:
            segments.append((ch, mark))
    return segments


def search(store: Backend | ox.Store, uris: URIScheme, q: str, limit: int = 100) -> dict:
    """Keyword search over certification numbers, titles, blocs, capacities, activities, job titles and
    ROME codes. Every word must occur (accents and case ignored) in the same text.

    :returns: ``{q, words, results: [{id, uri, title, score, matches: [{kind, kind_label, code, text,
        segments[(text, matched)]}]}]}`` best first; at most *limit* certifications.
    """
    words = tokens(q)
    if not words:
        return {"q": q, "words": [], "results": []}
    rows = _solutions(store, """
        SELECT ?c ?id ?title ?kind ?code ?text WHERE {
          ?c a cqpm:Certification ; dcterms:identifier ?id .
          OPTIONAL { ?c skos:prefLabel ?title FILTER(lang(?title) IN ("fr", "")) }
          { ?c dcterms:identifier ?text BIND("id" AS ?kind) }
          UNION { ?c skos:prefLabel|cqpm:shortTitle ?text BIND("title" AS ?kind) }
          UNION { ?c cqpm:hasBlock ?x . ?x skos:prefLabel ?text . OPTIONAL { ?x skos:notation ?code } BIND("bloc" AS ?kind) }
          UNION { ?c cqpm:hasCapacity ?x . ?x skos:prefLabel|skos:altLabel ?text . OPTIONAL { ?x skos:notation ?code } BIND("capacity" AS ?kind) }
          UNION { ?c cqpm:hasActivity ?x . ?x skos:prefLabel ?text . OPTIONAL { ?x skos:notation ?code } BIND("activity" AS ?kind) }
          UNION { ?c cqpm:accessibleJob ?x . ?x skos:prefLabel ?text BIND("job" AS ?kind) }
          UNION { ?c cqpm:romeCode ?x . ?x skos:notation ?code . ?x skos:prefLabel ?label
                  FILTER(lang(?label) IN ("fr", "")) BIND(CONCAT(?code, " ", STR(?label)) AS ?text) BIND("rome" AS ?kind) }
        }""")
    hits: dict[str, dict] = {}
    for row in rows:
        text = py(row["text"])
        if not isinstance(text, str):
            continue
        folded = fold(text)[0]
        if not all(w in folded for w in words):
            continue
        uri = row["c"].value
        hit = hits.setdefault(uri, {"id": py(row["id"]), "uri": uri, "title": py(row.get("title")) or py(row["id"]),
                                    "score": 0, "matches": [], "_seen": set()})
        kind = py(row["kind"])
        key = (kind, text)
        if key in hit["_seen"]:
            continue
        hit["_seen"].add(key)
        hit["score"] += KIND_WEIGHT.get(kind, 1)
        hit["matches"].append({"kind": kind, "kind_label": KIND_LABELS.get(kind, kind), "code": py(row.get("code")),
                               "text": text, "segments": highlight(text, words)})
    results = []
    for hit in hits.values():
        hit.pop("_seen")
        hit["matches"].sort(key=lambda m: (-KIND_WEIGHT.get(m["kind"], 1), natural_key(m["code"])))
        results.append(hit)
    results.sort(key=lambda h: (-h["score"], natural_key(h["id"])))
    return {"q": q, "words": words, "results": results[:limit]}


def today() -> str:
    """Today's date (ISO), to flag registrations that have ended."""
    return datetime.date.today().isoformat()
