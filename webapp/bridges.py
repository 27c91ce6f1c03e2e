"""Bridges, gap analysis and neighbourhood graph for the explorer pages, over the app's own backend.

The ranking and the gap analysis are :mod:`cqpm_graph.bridges` (the same :class:`~cqpm_graph.bridges.Bridges`
the ``bridges`` and ``gap`` CLI verbs use, so ``/certification/<id>/passerelles.json`` and ``/ecart.json``
give exactly the CLI's JSON). Its named queries run through :class:`cqpm_graph.bridges.runner.BackendRunner`, i.e. through the
:class:`~cqpm_graph.backend.Backend` that :func:`cqpm_graph.webapp.create_app` chose (embedded store or
remote endpoint): no view opens a store.

Everything here returns plain dicts / lists so one structure renders the HTML page and its JSON twin.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from flask import url_for

from cqpm_graph.bridges import KINDS, WEIGHTS, Bridges, BridgesResult, GapReport, normalise_id
from cqpm_graph.bridges.runner import BackendRunner

from .context import backend, explorer


#: How many bridges the certification page and the graph show.
TOP = 10

#: French names of the evidence kinds, as group headings (plural) and in the score breakdown.
KIND_LABELS = {"block": "Blocs équivalents", "capacity": "Capacités proches", "lineage": "Filiation",
               "rome": "Métiers (ROME)", "nsf": "Domaine de formation (NSF)", "level": "Niveau"}
SIGNAL_LABELS = {"block": "blocs", "capacity": "capacités", "lineage": "filiation", "rome": "ROME",
                 "nsf": "NSF", "level": "niveau"}
#: Gap statuses: French label, CSS modifier, symbol (so the status is never told by colour alone).
STATUS = {"covered": {"label": "acquis", "css": "acquis", "symbol": "✓"},
          "partial": {"label": "partiel", "css": "partiel", "symbol": "◐"},
          "missing": {"label": "à acquérir", "css": "a-acquerir", "symbol": "✗"}}
METHOD_LABELS = {"identical-title": "intitulé identique", "normalised-title": "intitulé identique après normalisation",
                 "same-capacities": "mêmes capacités", "tfidf-cosine": "similarité des libellés (TF-IDF)"}
PREDICATE_LABELS = {"skos:exactMatch": "identique", "skos:closeMatch": "proche", "skos:relatedMatch": "apparentée"}
MOVE_LABELS = {"across": "même niveau", "up": "montée de niveau", "down": "niveau inférieur"}


def engine() -> Bridges:
    """The app's :class:`~cqpm_graph.bridges.Bridges`, built once on the :class:`~cqpm_graph.webapp.Explorer`
    (it only holds the backend and the query catalogue, both fixed for the app's life).

    :raises RuntimeError: when the stored-query catalogue could not be loaded.
    """
    ex = explorer()
    found = getattr(ex, "bridges", None)
    if found is None:
        catalogue = ex.get_catalogue()
        if catalogue.error:
            raise RuntimeError(catalogue.error)
        found = ex.bridges = Bridges(BackendRunner(backend(), catalogue.queries))
    return found


# -- links -------------------------------------------------------------------------------------------------

def cert_url(cert_id: str) -> str:
    """The page of a certification."""
    return url_for("certification.show", cert_id=cert_id)


def bloc_url(code: str, cert_id: str | None = None) -> str:
    """The bloc's row on its certification page (``RNCP28229BC01`` → ``/certification/RNCP28229#bloc-…``)."""
    cert = cert_id or re.sub(r"BC\d+$", "", code)
    return f"{cert_url(cert)}#bloc-{code}"


def capacity_url(local: str, cert_id: str) -> str:
    """The capacity on its certification page (anchor ``capacite-<local id>``, see certification.html)."""
    return f"{cert_url(cert_id)}#capacite-{local}"


def gap_url(source: str, target: str, blocs: Iterable[str] | None = None) -> str:
    """``/ecart?de=…&vers=…[&blocs=…]``."""
    args = {"de": source, "vers": target}
    if blocs:
        args["blocs"] = ",".join(blocs)
    return url_for("bridges.gap", **args)


# -- bridges -----------------------------------------------------------------------------------------------

def percent(score: float) -> int:
    """A score in [0, 1] as a whole percentage (at least 1 for any positive score, so none reads 0 %)."""
    value = round(score * 100)
    return max(value, 1) if score > 0 else 0


def bridges_view(result: BridgesResult) -> dict:
    """The Passerelles section: ``{certification, title, held_blocks, bridges: [{certification, title,
    score, percent, signals: [{kind, label, value, weight, percent}], groups: [{kind, label, evidence}],
    gap_url}]}``; evidence items are the engine's dicts unchanged (the template links what they name)."""
    out = []
    for b in result.bridges:
        groups: dict[str, list[dict]] = defaultdict(list)
        for e in b.evidence:
            groups[e["kind"]].append(e)
        out.append({
            "certification": b.certification, "title": b.title, "score": b.score, "percent": percent(b.score),
            "signals": [{"kind": k, "label": SIGNAL_LABELS[k], "value": b.signals.get(k, 0.0),
                         "weight": WEIGHTS.get(k, 0.0), "percent": percent(b.signals.get(k, 0.0))}
                        for k in KINDS if b.signals.get(k)],
            "groups": [{"kind": k, "label": KIND_LABELS[k], "evidence": groups[k]} for k in KINDS if groups.get(k)],
            "gap_url": gap_url(result.certification, b.certification, result.held_blocks),
        })
    return {"certification": result.certification, "title": result.title, "held_blocks": result.held_blocks,
            "bridges": out}


# -- gap analysis ------------------------------------------------------------------------------------------

def split_blocs(values: Iterable[str]) -> list[str]:
    """``["BC01,RNCP28229BC03", "BC02"]`` (repeated parameters, each comma-separated) → bloc codes, in
    order, without duplicates or blanks."""
    out: list[str] = []
    for value in values:
        for item in value.replace(";", ",").split(","):
            item = item.strip()
            if item and item not in out:
                out.append(item)
    return out


def blocs_of(cert_id: str) -> list[dict]:
    """The blocs of a certification, in order: ``[{code, short, title}]`` (``short`` = ``BC01``); empty for
    a certification without blocs (référentiel CQPM, fiche RS). Query ``gap-blocks``."""
    seen: dict[str, dict] = {}
    for r in engine().run("gap-blocks", {"certification": cert_id}):
        if "block" not in r:
            continue
        code = r.get("blockCode") or r["block"].rsplit("/", 1)[-1]
        if code not in seen:
            m = re.search(r"BC\d+$", code)
            seen[code] = {"code": code, "short": m.group(0) if m else code, "title": r.get("blockTitle", "")}
    return sorted(seen.values(), key=lambda b: _bloc_key(b["code"]))


def _bloc_key(code: str):
    m = re.search(r"BC(\d+)$", code)
    return (int(m.group(1)) if m else 0, code)


def gap_view(report: GapReport) -> dict:
    """The gap page: ``{from, to, from_title, to_title, held_blocks, counts: [{status, label, css, symbol,
    n}], blocks: [{block, short, title, pseudo, status{…}, capacities[{capacity, code, label, status{…},
    evidence[…]}], block_evidence[…], evidence[…]}]}`` where ``status{…}`` is ``{key, label, css,
    symbol}``; capacity evidence is attached to the capacity it covers, bloc equivalences to the bloc."""
    counts = report.counts()
    blocks = []
    for b in report.blocks:
        by_target: dict[str, list[dict]] = defaultdict(list)
        for e in b.evidence:
            if e["kind"] == "capacity":
                by_target[e["target"]].append(e)
        m = re.search(r"BC\d+$", b.block)
        blocks.append({
            "block": b.block, "short": m.group(0) if m else b.block, "title": b.title, "pseudo": b.pseudo,
            "status": {"key": b.status, **STATUS[b.status]},
            "capacities": [{**c, "status": {"key": c["status"], **STATUS[c["status"]]},
                            "evidence": by_target.get(c["capacity"], [])} for c in b.capacities],
            "block_evidence": [e for e in b.evidence if e["kind"] == "block"],
            "evidence": b.evidence,
        })
    return {"from": report.source, "to": report.target, "from_title": report.source_title,
            "to_title": report.target_title, "held_blocks": report.held_blocks,
            "counts": [{"status": s, **STATUS[s], "n": counts[s]} for s in STATUS],
            "blocks": blocks}


# -- neighbourhood graph -----------------------------------------------------------------------------------

def neighbourhood(cert_id: str, top: int = TOP) -> dict:
    """A certification's neighbourhood as a graph: itself, its ``top`` bridges, its blocs and their
    equivalent blocs, and the ROME fiches of all of them.

    :returns: ``{certification, title, elements: {nodes: [{data, classes}], edges: [{data, classes}]},
        lists: {bridges, blocs, rome}}`` — ``elements`` is cytoscape.js's elements format (node ``data``:
        ``id, label, title, kind, href`` (+ ``score``); edge ``data``: ``id, source, target, kind, label``
        (+ ``score``)), ``lists`` the same facts for the page without JavaScript.
    :raises cqpm_graph.bridges.UnknownCertificationError: unknown identifier.
    """
    bridges = engine()
    result = bridges.bridges(cert_id, top=top)
    focus = result.certification
    nodes: dict[str, dict] = {}
    edges: dict[str, dict] = {}

    def node(nid: str, kind: str, label: str, title: str, href: str, classes: str = "", **extra):
        if nid not in nodes:
            nodes[nid] = {"data": {"id": nid, "label": label, "title": title, "kind": kind, "href": href, **extra},
                          "classes": " ".join(filter(None, [kind, classes]))}
        return nid

    def edge(source: str, target: str, kind: str, label: str = "", **extra):
        eid = f"{kind}:{source}->{target}"
        if eid not in edges:
            edges[eid] = {"data": {"id": eid, "source": source, "target": target, "kind": kind, "label": label,
                                   **extra}, "classes": kind}

    me = node(f"certification:{focus}", "certification", focus, result.title, cert_url(focus), "focus")
    titles = {focus: result.title}
    bridge_list = []
    for b in result.bridges:
        titles[b.certification] = b.title
        other = node(f"certification:{b.certification}", "certification", b.certification, b.title,
                     cert_url(b.certification), score=b.score)
        edge(me, other, "bridge", f"{percent(b.score)} %", score=b.score)
        bridge_list.append({"certification": b.certification, "title": b.title, "score": b.score,
                            "percent": percent(b.score),
                            "kinds": [KIND_LABELS[k] for k in KINDS if b.signals.get(k)]})

    # the focus's own blocs, then the equivalent blocs the bridges name
    bloc_list = []
    equivalents: dict[str, list[dict]] = defaultdict(list)
    for b in result.bridges:
        for e in b.evidence:
            if e["kind"] == "block":
                equivalents[e["source"]].append({"certification": b.certification, "block": e["target"],
                                                 "title": e.get("targetTitle", ""), "methods": e.get("methods", [])})
    for bloc in blocs_of(focus):
        bid = node(f"bloc:{bloc['code']}", "bloc", bloc["short"], bloc["title"], bloc_url(bloc["code"], focus))
        edge(me, bid, "has-bloc")
        for eq in equivalents.get(bloc["code"], []):
            other_bid = node(f"bloc:{eq['block']}", "bloc", eq["block"], eq["title"],
                             bloc_url(eq["block"], eq["certification"]))
            edge(f"certification:{eq['certification']}", other_bid, "has-bloc")
            edge(bid, other_bid, "equivalent", "équivalent")
        bloc_list.append({**bloc, "equivalents": equivalents.get(bloc["code"], [])})

    # ROME fiches of the focus and of its neighbours; a fiche shared by several links them
    rome: dict[str, dict] = {}
    ids = list(titles)
    rows = bridges.run("certification-rome", {"certification": ids if len(ids) > 1 else ids[0]})
    for r in rows:
        code, cid = r.get("romeCode"), r.get("certification")
        if not code or cid not in titles:
            continue
        entry = rome.setdefault(code, {"code": code, "label": r.get("romeLabel", ""), "certifications": []})
        if cid not in entry["certifications"]:
            entry["certifications"].append(cid)
        rid = node(f"rome:{code}", "rome", code, entry["label"], url_for("nomenclature.rome", code=code))
        edge(f"certification:{cid}", rid, "rome")
    rome_list = sorted(rome.values(), key=lambda x: (-len(x["certifications"]), x["code"]))
    for entry in rome_list:
        entry["certifications"].sort(key=lambda c: (c != focus, c))
        nodes[f"rome:{entry['code']}"]["data"]["shared"] = len(entry["certifications"]) > 1
        if len(entry["certifications"]) > 1:
            nodes[f"rome:{entry['code']}"]["classes"] += " shared"

    return {"certification": focus, "title": result.title,
            "elements": {"nodes": list(nodes.values()), "edges": list(edges.values())},
            "lists": {"bridges": bridge_list, "blocs": bloc_list, "rome": rome_list, "titles": titles}}


def same_certification(a: str, b: str) -> bool:
    """True when two identifiers name the same certification (``rncp28229`` = ``RNCP28229``)."""
    try:
        return normalise_id(a) == normalise_id(b)
    except ValueError:
        return a == b
