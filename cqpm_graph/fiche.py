"""Parse a certification fiche (RNCP "résumé descriptif" or CQPM "référentiel") into a :class:`Fiche`.

One parser reads every layout. It first builds a *view* of the text (:func:`cqpm_graph.text.mask_markup`):
same length as the source, HTML tags / Markdown markup blanked, look-alike letters and typographic
punctuation made plain. All patterns run on the view, so each offset they give is valid in the source
and every value gets an exact :class:`~cqpm_graph.model.Span` (``source[span.start:span.end] ==
span.text``). The document is then cut into sections by the headings of :data:`HEADINGS`, and each
field is read from its section by a small table of patterns.

Layouts (:func:`detect_layout`, stored in ``Fiche.layout``; informative, parsing does not branch on it):

* ``cqpm-referentiel`` - a "TITRE DU CQPM" / "REFERENTIEL DU CQPM" header;
* ``rncp-markdown`` - Markdown heading lines (``## …``);
* ``rncp-ocr`` - look-alike Cyrillic/Greek letters in Latin words or an ``I'`` elision (OCR signs);
* ``rncp-html`` - HTML ``<p>`` fragments (and tab-separated table rows);
* ``rncp-pdf`` - no tab-separated rows at all (tables flattened, lines hard-wrapped by a PDF extractor).

Span keys: a field name (``"title"``, ``"certifier"``, ``"label"`` …), ``"name[i]"`` for the i-th item of
a list field (``"jobs[0]"``, ``"alt_labels[0]"``), ``"title_continued"`` for the second piece of a bloc
title split by a flattened table. Values that could only partly be read carry a
:class:`~cqpm_graph.model.ParseWarning` (codes listed in :data:`WARNING_CODES`); nothing is guessed.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .model import (ACCESS_ROUTES, AccessCondition, Activity, Bloc, Capacity, Criterion, Fiche,
                    FicheParseError, History, ParseWarning, Registration, Span)
from .text import (URL_RE, clean_block, clean_inline, has_lookalikes, known_acronyms, line_number,
                   mask_markup, normalise_for_compare)
from .uris import slugify

__all__ = ["parse_fiche", "parse_text", "detect_layout", "HEADINGS", "WARNING_CODES"]

#: Warning codes the parser can emit, with their meaning.
WARNING_CODES: dict[str, str] = {
    "certifier-missing": "the certifier cell of the authority table is empty",
    "signatory-missing": "the signatory cell of the authority table is empty",
    "access-route-ambiguous": "the OUI/NON columns of an access route are lost or contradictory",
    "access-route-missing": "an access route of the official list is absent from the table",
    "access-jury-unreadable": "the jury cell holds a fragment, not a sentence (OCR noise)",
    "access-table-stray-text": "text inside the access table that belongs to no row",
    "territory-ambiguous": "the OUI/NON columns of a territory row are lost",
    "registration-decision-missing": "no 'Arrêté du … publié au Journal Officiel du …' in the base légale",
    "bloc-title-repaired": "words moved into or out of a bloc title (flattened table)",
    "bloc-fiche-number-differs": "a bloc names another fiche number than the fiche's",
    "capacity-wording-differs": "a capacity is worded differently in the summary and in its bloc/table",
    "capacity-without-bloc": "a summary capacity listed in no bloc",
    "capacity-not-in-summary": "a bloc/table capacity absent from the summary list",
    "capacity-in-several-blocs": "a capacity listed by more than one bloc",
    "activity-codes-assigned": "activities listed without codes, numbered A1… in document order",
    "activity-not-coded": "an item of the uncoded activity list has no coded counterpart",
    "referentiel-stray-text": "a line of the référentiel table that fits no row",
    "section-missing": "an expected section heading was not found",
}

_H = r"^[ \t]*"
#: Section headings, as (key, pattern on the view). A section runs from its heading to the next one.
HEADINGS: list[tuple[str, str]] = [
    ("title", _H + r"Intitulé[ \t]*$"),
    ("authority", _H + r"AUTORITÉ RESPONSABLE DE LA CERTIFICATION\s+QUALITÉ DU\(ES\) SIGNATAIRE\(S\)"
                       r"\s+DE\s+LA\s+CERTIFICATION[^\n]*"),
    ("level", _H + r"Niveau et/ou domaine d'activité"),
    ("idcc", _H + r"Convention\(s\)\s*:"),
    ("nsf", _H + r"Code\(s\) NSF\s*:"),
    ("formacode", _H + r"Formacode\(s\)\s*:"),
    ("summary", _H + r"(?:Résumé du référentiel d'emploi[^\n]*|I\s+OBJECTIF PROFESSIONNEL[^\n]*)"),
    ("capacities", _H + r"(?:(?:Les\s+)?[Cc]apacités attestées\s*:|Pour cela, il \(elle\) doit être capable de\s*:)"),
    ("jobs", _H + r"Secteurs d'activité ou types d'emplois accessibles[^\n]*"),
    ("rome", _H + r"Codes des fiches ROME[^\n]*:"),
    ("regulation", _H + r"Réglementation d'activités\s*:"),
    ("modalities", _H + r"Modalités d'accès à cette certification"),
    ("blocs", _H + r"Blocs? de compétences?\s*:"),
    ("validity", _H + r"Validité des composantes acquises\s*:"),
    ("access", _H + r"CONDITIONS D'INSCRIPTION À LA\s+CERTIFICATION[^\n]*"),
    ("links", _H + r"LIENS AVEC D'AUTRES CERTIFICATIONS[^\n]*"),
    ("agreements", _H + r"ACCORDS EUROPÉENS OU INTERNATIONAUX"),
    ("legal", _H + r"Base légale"),
    ("decree", _H + r"Référence du décret général\s*:"),
    ("registration", _H + r"Référence arrêté création[^\n]*:"),
    ("vae-decree", _H + r"Référence du décret et/ou arrêté VAE\s*:"),
    ("other-refs", _H + r"Références autres\s*:"),
    ("more", _H + r"Pour plus d'informations"),
    ("statistics", _H + r"Statistiques\s*:"),
    ("sources", _H + r"Autres sources d'information\s*:"),
    ("places", _H + r"Lieu\(x\) de certification\s*:"),
    ("preparation", _H + r"Lieu\(x\) de préparation[^\n]*:"),
    ("history", _H + r"Historique de la certification\s*:"),
    # référentiel CQPM
    ("ref-header", _H + r"REFERENTIEL DU CQPM"),
    ("ref-title", _H + r"TITRE DU CQPM\s*:"),
    ("ref-table", _H + r"II\s+REFERENTIEL DE CERTIFICATION"),
    ("ref-admissibility", _H + r"III\s+CONDITIONS D'ADMISSIBILIT"),
    ("ref-evaluation", _H + r"IV\s+MODALITES D'EVALUATION"),
]
_HEADING_RES = [(k, re.compile(p, re.M)) for k, p in HEADINGS]
#: Sections every RNCP fiche has; a missing one is reported (``section-missing``).
_RNCP_EXPECTED = ("title", "authority", "summary", "capacities", "jobs", "rome", "blocs", "validity",
                  "access", "registration", "statistics", "history")

_NUMBER_RE = re.compile(r"Code\s+(RNCP|RS)\s*:\s*(\d+)")
_REF_TITLE_RE = re.compile(r"TITRE DU CQPM\s*:")
_INTITULE_RE = re.compile(r"(?:(?P<abbr>[A-Z]{2,6})\s*:\s*)?(?P<title>.+?)\s*$", re.S)
_SHORT_RE = re.compile(r"(?:Certificat de qualification professionnelle\s+)?(?P<short>.+?)"
                       r"(?:\s*\((?P<kind>CQPM|CQPI|CQP)\))?$", re.S)
_PARA_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_UPPER = "A-ZÀ-ÖØ-Þ"
# Item markers: "C1 ", "- C1- ", "1) ", "A1. ", "•A1 ", "- A1- ", always followed by a capitalised word.
_CAP_MARKER = re.compile(rf"(?<![\w'(])(?:[-•][ \t]*)?(?:C(?P<c>\d{{1,2}})|(?P<n>\d{{1,2}})\))"
                         rf"[ \t]*[-.]?[ \t]+(?=[{_UPPER}])")
_ACT_MARKER = re.compile(rf"(?<![\w'(])(?:[-•][ \t]*)?A(?P<n>\d{{1,2}})[ \t]*[-.]?[ \t]+(?=[{_UPPER}])")
#: (section, code pattern, Fiche field): a label is the ``label`` group or runs to the next code.
_CODE_PATTERNS = (
    ("idcc", re.compile(r"(?P<code>\d{4})\s*-\s*(?P<label>[^\n,;]+)"), "idcc"),
    ("nsf", re.compile(rf"(?<![\w.])(?P<code>\d{{3}}[a-z]?)[ \t]+(?=[{_UPPER}])"), "nsf"),
    ("formacode", re.compile(rf"(?<![\w.])(?P<code>\d{{5}})[ \t]+(?=[{_UPPER}])"), "formacodes"),
)
_DASH_ITEM = re.compile(r"^[ \t]*-[ \t]+(?=\S)", re.M)
_MISSIONS_RE = re.compile(r"missions ou activités[^\n]*:[ \t]*$", re.M)

_BLOC_RE = re.compile(r"Bloc\s+de\s+compétences?\s+n°\s*(?P<n>\d+)\s+de\s+(?:Descriptif\s*:\s*)?"
                      r"la\s+fiche\s+n°\s*(?P<fiche>\d+)\s*-\s*")
_BLOC_TITLE_END = re.compile(r"\t|\n[^\S\n]*\n|Descriptif\s*:|Ce bloc de compétences")
_BLOC_INTRO = re.compile(r"reprend\s+(?:les|la)\s+capacités?\s+professionnelles?(?:\s+suivantes?)?(?:\s*:)?")
_BLOC_EVAL = re.compile(r"Modalités d'évaluation\s*:")
_INTITULE_ROW = re.compile(_H + r"INTITULÉ\b", re.M)
_TITLE_TAIL = re.compile(r"\s+suivantes?\s*:\s*$")

_ROUTE_PATTERNS: dict[str, str] = {
    "formation-initiale": r"Après un parcours de formation sous statut d'élève ou d'étudiant",
    "apprentissage": r"En contrat d'apprentissage",
    "formation-continue": r"Après un parcours de formation continue",
    "contrat-professionnalisation": r"En contrat de professionnalisation",
    "candidature-individuelle": r"Par candidature individuelle",
    "vae": r"Par expérience(?: \(VAE\)| dispositif VAE(?: prévu en \d{4})?)?",
}
_TERRITORY_PATTERNS: dict[str, str] = {
    "new_caledonia": r"Accessible en Nouvelle[ -]Calédonie",
    "french_polynesia": r"Accessible en Polynésie Française",
}


def _words_re(pattern: str) -> re.Pattern:
    """Compile *pattern* so that each space also matches a line break (hard-wrapped PDF text)."""
    return re.compile(pattern.replace(" ", r"\s+"))


_ROUTE_RES = {k: _words_re(p) for k, p in _ROUTE_PATTERNS.items()}
_TERRITORY_RES = {k: _words_re(p) for k, p in _TERRITORY_PATTERNS.items()}
_OUI_NON_HEADER = re.compile(_H + r"OUI\s+NON[ \t]*$", re.M)

_MONTHS = {m: i for i, m in enumerate(
    ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
     "novembre", "décembre"], start=1)}
_MONTHS.update({"fevrier": 2, "aout": 8, "decembre": 12})
_DATE = r"(?P<d>\d{1,2})(?:er)?\s+(?P<mo>" + "|".join(_MONTHS) + r")\s+(?P<y>\d{4})"
_ROME_RE = re.compile(r"(?<!\w)([A-N]\d{4})\s*:[ \t]*([^\n]+)")
_NUMBER_WORDS = {"un": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8,
                 "neuf": 9, "dix": 10}


# -- public API ----------------------------------------------------------------------------------

def parse_fiche(path: Path | str) -> Fiche:
    """Read one fiche file (UTF-8 text) and return its :class:`Fiche`.

    ``sha256`` is computed on the file bytes and ``source_name`` is the file name.

    :raises FicheParseError: the file is not UTF-8, is not a fiche (no ``Code RNCP`` and no
        ``TITRE DU CQPM``) or its title cannot be found; the message names the file.
    :raises OSError: the file cannot be read.
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FicheParseError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    fiche = parse_text(text, path.name, path)
    fiche.sha256 = hashlib.sha256(data).hexdigest()
    return fiche


def parse_text(text: str, source_name: str, path: Path | str | None = None) -> Fiche:
    """Parse the decoded text of a fiche; *source_name* names it in messages and warnings.

    Offsets of the returned spans index *text*. ``sha256`` is that of ``text`` encoded in UTF-8
    (the file bytes for a UTF-8 file, see :func:`parse_fiche`).

    Activities of a référentiel, which lists them as plain dashes without codes, are numbered
    ``A1`` … ``An`` in document order (warning ``activity-codes-assigned``).

    :raises FicheParseError: no ``Code RNCP`` / ``Code RS`` and no ``TITRE DU CQPM`` found (empty file,
        other document), or no title found.
    """
    return _Reader(text, source_name, Path(path) if path is not None else Path(source_name)).read()


def detect_layout(text: str) -> str:
    """Classify the source layout by its features (first rule that applies):

    ``cqpm-referentiel`` (a "TITRE DU CQPM"/"REFERENTIEL DU CQPM" header), ``rncp-markdown`` (``#``
    heading lines), ``rncp-ocr`` (look-alike letters or ``I'`` elisions), ``rncp-html`` (``<p>``
    tags), ``rncp-pdf`` (no tab-separated row: flattened tables), else ``rncp-html``.
    """
    if re.search(r"TITRE DU CQPM|REFERENTIEL DU CQPM", text):
        return "cqpm-referentiel"
    if re.search(r"^#{1,6}[ \t]", text, re.M):
        return "rncp-markdown"
    if has_lookalikes(text) or re.search(r"(?<![\w'])I'[A-Z]", text):
        return "rncp-ocr"
    if re.search(r"<p[\s>]", text):
        return "rncp-html"
    if "\t" not in text:
        return "rncp-pdf"
    return "rncp-html"


# -- implementation ----------------------------------------------------------------------------

@dataclass
class _Section:
    key: str
    head: int      # start of the heading
    start: int     # start of the body
    end: int       # end of the body


@dataclass
class _Item:
    """A coded list item: ``number`` from the marker, label bounds in the source."""

    number: int
    marker: tuple[int, int]
    start: int
    end: int


@dataclass
class _Reader:
    raw: str
    name: str
    path: Path
    view: str = ""
    acronyms: set[str] = field(default_factory=set)
    sections: dict[str, _Section] = field(default_factory=dict)
    warnings: list[ParseWarning] = field(default_factory=list)

    # -- small helpers ------------------------------------------------------------------------
    def trim(self, s: int, e: int, punct: str = "") -> tuple[int, int]:
        """Shrink ``[s, e)`` over white space of the view (masked markup counts as white space) and,
        at the end, over the characters in *punct*."""
        v = self.view
        while s < e and v[s].isspace():
            s += 1
        while e > s and (v[e - 1].isspace() or (v[e - 1] in punct and not v[s:e].endswith("..."))):
            e -= 1
        return s, e

    def span(self, s: int, e: int) -> Span:
        return Span(s, e, self.raw[s:e], line_number(self.raw, s))

    def inline(self, s: int, e: int) -> str:
        return clean_inline(self.view[s:e], self.acronyms)

    def block(self, s: int, e: int) -> str:
        return clean_block(self.view[s:e], self.acronyms)

    def warn(self, code: str, message: str, fld: str = "", span: Span | None = None) -> None:
        assert code in WARNING_CODES, code
        self.warnings.append(ParseWarning(code, f"{self.name} : {message}", fld, span))

    def sec(self, key: str) -> _Section | None:
        return self.sections.get(key)

    def paragraphs(self, s: int, e: int) -> list[tuple[int, int]]:
        """Non-empty paragraphs (blank-line separated in the view) of ``[s, e)``, trimmed."""
        out, pos = [], s
        for m in _PARA_BREAK.finditer(self.view, s, e):
            out.append(self.trim(pos, m.start()))
            pos = m.end()
        out.append(self.trim(pos, e))
        return [(a, b) for a, b in out if b > a]

    def lines(self, s: int, e: int) -> list[tuple[int, int]]:
        """Source lines of ``[s, e)`` as bounds (not trimmed); splits on the *raw* line breaks."""
        out, pos = [], s
        while pos < e:
            nl = self.raw.find("\n", pos, e)
            nl = e if nl < 0 else nl
            out.append((pos, nl))
            pos = nl + 1
        return out

    def cells(self, s: int, e: int) -> list[tuple[int, int]]:
        """Tab-separated cells of the source stretch ``[s, e)`` (one line), each trimmed."""
        out, pos = [], s
        while True:
            tab = self.raw.find("\t", pos, e)
            if tab < 0:
                out.append(self.trim(pos, e))
                return out
            out.append(self.trim(pos, tab))
            pos = tab + 1

    def items(self, s: int, e: int, marker: re.Pattern) -> list[_Item]:
        """Coded items in ``[s, e)``: each label runs from its marker to the next marker, a blank line
        or *e* (several items may share a line: ``"A3. … A4. …"``)."""
        found = list(marker.finditer(self.view, s, e))
        out = []
        for i, m in enumerate(found):
            stop = found[i + 1].start() if i + 1 < len(found) else e
            brk = _PARA_BREAK.search(self.view, m.end(), stop)
            a, b = self.trim(m.end(), brk.start() if brk else stop, ";,.")
            num = int(m.group("n") or m.groupdict().get("c"))
            out.append(_Item(num, self.trim(m.start(), m.end()), a, b))
        return out

    # -- driver --------------------------------------------------------------------------------
    def read(self) -> Fiche:
        self.view = mask_markup(self.raw)
        self.acronyms = known_acronyms(self.view)
        number_m = _NUMBER_RE.search(self.view)
        ref_m = _REF_TITLE_RE.search(self.view)
        if not number_m and not ref_m:
            what = "empty file" if not self.raw.strip() else "not a certification fiche"
            raise FicheParseError(self.path, f"{what}: no 'Code RNCP' and no 'TITRE DU CQPM' found")
        self.find_sections()
        fiche = Fiche(source_path=self.path, source_name=self.name,
                      sha256=hashlib.sha256(self.raw.encode("utf-8")).hexdigest(),
                      layout=detect_layout(self.raw), cert_id="", title="")
        if number_m:
            fiche.registry = number_m.group(1)
            fiche.number = number_m.group(1) + number_m.group(2)
            fiche.spans["number"] = self.span(*number_m.span(2))
            for key in _RNCP_EXPECTED:
                if key not in self.sections:
                    self.warn("section-missing", f"rubrique « {key} » introuvable", key)
        self.read_title(fiche)
        fiche.cert_id = fiche.number or "CQPM-" + slugify(fiche.title)
        self.read_authority(fiche)
        self.read_codes(fiche)
        self.read_summary(fiche)
        self.read_capacities(fiche)
        self.read_jobs(fiche)
        self.read_validity(fiche)
        self.read_access(fiche)
        self.read_registration(fiche)
        self.read_information(fiche)
        self.read_history(fiche)
        fiche.warnings = self.warnings
        return fiche

    def find_sections(self) -> None:
        heads = []
        for key, rx in _HEADING_RES:
            m = rx.search(self.view)
            if m:
                heads.append((m.start(), m.end(), key))
        heads.sort()
        for i, (h, s, key) in enumerate(heads):
            end = heads[i + 1][0] if i + 1 < len(heads) else len(self.raw)
            self.sections[key] = _Section(key, h, s, max(s, end))

    # -- identity --------------------------------------------------------------------------------
    def read_title(self, f: Fiche) -> None:
        sec = self.sec("title") or self.sec("ref-title")
        paras = self.paragraphs(sec.start, sec.end) if sec else []
        if not paras:
            raise FicheParseError(self.path, "no title found ('Intitulé' or 'TITRE DU CQPM' line missing or empty)")
        s, e = self.lines(*paras[0])[0]
        s, e = self.trim(s, e)
        m = _INTITULE_RE.match(self.view, s, e)
        if m.group("abbr") and sec.key == "title":
            f.abbreviation = m.group("abbr")
            f.spans["abbreviation"] = self.span(*m.span("abbr"))
        ts, te = m.span("title")
        f.title = self.inline(ts, te)
        f.spans["title"] = self.span(ts, te)
        sm = _SHORT_RE.match(self.view, ts, te)
        f.short_title = self.inline(*sm.span("short"))
        f.spans["short_title"] = self.span(*sm.span("short"))
        if sm.group("kind"):
            f.kind = sm.group("kind")
            f.spans["kind"] = self.span(*sm.span("kind"))
        elif sec.key == "ref-title":
            km = re.search(r"CQPM", self.view[sec.head:sec.start])
            f.kind = "CQPM"
            f.spans["kind"] = self.span(sec.head + km.start(), sec.head + km.end())

    def read_authority(self, f: Fiche) -> None:
        sec = self.sec("authority")
        if not sec:
            return
        first = next(((a, b) for a, b in self.lines(sec.start, sec.end) if self.view[a:b].strip()), None)
        if first and "\t" in self.raw[first[0]:first[1]]:
            cells = self.cells(*first)       # tab row: certifier cell, signatory cell
        else:
            cells = self.paragraphs(sec.start, sec.end)[:2]   # flattened: one paragraph per cell
        cells += [(0, 0)] * (2 - len(cells))
        for fld, (a, b), column in (("certifier", cells[0], "autorité responsable"),
                                    ("signatory", cells[1], "qualité du signataire")):
            if b > a:
                setattr(f, fld, self.inline(a, b))
                f.spans[fld] = self.span(a, b)
            else:
                self.warn(f"{fld}-missing", f"la case « {column} » du tableau de l'autorité responsable est vide",
                          fld, self.span(*self.trim(sec.head, sec.end)))

    def read_codes(self, f: Fiche) -> None:
        """IDCC ``3109 - Métallurgie``, NSF ``200u Conduite …, 201 …``, Formacode ``31054 Label``."""
        for key, pattern, fld in _CODE_PATTERNS:
            sec = self.sec(key)
            if not sec:
                continue
            out: list[tuple[str, str]] = getattr(f, fld)
            for ls, le in self.lines(sec.start, sec.end):
                found = list(pattern.finditer(self.view, ls, le))
                for i, m in enumerate(found):
                    if "label" in m.groupdict():
                        a, b = m.span("label")
                    else:   # label runs to the next code of the same line
                        a, b = m.end(), found[i + 1].start() if i + 1 < len(found) else le
                    a, b = self.trim(a, b, ",;")
                    out.append((m.group("code"), self.inline(a, b)))
                    f.spans[f"{fld}[{len(out) - 1}]"] = self.span(m.start("code"), b)

    # -- summary, activities, capacities ------------------------------------------------------------
    def read_summary(self, f: Fiche) -> None:
        sec = self.sec("summary")
        if not sec:
            return
        a, b = self.trim(sec.start, sec.end)
        f.summary = self.block(a, b)
        f.spans["summary"] = self.span(a, b)
        coded = self.items(sec.start, sec.end, _ACT_MARKER)
        for it in coded:
            f.activities.append(Activity(f"A{it.number}", self.inline(it.start, it.end),
                                         {"label": self.span(it.start, it.end), "code": self.span(*it.marker)}))
        # The dash list after "missions ou activités … :" (uncoded items only).
        m = _MISSIONS_RE.search(self.view, sec.start, sec.end)
        dashes = []
        if m:
            brk = _PARA_BREAK.search(self.view, m.end() + 1, sec.end)
            stop = brk.start() if brk else sec.end
            found = list(_DASH_ITEM.finditer(self.view, m.end(), stop))
            for i, d in enumerate(found):
                a, b = self.trim(d.end(), found[i + 1].start() if i + 1 < len(found) else stop, ";,.")
                if not _ACT_MARKER.match(self.view, d.start(), b):
                    dashes.append((a, b))
        if not coded:
            for i, (a, b) in enumerate(dashes, start=1):
                f.activities.append(Activity(f"A{i}", self.inline(a, b), {"label": self.span(a, b)}))
            if dashes:
                self.warn("activity-codes-assigned",
                          f"{len(dashes)} activités listées sans code, numérotées A1 à A{len(dashes)} dans l'ordre",
                          "activities")
            return
        # An uncoded list that repeats the coded one: report its items without a coded twin.
        keys = {normalise_for_compare(a.label) for a in f.activities}
        dash_keys = [normalise_for_compare(self.inline(a, b)) for a, b in dashes]
        if any(k in keys for k in dash_keys):
            for (a, b), k in zip(dashes, dash_keys):
                if k not in keys:
                    self.warn("activity-not-coded",
                              f"l'activité « {self.inline(a, b)} » de la liste sans code n'a pas d'équivalent codé A…",
                              "activities", self.span(a, b))

    def read_capacities(self, f: Fiche) -> None:
        sec = self.sec("capacities")
        summary: dict[int, tuple[str, Span]] = {}
        if sec:
            for it in self.items(sec.start, sec.end, _CAP_MARKER):
                summary.setdefault(it.number, (self.inline(it.start, it.end), self.span(it.start, it.end)))
        caps = {n: Capacity(f"C{n}", label, spans={"label": sp}) for n, (label, sp) in summary.items()}
        other = self.read_blocs(f) if self.sec("blocs") else self.read_referentiel_table(caps)
        for n, (label, sp, where) in sorted(other.items()):
            cap = caps.get(n)
            if cap is None:
                caps[n] = Capacity(f"C{n}", label, spans={"label": sp})
                self.warn("capacity-not-in-summary",
                          f"la capacité C{n} « {label} » ({where}) manque dans la liste des capacités attestées",
                          f"capacities[C{n}]", sp)
            elif normalise_for_compare(label) != normalise_for_compare(cap.label):
                cap.alt_labels.append(label)
                cap.spans[f"alt_labels[{len(cap.alt_labels) - 1}]"] = sp
                self.warn("capacity-wording-differs",
                          f"C{n} est formulée « {cap.label} » dans le résumé et « {label} » ({where})",
                          f"capacities[C{n}]", sp)
        for bloc in f.blocs:
            for code in bloc.capacity_codes:
                cap = caps[int(code[1:])]
                if cap.bloc_code and cap.bloc_code != bloc.code:
                    self.warn("capacity-in-several-blocs", f"{code} figure dans {cap.bloc_code} et {bloc.code}",
                              f"capacities[{code}]")
                    continue
                cap.bloc_code = bloc.code
        if f.blocs:
            for cap in caps.values():
                if cap.bloc_code is None:
                    self.warn("capacity-without-bloc", f"la capacité {cap.code} n'est reprise par aucun bloc",
                              f"capacities[{cap.code}]", cap.spans.get("label"))
        f.capacities = [caps[n] for n in sorted(caps)]

    def read_blocs(self, f: Fiche) -> dict[int, tuple[str, Span, str]]:
        """Fill ``f.blocs``; return the bloc wording of each capacity ``{n: (label, span, bloc code)}``."""
        sec = self.sec("blocs")
        heads = list(_BLOC_RE.finditer(self.view, sec.start, sec.end))
        wordings: dict[int, tuple[str, Span, str]] = {}
        prefix = f.number or f.cert_id
        for i, h in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else sec.end
            row = _INTITULE_ROW.search(self.view, h.end(), end)
            end = row.start() if row else end
            n = int(h.group("n"))
            bloc = Bloc(f"{prefix}BC{n:02d}", n, "", spans={"number": self.span(*h.span("n"))})
            if f.number and h.group("fiche") != f.number.removeprefix(f.registry or ""):
                self.warn("bloc-fiche-number-differs", f"le bloc {n} se réfère à la fiche n° {h.group('fiche')}",
                          f"blocs[{bloc.code}]", self.span(*h.span("fiche")))
            t_end = _BLOC_TITLE_END.search(self.view, h.end(), end)
            ts, te = self.trim(h.end(), t_end.start() if t_end else end)
            intro = _BLOC_INTRO.search(self.view, te, end)
            ev = _BLOC_EVAL.search(self.view, intro.end() if intro else te, end)
            cs = intro.end() if intro else te
            ce = ev.start() if ev else end
            items = self.items(cs, ce, _CAP_MARKER)
            title = self.view[ts:te]
            tail = _TITLE_TAIL.search(title)
            if tail and not (intro and re.search(r"suivantes?", intro.group(0))):
                # "… QSE suivantes :": the words end the descriptif's intro, not the title.
                te = self.trim(ts, ts + tail.start())[1]
                self.warn("bloc-title-repaired",
                          f"« {title[tail.start():].strip()} » retiré du titre du bloc {n} (fin de la phrase "
                          "du descriptif)", f"blocs[{bloc.code}].title", self.span(ts, ts + len(title)))
            bloc.title = self.inline(ts, te)
            bloc.spans["title"] = self.span(ts, te)
            lead = self.trim(cs, items[0].marker[0] if items else ce)
            if items and lead[1] > lead[0]:
                # Flattened table: the end of the title column sits before the first capacity.
                bloc.title = clean_inline(self.view[ts:te] + " " + self.view[lead[0]:lead[1]], self.acronyms)
                bloc.spans["title_continued"] = self.span(*lead)
                self.warn("bloc-title-repaired",
                          f"titre du bloc {n} complété par « {self.raw[lead[0]:lead[1]]} » lu entre le descriptif "
                          f"et les capacités : « {bloc.title} »", f"blocs[{bloc.code}].title", self.span(*lead))
            for it in items:
                code = f"C{it.number}"
                bloc.capacity_codes.append(code)
                wordings.setdefault(it.number, (self.inline(it.start, it.end), self.span(it.start, it.end),
                                                f"bloc {bloc.code}"))
            if ev:
                a, b = self.trim(ev.end(), end)
                bloc.evaluation = self.block(a, b)
                bloc.spans["evaluation"] = self.span(a, b)
            f.blocs.append(bloc)
        return wordings

    def read_referentiel_table(self, caps: dict[int, Capacity]) -> dict[int, tuple[str, Span, str]]:
        """Section II of a référentiel: rows ``N. label <TAB> condition <TAB> criteria``, continuation rows
        ``<TAB><TAB> criteria``; a criteria cell may hold several check-box items."""
        sec = self.sec("ref-table")
        wordings: dict[int, tuple[str, Span, str]] = {}
        if not sec:
            return wordings
        current: Capacity | None = None
        for ls, le in self.lines(sec.start, sec.end):
            if not self.view[ls:le].strip():
                continue
            if "\t" not in self.raw[ls:le]:
                self.warn("referentiel-stray-text", f"ligne hors tableau : « {self.inline(ls, le)} »",
                          "capacities", self.span(*self.trim(ls, le)))
                continue
            cells = self.cells(ls, le) + [(le, le)] * 2
            (c0, c1, c2) = cells[:3]
            if self.view[c0[0]:c0[1]].startswith("Capacités professionnelles"):
                continue   # header row, repeated on each page
            if c0[1] > c0[0]:
                m = re.match(r"(\d{1,2})\.\s*", self.view[c0[0]:c0[1]])
                if not m:
                    self.warn("referentiel-stray-text", f"capacité sans numéro : « {self.inline(*c0)} »",
                              "capacities", self.span(*c0))
                    current = None
                    continue
                n = int(m.group(1))
                ls_, le_ = self.trim(c0[0] + m.end(), c0[1], ";,.")
                wordings[n] = (self.inline(ls_, le_), self.span(ls_, le_), "tableau du référentiel")
                current = caps.setdefault(n, Capacity(f"C{n}", self.inline(ls_, le_),
                                                      spans={"label": self.span(ls_, le_)}))
                if c1[1] > c1[0]:
                    current.condition = self.inline(*c1)
                    current.spans["condition"] = self.span(*c1)
            if current is None:
                continue
            for a, b in self.split_checkboxes(*c2):
                current.criteria.append(Criterion(self.inline(a, b), {"label": self.span(a, b)}))
        return wordings

    def split_checkboxes(self, s: int, e: int) -> list[tuple[int, int]]:
        """Criteria of one cell, cut at each check box (``☐`` or a masked ``<input type=checkbox>``)."""
        cuts = [m.start() for m in re.finditer("☐", self.view[s:e])]
        bounds = [s] + [s + c for c in cuts] + [e]
        out = []
        for a, b in zip(bounds, bounds[1:]):
            a = a + 1 if a < b and self.view[a] == "☐" else a
            a, b = self.trim(a, b)
            if b > a:
                out.append((a, b))
        return out

    # -- jobs, ROME ---------------------------------------------------------------------------------
    def read_jobs(self, f: Fiche) -> None:
        sec = self.sec("jobs")
        if sec:
            paras = self.paragraphs(sec.start, sec.end)
            # The first paragraph introduces the list (sectors), so does any later one ending in ":".
            n_intro = 1
            while n_intro < len(paras) and self.view[paras[n_intro][1] - 1] == ":":
                n_intro += 1
            if paras:
                f.sectors = "\n".join(self.inline(a, b) for a, b in paras[:n_intro])
                f.spans["sectors"] = self.span(paras[0][0], paras[n_intro - 1][1])
            for ps, pe in paras[n_intro:]:
                for ls, le in self.lines(ps, pe):   # one job a line, or several joined by ";"
                    cuts = [ls - 1] + [ls + m.start() for m in re.finditer(";", self.view[ls:le])] + [le]
                    for a, b in (self.trim(x + 1, y, ";,.") for x, y in zip(cuts, cuts[1:])):
                        if b > a:
                            f.jobs.append(self.inline(a, b))
                            f.spans[f"jobs[{len(f.jobs) - 1}]"] = self.span(a, b)
        sec = self.sec("rome")
        if sec:
            for m in _ROME_RE.finditer(self.view, sec.start, sec.end):
                a, b = self.trim(*m.span(2))
                f.rome.append((m.group(1), self.inline(a, b)))
                f.spans[f"rome[{len(f.rome) - 1}]"] = self.span(m.start(1), b)

    # -- access table and territories ----------------------------------------------------------------
    def read_validity(self, f: Fiche) -> None:
        """"Validité des composantes acquises : illimitée" / "5 an(s)" (value on the heading line)."""
        sec = self.sec("validity")
        if sec and sec.end > sec.start:
            a, b = self.trim(*self.lines(sec.start, sec.end)[0])
            if b > a:
                f.validity = self.inline(a, b)
                f.spans["validity"] = self.span(a, b)
                m = re.search(r"(\d+)\s*an", f.validity)
                f.validity_years = int(m.group(1)) if m else None

    def read_access(self, f: Fiche) -> None:
        """The "conditions d'inscription" table (six routes) and the two territory rows below it."""
        sec = self.sec("access")
        if not sec:
            return
        territory_hits = {k: rx.search(self.view, sec.start, sec.end) for k, rx in _TERRITORY_RES.items()}
        header = _OUI_NON_HEADER.search(self.view, sec.start, sec.end)
        table_end = min([m.start() for m in territory_hits.values() if m] + ([header.start()] if header else [])
                        + [sec.end])
        hits = sorted((m.start(), m.end(), k) for k, rx in _ROUTE_RES.items()
                      if (m := rx.search(self.view, sec.start, table_end)))
        for key in ACCESS_ROUTES:
            if key not in {k for _, _, k in hits}:
                self.warn("access-route-missing", f"voie d'accès « {ACCESS_ROUTES[key]} » absente du tableau",
                          f"access[{key}]")
        for i, (rs, re_, key) in enumerate(hits):
            seg_end = hits[i + 1][0] if i + 1 < len(hits) else table_end
            cond = AccessCondition(key, None, spans={"route": self.span(rs, re_)})
            self.read_row(cond, self.inline(rs, re_), re_, seg_end, f"access[{key}]", "access-route-ambiguous")
            f.access.append(cond)
        order = list(ACCESS_ROUTES)
        f.access.sort(key=lambda c: order.index(c.route))
        for fld, m in territory_hits.items():
            if not m:
                continue
            nl = self.raw.find("\n", m.end())
            tmp = AccessCondition(fld, None)
            self.read_row(tmp, self.inline(*m.span()), m.end(), nl if nl >= 0 else len(self.raw), fld,
                          "territory-ambiguous")
            setattr(f, fld, tmp.is_open)
            if "is_open" in tmp.spans:
                f.spans[fld] = tmp.spans["is_open"]

    def read_row(self, cond: AccessCondition, label: str, s: int, e: int, fld: str, ambiguous: str) -> None:
        """Read the OUI/NON mark (and the jury cell) of one table row that follows a label ending at *s*.

        Tab-separated row: the first cell after the label is the OUI column, the next the NON column
        (an ``X`` in the first → open, in the second → closed); later cells are the jury. Without tabs
        (flattened PDF table) the mark's column is lost: ``is_open`` stays ``None`` with a warning.
        """
        line_end = self.raw.find("\n", s, e)
        line_end = e if line_end < 0 else line_end
        if s < len(self.raw) and self.raw[s] == "\t":
            cells = self.cells(s + 1, line_end)
            marks = [self.view[a:b].upper() == "X" for a, b in cells[:2]]
            mark_idx = marks.index(True) if any(marks) else None
            if marks.count(True) == 1:
                cond.is_open = mark_idx == 0
                cond.spans["is_open"] = self.span(*cells[mark_idx])
            else:
                self.warn(ambiguous, f"« {label} » : aucune ou deux croix OUI/NON", fld,
                          self.span(s, line_end))
            jury = [c for c in cells[(mark_idx + 1) if mark_idx is not None else 2:] if c[1] > c[0]]
            rest = self.trim(line_end, e)
            if rest[1] > rest[0]:
                self.warn("access-table-stray-text", f"texte « {self.inline(*rest)} » hors ligne dans le tableau "
                          "des conditions d'inscription", fld, self.span(*rest))
        else:
            seg = self.trim(s, e)
            m = re.match(r"[Xx](?=\s|$)", self.view[seg[0]:seg[1]])
            if m:
                cond.spans["is_open"] = self.span(seg[0], seg[0] + 1)
            seen = "la croix est présente mais les colonnes OUI/NON sont perdues" if m else "aucune croix lisible"
            self.warn(ambiguous, f"« {label} » : {seen} ; valeur non déterminée", fld, self.span(*seg))
            start = seg[0] + (1 if m else 0)
            jury = [self.trim(start, seg[1])] if seg[1] > start else []
            jury = [j for j in jury if j[1] > j[0]]
        if jury:
            a, b = jury[0][0], jury[-1][1]
            text = self.inline(a, b)
            if len(text.split()) < 3:
                self.warn("access-jury-unreadable", f"composition du jury illisible : « {text} »", fld, self.span(a, b))
            else:
                cond.jury = text
                cond.spans["jury"] = self.span(a, b)

    # -- registration ---------------------------------------------------------------------------------
    def read_registration(self, f: Fiche) -> None:
        sec = self.sec("registration")
        if not sec:
            return
        s, e = self.trim(sec.start, sec.end)
        if e <= s:
            return
        reg = Registration(text=self.inline(s, e), spans={"text": self.span(s, e)})
        v = self.view
        patterns = {
            "decision": rf"(?:Arrêté|Décret|Décision)\s+du\s+{_DATE}",
            "journal_officiel_date": rf"Journal\s+Officiel\s+du\s+{_DATE}",
            "effective_date": rf"avec\s+effet\s+au\s+{_DATE}",
            "end_date": rf"jusqu'au\s+{_DATE}",
        }
        for fld, p in patterns.items():
            m = re.compile(p).search(v, s, e)
            if not m:
                continue
            day = _date(m)
            if fld == "decision":
                reg.decision = self.inline(*m.span())
                reg.spans["decision"] = self.span(*m.span())
                fld = "decision_date"
            setattr(reg, fld, day)
            reg.spans[fld] = self.span(m.start("d"), m.end("y"))
        m = re.compile(r"Enregistrement\s+pour\s+(\w+)\s+ans?\b").search(v, s, e)
        if m:
            word = m.group(1).lower()
            reg.duration_years = int(word) if word.isdigit() else _NUMBER_WORDS.get(word)
            reg.spans["duration_years"] = self.span(*m.span(1))
        m = re.compile(r"sous\s+l'intitulé\s*[\"«]\s*(.+?)\s*[\"»]", re.S).search(v, s, e)
        if m:
            reg.registered_title = self.inline(*m.span(1))
            reg.spans["registered_title"] = self.span(*m.span(1))
        if reg.decision is None:
            self.warn("registration-decision-missing",
                      "pas de « Arrêté du … publié au Journal Officiel du … » : date de décision et de JO inconnues",
                      "registration", self.span(s, e))
        f.registration = reg

    # -- statistics, sources, places -------------------------------------------------------------------
    def read_information(self, f: Fiche) -> None:
        sec = self.sec("statistics")
        if sec:
            m = re.compile(r"(\d[\d ]*\d|\d)\s+(?:fois|titulaires|certifi)").search(self.view, sec.start, sec.end)
            if m:
                f.awards_per_year = int(m.group(1).replace(" ", ""))
                f.spans["awards_per_year"] = self.span(*m.span(1))
        sec = self.sec("sources")
        if sec:
            for m in URL_RE.finditer(self.raw, sec.start, sec.end):
                url = m.group(0).rstrip(".,;")
                f.other_sources.append(url)
                f.spans[f"other_sources[{len(f.other_sources) - 1}]"] = self.span(m.start(), m.start() + len(url))
        sec = self.sec("places")
        if sec:
            for a, b in self.paragraphs(sec.start, sec.end):
                f.certification_places.append(self.inline(a, b))
                f.spans[f"certification_places[{len(f.certification_places) - 1}]"] = self.span(a, b)

    def read_history(self, f: Fiche) -> None:
        sec = self.sec("history")
        if not sec:
            return
        s, e = self.trim(sec.start, sec.end)
        h = History(text=self.block(s, e), spans={"text": self.span(s, e)})
        v = self.view
        m = re.compile(r"\(CQPM\s+(?:n°\s*)?(\d{3,4})\)").search(v, s, e)
        if m:
            h.cqpm_number = m.group(1)
            h.spans["cqpm_number"] = self.span(*m.span(1))
        m = re.compile(r"sous\s+le\s+n°\s*(\d{4}\s\d{2}\s\d{2}\s\d{4})").search(v, s, e)
        if m:
            h.gtp_number = m.group(1)
            h.spans["gtp_number"] = self.span(*m.span(1))
        m = re.compile(rf"validé\s+par\s+(?:le\s+|la\s+)?(?P<body>[^,\n]+?)\s+(?:le\s+{_DATE}|en\s+(?P<year>\d{{4}}))"
                       ).search(v, s, e)
        if m:
            h.validation_body = self.inline(*m.span("body"))
            h.spans["validation_body"] = self.span(*m.span("body"))
            if m.group("year"):
                h.validation_year = int(m.group("year"))
                h.spans["validation_year"] = self.span(*m.span("year"))
            else:
                h.validation_date = _date(m)
                h.validation_year = h.validation_date.year
                h.spans["validation_date"] = h.spans["validation_year"] = self.span(m.start("d"), m.end("y"))
        m = re.compile(rf"version\s+actuelle\s+a\s+été\s+validée[^.]*?\bdu\s+{_DATE}").search(v, s, e)
        if m:
            h.revision_date = _date(m)
            h.spans["revision_date"] = self.span(m.start("d"), m.end("y"))
        m = re.compile(r"Catégorie\s+([A-Z]\*?)").search(v, s, e)
        if m:
            h.category = m.group(1)
            h.spans["category"] = self.span(*m.span(1))
        m = re.compile(r"créée?\s+en\s+(\d{4})").search(v, s, e)
        if m:
            h.creation_year = int(m.group(1))
            h.spans["creation_year"] = self.span(*m.span(1))
        f.history = h


def _date(m: re.Match) -> date:
    """The date of a match of ``_DATE`` (groups ``d``, ``mo`` (French month name), ``y``)."""
    return date(int(m.group("y")), _MONTHS[m.group("mo").lower()], int(m.group("d")))
