"""``cqpm-graph serve``: the web explorer and SPARQL endpoint, served by waitress.

The graph is read from the embedded store (``--store`` / ``CQPM_STORE``, opened read-only; a later
``cqpm-graph build`` is picked up at the next request) or from a remote SPARQL endpoint
(``--endpoint`` / ``CQPM_ENDPOINT``; see ``docs/deployment.md``). Limits of ``/sparql`` come from
``CQPM_QUERY_TIMEOUT``, ``CQPM_RESULT_LIMIT``, ``CQPM_SERVICE_ALLOWLIST``, ``CQPM_QUERY_WORKERS`` and
``CQPM_QUERY_MEMORY`` (MiB per query worker process).
For a WSGI server of your own (gunicorn…), use ``cqpm_graph.webapp.wsgi:app``.
"""
from __future__ import annotations

import click

from . import settings_options


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 to accept connections from other machines).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0 picks a free one).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Worker threads answering requests.")
@click.option("--trusted-proxy", default=None, metavar="ADDR",
              help="Address of a reverse proxy (nginx…) whose X-Forwarded-* headers are trusted "
                   "(absolute links then use the public host and scheme).")
@settings_options
def command(settings, host: str, port: int, threads: int, trusted_proxy: str | None) -> None:
    """Serve the explorer (pages, search, linked data, SPARQL endpoint) with waitress.

    Pages: / (certifications, search), /certification/<id>, /rome/<code>, /nsf/<code>, any data URI as
    /id/<kind>/<local> (303) or /<kind>/<local>, /sparql (catalogue, free query, SPARQL 1.1 Protocol),
    /.well-known/void, /catalog, /dumps/, /ontology.
    """
    from waitress.server import create_server

    from cqpm_graph.store import StoreNotFoundError
    from cqpm_graph.webapp import create_app

    try:
        app = create_app(settings)
    except StoreNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--endpoint") from exc
    explorer = app.extensions["cqpm_graph"]
    options = {}
    if trusted_proxy:
        options = {"trusted_proxy": trusted_proxy, "trusted_proxy_headers": "x-forwarded-for x-forwarded-host "
                   "x-forwarded-proto x-forwarded-port", "clear_untrusted_proxy_headers": True}
    server = create_server(app, host=host, port=port, threads=threads, ident="cqpm-graph", **options)
    shown = "localhost" if host in ("127.0.0.1", "::1", "localhost") else host
    if ":" in shown:
        shown = f"[{shown}]"
    url = f"http://{shown}:{server.effective_port}/"
    click.echo(f"cqpm-graph explorer: {url}")
    memory = (f", {settings.query_memory} MiB per query" if settings.query_memory and settings.query_workers
              and explorer.backend.kind != "remote" else "")
    click.echo(f"  SPARQL endpoint: {url}sparql  (limits: {settings.query_timeout:g} s, "
               f"{settings.result_limit} rows{memory}; SERVICE {'to ' + ', '.join(settings.service_allowlist) if settings.service_allowlist else 'refused'})")
    if explorer.backend.kind == "remote":
        click.echo(f"  graph: {explorer.backend.description}")
        try:
            if not explorer.backend.check_union():
                click.echo("  warning: that endpoint's default graph does not read its named graphs; start it "
                           "with the union default graph (oxigraph serve --union-default-graph).", err=True)
        except Exception as exc:  # noqa: BLE001 - the explorer still starts; pages will report the error
            click.echo(f"  warning: cannot query the endpoint yet: {exc}", err=True)
    else:
        click.echo(f"  store: {settings.store} (read-only)")
    click.echo(f"  data URIs: {settings.base_uri}")
    click.echo("  Ctrl+C to stop.")
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("stopped.")
    finally:
        server.close()
        explorer.queries.close()
