#!/usr/bin/env python3
"""How fast this machine is right now: ``python benchmarks/calibrate.py``.

The project's benchmark machine is a shared 2-core VM whose speed varies between sessions: the same commit
imported the same national export in 62 s in one session and in 115 s in the next (docs/benchmarks.md). The
benchmarks print these two reference timings with their results, so that figures of two runs can be
compared knowing how fast the machine was.

* ``python_s``: best of 3 of a pure-Python loop of 10 million additions (one core; the interpreter's speed);
* ``oxigraph_s``: best of 3 of pyoxigraph bulk-loading 200,000 N-Quads into an in-memory store and
  answering one grouped count over them (Rust: parsing, indexing, query evaluation).
"""
from __future__ import annotations

import json
import time


def _python_loop() -> float:
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def _oxigraph_load() -> float:
    import pyoxigraph as ox

    text = "".join(f"<urn:s:{i}> <urn:p:{i % 7}> \"v{i % 1000}\" <urn:g:{i % 50}> .\n" for i in range(200_000))
    started = time.perf_counter()
    store = ox.Store()
    store.bulk_load(text.encode(), format=ox.RdfFormat.N_QUADS)
    list(store.query("SELECT ?p (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?p"))
    return time.perf_counter() - started


def machine_speed(repeat: int = 3) -> dict:
    """``{"python_s": float, "oxigraph_s": float}``: seconds, best of *repeat* (see the module doc)."""
    return {"python_s": round(min(_python_loop() for _ in range(repeat)), 3),
            "oxigraph_s": round(min(_oxigraph_load() for _ in range(repeat)), 3)}


if __name__ == "__main__":
    print(json.dumps(machine_speed()))
