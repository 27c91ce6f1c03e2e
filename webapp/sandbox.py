"""Evaluating untrusted ``/sparql`` queries on the embedded store with a hard time limit and a result cap.

pyoxigraph cannot interrupt a running query, and checking a deadline between solutions does not stop
one long join that produces its first solution after minutes. So each query is evaluated in a
**separate worker process** (:class:`WorkerPool`) that opens the live store read-only itself; when the
time limit passes, the worker is killed (``SIGKILL``) and replaced, and the request gets a clear
error. The explorer's own threads never run a user query, so the server stays responsive.

A worker answers with the serialised result, never with live objects: :func:`evaluate` iterates the
solutions (or triples) itself, stops with an error past ``limit`` rows, and writes the requested
format. The same function runs in the request thread when no pool can be used (a store given as an
object rather than a directory, or ``CQPM_QUERY_WORKERS=0``); there the deadline is only checked
between solutions (a soft limit), which is documented.

Overhead of the pool, measured on the five-fiche build + ROME (2 cores): 0.33 ms against 0.12 ms in
the request thread for a 5-row SELECT, 68 ms against 65 ms for 5,000 rows (the answer crosses a socket);
a replacement worker is ready ~0.17 s after a kill (interpreter start, ``import pyoxigraph``, opening
the store), started in the background.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

import pyoxigraph as ox

from cqpm_graph.backend import RDF_MEDIA_TYPES, RESULT_MEDIA_TYPES, has_from
from cqpm_graph.store import term_to_json
from cqpm_graph.uris import PREFIXES

log = logging.getLogger(__name__)

DEADLINE_EVERY = 256  # solutions between two deadline checks (soft mode)


@dataclass
class Job:
    """One query to evaluate.

    :ivar text: the query (already checked: no update, no unlisted SERVICE).
    :ivar media_type: the answer's format, or ``None`` for the canonical one (SPARQL JSON for
        SELECT/ASK, N-Triples for CONSTRUCT/DESCRIBE).
    :ivar default_graphs: / :ivar named_graphs: the protocol dataset (empty: union default graph).
    :ivar limit: most rows / triples allowed.
    :ivar timeout: seconds allowed.
    :ivar store_path: the live build directory a worker opens (pool mode).
    """

    text: str
    media_type: str | None
    default_graphs: list[str] = field(default_factory=list)
    named_graphs: list[str] = field(default_factory=list)
    limit: int = 10_000
    timeout: float = 10.0
    store_path: str | None = None


@dataclass
class Outcome:
    """What :func:`evaluate` returns: ``ok`` with ``kind`` (``select``/``ask``/``graph``), ``body``,
    ``media_type`` and ``count``; or not ``ok`` with an HTTP ``status`` and a French ``message``."""

    ok: bool
    kind: str | None = None
    body: bytes = b""
    media_type: str | None = None
    count: int = 0
    status: int = 200
    message: str = ""


def timeout_message(seconds: float) -> str:
    """The error text for a query stopped at the time limit."""
    return (f"Délai dépassé : la requête a été interrompue après {seconds:g} s (limite du serveur, "
            f"CQPM_QUERY_TIMEOUT). Ajoutez des filtres ou une clause LIMIT.")


def limit_message(limit: int, what: str) -> str:
    """The error text for an answer over the result cap."""
    return (f"Résultat trop volumineux : plus de {limit} {what} (limite du serveur, CQPM_RESULT_LIMIT). "
            f"Ajoutez une clause LIMIT (et OFFSET pour paginer).")


def evaluate(store: ox.Store, job: Job, deadline: float | None = None) -> Outcome:
    """Run *job* on *store* and serialise the answer, enforcing ``job.limit`` (and *deadline*, a
    ``time.monotonic()`` value, between solutions). Never raises for query problems: errors come back
    as an :class:`Outcome` with ``ok=False`` (400 malformed, 422 over the cap, 503 past the deadline,
    500 store failure)."""
    try:
        if job.default_graphs or job.named_graphs:
            result = store.query(job.text, default_graph=[ox.NamedNode(g) for g in job.default_graphs],
                                 named_graphs=[ox.NamedNode(g) for g in job.named_graphs])
        elif has_from(job.text):
            result = store.query(job.text)
        else:
            result = store.query(job.text, use_default_graph_as_union=True)
    except SyntaxError as exc:
        return Outcome(False, status=400, message=f"Requête SPARQL invalide : {exc}")
    except (OSError, RuntimeError, ValueError) as exc:
        return Outcome(False, status=500, message=f"Erreur pendant l'évaluation de la requête : {exc}")
    try:
        if isinstance(result, ox.QueryBoolean):
            fmt = RESULT_MEDIA_TYPES.get(job.media_type or "") or ox.QueryResultsFormat.JSON
            media_type = job.media_type if job.media_type in RESULT_MEDIA_TYPES else "application/sparql-results+json"
            return Outcome(True, "ask", result.serialize(format=fmt), media_type, 1)
        if isinstance(result, ox.QuerySolutions):
            variables = [v.value for v in result.variables]
            bindings = []
            for i, solution in enumerate(result):
                if i >= job.limit:
                    return Outcome(False, status=422, message=limit_message(job.limit, "lignes"))
                if deadline is not None and i % DEADLINE_EVERY == 0 and time.monotonic() > deadline:
                    return Outcome(False, status=503, message=timeout_message(job.timeout))
                bindings.append({v: term_to_json(solution[v]) for v in variables if solution[v] is not None})
            body = json.dumps({"head": {"vars": variables}, "results": {"bindings": bindings}},
                              ensure_ascii=False).encode("utf-8")
            media_type = job.media_type if job.media_type in RESULT_MEDIA_TYPES else "application/sparql-results+json"
            if media_type != "application/sparql-results+json":
                parsed = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
                body = parsed.serialize(format=RESULT_MEDIA_TYPES[media_type])
            return Outcome(True, "select", body, media_type, len(bindings))
        triples = []
        for i, triple in enumerate(result):
            if i >= job.limit:
                return Outcome(False, status=422, message=limit_message(job.limit, "triplets"))
            if deadline is not None and i % DEADLINE_EVERY == 0 and time.monotonic() > deadline:
                return Outcome(False, status=503, message=timeout_message(job.timeout))
            triples.append(triple)
        fmt = RDF_MEDIA_TYPES.get(job.media_type or "")
        media_type = job.media_type
        if fmt is None or fmt in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):
            fmt, media_type = ox.RdfFormat.N_TRIPLES, "application/n-triples"
        prefixes = PREFIXES if fmt == ox.RdfFormat.TURTLE else None
        return Outcome(True, "graph", ox.serialize(triples, format=fmt, prefixes=prefixes), media_type, len(triples))
    except SyntaxError as exc:  # pragma: no cover - parse errors are raised before iteration
        return Outcome(False, status=400, message=f"Requête SPARQL invalide : {exc}")
    except (OSError, RuntimeError, ValueError) as exc:
        return Outcome(False, status=500, message=f"Erreur pendant l'évaluation de la requête : {exc}")


# -- the worker process -------------------------------------------------------------------------------

def worker_main(conn) -> None:  # pragma: no cover - runs in the child process
    """Loop of one worker process: receive a :class:`Job`, answer an :class:`Outcome`. The store is
    opened read-only on first use and reopened when a job names another build directory."""
    stores: dict[str, ox.Store] = {}
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            store = stores.get(job.store_path)
            if store is None:
                stores.clear()
                store = stores[job.store_path] = ox.Store.read_only(job.store_path)
            outcome = evaluate(store, job)
        except Exception as exc:  # noqa: BLE001 - report, never die silently
            outcome = Outcome(False, status=500, message=f"Erreur pendant l'évaluation de la requête : {exc}")
        try:
            conn.send(outcome)
        except (OSError, ValueError):
            return


def _child(fd: int) -> None:  # pragma: no cover - runs in the child process
    from multiprocessing.connection import Connection
    worker_main(Connection(fd))


class _Worker:
    """One worker: a fresh ``python -c`` process (not ``multiprocessing``: its spawn mode re-imports the
    parent's ``__main__``, which fails for some servers and for ``python -``), talking pickles over a
    socket pair."""

    def __init__(self):
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        parent, child = socket.socketpair()
        fd = child.fileno()
        code = f"from cqpm_graph.webapp.sandbox import _child; _child({fd})"
        self.process = subprocess.Popen([sys.executable, "-c", code], pass_fds=(fd,), stdin=subprocess.DEVNULL,
                                        close_fds=True)
        child.close()
        self.conn = Connection(parent.detach())
        self.ready = False

    def wait_ready(self, timeout: float) -> bool:
        if not self.ready and self.conn.poll(timeout):
            self.ready = self.conn.recv() == "ready"
        return self.ready

    def kill(self) -> None:
        try:
            self.process.kill()
        except OSError:  # pragma: no cover - already gone
            pass
        self.conn.close()
        # reap in the background: the request must not wait for it
        threading.Thread(target=self.process.wait, args=(5,), daemon=True).start()


class PoolTimeout(Exception):
    """No answer within the time limit (the worker was killed), or no free worker in time."""


class WorkerPool:
    """A fixed number of worker processes evaluating :class:`Job`\\ s, each killed and replaced when it
    runs past its job's timeout.

    :param size: number of processes (started lazily, on first use).
    """

    def __init__(self, size: int = 2):
        self.size = size
        # new interpreters, never fork: forking a threaded server that holds RocksDB handles is unsafe
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False

    def _start(self) -> None:
        with self._lock:
            if not self._started:
                for _ in range(self.size):
                    self._idle.put(_Worker())
                self._started = True

    def run(self, job: Job) -> Outcome:
        """Evaluate *job* in a worker; waits at most ``job.timeout`` seconds in all (queueing included).

        :raises PoolTimeout: past the deadline (the worker is killed and replaced).
        """
        if self._closed:
            raise RuntimeError("the query worker pool is closed")
        self._start()
        deadline = time.monotonic() + job.timeout
        try:
            worker = self._idle.get(timeout=job.timeout)
        except queue.Empty:
            raise PoolTimeout("busy") from None
        try:
            if not worker.wait_ready(max(0.0, deadline - time.monotonic())):
                raise PoolTimeout("worker not ready")
            worker.conn.send(job)
            if not worker.conn.poll(max(0.0, deadline - time.monotonic())):
                raise PoolTimeout("timeout")
            outcome = worker.conn.recv()
        except PoolTimeout:
            worker.kill()
            worker = _Worker()
            raise
        except (EOFError, OSError) as exc:  # the worker died (e.g. out of memory): replace it
            log.warning("query worker died: %s", exc)
            worker.kill()
            worker = _Worker()
            return Outcome(False, status=500, message="Le processus d'évaluation s'est arrêté pendant la requête.")
        finally:
            self._idle.put(worker)
        return outcome

    def close(self) -> None:
        """Stop every worker."""
        self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            worker.kill()
