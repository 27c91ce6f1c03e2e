"""Value cleaning shared by the CSV and XML readers: text, dates, booleans, SIRET, competence lists.

Each cleaner raises :class:`~cqpm_graph.fc.errors.FCExportError` through the ``where`` callback the reader
passes, so that the message names the file, line and field.
"""
from __future__ import annotations

import datetime
import html
import re
import unicodedata

NUMBER_RE = re.compile(r"^(RNCP|RS)(\d+)$")
BLOC_CODE_RE = re.compile(r"^((?:RNCP|RS)\d+)BC(\d{1,3})$")
DATE_RE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
LEVEL_RE = re.compile(r"^NIV[1-8]$")
#: Level code of fiches "repris" from the former register, without a level of the national framework.
NO_LEVEL = "REPRISE"

#: Access routes as the export names them: the CSV's ``Si_Jury`` wording (compared after
#: :func:`route_key_text`) and the XML's ``SI_JURY_<code>`` elements → keys of ``model.ACCESS_ROUTES``.
ROUTE_WORDING = {
    "apres un parcours de formation sous statut d'eleve ou d'etudiant": "formation-initiale",
    "en contrat d'apprentissage": "apprentissage",
    "apres un parcours de formation continue": "formation-continue",
    "en contrat de professionnalisation": "contrat-professionnalisation",
    "par candidature individuelle": "candidature-individuelle",
    "par experience": "vae",
    "par experience (vae)": "vae",
}
ROUTE_XML_CODES = {"FI": "formation-initiale", "CA": "apprentissage", "FC": "formation-continue",
                   "CQ": "contrat-professionnalisation", "CL": "candidature-individuelle", "VAE": "vae"}


def clean_text(value: str | None) -> str:
    """Strip the export's noise from a text value: surrounding whitespace and tabs, and the
    SQL-style doubled apostrophes (``d''affaires`` → ``d'affaires``). Inner text is kept as is."""
    if not value:
        return ""
    value = value.strip(" \t\r\n\u00a0")
    if "''" in value:
        value = value.replace("''", "'")
    return value


def strip_code_prefix(code: str, label: str) -> str:
    """``("251", "251 : Mécanique …")`` → ``"Mécanique …"`` (NSF and Formacode labels repeat their code)."""
    prefix = f"{code} :"
    if label.startswith(prefix):
        return label[len(prefix):].strip()
    if label.startswith(f"{code}:"):
        return label[len(code) + 1:].strip()
    return label


def parse_date(value: str, where) -> datetime.date | None:
    """``"31/08/2023"`` → ``date(2023, 8, 31)``; empty → ``None``.

    :param where: ``where(reason)`` raises the reader's :class:`FCExportError` for this field.
    """
    value = clean_text(value)
    if not value:
        return None
    m = DATE_RE.match(value)
    if not m:
        where(f"date {value!r} illisible (attendu JJ/MM/AAAA)")
    try:
        return datetime.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        where(f"date {value!r} impossible")


def parse_bool(value: str, where, true=("Oui", "OUI", "oui"), false=("Non", "NON", "non")) -> bool | None:
    """``Oui`` → ``True``, ``Non`` → ``False``, empty → ``None``; anything else is an error."""
    value = clean_text(value)
    if not value:
        return None
    if value in true:
        return True
    if value in false:
        return False
    where(f"valeur {value!r} inattendue (attendu {true[0]} ou {false[0]})")


def parse_number(value: str, where) -> str:
    """A fiche number ``RNCP509`` / ``RS6117`` (spaces removed, upper-cased); anything else is an error."""
    value = clean_text(value).replace(" ", "").upper()
    if not NUMBER_RE.match(value):
        where(f"numéro de fiche {value!r} malformé (attendu RNCP<n> ou RS<n>)")
    return value


def siret_is_valid(siret: str) -> bool:
    """True when *siret* is 14 digits with a valid check digit.

    The check is Luhn's over the 14 digits, except for La Poste's establishments (SIREN ``356000000``),
    numbered past what Luhn allows: for them the sum of the 14 digits must be a multiple of 5 (the
    head office ``35600000000048`` passes both).
    """
    if len(siret) != 14 or not siret.isdigit():
        return False
    if siret.startswith("356000000"):
        return sum(int(c) for c in siret) % 5 == 0 or _luhn(siret)
    return _luhn(siret)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def parse_siret(value: str, where) -> str | None:
    """A SIRET without the export's leading tab and inner spaces; empty → ``None``.

    :raises FCExportError: (through *where*) when it is not 14 digits or its check digit is wrong.
    """
    value = (value or "").replace("\t", "").replace(" ", "").replace("\u00a0", "").strip()
    if not value:
        return None
    if len(value) != 14 or not value.isdigit():
        where(f"SIRET {value!r} malformé (attendu 14 chiffres)")
    if not siret_is_valid(value):
        where(f"SIRET {value} invalide (clé de contrôle de Luhn fausse)")
    return value


def route_key_text(text: str) -> str:
    """Comparison form of an access-route wording: lower case, no accents, plain apostrophes, single spaces."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(text.split())


# -- LISTE_COMPETENCES -----------------------------------------------------------------------------

_BLOCK_TAG_RE = re.compile(r"<\s*/?\s*(?:p|br|li|ul|ol|div|tr|td|h[1-6])\b[^>]*>", re.I)
_TAG_RE = re.compile(r"<[^<>]*>")
_BULLET_RE = re.compile(r"^(?:[-–—•·▪◦●*o>]\s+|[-–—•·▪◦●*]|\(?\d{1,2}[.)]\s+|[a-z][.)]\s+)")
_CODE_RE = re.compile(r"^C\s?\d{1,2}\s*[-:.)]\s*")
_INLINE_BULLET_RE = re.compile(r"\s+[•▪●◦]\s+")
_INLINE_DASH_RE = re.compile(r"\s+[-–—]\s+(?=[A-ZÀ-Ý])")
_LEADING_DASH_RE = re.compile(r"^[-–—]\s")


def html_to_lines(text: str) -> list[str]:
    """Plain lines of an HTML (or plain) text: block tags become line breaks, other tags are dropped,
    entities decoded (``&eacute;``, ``&nbsp;``), spaces collapsed; empty lines removed."""
    if "&lt;" in text and "<" not in text:
        text = html.unescape(text)  # HTML escaped twice
    text = _BLOCK_TAG_RE.sub("\n", text)
    text = _TAG_RE.sub("", text)
    text = html.unescape(text).replace("\r", "\n").replace("\u00a0", " ")
    return [" ".join(line.split()) for line in text.split("\n") if line.strip()]


def split_competences(text: str | None) -> list[str]:
    """Split a LISTE_COMPETENCES free text into its capacities, in order.

    The text comes as HTML (``<p>``, ``<ul><li>``, ``<br>``) or plain text with bullets (``-``, ``•``,
    ``1.``, ``C1 :``) and line breaks. Each item becomes one capacity; bullets and codes are dropped;
    an introducing line ending with ``:`` ("Le candidat est capable de :") is a heading, not a capacity;
    items written on one line and separated by ``•`` (or `` - `` in a line that starts with ``-``) are
    split. Trailing ``;`` ``,`` ``.`` are removed. The raw text itself is kept by the mapper.
    """
    if not text or not text.strip():
        return []
    items: list[str] = []
    for line in html_to_lines(text):
        parts = _INLINE_BULLET_RE.split(line)
        if len(parts) == 1 and _LEADING_DASH_RE.match(line):
            parts = _INLINE_DASH_RE.split(line)
        for part in parts:
            part = _BULLET_RE.sub("", part.strip(), count=1)
            part = _CODE_RE.sub("", part).strip()
            part = part.rstrip(" ;,.").strip()
            if not part:
                continue
            if part.endswith(":"):
                continue  # a heading introducing the list
            items.append(part)
    return items
