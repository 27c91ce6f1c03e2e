"""The ``cqpm-graph`` command line: one verb per module of this package.

Each verb module defines a ``command`` (a :class:`click.Command`) and uses :func:`settings_options`
so that every verb takes ``--store DIR`` (env ``CQPM_STORE``), ``--base-uri`` (env ``CQPM_BASE_URI``) and
``--endpoint URL`` (env ``CQPM_ENDPOINT``: read a remote SPARQL endpoint instead of the embedded store).
"""
from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path

import click

from .. import __version__
from ..config import Settings

VERBS = ("build", "import-fc", "validate", "query", "bridges", "gap", "export", "serve", "publish")


def settings_options(func):
    """Add ``--store`` and ``--base-uri`` to a verb and pass it a resolved :class:`Settings` as ``settings``."""

    @click.option("--store", "store", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Store directory (env CQPM_STORE; default: per-user data directory).")
    @click.option("--base-uri", "base_uri", default=None, metavar="URI",
                  help="Base of the data URIs (env CQPM_BASE_URI; default https://w3id.org/cqpm/id/).")
    @click.option("--endpoint", "endpoint", default=None, metavar="URL",
                  help="Query this SPARQL 1.1 endpoint instead of the embedded store (env CQPM_ENDPOINT); "
                       "its default graph must be the union of the named graphs.")
    @functools.wraps(func)
    def wrapper(*args, store=None, base_uri=None, endpoint=None, **kwargs):
        try:
            settings = Settings.from_env(store=store, base_uri=base_uri, endpoint=endpoint)
        except ValueError as exc:
            # the message names the variable; only two of them are also options of the verb
            hint = "--endpoint" if "ENDPOINT" in str(exc) else "--base-uri" if "BASE_URI" in str(exc) else None
            raise click.BadParameter(str(exc), param_hint=hint) from exc
        return func(*args, settings=settings, **kwargs)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cqpm-graph")
def cli() -> None:
    """cqpm-graph: the open knowledge graph of French professional certifications.

    Typical use: `cqpm-graph build` then `cqpm-graph serve`.
    """


for _verb in VERBS:
    _module = importlib.import_module(f".{_verb.replace('-', '_')}", __name__)
    cli.add_command(_module.command, name=_verb)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``cqpm-graph``)."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="cqpm-graph")
