"""Bridges between certifications, gap analysis and neighbourhood graph.

=========================================  ============================================================
``/certification/<id>/passerelles.json``   the CLI's ``bridges --format json``: ``{certification, bridges:
                                           [{certification, score, evidence}]}`` (``?top=``, ``?blocs=``)
``/certification/<id>/graphe``             the neighbourhood graph (cytoscape.js), with the same facts as
                                           lists for browsers without JavaScript
``/certification/<id>/graphe.json``        its nodes and edges (cytoscape.js elements format)
``/ecart``                                 « Analyse d'écart »: GET form ``?de=…&vers=…&blocs=…``
``/ecart.json``                            the CLI's ``gap --format json``: ``{from, to, blocks: [{block,
                                           status, capacities, evidence}]}``
=========================================  ============================================================

The Passerelles section of ``/certification/<id>`` comes from :func:`section`. Unknown identifiers give
404 (HTML page or JSON ``{"error": "not found", "message"}``), bad parameters 400.
"""
from __future__ import annotations

import logging

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for

from cqpm_graph import queries as queries_mod
from cqpm_graph.backend import BackendError
from cqpm_graph.bridges import HeldBlocksError, UnknownCertificationError, normalise_id

from .. import bridges as br
from .. import data
from ..context import backend, uris

bp = Blueprint("bridges", __name__)
log = logging.getLogger(__name__)

MAX_TOP = 100

# what the templates need to link evidence and word it in French
bp.add_app_template_global(br.bloc_url, "bloc_url")
bp.add_app_template_global(br.capacity_url, "capacity_url")
bp.add_app_template_global({"methods": {**br.METHOD_LABELS, "identical-wording": "formulation identique"},
                            "predicates": br.PREDICATE_LABELS, "moves": br.MOVE_LABELS,
                            "kinds": br.KIND_LABELS, "weights": br.WEIGHTS, "signals": br.SIGNAL_LABELS},
                           "passerelles_labels")


def _unknown(exc: UnknownCertificationError):
    ids = ", ".join(f"« {i} »" for i in exc.identifiers)
    several = len(exc.identifiers) > 1
    return (f"Aucune certification {ids} dans le graphe." if not several
            else f"Aucune certification {ids} dans le graphe (identifiants inconnus).")


def _bad_request(message: str, as_json: bool):
    if as_json:
        return jsonify({"error": "bad request", "message": message}), 400
    return render_template("error.html", status=400, title="Requête incorrecte", message=message), 400


@bp.errorhandler(400)
def bad_request(exc):
    return _bad_request(getattr(exc, "description", None) or "Requête incorrecte.", request.path.endswith(".json"))


def _top() -> int:
    raw = request.args.get("top", "").strip()
    if not raw:
        return br.TOP
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_TOP:
        abort(400, description=f"« top » doit être un entier entre 1 et {MAX_TOP}.")
    return int(raw)


def section(cert_id: str) -> dict:
    """The Passerelles section of a certification page: :func:`cqpm_graph.webapp.bridges.bridges_view`
    of the top :data:`~cqpm_graph.webapp.bridges.TOP` bridges, or ``{"error": message, "bridges": []}``
    when they cannot be computed (the rest of the page still shows)."""
    try:
        return br.bridges_view(br.engine().bridges(cert_id, top=br.TOP))
    except UnknownCertificationError:
        # an identifier the bridge queries do not accept (unusual spelling): nothing to rank
        return {"certification": cert_id, "bridges": [], "error": None}
    except (BackendError, queries_mod.UnknownQueryError, queries_mod.QueryParameterError, RuntimeError) as exc:
        log.warning("bridges of %s unavailable: %s", cert_id, exc)
        return {"certification": cert_id, "bridges": [],
                "error": "Les passerelles ne peuvent pas être calculées pour le moment."}


@bp.get("/certification/<cert_id>/passerelles.json")
def bridges_json(cert_id: str):
    """The bridges of a certification, exactly as ``cqpm-graph bridges ID --format json``:
    ``{"certification": "RNCP28229", "bridges": [{"certification", "score", "evidence": [{"kind", …}]}]}``.

    ``?top=N`` (1–100, default 10) and ``?blocs=BC01,BC03`` (blocs actually held) as the CLI's ``--top``
    and ``--blocks``. 404 for an unknown certification, 400 for a bad ``top`` or a bloc of another one.
    """
    top = _top()
    blocs = br.split_blocs(request.args.getlist("blocs")) or None
    try:
        result = br.engine().bridges(cert_id, top=top, held_blocks=blocs)
    except UnknownCertificationError as exc:
        abort(404, description=_unknown(exc))
    except HeldBlocksError as exc:
        return _bad_request(f"Bloc(s) {', '.join(exc.blocks)} : pas un bloc de {exc.certification}.", True)
    return jsonify(result.to_dict())


def _graph(cert_id: str) -> dict:
    try:
        return br.neighbourhood(cert_id, top=_top())
    except UnknownCertificationError as exc:
        abort(404, description=_unknown(exc))


@bp.get("/certification/<cert_id>/graphe")
def graph(cert_id: str):
    """The neighbourhood of a certification drawn as a graph (``static/graph.js`` + vendored
    cytoscape.js, fed by ``graphe.json``); without JavaScript the same facts show as lists.
    A differently written id redirects (301) to the canonical one; 404 for an unknown one."""
    found = data.find_certification(backend(), uris(), cert_id)
    if found is None:
        abort(404, description=f"Aucune certification « {cert_id} » dans le graphe.")
    if found[1] != cert_id:
        return redirect(url_for(".graph", cert_id=found[1], **request.args), code=301)
    hood = _graph(cert_id)
    return render_template("graph.html", hood=hood, top=_top())


@bp.get("/certification/<cert_id>/graphe.json")
def graph_json(cert_id: str):
    """``{"certification", "title", "elements": {"nodes": [{"data": {id, label, title, kind, href, …},
    "classes"}], "edges": [{"data": {id, source, target, kind, label, …}, "classes"}]}}``: the
    certification itself (class ``focus``), its bridges (edges ``bridge`` with ``score``), its blocs and
    their equivalent blocs (edges ``has-bloc``, ``equivalent``) and the ROME fiches of all (edges
    ``rome``). ``?top=`` as for ``passerelles.json``. 404 for an unknown certification."""
    hood = _graph(cert_id)
    return jsonify({"certification": hood["certification"], "title": hood["title"], "elements": hood["elements"]})


# -- gap analysis ------------------------------------------------------------------------------------------

def _gap_args() -> tuple[str, str, list[str] | None, str | None]:
    """``(de, vers, blocs or None, notice)`` from the query string.

    ``blocs`` may repeat (checkboxes) or be comma-separated (hand-written URL). The form also sends
    ``blocs_de``: the certification its checkboxes were drawn for; when the user has since chosen another
    one, the old checkboxes are ignored (all blocs of the new one held) instead of failing.
    """
    de = request.args.get("de", "").strip()
    vers = request.args.get("vers", "").strip()
    blocs = br.split_blocs(request.args.getlist("blocs"))
    drawn_for = request.args.get("blocs_de", "").strip()
    notice = None
    if drawn_for and de and not br.same_certification(drawn_for, de):
        if blocs:
            notice = (f"Les blocs cochés étaient ceux de {drawn_for} : ils sont ignorés, et {de} est considérée "
                      f"comme détenue en entier.")
        blocs = []
    elif drawn_for and not blocs:
        notice = ("Aucun bloc coché : cochez au moins un bloc détenu. Tous les blocs sont considérés "
                  "comme détenus.")
    return de, vers, blocs or None, notice


def _certification_choices() -> list[dict]:
    return [{"id": c["id"], "title": c["short_title"] or c["title"]}
            for c in data.list_certifications(backend(), uris())]


@bp.get("/ecart")
def gap():
    """« Analyse d'écart »: choose the certification held (``de``), optionally the blocs of it actually
    held (``blocs``), and the one aimed at (``vers``); see the target's blocs with status acquis / partiel /
    à acquérir, their capacities and the evidence. Plain GET form, so results can be bookmarked.
    200 (the form alone without ``de`` and ``vers``); 404 unknown certification; 400 a bloc not of ``de``."""
    de, vers, blocs, notice = _gap_args()
    context = {"de": de, "vers": vers, "notice": notice, "error": None, "report": None, "held_blocs": [],
               "selected": None, "choices": _certification_choices()}
    status = 200
    if de:
        try:
            context["de"] = normalise_id(de)
        except ValueError:
            pass
        try:
            context["held_blocs"] = br.blocs_of(context["de"])
        except queries_mod.QueryParameterError:
            context["held_blocs"] = []
    if de and vers:
        try:
            report = br.engine().gap(de, vers, held_blocks=blocs)
            context["report"] = br.gap_view(report)
            context["de"], context["vers"] = report.source, report.target
            context["json_url"] = url_for(".gap_json", **{k: v for k, v in request.args.items(multi=True)
                                                           if k in ("de", "vers", "blocs")})
            context["selected"] = set(report.held_blocks) if report.held_blocks else None
        except UnknownCertificationError as exc:
            context["error"] = _unknown(exc)
            status = 404
        except HeldBlocksError as exc:
            context["error"] = (f"Bloc(s) {', '.join(exc.blocks)} : pas un bloc de {exc.certification}. "
                                f"Ses blocs : {', '.join(exc.available) or 'aucun'}.")
            status = 400
    elif de or vers:
        context["error"] = "Choisissez la certification détenue et la certification visée."
    return render_template("gap.html", **context), status


@bp.get("/ecart.json")
def gap_json():
    """The gap analysis exactly as ``cqpm-graph gap --from DE --to VERS --format json``:
    ``{"from", "to", "blocks": [{"block", "status": "covered"|"partial"|"missing", "capacities",
    "evidence"}]}``. 400 without ``de`` and ``vers`` or for a bloc not of ``de``; 404 unknown certification."""
    de = request.args.get("de", "").strip()
    vers = request.args.get("vers", "").strip()
    if not de or not vers:
        return _bad_request("Paramètres « de » (certification détenue) et « vers » (certification visée) requis.",
                            True)
    blocs = br.split_blocs(request.args.getlist("blocs")) or None
    try:
        report = br.engine().gap(de, vers, held_blocks=blocs)
    except UnknownCertificationError as exc:
        abort(404, description=_unknown(exc))
    except HeldBlocksError as exc:
        return _bad_request(f"Bloc(s) {', '.join(exc.blocks)} : pas un bloc de {exc.certification}.", True)
    return jsonify(report.to_dict())
