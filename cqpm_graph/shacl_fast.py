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
the pyshacl path); tests cross-check both engines on the real extract.
"""
from __future__ import annotations

import itertools
import re
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
    query: str
    path: str | None
    messages: dict[str, str]
    template: bool = False  # sh:sparql: messages are templates over the query's variables


def _messages(shapes, *nodes) -> dict[str, str]:
    for node in nodes:
        msgs = {(m.language or ""): str(m) for m in shapes.objects(node, SH.message)}
        if msgs:
            return msgs
    return {}


def _value_checks(shapes, shape_id, severity, target, vpat, path_str, node, msgs) -> list[_Check]:
    """Checks on the value nodes ``?v`` of a property shape (or of a node shape: ``?v`` = focus)."""
    checks = []

    def add(component, body, select="?this ?v", path=path_str, extra_msg=None):
        q = f"SELECT DISTINCT {select} WHERE {{ {target} {body} }}"
        checks.append(_Check(shape_id, severity, component, q, path,
                             msgs or {"fr": extra_msg or f"Contrainte {component} non respectée", "en": extra_msg or f"{component} constraint not met"}))

    get = lambda p: shapes.value(node, p)  # noqa: E731
    if (v := get(SH.minCount)) is not None and path_str:
        checks.append(_Check(shape_id, severity, "MinCount",
                             f"SELECT ?this WHERE {{ {target} OPTIONAL {{ ?this {path_str} ?v }} }} "
                             f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) < {int(v)})", path_str,
                             msgs or {"fr": f"Moins de {v} valeur(s)", "en": f"Less than {v} values"}))
    if (v := get(SH.maxCount)) is not None and path_str:
        checks.append(_Check(shape_id, severity, "MaxCount",
                             f"SELECT ?this WHERE {{ {target} ?this {path_str} ?v }} "
                             f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) > {int(v)})", path_str,
                             msgs or {"fr": f"Plus de {v} valeur(s)", "en": f"More than {v} values"}))
    if (v := get(SH.datatype)) is not None:
        cond = f"!isLiteral(?v) || datatype(?v) != <{v}>"
        if v in (XSD.date, XSD.integer, XSD.boolean, XSD.decimal, XSD.dateTime, XSD.gYear, XSD.double):
            cond += " || !BOUND(?_ok)"  # ill-typed lexical forms
            add("Datatype", f"{vpat} BIND(IF(isLiteral(?v) && datatype(?v) = <{v}>, <{v}>(STR(?v)), ?_none) AS ?_ok) "
                            f"FILTER({cond})")
        else:
            add("Datatype", f"{vpat} FILTER({cond})")
    if (v := get(SH["class"])) is not None:
        add("Class", f"{vpat} FILTER NOT EXISTS {{ ?v <{RDF.type}>/<{RDFS.subClassOf}>* <{v}> }}")
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
    if (v := get(SH["in"])) is not None:
        members = list(Collection(shapes, v))
        add("In", f"{vpat} FILTER(" + (" && ".join(f"!sameTerm(?v, {_n3(m)})" for m in members) or "true") + ")")
    if (v := get(SH.hasValue)) is not None:
        body = f"FILTER NOT EXISTS {{ ?this {path_str} {_n3(v)} }}" if path_str else f"FILTER(!sameTerm(?this, {_n3(v)}))"
        add("HasValue", body, select="?this")
    if (v := get(SH.minLength)) is not None:
        add("MinLength", f"{vpat} FILTER(isBlank(?v) || STRLEN(STR(?v)) < {int(v)})")
    if (v := get(SH.maxLength)) is not None:
        add("MaxLength", f"{vpat} FILTER(isBlank(?v) || STRLEN(STR(?v)) > {int(v)})")
    for pred, comp, op in ((SH.minInclusive, "MinInclusive", "<"), (SH.maxInclusive, "MaxInclusive", ">"),
                           (SH.minExclusive, "MinExclusive", "<="), (SH.maxExclusive, "MaxExclusive", ">=")):
        if (v := get(pred)) is not None:
            add(comp, f"{vpat} FILTER(!COALESCE(!(?v {op} {_n3(v)}), false))")
    if (v := get(SH.languageIn)) is not None:
        langs = [str(x) for x in Collection(shapes, v)]
        add("LanguageIn", f"{vpat} FILTER(!(" + " || ".join(f'langMatches(lang(?v), "{x}")' for x in langs) + "))")
    if get(SH.uniqueLang) == Literal(True) and path_str:
        checks.append(_Check(shape_id, severity, "UniqueLang",
                             f"SELECT ?this (SAMPLE(lang(?v)) AS ?lang) WHERE {{ {target} ?this {path_str} ?v . "
                             f"FILTER(lang(?v) != \"\") }} GROUP BY ?this lang(?v) HAVING (COUNT(?v) > 1)", path_str,
                             msgs or {"fr": "Plusieurs valeurs dans une même langue", "en": "Several values in one language"}))
    for pred, comp, op in ((SH.lessThan, "LessThan", ">="), (SH.lessThanOrEquals, "LessThanOrEquals", ">")):
        if (v := get(pred)) is not None:
            add(comp, f"{vpat} ?this <{v}> ?o . FILTER(!COALESCE(!(?v {op} ?o), false))")
    if (v := get(SH.equals)) is not None:
        add("Equals", f"{{ {vpat} FILTER NOT EXISTS {{ ?this <{v}> ?v }} }} UNION "
                      f"{{ ?this <{v}> ?v . FILTER NOT EXISTS {{ {vpat} }} }}")
    if (v := get(SH.disjoint)) is not None:
        add("Disjoint", f"{vpat} ?this <{v}> ?v .")
    return checks


_fresh = itertools.count()


def _cond(shapes: rdflib.Graph, node, var: str) -> str | None:
    """A SPARQL boolean expression: *var* conforms to the value constraints of *node*
    (``None`` when *node* has a constraint this cannot express)."""
    parts = []
    for p, o in shapes.predicate_objects(node):
        if p in NON_CONSTRAINTS or not str(p).startswith(str(SH)):
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
    cond = _cond(shapes, q, "?v")
    if cond is None:
        return None
    checks = []
    for pred, comp, op in ((SH.qualifiedMinCount, "QualifiedMinCount", "<"), (SH.qualifiedMaxCount, "QualifiedMaxCount", ">")):
        n = shapes.value(node, pred)
        if n is None:
            continue
        if op == "<":
            body = f"{target} OPTIONAL {{ ?this {path_str} ?v . FILTER({cond}) }}"
        else:
            body = f"{target} ?this {path_str} ?v . FILTER({cond})"
        checks.append(_Check(shape_id, severity, comp,
                             f"SELECT ?this WHERE {{ {body} }} GROUP BY ?this HAVING (COUNT(DISTINCT ?v) {op} {int(n)})",
                             path_str, msgs or {"fr": f"Contrainte {comp} non respectée", "en": f"{comp} constraint not met"}))
    return checks


_NOT_EXISTS_RE = re.compile(r"FILTER\s*(?:\(\s*)?NOT\s+EXISTS\s*\{", re.I)
_VAR_RE = re.compile(r"[?$](\w+)")
_FILTER_RE = re.compile(r"FILTER\s*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)", re.I)


def minus_rewrite(query: str) -> str:
    """Rewrite ``FILTER NOT EXISTS { P }`` as ``MINUS { P }`` where both mean the same.

    oxigraph evaluates NOT EXISTS once per outer solution without using its bindings (a full scan each
    time: minutes at national scale) but MINUS as a hash anti-join. They agree when *P* is a flat group
    (no nested group, BIND, OPTIONAL, VALUES) whose FILTERs only use variables bound by *P*'s own triple
    patterns, and *P* shares a variable with the rest of the query; other blocks are left as they are.
    """
    out, pos = [], 0
    for m in _NOT_EXISTS_RE.finditer(query):
        if m.start() < pos:
            continue
        depth, i = 1, m.end()
        while i < len(query) and depth:
            depth += {"{": 1, "}": -1}.get(query[i], 0)
            i += 1
        inner = query[m.end():i - 1]
        paren = query[m.start():m.end()].count("(")
        close = i
        if paren:  # FILTER(NOT EXISTS { … }): swallow the closing parenthesis
            rest = query[i:]
            stripped = rest.lstrip()
            if not stripped.startswith(")"):
                continue
            close = i + (len(rest) - len(stripped)) + 1
        filters = " ".join(_FILTER_RE.findall(inner))
        pattern = _FILTER_RE.sub(" ", inner)
        if re.search(r"\b(BIND|OPTIONAL|VALUES|UNION|MINUS|SELECT|GRAPH|SERVICE|EXISTS)\b|\{", pattern, re.I) \
                or "EXISTS" in filters.upper():
            continue
        pattern_vars = set(_VAR_RE.findall(pattern))
        outer_vars = set(_VAR_RE.findall(query[:m.start()] + query[close:]))
        if not set(_VAR_RE.findall(filters)) <= pattern_vars or not pattern_vars & outer_vars:
            continue
        out.append(query[pos:m.start()] + "MINUS {" + inner + "}")
        pos = close
    out.append(query[pos:])
    return "".join(out)


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
        try:
            for prop in props:
                if shapes.value(prop, SH.deactivated) == Literal(True):
                    continue
                path_str = _path(shapes, shapes.value(prop, SH.path))
                path_iri = str(shapes.value(prop, SH.path)) if isinstance(shapes.value(prop, SH.path), URIRef) else path_str
                psev = SEVERITIES.get(shapes.value(prop, SH.severity), severity)
                msgs = _messages(shapes, prop, shape)
                for chk in _value_checks(shapes, str(prop) if isinstance(prop, URIRef) else shape_id, psev, target,
                                         f"?this {path_str} ?v .", path_str, prop, msgs):
                    chk.path = path_iri
                    checks.append(chk)
                qualified = _qualified_checks(shapes, str(prop) if isinstance(prop, URIRef) else shape_id, psev,
                                              target, path_str, prop, msgs)
                if qualified is None:
                    raise ValueError("qualified value shape not compiled")
                for chk in qualified:
                    chk.path = path_iri
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
            unsupported.append(shape)
    for chk in checks:
        chk.query = minus_rewrite(chk.query)
    return checks, unsupported


def _sparql_check(shapes, shape_id, severity, target, constraint, path) -> _Check:
    select = str(shapes.value(constraint, SH.select))
    prefixes = _prefixes(shapes, constraint)
    body = select.replace("$this", "?this")
    query = f"{prefixes}\nSELECT DISTINCT * WHERE {{ {target} {{ {body} }} }}"
    return _Check(shape_id, severity, "SPARQL", query, path, _messages(shapes, constraint) or
                  {"fr": "Contrainte SPARQL non respectée", "en": "SPARQL constraint not met"}, template=True)


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


def _fill(template: str, solution, variables) -> str:
    def sub(m):
        name = m.group(2)
        if name == "this" or name in variables:
            term = solution[name]
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


def raw_results(store: ox.Store, shapes: rdflib.Graph) -> tuple[list[RawResult], list]:
    """Run every compiled check on *store*: ``(results, shapes left to pyshacl)``."""
    checks, unsupported = compile_shapes(shapes)
    out: list[RawResult] = []
    for chk in checks:
        solutions = store.query(chk.query, use_default_graph_as_union=True)
        variables = {v.value for v in solutions.variables}
        seen = set()
        for sol in solutions:
            focus = sol["this"]
            if chk.component in ("MinCount", "MaxCount", "HasValue", "QualifiedMinCount", "QualifiedMaxCount",
                                 "Or", "And", "Not", "UniqueLang"):
                value = None if chk.component != "Or" and chk.component != "And" and chk.component != "Not" else focus
            elif "value" in variables:
                value = sol["value"]
            elif "v" in variables:
                value = sol["v"]
            else:
                value = None
            if chk.component == "SPARQL" and value is None and chk.path is None:
                value = focus  # SHACL-SPARQL: a node shape's unbound ?value is the focus node
            key = (focus, value)
            if key in seen:
                continue
            seen.add(key)
            if chk.template:
                msgs = {lang: _fill(t, sol, variables) for lang, t in chk.messages.items()}
            else:
                msgs = chk.messages
            fallback = msgs.get("") or msgs.get("en") or msgs.get("fr") or ""
            path = chk.path
            if chk.template and "path" in variables and sol["path"] is not None:
                path = sol["path"].value
            out.append(RawResult(
                focus=_rdflib(focus), path=URIRef(path) if path and path.startswith("http") else None,
                value=_rdflib(value), severity=chk.severity, message_fr=msgs.get("fr", fallback),
                message_en=msgs.get("en", fallback),
                source_shape=URIRef(chk.shape) if chk.shape.startswith("http") else BNode(chk.shape),
                component=chk.component))
    return out, unsupported


def validate_fast(store: ox.Store, shapes: rdflib.Graph | None = None):
    """Validate the union of *store*'s named graphs against *shapes* (default: every ``shapes/*.ttl``).

    :returns: a :class:`cqpm_graph.shacl.ValidationReport` (``conforms`` iff no Violation), results sorted
        by severity, shape, focus node and value; its ``engine`` attribute says
        ``"oxigraph-sparql"`` or ``"oxigraph-sparql+pyshacl"`` (some shapes fell back, listed in
        ``fallback_shapes``).
    """
    from .shacl import ValidationReport, ValidationResult

    shapes = shapes if shapes is not None else load_all_shapes()
    raw, unsupported = raw_results(store, shapes)
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
