"""Fast SHACL validation of the whole store: shapes compiled to SPARQL and run on pyoxigraph.

pyshacl (the reference engine, :mod:`cqpm_graph.shacl`) evaluates SHACL-SPARQL constraints one focus
node at a time (~17 ms each): hours at national scale. Here each constraint becomes **one** SELECT over the
union of the named graphs, returning every violating ``(focus, value)`` pair at once, evaluated by
oxigraph (Rust):

* targets: ``sh:targetClass`` (with ``rdfs:subClassOf*``), ``sh:targetSubjectsOf``, ``sh:targetObjectsOf``,
  ``sh:targetNode``, implicit class targets;
* core components on node and property shapes (predicate, inverse, sequence and alternative paths):
  ``minCount maxCount datatype class nodeKind pattern in hasValue minLength maxLength
  min/maxInclusive min/maxExclusive languageIn uniqueLang lessThan lessThanOrEquals equals disjoint``;
* ``sh:sparql`` constraints (``sh:select`` with ``$this``), with ``sh:prefixes`` / ``sh:declare`` and
  message templates (``{?value}``, ``{$this}``).

* ``sh:qualifiedValueShape`` with ``sh:qualifiedMinCount`` / ``sh:qualifiedMaxCount``, and ``sh:or`` /
  ``sh:and`` / ``sh:not`` over members made of the components above (``minCount 1`` / ``maxCount 0`` and
  value constraints), each turned into one SPARQL boolean expression.

A shape using anything else (``sh:node``, ``sh:xone``, ``sh:closed`` …) is not compiled: it is validated by
pyshacl on the same data, with every compiled shape deactivated, and the results are merged — so the report
is always complete. :func:`validate_fast` returns a :class:`cqpm_graph.shacl.ValidationReport` (same class as
the pyshacl path); tests cross-check both engines on the real extract and on graphs breaking each rule.

How the queries are made fast (oxigraph 0.5 joins with hash tables or, for a pattern after few rows, with
one index lookup per row; it plans a ``FILTER (NOT) EXISTS`` without knowing the outer bindings):

* each check has a **set-at-a-time** form (every focus node at once: anti-joins, grouped counts over the whole
  path, the class members as one sub-SELECT) and, where it helps, a **focus-by-focus** form (``LATERAL``: the
  values looked up from each focus node, as pyshacl pre-binds ``$this``); :func:`raw_results` picks the
  second for few focus nodes and a path much larger (:data:`LATERAL_MAX_FOCUS`, :data:`LATERAL_MIN_RATIO`);
* SHACL-SPARQL bodies are rewritten by :func:`optimize_query` where provably equivalent (NOT EXISTS → MINUS,
  EXISTS → semi-join, UNION → hash-joined sub-SELECT, groups filtered by their HAVING before the rest);
* the checks run in two threads (pyoxigraph releases the GIL while a query runs and its rows are read);
* where SPARQL and pyshacl order or read values differently (``sh:lessThan``, ranges, ``sh:datatype``,
  ``sh:pattern``: rdflib orders what SPARQL cannot compare), SPARQL leaves out what both surely accept and the
  rest is decided in Python as pyshacl does (:func:`_refined`); rows are materialised for results only.
"""
from __future__ import annotations

import itertools
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyoxigraph as ox
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, XSD

SEVERITIES = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}
SUPPORTED = {SH.qualifiedValueShape, SH.qualifiedMinCount, SH.qualifiedMaxCount, SH.qualifiedValueShapesDisjoint,
             SH["or"], SH["and"], SH["not"], SH.minCount, SH.maxCount, SH.datatype, SH["class"], SH.nodeKind, SH.pattern, SH["in"], SH.hasValue,
             SH.minLength, SH.maxLength, SH.minInclusive, SH.maxInclusive, SH.minExclusive, SH.maxExclusive,
             SH.languageIn, SH.uniqueLang, SH.lessThan, SH.lessThanOrEquals, SH.equals, SH.disjoint, SH.sparql}
#: Shape predicates that are not constraints (ignored when deciding what the fast engine supports).
NON_CONSTRAINTS = {RDF.type, SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf, SH.targetNode, SH.property,
                   SH.path, SH.severity, SH.message, SH.name, SH.description, SH.deactivated, SH.order, SH.group,
                   SH.defaultValue, SH.flags, RDFS.label, RDFS.comment, SH.prefixes, SH.declare}
UNSUPPORTED_HINT = (SH.node, SH.xone, SH.closed, SH.ignoredProperties, SH.target)


def load_all_shapes() -> rdflib.Graph:
    """Every ``shapes/*.ttl``: through :func:`cqpm_graph.shacl.load_shapes` when that module exists."""
    try:
        from .shacl import load_shapes
    except ImportError:
        from .resources import shapes_dir
        g = rdflib.Graph()
        for ttl in sorted(shapes_dir().glob("*.ttl")):
            g.parse(ttl, format="turtle")
        return g
    return load_shapes()


# -- compilation ----------------------------------------------------------------------------------------

def _n3(term) -> str:
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, Literal):
        return term.n3()
    raise ValueError(f"cannot put {term!r} in a query")


def _path(shapes: rdflib.Graph, path) -> str:
    """SHACL property path → SPARQL property path."""
    if isinstance(path, URIRef):
        return f"<{path}>"
    if (path, RDF.first, None) in shapes:
        return "(" + "/".join(_path(shapes, p) for p in Collection(shapes, path)) + ")"
    for pred, fmt in ((SH.inversePath, "^{}"), (SH.zeroOrMorePath, "{}*"), (SH.oneOrMorePath, "{}+"),
                      (SH.zeroOrOnePath, "{}?")):
        inner = shapes.value(path, pred)
        if inner is not None:
            return fmt.format(_path(shapes, inner) if isinstance(inner, URIRef) else f"({_path(shapes, inner)})")
    alt = shapes.value(path, SH.alternativePath)
    if alt is not None:
        return "(" + "|".join(_path(shapes, p) for p in Collection(shapes, alt)) + ")"
    raise ValueError("unsupported path")


def _targets(shapes: rdflib.Graph, shape) -> str | None:
    parts = []
    for c in shapes.objects(shape, SH.targetClass):
        parts.append(f"?this <{RDF.type}>/<{RDFS.subClassOf}>* <{c}> .")
    if (shape, RDF.type, RDFS.Class) in shapes or (shape, RDF.type, URIRef("http://www.w3.org/2002/07/owl#Class")) in shapes:
        parts.append(f"?this <{RDF.type}>/<{RDFS.subClassOf}>* <{shape}> .")
    for p in shapes.objects(shape, SH.targetSubjectsOf):
        parts.append(f"?this <{p}> ?_t .")
    for p in shapes.objects(shape, SH.targetObjectsOf):
        parts.append(f"?_t <{p}> ?this .")
    nodes = list(shapes.objects(shape, SH.targetNode))
    if nodes:
        parts.append("VALUES ?this { " + " ".join(_n3(n) for n in nodes) + " }")
    if not parts:
        return None
    return "{ SELECT DISTINCT ?this WHERE { " + " UNION ".join("{ " + p + " }" for p in parts) + " } }"


def _prefixes(shapes: rdflib.Graph, constraint) -> str:
    out = []
    for holder in shapes.objects(constraint, SH.prefixes):
        for decl in shapes.objects(holder, SH.declare):
            out.append(f"PREFIX {shapes.value(decl, SH.prefix)}: <{shapes.value(decl, SH.namespace)}>")
    return "\n".join(out)


@dataclass
class _Check:
    shape: str
    severity: str
    component: str
    query: str  # set-at-a-time form: every focus node at once, hash joins (rewritten by optimize_query)
    path: str | None
    messages: dict[str, str]
    template: bool = False  # sh:sparql: messages are templates over the query's variables
    lateral: str | None = None  # focus-by-focus form (LATERAL / FILTER EXISTS per focus node), for few targets
    target: str = ""  # the target's sub-SELECT, key of the target size estimate
    refine: tuple | None = None  # rows are candidates decided in Python as pyshacl does (see _refined)
    scan: tuple = ()  # predicates of a property shape's path: the triples the set-at-a-time form scans


def _messages(shapes, *nodes) -> dict[str, str]:
    for node in nodes:
        msgs = {(m.language or ""): str(m) for m in shapes.objects(node, SH.message)}
        if msgs:
            return msgs
    return {}


def _value_checks(shapes, shape_id, severity, target, vpat, path_str, node, msgs) -> list[_Check]:
    """Checks on the value nodes ``?v`` of a property shape (or of a node shape: ``?v`` = focus).

    Each check has a set-at-a-time form (``query``) and, for a property shape, a focus-by-focus form
    (``lateral``: the values of each focus node looked up from it, as pyshacl does), chosen at run time by the
    number of focus nodes (:func:`raw_results`).
    """
    checks = []

    def msg(component, fr=None, en=None):
        return msgs or {"fr": fr or f"Contrainte {component} non respectée", "en": en or f"{component} constraint not met"}

    def add(component, body, select="?this ?v", lateral=True):
        q = f"SELECT DISTINCT {select} WHERE {{ {target} {body} }}"
        lat = f"SELECT DISTINCT {select} WHERE {{ {target} LATERAL {{ {body} }} }}" if lateral and path_str else None
        checks.append(_Check(shape_id, severity, component, q, path_str, msg(component), lateral=lat, target=target))

    get = lambda p: shapes.value(node, p)  # noqa: E731
    if (v := get(SH.minCount)) is not None and path_str and int(v) > 0:
        if int(v) == 1:  # the usual one: bulk = an anti-join (MINUS, by optimize_query); else one lookup per focus
            q = f"SELECT DISTINCT ?this WHERE {{ {target} FILTER NOT EXISTS {{ ?this {path_str} ?v }} }}"
            lat = q
        else:
            q = (f"SELECT ?this WHERE {{ {target} OPTIONAL {{ ?this {path_str} ?v }} }} "
                 f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) < {int(v)})")
            lat = None
        checks.append(_Check(shape_id, severity, "MinCount", q, path_str,
                             msg("MinCount", f"Moins de {v} valeur(s)", f"Less than {v} values"), lateral=lat, target=target))
    if (v := get(SH.maxCount)) is not None and path_str:
        # bulk: counted over every subject (one aggregate), then joined with the few focus nodes over the count
        checks.append(_Check(shape_id, severity, "MaxCount",
                             f"SELECT ?this WHERE {{ {target} {{ SELECT ?this WHERE {{ ?this {path_str} ?v }} "
                             f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) > {int(v)}) }} }}", path_str,
                             msg("MaxCount", f"Plus de {v} valeur(s)", f"More than {v} values"),
                             lateral=f"SELECT ?this WHERE {{ {target} LATERAL {{ ?this {path_str} ?v }} }} "
                                     f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) > {int(v)})", target=target))
    if (v := get(SH.datatype)) is not None:
        # the values SPARQL surely finds well typed are left out; pyshacl's test decides the others
        add("Datatype", f"{vpat} FILTER(!({_surely_typed('?v', v)}))")
        checks[-1].refine = ("datatype", "Datatype", v)
    if (v := get(SH["class"])) is not None:
        members = f"?v <{RDF.type}>/<{RDFS.subClassOf}>* <{v}>"
        add("Class", f"{vpat} FILTER NOT EXISTS {{ {members} }}", lateral=False)
        if path_str:  # focus by focus: the values looked up, the class members (one walk) anti-joined once
            checks[-1].lateral = (f"SELECT DISTINCT ?this ?v WHERE {{ {target} LATERAL {{ {vpat} }} "
                                  f"MINUS {{ {members} }} }}")
    if (v := get(SH.nodeKind)) is not None:
        test = {SH.IRI: "isIRI(?v)", SH.Literal: "isLiteral(?v)", SH.BlankNode: "isBlank(?v)",
                SH.BlankNodeOrIRI: "!isLiteral(?v)", SH.BlankNodeOrLiteral: "!isIRI(?v)",
                SH.IRIOrLiteral: "!isBlank(?v)"}[v]
        add("NodeKind", f"{vpat} FILTER(!({test}))")
    if (v := get(SH.pattern)) is not None:
        flags = get(SH.flags)
        pat = Literal(str(v)).n3()
        rx = f"REGEX(STR(?v), {pat}, {Literal(str(flags)).n3()})" if flags else f"REGEX(STR(?v), {pat})"
        add("Pattern", f"{vpat} FILTER(isBlank(?v) || !{rx})")
        checks[-1].refine = ("pattern", "Pattern", (str(v), str(flags or "")))
    if (v := get(SH["in"])) is not None:
        members = list(Collection(shapes, v))
        add("In", f"{vpat} FILTER(" + (" && ".join(f"!sameTerm(?v, {_n3(m)})" for m in members) or "true") + ")")
    if (v := get(SH.hasValue)) is not None:
        if path_str:
            q = f"SELECT DISTINCT ?this WHERE {{ {target} FILTER NOT EXISTS {{ ?this {path_str} {_n3(v)} }} }}"
            checks.append(_Check(shape_id, severity, "HasValue", q, path_str, msg("HasValue"), lateral=q, target=target))
        else:
            add("HasValue", f"FILTER(!sameTerm(?this, {_n3(v)}))", select="?this")
    if (v := get(SH.minLength)) is not None:
        add("MinLength", f"{vpat} FILTER(isBlank(?v) || STRLEN(STR(?v)) < {int(v)})")
    if (v := get(SH.maxLength)) is not None:
        add("MaxLength", f"{vpat} FILTER(isBlank(?v) || STRLEN(STR(?v)) > {int(v)})")
    for pred, comp, op in ((SH.minInclusive, "MinInclusive", ">="), (SH.maxInclusive, "MaxInclusive", "<="),
                           (SH.minExclusive, "MinExclusive", ">"), (SH.maxExclusive, "MaxExclusive", "<")):
        if (v := get(pred)) is not None:
            # the values SPARQL surely finds in range are left out; pyshacl's comparison decides the others
            add(comp, f"{vpat} FILTER(!({_surely(op, '?v', _n3(v))}))")
            checks[-1].refine = ("range", comp, v)
    if (v := get(SH.languageIn)) is not None:
        langs = [str(x) for x in Collection(shapes, v)]
        add("LanguageIn", f"{vpat} FILTER(!(" + " || ".join(f'langMatches(lang(?v), "{x}")' for x in langs) + "))")
    if get(SH.uniqueLang) == Literal(True) and path_str:
        # COUNT(DISTINCT): a label repeated in two named graphs is one value node
        values = f"?this {path_str} ?v . FILTER(lang(?v) != \"\")"
        having = "GROUP BY ?this lang(?v) HAVING (COUNT(DISTINCT ?v) > 1)"
        checks.append(_Check(shape_id, severity, "UniqueLang",
                             f"SELECT ?this ?lang WHERE {{ {target} {{ SELECT ?this (SAMPLE(lang(?v)) AS ?lang) "
                             f"WHERE {{ {values} }} {having} }} }}", path_str,
                             msg("UniqueLang", "Plusieurs valeurs dans une même langue", "Several values in one language"),
                             lateral=f"SELECT ?this (SAMPLE(lang(?v)) AS ?lang) WHERE {{ {target} LATERAL {{ {values} }} }} "
                                     f"{having}", target=target))
    for pred, comp, op in ((SH.lessThan, "LessThan", "<"), (SH.lessThanOrEquals, "LessThanOrEquals", "<=")):
        if (v := get(pred)) is not None:
            add(comp, f"{vpat} ?this <{v}> ?o . FILTER(!({_surely(op, '?v', '?o')}))", select="?this ?v ?o")
            checks[-1].refine = ("pair", comp, None)
    if (v := get(SH.equals)) is not None:
        add("Equals", f"{{ {vpat} FILTER NOT EXISTS {{ ?this <{v}> ?v }} }} UNION "
                      f"{{ ?this <{v}> ?v . FILTER NOT EXISTS {{ {vpat} }} }}")
    if (v := get(SH.disjoint)) is not None:
        add("Disjoint", f"{vpat} ?this <{v}> ?v .")
    return checks


#: Datatypes whose SPARQL order is pyshacl's (rdflib's) for two literals of that same datatype.
_SAME_ORDER = (XSD.integer, XSD.decimal, XSD.string)


def _surely(op: str, a: str, b: str) -> str:
    """A SPARQL expression true only where ``a op b`` holds both for SPARQL and for pyshacl: two literals of one
    datatype whose orders agree (integers, decimals, strings, ``YYYY-MM-DD`` dates) and SPARQL's comparison true.
    Elsewhere (other or mixed datatypes, IRIs, ill-typed values) rdflib orders what SPARQL cannot compare (by
    datatype IRI…): those pairs are decided in Python, as pyshacl does (:func:`_refined`)."""
    same = " || ".join(f"datatype({a}) = <{d}>" for d in _SAME_ORDER)
    return (f"COALESCE(isLiteral({a}) && isLiteral({b}) && datatype({a}) = datatype({b}) && ({same} || "
            f"(datatype({a}) = <{XSD.date}> && STRLEN(STR({a})) = 10 && STRLEN(STR({b})) = 10)) && {a} {op} {b}, false)")


#: Lexical forms both oxigraph and rdflib read as a valid value of the datatype (pyshacl's datatype test).
_PLAIN_FORMS = {XSD.integer: r"^[+-]?[0-9]+$", XSD.decimal: r"^[+-]?[0-9]+(\.[0-9]+)?$",
                XSD.boolean: r"^(true|false)$", XSD.gYear: r"^[0-9]{4}$", XSD.date: r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                XSD.dateTime: r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"}


def _surely_typed(var: str, datatype) -> str:
    """A SPARQL expression true only for values pyshacl surely finds of *datatype*: a literal of that datatype
    with a plain lexical form (a valid date for dates). The others are decided in Python (:func:`_refined`)."""
    if datatype == XSD.string:
        return f"COALESCE(isLiteral({var}) && datatype({var}) = <{XSD.string}>, false)"
    if datatype == RDF.langString:
        return f"COALESCE(isLiteral({var}) && lang({var}) != \"\", false)"
    form = _PLAIN_FORMS.get(datatype)
    if form is None:
        return "false"
    cast = f" && isLiteral(<{datatype}>(STR({var})))" if datatype in (XSD.date, XSD.dateTime) else ""
    return (f"COALESCE(isLiteral({var}) && datatype({var}) = <{datatype}> && REGEX(STR({var}), "
            f"{Literal(form).n3()}){cast}, false)")


def _pyshacl_datatype_ok(value, datatype) -> bool:
    """pyshacl 0.40's ``DatatypeConstraintComponent`` test of one value node."""
    import datetime as dt
    from decimal import Decimal
    if not isinstance(value, Literal):
        return False
    if value.datatype == datatype or (value.datatype is None and value.language is None and datatype == XSD.string) \
            or (datatype == RDF.langString and value.language):
        if value.datatype == datatype and getattr(value, "ill_typed", None) is True:
            return False
        kinds = {XSD.string: (str, bytes), RDF.langString: (str, bytes), XSD.integer: int, XSD.float: float,
                 XSD.decimal: Decimal, XSD.boolean: bool, XSD.date: dt.date, XSD.time: dt.time,
                 XSD.dateTime: dt.datetime}
        return datatype not in kinds or isinstance(value.value, kinds[datatype])
    return datatype == RDFS.Literal or (datatype == RDFS.Datatype and value.datatype is not None)


def _refined(chk: _Check, value, other) -> bool:
    """Whether the candidate *value* (rdflib term) violates *chk*, decided as pyshacl 0.40 does (its Python
    comparisons of rdflib terms: ``value_range_constraints``, ``property_pair_constraints``, ``Datatype`` and
    ``Pattern`` components)."""
    kind, comp, bound = chk.refine
    if kind == "datatype":
        return not _pyshacl_datatype_ok(value, bound)
    if kind == "pattern":
        if isinstance(value, BNode):
            return True
        pattern, flags = bound
        rx = re.compile(pattern, (re.I if "i" in flags.lower() else 0) | (re.M if "m" in flags.lower() else 0))
        text = str(value.value) if isinstance(value, Literal) and value.value is not None and \
            value.datatype in (None, RDF.langString, XSD.string) else str(value)
        return not (rx.match(text) or rx.search(text))
    if kind == "range":
        from pyshacl.rdfutil.compare import compare_literal  # only for candidates: pyshacl is slow to import
        if not isinstance(value, Literal) or isinstance(bound.value, str) != isinstance(value.value, str):
            return True
        try:
            c = compare_literal(value, bound)
        except (TypeError, NotImplementedError):
            return True
        return not {"MinInclusive": c >= 0, "MinExclusive": c > 0, "MaxInclusive": c <= 0, "MaxExclusive": c < 0}[comp]
    a, b = value, other  # sh:lessThan / sh:lessThanOrEquals: IRIs and strings compare as Python strings
    a_str, b_str = isinstance(a, URIRef) or (isinstance(a, Literal) and isinstance(a.value, str)), \
        isinstance(b, URIRef) or (isinstance(b, Literal) and isinstance(b.value, str))
    if a_str != b_str:
        return True
    if a_str:
        a, b = (str(a) if isinstance(a, URIRef) else a.value), (str(b) if isinstance(b, URIRef) else b.value)
    return not (a < b if comp == "LessThan" else a <= b)


_fresh = itertools.count()


def _cond(shapes: rdflib.Graph, node, var: str, skip=()) -> str | None:
    """A SPARQL boolean expression: *var* conforms to the value constraints of *node* but those in *skip*
    (``None`` when *node* has a constraint this cannot express)."""
    parts = []
    for p, o in shapes.predicate_objects(node):
        if p in NON_CONSTRAINTS or p in skip or not str(p).startswith(str(SH)):
            continue
        if p == SH.languageIn:
            parts.append("(" + " || ".join(f'langMatches(lang({var}), "{x}")' for x in Collection(shapes, o)) + ")")
        elif p == SH["class"]:
            parts.append(f"EXISTS {{ {var} <{RDF.type}>/<{RDFS.subClassOf}>* <{o}> }}")
        elif p == SH.datatype:
            parts.append(f"(isLiteral({var}) && datatype({var}) = <{o}>)")
        elif p == SH.nodeKind:
            parts.append({SH.IRI: f"isIRI({var})", SH.Literal: f"isLiteral({var})", SH.BlankNode: f"isBlank({var})",
                          SH.BlankNodeOrIRI: f"!isLiteral({var})", SH.BlankNodeOrLiteral: f"!isIRI({var})",
                          SH.IRIOrLiteral: f"!isBlank({var})"}[o])
        elif p == SH.pattern:
            flags = shapes.value(node, SH.flags)
            parts.append(f"(!isBlank({var}) && REGEX(STR({var}), {Literal(str(o)).n3()}"
                         + (f", {Literal(str(flags)).n3()}" if flags else "") + "))")
        elif p == SH["in"]:
            parts.append("(" + (" || ".join(f"sameTerm({var}, {_n3(m)})" for m in Collection(shapes, o)) or "false") + ")")
        elif p == SH.hasValue:
            parts.append(f"sameTerm({var}, {_n3(o)})")
        elif p == SH.minLength:
            parts.append(f"(!isBlank({var}) && STRLEN(STR({var})) >= {int(o)})")
        elif p == SH.maxLength:
            parts.append(f"(!isBlank({var}) && STRLEN(STR({var})) <= {int(o)})")
        elif p in (SH.minInclusive, SH.maxInclusive, SH.minExclusive, SH.maxExclusive):
            op = {SH.minInclusive: ">=", SH.maxInclusive: "<=", SH.minExclusive: ">", SH.maxExclusive: "<"}[p]
            parts.append(f"COALESCE({var} {op} {_n3(o)}, false)")
        elif p in (SH.flags,):
            continue
        else:
            return None
    return " && ".join(parts) if parts else "true"


def _member_cond(shapes: rdflib.Graph, member) -> str | None:
    """A SPARQL boolean expression: ``?this`` conforms to the logical member *member* (a node shape with
    value constraints, or a property shape with ``minCount 1`` / ``maxCount 0`` / value constraints)."""
    path = shapes.value(member, SH.path)
    if path is None:
        return _cond(shapes, member, "?this")
    try:
        p = _path(shapes, path)
    except ValueError:
        return None
    v = f"?_m{next(_fresh)}"
    parts = []
    min_count, max_count = shapes.value(member, SH.minCount), shapes.value(member, SH.maxCount)
    if min_count is not None:
        if int(min_count) > 1:
            return None
        if int(min_count) == 1:
            parts.append(f"EXISTS {{ ?this {p} {v} }}")
    if max_count is not None:
        if int(max_count) != 0:
            return None
        parts.append(f"NOT EXISTS {{ ?this {p} {v} }}")
    rest = rdflib.Graph()
    for pred, obj in shapes.predicate_objects(member):
        if pred not in (SH.minCount, SH.maxCount, SH.path):
            rest.add((member, pred, obj))
    for t in shapes.triples((None, None, None)):  # lists used by sh:in / sh:languageIn
        if t[0] != member:
            rest.add(t)
    cond = _cond(rest, member, v)
    if cond is None:
        return None
    if cond != "true":
        parts.append(f"NOT EXISTS {{ ?this {p} {v} . FILTER(!({cond})) }}")
    return " && ".join(parts) if parts else "true"


def _logical_checks(shapes, shape_id, severity, target, node, msgs) -> list[_Check] | None:
    checks = []
    for pred, combine in ((SH["or"], " || "), (SH["and"], " && ")):
        for lst in shapes.objects(node, pred):
            conds = [_member_cond(shapes, m) for m in Collection(shapes, lst)]
            if any(c is None for c in conds):
                return None
            comp = "Or" if pred == SH["or"] else "And"
            checks.append(_Check(shape_id, severity, comp,
                                 f"SELECT DISTINCT ?this WHERE {{ {target} FILTER(!(" + combine.join(f"({c})" for c in conds) + ")) }",
                                 None, msgs or {"fr": f"Contrainte {comp} non respectée", "en": f"{comp} constraint not met"}))
    for member in shapes.objects(node, SH["not"]):
        cond = _member_cond(shapes, member)
        if cond is None:
            return None
        checks.append(_Check(shape_id, severity, "Not", f"SELECT DISTINCT ?this WHERE {{ {target} FILTER({cond}) }}",
                             None, msgs or {"fr": "Contrainte Not non respectée", "en": "Not constraint not met"}))
    return checks


def _qualified_checks(shapes, shape_id, severity, target, path_str, node, msgs) -> list[_Check] | None:
    q = shapes.value(node, SH.qualifiedValueShape)
    if q is None:
        return []
    if shapes.value(node, SH.qualifiedValueShapesDisjoint) == Literal(True):
        return None  # depends on the sibling shapes: left to pyshacl
    cond = _cond(shapes, q, "?v")
    rest = _cond(shapes, q, "?v", skip={SH["class"]})
    if cond is None or rest is None:
        return None
    # bulk: sh:class of the qualified shape is a join with the class members (one DISTINCT sub-SELECT,
    # hash-joined), not an EXISTS per value (a property-path walk for each)
    bulk = f"?this {path_str} ?v ." + "".join(
        f" {{ SELECT DISTINCT ?v WHERE {{ ?v <{RDF.type}>/<{RDFS.subClassOf}>* <{c}> }} }}"
        for c in sorted(shapes.objects(q, SH["class"])))
    if rest != "true":
        bulk += f" FILTER({rest})"
    # focus by focus without sh:class only: its EXISTS walks the class hierarchy once per value
    per_focus = None if (q, SH["class"], None) in shapes else (
        f"?this {path_str} ?v ." + (f" FILTER({cond})" if cond != "true" else ""))
    checks = []
    for pred, comp, op in ((SH.qualifiedMinCount, "QualifiedMinCount", "<"), (SH.qualifiedMaxCount, "QualifiedMaxCount", ">")):
        n = shapes.value(node, pred)
        if n is None or (op == "<" and int(n) <= 0):
            continue
        having = f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) {op} {int(n)})"
        if op == "<" and int(n) == 1:
            query = f"SELECT DISTINCT ?this WHERE {{ {target} MINUS {{ {bulk} }} }}"
            lateral = per_focus and f"SELECT DISTINCT ?this WHERE {{ {target} FILTER NOT EXISTS {{ {per_focus} }} }}"
        elif op == "<":
            query = f"SELECT ?this WHERE {{ {target} OPTIONAL {{ {bulk} }} }} {having}"
            lateral = None
        else:
            query = f"SELECT ?this WHERE {{ {target} {{ SELECT ?this WHERE {{ {bulk} }} {having} }} }}"
            lateral = per_focus and f"SELECT ?this WHERE {{ {target} LATERAL {{ {per_focus} }} }} {having}"
        checks.append(_Check(shape_id, severity, comp, query, path_str,
                             msgs or {"fr": f"Contrainte {comp} non respectée", "en": f"{comp} constraint not met"},
                             lateral=lateral, target=target))
    return checks


# -- rewriting SPARQL for oxigraph -------------------------------------------------------------------------
#
# oxigraph (0.5) evaluates a join of two patterns as a loop of index lookups in the order written, a
# ``FILTER (NOT) EXISTS`` once per outer solution with a plan made without knowing which variables the outer
# solution binds (354 s for NsfCodeParentShape at 25,000 fiches, against 1 s as a MINUS), and a join with a
# UNION or a property path as a loop too; a sub-SELECT is evaluated once and hash-joined. The rewrites below
# turn a query into an equivalent one (same solutions, same multiplicities) that oxigraph evaluates well; each
# applies only where the equivalence is proved by the group's structure, otherwise the text is left as it is.
# They work on the query text: a small scanner that knows strings, IRIs, comments and brackets splits a
# group graph pattern into its elements (triples, groups, UNIONs, sub-SELECTs, FILTER, BIND, OPTIONAL, MINUS,
# VALUES, GRAPH, SERVICE).

_IRI_RE = re.compile(r'<[^<>"{}|^`\\\x00-\x20]*>')
_WORD_RE = re.compile(r"[A-Za-z]+")
_VAR_RE = re.compile(r"[?$](\w+)")
_GROUP_KEYWORDS = {"FILTER", "OPTIONAL", "MINUS", "BIND", "VALUES", "GRAPH", "SERVICE"}
_CLOSERS = {"{": "}", "(": ")", "[": "]"}


def _skip_atom(text: str, i: int) -> int:
    """Index after the string, IRI or comment starting at *i* (*i* itself when none starts there)."""
    c = text[i]
    if c == "#":
        j = text.find("\n", i)
        return len(text) if j < 0 else j + 1
    if c in "\"'":
        quote = c * 3 if text.startswith(c * 3, i) else c
        j = i + len(quote)
        while j < len(text):
            if text[j] == "\\":
                j += 2
            elif text.startswith(quote, j):
                return j + len(quote)
            else:
                j += 1
        return len(text)
    if c == "<":
        m = _IRI_RE.match(text, i)
        return m.end() if m else i
    return i


def _close(text: str, i: int) -> int:
    """Index after the bracket matching the one at *i* (``{``, ``(`` or ``[``)."""
    stack = [_CLOSERS[text[i]]]
    j = i + 1
    while j < len(text):
        k = _skip_atom(text, j)
        if k != j:
            j = k
            continue
        c = text[j]
        if c in _CLOSERS:
            stack.append(_CLOSERS[c])
        elif c in "})]":
            if c != stack.pop():
                raise ValueError("unbalanced brackets")
            if not stack:
                return j + 1
        j += 1
    raise ValueError("unbalanced brackets")


def _skip_blank(text: str, i: int, end: int, dots: bool = False) -> int:
    while i < end:
        if text[i].isspace() or (dots and text[i] == "."):
            i += 1
        elif text[i] == "#":
            i = _skip_atom(text, i)
        else:
            break
    return i


def _keyword_at(text: str, i: int) -> str | None:
    """The SPARQL keyword (upper case) starting at *i*, if a whole word starts there."""
    if i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_:?$-"):
        return None
    m = _WORD_RE.match(text, i)
    if not m or (m.end() < len(text) and (text[m.end()].isalnum() or text[m.end()] in "_:-")):
        return None
    return m.group(0).upper()


def _find_open(text: str, i: int, end: int) -> int:
    """Position of the next ``{`` at bracket depth 0 from *i* (strings, IRIs and comments skipped)."""
    while i < end:
        k = _skip_atom(text, i)
        if k != i:
            i = k
        elif text[i] == "{":
            return i
        elif text[i] in "([":
            i = _close(text, i)
        else:
            i += 1
    raise ValueError("no group")


def _vars(text: str, start: int = 0, end: int | None = None) -> set[str]:
    """Names of the variables used in ``text[start:end]`` (outside strings, IRIs and comments)."""
    end = len(text) if end is None else end
    out, i = set(), start
    while i < end:
        k = _skip_atom(text, i)
        if k != i:
            i = k
            continue
        if text[i] in "?$":
            m = _VAR_RE.match(text, i)
            if m and m.end() <= end:
                out.add(m.group(1))
                i = m.end()
                continue
        i += 1
    return out


@dataclass
class _El:
    """One element of a group graph pattern: ``text[start:end]``."""

    kind: str  # triples group union select filter bind optional minus values graph service
    start: int
    end: int
    inner: tuple[int, int] | None = None  # content of the braces (group, select, optional, minus, graph)
    branches: tuple = ()  # contents of a UNION's groups
    expr: tuple[int, int] | None = None  # a FILTER's expression, a BIND's parenthesised text


def _elements(text: str, s: int, e: int) -> list[_El]:
    """Split the content ``text[s:e]`` of a group graph pattern into its elements."""
    out: list[_El] = []
    i = _skip_blank(text, s, e, dots=True)
    while i < e:
        c = text[i]
        kw = _keyword_at(text, i) if c.isalpha() else None
        if c == "{":
            j = _close(text, i)
            spans = [(i + 1, j - 1)]
            k = _skip_blank(text, j, e)
            while k < e and _keyword_at(text, k) == "UNION":
                b = _skip_blank(text, k + 5, e)
                j = _close(text, b)
                spans.append((b + 1, j - 1))
                k = _skip_blank(text, j, e)
            if len(spans) > 1:
                out.append(_El("union", i, j, branches=tuple(spans)))
            else:
                first = _skip_blank(text, i + 1, j - 1)
                kind = "select" if _keyword_at(text, first) == "SELECT" else "group"
                out.append(_El(kind, i, j, inner=spans[0]))
            i = j
        elif kw == "FILTER":
            k = _skip_blank(text, i + 6, e)
            if text[k] == "(":
                j = _close(text, k)
            elif _keyword_at(text, k) in ("NOT", "EXISTS"):
                j = _close(text, _find_open(text, k, e))
            else:  # FILTER regex(…), FILTER <iri>(…), FILTER prefix:name(…)
                j = k
                while j < e and text[j] != "(":
                    nj = _skip_atom(text, j)
                    j = nj if nj != j else j + 1
                j = _close(text, j)
            out.append(_El("filter", i, j, expr=(k, j)))
            i = j
        elif kw in ("OPTIONAL", "MINUS", "GRAPH", "SERVICE"):
            o = _find_open(text, i + len(kw), e)
            j = _close(text, o)
            out.append(_El(kw.lower(), i, j, inner=(o + 1, j - 1), expr=(i + len(kw), o)))
            i = j
        elif kw == "BIND":
            o = _skip_blank(text, i + 4, e)
            j = _close(text, o)
            out.append(_El("bind", i, j, expr=(o, j)))
            i = j
        elif kw == "VALUES":
            o = _find_open(text, i + 6, e)
            j = _close(text, o)
            out.append(_El("values", i, j, inner=(o + 1, j - 1), expr=(i + 6, o)))
            i = j
        else:  # triples, up to the next group or keyword
            j = i
            while j < e:
                k = _skip_atom(text, j)
                if k != j:
                    j = k
                elif text[j] in "([":
                    j = _close(text, j)
                elif text[j] == "{" or (text[j].isalpha() and _keyword_at(text, j) in _GROUP_KEYWORDS | {"UNION"}):
                    break
                else:
                    j += 1
            end = j
            while end > i and (text[end - 1].isspace() or text[end - 1] == "."):
                end -= 1
            if _keyword_at(text, i) == "UNION" or end == i:
                raise ValueError("unexpected text in a group")
            out.append(_El("triples", i, end))
            i = j
        i = _skip_blank(text, i, e, dots=True)
    return out


def _select_where(text: str, el: _El) -> tuple[int, int]:
    """Content span of a sub-SELECT's WHERE group."""
    o = _find_open(text, el.inner[0], el.inner[1])
    return o + 1, _close(text, o) - 1


def _bound(text: str, el: _El, certain_before: set[str]) -> tuple[set[str], set[str]]:
    """``(certainly bound, possibly bound)`` variables of one element's solutions."""
    if el.kind == "triples":
        v = _vars(text, el.start, el.end)
        return v, v
    if el.kind == "group":
        return _group_bound(text, *el.inner)
    if el.kind == "union":
        pairs = [_group_bound(text, *b) for b in el.branches]
        return set.intersection(*(p[0] for p in pairs)), set.union(*(p[1] for p in pairs))
    if el.kind == "graph":
        certain, possible = _group_bound(text, *el.inner)
        name = _vars(text, *el.expr)
        return certain | name, possible | name
    if el.kind == "optional":
        return set(), _group_bound(text, *el.inner)[1]
    if el.kind == "service":
        return set(), _vars(text, el.start, el.end)
    if el.kind == "values":
        names = _vars(text, *el.expr)
        undef = re.search(r"\bUNDEF\b", text[el.inner[0]:el.inner[1]], re.I)
        return (set() if undef else names), names
    if el.kind == "bind":
        m = re.fullmatch(r"\(\s*(.*?)\s+AS\s+[?$](\w+)\s*\)", text[el.expr[0]:el.expr[1]], re.I | re.S)
        if m is None:
            return set(), set()
        source = re.fullmatch(r"[?$](\w+)", m.group(1).strip())
        return ({m.group(2)} if source and source.group(1) in certain_before else set()), {m.group(2)}
    if el.kind == "select":
        ws, we = _select_where(text, el)
        head = text[el.inner[0]:ws - 1]
        certain, possible = _group_bound(text, ws, we)
        if re.search(r"\bSELECT\s+(DISTINCT\s+|REDUCED\s+)?\*", head, re.I):
            return certain, possible
        plain, projected, depth = set(), set(), 0
        for m in re.finditer(r"[()]|[?$](\w+)|\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'", head):
            if m.group(0) == "(":
                depth += 1
            elif m.group(0) == ")":
                depth -= 1
            elif m.group(1):
                projected.add(m.group(1))
                if depth == 0:
                    plain.add(m.group(1))
        tail = text[we + 1:el.inner[1]]
        if re.search(r"\bGROUP\s+BY\b", tail, re.I):
            keys = _vars(tail)
            return plain & certain & keys, projected
        return plain & certain, projected
    return set(), set()  # filter, minus


def _fold(text: str, els: list[_El]) -> list[tuple[set[str], set[str]]]:
    """Per element: (certainly bound, possibly bound) by the elements up to and including it."""
    out, certain, possible = [], set(), set()
    for el in els:
        c, p = _bound(text, el, certain)
        certain, possible = certain | c, possible | p
        out.append((set(certain), set(possible)))
    return out


def _group_bound(text: str, s: int, e: int) -> tuple[set[str], set[str]]:
    folded = _fold(text, _elements(text, s, e))
    return folded[-1] if folded else (set(), set())


def _simple(text: str, s: int, e: int) -> bool:
    """A pattern evaluated the same with or without outer bindings: triples, UNIONs and groups of such, and
    FILTERs (without EXISTS) over variables their own group always binds."""
    els = _elements(text, s, e)
    certain = _fold(text, els)[-1][0] if els else set()
    for el in els:
        if el.kind in ("group",) and not _simple(text, *el.inner):
            return False
        if el.kind == "union" and not all(_simple(text, *b) for b in el.branches):
            return False
        if el.kind == "filter":
            expr = text[el.expr[0]:el.expr[1]]
            if re.search(r"\bEXISTS\b", expr, re.I) or not _vars(expr) <= certain:
                return False
        if el.kind not in ("triples", "group", "union", "filter"):
            return False
    return True


_EXISTS_RE = re.compile(r"\(?\s*(NOT\s+)?EXISTS\s*\{", re.I)


def _rewrite_group(text: str, s: int, e: int, rules: frozenset) -> str:
    """New text for the content ``text[s:e]`` of a group evaluated on its own (a query's WHERE, a UNION
    branch, a MINUS or sub-SELECT body)."""
    els = _elements(text, s, e)
    if not els:
        return text[s:e]
    folded = _fold(text, els)
    new = {i: text[el.start:el.end] for i, el in enumerate(els)}
    after: dict[int, list[str]] = {}
    for i, el in enumerate(els):
        if el.kind == "union":
            body = _splice(text, el.start, el.end, [(bs, be, _rewrite_group(text, bs, be, rules)) for bs, be in el.branches])
            new[i] = "{ SELECT * WHERE { " + body + " } }" if "union" in rules and len(els) > 1 else body
        elif el.kind in ("group", "minus"):
            new[i] = _splice(text, el.start, el.end, [(*el.inner, _rewrite_group(text, *el.inner, rules))])
        elif el.kind == "select":
            ws, we = _select_where(text, el)
            grouped = _prefilter_groups(text, el, ws, we, rules) if "having" in rules else None
            new[i] = grouped or _splice(text, el.start, el.end, [(ws, we, _rewrite_group(text, ws, we, rules))])
        elif el.kind == "filter":
            expr = text[el.expr[0]:el.expr[1]]
            m = _EXISTS_RE.match(expr)
            if not m:
                continue
            negated = bool(m.group(1))
            if ("minus" if negated else "exists") not in rules:
                continue
            o = el.expr[0] + m.end() - 1
            c = _close(text, o)
            rest = text[c:el.expr[1]].strip()
            if rest != (")" if expr.lstrip().startswith("(") else ""):
                continue  # EXISTS inside a larger expression
            ps, pe = o + 1, c - 1
            if not _simple(text, ps, pe):
                continue
            others = set().union(*(_bound(text, x, set())[1] for j, x in enumerate(els) if j != i))
            shared = _vars(text, ps, pe) & others
            if not shared or not shared <= _group_bound(text, ps, pe)[0]:
                continue
            # the last element that may bind a shared variable not already certainly bound before it
            last = max(j for j, x in enumerate(els) if j != i and (_bound(text, x, set())[1] & shared)
                       - (folded[j - 1][0] if j else set()))
            certain = folded[last][0]
            inner = _rewrite_group(text, ps, pe, rules)
            if negated:
                repl = "MINUS {" + inner + "}"
                if not shared & certain:  # all shared variables may be unbound: keep NOT EXISTS for those rows
                    after.setdefault(len(els) - 1, []).append(
                        "FILTER (" + " || ".join(f"BOUND(?{v})" for v in sorted(shared)) + " || NOT EXISTS {"
                        + text[ps:pe] + "})")
            else:
                if not shared <= certain:
                    continue
                repl = "{ SELECT DISTINCT " + " ".join(f"?{v}" for v in sorted(shared)) + " WHERE {" + inner + "} }"
            if i > last:
                new[i] = repl
            else:
                new[i] = ""
                after.setdefault(last, []).append(repl)
    pieces, pos = [], s
    for i, el in enumerate(els):
        pieces.append(text[pos:el.start])
        pieces.append(new[i])
        for extra in after.get(i, []):
            pieces.append(" " + extra)
        pos = el.end
    pieces.append(text[pos:e])
    return "".join(pieces)


_AGGREGATE_RE = re.compile(r"\b(COUNT|SUM|AVG|MIN|MAX|SAMPLE|GROUP_CONCAT)\s*\(", re.I)
_GROUP_TAIL_RE = re.compile(r"\s*GROUP\s+BY\s+((?:[?$]\w+\s*)+)HAVING\s*(\(.*\))\s*", re.I | re.S)


def _prefilter_groups(text: str, el: _El, ws: int, we: int, rules) -> str | None:
    """A grouped sub-SELECT whose HAVING only counts what the leading patterns bind, computed first on those
    patterns alone, the rest of the group then evaluated for the groups that pass only.

    ``{ SELECT … WHERE { C E } GROUP BY K HAVING (H) }`` where *C* are joined patterns (triples, groups, UNIONs,
    sub-SELECTs) certainly binding the keys *K*, *E* only OPTIONALs and BINDs (they never remove a row, at most
    repeat it), and *H* only ``COUNT(DISTINCT ?x)``, ``MIN(?x)``, ``MAX(?x)`` of variables *C* binds: *H* has the
    same value on *C*'s rows as on the group's, so

    ``{ SELECT … WHERE { { SELECT K WHERE { C } GROUP BY K HAVING (H) } LATERAL { C E } } GROUP BY K HAVING (H) }``

    has the same solutions, *E* (lookups for the labels of a message…) being evaluated for the groups kept only.
    """
    m = _GROUP_TAIL_RE.fullmatch(text, we + 1, el.inner[1])
    if not m:
        return None
    keys, having = _vars(m.group(1)), m.group(2)
    els = _elements(text, ws, we)
    core = 0
    while core < len(els) and els[core].kind in ("triples", "group", "union", "select", "values"):
        core += 1
    if not core or any(x.kind not in ("optional", "bind") for x in els[core:]):
        return None
    certain = _fold(text, els[:core])[-1][0]
    calls = list(_AGGREGATE_RE.finditer(having))
    for call in calls:
        arg = having[call.end():_close(having, call.end() - 1) - 1].strip()
        name = call.group(1).upper()
        am = re.fullmatch(r"(DISTINCT\s+)?[?$](\w+)", arg, re.I)
        if not am or am.group(2) not in certain or (name == "COUNT" and not am.group(1)) or name not in ("COUNT", "MIN", "MAX"):
            return None
    if not calls or not keys <= certain or not _vars(having) <= certain | keys:
        return None
    key_list = " ".join(f"?{k}" for k in sorted(keys))
    core_text = _rewrite_group(text, ws, els[core - 1].end, rules)
    inner = (f" {{ SELECT {key_list} WHERE {{ {core_text} }} GROUP BY {key_list} HAVING {having} }}"
             f" LATERAL {{ {text[ws:we]} }} ")
    return text[el.start:ws] + inner + text[we:el.inner[1]] + "}"


def _splice(text: str, start: int, end: int, replacements) -> str:
    out, pos = [], start
    for s, e, repl in sorted(replacements):
        out.append(text[pos:s])
        out.append(repl)
        pos = e
    out.append(text[pos:end])
    return "".join(out)


#: Every rewrite: ``minus`` (FILTER NOT EXISTS → MINUS), ``exists`` (FILTER EXISTS → join with a DISTINCT
#: sub-SELECT), ``union`` (a UNION joined with other patterns → a sub-SELECT, hash-joined), ``having`` (a
#: grouped sub-SELECT: the groups passing HAVING found first, see :func:`_prefilter_groups`).
REWRITES = frozenset({"minus", "exists", "union", "having"})


def optimize_query(query: str, rules=REWRITES) -> str:
    """*query* rewritten for oxigraph (same solutions), or unchanged where a rewrite is not provably equivalent.

    * ``FILTER NOT EXISTS { P }`` becomes ``MINUS { P }`` (a hash anti-join) when *P* is a plain pattern
      (triples, UNION, FILTERs over *P*'s own variables) that always binds the variables it shares with its
      group; the MINUS goes where those variables are bound. When all of them may be unbound (bound by BIND
      or OPTIONAL), the rows where they are is still checked with the NOT EXISTS (``FILTER (BOUND(?x) || NOT
      EXISTS { P })``), so the result is the same.
    * ``FILTER EXISTS { P }`` becomes a join with ``{ SELECT DISTINCT <shared> WHERE { P } }`` under the same
      conditions, the shared variables being certainly bound.
    * a UNION joined with other patterns becomes ``{ SELECT * WHERE { … UNION … } }``.

    Groups inside OPTIONAL, (NOT) EXISTS and SERVICE are left as they are (their FILTERs see outer bindings).
    A query the scanner cannot split is returned unchanged.
    """
    try:
        o = _find_open(query, 0, len(query))
        c = _close(query, o)
        return query[:o + 1] + _rewrite_group(query, o + 1, c - 1, frozenset(rules)) + query[c - 1:]
    except (ValueError, IndexError, KeyError):
        return query


def minus_rewrite(query: str) -> str:
    """Only the ``FILTER NOT EXISTS`` → ``MINUS`` rewrite of :func:`optimize_query`."""
    return optimize_query(query, {"minus"})


def compile_shapes(shapes: rdflib.Graph) -> tuple[list[_Check], list]:
    """``(checks, unsupported shapes)``: one SPARQL SELECT per constraint of every active node shape."""
    checks: list[_Check] = []
    unsupported = []
    node_shapes = set(shapes.subjects(RDF.type, SH.NodeShape))
    for pred in (SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf, SH.targetNode):
        node_shapes |= {s for s in shapes.subjects(pred, None) if not shapes.value(s, SH.path)}
    for shape in sorted(node_shapes, key=str):
        if shapes.value(shape, SH.deactivated) == Literal(True):
            continue
        target = _targets(shapes, shape)
        if target is None:
            continue
        props = list(shapes.objects(shape, SH.property))
        used = {p for node in [shape, *props] for p in shapes.predicates(node, None)}
        if any(p in used for p in UNSUPPORTED_HINT) or any(
                p not in SUPPORTED and p not in NON_CONSTRAINTS and str(p).startswith(str(SH)) for p in used):
            unsupported.append(shape)
            continue
        shape_id = str(shape)
        severity = SEVERITIES.get(shapes.value(shape, SH.severity), "Violation")
        done = len(checks)
        try:
            for prop in props:
                if shapes.value(prop, SH.deactivated) == Literal(True):
                    continue
                path_str = _path(shapes, shapes.value(prop, SH.path))
                path_iri = str(shapes.value(prop, SH.path)) if isinstance(shapes.value(prop, SH.path), URIRef) else path_str
                psev = SEVERITIES.get(shapes.value(prop, SH.severity), severity)
                msgs = _messages(shapes, prop, shape)
                qualified = _qualified_checks(shapes, str(prop) if isinstance(prop, URIRef) else shape_id, psev,
                                              target, path_str, prop, msgs)
                if qualified is None:
                    raise ValueError("qualified value shape not compiled")
                for chk in _value_checks(shapes, str(prop) if isinstance(prop, URIRef) else shape_id, psev, target,
                                         f"?this {path_str} ?v .", path_str, prop, msgs) + qualified:
                    chk.path = path_iri
                    chk.scan = tuple(sorted(set(re.findall(r"<([^<>]+)>", path_str))))
                    checks.append(chk)
                for sparql in shapes.objects(prop, SH.sparql):
                    checks.append(_sparql_check(shapes, shape_id, psev, target, sparql, path_iri))
            checks += _value_checks(shapes, shape_id, severity, target, "BIND(?this AS ?v)", None, shape,
                                    _messages(shapes, shape))
            logical = _logical_checks(shapes, shape_id, severity, target, shape, _messages(shapes, shape))
            if logical is None:
                raise ValueError("logical constraint not compiled")
            checks += logical
            for sparql in shapes.objects(shape, SH.sparql):
                if shapes.value(sparql, SH.deactivated) == Literal(True):
                    continue
                checks.append(_sparql_check(shapes, shape_id, severity, target, sparql, None))
        except (ValueError, KeyError):
            del checks[done:]  # all of the shape goes to pyshacl
            unsupported.append(shape)
    for chk in checks:
        chk.query = optimize_query(chk.query)
    return checks, unsupported


_NOT_PER_FOCUS = re.compile(r"\b(EXISTS|MINUS|LATERAL|SERVICE)\b", re.I)


def _sparql_check(shapes, shape_id, severity, target, constraint, path) -> _Check:
    select = str(shapes.value(constraint, SH.select))
    prefixes = _prefixes(shapes, constraint)
    body = select.replace("$this", "?this")
    query = f"{prefixes}\nSELECT DISTINCT * WHERE {{ {target} {{ {body} }} }}"
    # focus by focus ($this pre-bound, as SHACL-SPARQL and pyshacl do) only without (NOT) EXISTS / MINUS: oxigraph
    # plans those without knowing what is bound, a scan per focus node
    lateral = None if _NOT_PER_FOCUS.search(body) else f"{prefixes}\nSELECT DISTINCT * WHERE {{ {target} LATERAL {{ {body} }} }}"
    return _Check(shape_id, severity, "SPARQL", query, path, _messages(shapes, constraint) or
                  {"fr": "Contrainte SPARQL non respectée", "en": "SPARQL constraint not met"}, template=True,
                  lateral=lateral, target=target)


# -- evaluation -------------------------------------------------------------------------------------------

def _rdflib(term):
    """pyoxigraph term → rdflib term (``None`` stays ``None``)."""
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    return Literal(term.value, datatype=URIRef(term.datatype.value) if term.datatype else None)


def _fill(template: str, solution: dict, variables) -> str:
    def sub(m):
        name = m.group(2)
        if name == "this" or name in variables:
            term = solution.get(name)
            return term.value if term is not None else ""
        return m.group(0)
    return re.sub(r"\{([?$])(\w+)\}", sub, template)


@dataclass
class RawResult:
    """One result before it becomes a :class:`cqpm_graph.shacl.ValidationResult` (rdflib terms)."""

    focus: object
    path: object
    value: object
    severity: str
    message_fr: str
    message_en: str
    source_shape: object
    component: str


_NO_VALUE = frozenset({"MinCount", "MaxCount", "HasValue", "QualifiedMinCount", "QualifiedMaxCount", "UniqueLang"})
_FOCUS_VALUE = frozenset({"Or", "And", "Not"})


@dataclass
class CheckTiming:
    """Wall time of one compiled check (:func:`raw_results` with ``timings=[]``)."""

    shape: str
    component: str
    seconds: float
    results: int
    cpu_seconds: float = 0.0  # CPU time of the thread that ran it (oxigraph evaluates in that thread)
    lateral: bool = False  # run focus by focus (few focus nodes) rather than set-at-a-time


def _run_check(store: ox.Store, chk: _Check, query: str) -> list[RawResult]:
    """The results of one check: the query's rows, one per (focus, value), as :class:`RawResult`."""
    solutions = store.query(query, use_default_graph_as_union=True)
    names = [v.value for v in solutions.variables]
    # the rows as plain dicts, and the (thread-bound) solutions iterator released before any rdflib conversion
    # (a traceback that rdflib keeps in a log record must not hold it)
    rows = [dict(zip(names, sol)) for sol in solutions]
    del solutions
    variables = set(names)
    value_var = None if chk.component in _NO_VALUE | _FOCUS_VALUE else (
        "value" if "value" in variables else "v" if "v" in variables else None)
    source_shape = URIRef(chk.shape) if chk.shape.startswith("http") else BNode(chk.shape)
    out, seen = [], set()
    for sol in rows:  # a row is a result (the queries return violations only) or, to refine, a candidate
        focus = sol["this"]
        value = focus if chk.component in _FOCUS_VALUE else sol[value_var] if value_var else None
        if chk.component == "SPARQL" and value is None and chk.path is None:
            value = focus  # SHACL-SPARQL: a node shape's unbound ?value is the focus node
        key = (focus, value)
        if key in seen:
            continue
        if chk.refine and not _refined(chk, _rdflib(value), _rdflib(sol.get("o"))):
            continue
        seen.add(key)
        msgs = {lang: _fill(t, sol, variables) for lang, t in chk.messages.items()} if chk.template else chk.messages
        fallback = msgs.get("") or msgs.get("en") or msgs.get("fr") or ""
        path = chk.path
        if chk.template and sol.get("path") is not None:
            path = sol["path"].value
        out.append(RawResult(
            focus=_rdflib(focus), path=URIRef(path) if path and path.startswith("http") else None,
            value=_rdflib(value), severity=chk.severity, message_fr=msgs.get("fr", fallback),
            message_en=msgs.get("en", fallback), source_shape=source_shape, component=chk.component))
    return out


def default_workers() -> int:
    """Threads for :func:`raw_results`: one per core, at most 2 (pyoxigraph releases the GIL while a query
    runs and while its rows are read, so independent checks run on both cores)."""
    return max(1, min(2, os.cpu_count() or 1))


#: A check runs focus by focus (its ``lateral`` form) when its target has at most this many focus nodes…
LATERAL_MAX_FOCUS = 50_000
#: … and, for a property shape, when its path has more than this many triples per focus node: the lookups from
#: each focus node (~10 µs each) then cost less than scanning every triple of the path (~1 µs each). Measured at
#: 25,000 fiches: certifications (25k) against skos:notation (590k), focus by focus 3× faster; blocs (100k)
#: against it, even; certifications against dcterms:identifier (25k), set-at-a-time 5× faster.
LATERAL_MIN_RATIO = 8


def _count(store: ox.Store, pattern: str, limit: int) -> int:
    """Solutions of *pattern*, counted up to ``limit + 1`` (enough to choose a form)."""
    q = f"SELECT (COUNT(*) AS ?n) WHERE {{ {{ SELECT * WHERE {{ {pattern} }} LIMIT {limit + 1} }} }}"
    return int(next(iter(store.query(q, use_default_graph_as_union=True)))["n"].value)


#: How :func:`raw_results` runs a check having both forms: ``auto`` (by the sizes below), ``set`` (always
#: set-at-a-time), ``focus`` (always focus by focus). The results do not depend on it (tests run all).
FORMS = ("auto", "set", "focus")


def _per_focus(store: ox.Store, chk: _Check, form: str, counts: dict) -> bool:
    """Whether *chk* runs focus by focus: few focus nodes, and (property shapes) a path much larger."""
    if chk.lateral is None or form == "set":
        return False
    if form == "focus":
        return True
    lateral_max = LATERAL_MAX_FOCUS
    if chk.target not in counts:
        counts[chk.target] = _count(store, chk.target, lateral_max)
    size = counts[chk.target]
    if size > lateral_max:
        return False
    need = LATERAL_MIN_RATIO * max(size, 1)
    for pred in chk.scan:  # the cache holds the count and the bound it was counted up to
        n, bound = counts.get(pred, (0, -1))
        if bound < need and n > bound:
            counts[pred] = (n := _count(store, f"?s <{pred}> ?o", need), need)
        if n > need:
            return True
    return not chk.scan


def raw_results(store: ox.Store, shapes: rdflib.Graph, workers: int | None = None,
                timings: list | None = None, form: str = "auto") -> tuple[list[RawResult], list]:
    """Run every compiled check on *store*: ``(results, shapes left to pyshacl)``.

    :param workers: threads running checks side by side (default :func:`default_workers`); the results do not
        depend on it.
    :param timings: a list to which one :class:`CheckTiming` per check is appended (in the checks' order).
    :param form: see :data:`FORMS`; with ``auto`` a check having a focus-by-focus form runs it when its target
        has at most :data:`LATERAL_MAX_FOCUS` focus nodes and, for a property shape, its path more than
        :data:`LATERAL_MIN_RATIO` triples per focus node.
    :raises ValueError: for an unknown *form*.
    """
    checks, unsupported = compile_shapes(shapes)
    workers = default_workers() if workers is None else max(1, workers)
    if form not in FORMS:
        raise ValueError(f"unknown form {form!r} (one of {', '.join(FORMS)})")
    counts: dict = {}  # target and path sizes, shared by the threads (a duplicate count is harmless)

    def run(chk):
        started, cpu = time.perf_counter(), time.thread_time()
        lateral = _per_focus(store, chk, form, counts)
        rows = _run_check(store, chk, chk.lateral if lateral else chk.query)
        return rows, time.perf_counter() - started, time.thread_time() - cpu, lateral

    # the SHACL-SPARQL and qualified checks are the longest: started first, the threads end together
    order = sorted(range(len(checks)), key=lambda i: checks[i].component not in ("SPARQL", "QualifiedMinCount",
                                                                                 "QualifiedMaxCount"))
    done: dict[int, tuple] = {}
    if workers == 1:
        for i in order:
            done[i] = run(checks[i])
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shacl") as pool:
            futures = {i: pool.submit(run, checks[i]) for i in order}
            done = {i: f.result() for i, f in futures.items()}
    out: list[RawResult] = []
    for i, chk in enumerate(checks):
        rows, seconds, cpu, lateral = done[i]
        out += rows
        if timings is not None:
            timings.append(CheckTiming(chk.shape, chk.component, seconds, len(rows), cpu, lateral))
    return out, unsupported


def validate_fast(store: ox.Store, shapes: rdflib.Graph | None = None, workers: int | None = None,
                  timings: list | None = None, form: str = "auto"):
    """Validate the union of *store*'s named graphs against *shapes* (default: every ``shapes/*.ttl``).

    :returns: a :class:`cqpm_graph.shacl.ValidationReport` (``conforms`` iff no Violation), results sorted
        by severity, shape, focus node and value; its ``engine`` attribute says
        ``"oxigraph-sparql"`` or ``"oxigraph-sparql+pyshacl"`` (some shapes fell back, listed in
        ``fallback_shapes``).
    """
    from .shacl import ValidationReport, ValidationResult

    shapes = shapes if shapes is not None else load_all_shapes()
    raw, unsupported = raw_results(store, shapes, workers=workers, timings=timings, form=form)
    if unsupported:
        raw += _fallback(store, shapes, unsupported)
    order = {"Violation": 0, "Warning": 1, "Info": 2}
    raw.sort(key=lambda r: (order[r.severity], str(r.source_shape), str(r.focus), str(r.path or ""), str(r.value or "")))
    results = []
    for r in raw:
        segment, local = _segments(r.focus)
        kind = _KINDS.get(segment, ("ressource", "resource"))
        results.append(ValidationResult(
            focus_node=r.focus, path=r.path, value=r.value, severity=r.severity, message_fr=r.message_fr,
            message_en=r.message_en, source_shape=r.source_shape,
            source_constraint_component=SH[f"{r.component}ConstraintComponent"],
            focus_label=f"{kind[0]} {local}".strip(), value_label=_segments(r.value)[1] if isinstance(r.value, URIRef)
            else (str(r.value) if r.value is not None else ""),
            path_label=str(r.path) if r.path is not None else "", focus_kind=kind, focus_code=local))
    report = ValidationReport(conforms=not any(r.severity == "Violation" for r in results), results=results,
                              results_graph=_results_graph(results))
    report.engine = "oxigraph-sparql+pyshacl" if unsupported else "oxigraph-sparql"
    report.fallback_shapes = [str(s) for s in unsupported]
    return report


_KINDS = {"certification": ("certification", "certification"), "bloc": ("bloc", "block"),
          "capacite": ("capacité", "capacity"), "activite": ("activité", "activity"),
          "critere": ("critère", "criterion"), "emploi": ("emploi", "job"), "acces": ("accès", "access"),
          "enregistrement": ("enregistrement", "registration"), "organisation": ("organisation", "organisation"),
          "partenariat": ("habilitation", "habilitation")}


def _segments(node) -> tuple[str, str]:
    if isinstance(node, URIRef):
        head, _, local = str(node).rstrip("/").rpartition("/")
        return head.rpartition("/")[2], local
    return "", str(node) if node is not None else ""


def _results_graph(results) -> rdflib.Graph:
    g = rdflib.Graph()
    g.bind("sh", SH)
    report = BNode()
    g.add((report, RDF.type, SH.ValidationReport))
    g.add((report, SH.conforms, Literal(not any(r.severity == "Violation" for r in results))))
    for i, r in enumerate(results):
        node = BNode(f"r{i}")
        g.add((report, SH.result, node))
        g.add((node, RDF.type, SH.ValidationResult))
        g.add((node, SH.focusNode, r.focus_node))
        g.add((node, SH.resultSeverity, SH[r.severity]))
        if r.path is not None:
            g.add((node, SH.resultPath, r.path))
        if r.value is not None:
            g.add((node, SH.value, r.value))
        g.add((node, SH.resultMessage, Literal(r.message_fr, lang="fr")))
        g.add((node, SH.resultMessage, Literal(r.message_en, lang="en")))
        g.add((node, SH.sourceShape, r.source_shape))
        g.add((node, SH.sourceConstraintComponent, r.source_constraint_component))
    return g


def _fallback(store: ox.Store, shapes: rdflib.Graph, unsupported) -> list[RawResult]:
    """pyshacl on the same data for the shapes the compiler does not handle (the others deactivated)."""
    from .shacl import graph_from_store, validate

    g = rdflib.Graph()
    for t in shapes:
        g.add(t)
    keep = set(unsupported)
    for shape in set(shapes.subjects(RDF.type, SH.NodeShape)) | {s for s in shapes.subjects(SH.targetClass, None)}:
        if shape not in keep:
            g.set((shape, SH.deactivated, Literal(True)))
    report = validate(graph_from_store(store), g)
    return [RawResult(focus=r.focus_node, path=r.path, value=r.value, severity=r.severity, message_fr=r.message_fr,
                      message_en=r.message_en, source_shape=r.source_shape,
                      component=str(r.source_constraint_component).rsplit("#", 1)[-1].replace("ConstraintComponent", ""))
            for r in report.results]
