"""SHACL on imported data: the register shapes, and the fast engine (cqpm_graph.shacl_fast) cross-checked
against pyshacl (cqpm_graph.shacl.validate) on the real extract."""
from __future__ import annotations

import pyoxigraph as ox
import pytest
import rdflib

from cqpm_graph.fc.importer import import_export
from cqpm_graph.shacl import graph_from_store, load_shapes, validate
from cqpm_graph.shacl_fast import compile_shapes, validate_fast
from cqpm_graph.store import live_path
from test_fc_helpers import BASE, CQPM, CSV_EXPORT, XML_EXPORT, make_base_store, register_shapes


def _key(r):
    path = str(r.path) if isinstance(r.path, rdflib.URIRef) else None
    return (str(r.focus_node), path, None if r.value is None else str(r.value), r.severity,
            str(r.source_constraint_component).rsplit("#", 1)[-1])


def _compare(store, shapes):
    fast = validate_fast(store, shapes)
    ref = validate(graph_from_store(store), shapes)
    a, b = {_key(r) for r in fast.results}, {_key(r) for r in ref.results}
    assert a == b, (sorted(a - b)[:10], sorted(b - a)[:10])
    assert fast.conforms == ref.conforms
    return fast


@pytest.fixture(scope="module", params=[CSV_EXPORT, XML_EXPORT], ids=["csv", "xml"])
def store(request, tmp_path_factory):
    settings = make_base_store(tmp_path_factory.mktemp("val") / "store")
    import_export(settings, request.param, validate=False)
    s = ox.Store.read_only(str(live_path(settings.store)))
    yield s
    del s


def test_register_shapes_on_real_extract(store):
    report = _compare(store, register_shapes())
    assert report.conforms
    # the real issues are reported, not hidden: RS5000 and RS6117 are "ACTIVE" but their end dates have passed
    assert {(str(r.focus_node).rsplit("/", 1)[1], r.severity, str(r.value)) for r in report.results} == {
        ("RS5000", "Info", "2024-05-24"), ("RS6117", "Info", "2025-09-29")}
    assert "2024-05-24" in report.results[0].message_fr + report.results[1].message_fr


def test_all_project_shapes_same_results_as_pyshacl(store):
    shapes = load_shapes()
    checks, unsupported = compile_shapes(shapes)
    assert unsupported == []  # every project shape runs on the fast engine
    _compare(store, shapes)


BAD = f"""
@prefix cqpm: <{CQPM}> . @prefix id: <{BASE}> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix prov: <http://www.w3.org/ns/prov#> . @prefix dcterms: <http://purl.org/dc/terms/> .
<{BASE}certification/RS1> a cqpm:Certification ; cqpm:registry cqpm:RS ; cqpm:hasBlock <{BASE}bloc/RS1BC01> ;
    cqpm:active true ; cqpm:isReplacedBy <{BASE}certification/RS2> ; cqpm:replaces <{BASE}certification/RS2> ;
    cqpm:registration <{BASE}enregistrement/RS1> ; prov:wasDerivedFrom <{BASE}source/x> .
<{BASE}source/x> dcterms:issued "2024-02-22"^^xsd:date .
<{BASE}certification/RS2> cqpm:replaces <{BASE}certification/RS1> ; cqpm:isReplacedBy <{BASE}certification/RS1> .
<{BASE}certification/RS3> cqpm:replaces <{BASE}certification/RS4> .
<{BASE}enregistrement/RS1> a cqpm:Registration ; cqpm:effectiveDate "2020-01-01"^^xsd:date ;
    cqpm:decisionDate "2019-01-01"^^xsd:date ; cqpm:endDate "2019-06-01"^^xsd:date .
<{BASE}organisation/a> cqpm:siret "11004301500013" . <{BASE}organisation/b> cqpm:siret "35600000049837" .
<{BASE}organisation/c> cqpm:siret "1100430150001" .
<{BASE}certification/RNCP1> cqpm:level <{BASE}niveau/REPRISE> ; cqpm:levelNote "Sans niveau"@fr .
<{BASE}niveau/REPRISE> a <http://www.w3.org/2004/02/skos/core#Concept> ; <http://www.w3.org/2004/02/skos/core#notation> "REPRISE" .
"""


def test_register_shapes_catch_each_rule():
    s = ox.Store()
    s.load(BAD.encode(), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode("http://example.org/g"))
    report = _compare(s, register_shapes())
    found = {(str(r.focus_node).rsplit("/", 1)[1], str(r.source_shape).rsplit("#", 1)[1], r.severity) for r in report.results}
    expected = {
        ("RS1", "RSNoBlockShape", "Violation"),                # an RS fiche with a bloc
        ("RS1", "LineageShape", "Violation"),                  # RS1 → RS2 → RS1: a cycle
        ("RS2", "LineageShape", "Violation"),
        ("RS3", "LineageShape", "Violation"),                  # replaces RS4 without the inverse
        ("RS1", "ReplacedActiveShape", "Warning"),             # replaced but active
        ("RS1", "RegistrationDatesShape", "Violation"),        # end before effect and before decision
        ("RS1", "ActiveEndedShape", "Warning"),                # active, ended before the export date
        ("RS1", "ActiveEndedTodayShape", "Info"),
        ("a", "SiretShape", "Violation"),                      # bad Luhn digit
        ("c", "SiretShape", "Violation"),                      # 13 digits
        ("RNCP1", "LevelShape", "Violation"),                  # REPRISE as a level, and level + note
    }
    assert expected <= found, expected - found
    assert not any(f[0] == "b" for f in found)  # La Poste establishment: valid
    assert not report.conforms
