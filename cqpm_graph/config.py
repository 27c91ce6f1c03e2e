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
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

DEFAULT_BASE_URI = "https://w3id.org/cqpm/id/"


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
    """

    store: Path = field(default_factory=default_store_dir)
    base_uri: str = DEFAULT_BASE_URI
    endpoint: str | None = None

    def __post_init__(self) -> None:
        self.store = Path(self.store).expanduser()
        self.base_uri = _check_base(self.base_uri)

    @classmethod
    def from_env(cls, store: str | Path | None = None, base_uri: str | None = None,
                 endpoint: str | None = None, environ: dict[str, str] | None = None) -> "Settings":
        """Build settings from explicit values, falling back on ``CQPM_*`` environment variables.

        :raises ValueError: when the base URI is not an http(s) URI.
        """
        env = os.environ if environ is None else environ
        return cls(
            store=Path(store or env.get("CQPM_STORE") or default_store_dir()),
            base_uri=base_uri or env.get("CQPM_BASE_URI") or DEFAULT_BASE_URI,
            endpoint=endpoint or env.get("CQPM_ENDPOINT") or None,
        )
