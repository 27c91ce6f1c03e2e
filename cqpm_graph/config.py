"""One configuration object for the CLI, the build and the explorer.

Values come, in order of precedence, from explicit arguments (CLI options, tests), then environment
variables, then defaults:

=====================  ==================  ==============================================
setting                environment         default
=====================  ==================  ==============================================
``store``              ``CQPM_STORE``      per-user data dir (``platformdirs``) ``/store``
``base_uri``           ``CQPM_BASE_URI``   ``https://w3id.org/cqpm/id/``
``endpoint``           ``CQPM_ENDPOINT``   none (use the embedded store)
=====================  ==================  ==============================================

Settings of the explorer and its SPARQL endpoint (see ``docs/deployment.md``):

=======================  ===========================  ==============================================
setting                  environment                  default
=======================  ===========================  ==============================================
``query_timeout``        ``CQPM_QUERY_TIMEOUT``       ``10`` seconds per ``/sparql`` query (and per
                                                      HTTP request to a remote endpoint)
``result_limit``         ``CQPM_RESULT_LIMIT``        ``10000`` rows (or triples) per ``/sparql`` answer
``service_allowlist``    ``CQPM_SERVICE_ALLOWLIST``   empty: ``SERVICE`` refused; else endpoint URL
                                                      prefixes, separated by spaces or commas
``query_workers``        ``CQPM_QUERY_WORKERS``       ``2`` processes evaluating ``/sparql`` queries
                                                      (``0``: in the request thread, soft limits)
``query_memory``         ``CQPM_QUERY_MEMORY``        ``1024`` MiB of memory per worker process
                                                      (``RLIMIT_DATA``; ``0``: no limit; else at
                                                      least ``128``)
``cache_dir``            ``CQPM_CACHE_DIR``           per-user cache dir (``platformdirs``): dumps,
                                                      ontology documentation
``public_url``           ``CQPM_PUBLIC_URL``          none: links in VoID / DCAT use the request's
                                                      host; set it behind a proxy
=======================  ===========================  ==============================================
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

DEFAULT_BASE_URI = "https://w3id.org/cqpm/id/"
DEFAULT_QUERY_TIMEOUT = 10.0
DEFAULT_RESULT_LIMIT = 10_000
DEFAULT_QUERY_WORKERS = 2
DEFAULT_QUERY_MEMORY = 1024  # MiB per query worker process
MIN_QUERY_MEMORY = 128  # a worker holds ~100 MiB before its first query


def default_cache_dir() -> Path:
    """The per-user cache directory, e.g. ``~/.cache/cqpm-graph`` on Linux."""
    return Path(platformdirs.user_cache_dir("cqpm-graph", appauthor=False))


def _split_list(value: str | None) -> tuple[str, ...]:
    return tuple(v for v in re.split(r"[\s,]+", value or "") if v)


def _number(env: dict, key: str, default, kind):
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        return kind(raw)
    except ValueError as exc:
        raise ValueError(f"{key}={raw!r} is not a valid {kind.__name__}") from exc


def default_store_dir() -> Path:
    """The per-user default store directory, e.g. ``~/.local/share/cqpm-graph/store`` on Linux."""
    return Path(platformdirs.user_data_dir("cqpm-graph", appauthor=False)) / "store"


def _check_base(base: str) -> str:
    if not (base.startswith("http://") or base.startswith("https://")):
        raise ValueError(f"base URI {base!r} (CQPM_BASE_URI / --base-uri) must be an http(s) URI")
    if not base.endswith(("/", "#")):
        base += "/"
    return base


@dataclass
class Settings:
    """Resolved settings.

    :ivar store: directory of the embedded pyoxigraph store (the live store is ``store/current``).
    :ivar base_uri: base of every data URI; must be http(s) and end with ``/`` (added if missing).
    :ivar endpoint: URL of a remote SPARQL 1.1 query endpoint, or ``None`` for the embedded store.
    :ivar query_timeout: seconds a ``/sparql`` query may run (also the HTTP timeout to a remote endpoint).
    :ivar result_limit: most rows (SELECT) or triples (CONSTRUCT/DESCRIBE) one ``/sparql`` answer may hold.
    :ivar service_allowlist: endpoint URL prefixes a ``SERVICE`` clause may call; empty refuses them all.
    :ivar query_workers: worker processes evaluating ``/sparql`` queries on the embedded store (killed
        on timeout); ``0`` evaluates in the request thread (soft deadline between solutions only).
    :ivar query_memory: MiB of memory each query worker process may use (``RLIMIT_DATA``: heap and
        private mappings, not the store's mapped files); a query needing more gets a 503. ``0``: no
        limit. Not applied with ``query_workers == 0``.
    :ivar cache_dir: where generated dumps and the ontology documentation are cached.
    :ivar public_url: public root URL of the deployment (``https://host/``) for absolute links in
        VoID / DCAT; ``None`` uses the request's own URL.
    """

    store: Path = field(default_factory=default_store_dir)
    base_uri: str = DEFAULT_BASE_URI
    endpoint: str | None = None
    query_timeout: float = DEFAULT_QUERY_TIMEOUT
    result_limit: int = DEFAULT_RESULT_LIMIT
    service_allowlist: tuple[str, ...] = ()
    query_workers: int = DEFAULT_QUERY_WORKERS
    query_memory: int = DEFAULT_QUERY_MEMORY
    cache_dir: Path = field(default_factory=default_cache_dir)
    public_url: str | None = None

    def __post_init__(self) -> None:
        self.store = Path(self.store).expanduser()
        self.base_uri = _check_base(self.base_uri)
        self.cache_dir = Path(self.cache_dir).expanduser()
        if isinstance(self.service_allowlist, str):
            self.service_allowlist = _split_list(self.service_allowlist)
        self.service_allowlist = tuple(self.service_allowlist)
        if self.query_timeout <= 0:
            raise ValueError("query timeout (CQPM_QUERY_TIMEOUT) must be positive")
        if self.result_limit <= 0:
            raise ValueError("result limit (CQPM_RESULT_LIMIT) must be positive")
        if self.query_workers < 0:
            raise ValueError("query workers (CQPM_QUERY_WORKERS) must be 0 or more")
        if self.query_memory != 0 and not self.query_memory >= MIN_QUERY_MEMORY:
            raise ValueError(f"query memory (CQPM_QUERY_MEMORY) must be 0 (no limit) or at least "
                             f"{MIN_QUERY_MEMORY} MiB (a worker uses ~100 MiB before its first query), "
                             f"not {self.query_memory}")
        if self.public_url and not self.public_url.endswith("/"):
            self.public_url += "/"

    @classmethod
    def from_env(cls, store: str | Path | None = None, base_uri: str | None = None,
                 endpoint: str | None = None, environ: dict[str, str] | None = None) -> "Settings":
        """Build settings from explicit values, falling back on ``CQPM_*`` environment variables.

        :raises ValueError: when the base URI is not an http(s) URI, or a number setting is not a number.
        """
        env = os.environ if environ is None else environ
        return cls(
            store=Path(store or env.get("CQPM_STORE") or default_store_dir()),
            base_uri=base_uri or env.get("CQPM_BASE_URI") or DEFAULT_BASE_URI,
            endpoint=endpoint or env.get("CQPM_ENDPOINT") or None,
            query_timeout=_number(env, "CQPM_QUERY_TIMEOUT", DEFAULT_QUERY_TIMEOUT, float),
            result_limit=_number(env, "CQPM_RESULT_LIMIT", DEFAULT_RESULT_LIMIT, int),
            service_allowlist=_split_list(env.get("CQPM_SERVICE_ALLOWLIST")),
            query_workers=_number(env, "CQPM_QUERY_WORKERS", DEFAULT_QUERY_WORKERS, int),
            query_memory=_number(env, "CQPM_QUERY_MEMORY", DEFAULT_QUERY_MEMORY, int),
            cache_dir=Path(env.get("CQPM_CACHE_DIR") or default_cache_dir()),
            public_url=env.get("CQPM_PUBLIC_URL") or None,
        )
