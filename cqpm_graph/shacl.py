"""SHACL validation of the graph: load the shapes, gather the data, run pyshacl, report.

Shapes
    ``shapes/*.ttl`` (:func:`cqpm_graph.resources.shapes_dir`), loaded into one shapes graph:
    ``cqpm-shapes.ttl`` (SHACL Core) and ``cqpm-sparql-shapes.ttl`` (SPARQL-based rules that span
    several nodes). ``shapes/README.md`` lists every rule with its severity and shape name.

Engine
    pyshacl is the reference engine: ``pyshacl.validate(data, shacl_graph=shapes, inference="none",
    advanced=True, allow_warnings=True)``. With ``allow_warnings=True`` pyshacl's own ``sh:conforms``
    ignores ``sh:Warning`` and ``sh:Info`` results; :attr:`ValidationReport.conforms` is computed
    here the same way (true iff no ``sh:Violation``), so it does not depend on that flag.

Data from the store (:func:`graph_from_store`)
    The store keeps each source in its own named graph; SHACL needs one graph where cross-graph
    links resolve (a certification in ``graph/fiche/X`` points to ROME concepts in
    ``graph/rome-v347``). pyshacl on an rdflib ``Dataset`` would validate each named graph on its
    own, so everything is merged into one plain ``rdflib.Graph``:

    * every named graph except the ROME ones is copied whole (fiches, NSF, ontology, build
      metadata: a few thousand triples);
    * from the ROME graphs (IRI ending in ``/graph/rome`` or ``/graph/rome-<version>``, see
      :data:`ROME_GRAPH_RE`) only the concepts referenced by ``cqpm:romeCode`` anywhere, their
      ``skos:broader`` ancestors and the concept schemes they are in, with all their triples.

    The ROME graph holds ~25k concepts (532 fiches, ~11k appellations, ~13k items): copying it
    into rdflib and running pyshacl over it would dominate the run time for nothing, since no shape
    targets ROME concepts. An unknown code (``H9999``) is simply absent from the extract and the
    existence check reports it. Triples travel as N-Triples bytes (``Store.dump`` per graph, a
    ``CONSTRUCT`` for the ROME extract) parsed once by rdflib, so blank-node labels shared between
    graphs keep their identity.

Cross-check with pyrudof (note, not a dependency)
    pyrudof (the Python binding of rudof, a Rust SHACL/ShEx engine) could validate the same shapes
    against the same N-Triples export as a second opinion, and quickly. It is not installed and
    must not be required. Differences to expect before comparing reports: pyrudof's SHACL-SPARQL
    support (``sh:sparql`` constraints, ``sh:prefixes``/``sh:declare``, ``{?var}`` message
    templates) was partial at the time of writing, so compare the SHACL Core shapes
    (``cqpm-shapes.ttl``) first, by (focus node, path, value, source shape) sets, ignoring
    messages and result blank nodes.
"""
from __future__ import annotations

import functools
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, ConjunctiveGraph, Dataset, Graph, Literal, URIRef
from rdflib.namespace import RDF, SH

from .resources import shapes_dir
from .uris import CQPM, DCTERMS, PREFIXES, SKOS

__all__ = [
    "RDFFileError", "ValidationReport", "ValidationResult", "ROME_GRAPH_RE", "FORMATS",
    "load_shapes", "graph_from_store", "graph_from_files", "validate",
]

#: Named graphs of the ROME nomenclature, pruned by :func:`graph_from_store`.
ROME_GRAPH_RE = re.compile(r"/graph/rome(-[^/#]*)?$")

#: rdflib parser name for each file extension accepted by :func:`graph_from_files`.
FORMATS = {
    ".ttl": "turtle", ".turtle": "turtle", ".nt": "nt", ".nq": "nquads", ".trig": "trig",
    ".jsonld": "json-ld", ".json": "json-ld", ".rdf": "xml", ".xml": "xml", ".owl": "xml", ".n3": "n3",
}
_QUAD_FORMATS = {"nquads", "trig", "json-ld"}

SEVERITIES = ("Violation", "Warning", "Info")
_SEVERITY_LABELS = {
    "fr": {"Violation": "Violation", "Warning": "Avertissement", "Info": "Info"},
    "en": {"Violation": "Violation", "Warning": "Warning", "Info": "Info"},
}

# Kind of a focus node for people, by class then by URI segment (cqpm_graph/uris.py).
_KIND_BY_CLASS = {
    CQPM.Certification: ("certification", "certification"),
    CQPM.CompetenceBlock: ("bloc", "block"),
    CQPM.Capacity: ("capacité", "capacity"),
    CQPM.Activity: ("activité", "activity"),
    CQPM.EvaluationCriterion: ("critère", "criterion"),
    CQPM.Job: ("emploi", "job"),
    CQPM.AccessCondition: ("condition d'accès", "access condition"),
    CQPM.Registration: ("enregistrement", "registration"),
    CQPM.SourceDocument: ("document source", "source document"),
    CQPM.ParseWarning: ("avertissement de lecture", "parse warning"),
}
_KIND_BY_SEGMENT = {
    "certification": CQPM.Certification, "bloc": CQPM.CompetenceBlock, "capacite": CQPM.Capacity,
    "activite": CQPM.Activity, "critere": CQPM.EvaluationCriterion, "emploi": CQPM.Job,
    "acces": CQPM.AccessCondition, "enregistrement": CQPM.Registration, "source": CQPM.SourceDocument,
}


class RDFFileError(ValueError):
    """An RDF file that cannot be read: unknown extension, missing file or syntax error.

    The message names the file and, for a syntax error, gives the parser's message (which carries
    the line number for Turtle, N-Triples, N-Quads and TriG).
    """

    def __init__(self, path: Path | str, what: str):
        self.path = str(path)
        self.what = what
        super().__init__(f"{path}: {what}")


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

def load_shapes(directory: Path | str | None = None) -> Graph:
    """Load every ``*.ttl`` file of the shapes directory into one rdflib ``Graph``.

    :param directory: defaults to :func:`cqpm_graph.resources.shapes_dir` (``shapes/``).
    :raises FileNotFoundError: when the directory has no ``.ttl`` file.
    :raises RDFFileError: when a shapes file does not parse.
    """
    folder = Path(directory) if directory is not None else shapes_dir()
    files = sorted(folder.glob("*.ttl"))
    if not files:
        raise FileNotFoundError(f"no SHACL shapes (*.ttl) in {folder}")
    return graph_from_files(files)


def graph_from_files(paths: Iterable[Path | str]) -> Graph:
    """Parse RDF files and merge them into one rdflib ``Graph`` (named graphs flattened).

    The format comes from the extension: ``.ttl`` Turtle, ``.nt`` N-Triples, ``.nq`` N-Quads,
    ``.trig`` TriG, ``.jsonld``/``.json`` JSON-LD, ``.rdf``/``.xml``/``.owl`` RDF/XML, ``.n3`` N3.
    Quads of every graph (default and named) go into the result, as the store's union default
    graph would show them. Blank nodes of different files stay distinct (an RDF merge).

    :raises RDFFileError: naming the file, for an unknown extension, a missing or unreadable file,
        or a syntax error (with the parser's message and line).
    """
    merged = Graph()
    for name in paths:
        path = Path(name)
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            known = ", ".join(sorted(FORMATS))
            raise RDFFileError(path, f"unknown RDF file extension {path.suffix or '(none)'!r} (known: {known})")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RDFFileError(path, f"cannot read file: {exc.strerror or exc}") from exc
        try:
            if fmt in _QUAD_FORMATS:
                ds = Dataset()
                ds.parse(data=data, format=fmt, publicID=path.resolve().as_uri())
                for s, p, o, _g in ds.quads((None, None, None, None)):
                    merged.add((s, p, o))
            else:
                merged.parse(data=data, format=fmt, publicID=path.resolve().as_uri())
        except Exception as exc:  # rdflib parsers raise many types (BadSyntax, ParseError, SAX…)
            where = _bad_line(data, fmt)
            raise RDFFileError(path, f"{fmt} parse error{where}: {exc}") from exc
    for prefix, ns in PREFIXES.items():
        merged.bind(prefix, ns, override=True)
    return merged


def _bad_line(data: bytes, fmt: str) -> str:
    """`` at line N`` for line-based formats, whose rdflib parsers do not say which line failed."""
    if fmt not in ("nt", "nquads"):
        return ""  # Turtle, TriG, N3, JSON-LD and RDF/XML messages carry the position already
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith(b"#"):
            continue
        try:
            (Dataset() if fmt == "nquads" else Graph()).parse(data=line, format=fmt)
        except Exception:
            return f" at line {number}"
    return ""


_ROME_EXTRACT = """
PREFIX cqpm: <https://w3id.org/cqpm/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
CONSTRUCT { ?x ?p ?o } WHERE {
  {
    SELECT DISTINCT ?x WHERE {
      { ?cert cqpm:romeCode ?code . ?code skos:broader* ?x }
      UNION
      { ?cert cqpm:romeCode ?code . ?code skos:broader* ?c . ?c skos:inScheme ?x }
    }
  }
  GRAPH ?g { ?x ?p ?o }
  VALUES ?g { %s }
}
"""


def graph_from_store(store: ox.Store) -> Graph:
    """Copy from a pyoxigraph store what the shapes need into one rdflib ``Graph``.

    All named graphs except the ROME ones (:data:`ROME_GRAPH_RE`) and the default graph are copied
    whole; from the ROME graphs only the concepts referenced by ``cqpm:romeCode``, their
    ``skos:broader`` ancestors and their concept schemes (see the module docstring for why).

    :param store: an open store (e.g. :func:`cqpm_graph.store.open_store`), read-only is fine.
    :returns: a new rdflib ``Graph`` (named graphs merged; provenance is not kept).
    """
    buf = io.BytesIO()
    rome_graphs = []
    for g in store.named_graphs():
        if isinstance(g, ox.NamedNode) and ROME_GRAPH_RE.search(g.value):
            rome_graphs.append(g)
            continue
        store.dump(buf, format=ox.RdfFormat.N_TRIPLES, from_graph=g)
        buf.write(b"\n")
    store.dump(buf, format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
    buf.write(b"\n")
    if rome_graphs:
        values = " ".join(str(g) for g in rome_graphs)
        triples = store.query(_ROME_EXTRACT % values, use_default_graph_as_union=True)
        triples.serialize(buf, format=ox.RdfFormat.N_TRIPLES)
    graph = Graph()
    graph.parse(data=buf.getvalue(), format="nt")
    for prefix, ns in PREFIXES.items():
        graph.bind(prefix, ns, override=True)
    return graph


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

@dataclass
class ValidationResult:
    """One SHACL result (one ``sh:ValidationResult`` of the report).

    :ivar focus_node: the node that failed (rdflib term).
    :ivar path: ``sh:resultPath`` (an IRI, or a blank node for a complex path such as an inverse
        path), ``None`` for node-level results.
    :ivar value: ``sh:value`` (rdflib term) or ``None``.
    :ivar severity: ``"Violation"``, ``"Warning"`` or ``"Info"``.
    :ivar message_fr: / :ivar message_en: the shape's message in each language (placeholders
        filled); the other language's, or pyshacl's generic English text, when one is missing.
    :ivar source_shape: ``sh:sourceShape`` IRI (e.g. ``cqpmsh:RomeCodeExistsShape``).
    :ivar source_constraint_component: e.g. ``sh:MinCountConstraintComponent``.
    :ivar focus_label: the focus node for people: ``"certification RNCP28229"``, ``"bloc
        RNCP28229BC01"``, ``"capacité RNCP28229-C1"`` (kind in French; :meth:`focus_label_in`).
    :ivar value_label: the value for people: its ``skos:notation`` (or the IRI's last segment) for
        a resource, the lexical form for a literal, ``""`` when there is no value.
    :ivar path_label: the path as a prefixed name (``cqpm:romeCode``, ``^cqpm:hasCapacity``).
    """

    focus_node: object
    path: object
    value: object
    severity: str
    message_fr: str
    message_en: str
    source_shape: object
    source_constraint_component: object
    focus_label: str = ""
    value_label: str = ""
    path_label: str = ""
    focus_kind: tuple[str, str] = ("", "")
    focus_code: str = ""

    def message(self, lang: str = "fr") -> str:
        """The message in *lang* (``"fr"`` or ``"en"``)."""
        return self.message_en if lang == "en" else self.message_fr

    def focus_label_in(self, lang: str = "fr") -> str:
        """``"<kind> <code>"`` with the kind in *lang* (``"capacité"`` / ``"capacity"``)."""
        kind = self.focus_kind[1 if lang == "en" else 0]
        return f"{kind} {self.focus_code}".strip()

    def to_dict(self) -> dict:
        """JSON-ready dict: IRIs and literals as strings, ``None`` kept."""
        return {
            "focus_node": _term_str(self.focus_node),
            "focus_label": self.focus_label,
            "path": self.path_label or None,
            "value": _term_str(self.value),
            "value_label": self.value_label or None,
            "severity": self.severity,
            "message_fr": self.message_fr,
            "message_en": self.message_en,
            "source_shape": _term_str(self.source_shape),
            "source_constraint_component": _term_str(self.source_constraint_component),
        }


@dataclass
class ValidationReport:
    """The outcome of :func:`validate`.

    :ivar conforms: ``True`` iff there is no ``sh:Violation`` (warnings and info do not count).
    :ivar results: every result, grouped by focus node (focus nodes with a violation first), then
        by severity within a focus node.
    :ivar results_graph: the SHACL validation report graph (``sh:ValidationReport``), messages
        tagged ``@fr`` / ``@en``.
    """

    conforms: bool
    results: list[ValidationResult] = field(default_factory=list)
    results_graph: Graph = field(default_factory=Graph)

    @property
    def counts_by_severity(self) -> dict[str, int]:
        """``{"Violation": n, "Warning": n, "Info": n}`` (every key present)."""
        counts = Counter(r.severity for r in self.results)
        return {s: counts.get(s, 0) for s in SEVERITIES}

    def to_text(self, lang: str = "fr") -> str:
        """A readable report grouped by focus node, one line per result, e.g.
        ``certification RNCP28229 — [Violation] Le code ROME H25O3 n'existe pas dans le ROME``.

        A value not already named by the message is appended in parentheses with its path.
        """
        en = lang == "en"
        sev = _SEVERITY_LABELS["en" if en else "fr"]
        c = self.counts_by_severity
        if en:
            head = (f"SHACL validation: {'conforms' if self.conforms else 'does NOT conform'} — "
                    f"{c['Violation']} violation(s), {c['Warning']} warning(s), {c['Info']} info")
        else:
            head = (f"Validation SHACL : {'conforme' if self.conforms else 'NON conforme'} — "
                    f"{c['Violation']} violation(s), {c['Warning']} avertissement(s), {c['Info']} info(s)")
        lines = [head]
        current = None
        for r in self.results:
            if r.focus_node != current:
                current = r.focus_node
                lines.append("")
            msg = r.message(lang)
            extra = ""
            if r.value_label and r.value_label not in msg:
                extra = f" ({r.path_label + ' = ' if r.path_label else ''}{_short(r.value_label)})"
            lines.append(f"{r.focus_label_in(lang)} — [{sev[r.severity]}] {msg}{extra}")
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict:
        """``{"conforms": bool, "counts": {"Violation": n, "Warning": n, "Info": n},
        "results": [ValidationResult.to_dict(), …]}``."""
        return {
            "conforms": self.conforms,
            "counts": self.counts_by_severity,
            "results": [r.to_dict() for r in self.results],
        }

    def to_turtle(self) -> str:
        """The SHACL results graph serialised as Turtle."""
        return self.results_graph.serialize(format="turtle")


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

def validate(data: Graph, shapes: Graph | None = None) -> ValidationReport:
    """Validate *data* against the project's shapes (or *shapes*) with pyshacl.

    :param data: one rdflib ``Graph`` holding everything to check together (see
        :func:`graph_from_store`, :func:`graph_from_files`); a ``Dataset`` is flattened first so
        that cross-graph links resolve.
    :param shapes: a shapes graph; defaults to :func:`load_shapes`.
    :returns: a :class:`ValidationReport`; ``conforms`` is false iff some result is a violation.
    :raises pyshacl.errors.ReportableRuntimeError: for a broken shapes graph (e.g. bad SPARQL).
    """
    import pyshacl  # slow to import; keep `cqpm-graph --help` fast

    if shapes is None:
        shapes = load_shapes()
    if isinstance(data, ConjunctiveGraph):  # Dataset too: flatten, pyshacl checks graphs one by one
        flat = Graph()
        for s, p, o, _g in data.quads((None, None, None, None)):
            flat.add((s, p, o))
        data = flat
    # pyshacl hands rdflib each SPARQL constraint as text, once per focus node, and parsing it costs
    # ~40 ms (most of a run). A view of the same triples whose query() reuses prepared queries cuts
    # that; it needs inplace=True (no clone), safe when no sh:rule can write to the data.
    inplace = (None, SH.rule, None) not in shapes
    target = _PreparedQueryGraph(store=data.store, identifier=data.identifier) if inplace else data
    _engine_conforms, results_graph, _text = pyshacl.validate(
        target, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True, inplace=inplace,
    )
    for prefix, ns in PREFIXES.items():
        results_graph.bind(prefix, ns, override=True)
    results_graph.bind("cqpmsh", "https://w3id.org/cqpm/shapes#", override=True)
    results = [_result(results_graph, node, data, shapes)
               for node in results_graph.subjects(RDF.type, SH.ValidationResult)]
    order = {s: i for i, s in enumerate(SEVERITIES)}
    worst: dict = {}
    for r in results:
        worst[r.focus_node] = min(worst.get(r.focus_node, 9), order[r.severity])
    results.sort(key=lambda r: (worst[r.focus_node], r.focus_label, str(r.focus_node),
                                order[r.severity], str(r.source_shape), r.value_label))
    conforms = not any(r.severity == "Violation" for r in results)
    return ValidationReport(conforms=conforms, results=results, results_graph=results_graph)


@functools.lru_cache(maxsize=256)
def _prepared(text: str):
    from rdflib.plugins.sparql import prepareQuery
    return prepareQuery(text)


class _PreparedQueryGraph(Graph):
    """An rdflib ``Graph`` (sharing another graph's store) that compiles each SPARQL text once."""

    def query(self, query_object, processor="sparql", result="sparql", initNs=None,  # noqa: N803
              initBindings=None, use_store_provided=True, **kwargs):  # noqa: N803
        if isinstance(query_object, str) and not initNs:
            query_object = _prepared(query_object)
        return super().query(query_object, processor, result, initNs, initBindings, use_store_provided, **kwargs)


def _result(rg: Graph, node, data: Graph, shapes: Graph) -> ValidationResult:
    focus = rg.value(node, SH.focusNode)
    path = rg.value(node, SH.resultPath)
    value = rg.value(node, SH.value)
    severity_node = rg.value(node, SH.resultSeverity)
    severity = str(severity_node).rsplit("#", 1)[-1] if severity_node is not None else "Violation"
    shape = rg.value(node, SH.sourceShape)
    fr, en = _messages(rg, node, shapes)
    kind, code = _describe(data, focus)
    return ValidationResult(
        focus_node=focus, path=path, value=value, severity=severity,
        message_fr=fr, message_en=en, source_shape=shape,
        source_constraint_component=rg.value(node, SH.sourceConstraintComponent),
        focus_label=f"{kind[0]} {code}".strip(), value_label=_value_label(data, value),
        path_label=_path_label(rg, path), focus_kind=kind, focus_code=code,
    )


def _messages(rg: Graph, node, shapes: Graph) -> tuple[str, str]:
    """The result's French and English messages.

    pyshacl drops the language tag of a message whose ``{?var}`` placeholders it fills, so an
    untagged message is matched against the shape's tagged templates to recover its language;
    the tag is then put back in the results graph.
    """
    templates = []
    for src in (rg.value(node, SH.sourceConstraint), rg.value(node, SH.sourceShape)):
        if src is not None:
            templates += [m for m in shapes.objects(src, SH.message) if isinstance(m, Literal)]
    found: dict[str, str] = {}
    for msg in list(rg.objects(node, SH.resultMessage)):
        lang = msg.language if isinstance(msg, Literal) else None
        if lang is None:
            for t in templates:
                if t.language and _template_regex(str(t)).fullmatch(str(msg)):
                    lang = t.language
                    rg.remove((node, SH.resultMessage, msg))
                    rg.add((node, SH.resultMessage, Literal(str(msg), lang=lang)))
                    break
        found.setdefault(lang or "", str(msg))
    fallback = found.get("") or found.get("en") or found.get("fr") or ""
    return found.get("fr", fallback), found.get("en", fallback)


def _template_regex(template: str) -> re.Pattern:
    parts = re.split(r"\{[?$]\w+\}", template)
    return re.compile("(?s)" + ".*?".join(re.escape(p) for p in parts))


def _describe(data: Graph, node) -> tuple[tuple[str, str], str]:
    """(kind in French and English, code) of a focus node."""
    kind = None
    for cls in data.objects(node, RDF.type):
        if cls in _KIND_BY_CLASS:
            kind = cls
            break
    segment, local = _segments(node)
    if kind is None:
        kind = _KIND_BY_SEGMENT.get(segment)
    labels = _KIND_BY_CLASS.get(kind, ("ressource", "resource"))
    if kind in (CQPM.Certification, CQPM.CompetenceBlock):
        code = data.value(node, SKOS.notation) or data.value(node, DCTERMS.identifier) or local
    else:
        code = local  # "RNCP28229-C1" says more than the bare notation "C1"
    return labels, str(code)


def _segments(node) -> tuple[str, str]:
    """(kind segment, local part) of a data IRI: ``…/capacite/RNCP28229-C1`` → ("capacite", "RNCP28229-C1")."""
    if isinstance(node, URIRef):
        text = str(node).rstrip("/")
        head, _, local = text.rpartition("/")
        if "#" in local:
            local = local.rpartition("#")[2]
        return head.rpartition("/")[2], local
    return "", f"_:{node}" if isinstance(node, BNode) else str(node)


def _value_label(data: Graph, value) -> str:
    if value is None:
        return ""
    if isinstance(value, Literal):
        return str(value)
    notation = data.value(value, SKOS.notation) if isinstance(value, URIRef) else None
    return str(notation) if notation is not None else _segments(value)[1]


def _path_label(rg: Graph, path) -> str:
    if path is None:
        return ""
    if isinstance(path, URIRef):
        return _qname(rg, path)
    inverse = rg.value(path, SH.inversePath)
    if inverse is not None:
        return "^" + _qname(rg, inverse)
    return "(chemin complexe)"


def _qname(g: Graph, iri: URIRef) -> str:
    try:
        return g.namespace_manager.normalizeUri(iri)
    except Exception:
        return f"<{iri}>"


def _term_str(term) -> str | None:
    if term is None:
        return None
    if isinstance(term, BNode):
        return f"_:{term}"
    return str(term)


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
