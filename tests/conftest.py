"""Shared fixtures: a graph built once per test session from the shipped real data."""
from __future__ import annotations

import pytest

from cqpm_graph.build import build
from cqpm_graph.config import Settings
from cqpm_graph.resources import data_dir


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
