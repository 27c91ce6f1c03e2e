"""Measure the quality of the bridges against the gold set: ``python benchmarks/eval_bridges.py``.

Builds the graph from the five seed fiches (ROME v347, NSF), imports the real France Compétences extract
(9 fiches: lineage, levels, RS), computes ``graph/bridges``, then prints (Markdown):

* the ranking quality of ``cqpm-graph bridges`` on ``tests/fixtures/bridges/gold.csv`` (precision@1,
  precision@3, MRR, nDCG@3; noise for certifications with no judged bridge) and each ranking;
* the quality of the TF-IDF capacity mappings by threshold on ``tests/fixtures/bridges/gold-capacities.csv``;
* the bloc equivalences found.

Options: ``--fc PATH`` (another export), ``--no-fc`` (seeds only).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import pyoxigraph as ox

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "tests" / "fixtures" / "bridges"
FC_CANDIDATES = (ROOT / "tests" / "fixtures" / "fc" / "export-fiches-csv-2024-02-22.zip",
                 ROOT.parent / "shared" / "reference" / "france-competences" / "export-fiches-csv-2024-02-22.zip")


def build_store(fc: Path | None) -> tuple[ox.Store, object]:
    from cqpm_graph.build import build
    from cqpm_graph.bridges.similarity import load_similarity
    from cqpm_graph.config import Settings
    from cqpm_graph.store import open_store
    from cqpm_graph.uris import URIScheme

    tmp = tempfile.mkdtemp(prefix="cqpm-eval-")
    settings = Settings(store=Path(tmp))
    build(settings, validate=False)
    uris = URIScheme(settings.base_uri)
    store = ox.Store()  # in memory: the on-disk build is only a source
    built = open_store(settings)
    store.bulk_extend(list(built.quads_for_pattern(None, None, None, None)))
    del built
    shutil.rmtree(tmp, ignore_errors=True)
    if fc is not None:
        from cqpm_graph.fc.importer import load_export
        load_export(store, uris, fc)
    load_similarity(store, uris)  # recomputed: the imported fiches change the input fingerprint
    return store, uris


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fc", type=Path, default=next((p for p in FC_CANDIDATES if p.exists()), None))
    parser.add_argument("--no-fc", action="store_true")
    args = parser.parse_args(argv)
    fc = None if args.no_fc else args.fc

    from cqpm_graph.bridges import Bridges
    from cqpm_graph.bridges.evaluate import evaluate_bridges, evaluate_capacities, load_gold
    from cqpm_graph.bridges.similarity import equivalent_blocs, read_corpus, similar_capacities

    store, uris = build_store(fc)
    bridges = Bridges.from_store(store)
    # without the export (--no-fc) its certifications are not in the graph: judge the seeds only
    known = set(bridges.certifications([g.source for g in load_gold(GOLD / "gold.csv")]))
    gold = [g for g in load_gold(GOLD / "gold.csv") if g.source in known]

    res = evaluate_bridges(bridges, gold)
    print(f"## Bridges ranking ({res['sources']} certifications with a judged bridge; "
          f"{'seeds + ' + fc.name if fc else 'seeds only'})\n")
    print("| precision@1 | precision@3 | precision of the top 3 proposed | MRR | nDCG@3 |\n|---|---|---|---|---|")
    print(f"| {res['precision@1']:.2f} | {res['precision@3']:.2f} | {res['proposed-precision@3']:.2f} | "
          f"{res['mrr']:.2f} | {res['ndcg@3']:.2f} |\n")
    print("Rankings (id score [gold relevance; - = not judged]):\n")
    judged = {(g.source, g.target) for g in gold}
    for source, ranked in res["rankings"].items():
        cells = [f"{cid} {score:.3f} [{rel if (source, cid) in judged else '-'}]" for cid, score, rel in ranked[:5]]
        print(f"- {source}: " + (", ".join(cells) if cells else "(none)"))
    if res["noise"]:
        print("\nCertifications with no judged bridge, and what they get (noise):\n")
        for source, ids in res["noise"].items():
            print(f"- {source}: {', '.join(ids) if ids else '(none)'}")

    corpus = read_corpus(store)
    capacities, blocs = corpus.capacities, corpus.blocs
    # every capacity pair the wording pairs imply, and identical wordings (found by the queries) at 1
    scores = {(a.rsplit('/', 1)[1], b.rsplit('/', 1)[1]): s
              for (a, b), s in similar_capacities(capacities, threshold=0.05, top_k=50, expand=True).items()}
    by_label: dict[str, list[str]] = {}
    for iri, (_cert, words) in capacities.items():
        by_label.setdefault(words[0], []).append(iri)
    for same in by_label.values():
        for i, a in enumerate(same):
            for b in same[i + 1:]:
                if capacities[a][0] != capacities[b][0]:
                    scores[(a.rsplit('/', 1)[1], b.rsplit('/', 1)[1])] = 1.0
    cap_gold = load_gold(GOLD / "gold-capacities.csv")
    print(f"\n## Capacity mappings (TF-IDF cosine; {sum(g.relevance > 0 for g in cap_gold)} relevant and "
          f"{sum(g.relevance == 0 for g in cap_gold)} non-relevant judged pairs)\n")
    print("| threshold | pairs proposed | judged | correct | precision | recall |\n|---|---|---|---|---|---|")
    for row in evaluate_capacities(scores, cap_gold):
        print(f"| {row['threshold']:.2f} | {row['proposed']} | {row['judged']} | {row['correct']} | "
              f"{row['precision']:.2f} | {row['recall']:.2f} |")

    labels = {iri: words[0] for iri, (_c, words) in capacities.items()}
    print("\n## Bloc equivalences stored (identical titles are found in the fiches: not listed)\n")
    for (a, b), method in sorted(equivalent_blocs(blocs, labels).items()):
        print(f"- {a.rsplit('/', 1)[1]} ≡ {b.rsplit('/', 1)[1]} ({method})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
