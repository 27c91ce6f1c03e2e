"""The explorer's lists and search at any scale: the certification list (filters, pagination), the keyword
search, the ROME / NSF indexes and the certifications of a concept.

They read the **explorer index** of the build being served (:mod:`cqpm_graph.explorer_index`: a SQLite file
with FTS5), found, in order:

1. in the live build directory (``<store>/builds/<stamp>/explorer-index.sqlite``), written ahead by
   ``python -m cqpm_graph.explorer_index --store DIR``;
2. in the explorer's cache directory, ``<cache>/<build id>/explorer-index-v<N>.sqlite``, written by an
   earlier run of the explorer for the same build;
3. otherwise the explorer builds it: in memory and at once for a small graph (≤ :data:`SMALL`
   certifications: the seed fiches take ~0.5 s), else into the cache directory in a background thread
   (~65 s at national scale on the project's 2-core machine). Meanwhile the home page and the search
   answer 503 with ``Retry-After`` (:class:`IndexUnavailable`), and the ROME / NSF pages fall back to the
   SPARQL queries of :mod:`.data` (slower, same content).

The index is tied to a build id (:meth:`cqpm_graph.backend.Backend.build_id`): after ``cqpm-graph build`` or
``import-fc`` the explorer switches to the new build's index, never mixing the two.
"""
from __future__ import annotations

import datetime
import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, request, url_for

from cqpm_graph.explorer_index import INDEX_FILE, VERSION, ExplorerIndex, Filters, open_index, write_index

from . import data
from .context import backend, explorer

log = logging.getLogger(__name__)

EXTENSION_KEY = "cqpm_graph.directory"
#: Up to this many certifications the index is built in memory on first use, synchronously.
SMALL = 2000
#: Seconds a client is told to wait while the index is being built.
RETRY_AFTER = 30
#: Seconds before a failed background build is tried again.
RETRY_FAILED = 300

#: Page sizes offered (``par_page``), and the defaults.
PER_PAGE_CHOICES = (10, 20, 50, 100, 200)
LIST_PER_PAGE = 50
SEARCH_PER_PAGE = 20
CONCEPT_PER_PAGE = 50

REGISTRES = {"RNCP": "RNCP", "RS": "Répertoire spécifique (RS)", "CQPM": "CQPM (métallurgie)"}
ETATS = {"active": "active", "inactive": "inactive (échue ou retirée)"}
ORDERS = {"numero": "numéro", "intitule": "intitulé"}


class IndexUnavailable(Exception):
    """The index of the build being served is not ready (being built, or its build failed)."""

    def __init__(self, message: str, building: bool = True):
        self.message = message
        self.building = building
        super().__init__(message)


class BadRequest(ValueError):
    """A parameter of the request is invalid (400); the message is in French."""


# -- the index of the build being served ---------------------------------------------------------------

class IndexManager:
    """Finds, or builds, the explorer index of the build the backend serves (see the module doc)."""

    def __init__(self, backend, cache_dir: Path):
        self.backend = backend
        self.cache_dir = Path(cache_dir)
        self._lock = threading.Lock()
        self._current: tuple[str, ExplorerIndex] | None = None
        self._building: dict[str, threading.Thread] = {}
        self._failed: dict[str, tuple[float, str]] = {}

    def cache_path(self, build_id: str) -> Path:
        """Where the explorer writes the index of *build_id* itself."""
        from .lod import _safe
        return self.cache_dir / _safe(build_id) / f"explorer-index-v{VERSION}.sqlite"

    def _find(self, build_id: str) -> ExplorerIndex | None:
        store_path = getattr(self.backend, "store_path", None)
        if store_path is not None:
            found = open_index(Path(store_path) / INDEX_FILE)
            if found is not None:
                return found
        return open_index(self.cache_path(build_id))

    def get(self) -> ExplorerIndex | None:
        """The index of the build being served, or ``None`` while it is being built (or failed)."""
        build_id = self.backend.build_id()
        current = self._current
        if current is not None and current[0] == build_id:
            return current[1]
        with self._lock:
            current = self._current
            if current is not None and current[0] == build_id:
                return current[1]
            found = self._find(build_id)
            if found is None and build_id not in self._building:
                failed = self._failed.get(build_id)
                if failed is not None and time.monotonic() - failed[0] < RETRY_FAILED:
                    return None
                if self._certifications() <= SMALL:
                    found = ExplorerIndex.in_memory(self.backend)
                else:
                    self._start(build_id)
                    return None
            if found is None:
                return None
            self._current = (build_id, found)
            return found

    def _certifications(self) -> int:
        rows = self.backend.select("SELECT (COUNT(*) AS ?n) WHERE { ?c a <https://w3id.org/cqpm/ontology#Certification> }")
        return int(rows[0]["n"]) if rows and isinstance(rows[0].get("n"), int) else 0

    def _start(self, build_id: str) -> None:
        # the snapshot of this build (a rebuild during the index build must not mix two graphs)
        source = getattr(self.backend, "store", None) if getattr(self.backend, "kind", "") == "embedded" else None
        source = source if source is not None else self.backend
        target = self.cache_path(build_id)

        def run():
            started = time.monotonic()
            try:
                write_index(source, target, progress=lambda m: log.info("%s", m))
                log.info("explorer index of %s built in %.1f s: %s", build_id, time.monotonic() - started, target)
            except Exception as exc:  # noqa: BLE001 - logged; the pages say the index is unavailable
                log.exception("explorer index of %s failed", build_id)
                self._failed[build_id] = (time.monotonic(), str(exc))
            finally:
                self._building.pop(build_id, None)

        thread = threading.Thread(target=run, name=f"explorer-index-{build_id}", daemon=True)
        self._building[build_id] = thread
        log.info("building the explorer index of %s in the background into %s", build_id, target)
        thread.start()

    def wait(self, timeout: float | None = None) -> ExplorerIndex | None:
        """Wait for a background build to end (benchmarks, tools); returns :meth:`get`."""
        ix = self.get()
        deadline = None if timeout is None else time.monotonic() + timeout
        while ix is None and self._building:
            for thread in list(self._building.values()):
                thread.join(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
            ix = self.get()
            if deadline is not None and time.monotonic() >= deadline:
                break
        return ix

    def require(self) -> ExplorerIndex:
        """The index, or :raises IndexUnavailable:."""
        ix = self.get()
        if ix is not None:
            return ix
        failed = self._failed.get(self.backend.build_id())
        if failed is not None:
            raise IndexUnavailable("L'index de l'explorateur n'a pas pu être construit ; il sera retenté dans "
                                   "quelques minutes.", building=False)
        raise IndexUnavailable("L'index de l'explorateur (liste et recherche des certifications) est en cours de "
                               "construction pour le graphe en service : environ une minute pour le registre "
                               "national. Réessayez dans un instant.")


def manager() -> IndexManager:
    """The app's :class:`IndexManager` (created on first use)."""
    app = current_app
    found = app.extensions.get(EXTENSION_KEY)
    if found is None:
        ex = explorer()
        found = app.extensions.setdefault(EXTENSION_KEY, IndexManager(ex.backend, ex.cache.dir))
    return found


def today() -> str:
    """Today's date (ISO): a registration that ended before it is inactive."""
    return datetime.date.today().isoformat()


# -- request parameters --------------------------------------------------------------------------------

def _int_arg(name: str, default: int, label: str) -> int:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequest(f"« {name} » ({label}) doit être un entier positif, pas « {raw[:40]} ».")
    return int(raw)


def page_args(default_per_page: int) -> tuple[int, int]:
    """``(page, per_page)`` from ``?page=`` (from 1) and ``?par_page=`` (one of :data:`PER_PAGE_CHOICES`).

    :raises BadRequest: for a value that is not a positive integer or a page size not offered.
    """
    page = _int_arg("page", 1, "numéro de page")
    per_page = _int_arg("par_page", default_per_page, "résultats par page")
    if per_page not in PER_PAGE_CHOICES and per_page != default_per_page:
        raise BadRequest(f"« par_page » doit valoir {', '.join(map(str, PER_PAGE_CHOICES))}.")
    return page, per_page


_CODE_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def list_args() -> tuple[Filters, str]:
    """The filters (``registre``, ``niveau``, ``type``, ``etat``) and the order (``tri``) of the list.

    :raises BadRequest: for a value outside those offered.
    """
    values = {name: (request.args.get(name) or "").strip() or None for name in ("registre", "niveau", "type", "etat")}
    if values["registre"] and values["registre"] not in REGISTRES:
        raise BadRequest(f"« registre » doit valoir {', '.join(REGISTRES)}.")
    if values["etat"] and values["etat"] not in ETATS:
        raise BadRequest(f"« etat » doit valoir {', '.join(ETATS)}.")
    for name in ("niveau", "type"):
        value = values[name]
        if value and (len(value) > 40 or not set(value) <= _CODE_CHARS):
            raise BadRequest(f"« {name} » : code invalide.")
    order = (request.args.get("tri") or "numero").strip()
    if order not in ORDERS:
        raise BadRequest(f"« tri » doit valoir {', '.join(ORDERS)}.")
    return Filters(**values), order


def pagination(endpoint: str, page: int, per_page: int, total: int, default_per_page: int, **params) -> dict:
    """``{page, per_page, total, pages, first, prev, next, last}``: the links keep *params* (``None``
    values dropped) and give ``par_page`` only when it is not the default."""
    pages = max(1, math.ceil(total / per_page)) if per_page else 1
    params = {k: v for k, v in params.items() if v not in (None, "")}
    if per_page != default_per_page:
        params["par_page"] = per_page

    def link(n: int) -> str:
        return url_for(endpoint, **params, **({"page": n} if n > 1 else {}))

    window: list[dict] = []
    shown = sorted({1, pages} | set(range(max(1, page - 2), min(pages, page + 2) + 1)))
    for k, n in enumerate(shown):
        if k and n - shown[k - 1] > 1:
            window.append({"gap": True})
        window.append({"page": n, "url": link(n), "current": n == page})
    return {"page": page, "per_page": per_page, "total": total, "pages": pages,
            "first": link(1), "prev": link(page - 1) if 1 < page <= pages + 1 else None,
            "next": link(page + 1) if page < pages else None, "last": link(pages), "window": window}


def public(p: dict) -> dict:
    """A :func:`pagination` dict for JSON answers (without the page-number links of the HTML pager)."""
    return {k: v for k, v in p.items() if k != "window"}


def link_header(p: dict) -> str:
    """RFC 8288 ``Link`` header value for a :func:`pagination` dict (absolute URLs)."""
    root = request.host_url.rstrip("/")
    return ", ".join(f'<{root}{p[rel]}>; rel="{rel}"' for rel in ("first", "prev", "next", "last") if p.get(rel))


# -- what the views read -------------------------------------------------------------------------------

@dataclass
class Listing:
    """A page of the certification list."""

    certifications: list[dict]
    statistics: dict
    facets: dict
    filters: Filters
    order: str
    page: int
    per_page: int
    total: int


def certification_list(filters: Filters, order: str, page: int, per_page: int) -> Listing:
    """The certifications of the list page *page* (:raises IndexUnavailable:)."""
    ix = manager().require()
    day = today()
    total, rows = ix.certifications(filters, day, (page - 1) * per_page, per_page, order)
    return Listing(certifications=rows, statistics=ix.statistics(), facets=ix.facets(filters, day),
                   filters=filters, order=order, page=page, per_page=per_page, total=total)


def statistics() -> dict:
    """The home page counts (:raises IndexUnavailable:)."""
    return manager().require().statistics()


def search(q: str, page: int, per_page: int) -> dict:
    """``{q, words, total, results: [{id, uri, title, score, match_count, matches: [{kind, kind_label, code,
    text, segments}]}]}``: the certifications of page *page*, best first (:raises IndexUnavailable:)."""
    words = data.tokens(q)
    if not words:
        return {"q": q, "words": [], "total": 0, "results": []}
    total, hits = manager().require().search(words, (page - 1) * per_page, per_page)
    for hit in hits:
        for m in hit["matches"]:
            m["kind_label"] = data.KIND_LABELS.get(m["kind"], m["kind"])
            m["segments"] = data.highlight(m["text"], words)
    return {"q": q, "words": words, "total": total, "results": hits}


def find_certification(cert_id: str) -> tuple[str, str] | None:
    """``(uri, identifier)`` of a page id, from the index when ready (else SPARQL, see
    :func:`.data.find_certification`)."""
    ix = manager().get()
    if ix is None:
        return data.find_certification(backend(), explorer().uris, cert_id)
    found = ix.find(cert_id)
    if found is None:
        found = ix.find_uri(str(explorer().uris.certification(cert_id)))
    return found


def concept_index(scheme: str) -> dict:
    """The ROME / NSF browse page: :func:`.data.concept_index`, the codes used and their counts from the
    index when it is ready."""
    ix = manager().get()
    if ix is None:
        return data.concept_index(backend(), explorer().uris, scheme)
    return {"scheme": scheme, "used": ix.concept_usage(scheme),
            "top": data.concept_top(backend(), explorer().uris, scheme)}


def concept_page(scheme: str, code: str, page: int, per_page: int) -> dict | None:
    """A ROME / NSF concept (:func:`.data.concept_page`) with page *page* of its certifications and
    ``pagination`` numbers (``total``); ``None`` when unknown."""
    ix = manager().get()
    uris = explorer().uris
    offset = (page - 1) * per_page
    if ix is None:
        concept = data.concept_page(backend(), uris, scheme, code)
        if concept is None:
            return None
        certs = concept["certifications"]
        concept["total"] = len(certs)
        concept["certifications"] = certs[offset:offset + per_page]
        return concept
    uri = str(uris.rome(code) if scheme == "rome" else uris.nsf(code))
    total, certs = ix.concept_certifications(scheme, uri, offset, per_page)
    concept = data.concept_page(backend(), uris, scheme, code, certifications=False)
    if concept is None:
        if not total:
            return None
        concept = data.empty_concept(scheme, uri, code)
    counts = ix.concept_counts(scheme, [n["uri"] for n in concept["narrower"]])
    for n in concept["narrower"]:
        n["certifications"] = counts.get(n["uri"], 0)
    concept["certifications"] = certs
    concept["total"] = total
    return concept
