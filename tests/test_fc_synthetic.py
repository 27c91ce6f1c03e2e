"""The synthetic national-scale generator (benchmarks only), tried at a small size, and the fast engine's rewrite."""
from __future__ import annotations

from cqpm_graph.fc.clean import siret_is_valid
from cqpm_graph.fc.csv_export import read_csv_export
from cqpm_graph.fc.synthetic import generate_fiches, write_csv_export, write_xml_export
from cqpm_graph.fc.xml_export import read_xml_export
from cqpm_graph.shacl_fast import minus_rewrite


def test_generated_exports_read_back_identically(tmp_path):
    fiches = generate_fiches(300, seed=7)
    assert sum(len(f.blocs) for f in fiches) > 600 and any(f.replaces for f in fiches)
    assert all(siret_is_valid(o.siret) for f in fiches for o in f.certifiers + f.partners)
    csv_fiches = list(read_csv_export(write_csv_export(fiches, tmp_path)))
    xml_fiches = list(read_xml_export(write_xml_export(fiches, tmp_path)))
    assert [f.number for f in csv_fiches] == [f.number for f in xml_fiches] == [f.number for f in fiches]
    for original, c, x in zip(fiches, csv_fiches, xml_fiches):
        for attr in ("title", "level", "active", "end_date", "decision_date", "rome", "nsf", "replaces", "replaced_by"):
            assert getattr(c, attr) == getattr(x, attr) == getattr(original, attr), (original.number, attr)
        assert [b.code for b in c.blocs] == [b.code for b in x.blocs]
        assert [b.capacities for b in x.blocs] == [b.capacities for b in original.blocs]


def test_generator_is_deterministic():
    a, b = generate_fiches(50, seed=3), generate_fiches(50, seed=3)
    assert [(f.number, f.title, f.rome) for f in a] == [(f.number, f.title, f.rome) for f in b]


def test_minus_rewrite_only_where_equivalent():
    q = "SELECT ?this WHERE { ?this <p> ?v . FILTER NOT EXISTS { ?v <q> ?c . ?c <r> true } }"
    assert minus_rewrite(q) == "SELECT ?this WHERE { ?this <p> ?v . MINUS { ?v <q> ?c . ?c <r> true } }"
    outer_in_filter = "SELECT ?this WHERE { ?this <p> ?x . FILTER NOT EXISTS { ?s <n> ?pn . FILTER(STR(?pn) = ?x) } }"
    assert minus_rewrite(outer_in_filter) == outer_in_filter
    no_shared = "SELECT ?this WHERE { ?this <p> ?x . FILTER NOT EXISTS { ?s <n> ?o } }"
    assert minus_rewrite(no_shared) == no_shared
    nested = "SELECT ?this WHERE { ?this <p> ?x . FILTER NOT EXISTS { ?x <n> ?o . OPTIONAL { ?o <m> ?z } } }"
    assert minus_rewrite(nested) == nested
