"""Speed of the bridges at national scale: ``python benchmarks/bench_bridges.py [--certifications N | --store DIR]``.

1. Builds the real graph (5 seed fiches, ROME v347, NSF) and adds a synthetic national-scale register of
   *N* certifications (default 25 000): the synthetic France Compétences export of issue 3
   (``cqpm_graph.fc.synthetic``: ~70 % RNCP with 5–6 blocs, ~100 000 blocs and ~400 000 capacities at
   25 000), imported like a real one; with ``--own-generator`` (or without that module) this script's own
   register following ``docs/data-model.md``: 60 % with 2–6 blocs of 2–6 capacities, the others (RS-like) with 2–8
   capacities and no bloc; capacity wordings drawn from the real ROME savoir-faire labels (real French,
   realistic overlaps), bloc titles from a pool in which general blocs recur across hundreds of
   certifications (like the CAP "UG1 : Français …"), 1–4 ROME codes (mostly in one domaine), 1–2 NSF codes,
   a level NIV3–NIV7, lineage chains for 20 %.
2. Times the build-time similarity (:func:`cqpm_graph.bridges.similarity.load_similarity`: mappings and
   shortlists written to ``graph/bridges``; quads, seconds, peak RSS), then a second call (input unchanged:
   kept).
3. Times :meth:`Bridges.bridges` for random certifications in-process (p50 / p95 / max) on the on-disk
   store (independent queries of one answer in threads, as the explorer runs them), with the time per named
   query, :meth:`Bridges.gap`, and over HTTP: the explorer's ``/certification/<id>/passerelles.json``
   (``create_app`` served by waitress on loopback).

With ``--store DIR`` steps 1 and 2 are skipped: DIR is timed as it is (e.g. ``WORKDIR/store`` of
``benchmarks/bench_import.py``, the national export imported as a user imports it).

Targets (docs/bridges.md): ≤ 20 ms p95 in-process, ≤ 50 ms p95 over HTTP.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pyoxigraph as ox

CQPM = "https://w3id.org/cqpm/ontology#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCT = "http://purl.org/dc/terms/"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


def _n(x: str) -> ox.NamedNode:
    return ox.NamedNode(x)


def synthetic_quads(store: ox.Store, base: str, count: int, seed: int = 7) -> list[ox.Quad]:
    """A synthetic register of *count* certifications (see the module doc), as quads, one graph each."""
    from cqpm_graph.store import select

    rng = random.Random(seed)
    sf = [r["l"] for r in select(store, f"""SELECT ?l WHERE {{ ?i <{CQPM}itemType> "savoir-faire" ;
                                               <{SKOS}prefLabel> ?l }}""")]
    romes = [r["c"] for r in select(store, f"""SELECT ?c WHERE {{ ?f <{SKOS}inScheme> <{base}scheme/rome> ;
                                                 <{SKOS}notation> ?c . FILTER(STRLEN(?c) = 5) }}""")]
    by_dom: dict[str, list[str]] = {}
    for c in romes:
        by_dom.setdefault(c[:3], []).append(c)
    nsfs = [r["c"] for r in select(store, f"""SELECT ?c WHERE {{ ?f <{SKOS}inScheme> <{base}scheme/nsf> ;
                                                <{SKOS}notation> ?c . FILTER(STRLEN(?c) = 3) }}""")]
    general = [f"UG{i} : {t}" for i, t in enumerate(
        ["Français – Histoire, géographie et enseignement moral et civique", "Mathématiques – Sciences physiques",
         "Éducation physique et sportive", "Prévention santé environnement", "Langue vivante étrangère"], 1)]
    titles = [f"{rng.choice(['La réalisation', 'La conduite', 'Le pilotage', 'La gestion', 'Le contrôle', 'L’organisation'])}"
              f" {rng.choice(['des opérations', 'de l’activité', 'du projet', 'de la qualité', 'de la maintenance'])}"
              f" {rng.choice(sf).lower()}" for _ in range(count // 2)]
    levels = [f"NIV{i}" for i in range(3, 8)]
    quads: list[ox.Quad] = []
    ids = [f"RNCP{900000 + i}" if i % 10 < 6 else f"RS{900000 + i}" for i in range(count)]
    for i, cid in enumerate(ids):
        g = _n(f"{base}graph/synthetic/{cid}")
        cert = _n(f"{base}certification/{cid}")

        def add(s, p, o):
            quads.append(ox.Quad(s, p, o, g))

        add(cert, RDF_TYPE, _n(CQPM + "Certification"))
        add(cert, _n(DCT + "identifier"), ox.Literal(cid))
        add(cert, _n(SKOS + "notation"), ox.Literal(cid))
        add(cert, _n(SKOS + "prefLabel"), ox.Literal(f"Certification synthétique {cid}", language="fr"))
        dom = rng.choice(sorted(by_dom))
        for code in rng.sample(by_dom[dom], min(len(by_dom[dom]), rng.randint(1, 3))):
            add(cert, _n(CQPM + "romeCode"), _n(f"{base}rome/{code}"))
        if rng.random() < 0.3:
            add(cert, _n(CQPM + "romeCode"), _n(f"{base}rome/{rng.choice(romes)}"))
        for code in rng.sample(nsfs, rng.randint(1, 2)):
            add(cert, _n(CQPM + "nsfCode"), _n(f"{base}nsf/{code}"))
        add(cert, _n(CQPM + "level"), _n(f"{base}niveau/{rng.choice(levels)}"))
        if i % 5 == 0 and i + 1 < count and ids[i + 1].startswith("RNCP"):
            add(cert, _n(CQPM + "isReplacedBy"), _n(f"{base}certification/{ids[i + 1]}"))
            add(_n(f"{base}certification/{ids[i + 1]}"), _n(CQPM + "replaces"), cert)
        capn = 0
        blocs = rng.randint(2, 6) if cid.startswith("RNCP") else 0
        for b in range(1, blocs + 1):
            bloc = _n(f"{base}bloc/{cid}BC{b:02d}")
            add(cert, _n(CQPM + "hasBlock"), bloc)
            add(bloc, _n(CQPM + "isBlockOf"), cert)
            add(bloc, RDF_TYPE, _n(CQPM + "CompetenceBlock"))
            add(bloc, _n(SKOS + "notation"), ox.Literal(f"{cid}BC{b:02d}"))
            title = rng.choice(general) if rng.random() < 0.1 else rng.choice(titles)
            add(bloc, _n(SKOS + "prefLabel"), ox.Literal(title, language="fr"))
            add(bloc, _n(CQPM + "blockNumber"), ox.Literal(str(b), datatype=_n("http://www.w3.org/2001/XMLSchema#integer")))
            for _ in range(rng.randint(2, 6)):
                capn += 1
                cap = _n(f"{base}capacite/{cid}-C{capn}")
                add(bloc, _n(CQPM + "hasCapacity"), cap)
                add(cert, _n(CQPM + "hasCapacity"), cap)
                add(cap, RDF_TYPE, _n(CQPM + "Capacity"))
                add(cap, _n(SKOS + "notation"), ox.Literal(f"C{capn}"))
                add(cap, _n(SKOS + "prefLabel"), ox.Literal(rng.choice(sf), language="fr"))
        if not blocs:
            for _ in range(rng.randint(2, 8)):
                capn += 1
                cap = _n(f"{base}capacite/{cid}-C{capn}")
                add(cert, _n(CQPM + "hasCapacity"), cap)
                add(cap, RDF_TYPE, _n(CQPM + "Capacity"))
                add(cap, _n(SKOS + "notation"), ox.Literal(f"C{capn}"))
                add(cap, _n(SKOS + "prefLabel"), ox.Literal(rng.choice(sf), language="fr"))
    for lv in levels:
        node = _n(f"{base}niveau/{lv}")
        quads.append(ox.Quad(node, _n(SKOS + "notation"), ox.Literal(lv), _n(f"{base}graph/synthetic/levels")))
        quads.append(ox.Quad(node, RDF_TYPE, _n(SKOS + "Concept"), _n(f"{base}graph/synthetic/levels")))
    return quads


def percentiles(samples: list[float]) -> str:
    s = sorted(samples)
    p95 = s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]
    return f"p50 {statistics.median(s):6.1f} ms   p95 {p95:6.1f} ms   max {s[-1]:6.1f} ms   (n={len(s)})"


def serve_explorer(settings, port: int):
    """The explorer itself (``create_app``, waitress on loopback, 4 threads as ``cqpm-graph serve``): its
    ``/certification/<id>/passerelles.json`` is what the bridges page and integrators call."""
    from waitress.server import create_server

    from cqpm_graph.webapp import create_app

    server = create_server(create_app(settings), host="127.0.0.1", port=port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server, server.effective_port


def national_store(args, tmp: Path):
    """Set-up (step 1 and 2 of the module doc) in *tmp*: ``(settings, identifiers of the synthetic
    certifications)``."""
    import resource

    from cqpm_graph.bridges.similarity import load_similarity
    from cqpm_graph.build import build
    from cqpm_graph.config import Settings
    from cqpm_graph.store import new_build, open_store
    from cqpm_graph.uris import URIScheme

    seeds = Settings(store=tmp / "seeds")
    t = time.perf_counter()
    build(seeds, validate=False)
    print(f"seed build: {time.perf_counter() - t:.1f} s")
    uris = URIScheme(seeds.base_uri)
    base_quads = open_store(seeds).dump(format=ox.RdfFormat.N_QUADS)  # the seeds, ~0.2 M quads

    settings = Settings(store=tmp / "national")
    with new_build(settings.store) as store:
        store.bulk_load(base_quads, format=ox.RdfFormat.N_QUADS)
        del base_quads
        t = time.perf_counter()
        try:
            from cqpm_graph.fc.synthetic import generate_fiches, write_xml_export
        except ImportError:
            generate_fiches = None
        if generate_fiches is not None and not args.own_generator:
            # issue 3's generator: a synthetic France Compétences XML export, imported as a real one
            from cqpm_graph.fc.importer import load_export
            fiches = generate_fiches(args.certifications)
            (tmp / "export").mkdir()
            path = write_xml_export(fiches, tmp / "export")
            report = load_export(store, uris, path)
            ids = [f.number for f in fiches]
            del fiches  # bounded memory: only the identifiers are needed from here on
            print(f"synthetic export (cqpm_graph.fc.synthetic): {path.name}, {report.quads:,} quads")
        else:
            quads = synthetic_quads(store, uris.base, args.certifications)
            store.bulk_extend(quads)
            ids = [f"RNCP{900000 + i}" if i % 10 < 6 else f"RS{900000 + i}" for i in range(args.certifications)]
        counts = {k: sum(1 for _ in store.quads_for_pattern(None, RDF_TYPE, _n(CQPM + k)))
                  for k in ("Certification", "CompetenceBlock", "Capacity")}
        print(f"synthetic register: {counts} ({time.perf_counter() - t:.1f} s)")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t = time.perf_counter()
        total = load_similarity(store, uris, lambda m: print(m, flush=True))
        print(f"similarity (build time, load_similarity): {time.perf_counter() - t:.1f} s, {total:,} quads in "
              f"graph/bridges; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
              f"(before: {rss:.0f} MiB)")
        t = time.perf_counter()
        again = load_similarity(store, uris)
        print(f"similarity again, input unchanged: {time.perf_counter() - t:.2f} s ({again} quads written)")
        store.optimize()  # as an import of this size ends (cqpm_graph.fc.importer.COMPACT_FROM)
        del store  # closed before new_build moves it in
    return settings, ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None,
                        help="time an existing store (e.g. the import benchmark's WORKDIR/store) instead of "
                             "building one; its certifications other than the seeds are sampled")
    parser.add_argument("--certifications", type=int, default=25000)
    parser.add_argument("--own-generator", action="store_true",
                        help="use this script's generator even when cqpm_graph.fc.synthetic is there")
    parser.add_argument("--queries", type=int, default=200, help="timed bridges calls per mode")
    parser.add_argument("--port", type=int, default=0, help="HTTP port (0: any free one)")
    parser.add_argument("--keep", action="store_true", help="keep the generated store (printed at the end)")
    args = parser.parse_args(argv)

    from collections import defaultdict

    from calibrate import machine_speed
    from cqpm_graph.bridges import Bridges, StoreRunner
    from cqpm_graph.config import Settings
    from cqpm_graph.store import open_store, select

    print(f"machine speed (benchmarks/calibrate.py): {json.dumps(machine_speed())}")
    tmp = None
    if args.store:
        settings = Settings(store=args.store)
        store = open_store(settings)
        ids = sorted(r["id"] for r in select(store, f"""SELECT ?id WHERE {{ GRAPH ?g {{
            ?c a <{CQPM}Certification> ; <{DCT}identifier> ?id }}
            FILTER STRSTARTS(STR(?g), "{settings.base_uri}graph/france-competences/") }}"""))
        print(f"store {args.store}: {len(store):,} quads, {len(ids):,} imported certifications")
    else:
        tmp = Path(tempfile.mkdtemp(prefix="cqpm-bench-"))
        settings, ids = national_store(args, tmp)
        store = open_store(settings)
    per_query: dict[str, list[float]] = defaultdict(list)
    store_runner = StoreRunner(store)

    def timed(name, params):
        t0 = time.perf_counter()
        rows = store_runner(name, params)
        per_query[name].append(1000 * (time.perf_counter() - t0))
        return rows
    timed.concurrent = store_runner.concurrent  # the explorer's runner sends independent queries at once

    bridges = Bridges(timed)
    rng = random.Random(11)
    sample = [rng.choice(ids) for _ in range(args.queries)] + ["RNCP28229", "RNCP19453", "CQPM-management-d-equipe-s-autonome-s"]
    for cid in sample[:20]:  # warm the caches
        bridges.bridges(cid)
    per_query.clear()
    times, sizes = [], []
    for cid in sample:
        t = time.perf_counter()
        result = bridges.bridges(cid, top=10)
        times.append(1000 * (time.perf_counter() - t))
        sizes.append(len(result.bridges))
    print(f"bridges in-process (top 10): {percentiles(times)}; bridges per answer: mean {statistics.mean(sizes):.1f}")
    print("    time per named query (queries of one answer overlap: they run in threads)")
    for name, ms in sorted(per_query.items(), key=lambda kv: -sum(kv[1])):
        print(f"    {name:28} {len(ms):4} calls, mean {statistics.mean(ms):6.2f} ms, {percentiles(ms)}")

    gtimes = []
    for cid in sample[:50]:
        target = bridges.bridges(cid, top=1).bridges
        if target:
            t = time.perf_counter()
            bridges.gap(cid, target[0].certification)
            gtimes.append(1000 * (time.perf_counter() - t))
    if gtimes:
        print(f"gap in-process:              {percentiles(gtimes)}")
    del bridges, store_runner, store  # the explorer opens the store itself

    server, port = serve_explorer(settings, args.port)
    try:
        url = f"http://127.0.0.1:{port}/certification/%s/passerelles.json?top=10"
        for cid in sample[:10]:
            urllib.request.urlopen(url % cid).read()
        htimes = []
        for cid in sample:
            t = time.perf_counter()
            data = json.loads(urllib.request.urlopen(url % cid).read())
            htimes.append(1000 * (time.perf_counter() - t))
            assert data["certification"] == cid
        print(f"bridges over HTTP (explorer, JSON): {percentiles(htimes)}")
        print(f"machine speed after: {json.dumps(machine_speed())}")
    finally:
        server.close()
        if tmp is not None and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp is not None:
            print(f"store kept in {settings.store}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
