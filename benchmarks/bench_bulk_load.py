#!/usr/bin/env python3
"""Benchmark: the same N-Quads loaded into an empty on-disk store in batches or in one bulk load, then compacted.

    .venv/bin/python benchmarks/bench_bulk_load.py --store DIR [--workdir W] [--quads N] [--modes batches single]

What it measures is why an import loads its new fiche graphs in one bulk load (``NQuadsStream(batch=None)``):
every ``pyoxigraph.Store.bulk_load`` call hands RocksDB its own set of files when it ends; files of several
calls overlap (keys are hashes), and RocksDB compacts them again and again while the next calls run.

* ``--store DIR``: a store directory (e.g. the one ``bench_import.py`` leaves: ``W/store``); its live data is
  dumped once to ``WORKDIR/all.nq`` (N-Quads), the input of every mode;
* ``--quads N``: only the first N quads (a call of N quads: its peak RSS);
* modes, each in its own process (its peak RSS and CPU its own): ``batches`` — ``store.NQuadsStream`` as
  it is by default (batches of ``STREAM_BATCH`` quads, two loaders at once, ramped), ``single`` —
  ``NQuadsStream(batch=None)``; then :meth:`pyoxigraph.Store.optimize`.

Prints one JSON line per mode: seconds to load and to compact, CPU seconds (in all, RocksDB's background
threads, at the end of the load and after the compaction; Linux ``/proc``), peak RSS (MiB). Results go in
docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench_import import _cpu_seconds


def run_mode(mode: str, nquads: Path, target: Path) -> dict:
    """Load *nquads* into a new store at *target* the *mode* way, then compact it; the figures as a dict."""
    import pyoxigraph as ox

    from cqpm_graph.store import STREAM_BATCH, NQuadsStream

    shutil.rmtree(target, ignore_errors=True)
    store = ox.Store(str(target))
    started = time.monotonic()
    with open(nquads, "rb") as fh, NQuadsStream(store, batch=None if mode == "single" else STREAM_BATCH) as stream:
        stream.write_file(fh)
    loaded = time.monotonic()
    cpu_loaded = _cpu_seconds()
    store.optimize()
    out = {"mode": mode, "quads": stream.quads, "load_s": round(loaded - started, 1),
           "optimize_s": round(time.monotonic() - loaded, 1), "cpu_at_load_end": cpu_loaded,
           "cpu": _cpu_seconds(), "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}
    del store
    shutil.rmtree(target, ignore_errors=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, help="store directory whose live data is the input (dumped once)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/cqpm-bench-bulk-load"))
    ap.add_argument("--quads", type=int, default=None, help="only the first N quads of the dump")
    ap.add_argument("--modes", nargs="+", choices=("batches", "single"), default=["batches", "single"])
    ap.add_argument("--mode", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--input", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.input, args.workdir / f"store-{args.mode}")))
        return 0
    args.workdir.mkdir(parents=True, exist_ok=True)
    dump = args.workdir / "all.nq"
    if not dump.exists():
        if args.store is None:
            ap.error(f"--store is needed to write {dump}")
        import pyoxigraph as ox

        from cqpm_graph.store import live_path
        ox.Store.read_only(str(live_path(args.store))).dump(output=str(dump), format=ox.RdfFormat.N_QUADS)
    source = dump
    if args.quads:
        source = args.workdir / f"first-{args.quads}.nq"
        with open(dump, "rb") as src, open(source, "wb") as out:
            for i, line in enumerate(src):
                if i >= args.quads:
                    break
                out.write(line)
    for mode in args.modes:
        cmd = [sys.executable, __file__, "--mode", mode, "--input", str(source), "--workdir", str(args.workdir)]
        print(subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout.strip(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
