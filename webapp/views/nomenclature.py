"""ROME and NSF pages: ``/rome/``, ``/rome/<code>``, ``/nsf/``, ``/nsf/<code>`` (+ ``.json`` twins)."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, make_response, render_template

from cqpm_graph.uris import NSF_RE, ROME_RE

from .. import data
from ..context import backend, uris
from .lod import page_lod, rdf_response

bp = Blueprint("nomenclature", __name__)

NAMES = {"rome": "ROME", "nsf": "NSF"}
PATTERNS = {"rome": ROME_RE, "nsf": NSF_RE}


def _concept(scheme: str, code: str) -> dict:
    if not PATTERNS[scheme].match(code):
        abort(404, description=f"« {code} » n'est pas un code {NAMES[scheme]}.")
    concept = data.concept_page(backend(), uris(), scheme, code)
    if concept is None:
        abort(404, description=f"Le code {NAMES[scheme]} {code} n'est pas dans le graphe.")
    return concept


def _page(scheme: str, code: str):
    if code.endswith(".json"):
        return jsonify(_concept(scheme, code[:-5]))
    rdf = rdf_response(scheme, code)  # ?format= / Accept: the concept as RDF
    if rdf is not None:
        return rdf
    concept = _concept(scheme, code)
    response = make_response(render_template("concept.html", concept=concept, scheme_name=NAMES[scheme],
                                             lod=page_lod(scheme, code)))
    response.vary.add("Accept")
    return response


def _index(scheme: str):
    return render_template("concept_index.html", index=data.concept_index(backend(), uris(), scheme),
                           scheme_name=NAMES[scheme])


@bp.get("/rome/")
def rome_index():
    """ROME codes used by the certifications, and the grands domaines."""
    return _index("rome")


@bp.get("/rome/<code>")
def rome(code: str):
    """A ROME fiche / domaine / grand domaine (H2503, H25, H): label, definition, broader, narrower,
    appellations, competences, and the certifications leading there (also via narrower codes)."""
    return _page("rome", code)


@bp.get("/nsf/")
def nsf_index():
    """NSF codes used by the certifications, and the NSF domains."""
    return _index("nsf")


@bp.get("/nsf/<code>")
def nsf(code: str):
    """An NSF code (200r, 200, 20, 2): label, hierarchy and certifications (also via narrower codes)."""
    return _page("nsf", code)
