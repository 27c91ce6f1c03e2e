"""ROME and NSF pages: ``/rome/``, ``/rome/<code>``, ``/nsf/``, ``/nsf/<code>`` (+ ``.json`` twins).

The codes used with their numbers of certifications, and the certifications of a code (``page``, 50 a
page), come from the explorer index when it is ready (:mod:`..directory`), else from SPARQL.
"""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, make_response, render_template

from cqpm_graph.uris import NSF_RE, ROME_RE

from .. import directory
from .lod import page_lod, rdf_response

bp = Blueprint("nomenclature", __name__)

NAMES = {"rome": "ROME", "nsf": "NSF"}
PATTERNS = {"rome": ROME_RE, "nsf": NSF_RE}
ENDPOINTS = {"rome": "nomenclature.rome", "nsf": "nomenclature.nsf"}


def _concept(scheme: str, code: str, json_twin: bool = False) -> tuple[dict, dict]:
    if not PATTERNS[scheme].match(code):
        abort(404, description=f"« {code} » n'est pas un code {NAMES[scheme]}.")
    page, per_page = directory.page_args(directory.CONCEPT_PER_PAGE)
    concept = directory.concept_page(scheme, code, page, per_page)
    if concept is None:
        abort(404, description=f"Le code {NAMES[scheme]} {code} n'est pas dans le graphe.")
    pages = directory.pagination(ENDPOINTS[scheme], page, per_page, concept["total"], directory.CONCEPT_PER_PAGE,
                                 code=f"{code}.json" if json_twin else code)
    return concept, pages


def _page(scheme: str, code: str):
    if code.endswith(".json"):
        concept, pages = _concept(scheme, code[:-5], json_twin=True)
        concept["pagination"] = directory.public(pages)
        response = jsonify(concept)
        response.headers["Link"] = directory.link_header(pages)
        return response
    rdf = rdf_response(scheme, code)  # ?format= / Accept: the concept as RDF
    if rdf is not None:
        return rdf
    concept, pages = _concept(scheme, code)
    response = make_response(render_template("concept.html", concept=concept, scheme_name=NAMES[scheme],
                                             pages=pages, lod=page_lod(scheme, code)))
    response.vary.add("Accept")
    return response


def _index(scheme: str):
    return render_template("concept_index.html", index=directory.concept_index(scheme), scheme_name=NAMES[scheme])


@bp.get("/rome/")
def rome_index():
    """ROME codes used by the certifications (with how many use each), and the grands domaines."""
    return _index("rome")


@bp.get("/rome/<code>")
def rome(code: str):
    """A ROME fiche / domaine / grand domaine (H2503, H25, H): label, definition, broader, narrower (with
    their numbers of certifications), appellations, competences, and the certifications leading there (also
    via narrower codes), 50 a page (``page``). JSON twin ``/rome/<code>.json`` (the same page, with
    ``total`` and ``pagination``)."""
    return _page("rome", code)


@bp.get("/nsf/")
def nsf_index():
    """NSF codes used by the certifications (with how many use each), and the NSF domains."""
    return _index("nsf")


@bp.get("/nsf/<code>")
def nsf(code: str):
    """An NSF code (200r, 200, 20, 2): label, hierarchy and certifications (also via narrower codes), 50 a
    page (``page``); JSON twin ``/nsf/<code>.json``."""
    return _page("nsf", code)
