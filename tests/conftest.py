"""Shared fixtures: a graph built once per test session from the shipped real data."""
from __future__ import annotations

import pytest

from cqpm_graph.build import build
from cqpm_graph.config import Settings
from cqpm_graph.resources import data_dir

#: A valid value on the real build for every parameter name the stored queries declare.
SAMPLE_PARAMS = {"rome": "H25", "nsf": "200", "q": "equipe", "certification": "RNCP28229", "other": "RNCP19453",
                 "item": "https://w3id.org/cqpm/id/rome/competence/121049"}  # a savoir-faire of RNCP28229's ROME


@pytest.fixture(scope="session")
def required_params():
    """``required_params(stored_query) -> {name: value}``: sample values for the query's required parameters."""
    return lambda query: {p.name: SAMPLE_PARAMS[p.name] for p in query.params if p.required}


@pytest.fixture(scope="session")
def fiches_dir():
    """The shipped folder of the five real fiches (copies of shared/seeds)."""
    return data_dir() / "fiches"


@pytest.fixture(scope="session")
def built_store(tmp_path_factory):
    """Settings whose store holds a full build (5 fiches, ROME v347, NSF), validated by SHACL."""
    settings = Settings(store=tmp_path_factory.mktemp("store"))
    report = build(settings)
    settings.build_report = report  # tests read counts and warnings from it
    return settings
