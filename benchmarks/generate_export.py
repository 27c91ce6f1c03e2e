#!/usr/bin/env python3
"""Write a synthetic France Compétences export at national scale (benchmarks only — never ship it as data).

    .venv/bin/python benchmarks/generate_export.py OUT_DIR [--fiches 25000] [--seed 42] [--format csv|xml|both]

Writes export-fiches-csv-2024-02-22.zip and/or export-fiches-rncp-v4-1-2024-02-22.zip into OUT_DIR (use a
temporary directory) in the exact official formats; see cqpm_graph.fc.synthetic.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cqpm_graph.fc.synthetic import generate_fiches, write_csv_export, write_xml_export


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--fiches", type=int, default=25_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--format", choices=("csv", "xml", "both"), default="both")
    ap.add_argument("--date", default="2024-02-22")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    fiches = generate_fiches(args.fiches, seed=args.seed)
    blocs = sum(len(f.blocs) for f in fiches)
    caps = sum(len(b.capacities) for f in fiches for b in f.blocs)
    print(f"{len(fiches)} fiches, {blocs} blocs, {caps} capacités", file=sys.stderr)
    if args.format in ("csv", "both"):
        print(write_csv_export(fiches, args.out, args.date))
    if args.format in ("xml", "both"):
        print(write_xml_export(fiches, args.out, args.date))
    print(f"écrit en {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
