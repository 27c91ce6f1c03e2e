"""Linked Open Data: resource descriptions, content negotiation, schema.org JSON-LD, VoID / DCAT,
dumps and the ontology documentation. Views live in :mod:`.views.lod`; this module has no routes.

How a data URI resolves (see ``docs/linked-data.md``)
-----------------------------------------------------
* ``/id/<kind>/<local>`` — the *thing* (when ``CQPM_BASE_URI`` is ``http(s)://host/id/``, every data
  URI is literally this path): **303 See Other** to its document, ``/<kind>/<local>`` (HTML) or
  ``/<kind>/<local>?format=ttl`` (etc.) according to ``Accept`` / ``?format=``.
* ``/<kind>/<local>`` — the *document*: HTML (with schema.org JSON-LD embedded) or RDF, chosen by
  ``?format=`` (wins) or ``Accept``; answers carry ``Vary: Accept`` and ``Content-Location``.

RDF content of a resource: its triples as subject (every named graph), the triples of blank nodes it
points to, and the labels (``skos:prefLabel``, ``rdfs:label``, ``dcterms:title``, ``skos:notation``) of
the IRIs it points to. Quad formats (N-Quads, TriG) keep the named graph of each triple; for a named
graph itself (``/graph/…``) they also hold the whole graph.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from cqpm_graph.digest import sha256_file
from cqpm_graph.uris import KINDS, PREFIXES, URIScheme

RDF_TYPE = PREFIXES["rdf"] + "type"
SKOS = PREFIXES["skos"]
DCTERMS = PREFIXES["dcterms"]
RDFS = PREFIXES["rdfs"]
SCHEMA_ORG = "https://schema.org"
XSD_INTEGER = ox.NamedNode(PREFIXES["xsd"] + "integer")
LABEL_PREDICATES = (SKOS + "prefLabel", RDFS + "label", DCTERMS + "title", "https://schema.org/name")
LICENCE = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
LICENCE_LABEL = "Licence Ouverte / Open Licence version 2.0 (Etalab)"

#: Prefixes of the published JSON-LD context (``/context.jsonld``) and of Turtle / TriG answers.
CONTEXT_PREFIXES = dict(PREFIXES, dcat="http://www.w3.org/ns/dcat#", foaf="http://xmlns.com/foaf/0.1/",
                        sd="http://www.w3.org/ns/sparql-service-description#",
                        spdx="http://spdx.org/rdf/terms#")


@dataclass(frozen=True)
class RdfFormat:
    """One RDF serialisation offered for resources: media type, ``?format=`` names, file extension."""

    media_type: str
    names: tuple[str, ...]
    ext: str
    ox_format: ox.RdfFormat
    dataset: bool = False
    label: str = ""

    @property
    def content_type(self) -> str:
        """``Content-Type`` header value."""
        textual = self.media_type.startswith("text/") or self.media_type in (
            "application/n-triples", "application/n-quads", "application/trig")
        return f"{self.media_type}; charset=utf-8" if textual else self.media_type


RDF_FORMATS = (
    RdfFormat("text/turtle", ("ttl", "turtle"), "ttl", ox.RdfFormat.TURTLE, label="Turtle"),
    RdfFormat("application/ld+json", ("jsonld", "json-ld"), "jsonld", ox.RdfFormat.JSON_LD, label="JSON-LD"),
    RdfFormat("application/rdf+xml", ("rdf", "rdfxml", "xml", "rdf+xml"), "rdf", ox.RdfFormat.RDF_XML, label="RDF/XML"),
    RdfFormat("application/n-triples", ("nt", "ntriples", "n-triples"), "nt", ox.RdfFormat.N_TRIPLES,
              label="N-Triples"),
    RdfFormat("application/n-quads", ("nq", "nquads", "n-quads"), "nq", ox.RdfFormat.N_QUADS, dataset=True,
              label="N-Quads"),
    RdfFormat("application/trig", ("trig",), "trig", ox.RdfFormat.TRIG, dataset=True, label="TriG"),
)
ALIASES = {"application/x-turtle": "text/turtle", "application/turtle": "text/turtle",
           "application/x-trig": "application/trig", "text/n3": "text/turtle"}


class NotAcceptable(Exception):
    """Nothing in ``Accept`` (or ``?format=``) can be served (406); the message lists what can."""


def choose(accept, format_param: str | None, html: bool = True, datasets: bool = True) -> RdfFormat | None:
    """The RDF format to answer with, or ``None`` for the HTML page.

    ``?format=`` wins (``html`` or a short name / media type of :data:`RDF_FORMATS`); then ``Accept``
    (``text/html`` against the RDF media types, quality values honoured); ``*/*`` or no ``Accept`` gives
    HTML when *html*, else Turtle.

    :raises NotAcceptable: for an unknown ``?format=`` or when ``Accept`` names nothing we serve.
    """
    formats = [f for f in RDF_FORMATS if datasets or not f.dataset]
    if format_param:
        value = format_param.strip().lower()
        if value in ("html", "text/html") and html:
            return None
        for f in formats:
            if value in f.names or value == f.media_type or ALIASES.get(value) == f.media_type:
                return f
        names = ", ".join((["html"] if html else []) + [f.names[0] for f in formats])
        raise NotAcceptable(f"format « {format_param} » inconnu ; formats possibles : {names}.")
    if not accept:
        return None if html else formats[0]
    offered = (["text/html", "application/xhtml+xml"] if html else []) + [f.media_type for f in formats] + list(ALIASES)
    explicit = [(v, q) for v, q in accept if "*" not in v and q > 0]
    from werkzeug.datastructures import MIMEAccept
    best = MIMEAccept(explicit).best_match(offered) if explicit else None
    if best is None:
        best = accept.best_match(offered)
        if best is None:
            listed = ", ".join((["text/html"] if html else []) + [f.media_type for f in formats])
            raise NotAcceptable(f"Aucun format demandé n'est disponible (Accept: {accept.to_header()}). "
                                f"Formats possibles : {listed}.")
        if best != offered[0]:
            best = offered[0]  # a wildcard: the default
    best = ALIASES.get(best, best)
    if best in ("text/html", "application/xhtml+xml"):
        return None
    return next(f for f in formats if f.media_type == best)


# -- descriptions -------------------------------------------------------------------------------------

def _iri(value: str) -> str:
    return f"<{ox.NamedNode(value).value}>"


def describe(backend, iri: str) -> list[ox.Quad]:
    """The description of *iri* as quads (graph = the named graph each triple is in): its triples as
    subject; those of the blank nodes and of the ``<iri>#…`` resources it points to (hash URIs are
    described by their document); and the labels of the other IRIs it points to.
    Empty when the IRI is the subject of nothing."""
    node = _iri(iri)
    labels = ", ".join(f"<{p}>" for p in LABEL_PREDICATES + (SKOS + "notation",))
    # FILTER(?p IN …) rather than VALUES: pyoxigraph plans the VALUES join badly here (100× slower)
    _, rows = backend.solutions(f"""
        SELECT ?s ?p ?o ?g WHERE {{
          {{ GRAPH ?g {{ {node} ?p ?o }} BIND({node} AS ?s) }}
          UNION {{ GRAPH ?g {{ {node} ?p0 ?s . ?s ?p ?o }}
                  FILTER(isBlank(?s) || (isIRI(?s) && STRSTARTS(STR(?s), {json.dumps(iri + "#")}))) }}
          UNION {{ GRAPH ?g0 {{ {node} ?p1 ?s }} FILTER(isIRI(?s) && ?s != {node})
                  GRAPH ?g {{ ?s ?p ?o }} FILTER(?p IN ({labels})) }}
        }}""")
    quads, seen = [], set()
    for r in rows:
        q = ox.Quad(r["s"], r["p"], r["o"], r["g"])
        if q not in seen:
            seen.add(q)
            quads.append(q)
    return quads


def graph_quads(backend, graph: str) -> list[ox.Quad]:
    """Every triple of the named graph *graph*, as quads."""
    g = ox.NamedNode(graph)
    return [ox.Quad(t.subject, t.predicate, t.object, g) for t in backend.graph_triples(graph)]


def triples_of(quads: Iterable[ox.Quad]) -> list[ox.Triple]:
    """The triples of *quads*, each once, in order."""
    out, seen = [], set()
    for q in quads:
        t = ox.Triple(q.subject, q.predicate, q.object)
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def context_document(uris: URIScheme) -> dict:
    """The published JSON-LD context (``/context.jsonld``): the project prefixes plus ``id:`` for the data
    base. JSON-LD answers embed the same context, so they parse offline."""
    ctx = {k: v for k, v in sorted(CONTEXT_PREFIXES.items())}
    ctx["id"] = uris.base
    return {"@context": ctx}


def serialize(quads: list[ox.Quad], fmt: RdfFormat, uris: URIScheme) -> bytes:
    """Serialise a description in *fmt* (triple formats drop the graph names)."""
    prefixes = dict(CONTEXT_PREFIXES, id=uris.base)
    if fmt.dataset:
        return ox.serialize(quads, format=fmt.ox_format,
                            prefixes=prefixes if fmt.ox_format == ox.RdfFormat.TRIG else None)
    triples = triples_of(quads)
    if fmt.ox_format == ox.RdfFormat.JSON_LD:
        return jsonld_bytes(triples, uris)
    if fmt.ox_format in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML):
        used = _used_prefixes(triples, prefixes)
        return ox.serialize(triples, format=fmt.ox_format, prefixes=used)
    return ox.serialize(triples, format=fmt.ox_format)


def serialize_triples(triples: list[ox.Triple], fmt: RdfFormat, uris: URIScheme) -> bytes:
    """Serialise *triples* (distinct, as :func:`void_triples` and :func:`dcat_triples` make them) in a triple
    format, with every project prefix: no deduplication nor prefix scan, which cost ~0.6 s for the 100,000
    triples of the national-scale VoID."""
    if fmt.ox_format == ox.RdfFormat.JSON_LD:
        return jsonld_bytes(triples, uris)
    prefixes = dict(CONTEXT_PREFIXES, id=uris.base)
    if fmt.ox_format in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML):
        return ox.serialize(triples, format=fmt.ox_format, prefixes=prefixes)
    return ox.serialize(triples, format=fmt.ox_format)


def _used_prefixes(triples: list[ox.Triple], prefixes: dict[str, str]) -> dict[str, str]:
    iris = set()
    for t in triples:
        for term in (t.subject, t.predicate, t.object):
            if isinstance(term, ox.NamedNode):
                iris.add(term.value)
            elif isinstance(term, ox.Literal) and term.datatype:
                iris.add(term.datatype.value)
    return {k: v for k, v in prefixes.items() if any(i.startswith(v) for i in iris)}


def jsonld_bytes(triples: list[ox.Triple], uris: URIScheme) -> bytes:
    """Compact JSON-LD with the published context inlined (see :func:`context_document`)."""
    import rdflib
    graph = rdflib.Graph()
    if triples:
        graph.parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode("utf-8"), format="nt")
    ctx = context_document(uris)["@context"]
    text = graph.serialize(format="json-ld", context=ctx, auto_compact=True, ensure_ascii=False)
    return text.encode("utf-8")


# -- schema.org for the HTML pages ----------------------------------------------------------------------

SCHEMA_TYPES = {
    "certification": "EducationalOccupationalCredential", "bloc": "EducationalOccupationalCredential",
    "emploi": "Occupation", "organisation": "Organization", "scheme": "DefinedTermSet", "graph": "Dataset",
    "source": "CreativeWork", "enregistrement": "CreativeWork",
}


class _Props:
    def __init__(self, quads: list[ox.Quad], subject: str):
        self.by_subject: dict[str, dict[str, list]] = {}
        for q in quads:
            if isinstance(q.subject, ox.NamedNode):
                self.by_subject.setdefault(q.subject.value, {}).setdefault(q.predicate.value, []).append(q.object)
        self.me = self.by_subject.get(subject, {})

    def values(self, pred: str, who: dict | None = None) -> list:
        return (self.me if who is None else who).get(pred, [])

    def text(self, pred: str, who: dict | None = None) -> str | None:
        values = [v for v in self.values(pred, who) if isinstance(v, ox.Literal)]
        values.sort(key=lambda v: 0 if v.language == "fr" else (1 if not v.language else 2))
        return values[0].value if values else None

    def label(self, who: dict | None = None) -> str | None:
        for pred in LABEL_PREDICATES:
            value = self.text(pred, who)
            if value:
                return value
        return None

    def iris(self, pred: str) -> list[str]:
        return [v.value for v in self.values(pred) if isinstance(v, ox.NamedNode)]

    def ref(self, iri: str) -> dict:
        return self.by_subject.get(iri, {})


def schema_org(kind: str, iri: str, quads: list[ox.Quad], page_url: str | None = None) -> dict:
    """schema.org JSON-LD for the HTML page of a resource (Google / search engines): an
    ``EducationalOccupationalCredential`` for certifications and blocs, an ``Occupation`` for jobs and
    ROME fiches / appellations, a ``DefinedTerm`` for capacities, activities, criteria, NSF, IDCC and
    other concepts, an ``Organization``, a ``DefinedTermSet`` for schemes, a ``Dataset`` for graphs."""
    cqpm = PREFIXES["cqpm"]
    p = _Props(quads, iri)
    name = p.label()
    code = p.text(SKOS + "notation")
    types = set(p.iris(RDF_TYPE))
    if kind == "rome":
        schema_type = "Occupation" if (cqpm + "RomeAppellation" in types or (code and len(code) == 5)) else "DefinedTerm"
    else:
        schema_type = SCHEMA_TYPES.get(kind, "DefinedTerm")
    doc: dict = {"@context": SCHEMA_ORG, "@type": schema_type, "@id": iri}
    if name:
        doc["name"] = name
    if page_url:
        doc["url"] = page_url
    description = (p.text(SKOS + "definition") or p.text(cqpm + "summary") or p.text(RDFS + "comment")
                   or p.text(DCTERMS + "description"))
    if description:
        doc["description"] = description
    identifier = p.text(DCTERMS + "identifier") or code
    if schema_type == "EducationalOccupationalCredential":
        if identifier:
            doc["identifier"] = identifier
        category = [p.label(p.ref(t)) for t in p.iris(cqpm + "certificationType")]
        if category and category[0]:
            doc["credentialCategory"] = category[0]
        orgs = [{"@type": "Organization", "@id": o, "name": p.label(p.ref(o))} for o in p.iris(cqpm + "certifier")]
        if orgs:
            doc["recognizedBy"] = orgs
        codes = []
        for pred, set_name in ((cqpm + "romeCode", "ROME"), (cqpm + "nsfCode", "NSF")):
            for c in p.iris(pred):
                ref = p.ref(c)
                codes.append({"@type": "CategoryCode", "@id": c, "codeValue": p.text(SKOS + "notation", ref),
                              "name": p.label(ref), "inCodeSet": set_name})
        if codes:
            doc["occupationalCategory"] = codes
        parts = [{"@type": "EducationalOccupationalCredential", "@id": b, "name": p.label(p.ref(b)),
                  "identifier": p.text(SKOS + "notation", p.ref(b))} for b in p.iris(cqpm + "hasBlock")]
        if parts:
            doc["hasPart"] = sorted(parts, key=lambda x: _natural(x.get("identifier") or x["@id"]))
        whole = p.iris(cqpm + "isBlockOf")
        if whole:
            doc["isPartOf"] = {"@type": "EducationalOccupationalCredential", "@id": whole[0],
                               "name": p.label(p.ref(whole[0]))}
        skills = [{"@type": "DefinedTerm", "@id": k, "name": p.label(p.ref(k)),
                   "termCode": p.text(SKOS + "notation", p.ref(k))} for k in p.iris(cqpm + "hasCapacity")]
        if skills:
            doc["competencyRequired"] = sorted(skills, key=lambda x: _natural(x.get("termCode") or x["@id"]))
    elif schema_type == "Occupation":
        if code:
            doc["occupationalCategory"] = {"@type": "CategoryCode", "codeValue": code, "inCodeSet": "ROME"}
    elif schema_type == "DefinedTerm":
        if code:
            doc["termCode"] = code
        schemes = p.iris(SKOS + "inScheme")
        if schemes:
            doc["inDefinedTermSet"] = schemes[0]
    return {k: v for k, v in doc.items() if v not in (None, [], "")}


def _natural(text: str):
    import re
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.findall(r"\d+|\D+", text or "")]


def script_json(doc: dict) -> str:
    """*doc* as JSON safe inside ``<script type="application/ld+json">`` (``<``, ``>``, ``&`` escaped)."""
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def kind_local(path: str) -> tuple[str, str] | None:
    """``"bloc/RNCP28229BC01"`` → ``("bloc", "RNCP28229BC01")`` for a known kind, else ``None``."""
    kind, _, local = path.partition("/")
    if kind not in KINDS or not local:
        return None
    return kind, local


# -- caches ------------------------------------------------------------------------------------------

class Cache:
    """Per-build caches: small values in memory (:meth:`memo`), generated files on disk (:meth:`file`).

    Keys include the backend's ``build_id()``, so a new build is never served stale data. Files are
    written to a temporary name then renamed: several explorer processes sharing the directory never
    see half a file.
    """

    def __init__(self, directory: Path, size: int = 64):
        self.dir = Path(directory)
        self.size = size
        self._memo: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._file_locks: dict[str, threading.Lock] = {}

    def memo(self, key, factory: Callable):
        """The cached value of *key*, computed by *factory()* on first use (least recently used dropped)."""
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        value = factory()
        with self._lock:
            self._memo[key] = value
            while len(self._memo) > self.size:
                self._memo.popitem(last=False)
        return value

    def file(self, build_id: str, name: str, writer: Callable) -> Path:
        """``<cache>/<build_id>/<name>``, written by ``writer(binary_file)`` on first use."""
        folder = self.dir / _safe(build_id)
        path = folder / name
        if path.exists():
            return path
        with self._lock:
            lock = self._file_locks.setdefault(str(path), threading.Lock())
        with lock:
            if path.exists():
                return path
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
            try:
                with os.fdopen(fd, "wb") as fh:
                    writer(fh)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return path


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80]


# -- dumps -------------------------------------------------------------------------------------------

DUMPS = {
    "cqpm-graph.nq.gz": ("nq", "application/n-quads", "N-Quads (graphes nommés)"),
    "cqpm-graph.trig.gz": ("trig", "application/trig", "TriG (graphes nommés)"),
    "cqpm-graph.ttl.gz": ("ttl", "text/turtle", "Turtle (union des graphes)"),
}
SUMS = "SHA256SUMS"


def write_dump(backend, fmt: str, out) -> None:
    """Write the whole graph, gzip-compressed (reproducible: no timestamp), to *out*.

    :param fmt: ``nq`` / ``trig`` (every named graph) or ``ttl`` (the union, each triple once).
    """
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        if getattr(backend, "kind", None) == "embedded":
            from cqpm_graph.export import dump
            dump(backend.store, fmt, gz)
            return
        quads = [q for g in backend.named_graphs() for q in graph_quads(backend, g)]
        if fmt == "ttl":
            ox.serialize(triples_of(quads), gz, ox.RdfFormat.TURTLE, prefixes=PREFIXES)
        else:
            rdf_format = ox.RdfFormat.N_QUADS if fmt == "nq" else ox.RdfFormat.TRIG
            ox.serialize(quads, gz, rdf_format, prefixes=PREFIXES if fmt == "trig" else None)


def dump_path(cache: Cache, backend, name: str) -> Path:
    """The cached dump file *name* (a key of :data:`DUMPS`), generated on first request for this build."""
    fmt = DUMPS[name][0]
    return cache.file(backend.build_id(), name, lambda fh: write_dump(backend, fmt, fh))


def sums_path(cache: Cache, backend) -> Path:
    """``SHA256SUMS`` (``sha256sum`` format) of every dump of this build (generating the dumps)."""
    paths = {name: dump_path(cache, backend, name) for name in DUMPS}

    def write(fh):
        for name, path in paths.items():
            fh.write(f"{sha256_file(path)}  {name}\n".encode())
    return cache.file(backend.build_id(), SUMS, write)


def cached_dump_info(cache: Cache, backend) -> dict[str, tuple[int, str]]:
    """``{name: (bytes, sha256)}`` for the dumps already generated for this build (nothing is generated)."""
    folder = cache.dir / _safe(backend.build_id())
    out = {}
    sums = folder / SUMS
    digests = {}
    if sums.exists():
        for line in sums.read_text().splitlines():
            digest, _, name = line.partition("  ")
            digests[name] = digest
    for name in DUMPS:
        path = folder / name
        if path.exists() and name in digests:
            out[name] = (path.stat().st_size, digests[name])
    return out


# -- VoID and DCAT -------------------------------------------------------------------------------------

VOID = "http://rdfs.org/ns/void#"


def dataset_facts(backend, uris: URIScheme) -> dict:
    """What VoID and DCAT say about the data, read from the statistics the build wrote in ``graph/build``
    (``void:triples`` per named graph, ``void:classPartition`` entity counts, ``dcterms:created``, sources)
    and from the graph of each France Compétences import (``graph/import/france-competences/<stem>``: its
    source, file name, export date and ``void:entities``, the number of fiches) — nothing is counted over
    the data (at national scale, counting the 4.9 M triples and their subjects took 87 s a request).

    ``cqpm-graph import-fc`` adds graphs after a build without updating ``graph/build``: the imports whose
    graph the build does not describe are *later* imports. Then the description stays honest: the total
    ``void:triples`` is not given (``triples`` is ``None``), ``graph/bridges`` (recomputed by every import)
    has no count, the fiches of the later imports are added to the ``cqpm:Certification`` partition, and
    ``note`` says so in French.

    :returns: ``{triples (int | None), graphs {iri: triples | None}, classes {class: entities}, created,
        title, sources [...], imports [{graph, source, title, issued, fiches, later}], build_created,
        note (str | None)}``.
    """
    build = str(uris.graph("build"))
    b = f"<{uris.base}dataset>"
    g_build = f"<{build}>"
    counted = {}
    for row in backend.select(f"SELECT ?g ?n WHERE {{ GRAPH {g_build} {{ ?g <{VOID}triples> ?n }} }}"):
        if isinstance(row.get("n"), int):
            counted[row["g"]] = row["n"]
    classes = {}
    for row in backend.select(f"""SELECT ?cls ?n WHERE {{ GRAPH {g_build} {{ {b} <{VOID}classPartition> ?part .
                                   ?part <{VOID}class> ?cls ; <{VOID}entities> ?n }} }}"""):
        if isinstance(row.get("n"), int):
            classes[row["cls"]] = row["n"]
    meta = backend.select(f"""SELECT ?created ?title WHERE {{ OPTIONAL {{ GRAPH {g_build} {{ {b} <{DCTERMS}created> ?created }} }}
                               OPTIONAL {{ GRAPH {g_build} {{ {b} <{DCTERMS}title> ?title }} }} }} LIMIT 1""")
    sources = {r["src"] for r in backend.select(
        f"""SELECT DISTINCT ?src WHERE {{ GRAPH {g_build} {{ {b} <{VOID}subset> ?g .
                                           ?g <{PREFIXES['prov']}wasDerivedFrom> ?src }} }}""")}
    import_prefix = str(uris.graph("import", "france-competences")) + "/"
    imports = []
    for row in backend.select(f"""SELECT ?g ?src ?title ?issued ?n WHERE {{
            GRAPH ?g {{ ?src <{VOID}entities> ?n . OPTIONAL {{ ?src <{DCTERMS}title> ?title }}
                        OPTIONAL {{ ?src <{DCTERMS}issued> ?issued }} }}
            FILTER(STRSTARTS(STR(?g), {json.dumps(import_prefix)})) }}"""):
        issued = row.get("issued")
        imports.append({"graph": row["g"], "source": row["src"], "title": row.get("title"),
                        "issued": issued.isoformat() if hasattr(issued, "isoformat") else issued,
                        "fiches": row.get("n") if isinstance(row.get("n"), int) else None,
                        "later": row["g"] not in counted})
    imports.sort(key=lambda i: (str(i["issued"] or ""), i["graph"]))
    sources.update(i["source"] for i in imports)
    later = [i for i in imports if i["later"]]
    graphs = {g: counted.get(g) for g in backend.named_graphs()}
    bridges = str(uris.graph("bridges"))
    if later and bridges in graphs:
        graphs[bridges] = None  # recomputed by every import: the build's count is stale
    uncovered = [g for g, n in graphs.items() if n is None and g != build]
    triples = None
    if not uncovered and not later:
        size = backend.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {g_build} {{ ?s ?p ?o }} }}")
        triples = sum(n for n in graphs.values() if n is not None) + (size[0]["n"] if size else 0)
    row = meta[0] if meta else {}
    created = row.get("created")
    created = created.isoformat() if hasattr(created, "isoformat") else created
    note = None
    if later:
        cert = PREFIXES["cqpm"] + "Certification"
        added = sum(i["fiches"] or 0 for i in later)
        classes[cert] = classes.get(cert, 0) + added
        listed = " ; ".join(f"{i['title'] or i['graph']} ({i['fiches'] or '?'} fiches"
                            + (f", export du {i['issued']}" if i["issued"] else "") + ")" for i in later)
        note = (f"Statistiques du build du {created or 'date inconnue'}, complétées par les imports France "
                f"Compétences faits depuis : {listed}. Leurs fiches sont ajoutées à la partition "
                f"cqpm:Certification d'après void:entities de leur graphe d'import (un maximum : une fiche "
                f"réimportée compte deux fois) ; le nombre total de triplets et ceux des graphes importés ou "
                f"recalculés depuis le build ne sont pas recomptés (lancer cqpm-graph build pour les mettre à jour).")
    elif uncovered:
        note = (f"Statistiques du build du {created or 'date inconnue'} ; {len(uncovered)} graphe(s) ajouté(s) "
                f"depuis ne sont pas recomptés : le nombre total de triplets n'est pas donné.")
    return {"triples": triples, "graphs": graphs, "classes": classes, "created": None if later else created,
            "build_created": created, "title": row.get("title"), "sources": sorted(sources),
            "imports": imports, "note": note}


def _lit(value, datatype: str | None = None, lang: str | None = None) -> ox.Literal:
    if isinstance(value, int) and not isinstance(value, bool):
        return ox.Literal(str(value), datatype=XSD_INTEGER)
    if lang:
        return ox.Literal(str(value), language=lang)
    if datatype:
        return ox.Literal(str(value), datatype=ox.NamedNode(datatype))
    return ox.Literal(str(value))


def void_triples(uris: URIScheme, facts: dict, site: str, dumps: dict[str, tuple[int, str]]) -> list[ox.Triple]:
    """The VoID description served at ``/.well-known/void``.

    :param site: the deployment's root URL (``https://host/``) for the SPARQL endpoint and dump URLs.
    :param dumps: sizes and checksums of the dumps already generated (see :func:`cached_dump_info`).
    """
    void = "http://rdfs.org/ns/void#"
    N = ox.NamedNode
    ds = N(f"{uris.base}dataset")
    out: list[ox.Triple] = []

    def add(s, p, o):
        out.append(ox.Triple(s, N(p), o))

    doc = N(f"{site}.well-known/void")
    add(doc, RDF_TYPE, N(void + "DatasetDescription"))
    add(doc, DCTERMS + "title", _lit("Description VoID du graphe cqpm-graph", lang="fr"))
    add(doc, "http://xmlns.com/foaf/0.1/primaryTopic", ds)
    add(ds, RDF_TYPE, N(void + "Dataset"))
    add(ds, DCTERMS + "title", _lit(facts.get("title") or "cqpm-graph — graphe des certifications professionnelles", lang="fr"))
    add(ds, DCTERMS + "description", _lit(
        "Graphe de connaissances des certifications professionnelles françaises (RNCP, RS, CQPM) : blocs de "
        "compétences, capacités, activités, emplois, codes ROME et NSF.", lang="fr"))
    add(ds, DCTERMS + "license", N(LICENCE))
    add(N(LICENCE), RDFS + "label", _lit(LICENCE_LABEL, lang="fr"))
    if facts.get("created"):
        add(ds, DCTERMS + "modified", _lit(facts["created"], datatype=PREFIXES["xsd"] + "dateTime")
            if "T" in str(facts["created"]) else _lit(facts["created"]))
    if facts.get("note"):
        add(ds, RDFS + "comment", _lit(facts["note"], lang="fr"))
    add(ds, void + "sparqlEndpoint", N(f"{site}sparql"))
    add(ds, void + "uriSpace", _lit(uris.base))
    add(ds, void + "uriLookupEndpoint", N(f"{site}id/"))
    add(ds, void + "rootResource", N(str(uris.scheme("rome"))))
    add(ds, void + "exampleResource", N(str(uris.certification("RNCP28229"))))
    add(ds, void + "exampleResource", N(str(uris.rome("H2503"))))
    add(ds, void + "vocabulary", N(PREFIXES["cqpm"]))
    add(ds, void + "vocabulary", N(SKOS))
    add(ds, void + "vocabulary", N(DCTERMS))
    add(ds, void + "vocabulary", N(PREFIXES["prov"]))
    add(ds, void + "feature", N("http://www.w3.org/ns/formats/N-Quads"))
    add(ds, void + "feature", N("http://www.w3.org/ns/formats/Turtle"))
    if facts.get("triples") is not None:
        add(ds, void + "triples", _lit(int(facts["triples"])))
    for name in DUMPS:
        add(ds, void + "dataDump", N(f"{site}dumps/{name}"))
    for src in facts.get("sources", []):
        add(ds, DCTERMS + "source", N(src))
    for imp in facts.get("imports", []):
        src = N(imp["source"])
        if imp.get("title"):
            add(src, DCTERMS + "title", _lit(imp["title"]))
        if imp.get("issued"):
            add(src, DCTERMS + "issued", _lit(imp["issued"], datatype=PREFIXES["xsd"] + "date"))
        if imp.get("fiches") is not None:
            add(src, void + "entities", _lit(int(imp["fiches"])))
    for cls, n in sorted(facts.get("classes", {}).items()):
        part = ox.BlankNode(f"class-{hashlib.sha1(cls.encode()).hexdigest()[:10]}")
        add(ds, void + "classPartition", part)
        add(part, void + "class", N(cls))
        add(part, void + "entities", _lit(int(n)))
    for g, n in sorted(facts.get("graphs", {}).items()):
        gnode = N(g)
        add(ds, void + "subset", gnode)
        add(gnode, RDF_TYPE, N(void + "Dataset"))
        add(gnode, void + "sparqlEndpoint", N(f"{site}sparql"))
        if n is not None:
            add(gnode, void + "triples", _lit(int(n)))
    return out


def dcat_triples(uris: URIScheme, facts: dict, site: str, dumps: dict[str, tuple[int, str]]) -> list[ox.Triple]:
    """The DCAT catalogue served at ``/catalog``: a ``dcat:Catalog`` with one ``dcat:Dataset``, a
    ``dcat:Distribution`` per dump (``dcat:downloadURL``, media type, size and SHA-256 when known) and a
    ``dcat:DataService`` for the SPARQL endpoint."""
    dcat = "http://www.w3.org/ns/dcat#"
    spdx = "http://spdx.org/rdf/terms#"
    N = ox.NamedNode
    catalog = N(f"{site}catalog")
    ds = N(f"{uris.base}dataset")
    out: list[ox.Triple] = []

    def add(s, p, o):
        out.append(ox.Triple(s, N(p), o))

    add(catalog, RDF_TYPE, N(dcat + "Catalog"))
    add(catalog, DCTERMS + "title", _lit("Catalogue de données cqpm-graph", lang="fr"))
    add(catalog, DCTERMS + "license", N(LICENCE))
    add(catalog, dcat + "dataset", ds)
    add(ds, RDF_TYPE, N(dcat + "Dataset"))
    add(ds, DCTERMS + "title", _lit(facts.get("title") or "cqpm-graph — graphe des certifications professionnelles", lang="fr"))
    add(ds, DCTERMS + "description", _lit(
        "Certifications professionnelles (RNCP, RS, CQPM), leurs blocs de compétences et capacités, reliés aux "
        "codes ROME v3.47 et NSF ; un graphe nommé par document source.", lang="fr"))
    add(ds, DCTERMS + "license", N(LICENCE))
    add(N(LICENCE), RDFS + "label", _lit(LICENCE_LABEL, lang="fr"))
    add(ds, DCTERMS + "conformsTo", N("https://w3id.org/cqpm/ontology"))
    add(ds, dcat + "keyword", _lit("certification professionnelle", lang="fr"))
    add(ds, dcat + "keyword", _lit("RNCP", lang="fr"))
    add(ds, dcat + "keyword", _lit("ROME", lang="fr"))
    add(ds, dcat + "keyword", _lit("compétences", lang="fr"))
    add(ds, dcat + "landingPage", N(site))
    if facts.get("triples") is not None:
        add(ds, "http://rdfs.org/ns/void#triples", _lit(int(facts["triples"])))
    if facts.get("created"):
        add(ds, DCTERMS + "modified", _lit(facts["created"]))
    if facts.get("note"):
        add(ds, RDFS + "comment", _lit(facts["note"], lang="fr"))
    for src in facts.get("sources", []):
        add(ds, DCTERMS + "source", N(src))
    for name, (_fmt, media_type, label) in DUMPS.items():
        dist = N(f"{site}dumps/{name}")
        add(ds, dcat + "distribution", dist)
        add(dist, RDF_TYPE, N(dcat + "Distribution"))
        add(dist, DCTERMS + "title", _lit(f"Export {label}, compressé gzip", lang="fr"))
        add(dist, dcat + "downloadURL", dist)
        add(dist, dcat + "accessURL", N(f"{site}dumps/"))
        add(dist, dcat + "mediaType", N(f"https://www.iana.org/assignments/media-types/{media_type}"))
        add(dist, dcat + "compressFormat", N("http://www.iana.org/assignments/media-types/application/gzip"))
        add(dist, DCTERMS + "license", N(LICENCE))
        if name in dumps:
            size, digest = dumps[name]
            add(dist, dcat + "byteSize", _lit(int(size)))
            checksum = ox.BlankNode(f"sum-{name.replace('.', '-')}")
            add(dist, spdx + "checksum", checksum)
            add(checksum, RDF_TYPE, N(spdx + "Checksum"))
            add(checksum, spdx + "algorithm", N(spdx + "checksumAlgorithm_sha256"))
            add(checksum, spdx + "checksumValue", _lit(digest, datatype=PREFIXES["xsd"] + "hexBinary"))
    service = N(f"{site}sparql")
    add(catalog, dcat + "service", service)
    add(service, RDF_TYPE, N(dcat + "DataService"))
    add(service, DCTERMS + "title", _lit("Point d'accès SPARQL 1.1", lang="fr"))
    add(service, dcat + "endpointURL", service)
    add(service, dcat + "endpointDescription", service)
    add(service, dcat + "servesDataset", ds)
    add(service, DCTERMS + "conformsTo", N("https://www.w3.org/TR/sparql11-protocol/"))
    add(service, DCTERMS + "license", N(LICENCE))
    sparql_dist = ox.BlankNode("sparql-distribution")
    add(ds, dcat + "distribution", sparql_dist)
    add(sparql_dist, RDF_TYPE, N(dcat + "Distribution"))
    add(sparql_dist, dcat + "accessURL", service)
    add(sparql_dist, dcat + "accessService", service)
    add(sparql_dist, DCTERMS + "license", N(LICENCE))
    return out


# -- ontology ----------------------------------------------------------------------------------------

def ontology_graph():
    """The ontology (``ontology/*.ttl``, with its alignments) as an rdflib graph."""
    import rdflib

    from cqpm_graph.resources import ontology_dir
    graph = rdflib.Graph()
    for path in sorted(ontology_dir().glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


def ontology_html() -> str:
    """The ontology documentation, generated by pyLODE (a few seconds: cache it)."""
    from pylode import OntPub
    return OntPub(ontology=ontology_graph()).make_html()
