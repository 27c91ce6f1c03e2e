"""The one error an export reader raises: :class:`FCExportError`."""
from __future__ import annotations


class FCExportError(ValueError):
    """A France Compétences export that cannot be imported.

    The message names the file (the archive member for a zip), the 1-based line and the field
    (column or element) concerned, so that the person running the import can open the file there.

    :ivar file: the file or archive member (``export_fiches_CSV_Standard_2024_02_22.csv``), or the
        archive itself for a truncated/corrupt zip.
    :ivar line: 1-based line of the record (its first line when it spans several), ``None`` when the
        problem is the file as a whole (missing, unreadable).
    :ivar field: the column (``Date_Decision``) or element (``FICHE/DATE_DECISION``), or ``None``.
    :ivar reason: what is wrong, in plain words.
    """

    def __init__(self, file: str, line: int | None, field: str | None, reason: str):
        self.file = file
        self.line = line
        self.field = field
        self.reason = reason
        where = file
        if line is not None:
            where += f", ligne {line}"
        if field:
            where += f", champ {field}"
        super().__init__(f"{where}: {reason}")
