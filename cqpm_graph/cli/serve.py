"""`cqpm-graph serve` (placeholder until implemented)."""
import click


@click.command()
def command() -> None:
    """Not implemented yet."""
    raise click.ClickException("'serve' is not implemented yet")
