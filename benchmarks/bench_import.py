#!/usr/bin/env python3
"""Benchmark: import of a national-scale France Compétences export, rebuild, full SHACL validation.

    .venv/bin/python benchmarks/bench_import.py [--fiches 25000] [--format xml|csv] [--workdir DIR]

Steps, each in its own process so that its peak RSS (``resource.getrusage``, self + children) is its own:

1. generate the synthetic export (``cqpm_graph.fc.synthetic``) into a temporary directory;
2. ``cqpm-graph build`` of the shipped fiches (set-up, not timed in the target);
3. ``import``: :func:`cqpm_graph.fc.importer.import_export` of the export, graph/bridges included (validation
   off: measured in 5);
4. ``build``: :func:`cqpm_graph.build.build` after the import, as ``cqpm-graph build`` runs it (it starts from
   the live store and keeps the imported graphs), validation off;
5. ``validate``: :func:`cqpm_graph.shacl_fast.validate_fast` of the whole store with every ``shapes/*.ttl``;
6. with ``--update`` (XML only): ``newer-export`` (set-up, not timed in a target) copies the store to
   ``WORKDIR/store-update`` and writes the same export one month later with one fiche's title edited;
   ``update`` imports it there, as a user updates with a newer export (one fiche graph and
   ``graph/bridges`` replaced).

Prints one JSON line per step and a summary with the machine's speed before and after
(``benchmarks/calibrate.py``: the benchmark machine is shared and its speed varies); results go in
docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

def _rss_mib() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return kb / 1024


def step(name: str, args) -> dict:
    from cqpm_graph.config import Settings
    settings = Settings(store=args.store)
    started = time.monotonic()
    out: dict = {"step": name}
    if name == "generate":
        from cqpm_graph.fc.synthetic import generate_fiches, write_csv_export, write_xml_export
        fiches = generate_fiches(args.fiches)
        out["blocs"] = sum(len(f.blocs) for f in fiches)
        out["capacities"] = sum(len(b.capacities) for f in fiches for b in f.blocs)
        path = (write_xml_export if args.format == "xml" else write_csv_export)(fiches, args.workdir)
        out["export"], out["bytes"] = str(path), path.stat().st_size
    elif name == "newer-export":
        import shutil
        import zipfile
        shutil.copytree(args.store, args.workdir / "store-update", symlinks=True)
        with zipfile.ZipFile(args.export) as old:
            member = old.namelist()[0]
            text = old.read(member).decode("utf-8")
        start = text.index("<INTITULE>", text.index("</NUMERO_FICHE>")) + len("<INTITULE>")
        end = text.index("</INTITULE>", start)
        out["fiche_title"] = text[start:end]
        text = text[:end] + " (version révisée)" + text[end:]
        newer = args.workdir / "newer" / args.export.name.replace("-02-22", "-03-22")
        newer.parent.mkdir(exist_ok=True)
        with zipfile.ZipFile(newer, "w", zipfile.ZIP_DEFLATED) as new:
            new.writestr(member.replace("-02-22", "-03-22"), text.encode("utf-8"))
        out["export"] = str(newer)
    elif name == "update":
        from cqpm_graph.fc.importer import import_export
        report = import_export(settings, args.export, validate=False, progress=_progress(started))
        out["fiches"], out["replaced"], out["unchanged"] = report.fiches, report.replaced, report.unchanged
    elif name == "seed-build":
        from cqpm_graph.build import build
        build(settings)
    elif name == "import":
        from cqpm_graph.bridges.similarity import BridgesJob
        from cqpm_graph.fc.importer import import_export
        original_map, original_write = BridgesJob.map, BridgesJob.write

        # graph/bridges is part of an import: its steps are timed apart — the similarities (bridges_map_s,
        # while the fiche graphs are still being indexed) and the load and shortlists (bridges_s)
        def timed_map(job):
            t = time.monotonic()
            original_map(job)
            out["bridges_map_s"] = round(time.monotonic() - t, 1)

        def timed_write(job, *a, **k):
            t = time.monotonic()
            out["bridges_quads"] = original_write(job, *a, **k)
            out["bridges_s"] = round(time.monotonic() - t, 1)
            return out["bridges_quads"]
        BridgesJob.map, BridgesJob.write = timed_map, timed_write
        report = import_export(settings, args.export, validate=False, progress=_progress(started))
        out["fiches"], out["quads"] = report.fiches, report.quads
    elif name == "build":
        # `cqpm-graph build` after the import, as a user runs it (validation measured in the next step)
        from cqpm_graph.build import build
        report = build(settings, validate=False, progress=_progress(started))
        out["triples"] = sum(report.graphs.values())
        out["graphs"] = len(report.graphs)
    elif name == "validate":
        import pyoxigraph as ox
        from cqpm_graph.shacl_fast import compile_shapes, load_all_shapes, validate_fast
        from cqpm_graph.store import live_path
        shapes = load_all_shapes()
        checks, unsupported = compile_shapes(shapes)
        store = ox.Store.read_only(str(live_path(settings.store)))
        out["triples"] = len(store)
        report = validate_fast(store, shapes)
        out["checks"], out["fallback_shapes"] = len(checks), len(unsupported)
        out["engine"], out["counts"] = report.engine, report.counts_by_severity
    out["seconds"] = round(time.monotonic() - started, 1)
    out["peak_rss_mib"] = round(_rss_mib())
    out["cpu_s"] = _cpu_seconds()
    return out


def _progress(started: float):
    """The step's progress lines on stderr, each with the seconds since the step started."""
    return lambda m: print(f"{time.monotonic() - started:6.1f} s {m}", file=sys.stderr, flush=True)


def _cpu_seconds() -> dict:
    """CPU seconds of this process: in all, in the main (Python) thread, in RocksDB's background threads
    (compactions, flushes) still alive; the rest ran in the bulk loaders' threads (Linux /proc only)."""
    tick = os.sysconf("SC_CLK_TCK")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = {"total": round(usage.ru_utime + usage.ru_stime, 1)}
    try:
        by_kind = {"main": 0.0, "rocksdb": 0.0}
        for task in Path("/proc/self/task").iterdir():
            comm = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            seconds = (int(fields[11]) + int(fields[12])) / tick
            if task.name == str(os.getpid()):
                by_kind["main"] += seconds
            elif comm.startswith("rocksdb"):
                by_kind["rocksdb"] += seconds
        out.update({k: round(v, 1) for k, v in by_kind.items()})
    except OSError:
        pass
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fiches", type=int, default=25_000)
    ap.add_argument("--format", choices=("xml", "csv"), default="xml")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--update", action="store_true",
                    help="then import a newer export with one fiche changed into a copy of the store (XML only)")
    ap.add_argument("--step", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--store", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--export", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.step:
        print(json.dumps(step(args.step, args), ensure_ascii=False))
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cqpm-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    store = workdir / "store"
    from calibrate import machine_speed
    speed_before = machine_speed()
    results = {}
    export = None
    steps = ["generate", "seed-build", "import", "build", "validate"]
    if args.update and args.format == "xml":
        steps += ["newer-export", "update"]
    for name in steps:
        target = workdir / "store-update" if name == "update" else store
        cmd = [sys.executable, __file__, "--step", name, "--fiches", str(args.fiches), "--format", args.format,
               "--workdir", str(workdir), "--store", str(target)]
        if export:
            cmd += ["--export", export]
        line = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]
        results[name] = json.loads(line)
        export = results[name].get("export", export)
        print(line, flush=True)
    total = results["import"]["seconds"] + results["build"]["seconds"]
    peak = max(results["import"]["peak_rss_mib"], results["build"]["peak_rss_mib"])
    print(json.dumps({"summary": {"import_plus_build_s": round(total, 1), "peak_rss_mib": peak,
                                  "validation_s": results["validate"]["seconds"],
                                  "validation_peak_rss_mib": results["validate"]["peak_rss_mib"],
                                  "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
                                  "machine_speed": {"before": speed_before, "after": machine_speed()}}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
