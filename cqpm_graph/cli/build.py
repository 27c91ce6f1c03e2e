"""``cqpm-graph build``: parse the fiches and reference data, load, validate, swap in atomically."""
from __future__ import annotations

from pathlib import Path

import click

from ..build import BuildError, build
from ..fc.errors import FCExportError
from ..model import FicheParseError
from . import settings_options


@click.command()
@click.option("--fiches", "fiches_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="Folder of fiches (*.txt). Default: the shipped data/fiches.")
@click.option("--reference", "reference_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="Folder with rome-v347/ and nsf/. Default: the shipped data/reference.")
@click.option("--no-validate", is_flag=True, help="Skip the SHACL validation before the swap.")
@click.option("--quiet", "-q", is_flag=True, help="Only print errors.")
@settings_options
def command(fiches_dir, reference_dir, no_validate, quiet, settings) -> None:
    """Build the graph into the store: parse → map → load → validate → swap.

    A failed build (unreadable fiche, SHACL violation) leaves the previous store untouched.
    """
    def progress(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    try:
        report = build(settings, fiches_dir=fiches_dir, reference_dir=reference_dir,
                       validate=not no_validate, progress=progress)
    except (FicheParseError, BuildError, FCExportError) as exc:
        raise click.ClickException(f"build failed, store unchanged: {exc}") from exc
    if quiet:
        return
    counts = ", ".join(f"{v} {k}" for k, v in report.counts.items())
    click.echo(f"Graphe construit dans {settings.store} en {report.seconds:.1f} s : {counts}; "
               f"{sum(report.graphs.values()):,} triplets dans {len(report.graphs)} graphes nommés.", err=True)
    if report.warnings:
        click.echo(f"{len(report.warnings)} avertissement(s) de lecture :", err=True)
        for name, w in report.warnings:
            click.echo(f"  {name}: [{w.code}] {w.message}", err=True)
    if report.validation is not None:
        counts = report.validation.counts_by_severity
        click.echo("Validation SHACL : " + ", ".join(f"{v} {k}" for k, v in counts.items() if v) if any(
            counts.values()) else "Validation SHACL : conforme, aucun résultat.", err=True)
