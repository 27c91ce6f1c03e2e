"""`cqpm-graph validate` (placeholder until implemented)."""
import click


@click.command()
def command() -> None:
    """Not implemented yet."""
    raise click.ClickException("'validate' is not implemented yet")
