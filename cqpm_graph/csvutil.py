"""Shared helpers of the reference-data loaders (:mod:`cqpm_graph.rome`, :mod:`cqpm_graph.nsf`).

* :func:`read_csv` reads a quoted UTF-8 CSV file row by row, checks its columns and reports every problem as a
  :class:`ReferenceDataError` naming the file and the line;
* :func:`to_rdflib` turns the pyoxigraph triples the loaders produce into an rdflib graph (tests, SHACL).
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef

from .uris import PREFIXES

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


class ReferenceDataError(ValueError):
    """A malformed reference file; ``str()`` reads ``<path>, line <n>: <what>``.

    :ivar path: the file; :ivar line: 1-based physical line of the record (``None`` for the whole file).
    """

    def __init__(self, path: Path | str, line: int | None, what: str):
        self.path, self.line, self.what = Path(path), line, what
        where = f"{self.path}, line {line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {what}")


def read_csv(path: Path | str, columns: Sequence[str], *, delimiter: str = ",",
             undouble_apostrophes: bool = False, join_extra: bool = False) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, row)`` for each record of a CSV file with a header line.

    *row* maps each of *columns* (other columns are ignored) to its value, stripped of surrounding
    whitespace; *line* is the 1-based line where the record starts. The file is read as UTF-8 (a BOM is
    tolerated); quoted fields follow the usual CSV rules (``""`` inside quotes is one ``"``).

    :param undouble_apostrophes: turn ``''`` into ``'`` — only for files whose export doubled apostrophes
        (ROME ``metiers_definition.csv``); elsewhere ``''`` is kept as is.
    :param join_extra: for unquoted files whose last column may contain the delimiter (NSF
        ``nsf-specialites.csv``, label 227 "… hydraulique ; utilités : …"): surplus fields are joined back,
        with the delimiter, into the last column instead of being an error.
    :raises ReferenceDataError: (a ``ValueError``) naming the file and line when the file is missing or
        empty, a column is missing from the header, or a record has a different number of fields.
    """
    path = Path(path)
    try:
        fh = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ReferenceDataError(path, None, f"cannot read the file ({exc.strerror})") from exc
    with fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise ReferenceDataError(path, 1, "empty file, expected a header line") from None
        except csv.Error as exc:
            raise ReferenceDataError(path, reader.line_num, f"unreadable CSV ({exc})") from None
        header = [h.strip() for h in header]
        missing = [c for c in columns if c not in header]
        if missing:
            raise ReferenceDataError(path, 1, f"missing column(s) {', '.join(missing)} in header {header}")
        index = [(c, header.index(c)) for c in columns]
        start = reader.line_num + 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ReferenceDataError(path, start, f"unreadable CSV ({exc})") from None
            line, start = start, reader.line_num + 1
            if not fields or fields == [""]:  # blank line
                continue
            if join_extra and len(fields) > len(header):
                fields = fields[:len(header) - 1] + [delimiter.join(fields[len(header) - 1:])]
            if len(fields) != len(header):
                raise ReferenceDataError(path, line, f"{len(fields)} field(s), expected {len(header)} "
                                                     f"({delimiter.join(header)})")
            row = {c: fields[i].strip() for c, i in index}
            if undouble_apostrophes:
                row = {c: v.replace("''", "'") for c, v in row.items()}
            yield line, row


def _term(term: ox.NamedNode | ox.Literal | ox.BlankNode):
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        dt = term.datatype.value
        # rdflib tells "x" from "x"^^xsd:string; the loaders mean the plain form.
        return Literal(term.value) if dt == XSD_STRING else Literal(term.value, datatype=URIRef(dt))
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    raise TypeError(f"unsupported term {term!r}")


def to_rdflib(triples: Iterable[ox.Triple], graph: Graph | None = None) -> Graph:
    """Add pyoxigraph *triples* to *graph* (a new rdflib ``Graph`` with the project prefixes when ``None``).

    ``xsd:string`` literals become plain rdflib literals. Returns the graph.
    """
    if graph is None:
        graph = Graph()
        for prefix, ns in PREFIXES.items():
            graph.bind(prefix, ns)
    add = graph.add
    for t in triples:
        add((_term(t.subject), _term(t.predicate), _term(t.object)))
    return graph
