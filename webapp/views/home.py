"""Home page (certification list, search box, browse links) and keyword search."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from .. import data
from ..context import backend, uris

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """``/``: search box, the table of certifications (id, title, type, blocs, capacities), counts."""
    certs = data.list_certifications(backend(), uris())
    return render_template("home.html", certifications=certs, stats=data.statistics(backend()))


@bp.get("/certifications.json")
def index_json():
    """JSON twin of the list: ``{"certifications": [...], "statistics": {...}}``."""
    return jsonify(certifications=data.list_certifications(backend(), uris()), statistics=data.statistics(backend()))


@bp.get("/search")
def search():
    """``/search?q=``: certifications whose number, title, blocs, capacities, activities, jobs or ROME
    codes contain every word of *q* (accents and case ignored)."""
    q = (request.args.get("q") or "").strip()[:200]
    result = data.search(backend(), uris(), q) if q else {"q": "", "words": [], "results": []}
    return render_template("search.html", q=q, result=result)


@bp.get("/search.json")
def search_json():
    """JSON twin of the search (``segments`` dropped)."""
    q = (request.args.get("q") or "").strip()[:200]
    result = data.search(backend(), uris(), q) if q else {"q": "", "words": [], "results": []}
    for hit in result["results"]:
        for m in hit["matches"]:
            m.pop("segments", None)
    return jsonify(result)
