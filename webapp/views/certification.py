"""The certification page ``/certification/<id>`` and its JSON twin ``/certification/<id>.json``."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, make_response, redirect, render_template, url_for

from .. import data, directory
from ..context import backend, uris
from .bridges import section
from .lod import page_lod, rdf_response

bp = Blueprint("certification", __name__)


def _load(cert_id: str) -> dict:
    # the identifier is resolved by the explorer index when it is ready (no SPARQL), see ..directory
    found = directory.find_certification(cert_id)
    cert = data.certification(backend(), uris(), cert_id, found=found) if found is not None else None
    if cert is None:
        abort(404, description=f"Aucune certification « {cert_id} » dans le graphe.")
    return cert


@bp.get("/certification/<cert_id>")
def show(cert_id: str):
    """The whole certification: identity, blocs and capacities, référentiel, activities, ROME / NSF codes,
    jobs, access, registration, statistics, history, provenance, and the Passerelles section (closest
    certifications with their evidence, see :mod:`.bridges`). 404 for an unknown id; a
    differently written id (``rncp28229``) redirects to the canonical page. With ``?format=`` or an RDF
    ``Accept``, the certification's RDF description instead (see :mod:`.lod`)."""
    if cert_id.endswith(".json"):
        return show_json(cert_id[:-5])
    rdf = rdf_response("certification", cert_id)  # ?format= / Accept: the resource as RDF
    if rdf is not None:
        return rdf
    cert = _load(cert_id)
    if cert["id"] != cert_id:
        return redirect(url_for(".show", cert_id=cert["id"]), code=301)
    response = make_response(render_template("certification.html", cert=cert, today=data.today(),
                                             passerelles=section(cert["id"]),
                                             lod=page_lod("certification", cert["id"])))
    response.vary.add("Accept")
    return response


@bp.get("/certification/<cert_id>.json")
def show_json(cert_id: str):
    """The page's data as JSON (same structure the template renders)."""
    cert = _load(cert_id)
    return jsonify(cert)
