"""`cqpm-graph validate`: check the graph (the live store, or RDF files) against the SHACL shapes."""
from __future__ import annotations

import json
from pathlib import Path

import click

from . import settings_options


class _UsageProblem(click.ClickException):
    """An input problem (no store, unreadable file): exit status 2, like click's usage errors."""

    exit_code = 2


@click.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path), metavar="[FILE]...")
@click.option("--format", "fmt", type=click.Choice(["text", "ttl", "json"]), default="text", show_default=True,
              help="Report format: readable text grouped by resource, the SHACL report graph in Turtle, or JSON.")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True,
              help="Language of the text report's messages.")
@click.option("--engine", type=click.Choice(["auto", "pyshacl", "fast"]), default="auto", show_default=True,
              help="SHACL engine: pyshacl (the reference), fast (shapes compiled to SPARQL run by oxigraph, "
                   "cross-checked against pyshacl; for national-scale graphs), or auto: pyshacl up to 100 "
                   "certifications, fast above.")
@settings_options
def command(files: tuple[Path, ...], fmt: str, lang: str, engine: str, settings) -> None:
    """Validate the graph against the SHACL shapes (shapes/*.ttl).

    With no FILE, validate the live store (--store). With FILEs (.ttl .nt .nq .trig .jsonld .rdf
    .xml .n3), validate them merged into one graph. With --format text the engine used is named on stderr.

    Exit status: 0 when there is no violation (warnings and info are reported but do not fail),
    1 when there is at least one violation, 2 when the store or a file cannot be read.
    The shapes do not depend on --base-uri (nomenclatures are recognised by their scheme IRI's end).
    """
    import pyoxigraph as ox

    from .. import shacl
    from ..store import StoreNotFoundError, open_store
    from ..validation import validate_store

    if files:
        try:
            data = shacl.graph_from_files(files)
        except shacl.RDFFileError as exc:
            raise _UsageProblem(str(exc)) from exc
        # the files in an in-memory store: the same engine choice as for the live store
        store = ox.Store()
        store.bulk_load(data.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES,
                        to_graph=ox.NamedNode("urn:cqpm:files"))
    else:
        try:
            store = open_store(settings)
        except StoreNotFoundError as exc:
            raise _UsageProblem(str(exc)) from exc
        except OSError as exc:  # e.g. a store directory that is not a pyoxigraph database
            raise _UsageProblem(f"cannot open the store in {settings.store}: {exc}") from exc
    report = validate_store(store, engine)
    del store
    if fmt == "text":
        click.echo(f"moteur SHACL : {report.engine}" if lang == "fr" else f"SHACL engine: {report.engine}",
                   err=True)
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    elif fmt == "ttl":
        click.echo(report.to_turtle(), nl=False)
    else:
        click.echo(report.to_text(lang), nl=False)
    if not report.conforms:
        raise SystemExit(1)
