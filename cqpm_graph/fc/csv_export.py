"""Read the CSV export of France Compétences: ``export-fiches-csv-YYYY-MM-DD.zip``.

The archive holds ten files named ``export_fiches_CSV_<Kind>_YYYY_MM_DD.csv`` (UTF-8, ``;``-separated,
every field quoted, CRLF line ends): one row per fiche in ``Standard``, and rows keyed by ``Numero_Fiche``
in the nine others. :func:`read_csv_export` checks the archive and every header, loads the nine side
files (small: a few rows per fiche), then streams ``Standard`` and yields one
:class:`~cqpm_graph.fc.model.FCFiche` per row.

Quirks of the real export handled here: SIRET values starting with a tab, apostrophes doubled inside
labels (``d''affaires``), dates as DD/MM/YYYY, level ``REPRISE`` (no level), member names stored as UTF-8
without the zip UTF-8 flag, quoted fields spanning several lines.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from .clean import (BLOC_CODE_RE, LEVEL_RE, NO_LEVEL, ROUTE_WORDING, clean_text, parse_bool, parse_date,
                    parse_number, parse_siret, route_key_text, strip_code_prefix)
from .errors import FCExportError
from .model import FCAccess, FCBloc, FCFiche, FCOrganisation

#: The ten files of the export and their exact header, in the official order.
CSV_FILES: dict[str, tuple[str, ...]] = {
    "Standard": ("Id_Fiche", "Numero_Fiche", "Intitule", "Abrege_Libelle", "Abrege_Intitule",
                 "Nomenclature_Europe_Niveau", "Nomenclature_Europe_Intitule", "Accessible_Nouvelle_Caledonie",
                 "Accessible_Polynesie_Francaise", "Date_dernier_jo", "Date_Decision", "Date_Fin_Enregistrement",
                 "Date_Effet", "Type_Enregistrement", "Validation_Partielle", "Actif"),
    "Blocs_De_Compétences": ("Numero_Fiche", "Bloc_Competences_Code", "Bloc_Competences_Libelle"),
    "Rome": ("Numero_Fiche", "Codes_Rome_Code", "Codes_Rome_Libelle"),
    "Nsf": ("Numero_Fiche", "Nsf_Code", "Nsf_Intitule"),
    "Formacode": ("Numero_Fiche", "Formacode_Code", "Formacode_Libelle"),
    "Certificateurs": ("Numero_Fiche", "Siret_Certificateur", "Nom_Certificateur"),
    "Partenaires": ("Numero_Fiche", "Nom_Partenaire", "Siret_Partenaire", "Habilitation_Partenaire"),
    "CCN": ("Numero_Fiche", "Ccn_1_Numero", "Ccn_1_Libelle", "Ccn_2_Numero", "Ccn_2_Libelle",
            "Ccn_3_Numero", "Ccn_3_Libelle"),
    "VoixdAccès": ("Numero_Fiche", "Si_Jury"),
    "Ancienne_Nouvelle_Certification": ("Numero_Fiche", "Ancienne_Certification", "Nouvelle_Certification"),
}

MEMBER_RE = re.compile(r"^(?:.*/)?export_fiches_CSV_(?P<kind>.+)_(?P<y>\d{4})_(?P<m>\d{2})_(?P<d>\d{2})\.csv$")
ROME_CODE_RE = re.compile(r"^[A-N]\d{4}$")
NSF_CODE_RE = re.compile(r"^\d{3}[a-z]?$")
FORMACODE_RE = re.compile(r"^\d{5}$")
IDCC_RE = re.compile(r"^\d{1,4}$")


def member_name(info: zipfile.ZipInfo) -> str:
    """The real name of a zip member: the export stores UTF-8 names without the UTF-8 flag, which
    :mod:`zipfile` then decodes as CP437 (``Compétences`` read as ``Comp├⌐tences``)."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return unicodedata.normalize("NFC", name)


def _kind_of(name: str) -> str | None:
    m = MEMBER_RE.match(name)
    if not m:
        return None
    kind = unicodedata.normalize("NFC", m.group("kind"))
    return kind if kind in CSV_FILES else None


def export_members(zf: zipfile.ZipFile, archive: str) -> dict[str, zipfile.ZipInfo]:
    """Map each of the ten kinds to its member; :raises FCExportError: naming a missing file."""
    found: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        kind = _kind_of(member_name(info))
        if kind:
            if kind in found:
                raise FCExportError(archive, None, None, f"deux fichiers {kind} dans l'archive")
            found[kind] = info
    missing = [k for k in CSV_FILES if k not in found]
    if missing:
        raise FCExportError(archive, None, None,
                            "fichier(s) manquant(s) dans l'archive : "
                            + ", ".join(f"export_fiches_CSV_{k}_AAAA_MM_JJ.csv" for k in missing))
    return found


class _Rows:
    """Stream the rows of one member as ``(line, dict)``, checking header and row widths."""

    def __init__(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, kind: str):
        self.zf, self.info, self.kind = zf, info, kind
        self.name = member_name(info).rsplit("/", 1)[-1]

    def error(self, line, field, reason):
        raise FCExportError(self.name, line, field, reason)

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        expected = CSV_FILES[self.kind]
        try:
            with self.zf.open(self.info) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                reader = csv.reader(text, delimiter=";", quotechar='"', strict=True)
                try:
                    header = next(reader)
                except StopIteration:
                    self.error(1, None, "fichier vide (en-tête absent)")
                header = [h.strip() for h in header]
                if tuple(header) != expected:
                    extra = [h for h in header if h not in expected]
                    missing = [h for h in expected if h not in header]
                    if extra:
                        self.error(1, extra[0], f"colonne inattendue {extra[0]!r} (attendu : {';'.join(expected)})")
                    if missing:
                        self.error(1, missing[0], f"colonne manquante {missing[0]!r}")
                    self.error(1, None, f"colonnes dans un ordre inattendu (attendu : {';'.join(expected)})")
                start = reader.line_num + 1
                for row in reader:
                    line = start
                    start = reader.line_num + 1
                    if not row or row == [""]:
                        continue
                    if len(row) != len(expected):
                        self.error(line, None, f"{len(row)} champs au lieu de {len(expected)}")
                    yield line, dict(zip(expected, row))
        except UnicodeDecodeError as exc:
            self.error(None, None, f"encodage illisible (UTF-8 attendu) : {exc.reason}")
        except csv.Error as exc:
            self.error(start if "start" in locals() else None, None, f"CSV mal formé : {exc}")
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise FCExportError(self.name, None, None, f"archive tronquée ou corrompue : {exc}") from exc


def export_date_from_name(name: str) -> str | None:
    """``export-fiches-csv-2024-02-22.zip`` → ``"2024-02-22"`` (also for the XML export names)."""
    m = re.search(r"(\d{4})[-_](\d{2})[-_](\d{2})", name)
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else None


def read_csv_export(path: Path | str) -> Iterator[FCFiche]:
    """Yield every fiche of a CSV export archive, in the order of its ``Standard`` file.

    :param path: the ``export-fiches-csv-YYYY-MM-DD.zip`` archive.
    :raises FCExportError: truncated or corrupt archive, missing file, unexpected or missing column,
        wrong number of fields, malformed number / date / SIRET / level / boolean, unknown access route,
        a fiche listed twice in ``Standard`` — always naming the file, line and field.
    """
    path = Path(path)
    archive = path.name
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FCExportError(archive, None, None, f"archive illisible, tronquée ou corrompue : {exc}") from exc
    with zf:
        members = export_members(zf, archive)
        side = {kind: _read_side(_Rows(zf, members[kind], kind)) for kind in CSV_FILES if kind != "Standard"}
        seen: dict[str, int] = {}
        std = _Rows(zf, members["Standard"], "Standard")
        for line, row in std:
            fiche = _standard(std, line, row)
            if fiche.number in seen:
                std.error(line, "Numero_Fiche", f"fiche {fiche.number} déjà lue ligne {seen[fiche.number]}")
            seen[fiche.number] = line
            _attach(fiche, side)
            yield fiche


def _read_side(rows: _Rows) -> dict[str, list]:
    """Rows of one side file, parsed, grouped by fiche number (file order kept)."""
    out: dict[str, list] = {}
    kind = rows.kind
    for line, r in rows:
        def where(field, _line=line):
            return lambda reason: rows.error(_line, field, reason)
        number = parse_number(r["Numero_Fiche"], where("Numero_Fiche"))
        if kind == "Blocs_De_Compétences":
            code = clean_text(r["Bloc_Competences_Code"]).upper()
            m = BLOC_CODE_RE.match(code)
            if not m or m.group(1) != number:
                rows.error(line, "Bloc_Competences_Code", f"code de bloc {code!r} malformé ou d'une autre fiche")
            item = FCBloc(code=code, label=clean_text(r["Bloc_Competences_Libelle"]))
        elif kind == "Rome":
            code = clean_text(r["Codes_Rome_Code"]).upper()
            if not ROME_CODE_RE.match(code):
                rows.error(line, "Codes_Rome_Code", f"code ROME {code!r} malformé")
            item = (code, clean_text(r["Codes_Rome_Libelle"]))
        elif kind == "Nsf":
            code = clean_text(r["Nsf_Code"])
            if not NSF_CODE_RE.match(code):
                rows.error(line, "Nsf_Code", f"code NSF {code!r} malformé")
            item = (code, strip_code_prefix(code, clean_text(r["Nsf_Intitule"])))
        elif kind == "Formacode":
            code = clean_text(r["Formacode_Code"])
            if not FORMACODE_RE.match(code):
                rows.error(line, "Formacode_Code", f"Formacode {code!r} malformé (5 chiffres attendus)")
            item = (code, strip_code_prefix(code, clean_text(r["Formacode_Libelle"])))
        elif kind == "Certificateurs":
            item = FCOrganisation(name=clean_text(r["Nom_Certificateur"]),
                                  siret=parse_siret(r["Siret_Certificateur"], where("Siret_Certificateur")))
            if not item.name:
                rows.error(line, "Nom_Certificateur", "nom du certificateur vide")
        elif kind == "Partenaires":
            item = FCOrganisation(name=clean_text(r["Nom_Partenaire"]),
                                  siret=parse_siret(r["Siret_Partenaire"], where("Siret_Partenaire")),
                                  habilitation=clean_text(r["Habilitation_Partenaire"]) or None)
            if not item.name:
                rows.error(line, "Nom_Partenaire", "nom du partenaire vide")
        elif kind == "CCN":
            item = []
            for i in (1, 2, 3):
                num = clean_text(r[f"Ccn_{i}_Numero"])
                if num:
                    if not IDCC_RE.match(num):
                        rows.error(line, f"Ccn_{i}_Numero", f"numéro IDCC {num!r} malformé")
                    item.append((num.zfill(4), clean_text(r[f"Ccn_{i}_Libelle"])))
        elif kind == "VoixdAccès":
            wording = clean_text(r["Si_Jury"])
            route = ROUTE_WORDING.get(route_key_text(wording))
            if route is None:
                rows.error(line, "Si_Jury", f"voie d'accès inconnue {wording!r}")
            item = route
        else:  # Ancienne_Nouvelle_Certification
            old = clean_text(r["Ancienne_Certification"])
            new = clean_text(r["Nouvelle_Certification"])
            item = (parse_number(old, where("Ancienne_Certification")) if old else None,
                    parse_number(new, where("Nouvelle_Certification")) if new else None)
        out.setdefault(number, []).append(item)
    return out


def _standard(rows: _Rows, line: int, r: dict[str, str]) -> FCFiche:
    def where(field):
        return lambda reason: rows.error(line, field, reason)

    number = parse_number(r["Numero_Fiche"], where("Numero_Fiche"))
    title = clean_text(r["Intitule"])
    if not title:
        rows.error(line, "Intitule", "intitulé vide")
    level_code = clean_text(r["Nomenclature_Europe_Niveau"]).upper() or None
    if level_code and not (LEVEL_RE.match(level_code) or level_code == NO_LEVEL):
        rows.error(line, "Nomenclature_Europe_Niveau", f"niveau {level_code!r} inconnu (NIV1…NIV8 ou REPRISE)")
    actif = clean_text(r["Actif"]).upper()
    if actif not in ("ACTIVE", "INACTIVE"):
        rows.error(line, "Actif", f"valeur {actif!r} inattendue (ACTIVE ou INACTIVE)")
    return FCFiche(
        number=number, registry="RS" if number.startswith("RS") else "RNCP", title=title, line=line,
        fiche_id=clean_text(r["Id_Fiche"]) or None,
        abbreviation=clean_text(r["Abrege_Libelle"]) or None,
        abbreviation_label=clean_text(r["Abrege_Intitule"]) or None,
        level=level_code if level_code and level_code != NO_LEVEL else None,
        level_code=level_code, level_label=clean_text(r["Nomenclature_Europe_Intitule"]) or None,
        new_caledonia=parse_bool(r["Accessible_Nouvelle_Caledonie"], where("Accessible_Nouvelle_Caledonie")),
        french_polynesia=parse_bool(r["Accessible_Polynesie_Francaise"], where("Accessible_Polynesie_Francaise")),
        journal_officiel_date=parse_date(r["Date_dernier_jo"], where("Date_dernier_jo")),
        decision_date=parse_date(r["Date_Decision"], where("Date_Decision")),
        end_date=parse_date(r["Date_Fin_Enregistrement"], where("Date_Fin_Enregistrement")),
        effective_date=parse_date(r["Date_Effet"], where("Date_Effet")),
        registration_type=clean_text(r["Type_Enregistrement"]) or None,
        partial_validation=parse_bool(r["Validation_Partielle"], where("Validation_Partielle")),
        active=actif == "ACTIVE",
    )


def _attach(fiche: FCFiche, side: dict[str, dict[str, list]]) -> None:
    n = fiche.number
    fiche.blocs = sorted(side["Blocs_De_Compétences"].get(n, []), key=lambda b: b.code)
    fiche.rome = side["Rome"].get(n, [])
    fiche.nsf = side["Nsf"].get(n, [])
    fiche.formacodes = side["Formacode"].get(n, [])
    fiche.certifiers = side["Certificateurs"].get(n, [])
    fiche.partners = side["Partenaires"].get(n, [])
    fiche.idcc = [pair for row in side["CCN"].get(n, []) for pair in row]
    open_routes = set(side["VoixdAccès"].get(n, []))
    # The file lists the open routes only: every other route is closed for this fiche.
    from ..model import ACCESS_ROUTES
    fiche.access = [FCAccess(route=key, is_open=key in open_routes) for key in ACCESS_ROUTES]
    for old, new in side["Ancienne_Nouvelle_Certification"].get(n, []):
        if old and old not in fiche.replaces:
            fiche.replaces.append(old)
        if new and new not in fiche.replaced_by:
            fiche.replaced_by.append(new)
