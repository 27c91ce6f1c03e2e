"""Plain-text rendering of bridges and gap analyses: one French sentence per piece of evidence
(:func:`describe`, also usable by the explorer's templates) and the ``--format table`` outputs."""
from __future__ import annotations

from .core import KINDS, BridgesResult, GapReport

KIND_LABELS = {"block": "bloc", "capacity": "capacité", "lineage": "filiation", "rome": "ROME",
               "nsf": "NSF", "level": "niveau"}
METHOD_LABELS = {"identical-title": "intitulé identique", "normalised-title": "intitulé identique après normalisation",
                 "same-capacities": "mêmes capacités", "tfidf-cosine": "similarité TF-IDF",
                 "identical-wording": "formulation identique"}
STATUS_LABELS = {"covered": "acquis", "partial": "partiel", "missing": "à acquérir"}
MOVE_LABELS = {"across": "même niveau", "up": "montée", "down": "descente"}


def _num(x: float) -> str:
    return f"{x:.2f}".replace(".", ",")


def _cut(text: str, width: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def describe(e: dict, certification: str = "", other: str = "") -> str:
    """One French sentence for an evidence dict (any ``kind`` of :data:`cqpm_graph.bridges.KINDS`).

    :param certification: identifier of the certification held, *other* of the candidate (used by
        lineage sentences).
    """
    kind = e.get("kind")
    if kind == "block":
        methods = ", ".join(METHOD_LABELS.get(m, m) for m in e.get("methods", []))
        title = e.get("targetTitle") or e.get("sourceTitle") or ""
        return f"bloc {e['source']} ≡ {e['target']} « {_cut(title, 60)} » ({methods})"
    if kind == "capacity":
        if e.get("method") == "identical-wording":
            return f"capacité {e['source']} = {e['target']} (formulation identique) : « {_cut(e.get('sourceLabel', ''), 80)} »"
        return (f"capacité {e['source']} ~ {e['target']} ({e['predicate']}, {_num(e['score'])}) : "
                f"« {_cut(e.get('sourceLabel', ''), 45)} » / « {_cut(e.get('targetLabel', ''), 45)} »")
    if kind == "lineage":
        steps = e.get("distance", 1)
        plural = "s" if steps > 1 else ""
        if e.get("relation") == "replaces":
            return f"filiation : {certification or 'la certification détenue'} remplace {other or 'celle-ci'} ({steps} remplacement{plural})"
        return f"filiation : {other or 'celle-ci'} remplace {certification or 'la certification détenue'} ({steps} remplacement{plural})"
    if kind == "rome":
        relation = e.get("relation")
        if relation == "same-fiche":
            return f"ROME : même fiche {e.get('target')}" + (f" ({e['targetLabel']})" if e.get("targetLabel") else "")
        if relation == "same-domaine":
            label = f" {e['domaineLabel']}" if e.get("domaineLabel") else ""
            return f"ROME : même domaine {e.get('domaine')}{label} ({e.get('source')} / {e.get('target')})"
        example = f", par ex. « {e['example']} »" if e.get("example") else ""
        return f"ROME : {e.get('shared')} savoir-faire sur {e.get('of')} en commun{example}"
    if kind == "nsf":
        relation = e.get("relation")
        src, tgt = e.get("source"), e.get("target")
        if relation == "same-code":
            return f"NSF : même spécialité {src}"
        if relation == "broader":
            return f"NSF : {tgt} englobe {src}"
        if relation == "narrower":
            return f"NSF : {src} englobe {tgt}"
        what = "même spécialité" if relation == "same-speciality" else "même groupe"
        return f"NSF : {what} {e.get('common')} ({src} / {tgt})"
    if kind == "level":
        return f"niveau : {e.get('source')} → {e.get('target')} ({MOVE_LABELS.get(e.get('move'), e.get('move'))})"
    return str(e)


def bridges_table(result: BridgesResult, evidence_per_kind: int = 3) -> str:
    """The ``cqpm-graph bridges --format table`` text: one line per bridge (rank, identifier, score,
    per-signal scores, title), then its evidence, at most *evidence_per_kind* lines per kind."""
    lines = [f"Passerelles depuis {result.certification} — {result.title}"]
    if result.held_blocks:
        lines.append(f"Blocs détenus : {', '.join(result.held_blocks)}")
    if not result.bridges:
        lines.append("Aucune passerelle trouvée dans le graphe.")
        return "\n".join(lines)
    header = ["rang", "certification", "score"] + [KIND_LABELS[k] for k in KINDS] + ["intitulé"]
    rows = []
    for i, b in enumerate(result.bridges, start=1):
        rows.append([str(i), b.certification, f"{b.score:.3f}"]
                    + [f"{b.signals.get(k, 0.0):.2f}" if b.signals.get(k) else "-" for k in KINDS]
                    + [_cut(b.title, 60)])
    widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    lines += [fmt(header), fmt(["-" * w for w in widths])]
    for b, row in zip(result.bridges, rows):
        lines.append(fmt(row))
        shown: dict[str, int] = {}
        for e in b.evidence:
            shown[e["kind"]] = shown.get(e["kind"], 0) + 1
            if shown[e["kind"]] <= evidence_per_kind:
                lines.append("      " + describe(e, result.certification, b.certification))
        hidden = {k: n - evidence_per_kind for k, n in shown.items() if n > evidence_per_kind}
        if hidden:
            lines.append("      (" + ", ".join(f"{n} autre(s) preuve(s) {KIND_LABELS[k]}" for k, n in hidden.items())
                         + " : --format json pour tout voir)")
    return "\n".join(lines)


def gap_table(report: GapReport) -> str:
    """The ``cqpm-graph gap --format table`` text: each bloc of the target with its status, its
    capacities and the evidence."""
    held = ", ".join(report.held_blocks) if report.held_blocks else "tous"
    lines = [f"Écart {report.source} → {report.target} — {report.target_title}",
             f"Blocs détenus de {report.source} : {held}"]
    counts = report.counts()
    lines.append("Bilan : " + ", ".join(f"{counts[s]} {STATUS_LABELS[s]} ({s})" for s in counts))
    if not report.blocks:
        lines.append(f"{report.target} n'a ni bloc ni capacité dans le graphe : rien à comparer.")
    for b in report.blocks:
        title = "capacités de la certification (sans blocs)" if b.pseudo else b.title
        lines.append("")
        lines.append(f"{b.block}  [{b.status}]  {_cut(title, 80)}")
        for c in b.capacities:
            lines.append(f"    {c['code'] or c['capacity']:<5} [{c['status']}]  {_cut(c['label'], 90)}")
        if not b.capacities and not b.pseudo:
            lines.append("    (capacités non listées dans le graphe)")
        for e in b.evidence:
            lines.append("    ↳ " + describe(e, report.source, report.target))
    return "\n".join(lines)
