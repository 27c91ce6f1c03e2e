"""`cqpm-graph query`: run a named SPARQL query of the catalogue (``queries/*.rq``) or any ``.rq`` file.

Examples::

    cqpm-graph query --list
    cqpm-graph query certifications
    cqpm-graph query certifications-by-rome --param rome=H25 --format csv
    cqpm-graph query ./my-query.rq --format json
    cqpm-graph query certification-blocs --param certification=RNCP28229 --sparql   # text for an endpoint
"""
from __future__ import annotations

import click

from .. import queries as q
from ..store import StoreNotFoundError, open_store
from . import settings_options


class QueryCliError(click.ClickException):
    """An error reported on stderr with exit status 2 (bad input rather than a failure)."""

    exit_code = 2


def _parse_params(values: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not of the form name=value (e.g. rome=H2503)", param_hint="--param")
        if key in params:
            raise click.BadParameter(f"parameter {key!r} given twice", param_hint="--param")
        params[key] = value
    return params


def _format_catalogue(catalogue: dict[str, q.StoredQuery]) -> str:
    lines = []
    for name, stored in catalogue.items():
        lines.append(f"{name}\n    {stored.title}")
        for p in stored.params:
            flags = p.kind + ("" if p.required else ", optional")
            lines.append(f"    --param {p.name}=…  ({flags}) {p.description}".rstrip())
    return "\n".join(lines)


@click.command()
@click.argument("name", required=False, metavar="NAME|FILE")
@click.option("--param", "-p", "param_values", multiple=True, metavar="NAME=VALUE",
              help="Query parameter (repeatable), e.g. --param rome=H2503.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="Output: aligned table, SPARQL 1.1 JSON results or SPARQL CSV results.")
@click.option("--max-width", type=int, default=60, show_default=True,
              help="Table format: cut longer cells with … (0: never).")
@click.option("--list", "list_only", is_flag=True, help="List the named queries with their titles and parameters.")
@click.option("--sparql", "show_sparql", is_flag=True,
              help="Print the query text with the parameter values inlined (VALUES) instead of running it.")
@settings_options
def command(name, param_values, fmt, max_width, list_only, show_sparql, settings) -> None:
    """Run the named query NAME (see --list) or the SPARQL query in FILE on the built store
    (or on the SPARQL endpoint given by --endpoint / CQPM_ENDPOINT)."""
    try:
        catalogue = q.load_catalogue()
    except q.QueryHeaderError as exc:
        raise QueryCliError(str(exc)) from exc
    if list_only:
        click.echo(_format_catalogue(catalogue))
        return
    if not name:
        raise click.UsageError("give a query NAME or FILE, or --list to see the named queries")
    try:
        stored = q.resolve(name, catalogue)
    except q.UnknownQueryError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME|FILE") from exc
    except q.QueryHeaderError as exc:
        raise QueryCliError(str(exc)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise QueryCliError(f"cannot read {name}: {exc}") from exc

    params = _parse_params(param_values)
    try:
        stored.bind(params)
        text = stored.render(params) if show_sparql else None
    except q.QueryParameterError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--param {exc.param}") from exc
    except ValueError as exc:
        raise QueryCliError(str(exc)) from exc
    if show_sparql:
        click.echo(text, nl=not text.endswith("\n"))
        return

    if settings.endpoint:  # a remote SPARQL endpoint (--endpoint / CQPM_ENDPOINT), see cqpm_graph.backend
        from ..backend import BackendError, backend_for
        try:
            result = q.run_on(backend_for(settings), stored, params)
        except SyntaxError as exc:
            raise QueryCliError(f"SPARQL syntax error in {stored.path or stored.name}: {exc}") from exc
        except (BackendError, ValueError) as exc:
            raise QueryCliError(str(exc)) from exc
    else:
        try:
            store = open_store(settings)
        except StoreNotFoundError as exc:
            raise QueryCliError(str(exc)) from exc
        except OSError as exc:
            raise QueryCliError(f"cannot open the graph store in {settings.store}: {exc}") from exc
        try:
            result = q.run(store, stored, params)
        except SyntaxError as exc:
            raise QueryCliError(f"SPARQL syntax error in {stored.path or stored.name}: {exc}") from exc

    if fmt == "json":
        click.echo(result.to_json())
    elif fmt == "csv":
        click.echo(result.to_csv(), nl=False)
    else:
        click.echo(result.to_table(max_width=max_width or None))
        if result.kind != "ask":
            click.echo(f"({len(result.rows)} ligne{'s' if len(result.rows) != 1 else ''})", err=True)
