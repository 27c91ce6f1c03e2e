"""WSGI entry point for servers other than ``cqpm-graph serve`` (gunicorn, uWSGI…)::

    gunicorn --workers 4 --threads 4 --bind 127.0.0.1:8000 'cqpm_graph.webapp.wsgi:app'

Everything is configured by the environment (``CQPM_ENDPOINT``, ``CQPM_STORE``, ``CQPM_BASE_URI``,
``CQPM_QUERY_TIMEOUT``, ``CQPM_RESULT_LIMIT``, ``CQPM_SERVICE_ALLOWLIST``, ``CQPM_QUERY_WORKERS``,
``CQPM_QUERY_MEMORY``, ``CQPM_CACHE_DIR``, ``CQPM_PUBLIC_URL``); see ``docs/deployment.md``. Set ``CQPM_TRUST_PROXY=1`` when a
reverse proxy sets ``X-Forwarded-Proto`` / ``X-Forwarded-Host``.
"""
from __future__ import annotations

import os

from . import create_app

app = create_app()
if os.environ.get("CQPM_TRUST_PROXY"):
    from werkzeug.middleware.proxy_fix import ProxyFix
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)
