"""``cqpm-graph gap``: bloc by bloc, what a holder of one certification still has to acquire of another.

Examples::

    cqpm-graph gap --from RNCP28229 --to RNCP19453
    cqpm-graph gap --from RNCP28229 --to RNCP19453 --blocks BC01 --format json
"""
from __future__ import annotations

import json

import click

from . import settings_options
from .bridges import BridgesCliError, open_runner, split_blocks


@click.command()
@click.option("--from", "source", required=True, metavar="CERTIFICATION",
              help="The certification held (RNCP28229, RS6117 or CQPM-<titre>).")
@click.option("--to", "target", required=True, metavar="CERTIFICATION", help="The certification aimed at.")
@click.option("--blocks", "blocks", default=None, metavar="BC01,BC03",
              help="Blocs of the certification held actually acquired (codes, comma-separated); default: all.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Aligned text, or JSON {from, to, blocks: [{block, status, capacities, evidence}]}.")
@settings_options
def command(source, target, blocks, fmt, settings) -> None:
    """Gap analysis: every bloc of the target with status covered, partial or missing, its capacities
    and the evidence (equivalent bloc held, similar capacities held).

    A target without blocs (RS fiche, CQPM référentiel) is shown as one pseudo-bloc named by its
    identifier, with a status per capacity.
    """
    from ..bridges import Bridges, HeldBlocksError, UnknownCertificationError
    from ..bridges.text import gap_table

    bridges = Bridges(open_runner(settings))
    try:
        report = bridges.gap(source, target, held_blocks=split_blocks(blocks))
    except (UnknownCertificationError, HeldBlocksError) as exc:
        raise BridgesCliError(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(gap_table(report))
