"""`cqpm-graph build` (placeholder until implemented)."""
import click


@click.command()
def command() -> None:
    """Not implemented yet."""
    raise click.ClickException("'build' is not implemented yet")
