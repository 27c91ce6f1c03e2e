"""SHA-256 digests of files: source documents, France Compétences exports, dumps."""
from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path | str) -> str:
    """Hex SHA-256 (64 characters) of a file's bytes, read by 1 MiB chunks (bounded memory).

    :raises OSError: when the file cannot be read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
