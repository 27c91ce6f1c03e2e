"""Engine choice for validating a store (cqpm_graph.validation, `validate --engine`), on the real build."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cqpm_graph.cli import cli
from cqpm_graph.store import open_store
from cqpm_graph.validation import AUTO_PYSHACL_MAX_CERTIFICATIONS, choose_engine, validate_store


def _key(report):
    return sorted((str(r.focus_node), str(r.path), str(r.value), r.severity, str(r.source_constraint_component))
                  for r in report.results)


def test_auto_picks_pyshacl_for_the_shipped_fiches(built_store):
    store = open_store(built_store)
    assert choose_engine(store) == "pyshacl"  # 5 certifications
    assert choose_engine(store, "fast") == "fast"
    with pytest.raises(ValueError, match="unknown SHACL engine 'rudof'"):
        choose_engine(store, "rudof")


def test_both_engines_report_the_same_results_on_the_real_build(built_store):
    store = open_store(built_store)
    reference, fast = validate_store(store, "pyshacl"), validate_store(store, "fast")
    assert reference.engine == "pyshacl" and fast.engine.startswith("oxigraph")
    assert reference.conforms and fast.conforms
    assert reference.results  # the real warnings of the fiches (wording differences …)
    assert _key(fast) == _key(reference)


def test_auto_threshold_is_about_certifications(monkeypatch, built_store):
    import cqpm_graph.validation as v
    monkeypatch.setattr(v, "AUTO_PYSHACL_MAX_CERTIFICATIONS", 4)
    assert choose_engine(open_store(built_store)) == "fast"
    assert AUTO_PYSHACL_MAX_CERTIFICATIONS == 100


def test_cli_engine_option(built_store):
    runner = CliRunner()
    fast = runner.invoke(cli, ["validate", "--store", str(built_store.store), "--engine", "fast", "--format", "json"])
    ref = runner.invoke(cli, ["validate", "--store", str(built_store.store), "--engine", "pyshacl", "--format", "json"])
    assert fast.exit_code == 0 and ref.exit_code == 0, fast.output + ref.output
    assert json.loads(fast.output)["counts"] == json.loads(ref.output)["counts"]
    text = runner.invoke(cli, ["validate", "--store", str(built_store.store)])
    assert "moteur SHACL : pyshacl" in text.output
    bad = runner.invoke(cli, ["validate", "--store", str(built_store.store), "--engine", "nope"])
    assert bad.exit_code == 2 and "--engine" in bad.output
