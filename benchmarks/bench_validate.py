#!/usr/bin/env python3
"""Benchmark: full SHACL validation of a store with the fast engine, time per shape and in total.

    .venv/bin/python benchmarks/bench_validate.py --store DIR [--workers N] [--shapes FILE.ttl ...] [--top 25]

``DIR`` is a store directory (its ``current`` live database is opened) or a database directory itself; it is
opened read-only and never written. Default shapes: every ``shapes/*.ttl``. Prints the checks' count, the
report's counts, the slowest shapes (sum of their checks' wall and CPU times; with 2 workers the checks
overlap, so the wall times add up to more than the total; CPU time does not depend on other processes) and one JSON summary line (``--json`` prints every check).

The national-scale figure of docs/benchmarks.md: a store made by ``benchmarks/bench_import.py --fiches 25000``
(``--workdir W``, then ``--store W/store``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path


def _open(path: Path):
    import pyoxigraph as ox
    live = path / "current"
    return ox.Store.read_only(str(live.resolve() if live.exists() else path))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, required=True, help="store directory (or its live database)")
    ap.add_argument("--workers", type=int, default=None, help="threads (default: one per core, at most 2)")
    ap.add_argument("--shapes", type=Path, nargs="*", help="shapes files (default: every shapes/*.ttl)")
    ap.add_argument("--top", type=int, default=25, help="slowest shapes to list")
    ap.add_argument("--form", choices=("auto", "set", "focus"), default="auto",
                    help="set-at-a-time or focus-by-focus forms of the checks (default: auto, by sizes)")
    ap.add_argument("--json", action="store_true", help="print every check's time as JSON lines")
    args = ap.parse_args(argv)

    import rdflib

    from cqpm_graph.shacl_fast import compile_shapes, default_workers, load_all_shapes, validate_fast

    if args.shapes:
        shapes = rdflib.Graph()
        for f in args.shapes:
            shapes.parse(f, format="turtle")
    else:
        shapes = load_all_shapes()
    checks, unsupported = compile_shapes(shapes)
    store = _open(args.store)
    quads = len(store)
    workers = args.workers or default_workers()
    timings: list = []
    started = time.perf_counter()
    report = validate_fast(store, shapes, workers=workers, timings=timings, form=args.form)
    total = time.perf_counter() - started

    per_shape: dict[str, list] = defaultdict(lambda: [0.0, 0.0, 0, []])
    for t in timings:
        entry = per_shape[t.shape.rsplit("#", 1)[-1]]
        entry[0] += t.seconds
        entry[1] += t.cpu_seconds
        entry[2] += t.results
        entry[3].append(f"{t.component}{'*' if t.lateral else ''} {t.seconds:.1f}")
    if args.json:
        for t in timings:
            print(json.dumps({"shape": t.shape, "component": t.component, "seconds": round(t.seconds, 3),
                              "cpu_seconds": round(t.cpu_seconds, 3), "results": t.results, "per_focus": t.lateral}))
    print(f"{quads:,} quads, {len(checks)} checks, {len(unsupported)} shapes left to pyshacl, {workers} worker(s)")
    print(f"{'shape':48} {'wall s':>7} {'CPU s':>7} {'results':>8}  checks (wall s; * focus by focus)")
    for name, (seconds, cpu, results, parts) in sorted(per_shape.items(), key=lambda kv: -kv[1][0])[:args.top]:
        print(f"{name:48} {seconds:7.1f} {cpu:7.1f} {results:8d}  {', '.join(parts)}")
    check_sum = sum(t.seconds for t in timings)
    cpu_sum = sum(t.cpu_seconds for t in timings)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"summary": {
        "quads": quads, "checks": len(checks), "fallback_shapes": len(unsupported), "workers": workers,
        "validation_s": round(total, 1), "sum_of_checks_s": round(check_sum, 1),
        "sum_of_checks_cpu_s": round(cpu_sum, 1), "peak_rss_mib": round(rss),
        "counts": report.counts_by_severity, "engine": report.engine,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
