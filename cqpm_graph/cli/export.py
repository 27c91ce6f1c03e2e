"""`cqpm-graph export` (placeholder until implemented)."""
import click


@click.command()
def command() -> None:
    """Not implemented yet."""
    raise click.ClickException("'export' is not implemented yet")
