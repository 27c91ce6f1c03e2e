"""``cqpm-graph export``: write a dump of the live store."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..export import FORMATS, dump, export_to_file
from ..store import StoreNotFoundError, open_store
from . import settings_options


@click.command()
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="trig", show_default=True,
              help="ttl and nt hold the union of all graphs; nq, trig and jsonld keep the named graphs (provenance).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write ('-' for standard output). Written atomically.")
@click.option("--graph", "graph", default=None, metavar="IRI", help="Export only this named graph.")
@settings_options
def command(fmt: str, output: Path, graph: str | None, settings) -> None:
    """Export the graph: `cqpm-graph export --format ttl --output cqpm.ttl`."""
    try:
        store = open_store(settings)
    except StoreNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        if str(output) == "-":
            dump(store, fmt, sys.stdout.buffer, graph)
            return
        if not output.parent.exists():
            raise click.BadParameter(f"folder {output.parent} does not exist", param_hint="--output")
        size = export_to_file(store, fmt, output, graph)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--graph" if graph else "--format") from exc
    click.echo(f"{output}: {size:,} octets ({fmt})", err=True)
