"""``cqpm-graph bridges``: the certifications closest to one held, ranked, with their evidence.

Examples::

    cqpm-graph bridges RNCP28229
    cqpm-graph bridges RNCP28229 --top 3 --format json
    cqpm-graph bridges RNCP28229 --blocks BC01,BC03        # only some blocs are held
    cqpm-graph bridges --sssom bridges.sssom.tsv            # export the mappings as an SSSOM set
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..store import StoreNotFoundError, open_store
from . import settings_options


class BridgesCliError(click.ClickException):
    """Bad input (unknown certification or bloc): reported on stderr with exit status 2."""

    exit_code = 2


def split_blocks(value: str | None) -> list[str] | None:
    """``"BC01, RNCP28229BC03"`` → ``["BC01", "RNCP28229BC03"]``; ``None``/empty → ``None``."""
    if not value:
        return None
    items = [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
    return items or None


def open_runner(settings):
    """The query runner the settings ask for: the remote endpoint (``--endpoint`` / ``CQPM_ENDPOINT``) or
    the embedded store.

    :raises click.ClickException: when the store has not been built (exit status 1).
    """
    from ..bridges import EndpointRunner, StoreRunner

    if getattr(settings, "endpoint", None):
        return EndpointRunner(settings.endpoint)
    try:
        return StoreRunner(open_store(settings))
    except StoreNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot open the graph store in {settings.store}: {exc}") from exc


@click.command()
@click.argument("certification", required=False, metavar="CERTIFICATION")
@click.option("--top", "top", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many bridges to list.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Aligned text with the evidence, or JSON {certification, bridges: [{certification, score, evidence}]}.")
@click.option("--blocks", "blocks", default=None, metavar="BC01,BC03",
              help="Blocs of CERTIFICATION actually held (codes, comma-separated); default: all.")
@click.option("--sssom", "sssom_path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default=None,
              help="Write the bloc and capacity mappings of graph/bridges as an SSSOM TSV mapping set "
                   "('-' for standard output) instead of ranking bridges.")
@settings_options
def command(certification, top, fmt, blocks, sssom_path, settings) -> None:
    """Rank the certifications closest to CERTIFICATION (RNCP28229, RS6117 or CQPM-<titre>): shared or
    equivalent blocs, similar capacities, lineage, ROME, NSF and level, each with its evidence.

    Scores are in [0, 1] (weighted signals, see docs/bridges.md); ties are ordered by identifier.
    """
    from ..bridges import Bridges, HeldBlocksError, UnknownCertificationError
    from ..bridges.text import bridges_table

    if sssom_path is not None:
        from ..bridges.sssom import write_sssom
        runner = open_runner(settings)
        if str(sssom_path) == "-":
            write_sssom(runner, sys.stdout, settings.base_uri)
            return
        if not sssom_path.parent.exists():
            raise click.BadParameter(f"folder {sssom_path.parent} does not exist", param_hint="--sssom")
        with open(sssom_path, "w", encoding="utf-8", newline="\n") as out:
            n = write_sssom(runner, out, settings.base_uri)
        click.echo(f"{sssom_path}: {n} correspondances (SSSOM)", err=True)
        return
    if not certification:
        raise click.UsageError("give a CERTIFICATION (e.g. RNCP28229), or --sssom FILE to export the mappings")

    bridges = Bridges(open_runner(settings))
    try:
        result = bridges.bridges(certification, top=top, held_blocks=split_blocks(blocks))
    except UnknownCertificationError as exc:
        raise BridgesCliError(str(exc)) from exc
    except HeldBlocksError as exc:
        raise BridgesCliError(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(bridges_table(result))
