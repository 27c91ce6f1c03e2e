"""Home page (counts, filterable and paginated certification list, search box) and keyword search.

Both read the explorer index (:mod:`..directory`); while it is being built (national scale, first start on
a build without one) they answer 503 with ``Retry-After``.

=================================  ======================================================================
``/``                              counts, filters (``registre``, ``niveau``, ``type``, ``etat``), order
                                   (``tri``), a page of the list (``page``, ``par_page``)
``/certifications.json``           the same page as JSON: ``certifications`` (the page), ``statistics``,
                                   ``pagination`` (``Link`` header too), ``filters``, ``facets``
``/search?q=``                     certifications whose texts contain every word (``page``)
``/search.json?q=``                its JSON twin
=================================  ======================================================================
"""
from __future__ import annotations

from flask import Blueprint, jsonify, make_response, render_template, request

from .. import directory
from ..directory import BadRequest, IndexUnavailable

bp = Blueprint("home", __name__)


@bp.app_errorhandler(IndexUnavailable)
def index_unavailable(exc: IndexUnavailable):
    """503 (HTML or JSON) while the explorer index is not ready, with ``Retry-After``."""
    if request.path.endswith(".json"):
        response = jsonify({"error": "unavailable", "message": exc.message})
    else:
        response = make_response(render_template("error.html", status=503, title="Index en préparation",
                                                 message=exc.message, refresh=directory.RETRY_AFTER))
    response.status_code = 503
    response.headers["Retry-After"] = str(directory.RETRY_AFTER)
    return response


@bp.app_errorhandler(BadRequest)
def bad_request(exc: BadRequest):
    """400 for an invalid page, filter or order."""
    if request.path.endswith(".json"):
        return jsonify({"error": "bad request", "message": str(exc)}), 400
    return render_template("error.html", status=400, title="Requête incorrecte", message=str(exc)), 400


def _listing(endpoint: str):
    filters, order = directory.list_args()
    page, per_page = directory.page_args(directory.LIST_PER_PAGE)
    listing = directory.certification_list(filters, order, page, per_page)
    pages = directory.pagination(endpoint, page, per_page, listing.total, directory.LIST_PER_PAGE,
                                 tri=None if order == "numero" else order, **filters.as_dict())
    return listing, pages


@bp.get("/")
def index():
    """``/``: search box, counts, the filters with the number of certifications each gives, and a page of
    the certifications (id, title, type, register, level, state, blocs, capacities, ROME codes)."""
    listing, pages = _listing("home.index")
    return render_template("home.html", certifications=listing.certifications, stats=listing.statistics,
                           listing=listing, pages=pages, registres=directory.REGISTRES, etats=directory.ETATS,
                           orders=directory.ORDERS, per_page_choices=directory.PER_PAGE_CHOICES)


@bp.get("/certifications.json")
def index_json():
    """JSON twin of the list page: ``{"certifications": [...this page...], "statistics": {...},
    "pagination": {page, per_page, total, pages, first, prev, next, last}, "filters": {...}, "facets":
    {...}}``; the same filters and ``page`` / ``par_page`` as ``/``; ``Link`` header (first, prev, next,
    last)."""
    listing, pages = _listing("home.index_json")
    response = jsonify(certifications=listing.certifications, statistics=listing.statistics,
                       pagination=directory.public(pages),
                       filters=listing.filters.as_dict(), order=listing.order, facets=listing.facets)
    response.headers["Link"] = directory.link_header(pages)
    return response


def _search(endpoint: str) -> tuple[str, dict]:
    q = (request.args.get("q") or "").strip()[:200]
    page, per_page = directory.page_args(directory.SEARCH_PER_PAGE)
    result = directory.search(q, page, per_page) if q else {"q": "", "words": [], "total": 0, "results": []}
    result["pagination"] = directory.pagination(endpoint, page, per_page, result["total"],
                                                directory.SEARCH_PER_PAGE, q=q or None)
    return q, result


@bp.get("/search")
def search():
    """``/search?q=``: certifications whose number, title, blocs, capacities, activities, jobs, ROME or NSF
    codes contain every word of *q* (accents and case ignored), best first, 20 a page (``page``)."""
    q, result = _search("home.search")
    return render_template("search.html", q=q, result=result, pages=result["pagination"])


@bp.get("/search.json")
def search_json():
    """JSON twin of the search (``segments`` dropped): ``{q, words, total, results, pagination}``."""
    _q, result = _search("home.search_json")
    for hit in result["results"]:
        for m in hit["matches"]:
            m.pop("segments", None)
    result["pagination"] = directory.public(result["pagination"])
    response = jsonify(result)
    response.headers["Link"] = directory.link_header(result["pagination"])
    return response
