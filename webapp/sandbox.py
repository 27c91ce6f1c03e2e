"""Evaluating untrusted ``/sparql`` queries on the embedded store with hard time and memory limits and a
result cap.

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

Memory
------
A query can also exhaust memory well within the time limit: ``ORDER BY``, ``GROUP BY`` and ``DISTINCT``
over a cross product (``{ ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }``) materialise every solution, and the join
itself buffers one side. So each worker caps its own data segment with
``setrlimit(RLIMIT_DATA, CQPM_QUERY_MEMORY MiB)`` (:func:`limit_memory`) before it opens the store.
``RLIMIT_DATA`` (Linux ≥ 4.7) counts the heap and private writable mappings — malloc arenas, thread
stacks — but not the store's files that RocksDB maps, nor reserved address space, so opening the store
read-only still works (``RLIMIT_AS`` would count both and break RocksDB). A worker uses ~100 MiB before
its first query (interpreter, pyoxigraph, the store's three RocksDB threads with 8 MiB stacks each), and
~130 MiB at most over every stored query of the five-fiche build + ROME.

Past the limit the worker dies: Rust aborts on a failed allocation (``memory allocation of N bytes
failed``, ``SIGABRT``), RocksDB's C++ throws ``std::bad_alloc``; a Python ``MemoryError`` is caught by
the worker, which answers and then exits. The pool reads the dead worker's exit status and the last
lines of its standard error (which it relays to the log): an allocation failure, or a ``SIGKILL`` the
pool did not send (the kernel's OOM killer), gives ``503`` with :func:`memory_message`; any other death
gives ``500`` naming the signal or exit code. The worker is replaced, the server carries on. Workers run
with ``RUST_BACKTRACE=0`` — a Rust backtrace needs memory to symbolise, and a panic near the limit
otherwise deadlocks on the backtrace lock (seen with pyoxigraph 0.5) — and without core dumps.
There is no memory limit when queries run in the request thread (``CQPM_QUERY_WORKERS=0``).
"""
from __future__ import annotations

import collections
import json
import logging
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field

import pyoxigraph as ox

from cqpm_graph.backend import RDF_MEDIA_TYPES, RESULT_MEDIA_TYPES, has_from
from cqpm_graph.store import term_to_json
from cqpm_graph.uris import PREFIXES

log = logging.getLogger(__name__)

DEADLINE_EVERY = 256  # solutions between two deadline checks (soft mode)
#: Lines a dying worker writes to standard error when an allocation failed (lower case; Rust, C++,
#: Python, ``strerror(ENOMEM)``, and ``pthread_create`` refused a thread stack).
MEMORY_MARKERS = ("memory allocation of", "bad_alloc", "memoryerror", "cannot allocate memory",
                  "out of memory", "resource temporarily unavailable")


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
    retire: bool = False  # the worker exits after this answer (it ran out of memory): replace it


def timeout_message(seconds: float) -> str:
    """The error text for a query stopped at the time limit."""
    return (f"Délai dépassé : la requête a été interrompue après {seconds:g} s (limite du serveur, "
            f"CQPM_QUERY_TIMEOUT). Ajoutez des filtres ou une clause LIMIT.")


def memory_message(mib: int | None) -> str:
    """The error text for a query that needed more memory than a worker may use (*mib*: the
    ``CQPM_QUERY_MEMORY`` limit; ``0`` / ``None`` when the system itself stopped the worker)."""
    if mib:
        stopped = (f"Mémoire dépassée : la requête a été interrompue car elle demandait plus de {mib} Mio "
                   f"(limite du serveur, CQPM_QUERY_MEMORY).")
    else:
        stopped = "Mémoire insuffisante : la requête a été interrompue par le système (mémoire épuisée)."
    return (f"{stopped} Ajoutez des filtres ou une clause LIMIT ; ORDER BY, GROUP BY et DISTINCT gardent "
            f"toutes les solutions en mémoire.")


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

def limit_memory(mib: int) -> None:
    """Cap this process's data segment at *mib* MiB (``RLIMIT_DATA``, soft and hard; ``0``: no cap)
    and turn core dumps off. Called by a worker before it opens the store; never in the server.

    :raises ValueError: / :raises OSError: when the limit cannot be set.
    """
    import resource
    try:  # an aborted worker must not write a core file the size of its memory
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    except (ValueError, OSError):  # pragma: no cover
        pass
    if mib <= 0:
        return
    value = mib * 1024 * 1024
    hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (value, value))


def worker_main(conn, memory: int = 0) -> None:
    """Loop of one worker process: receive a :class:`Job`, answer an :class:`Outcome`. The store is
    opened read-only on first use and reopened when a job names another build directory.

    :param memory: the worker's memory limit in MiB (for the message when a ``MemoryError`` is caught:
        the worker then answers 503 with ``retire`` set and exits, to be replaced with a fresh one).
    """
    stores: dict[str, ox.Store] = {}
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        out_of_memory = False
        try:
            store = stores.get(job.store_path)
            if store is None:
                stores.clear()
                store = stores[job.store_path] = ox.Store.read_only(job.store_path)
            outcome = evaluate(store, job)
        except MemoryError:
            out_of_memory = True  # answered below, once the traceback (and what it holds) is gone
        except Exception as exc:  # noqa: BLE001 - report, never die silently
            outcome = Outcome(False, status=500, message=f"Erreur pendant l'évaluation de la requête : {exc}")
        if out_of_memory:
            outcome = Outcome(False, status=503, message=memory_message(memory), retire=True)
        try:
            conn.send(outcome)
        except (OSError, ValueError):
            return
        if outcome.retire:
            return


def _child(fd: int, memory: int = 0) -> None:  # pragma: no cover - runs in the child process
    try:
        limit_memory(memory)
    except (ImportError, ValueError, OSError) as exc:  # relayed to the server's log by the pool
        import sys
        print(f"warning: cannot limit this worker's memory to {memory} MiB: {exc}", file=sys.stderr, flush=True)
    from multiprocessing.connection import Connection
    worker_main(Connection(fd), memory)


def death_cause(returncode: int | None, stderr: list[str]) -> str | None:
    """Why a worker died mid-query: ``"memory"`` when its last standard-error lines report an allocation
    failure (:data:`MEMORY_MARKERS`) or it was killed by a ``SIGKILL`` it was not sent by the pool (the
    kernel's OOM killer); otherwise a French description of its end (``signal SIGABRT``, ``code de
    sortie 1``), or ``None`` when unknown."""
    text = "\n".join(stderr).lower()
    if any(marker in text for marker in MEMORY_MARKERS):
        return "memory"
    if returncode is None:
        return None
    if returncode < 0:
        if -returncode == signal.SIGKILL:
            return "memory"
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"code de sortie {returncode}"


class _Worker:
    """One worker: a fresh ``python -c`` process (not ``multiprocessing``: its spawn mode re-imports the
    parent's ``__main__``, which fails for some servers and for ``python -``), talking pickles over a
    socket pair."""

    def __init__(self, memory: int = 0):
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        parent, child = socket.socketpair()
        fd = child.fileno()
        code = f"from cqpm_graph.webapp.sandbox import _child; _child({fd}, {int(memory)})"
        # no Rust backtraces: symbolising one needs memory, and near the limit a panic then deadlocks
        env = dict(os.environ, RUST_BACKTRACE="0")
        self.process = subprocess.Popen([sys.executable, "-c", code], pass_fds=(fd,), stdin=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, close_fds=True, env=env)
        child.close()
        self.conn = Connection(parent.detach())
        self.ready = False
        self.stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._reader = threading.Thread(target=self._relay_stderr, daemon=True,
                                        name=f"query-worker-{self.process.pid}-stderr")
        self._reader.start()

    def _relay_stderr(self) -> None:
        """Log what the worker writes to standard error, keeping the last lines (why it died)."""
        with self.process.stderr as stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self.stderr.append(line)
                    log.warning("query worker %d: %s", self.process.pid, line)

    def death_cause(self, timeout: float = 2.0) -> str | None:
        """After the connection broke: wait (at most *timeout* s) for the process to end and its
        standard error to be read, then :func:`death_cause`."""
        import subprocess
        try:
            returncode = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            returncode = None
        self._reader.join(timeout)
        return death_cause(returncode, list(self.stderr))

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
    runs past its job's timeout, and replaced when it dies (past its memory limit).

    :param size: number of processes (started lazily, on first use).
    :param memory: each process's memory limit in MiB (``RLIMIT_DATA``; ``0``: none).
    """

    def __init__(self, size: int = 2, memory: int = 0):
        self.size = size
        self.memory = memory
        # new interpreters, never fork: forking a threaded server that holds RocksDB handles is unsafe
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False

    def _start(self) -> None:
        with self._lock:
            if not self._started:
                for _ in range(self.size):
                    self._idle.put(_Worker(self.memory))
                self._started = True

    def run(self, job: Job) -> Outcome:
        """Evaluate *job* in a worker; waits at most ``job.timeout`` seconds in all (queueing included).

        A worker that dies during the job (out of memory, crash) is replaced; the answer is then a 503
        :func:`memory_message` or a 500 naming how it ended.

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
            if outcome.retire:  # it caught a MemoryError and exits
                log.warning("query worker %d ran out of memory (limit %s MiB); replaced",
                            worker.process.pid, self.memory or "no")
                worker.kill()
                worker = _Worker(self.memory)
        except PoolTimeout:
            worker.kill()
            worker = _Worker(self.memory)
            raise
        except (EOFError, OSError) as exc:  # the worker died (e.g. out of memory): replace it
            cause = worker.death_cause()
            log.warning("query worker %d died during a query (%s: %s); replaced", worker.process.pid,
                        "out of memory" if cause == "memory" else cause or "cause unknown",
                        str(exc) or type(exc).__name__)
            worker.kill()
            worker = _Worker(self.memory)
            if cause == "memory":
                return Outcome(False, status=503, message=memory_message(self.memory))
            detail = f" ({cause})" if cause else ""
            return Outcome(False, status=500,
                           message=f"Le processus d'évaluation s'est arrêté pendant la requête{detail}.")
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
