"""``cqpm-graph serve``: the web explorer and SPARQL endpoint, served by waitress.

The store (``--store`` / ``CQPM_STORE``) is opened read-only once, by the application factory
:func:`cqpm_graph.webapp.create_app`; a later ``cqpm-graph build`` is picked up at the next request.
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
@settings_options
def command(settings, host: str, port: int, threads: int) -> None:
    """Serve the explorer (pages, search, SPARQL endpoint) with waitress.

    Pages: / (certifications, search), /certification/<id>, /rome/<code>, /nsf/<code>,
    /sparql (catalogue, free query, SPARQL 1.1 Protocol endpoint).
    """
    from waitress.server import create_server

    from cqpm_graph.store import StoreNotFoundError
    from cqpm_graph.webapp import create_app

    try:
        app = create_app(settings)
    except StoreNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    server = create_server(app, host=host, port=port, threads=threads, ident="cqpm-graph")
    shown = "localhost" if host in ("127.0.0.1", "::1", "localhost") else host
    if ":" in shown:
        shown = f"[{shown}]"
    url = f"http://{shown}:{server.effective_port}/"
    click.echo(f"cqpm-graph explorer: {url}")
    click.echo(f"  SPARQL endpoint: {url}sparql")
    click.echo(f"  store: {settings.store} (read-only)")
    click.echo("  Ctrl+C to stop.")
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("stopped.")
    finally:
        server.close()
