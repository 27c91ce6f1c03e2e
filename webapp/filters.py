"""Jinja filters and globals: French dates and numbers, links from data URIs to explorer pages."""
from __future__ import annotations

import datetime

from flask import Flask, url_for

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre")


def date_fr(value) -> str:
    """``"2017-04-21"`` or a :class:`datetime.date` → ``"21 avril 2017"``; other values unchanged."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, datetime.date):
        day = "1er" if value.day == 1 else str(value.day)
        return f"{day} {MONTHS[value.month - 1]} {value.year}"
    return str(value)


def number_fr(value) -> str:
    """``12345`` → ``"12 345"`` (narrow no-break space as thousands separator)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    text = f"{value:,}".replace(",", "\u202f").replace(".", ",")
    return text


def page_for_uri(uri: str | None) -> str | None:
    """The explorer page of a data URI (certification, bloc → its certification, ROME, NSF, any other kind →
    its resource page), or ``None`` for an IRI outside the data base."""
    if not uri:
        return None
    from .context import uris
    parsed = uris().parse(uri)
    if parsed is None:
        return None
    kind, local = parsed
    if kind == "certification":
        return url_for("certification.show", cert_id=local)
    if kind == "bloc":
        cert, _, _ = local.partition("BC")
        if cert:
            return url_for("certification.show", cert_id=cert) + f"#bloc-{local}"
    if kind == "rome" and "/" not in local:
        return url_for("nomenclature.rome", code=local)
    if kind == "nsf" and "/" not in local:
        return url_for("nomenclature.nsf", code=local)
    return url_for("lod.resource", kind=kind, local=local)


def register(app: Flask) -> None:
    """Install the filters and globals on *app*."""
    app.add_template_filter(date_fr, "date_fr")
    app.add_template_filter(number_fr, "number_fr")
    app.add_template_global(page_for_uri, "page_for_uri")
