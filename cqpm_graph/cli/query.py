"""`cqpm-graph query` (placeholder until implemented)."""
import click


@click.command()
def command() -> None:
    """Not implemented yet."""
    raise click.ClickException("'query' is not implemented yet")
