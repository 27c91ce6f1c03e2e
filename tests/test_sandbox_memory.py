"""The memory limit of the ``/sparql`` query workers (``CQPM_QUERY_MEMORY``), on the real build: a query
that materialises a cross product gets a 503 saying so, its worker is replaced and the next query
answers; normal queries run under a small limit; the setting is validated."""
from __future__ import annotations

import dataclasses
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from cqpm_graph.config import DEFAULT_QUERY_MEMORY, Settings
from cqpm_graph.queries import load_catalogue
from cqpm_graph.store import live_path
from cqpm_graph.webapp import create_app, sandbox
from cqpm_graph.webapp.sandbox import Job, Outcome, WorkerPool, death_cause, memory_message

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA is enforced by Linux")

MEMORY = 200  # MiB: a worker holds ~100 MiB once the store is open
HUNGRY = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?a"
IDS = ("PREFIX dcterms: <http://purl.org/dc/terms/> PREFIX cqpm: <https://w3id.org/cqpm/ontology#> "
       "SELECT ?id WHERE { ?c a cqpm:Certification ; dcterms:identifier ?id } ORDER BY ?id")
NSF = "https://w3id.org/cqpm/id/graph/nsf"
# long (694³ solutions counted) but small: it runs for seconds well under 200 MiB
SLOW = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{NSF}> {{ ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }} }}"


# -- the setting ------------------------------------------------------------------------------------

def test_query_memory_setting_defaults_and_environment():
    assert Settings.from_env(environ={}).query_memory == DEFAULT_QUERY_MEMORY == 1024
    assert Settings.from_env(environ={"CQPM_QUERY_MEMORY": "512"}).query_memory == 512
    assert Settings.from_env(environ={"CQPM_QUERY_MEMORY": "0"}).query_memory == 0  # no limit
    assert Settings.from_env(environ={"CQPM_QUERY_MEMORY": " "}).query_memory == 1024


@pytest.mark.parametrize("value", ["lots", "1.5", "-1", "64", "127"])
def test_query_memory_setting_is_validated(value):
    with pytest.raises(ValueError, match="CQPM_QUERY_MEMORY"):
        Settings.from_env(environ={"CQPM_QUERY_MEMORY": value})


def test_query_memory_setting_is_validated_when_given_directly():
    with pytest.raises(ValueError, match=r"CQPM_QUERY_MEMORY.*at least 128 MiB"):
        Settings(query_memory=100)
    assert Settings(query_memory=128).query_memory == 128


# -- how a dead worker is told apart --------------------------------------------------------------------

@pytest.mark.parametrize(("returncode", "stderr", "cause"), [
    (-6, ["memory allocation of 560 bytes failed"], "memory"),  # Rust
    (-6, ["terminate called after throwing an instance of 'std::bad_alloc'", "  what():  std::bad_alloc"], "memory"),
    (-6, ["Traceback (most recent call last):", "MemoryError:", "PyObject pointer is null"], "memory"),
    (-6, ["terminate called after throwing an instance of 'std::system_error'",
          "  what():  Resource temporarily unavailable"], "memory"),  # no memory left for a thread stack
    (-9, [], "memory"),  # the kernel's OOM killer (the pool's own kills are timeouts, handled apart)
    (-6, ["thread '<unnamed>' panicked at smallsort.rs:854:5:",
          "user-provided comparison function does not correctly implement a total order"], "signal SIGABRT"),
    (-11, [], "signal SIGSEGV"),
    (1, ["Traceback (most recent call last):", "ValueError: boom"], "code de sortie 1"),
    (None, [], None),
])
def test_death_cause(returncode, stderr, cause):
    assert death_cause(returncode, stderr) == cause


def test_memory_message():
    text = memory_message(200)
    assert text.startswith("Mémoire dépassée") and "200 Mio" in text and "CQPM_QUERY_MEMORY" in text
    assert "filtres" in text and "LIMIT" in text
    assert "CQPM_QUERY_MEMORY" not in memory_message(0) and "Mémoire insuffisante" in memory_message(0)


def test_worker_answers_a_memory_error_then_retires(monkeypatch):
    """A ``MemoryError`` raised in Python reaches the worker loop: it answers 503 and exits."""
    from multiprocessing import Pipe

    def hungry(store, job):
        raise MemoryError

    monkeypatch.setattr(sandbox, "evaluate", hungry)
    monkeypatch.setattr(sandbox, "ox", SimpleNamespace(Store=SimpleNamespace(read_only=lambda path: object())))
    parent, child = Pipe()
    thread = threading.Thread(target=sandbox.worker_main, args=(child, 300), daemon=True)
    thread.start()
    assert parent.recv() == "ready"
    parent.send(Job("ASK {}", None, store_path="/nowhere"))
    outcome = parent.recv()
    assert isinstance(outcome, Outcome) and not outcome.ok and outcome.retire
    assert outcome.status == 503 and "300 Mio" in outcome.message and "CQPM_QUERY_MEMORY" in outcome.message
    thread.join(5)
    assert not thread.is_alive()


# -- the worker pool on the real build -------------------------------------------------------------------

@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool(1, memory=MEMORY)
    try:
        yield pool
    finally:
        pool.close()


def _job(settings, text, timeout=20.0):
    return Job(text, None, limit=10_000, timeout=timeout, store_path=str(live_path(settings.store)))


@linux_only
def test_worker_opens_the_store_and_runs_every_stored_query_under_the_limit(built_store, pool, required_params):
    assert pool.run(_job(built_store, "ASK { ?s ?p ?o }")).body  # the store is open in the worker
    worker = pool._idle.queue[0]
    limits = Path(f"/proc/{worker.process.pid}/limits").read_text().splitlines()
    data = next(line for line in limits if line.startswith("Max data size")).split()
    assert data[3:5] == [str(MEMORY << 20)] * 2  # soft and hard
    core = next(line for line in limits if line.startswith("Max core file size")).split()
    assert core[4] == "0"
    for name, stored in sorted(load_catalogue().items()):  # as the explorer sends them: parameters bound
        outcome = pool.run(_job(built_store, stored.render(required_params(stored))))
        assert outcome.ok, (name, outcome.status, outcome.message)
    assert pool._idle.queue[0] is worker  # never replaced


@linux_only
def test_a_worker_killed_otherwise_is_reported_as_a_crash(built_store, pool):
    import os
    import signal
    pool.run(_job(built_store, "ASK {}"))
    worker = pool._idle.queue[0]
    answer = {}
    thread = threading.Thread(target=lambda: answer.setdefault("outcome", pool.run(_job(built_store, SLOW))))
    thread.start()
    time.sleep(0.5)  # the worker is counting
    os.kill(worker.process.pid, signal.SIGTERM)
    thread.join(10)
    outcome = answer["outcome"]
    assert outcome.status == 500 and "(signal SIGTERM)" in outcome.message, outcome.message
    assert pool._idle.queue[0] is not worker
    assert pool.run(_job(built_store, "ASK { ?s ?p ?o }")).ok


# -- /sparql over HTTP ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_memory(built_store, tmp_path_factory):
    """``/sparql`` on the real build with one worker limited to 200 MiB (and a time limit far away)."""
    from waitress.server import create_server

    settings = dataclasses.replace(built_store, query_timeout=20.0, query_workers=1, query_memory=MEMORY,
                                   cache_dir=tmp_path_factory.mktemp("memory-cache"))
    app = create_app(settings)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/sparql", app
    finally:
        server.close()
        thread.join(timeout=5)
        app.extensions["cqpm_graph"].queries.close()


def ids(response) -> list[str]:
    return [b["id"]["value"] for b in response.json()["results"]["bindings"]]


@linux_only
def test_memory_hungry_query_gets_503_and_the_server_carries_on(small_memory):
    url, app = small_memory
    assert app.extensions["cqpm_graph"].queries.pool.memory == MEMORY
    before = requests.get(url, params={"query": IDS}, timeout=30)
    assert before.status_code == 200 and len(ids(before)) == 5 and "RNCP28229" in ids(before)
    started = time.monotonic()
    response = requests.get(url, params={"query": HUNGRY}, timeout=30)
    assert response.status_code == 503, response.text
    assert time.monotonic() - started < 10  # the memory limit stopped it, not the 20 s time limit
    assert "Mémoire dépassée" in response.text and "200 Mio" in response.text
    assert "CQPM_QUERY_MEMORY" in response.text and "LIMIT" in response.text
    assert "Délai" not in response.text
    after = requests.get(url, params={"query": IDS}, timeout=30)
    assert after.status_code == 200 and ids(after) == ids(before)
    # the free-query page says the same
    import html
    page = requests.get(url.replace("/sparql", "/sparql/resultats"), params={"query": HUNGRY}, timeout=30)
    assert page.status_code == 503 and "CQPM_QUERY_MEMORY" in html.unescape(page.text)
    assert requests.get(url, params={"query": "ASK { ?s ?p ?o }"}, timeout=30).json()["boolean"] is True
