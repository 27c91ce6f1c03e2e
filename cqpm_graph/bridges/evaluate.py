"""Measure the bridges against hand-judged gold pairs (``tests/fixtures/bridges/gold*.csv``).

* :func:`evaluate_bridges`: ranking quality of :meth:`Bridges.bridges` — precision@k, MRR, nDCG@3 over the
  certifications that have at least one relevant target in the gold set, and the number of bridges
  proposed for certifications that have none (noise).
* :func:`evaluate_capacities`: quality of the capacity mappings by TF-IDF threshold — precision over the
  judged pairs proposed, recall over the relevant gold pairs.

``benchmarks/eval_bridges.py`` runs both on the seeds plus the France Compétences extract and prints the
tables recorded in ``docs/bridges.md``.
"""
from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .core import Bridges


@dataclass(frozen=True)
class GoldPair:
    """A judged pair: *relevance* 2 (strong bridge), 1 (related), 0 (not a bridge), with the reason."""

    source: str
    target: str
    relevance: int
    reason: str = ""


def load_gold(path: Path | str) -> list[GoldPair]:
    """Read ``source,target,relevance|relevant,reason`` rows.

    :raises ValueError: for a row without source, target or an integer relevance.
    """
    out = []
    with open(path, encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            rel = row.get("relevance", row.get("relevant"))
            if not row.get("source") or not row.get("target") or rel is None or not rel.strip().isdigit():
                raise ValueError(f"{path}:{line}: expected source, target and an integer relevance")
            out.append(GoldPair(row["source"].strip(), row["target"].strip(), int(rel), row.get("reason", "")))
    return out


def _dcg(gains: list[int]) -> float:
    return sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(gains))


def evaluate_bridges(bridges: Bridges, gold: list[GoldPair], ks: tuple[int, ...] = (1, 3)) -> dict:
    """Rank every gold source's bridges and compare with the judgements.

    Targets ranked but not judged count as not relevant.

    :returns: ``{"sources": n, "precision@k": …, "proposed-precision@k": …, "mrr": …, "ndcg@3": …, "noise": {source: [ids]},
        "rankings": {source: [(id, score, relevance)]}}``; averages over the sources with a relevant
        target.
    """
    judged: dict[str, dict[str, int]] = defaultdict(dict)
    for g in gold:
        judged[g.source][g.target] = g.relevance
    rankings, noise = {}, {}
    prec = {k: [] for k in ks}
    proposed_prec = {k: [] for k in ks}
    rr, ndcg = [], []
    for source in sorted(judged):
        ranked = bridges.bridges(source, top=None).bridges
        rels = [judged[source].get(b.certification, 0) for b in ranked]
        rankings[source] = [(b.certification, b.score, r) for b, r in zip(ranked, rels)]
        if not any(r > 0 for r in judged[source].values()):
            noise[source] = [b.certification for b in ranked]
            continue
        for k in ks:
            prec[k].append(sum(1 for r in rels[:k] if r > 0) / k)
            if rels[:k]:
                proposed_prec[k].append(sum(1 for r in rels[:k] if r > 0) / len(rels[:k]))
        first = next((i for i, r in enumerate(rels) if r > 0), None)
        rr.append(0.0 if first is None else 1.0 / (first + 1))
        ideal = sorted(judged[source].values(), reverse=True)[:3]
        ndcg.append(_dcg(rels[:3]) / _dcg(ideal) if _dcg(ideal) else 0.0)
    n = len(rr)
    out = {"sources": n, "mrr": sum(rr) / n if n else 0.0, "ndcg@3": sum(ndcg) / n if n else 0.0,
           "noise": noise, "rankings": rankings}
    for k in ks:
        out[f"precision@{k}"] = sum(prec[k]) / n if n else 0.0
        # the same, dividing by the bridges actually proposed (fewer than k when the graph has fewer)
        out[f"proposed-precision@{k}"] = sum(proposed_prec[k]) / len(proposed_prec[k]) if proposed_prec[k] else 0.0
    return out


def evaluate_capacities(scores: dict[tuple[str, str], float], gold: list[GoldPair],
                        thresholds: tuple[float, ...] = (0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.45)) -> list[dict]:
    """Precision and recall of the capacity mappings for each threshold.

    :param scores: ``{(capacity id, capacity id): cosine}`` (ids are the local names ``RNCP28229-C10``),
        from :func:`cqpm_graph.bridges.similarity.similar_capacities` with a low threshold.
    :returns: one dict per threshold: ``threshold``, ``proposed`` (pairs at or above it), ``judged``,
        ``correct``, ``precision`` (correct / judged proposed), ``recall`` (correct / relevant gold pairs).
    """
    truth = {frozenset((g.source, g.target)): g.relevance > 0 for g in gold}
    relevant = sum(truth.values())
    rows = []
    for t in thresholds:
        proposed = [frozenset(p) for p, s in scores.items() if s >= t]
        judged = [p for p in proposed if p in truth]
        correct = sum(1 for p in judged if truth[p])
        rows.append({"threshold": t, "proposed": len(proposed), "judged": len(judged), "correct": correct,
                     "precision": correct / len(judged) if judged else 0.0,
                     "recall": correct / relevant if relevant else 0.0})
    return rows
