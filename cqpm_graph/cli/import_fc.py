"""``cqpm-graph import-fc PATH``: load a France Compétences export (CSV zip or XML) into the store, atomically."""
from __future__ import annotations

from pathlib import Path

import click

from ..fc.errors import FCExportError
from ..fc.importer import ImportValidationError, import_export
from ..store import StoreNotFoundError
from . import settings_options


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-validate", is_flag=True, help="Skip the SHACL validation before the swap.")
@click.option("--quiet", "-q", is_flag=True, help="Only print errors.")
@settings_options
def command(path, no_validate, quiet, settings) -> None:
    """Import PATH, a France Compétences open-data export, into the graph.

    PATH is export-fiches-csv-YYYY-MM-DD.zip (ten CSV files) or export-fiches-rncp-v4-x-YYYY-MM-DD
    (.zip or .xml). Each fiche goes to its own named graph graph/france-competences/<number>, which records
    a digest of its content: importing the same export again changes nothing, and a newer export replaces
    only the fiches whose content changed (the others, and their lineage, are kept). The bridges
    (graph/bridges) are recomputed when a fiche changed. The export is kept under <store>/imports/ so that
    `cqpm-graph build` keeps it. Bad input or a SHACL violation leaves the store unchanged and exits with
    status 1.
    """
    def progress(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    try:
        report = import_export(settings, path, validate=not no_validate, progress=progress)
    except FCExportError as exc:
        raise click.ClickException(f"import refusé, graphe inchangé : {exc}") from exc
    except ImportValidationError as exc:
        raise click.ClickException(f"import refusé, graphe inchangé : {exc}") from exc
    except StoreNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    if quiet:
        return
    click.echo(f"{report.export} ({report.kind.upper()}, export du {report.export_date or '?'}) : "
               f"{report.fiches} fiches, {report.quads:,} triplets, {report.replaced} fiches remplacées, "
               f"en {report.seconds:.1f} s.", err=True)
    if report.validation is not None:
        counts = report.validation.counts_by_severity
        click.echo("Validation SHACL : " + ", ".join(f"{v} {k}" for k, v in counts.items() if v)
                   if any(counts.values()) else "Validation SHACL : conforme, aucun résultat.", err=True)
        for r in report.validation.results:
            if r.severity != "Violation":
                click.echo(f"  [{r.severity}] {r.focus_label or r.focus_node} : {r.message_fr}", err=True)
