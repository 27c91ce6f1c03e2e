"""The certification page ``/certification/<id>`` and its JSON twin ``/certification/<id>.json``."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, render_template, url_for

from .. import data
from ..context import store, uris

bp = Blueprint("certification", __name__)


def _load(cert_id: str) -> dict:
    cert = data.certification(store(), uris(), cert_id)
    if cert is None:
        abort(404, description=f"Aucune certification « {cert_id} » dans le graphe.")
    return cert


@bp.get("/certification/<cert_id>")
def show(cert_id: str):
    """The whole certification: identity, blocs and capacities, référentiel, activities, ROME / NSF codes,
    jobs, access, registration, statistics, history, provenance. 404 for an unknown id; a
    differently written id (``rncp28229``) redirects to the canonical page."""
    if cert_id.endswith(".json"):
        return show_json(cert_id[:-5])
    cert = _load(cert_id)
    if cert["id"] != cert_id:
        return redirect(url_for(".show", cert_id=cert["id"]), code=301)
    return render_template("certification.html", cert=cert, today=data.today())


@bp.get("/certification/<cert_id>.json")
def show_json(cert_id: str):
    """The page's data as JSON (same structure the template renders)."""
    cert = _load(cert_id)
    return jsonify(cert)
