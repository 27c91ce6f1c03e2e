"""SHACL shapes and `cqpm-graph validate`: each rule with a conforming and a failing case."""
from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, SH

from cqpm_graph import shacl
from cqpm_graph.cli import cli
from cqpm_graph.resources import data_dir
from cqpm_graph.store import new_build
from cqpm_graph.uris import CQPM, SKOS, URIScheme

FIXTURES = Path(__file__).parent / "fixtures" / "shacl"
GOOD = FIXTURES / "good.ttl"
BROKEN = FIXTURES / "broken.ttl"
ID = Namespace("https://w3id.org/cqpm/id/")
SHAPES = Namespace("https://w3id.org/cqpm/shapes#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")  # plain Namespace: no warning on pytest's attribute probes

# Planted faults of broken.ttl: (focus label in the report, source shape, code the report must name).
BROKEN_FAULTS = [
    ("bloc RNCP19453BC01", "BlockCodeMatchesCertificationShape", "RNCP28229"),
    ("capacité RNCP28229-C2", "CapacitySingleBlockShape", "RNCP19453BC01"),
    ("certification RNCP28229", "CapacityCoveredByBlockShape", "C4"),
    ("certification RNCP28229", "RomeCodeFormatShape", "H25O3"),
    ("certification RNCP28229", "RomeCodeExistsShape", "H9999"),
    ("certification RNCP28229", "NsfCodeFormatShape", "2OO"),
    ("certification RNCP28229", "NsfCodeParentShape", "999r"),
    ("enregistrement RNCP28229", "Registration-endAfterStart", "endDate"),
    ("certification RNCP28229", "Certification-awardsPerYear", "-3"),
    ("certification RNCP 28242", "Certification-notation", "RNCP 28242"),
]
# Planted faults that two sources can legitimately produce (fiche vs France Compétences export) or that a
# source can leave open (the CSV export lists no capacities): named in the report as warnings.
BROKEN_WARNINGS = [
    ("bloc RNCP28229BC03", "Block-hasCapacities", "RNCP28229BC03"),
    ("certification RNCP28246", "Certification-title-agreement", "prefLabel"),
]


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return shacl.load_shapes()


@pytest.fixture(scope="module")
def broken_report(shapes):
    return shacl.validate(shacl.graph_from_files([BROKEN]), shapes)


def good_graph() -> Graph:
    return shacl.graph_from_files([GOOD])


def check(shapes, graph: Graph) -> shacl.ValidationReport:
    return shacl.validate(graph, shapes)


def _result_key(r):
    path = str(r.path) if isinstance(r.path, URIRef) else None
    return (str(r.focus_node), path, None if r.value is None else str(r.value), r.severity,
            str(r.source_constraint_component).rsplit("#", 1)[-1])


def assert_fast_engine_agrees(shapes, graph: Graph, report: shacl.ValidationReport) -> None:
    """The fast engine (cqpm_graph.shacl_fast), in both its forms (set-at-a-time as at national scale, and focus
    by focus), finds exactly pyshacl's results on the same triples (in a store's named graph)."""
    from cqpm_graph.shacl_fast import validate_fast
    store = ox.Store()
    g = ox.NamedNode(str(ID["graph/test"]))
    store.extend(ox.Quad(_ox(s), _ox(p), _ox(o), g) for s, p, o in graph)
    expected = {_result_key(r) for r in report.results}
    for mode in ("set", "focus"):
        fast = validate_fast(store, shapes, form=mode)
        found = {_result_key(r) for r in fast.results}
        assert found == expected, (mode, sorted(found - expected)[:5], sorted(expected - found)[:5])
        assert fast.conforms == report.conforms


def mine(report) -> list[shacl.ValidationResult]:
    """Results of this module's shapes (shapes/ may hold other teams' files, loaded too)."""
    return [r for r in report.results if str(r.source_shape).startswith(str(SHAPES))]


def by_shape(report, name: str) -> list[shacl.ValidationResult]:
    return [r for r in report.results if r.source_shape == SHAPES[name]]


# --- shapes files --------------------------------------------------------------------------

def test_every_shape_has_a_comment_severity_and_bilingual_message(shapes):
    """README contract: each shape is commented, has a severity and @fr + @en messages."""
    # only this module's shapes (other files of shapes/, e.g. the register import's, have their own docs)
    named = {s for s in shapes.subjects(RDF.type, SH.NodeShape) if str(s).startswith(str(SHAPES))}
    named |= {s for s in shapes.subjects(RDF.type, SH.PropertyShape) if str(s).startswith(str(SHAPES))}
    assert len(named) > 40
    readme = (Path(shacl.shapes_dir()) / "README.md").read_text(encoding="utf-8")
    for shape in named:
        langs = {c.language for c in shapes.objects(shape, URIRef("http://www.w3.org/2000/01/rdf-schema#comment"))}
        assert {"fr", "en"} <= langs, shape
        local = str(shape).rpartition("#")[2]
        assert f"`{local}`" in readme, f"{local} missing from shapes/README.md"
        if (shape, SH.property, None) in shapes and not list(shapes.objects(shape, SH.sparql)) \
                and not list(shapes.objects(shape, SH["or"])):
            continue  # a container node shape: its property shapes carry severity and messages
        assert shapes.value(shape, SH.severity) is not None, shape
        holders = [shape, *shapes.objects(shape, SH.sparql)]
        msgs = {m.language for h in holders for m in shapes.objects(h, SH.message)}
        assert {"fr", "en"} <= msgs, shape


# --- good / broken fixtures ----------------------------------------------------------------

def test_good_fixture_conforms_with_only_the_referentiel_info(shapes):
    report = check(shapes, good_graph())
    assert_fast_engine_agrees(shapes, good_graph(), report)
    assert report.conforms
    assert report.counts_by_severity["Violation"] == 0
    (info,) = mine(report)
    assert info.focus_node == ID["certification/CQPM-management-d-equipe-s-autonome-s"]
    assert info.source_shape == SHAPES["Certification-number"]
    assert info.message_fr.startswith("Certification sans numéro")
    assert info.message_en.startswith("Certification without")


def test_broken_fixture_names_each_planted_fault(broken_report):
    assert not broken_report.conforms
    text = broken_report.to_text()
    lines = text.splitlines()
    for focus, shape, code in BROKEN_FAULTS:
        hits = [r for r in by_shape(broken_report, shape) if r.focus_label == focus]
        assert hits, f"{shape} did not fire on {focus}"
        assert any(code in line and line.startswith(f"{focus} — [Violation]") for line in lines) or \
            any(code in (r.message_fr + r.value_label + r.path_label) for r in hits), (focus, shape, code)
        assert any(line.startswith(f"{focus} — [Violation]") for line in lines)
    for focus, shape, code in BROKEN_WARNINGS:
        hits = [r for r in by_shape(broken_report, shape) if r.focus_label == focus]
        assert hits and all(r.severity == "Warning" for r in hits), f"{shape} did not warn on {focus}"
        assert any(line.startswith(f"{focus} — [Avertissement]") for line in lines), focus


def test_broken_fixture_same_results_with_the_fast_engine(shapes, broken_report):
    assert_fast_engine_agrees(shapes, shacl.graph_from_files([BROKEN]), broken_report)


def test_broken_fixture_has_no_unplanted_violation(broken_report):
    planted = {(focus, shape) for focus, shape, _ in BROKEN_FAULTS + BROKEN_WARNINGS}
    planted.add(("certification RNCP 28242", "CertificationIdentifierMatchesNumberShape"))
    seen = {(r.focus_label, str(r.source_shape).rpartition("#")[2]) for r in broken_report.results
            if str(r.source_shape).startswith(str(SHAPES))}
    assert seen == planted


def test_text_report_example_line(broken_report):
    assert "certification RNCP28229 — [Violation] Le code ROME H25O3 n'existe pas dans le ROME" in broken_report.to_text()
    assert "certification RNCP28229 — [Violation] ROME code H9999 does not exist in the ROME" in broken_report.to_text("en")


def test_results_graph_messages_are_language_tagged(broken_report):
    rg = broken_report.results_graph
    assert (None, RDF.type, SH.ValidationReport) in rg
    for result in rg.subjects(RDF.type, SH.ValidationResult):
        langs = {m.language for m in rg.objects(result, SH.resultMessage)}
        assert langs == {"fr", "en"}, result


# --- rule by rule: conforming case = good.ttl, failing case = good.ttl + one edit ------------

CERT = ID["certification/RNCP28229"]
REF = ID["certification/CQPM-management-d-equipe-s-autonome-s"]
C1 = ID["capacite/RNCP28229-C1"]
BC01 = ID["bloc/RNCP28229BC01"]
REG = ID["enregistrement/RNCP28229"]


def _set(g, s, p, o):
    g.remove((s, p, None))
    g.add((s, p, o))


EDITS = {
    # shape: (edit of good.ttl, expected focus node)
    "Certification-title": (lambda g: g.remove((CERT, SKOS.prefLabel, None)), CERT),
    "Certification-titleLanguage": (lambda g: g.add((CERT, SKOS.prefLabel, Literal("Sans langue"))), CERT),
    "Certification-identifier": (lambda g: _set(g, REF, URIRef("http://purl.org/dc/terms/identifier"), Literal("CQPM management")), REF),
    "Certification-notation": (lambda g: _set(g, CERT, SKOS.notation, Literal("RNCP 28229")), CERT),
    "RegisteredCertificationNumberShape": (lambda g: g.add((REF, CQPM.registry, CQPM.RNCP)), REF),
    "Certification-registry": (lambda g: _set(g, CERT, CQPM.registry, CQPM.ELSE), CERT),
    "CertificationIdentifierMatchesNumberShape": (lambda g: _set(g, CERT, URIRef("http://purl.org/dc/terms/identifier"), Literal("RNCP1")), CERT),
    "CertificationRegistryMatchesNumberShape": (lambda g: _set(g, CERT, CQPM.registry, CQPM.RS), CERT),
    "Certification-awardsPerYear": (lambda g: _set(g, CERT, CQPM.awardsPerYear, Literal("168")), CERT),
    "Certification-romeCode": (lambda g: g.add((CERT, CQPM.romeCode, Literal("H2503"))), CERT),
    "RomeCodeFormatShape": (lambda g: g.add((CERT, CQPM.romeCode, ID["rome/H25"])), CERT),
    "RomeCodeExistsShape": (lambda g: g.add((CERT, CQPM.romeCode, ID["rome/H2504"])), CERT),
    "NsfCodeFormatShape": (lambda g: g.add((CERT, CQPM.nsfCode, ID["nsf/20"])), CERT),
    "NsfCodeParentShape": (lambda g: g.add((CERT, CQPM.nsfCode, ID["nsf/251n"])), CERT),
    "Certification-newCaledonia": (lambda g: _set(g, CERT, CQPM.accessibleInNewCaledonia, Literal("non")), CERT),
    "Certification-validationDate": (lambda g: _set(g, CERT, CQPM.validationDate, Literal("15/05/2007")), CERT),
    "Certification-validationYear": (lambda g: _set(g, CERT, CQPM.validationYear, Literal(2007)), CERT),
    "Certification-hasActivity": (lambda g: g.remove((ID["activite/RNCP28229-A1"], RDF.type, None)), CERT),
    "Certification-registration": (lambda g: g.add((CERT, CQPM.registration, ID["enregistrement/X"])), CERT),
    "Block-notation": (lambda g: _set(g, BC01, SKOS.notation, Literal("BC01")), BC01),
    "Block-title": (lambda g: g.remove((BC01, SKOS.prefLabel, None)), BC01),
    "Block-number": (lambda g: g.remove((BC01, CQPM.blockNumber, None)), BC01),
    "Block-certification": (lambda g: g.remove((BC01, CQPM.isBlockOf, None)), BC01),
    "Block-capacities": (lambda g: g.add((ID["bloc/RNCP28229BC02"], CQPM.hasCapacity, ID["activite/RNCP28229-A1"])),
                         ID["bloc/RNCP28229BC02"]),
    "BlockCodeMatchesCertificationShape": (lambda g: _set(g, BC01, SKOS.notation, Literal("RNCP19453BC01")), BC01),
    "BlockNumberMatchesCodeShape": (lambda g: _set(g, BC01, CQPM.blockNumber, Literal(3)), BC01),
    "BlockCertificationLinkShape": (lambda g: g.remove((CERT, CQPM.hasBlock, BC01)), BC01),
    "BlockCapacityOfCertificationShape": (lambda g: g.add((BC01, CQPM.hasCapacity, ID["capacite/CQPM-management-d-equipe-s-autonome-s-C1"])), BC01),
    "Capacity-notation": (lambda g: _set(g, C1, SKOS.notation, Literal("1)")), C1),
    "Capacity-label": (lambda g: g.remove((C1, SKOS.prefLabel, None)), C1),
    "Capacity-certification": (lambda g: g.add((REF, CQPM.hasCapacity, C1)), C1),
    "CapacitySingleBlockShape": (lambda g: g.add((ID["bloc/RNCP28229BC02"], CQPM.hasCapacity, C1)), C1),
    "CapacityCoveredByBlockShape": (lambda g: g.remove((BC01, CQPM.hasCapacity, C1)), CERT),
    "Criterion-notation": (lambda g: _set(g, ID["critere/CQPM-management-d-equipe-s-autonome-s-C1-1"], SKOS.notation, Literal("1")),
                           ID["critere/CQPM-management-d-equipe-s-autonome-s-C1-1"]),
    "CriterionCodeMatchesCapacityShape": (lambda g: _set(g, ID["critere/CQPM-management-d-equipe-s-autonome-s-C1-1"], SKOS.notation, Literal("C2-1")),
                                          ID["critere/CQPM-management-d-equipe-s-autonome-s-C1-1"]),
    "Criterion-capacity": (lambda g: g.add((ID["critere/X-C1-1"], RDF.type, CQPM.EvaluationCriterion)), ID["critere/X-C1-1"]),
    "Activity-notation": (lambda g: _set(g, ID["activite/RNCP28229-A1"], SKOS.notation, Literal("1")), ID["activite/RNCP28229-A1"]),
    "Activity-certification": (lambda g: g.remove((CERT, CQPM.hasActivity, None)), ID["activite/RNCP28229-A1"]),
    "Job-label": (lambda g: g.remove((ID["emploi/chef-de-ligne"], SKOS.prefLabel, None)), ID["emploi/chef-de-ligne"]),
    "AccessCondition-route": (lambda g: g.remove((ID["acces/RNCP28229-vae"], CQPM.route, None)), ID["acces/RNCP28229-vae"]),
    "AccessCondition-isOpen": (lambda g: _set(g, ID["acces/RNCP28229-vae"], CQPM.isOpen, Literal("OUI")), ID["acces/RNCP28229-vae"]),
    "Registration-endDate": (lambda g: _set(g, REG, CQPM.endDate, Literal("2022-04-21T00:00:00", datatype=XSD.dateTime)), REG),
    "Registration-endAfterStart": (lambda g: _set(g, REG, CQPM.endDate, Literal("2017-04-21", datatype=XSD.date)), REG),
    "Registration-durationYears": (lambda g: _set(g, REG, CQPM.durationYears, Literal(0)), REG),
    "SourceDocument-sha256": (lambda g: _set(g, ID["source/fiche/000_49dbc97dca6e95ec"], CQPM.sha256, Literal("…")),
                              ID["source/fiche/000_49dbc97dca6e95ec"]),
}
def _add_bloc_without_capacities(g):
    """A fourth bloc known by its title only, as the France Compétences CSV export gives blocs."""
    bloc = ID["bloc/RNCP28229BC04"]
    for p, o in ((RDF.type, CQPM.CompetenceBlock), (SKOS.notation, Literal("RNCP28229BC04")),
                 (SKOS.prefLabel, Literal("Un bloc sans capacités détaillées", lang="fr")),
                 (CQPM.blockNumber, Literal(4)), (CQPM.isBlockOf, CERT)):
        g.add((bloc, p, o))
    g.add((CERT, CQPM.hasBlock, bloc))


WARNING_EDITS = {
    "Certification-title-agreement": (lambda g: g.add((CERT, SKOS.prefLabel, Literal("Autre intitulé", lang="fr"))), CERT),
    "Capacity-label-agreement": (lambda g: g.add((C1, SKOS.prefLabel, Literal("Ordonnancer l'activité", lang="fr"))), C1),
    "Block-hasCapacities": (lambda g: _add_bloc_without_capacities(g), ID["bloc/RNCP28229BC04"]),
    "Registration-endDate-agreement": (lambda g: g.add((REG, CQPM.endDate, Literal("2023-04-21", datatype=XSD.date))), REG),
    "ReferentielCapacityDetailShape": (lambda g: g.remove((ID["capacite/CQPM-management-d-equipe-s-autonome-s-C1"], CQPM.realisationCondition, None)),
                                       ID["capacite/CQPM-management-d-equipe-s-autonome-s-C1"]),
    "CapacityLabelDiffersShape": (lambda g: g.add((C1, SKOS.altLabel, Literal("Ordonnancer et optimiser l'activité du secteur", lang="fr"))), C1),
    "Registration-decisionBeforeJO": (lambda g: _set(g, REG, CQPM.decisionDate, Literal("2017-05-01", datatype=XSD.date)), REG),
    "RegistrationDurationShape": (lambda g: _set(g, REG, CQPM.durationYears, Literal(4)), REG),
    "Job-uniqueLabel": (lambda g: g.add((ID["emploi/chef-de-ligne"], SKOS.prefLabel, Literal("Chef de ligne ", lang="fr"))), ID["emploi/chef-de-ligne"]),
    "AccessRouteOpenShape": (lambda g: _set(g, ID["acces/RNCP28229-vae"], CQPM.isOpen, Literal(False)), CERT),
}


@pytest.mark.parametrize("shape", sorted(EDITS))
def test_violation_rule_fails_on_its_fault(shapes, shape):
    edit, focus = EDITS[shape]
    g = good_graph()
    edit(g)
    report = check(shapes, g)
    hits = by_shape(report, shape)
    assert hits, report.to_text()
    assert_fast_engine_agrees(shapes, g, report)
    assert all(r.severity == "Violation" for r in hits)
    assert focus in {r.focus_node for r in hits}
    assert not report.conforms


@pytest.mark.parametrize("shape", sorted(WARNING_EDITS))
def test_warning_rule_warns_but_conforms(shapes, shape):
    edit, focus = WARNING_EDITS[shape]
    g = good_graph()
    edit(g)
    report = check(shapes, g)
    hits = by_shape(report, shape)
    assert hits and all(r.severity == "Warning" for r in hits), report.to_text()
    assert_fast_engine_agrees(shapes, g, report)
    assert focus in {r.focus_node for r in hits}
    assert report.conforms, report.to_text()


def test_capacity_altlabel_is_a_warning_and_conforms(shapes):
    g = good_graph()
    g.add((C1, SKOS.altLabel, Literal("Ordonnancer et optimiser l'activité du secteur", lang="fr")))
    report = check(shapes, g)
    assert report.conforms
    assert [r.severity for r in mine(report)] == ["Warning", "Info"]  # Info: the référentiel
    assert "capacité RNCP28229-C1 — [Avertissement] Libellé différent entre le résumé et le bloc pour la capacité C1" \
        in report.to_text()
    # an altLabel equal to the prefLabel is no inconsistency
    g2 = good_graph()
    g2.add((C1, SKOS.altLabel, g2.value(C1, SKOS.prefLabel)))
    assert not by_shape(check(shapes, g2), "CapacityLabelDiffersShape")


def test_referentiel_without_blocs_needs_no_coverage(shapes):
    """The référentiel has capacities but no blocs: coverage rules must not fire on it."""
    report = check(shapes, good_graph())
    for name in ("CapacityCoveredByBlockShape", "CapacitySingleBlockShape", "Block-capacities"):
        assert not by_shape(report, name)


def test_warnings_and_info_do_not_break_conformance_in_pyshacl_either(shapes):
    import pyshacl
    g = good_graph()
    g.add((C1, SKOS.altLabel, Literal("Autre libellé", lang="fr")))
    conforms, _, _ = pyshacl.validate(g, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True)
    assert conforms is True
    assert check(shapes, g).conforms is True


# --- graph_from_files ----------------------------------------------------------------------

@pytest.mark.parametrize("fmt, ext", [("nt", ".nt"), ("xml", ".rdf"), ("json-ld", ".jsonld"), ("n3", ".n3")])
def test_graph_from_files_formats(tmp_path, fmt, ext):
    g = good_graph()
    path = tmp_path / f"good{ext}"
    path.write_text(g.serialize(format=fmt), encoding="utf-8")
    assert len(shacl.graph_from_files([path])) == len(g)


def test_graph_from_files_merges_quads(tmp_path):
    g = good_graph()
    rome = {t for t in g if "/rome/" in str(t[0]) or str(t[0]).endswith("/scheme/rome")}
    lines = [f"{s.n3()} {p.n3()} {o.n3()} <{ID['graph/rome-v347'] if t in rome else ID['graph/fiche/RNCP28229']}> ."
             for t in g for s, p, o in [t]]
    path = tmp_path / "good.nq"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    merged = shacl.graph_from_files([path])
    assert len(merged) == len(g)
    assert shacl.validate(merged).conforms


def test_graph_from_files_errors(tmp_path):
    bad = tmp_path / "data.csv"
    bad.write_text("a;b\n")
    with pytest.raises(shacl.RDFFileError, match=r"data\.csv.*unknown RDF file extension"):
        shacl.graph_from_files([bad])
    broken = tmp_path / "broken.ttl"
    broken.write_text("@prefix ex: <http://example.org/> .\nex:a ex:b ex:c .\nex:a ex:b .\n")
    with pytest.raises(shacl.RDFFileError, match=r"broken\.ttl.*line 3"):
        shacl.graph_from_files([broken])
    nt = tmp_path / "broken.nt"
    nt.write_text("<http://a> <http://b> <http://c> .\n<http://a> <http://b> .\n")
    with pytest.raises(shacl.RDFFileError, match=r"broken\.nt: nt parse error at line 2"):
        shacl.graph_from_files([nt])
    with pytest.raises(shacl.RDFFileError, match=r"missing\.ttl"):
        shacl.graph_from_files([tmp_path / "missing.ttl"])


# --- graph_from_store ----------------------------------------------------------------------

def _split(graph: Graph) -> dict[str, list]:
    """Put the fixture's triples in the store's named graphs (the mini ROME is dropped: the real one is loaded)."""
    out: dict[str, list] = {"fiche/RNCP28229": [], "nsf": []}
    for s, p, o in graph:
        text = str(s)
        if "/rome/" in text or text.endswith("/scheme/rome"):
            continue
        out["nsf" if "/nsf/" in text or text.endswith("/scheme/nsf") else "fiche/RNCP28229"].append((s, p, o))
    return out


def _ox(term):
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype or XSD.string)))
    return ox.BlankNode(str(term))


def _fill(store: ox.Store, graph: Graph) -> None:
    uris = URIScheme(str(ID))
    rome_graph = ox.NamedNode(str(uris.graph("rome-v347")))
    from cqpm_graph.rome import iter_rome
    store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, rome_graph)
                      for t in iter_rome(uris, data_dir() / "reference" / "rome-v347"))
    for name, triples in _split(graph).items():
        g = ox.NamedNode(str(uris.graph(*name.split("/"))))
        store.extend(ox.Quad(_ox(s), _ox(p), _ox(o), g) for s, p, o in triples)


@pytest.fixture(scope="module")
def real_rome_store(tmp_path_factory):
    """A store on disk with the real ROME v347 graph and good.ttl's fiche and NSF graphs."""
    store_dir = tmp_path_factory.mktemp("store")
    g = good_graph()
    # the seed fiches' ROME codes, so the extract has several chains
    for code in "H2504 H2903 H2904 H2905 H2906 H2907 H1502 H1301 H1303".split():
        g.add((CERT, CQPM.romeCode, ID[f"rome/{code}"]))
    with new_build(store_dir) as store:
        _fill(store, g)
        del store  # closed before new_build moves it in
    return store_dir


def test_graph_from_store_extracts_referenced_rome_only(real_rome_store):
    from cqpm_graph.store import open_store
    store = open_store(real_rome_store)
    data = shacl.graph_from_store(store)
    assert len(data) < 3000  # the ROME graph alone has ~170k triples
    assert not any("/rome/appellation/" in str(s) or "/rome/competence/" in str(s) for s in data.subjects())
    assert (ID["rome/H2503"], SKOS.broader, ID["rome/H25"]) in data
    assert (ID["rome/H"], SKOS.notation, Literal("H")) in data
    assert (ID["rome/H2503"], SKOS.inScheme, ID["scheme/rome"]) in data
    assert (ID["scheme/rome"], RDF.type, SKOS.ConceptScheme) in data
    assert (ID["rome/H1303"], SKOS.notation, Literal("H1303")) in data
    report = shacl.validate(data)
    assert report.conforms, report.to_text()
    assert not by_shape(report, "RomeCodeExistsShape")


def test_cli_validates_the_store(real_rome_store, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["validate", "--store", str(real_rome_store)])
    assert result.exit_code == 0, result.output
    assert "conforme" in result.output

    # an unknown but well-formed ROME code in a fiche graph is reported against the real ROME
    store_dir = tmp_path / "store"
    g = good_graph()
    g.add((CERT, CQPM.romeCode, ID["rome/H9999"]))
    with new_build(store_dir) as store:
        _fill(store, g)
        del store  # closed before new_build moves it in
    result = runner.invoke(cli, ["validate", "--store", str(store_dir), "--format", "json"])
    assert result.exit_code == 1, result.output
    payload = json.loads(result.output)
    assert payload["conforms"] is False
    assert [r["message_fr"] for r in payload["results"]
            if r["severity"] == "Violation" and r["source_shape"].startswith(str(SHAPES))] == \
        ["Le code ROME H9999 n'existe pas dans le ROME"]


# --- CLI -----------------------------------------------------------------------------------

def test_cli_good_file_exits_0():
    result = CliRunner().invoke(cli, ["validate", str(GOOD)])
    assert result.exit_code == 0, result.output
    assert "Validation SHACL : conforme" in result.output


def test_cli_broken_file_exits_1_and_names_each_fault():
    result = CliRunner().invoke(cli, ["validate", str(BROKEN)])
    assert result.exit_code == 1, result.output
    for focus, _shape, code in BROKEN_FAULTS:
        assert any(line.startswith(f"{focus} — [Violation]") for line in result.output.splitlines()), focus
    for code in ("RNCP19453BC01", "C4", "RNCP28229BC03", "H25O3", "H9999", "2OO", "999r", "-3", "RNCP 28242",
                 "RNCP28246", "enregistrement RNCP28229"):
        assert code in result.output, code


def test_cli_json():
    result = CliRunner().invoke(cli, ["validate", str(BROKEN), "--format", "json"])
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["conforms"] is False
    assert payload["counts"]["Violation"] == len([r for r in payload["results"] if r["severity"] == "Violation"]) > 0
    first = payload["results"][0]
    assert {"focus_node", "path", "value", "severity", "message_fr", "message_en", "source_shape",
            "source_constraint_component"} <= set(first)


def test_cli_ttl():
    result = CliRunner().invoke(cli, ["validate", str(BROKEN), "--format", "ttl"])
    assert result.exit_code == 1
    g = Graph().parse(data=result.output, format="turtle")
    assert (None, RDF.type, SH.ValidationReport) in g
    assert (None, SH.conforms, Literal(False)) in g


def test_cli_english_text():
    result = CliRunner().invoke(cli, ["validate", str(BROKEN), "--lang", "en"])
    assert result.exit_code == 1
    assert "ROME code H9999 does not exist in the ROME" in result.output


def test_cli_unknown_extension_exits_2(tmp_path):
    bad = tmp_path / "fiche.csv"
    bad.write_text("x")
    result = CliRunner().invoke(cli, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "fiche.csv" in result.output and "unknown RDF file extension" in result.output


def test_cli_parse_error_exits_2(tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text("<a> <b> .\n")
    result = CliRunner().invoke(cli, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "bad.ttl" in result.output


def test_cli_without_store_exits_2(tmp_path):
    result = CliRunner().invoke(cli, ["validate", "--store", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no graph store" in result.output


def test_cli_help():
    result = CliRunner().invoke(cli, ["validate", "--help"])
    assert result.exit_code == 0
    for word in ("--format", "text|ttl|json", "--store", "Exit status"):
        assert word in result.output


def test_validate_leaves_the_data_untouched_and_accepts_the_ontology(shapes):
    from cqpm_graph.resources import ontology_dir
    g = shacl.graph_from_files([GOOD, *sorted(ontology_dir().glob("*.ttl"))])
    before = len(g)
    report = check(shapes, g)
    assert len(g) == before
    assert report.conforms, report.to_text()
    assert report.counts_by_severity["Violation"] == 0


def test_validate_flattens_a_dataset(shapes):
    """Cross-graph links resolve: the certification and the ROME concept sit in different graphs."""
    from rdflib import Dataset
    ds = Dataset()
    rome = ds.graph(ID["graph/rome-v347"])
    fiche = ds.graph(ID["graph/fiche/RNCP28229"])
    for t in good_graph():
        (rome if "/rome/" in str(t[0]) or str(t[0]).endswith("/scheme/rome") else fiche).add(t)
    report = check(shapes, ds)
    assert report.conforms, report.to_text()
    assert not by_shape(report, "RomeCodeExistsShape")


def test_nsf_notations_are_plain_strings():
    """NsfCodeParentShape looks the speciality up by its notation as a plain string (an index lookup, not a
    STR() comparison per concept): the NSF loader writes every notation as an xsd:string literal."""
    from cqpm_graph.nsf import iter_nsf, nsf_subspeciality_triples
    uris = URIScheme(str(ID))
    triples = [*iter_nsf(uris, data_dir() / "reference" / "nsf"),
               *nsf_subspeciality_triples(uris, "200r", "Contrôle qualité")]
    notations = [t.object for t in triples if t.predicate.value == str(SKOS.notation)]
    assert len(notations) > 100
    assert all(isinstance(n, ox.Literal) and n.datatype.value == str(XSD.string) for n in notations)


def test_nsf_parent_lookup_finds_the_speciality(shapes):
    """200r's speciality 200 is found through its plain-string notation; 999's is not (both engines)."""
    g = good_graph()
    g.add((CERT, CQPM.nsfCode, ID["nsf/200r"]))
    report = check(shapes, g)
    assert not by_shape(report, "NsfCodeParentShape")
    g.add((CERT, CQPM.nsfCode, ID["nsf/999"]))
    report = check(shapes, g)
    assert [r.value for r in by_shape(report, "NsfCodeParentShape")] == [ID["nsf/999"]]
    assert_fast_engine_agrees(shapes, g, report)
