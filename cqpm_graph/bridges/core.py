"""Bridges between certifications and gap analysis, computed from the graph by named SPARQL queries.

Python only orchestrates and ranks: every fact comes from a query of ``queries/`` (``bridge-*.rq``,
``gap-blocks.rq``) run by a *runner* (:mod:`cqpm_graph.bridges.runner`), so the same answers come from the
embedded store and from a remote SPARQL endpoint.

Scoring (see ``docs/bridges.md``): for a certification held *A* and a candidate *B*, each signal gives a
score in [0, 1] and the bridge score is their weighted sum with the weights of :data:`WEIGHTS` (which add
up to 1), so it stays in [0, 1]:

=========  ======  =======================================================================================
signal     weight  per-signal score
=========  ======  =======================================================================================
block      0.40    share of B's blocs that have an equivalent bloc in A (identical or normalised title,
                   same capacities): the law treats identical blocs as equivalent
capacity   0.25    share of B's capacities with a close capacity in A (skos:closeMatch counts 1,
                   skos:relatedMatch 0.5: the gap statuses covered / partial)
lineage    0.15    1 / number of replacements between A and B (1 for a direct replacement)
rome       0.10    1 for a shared ROME fiche, 0.5 for the same domaine professionnel (H25), else half the
                   share of A's ROME savoir-faire that B's ROME fiches also list
nsf        0.05    1 same code, 0.75 parent/sub-speciality (200 / 200r), 0.6 same speciality, 0.4 same group
level      0.05    1 across (same level), 0.8 one level up, 0.5 more than one up, 0.3 down
=========  ======  =======================================================================================

Candidates are *nominated* by blocs, capacities and lineage; shared ROME codes and NSF proximity nominate
only when those give fewer than the number asked for (or all are asked for): a common ROME fiche or NSF
group is shared by thousands of certifications nationally. ROME, NSF and level then refine the candidates
that can still reach the top *N* (their score plus the most the refining signals can add is at least the
*N*-th score; at most :data:`REFINE_FACTOR` × *N* of them), shared ROME savoir-faire the best *N*. Ordering is deterministic: score descending, then identifier.

When the graph holds the build-time shortlists (``cqpm:BridgeShortlist`` in ``graph/bridges``, query
``bridge-shortlist``), the nomination is one indexed lookup: the shortlist gives the candidates already
ranked by the bloc, capacity and lineage signals; only the candidates that can reach the top *N* are refined
and only the top *N* get their evidence, through the same queries bounded to them (``other`` as a list).
Without shortlists (a remote endpoint that lacks them), with held blocs, or with other weights, everything
is computed on demand as above; both ways give the same answers (tests compare them).
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from .runner import Runner, StoreRunner

#: Weight of each signal in the bridge score; they add up to 1.
WEIGHTS: dict[str, float] = {
    "block": 0.40, "capacity": 0.25, "lineage": 0.15, "rome": 0.10, "nsf": 0.05, "level": 0.05,
}
#: Order of evidence kinds in an answer.
KINDS = ("block", "capacity", "lineage", "rome", "nsf", "level")
#: Per-relation scores of the ROME, NSF and level signals.
ROME_SCORES = {"same-fiche": 1.0, "same-domaine": 0.5}
ROME_COMPETENCE_FACTOR = 0.5
NSF_SCORES = {"same-code": 1.0, "broader": 0.75, "narrower": 0.75, "same-speciality": 0.6, "same-group": 0.4}
LEVEL_SCORES = {"across": 1.0, "up": 0.8, "far-up": 0.5, "down": 0.3}
#: How many candidates (best first) get the shared ROME savoir-faire refinement (at most ``top`` of them).
REFINE_LIMIT = 15
#: At most this many × ``top`` candidates get the ROME, NSF and level refinement.
REFINE_FACTOR = 3
#: Capacity statuses given by a mapping predicate in the gap analysis.
PREDICATE_STATUS = {"closeMatch": "covered", "exactMatch": "covered", "relatedMatch": "partial"}
#: What a capacity of the candidate counts in the capacity signal, by the best mapping it has.
PREDICATE_CREDIT = {"closeMatch": 1.0, "exactMatch": 1.0, "relatedMatch": 0.5}

STATUSES = ("covered", "partial", "missing")
_ID_RE = re.compile(r"^(?:(RNCP|RS)(\d{1,6})|(CQPM-[A-Za-z0-9-]+))$", re.I)
_SKOS = "http://www.w3.org/2004/02/skos/core#"


class UnknownCertificationError(LookupError):
    """No certification with this identifier in the graph; ``identifiers`` lists the unknown ones."""

    def __init__(self, identifiers: list[str]):
        self.identifiers = identifiers
        names = ", ".join(identifiers)
        super().__init__(f"unknown certification: {names} (no cqpm:Certification with this "
                         f"dcterms:identifier in the graph)")


class HeldBlocksError(ValueError):
    """``--blocks`` names a bloc that is not a bloc of the certification held; ``blocks`` lists them."""

    def __init__(self, certification: str, blocks: list[str], available: list[str]):
        self.certification, self.blocks, self.available = certification, blocks, available
        which = ", ".join(available) if available else "none: it has no blocs"
        super().__init__(f"not a bloc of {certification}: {', '.join(blocks)} (its blocs: {which})")


def normalise_id(identifier: str) -> str:
    """Canonical certification identifier: ``rncp28229`` → ``RNCP28229``; ``CQPM-…`` keeps its slug.

    :raises ValueError: when *identifier* is not an RNCP/RS number nor a ``CQPM-<slug>``.
    """
    text = identifier.strip()
    m = _ID_RE.match(text)
    if not m:
        raise ValueError(f"{identifier!r} is not a certification identifier (RNCP28229, RS6117, CQPM-<titre>)")
    if m.group(3):
        return "CQPM-" + m.group(3)[5:].lower()
    return m.group(1).upper() + m.group(2)


def _local(iri: str) -> str:
    """Last path segment of a data IRI: ``…/capacite/RNCP28229-C1`` → ``RNCP28229-C1``."""
    return iri.rsplit("/", 1)[-1]


def _curie(predicate: str) -> str:
    return "skos:" + predicate[len(_SKOS):] if predicate.startswith(_SKOS) else predicate


def _level_number(notation) -> int | None:
    m = re.search(r"(\d+)", str(notation or ""))
    return int(m.group(1)) if m else None


# -- results -------------------------------------------------------------------------------------------------

@dataclass
class CertificationInfo:
    """What the bridge computation knows of a certification (query ``bridge-certifications``).

    :ivar id: ``dcterms:identifier`` (``RNCP28229``, ``CQPM-…``); ``iri`` its IRI; ``title`` its short title
        when it has one, else its full title; ``blocks`` / ``capacities`` how many it has.
    """

    id: str
    iri: str
    title: str = ""
    notation: str | None = None
    blocks: int = 0
    capacities: int = 0


@dataclass
class Bridge:
    """One ranked bridge from the certification held to ``certification``.

    :ivar score: weighted sum of :attr:`signals` (see :data:`WEIGHTS`), in [0, 1], rounded to 4 places.
    :ivar signals: per-signal score in [0, 1], for every kind of :data:`KINDS` (0 when no evidence).
    :ivar evidence: dicts with a ``kind`` (``block``, ``capacity``, ``lineage``, ``rome``, ``nsf``,
        ``level``) and the facts a person can check in the graph.
    """

    certification: str
    score: float
    evidence: list[dict]
    title: str = ""
    signals: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The public JSON shape: ``{"certification", "score", "evidence"}``."""
        return {"certification": self.certification, "score": self.score, "evidence": self.evidence}


@dataclass
class BridgesResult:
    """The bridges of one certification, best first (see :meth:`Bridges.bridges`)."""

    certification: str
    title: str
    bridges: list[Bridge]
    held_blocks: list[str] | None = None

    def to_dict(self) -> dict:
        """``{"certification": "RNCP28229", "bridges": [{"certification", "score", "evidence"}, …]}``."""
        return {"certification": self.certification, "bridges": [b.to_dict() for b in self.bridges]}


@dataclass
class BlockGap:
    """One bloc of the target certification in a gap analysis.

    :ivar block: bloc code (``RNCP19453BC02``); for the capacities of a target without blocs, the
        target's identifier (one pseudo-bloc, :attr:`pseudo` true).
    :ivar status: ``covered`` | ``partial`` | ``missing``.
    :ivar capacities: ``[{"capacity": "RNCP19453-C4", "code": "C4", "label": …, "status": …}]``.
    :ivar evidence: ``block`` evidence (an equivalent bloc held) and ``capacity`` evidence (a held
        capacity close to one of this bloc's).
    """

    block: str
    status: str
    capacities: list[dict]
    evidence: list[dict]
    title: str = ""
    pseudo: bool = False

    def to_dict(self) -> dict:
        """``{"block", "status", "capacities", "evidence"}``."""
        return {"block": self.block, "status": self.status, "capacities": self.capacities,
                "evidence": self.evidence}


@dataclass
class GapReport:
    """What is left to acquire of ``target`` for a holder of ``source`` (see :meth:`Bridges.gap`)."""

    source: str
    target: str
    blocks: list[BlockGap]
    source_title: str = ""
    target_title: str = ""
    held_blocks: list[str] | None = None

    def to_dict(self) -> dict:
        """``{"from": "A", "to": "B", "blocks": [{"block", "status", "capacities", "evidence"}, …]}``."""
        return {"from": self.source, "to": self.target, "blocks": [b.to_dict() for b in self.blocks]}

    def counts(self) -> dict[str, int]:
        """How many blocs are ``covered``, ``partial``, ``missing``."""
        out = dict.fromkeys(STATUSES, 0)
        for b in self.blocks:
            out[b.status] += 1
        return out


# -- the computation --------------------------------------------------------------------------------------------

class Bridges:
    """Rank the certifications closest to a certification held, and analyse the gap to one of them.

    :param runner: a query runner (``runner(name, params) -> rows``, see :mod:`cqpm_graph.bridges.runner`);
        a :class:`pyoxigraph.Store` is accepted too and wrapped in a :class:`StoreRunner`.
    :param weights: signal weights (default :data:`WEIGHTS`); they should add up to 1 to keep scores in
        [0, 1].

    Typical use::

        bridges = Bridges.from_store(open_store(settings))
        result = bridges.bridges("RNCP28229", top=5)
        report = bridges.gap("RNCP28229", "RNCP19453", held_blocks=["RNCP28229BC01"])
    """

    def __init__(self, runner: Runner, weights: dict[str, float] | None = None, use_shortlists: bool = True):
        if not callable(runner):  # a pyoxigraph store
            runner = StoreRunner(runner)
        self._runner = runner
        #: queries sent ahead (:meth:`_prefetch`), by name and parameters, until :meth:`run` asks for them
        self._ahead: dict = {}
        self._pool = None
        self.weights = dict(WEIGHTS if weights is None else weights)
        #: read the build-time shortlists when the graph has them (``False``: always compute on demand)
        self.use_shortlists = use_shortlists and all(
            self.weights.get(k) == WEIGHTS[k] for k in ("block", "capacity", "lineage"))

    def run(self, name: str, params: dict) -> list[dict]:
        """Rows of the named query *name* with *params* through the runner (or sent ahead)."""
        future = self._ahead.pop((name, _params_key(params)), None)
        return future.result() if future is not None else self._runner(name, params)

    def _prefetch(self, calls: list[tuple[str, dict]]) -> None:
        """Send the queries *calls* at once, each in a thread, when the runner allows it
        (``runner.concurrent``: pyoxigraph releases the GIL while a query runs, and the explorer's backend
        is shared by its threads anyway); :meth:`run` then waits for the one asked for. Independent
        queries of one answer then take about the time of the longest, not of all."""
        if not getattr(self._runner, "concurrent", False) or len(calls) < 2:
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor
            self._pool = ThreadPoolExecutor(max_workers=PARALLEL_QUERIES, thread_name_prefix="cqpm-bridges")
        for name, params in calls:
            key = (name, _params_key(params))
            if key not in self._ahead:
                self._ahead[key] = self._pool.submit(self._runner, name, params)

    @classmethod
    def from_store(cls, store, catalogue=None, **kwargs) -> "Bridges":
        """Bridges over an embedded pyoxigraph store."""
        return cls(StoreRunner(store, catalogue), **kwargs)

    @classmethod
    def from_endpoint(cls, url: str, catalogue=None, **kwargs) -> "Bridges":
        """Bridges over a remote SPARQL 1.1 endpoint (SPARQLWrapper)."""
        from .runner import EndpointRunner
        return cls(EndpointRunner(url, catalogue), **kwargs)

    # -- certifications ---------------------------------------------------------------------------------
    def certifications(self, identifiers: list[str]) -> dict[str, CertificationInfo]:
        """Look certifications up by identifier (query ``bridge-certifications``).

        :returns: ``{id: CertificationInfo}`` for those found (unknown ones are absent).
        """
        if not identifiers:
            return {}
        ids = list(dict.fromkeys(identifiers))
        rows = self.run("bridge-certifications", {"certification": ids if len(ids) > 1 else ids[0]})
        out = {}
        for r in rows:
            cid = r["certification"]
            out[cid] = CertificationInfo(
                id=cid, iri=r["cert"], title=r.get("shortTitle") or r.get("title") or cid,
                notation=r.get("notation"), blocks=int(r.get("blocks", 0)), capacities=int(r.get("capacities", 0)))
        return out

    def certification(self, identifier: str) -> CertificationInfo:
        """One certification by identifier (any case: ``rncp28229`` works).

        :raises UnknownCertificationError: when the graph has none with this identifier.
        """
        try:
            cid = normalise_id(identifier)
        except ValueError:
            raise UnknownCertificationError([identifier]) from None
        found = self.certifications([cid])
        if cid not in found:
            raise UnknownCertificationError([identifier])
        return found[cid]

    # -- bridges -------------------------------------------------------------------------------------------
    def bridges(self, identifier: str, top: int | None = 10, held_blocks: list[str] | None = None) -> BridgesResult:
        """The certifications closest to *identifier*, best first, with their evidence.

        :param identifier: the certification held (``RNCP28229``, ``CQPM-management-d-equipe-s-autonome-s``).
        :param top: how many bridges to return (``None``: all candidates).
        :param held_blocks: bloc codes of the certification actually held (default: all of them); bloc and
            capacity evidence then only counts those blocs and their capacities.
        :returns: a :class:`BridgesResult` (its list may be empty when nothing in the graph relates).
        :raises UnknownCertificationError: when *identifier* is not in the graph.
        :raises HeldBlocksError: when *held_blocks* names a bloc of another certification.
        """
        source = self.certification(identifier)
        a = source.id
        if not held_blocks and self.use_shortlists:
            shortlist = self.shortlist(a)
            if shortlist is not None and shortlist.answers(top):
                return self._bridges_from_shortlist(source, shortlist, top)
        held, held_caps = self._held(source, held_blocks)
        signals: dict[str, dict[str, float]] = defaultdict(dict)
        evidence: dict[str, list[dict]] = defaultdict(list)

        self._block_signal(a, None, held, signals, evidence)
        self._capacity_signal(a, None, held_caps, signals, evidence)
        self._lineage_signal(a, None, signals, evidence)
        filled = False
        if top is None or len(signals) < top:
            # few candidates (or all asked for): shared ROME codes and NSF proximity nominate too (they are
            # broad: a common ROME fiche or NSF group is shared by thousands of certifications nationally)
            self._rome_signal(a, None, signals, evidence)
            # nominate only: the evidence (with the NSF group too) comes from bridge-nsf below
            self._nsf_signal(a, None, signals, defaultdict(list), query="bridge-nsf-neighbours")
            filled = True
        signals.pop(a, None)
        candidates = sorted(signals)
        if not candidates:
            return BridgesResult(a, source.title, [], held_blocks=sorted(held) if held_blocks else None)

        # coverage signals need the size of each candidate that has some
        infos = self.certifications([c for c in candidates if "block" in signals[c] or "capacity" in signals[c]])
        for cid in candidates:
            info = infos.get(cid)
            sig = signals[cid]
            if "block" in sig:
                sig["block"] = min(1.0, sig["block"] / info.blocks) if info and info.blocks else 0.0
            if "capacity" in sig:
                sig["capacity"] = min(1.0, sig["capacity"] / info.capacities) if info and info.capacities else 0.0
        # NSF, level and shared savoir-faire add at most REFINE_BONUS: only candidates that could still
        # reach the top get them (an exact bound), and at most REFINE_FACTOR × top of them
        ranked = sorted(candidates, key=lambda c: (-self._score(signals[c]), c))
        if top is not None and len(ranked) > top:
            floor = self._score(signals[ranked[top - 1]]) - self._refine_bonus()
            ranked = [c for c in ranked if self._score(signals[c]) >= floor][:max(REFINE_FACTOR * top, top)]
        if not filled:
            self._rome_signal(a, ranked, signals, evidence)
        if ranked:
            self._nsf_signal(a, ranked, signals, evidence)
        self._level_signal(a, ranked, signals, evidence)
        ranked.sort(key=lambda c: (-self._score(signals[c]), c))
        self._rome_competence_signal(a, ranked[:REFINE_LIMIT if top is None else min(REFINE_LIMIT, top)],
                                     signals, evidence)

        shown = candidates if top is None else ranked
        infos.update(self.certifications([c for c in shown if c not in infos]))
        bridges = self._bridges_of(shown, signals, evidence, infos)
        if top is not None:
            bridges = bridges[:top]
        return BridgesResult(a, source.title, bridges, held_blocks=sorted(held) if held_blocks else None)

    def shortlist(self, identifier: str) -> "Shortlist | None":
        """The build-time shortlist of a certification (query ``bridge-shortlist``), or ``None`` when the
        graph has none (no ``cqpm:BridgeShortlist``: an older graph, or an endpoint without them)."""
        rows = self.run("bridge-shortlist", {"certification": identifier})
        if not rows:
            return None
        nominated = rows[0].get("nominated")
        return Shortlist.parse(int(rows[0]["count"]), str(rows[0].get("candidates") or ""),
                               None if nominated is None else int(nominated))

    def _bridges_from_shortlist(self, source: CertificationInfo, shortlist: "Shortlist", top: int | None) -> BridgesResult:
        """:meth:`bridges` from the shortlist: the same steps as on demand, with the nomination read from
        the graph and the bloc, capacity and lineage evidence fetched for the top *N* only."""
        a = source.id
        signals: dict[str, dict[str, float]] = defaultdict(dict)
        evidence: dict[str, list[dict]] = defaultdict(list)
        # few candidates (or all asked for): ROME and NSF nominate too; the shortlist holds those nominations
        filled = top is None or shortlist.count < top
        # the refining signals of the shortlist rank without the refining queries (not for a shortlist
        # completed by ROME and NSF nominations: those are ranked and refined as on demand)
        refined = shortlist.refined and not filled
        refining: dict[str, tuple[float, float, float]] = {}
        for cid, block, capacity, lineage, rome, nsf, rome_r, nsf_r, level_r in shortlist.entries:
            if not filled and shortlist.nominated is not None and cid not in shortlist.evidenced:
                continue  # nominated by ROME or NSF only
            sig = signals[cid]
            refining[cid] = (rome_r, nsf_r, level_r)
            for kind, value in (("block", block), ("capacity", capacity), ("lineage", lineage),
                                ("rome", rome if filled else 0.0), ("nsf", nsf if filled else 0.0)):
                if value:
                    sig[kind] = value
        signals.pop(a, None)
        candidates = sorted(signals)
        if not candidates:
            return BridgesResult(a, source.title, [])
        ranked = sorted(candidates, key=lambda c: (-self._score(signals[c]), c))
        if top is not None and len(ranked) > top:
            floor = self._score(signals[ranked[top - 1]]) - self._refine_bonus()
            ranked = [c for c in ranked if self._score(signals[c]) >= floor][:max(REFINE_FACTOR * top, top)]
        if refined:  # the refining signals the build computed, for the candidates the queries would refine
            for cid in ranked:
                for kind, value in zip(("rome", "nsf", "level"), refining[cid]):
                    if value:
                        signals[cid][kind] = max(signals[cid].get(kind, 0.0), value)
        if ranked and not refined:  # the refining queries at once (run() then takes their answers)
            self._prefetch([("bridge-pair-rome", {"certification": a, "other": ranked})] * (not filled)
                           + [("bridge-nsf", {"certification": a, "other": ranked}),
                              ("bridge-level", {"certification": a, "other": ranked})])
        if not refined:
            if not filled:
                self._rome_signal(a, ranked, signals, evidence)
            if ranked:
                self._nsf_signal(a, ranked, signals, evidence)
            self._level_signal(a, ranked, signals, evidence)
        ranked.sort(key=lambda c: (-self._score(signals[c]), c))
        shown = candidates if top is None else ranked
        # the evidence of the bloc, capacity and lineage signals, for the bridges shown only; their exact
        # values come from it (the shortlist ranks with the same values, except for titles and wordings held
        # by very many certifications, which it leaves out of the nomination)
        shown = sorted(shown, key=lambda c: (-self._score(signals[c]), c))
        kept = shown if top is None else shown[:top]
        exact: dict[str, dict[str, float]] = defaultdict(dict)
        if kept:  # the evidence queries at once
            both = {"certification": a, "other": kept}
            self._prefetch([("bridge-pair-capacities", both), ("bridge-pair-blocks", both),
                            ("bridge-lineage", both), ("bridge-certifications", {"certification": kept}),
                            ("bridge-rome-index", {"certification": [a, *kept[:REFINE_LIMIT if top is None
                                                                           else min(REFINE_LIMIT, top)]]})]
                           + [("bridge-pair-rome", both)] * (filled or refined)
                           + [("bridge-nsf", both), ("bridge-level", both)] * refined)
            self._block_signal(a, kept, None, exact, evidence, query="bridge-pair-blocks")
            self._capacity_signal(a, kept, None, exact, evidence, query="bridge-pair-capacities")
            self._lineage_signal(a, kept, exact, evidence)
            if refined:  # the evidence of the refining signals, which then come from it
                for cid in kept:
                    for kind in ("rome", "nsf", "level"):
                        signals[cid].pop(kind, None)
                self._rome_signal(a, kept, signals, evidence)
                self._nsf_signal(a, kept, signals, evidence)
                self._level_signal(a, kept, signals, evidence)
            elif filled:  # the ROME evidence of the nominations (refined candidates have it already)
                self._rome_signal(a, kept, signals, evidence)
        infos = self.certifications(kept)
        for cid in kept:
            info, sig = infos.get(cid), signals[cid]
            for kind in ("block", "capacity", "lineage"):
                sig.pop(kind, None)
            if "block" in exact[cid]:
                sig["block"] = min(1.0, exact[cid]["block"] / info.blocks) if info and info.blocks else 0.0
            if "capacity" in exact[cid]:
                sig["capacity"] = (min(1.0, exact[cid]["capacity"] / info.capacities)
                                   if info and info.capacities else 0.0)
            if "lineage" in exact[cid]:
                sig["lineage"] = exact[cid]["lineage"]
        kept.sort(key=lambda c: (-self._score(signals[c]), c))
        self._rome_competence_signal(a, kept[:REFINE_LIMIT if top is None else min(REFINE_LIMIT, top)],
                                     signals, evidence, indexed=True)
        bridges = self._bridges_of(kept, signals, evidence, infos)
        self._ahead.clear()  # a query sent ahead and not asked for (none, unless a step changed)
        return BridgesResult(a, source.title, bridges)

    def _bridges_of(self, candidates, signals: dict, evidence: dict, infos: dict) -> list["Bridge"]:
        """The :class:`Bridge` of each candidate with a positive score, best first (then by identifier)."""
        bridges = [Bridge(certification=c, score=round(self._score(signals[c]), 4),
                          evidence=_sorted_evidence(evidence[c]),
                          title=infos[c].title if c in infos else c,
                          signals={k: round(signals[c].get(k, 0.0), 4) for k in KINDS})
                   for c in candidates]
        bridges = [b for b in bridges if b.score > 0]
        bridges.sort(key=lambda b: (-b.score, b.certification))
        return bridges

    def _refine_bonus(self) -> float:
        """Most that the refining signals (ROME, NSF, level) can add to a score."""
        return self.weights.get("nsf", 0.0) + self.weights.get("level", 0.0) + self.weights.get("rome", 0.0)

    def _score(self, sig: dict[str, float]) -> float:
        return sum(self.weights.get(k, 0.0) * min(1.0, max(0.0, v)) for k, v in sig.items())

    def _held(self, source: CertificationInfo, held_blocks: list[str] | None):
        """``(held bloc codes, held capacity local ids)``; ``None`` for "everything"."""
        if not held_blocks:
            return None, None
        rows = self.run("gap-blocks", {"certification": source.id})
        blocs = {r["blockCode"] for r in rows if "blockCode" in r}
        wanted = [_bloc_code(source.id, b) for b in held_blocks]
        unknown = [b for b, w in zip(held_blocks, wanted) if w not in blocs]
        if unknown:
            raise HeldBlocksError(source.id, unknown, sorted(blocs))
        held = set(wanted)
        caps = {_local(r["capacity"]) for r in rows if r.get("blockCode") in held and "capacity" in r}
        return held, caps

    def _block_signal(self, a, others, held, signals, evidence, query: str = "bridge-blocks"):
        rows = _only(self.run(query, {"certification": a, "other": others}), others)
        seen: dict[tuple[str, str, str], dict] = {}
        for r in rows:
            code, other_code = r.get("blockCode") or _local(r["block"]), r.get("otherBlockCode") or _local(r["otherBlock"])
            if held is not None and code not in held:
                continue
            key = (r["other"], code, other_code)
            item = seen.get(key)
            if item is None:
                seen[key] = {"kind": "block", "source": code, "target": other_code,
                             "sourceTitle": r.get("blockTitle", ""), "targetTitle": r.get("otherBlockTitle", ""),
                             "methods": [r["method"]], "score": 1.0}
            elif r["method"] not in item["methods"]:
                item["methods"].append(r["method"])
        covered: dict[str, set[str]] = defaultdict(set)
        for (other, _code, other_code), item in sorted(seen.items()):
            item["methods"].sort(key=_method_rank)
            evidence[other].append(item)
            covered[other].add(other_code)
        for other, blocs in covered.items():
            signals[other]["block"] = float(len(blocs))  # divided by the candidate's bloc count later

    def _capacity_signal(self, a, others, held_caps, signals, evidence, query: str = "bridge-capacities"):
        rows = _only(self.run(query, {"certification": a, "other": others}), others)
        best: dict[str, dict[str, float]] = defaultdict(dict)
        for r in rows:
            cap, other_cap = _local(r["capacity"]), _local(r["otherCapacity"])
            if held_caps is not None and cap not in held_caps:
                continue
            score = float(r["score"])
            other = r["other"]
            evidence[other].append({
                "kind": "capacity", "source": cap, "target": other_cap,
                "sourceLabel": r.get("capacityLabel", ""), "targetLabel": r.get("otherCapacityLabel", ""),
                "predicate": _curie(r["predicate"]), "method": r["method"], "score": round(score, 4)})
            credit = PREDICATE_CREDIT.get(r["predicate"].rsplit("#", 1)[-1], 0.5)
            best[other][other_cap] = max(best[other].get(other_cap, 0.0), credit)
        for other, caps in best.items():
            signals[other]["capacity"] = sum(caps.values())  # divided by the candidate's capacity count later

    def _lineage_signal(self, a, others, signals, evidence):
        for r in self.run("bridge-lineage", {"certification": a, "other": others}):
            distance = max(1, int(r["distance"]))
            other = r["other"]
            evidence[other].append({"kind": "lineage", "relation": r["relation"], "distance": distance})
            signals[other]["lineage"] = max(signals[other].get("lineage", 0.0), 1.0 / distance)

    def _rome_signal(self, a, others, signals, evidence):
        if isinstance(others, list):  # a bounded list: both sides read, then compared
            rows = self.run("bridge-pair-rome", {"certification": a, "other": others}) if others else []
        else:
            rows = self.run("bridge-rome", {"certification": a, "other": others})
        for r in rows:
            other, relation = r["other"], r["relation"]
            item = {"kind": "rome", "relation": relation, "source": r.get("rome", ""), "target": r.get("otherRome", "")}
            if relation == "same-domaine" and r.get("domaine"):
                item["domaine"] = r["domaine"]
                if r.get("domaineLabel"):
                    item["domaineLabel"] = r["domaineLabel"]
            label = r.get("otherRomeLabel")
            if label:
                item["targetLabel"] = label
            evidence[other].append(item)
            signals[other]["rome"] = max(signals[other].get("rome", 0.0), ROME_SCORES.get(relation, 0.0))

    def _rome_competence_signal(self, a, others, signals, evidence, indexed: bool = False):
        """The shared-savoir-faire part of the ROME signal and its evidence, for *others* (a short list).

        :param indexed: read the ROME item index of ``graph/bridges`` (query ``bridge-rome-index``: two
            values per ROME fiche) instead of the items one by one (``bridge-rome-items``,
            ``bridge-rome-item-ids``); the same answer, ~10 ms sooner at national scale.
        """
        if not others:
            return
        if indexed:
            return self._rome_competence_from_index(a, list(others), signals, evidence)
        mine = {r["item"]: r.get("label", "") for r in self.run("bridge-rome-items", {"certification": a})}
        if not mine:
            return
        # the others' items without labels (only those of the certification held are shown)
        items: dict[str, set[str]] = defaultdict(set)
        for r in self.run("bridge-rome-item-ids", {"certification": list(others)}):
            items[r["certification"]].add(r["item"])
        for other in others:
            shared = sorted(set(mine) & set(items.get(other, {})))
            if shared:
                _credit_savoir_faire(other, shared, len(mine), mine[shared[0]], signals, evidence)

    def _rome_competence_from_index(self, a, others, signals, evidence):
        savoir_faire: dict[str, set[str]] = defaultdict(set)
        items: dict[str, set[str]] = defaultdict(set)
        for r in self.run("bridge-rome-index", {"certification": [a, *others]}):
            cid = r["certification"]
            savoir_faire[cid].update(str(r["savoirFaire"]).split())
            items[cid].update(str(r["items"]).split())
        if a not in items:  # no index for its ROME fiches (a graph/bridges of an older version): item by item
            return self._rome_competence_signal(a, others, signals, evidence)
        mine = savoir_faire.get(a, set())
        if not mine:
            return
        shared_of = {}
        for other in others:
            shared = sorted(mine & items.get(other, set()))
            if shared:
                shared_of[other] = shared
        if not shared_of:
            return
        examples = sorted({shared[0] for shared in shared_of.values()})
        labels = {r["item"]: r.get("label", "") for r in self.run("bridge-rome-item-labels", {"item": examples})}
        for other, shared in shared_of.items():
            _credit_savoir_faire(other, shared, len(mine), labels.get(shared[0], ""), signals, evidence)

    def _nsf_signal(self, a, others, signals, evidence, query: str = "bridge-nsf"):
        best: dict[tuple[str, str, str], tuple[str, str]] = {}
        params = {"certification": a} if others is None else {"certification": a, "other": others}
        for r in self.run(query, params):
            nsf, other_nsf, common = str(r["nsf"]), str(r["otherNsf"]), str(r["common"])
            if nsf == other_nsf:
                relation = "same-code"
            elif common == other_nsf:
                relation = "broader"  # the other's code is broader than the one held (200r → 200)
            elif common == nsf:
                relation = "narrower"
            elif len(common) >= 3:
                relation = "same-speciality"
            else:
                relation = "same-group"
            key = (r["other"], nsf, other_nsf)
            if key not in best or NSF_SCORES[relation] > NSF_SCORES[best[key][0]]:
                best[key] = (relation, common)
        for (other, nsf, other_nsf), (relation, common) in sorted(best.items()):
            item = {"kind": "nsf", "relation": relation, "source": nsf, "target": other_nsf}
            if relation in ("same-speciality", "same-group"):
                item["common"] = common
            evidence[other].append(item)
            signals[other]["nsf"] = max(signals[other].get("nsf", 0.0), NSF_SCORES[relation])

    def _level_signal(self, a, others, signals, evidence):
        for r in self.run("bridge-level", {"certification": a, "other": others}):
            mine, theirs = _level_number(r.get("level")), _level_number(r.get("otherLevel"))
            if mine is None or theirs is None:
                continue
            step = theirs - mine
            move = "across" if step == 0 else "up" if step == 1 else "far-up" if step > 1 else "down"
            other = r["other"]
            evidence[other].append({"kind": "level", "move": "up" if move == "far-up" else move,
                                    "source": str(r["level"]), "target": str(r["otherLevel"])})
            signals[other]["level"] = LEVEL_SCORES[move]

    # -- gap --------------------------------------------------------------------------------------------------
    def gap(self, source: str, target: str, held_blocks: list[str] | None = None) -> GapReport:
        """Every bloc of *target* with what a holder of *source* already has of it.

        A bloc is ``covered`` when a held bloc is equivalent to it (identical or normalised title, same
        capacities) or when each of its capacities has a ``skos:closeMatch`` among the held capacities;
        ``partial`` when some of its capacities have a close or related held capacity; ``missing``
        otherwise (also for a bloc whose capacities the graph does not list). A target without blocs
        (RS fiche, CQPM référentiel) gets one pseudo-bloc, named by its identifier, holding all its
        capacities, each with its own status.

        :param source: the certification held; *target*: the one aimed at (identifiers, any case).
        :param held_blocks: codes of the blocs of *source* actually held (``RNCP28229BC01`` or ``BC01``);
            default: all of them (and all its capacities).
        :raises UnknownCertificationError: naming every unknown identifier.
        :raises HeldBlocksError: for a held bloc that is not a bloc of *source*.
        """
        ids = []
        for identifier in (source, target):
            try:
                ids.append(normalise_id(identifier))
            except ValueError:
                ids.append(identifier)
        found = self.certifications([i for i in ids if _ID_RE.match(i)])
        unknown = [orig for orig, cid in zip((source, target), ids) if cid not in found]
        if unknown:
            raise UnknownCertificationError(unknown)
        a, b = found[ids[0]], found[ids[1]]
        held, held_caps = self._held(a, held_blocks)

        blocks: dict[str, dict] = {}
        for r in self.run("gap-blocks", {"certification": b.id}):
            code = r.get("blockCode") or (_local(r["block"]) if "block" in r else b.id)
            entry = blocks.setdefault(code, {"title": r.get("blockTitle", ""), "pseudo": "block" not in r,
                                             "capacities": {}})
            if "capacity" in r:
                cap = _local(r["capacity"])
                entry["capacities"].setdefault(cap, {"capacity": cap, "code": r.get("capacityCode", ""),
                                                     "label": r.get("capacityLabel", "")})
        equivalent: dict[str, list[dict]] = defaultdict(list)
        for item in self._pair_evidence("block", a.id, b.id, held, None):
            equivalent[item["target"]].append(item)
        close: dict[str, list[dict]] = defaultdict(list)
        for item in self._pair_evidence("capacity", a.id, b.id, None, held_caps):
            close[item["target"]].append(item)

        out = []
        for code, entry in blocks.items():
            held_equivalent = equivalent.get(code, [])
            evidence = list(held_equivalent)
            caps = []
            for cap in entry["capacities"].values():
                matches = sorted(close.get(cap["capacity"], []), key=lambda e: (-e["score"], e["source"]))
                if held_equivalent:
                    status = "covered"  # the whole bloc is equivalent to one held
                elif matches:
                    status = max((PREDICATE_STATUS.get(m["predicate"].split(":")[-1], "partial") for m in matches),
                                 key=STATUSES[::-1].index)
                else:
                    status = "missing"
                caps.append({**cap, "status": status})
                evidence.extend(matches)
            if held_equivalent:
                status = "covered"
            elif caps and all(c["status"] == "covered" for c in caps):
                status = "covered"
            elif any(c["status"] != "missing" for c in caps):
                status = "partial"
            else:
                status = "missing"
            out.append(BlockGap(block=code, status=status, capacities=caps, evidence=_sorted_evidence(evidence),
                                title=entry["title"], pseudo=entry["pseudo"]))
        out.sort(key=lambda g: (not g.pseudo, _bloc_sort_key(g.block)))
        return GapReport(a.id, b.id, out, a.title, b.title, sorted(held) if held else None)

    def _pair_evidence(self, kind: str, a: str, b: str, held, held_caps) -> list[dict]:
        signals: dict[str, dict[str, float]] = defaultdict(dict)
        evidence: dict[str, list[dict]] = defaultdict(list)
        if kind == "block":
            self._block_signal(a, b, held, signals, evidence, query="bridge-pair-blocks")
        else:
            self._capacity_signal(a, b, held_caps, signals, evidence, query="bridge-pair-capacities")
        return evidence.get(b, [])


@dataclass
class Shortlist:
    """A certification's build-time shortlist (query ``bridge-shortlist``).

    :ivar count: how many certifications have bloc, capacity or lineage evidence with it.
    :ivar entries: ``[(identifier, block share, capacity share, lineage score, rome, nsf, refining rome,
        refining nsf, refining level)]``, best first (see :class:`cqpm_graph.bridges.similarity.Shortlist`).
    """

    count: int
    entries: list[tuple]
    #: for a certification with few candidates: how many ROME and NSF nominate too (entries then ranked with
    #: them: ``(identifier, block, capacity, lineage, rome, nsf)``); ``None`` when not computed
    nominated: int | None = None
    #: identifiers of the entries with bloc, capacity or lineage evidence
    evidenced: set[str] = field(default_factory=set)
    #: every entry has its refining ROME, NSF and level signals (a shortlist of this version)
    refined: bool = False

    @classmethod
    def parse(cls, count: int, text: str, nominated: int | None = None) -> "Shortlist":
        """From ``cqpm:candidates`` (``"RNCP19453 0.666667 0 0 1 0.6;…"``; ROME and NSF fields optional).

        :raises ValueError: for a malformed list.
        """
        entries = []
        refined = True
        for item in filter(None, text.split(";")):
            cid, *values = item.split()
            refined = refined and len(values) >= 8
            numbers = [float(v) for v in values] + [0.0] * (8 - len(values))
            entries.append((cid, *numbers[:8]))
        strong = {e[0] for e in entries if e[1] or e[2] or e[3]}
        return cls(count, entries, nominated, strong, refined and bool(entries))

    def answers(self, top: int | None) -> bool:
        """Whether it holds every candidate :meth:`Bridges.bridges` may refine for *top* bridges."""
        strong = len(self.evidenced) if self.nominated is not None else len(self.entries)
        if top is None or self.count < top:
            if self.nominated is None:
                return False
            return len(self.entries) >= self.nominated or (top is not None and len(self.entries) >= REFINE_FACTOR * top)
        return strong >= self.count or strong >= REFINE_FACTOR * top


#: Queries of one answer run at once (:meth:`Bridges._prefetch`).
PARALLEL_QUERIES = 3


def _credit_savoir_faire(other: str, shared: list[str], of: int, example: str, signals, evidence) -> None:
    """The shared-savoir-faire evidence of *other* (*shared* of the *of* savoir-faire held) and its part of
    the ROME signal."""
    evidence[other].append({"kind": "rome", "relation": "shared-savoir-faire", "shared": len(shared), "of": of,
                            "example": example})
    signals[other]["rome"] = max(signals[other].get("rome", 0.0), ROME_COMPETENCE_FACTOR * len(shared) / of)


def _params_key(params: dict) -> tuple:
    # a list's order does not change a query's rows (a VALUES block), nor what the signals make of them
    return tuple(sorted((k, v if isinstance(v, str) or v is None else tuple(sorted(v))) for k, v in params.items()))


def _only(rows: list[dict], others) -> list[dict]:
    """The rows about *others* (a list; a single identifier or ``None``: all rows)."""
    if others is None or isinstance(others, str):
        return rows
    wanted = set(others)
    return [r for r in rows if r.get("other") in wanted]


def _bloc_code(cert_id: str, code: str) -> str:
    """``BC01`` → ``RNCP28229BC01``; a full code is upper-cased."""
    code = code.strip().upper()
    return f"{cert_id}{code}" if re.fullmatch(r"BC\d+", code) else code


def _bloc_sort_key(code: str):
    m = re.search(r"BC(\d+)$", code)
    return (int(m.group(1)) if m else 0, code)


_METHOD_ORDER = ("identical-title", "normalised-title", "same-capacities")


def _method_rank(method: str) -> int:
    return _METHOD_ORDER.index(method) if method in _METHOD_ORDER else len(_METHOD_ORDER)


def _sorted_evidence(items: list[dict]) -> list[dict]:
    """Evidence in :data:`KINDS` order; within a kind, best score first, then codes."""
    def key(e):
        return (KINDS.index(e["kind"]), -float(e.get("score", 0.0)), str(e.get("relation", "")),
                str(e.get("source", "")), str(e.get("target", "")))
    return sorted(items, key=key)
