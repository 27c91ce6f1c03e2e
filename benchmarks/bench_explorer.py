"""Time the explorer's pages on a store (national scale: ``--store`` a store with the France Compétences
import), through Flask's test client, in one process.

    .venv/bin/python benchmarks/bench_explorer.py --store /tmp/pf/st2
    .venv/bin/python benchmarks/bench_explorer.py --store DIR --runs 9 --json timings.json

The explorer index (:mod:`cqpm_graph.explorer_index`) is looked for in the live build directory, then in
``--cache-dir``; when there is none the script has the explorer build it (as it does on its first request)
and reports how long that took, then times the pages. Each page is requested once cold (``first``: caches
empty — VoID, DCAT and the per-thread SQLite connections are built then) and ``--runs`` times more; p50
and p95 are over those runs (nearest rank). The store is opened read-only; nothing is written into it.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0–100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="store directory (opened read-only)")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/cqpm-bench-explorer-cache"),
                        help="the explorer's cache directory (index, VoID); default %(default)s")
    parser.add_argument("--runs", type=int, default=5, help="timed requests per page after the cold one")
    parser.add_argument("--json", type=Path, help="also write the timings to this JSON file")
    parser.add_argument("--url", action="append", default=[], help="an extra URL to time (repeatable)")
    parser.add_argument("--cert", action="append", default=[],
                        help="a certification whose page to time (repeatable; default: RNCP10015, RNCP28229 "
                             "when present, and the first one of the list with blocs)")
    args = parser.parse_args(argv)

    from cqpm_graph.config import Settings
    from cqpm_graph.webapp import create_app
    from cqpm_graph.webapp.directory import IndexManager, EXTENSION_KEY

    settings = Settings(store=args.store, query_workers=0, cache_dir=args.cache_dir)
    app = create_app(settings)
    explorer = app.extensions["cqpm_graph"]
    manager = app.extensions.setdefault(EXTENSION_KEY, IndexManager(explorer.backend, explorer.cache.dir))
    started = time.monotonic()
    with app.app_context():
        index = manager.get()
        if index is None:
            print("index: none for this build, the explorer builds it (as on its first request)…", flush=True)
            index = manager.wait()
    if index is None:
        print("index: build failed (see the log)", file=sys.stderr)
        return 1
    index_seconds = time.monotonic() - started
    print(f"index: {index.origin} ({index.meta.get('items')} texts; built in {index.meta.get('seconds', '?')} s"
          f"{'' if index_seconds < 1 else f', waited {index_seconds:.1f} s'})", flush=True)

    client = app.test_client()
    first = client.get("/certifications.json?par_page=20").get_json()["certifications"]
    cert = next((c["id"] for c in first if c["blocs"]), first[0]["id"] if first else "RNCP28229")
    bloc = client.get(f"/certification/{cert}.json").get_json()["blocs"]
    certs = args.cert or [c for c in ("RNCP10015", "RNCP28229")
                          if client.get(f"/certification/{c}.json").status_code == 200] + [cert]
    html = {"Accept": "text/html"}
    turtle = {"Accept": "text/turtle"}
    pages = [
        ("/", html), ("/?registre=RS&etat=active", html), ("/?niveau=NIV5&type=BTS&tri=intitule", html),
        ("/?page=250", html), ("/certifications.json", {}), ("/certifications.json?page=400&par_page=50", {}),
        ("/search?q=maintenance", html), ("/search?q=chef+d%27%C3%A9quipe", html), ("/search?q=maintenance&page=50", html),
        (f"/search?q={cert}", html), ("/search?q=H2503", html), ("/search.json?q=soudage", {}), ("/search?q=de", html),
        ("/rome/", html), ("/nsf/", html), ("/rome/H2503", html), ("/rome/H", html), ("/rome/H?page=20", html),
        ("/nsf/2", html), ("/nsf/200.json", {}),
        *[(u, h) for c in certs for u, h in ((f"/certification/{c}", html), (f"/certification/{c}.json", {}))],
        (f"/id/certification/{cert}", html), (f"/certification/{cert}?format=ttl", {}),
        *([(f"/bloc/{bloc[0]['code']}", html)] if bloc else []),
        ("/.well-known/void", turtle), ("/.well-known/void", {"Accept": "application/ld+json"}),
        ("/catalog", turtle), ("/.well-known/void", html),
    ] + [(u, html) for u in args.url]

    results = []
    print(f"\n{'page':<46} {'status':>6} {'bytes':>10} {'first':>9} {'p50':>8} {'p95':>8}   (ms, {args.runs} runs)")
    for url, headers in pages:
        t = time.monotonic()
        response = client.get(url, headers=headers)
        cold = (time.monotonic() - t) * 1000
        times = []
        for _ in range(args.runs):
            t = time.monotonic()
            response = client.get(url, headers=headers)
            times.append((time.monotonic() - t) * 1000)
        label = url + (f"  [{headers['Accept']}]" if headers.get("Accept") not in (None, "text/html") else "")
        row = {"url": url, "accept": headers.get("Accept"), "status": response.status_code, "bytes": len(response.data),
               "first_ms": round(cold, 1), "p50_ms": round(percentile(times, 50), 1),
               "p95_ms": round(percentile(times, 95), 1), "mean_ms": round(statistics.fmean(times), 1)}
        results.append(row)
        print(f"{label:<46} {row['status']:>6} {row['bytes']:>10} {row['first_ms']:>9.0f} {row['p50_ms']:>8.1f} "
              f"{row['p95_ms']:>8.1f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"store": str(args.store), "runs": args.runs, "index": index.origin,
                                         "pages": results}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
