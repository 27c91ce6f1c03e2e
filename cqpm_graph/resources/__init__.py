"""Locate the project's shipped resources: ``ontology/``, ``shapes/``, ``queries/``, ``data/``.

In a checkout (or an editable install) they are the top-level folders of the repository; in a
regular ``pip install .`` setuptools copies them under ``cqpm_graph/resources/`` (see
``pyproject.toml``). Every module asks here rather than guessing paths itself.
"""
from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
_REPO = _HERE.parent.parent

KINDS = ("ontology", "shapes", "queries", "data")


def resource_dir(kind: str) -> Path:
    """Return the directory holding one kind of shipped resource.

    :param kind: one of ``ontology``, ``shapes``, ``queries``, ``data``.
    :raises ValueError: for an unknown kind.
    :raises FileNotFoundError: when neither the installed copy nor the checkout has it.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown resource kind {kind!r}; expected one of {', '.join(KINDS)}")
    for candidate in (_HERE / kind, _REPO / kind):
        if candidate.is_dir() and any(candidate.iterdir()):
            return candidate
    raise FileNotFoundError(f"resource folder {kind!r} not found under {_HERE} or {_REPO}")


def ontology_dir() -> Path:
    """Directory of the OWL ontology files (Turtle)."""
    return resource_dir("ontology")


def shapes_dir() -> Path:
    """Directory of the SHACL shapes files (Turtle)."""
    return resource_dir("shapes")


def queries_dir() -> Path:
    """Directory of the named SPARQL queries (``*.rq``)."""
    return resource_dir("queries")


def data_dir() -> Path:
    """Directory of the shipped input data (fiches and reference nomenclatures)."""
    return resource_dir("data")
