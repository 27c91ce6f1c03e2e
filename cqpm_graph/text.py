"""Text cleaning shared by the fiche parser: markup masking, look-alike and OCR repair, line joining.

Two kinds of helpers live here:

* :func:`mask_markup` builds a *view* of a document **of exactly the same length** as the source, with
  HTML tags, Markdown emphasis/headings/links, look-alike letters, typographic apostrophes and dashes
  neutralised character for character. Regular expressions run on the view; the offsets they return
  are valid in the original text, so every extracted value keeps an exact source span.
* the cleaners (:func:`clean_inline`, :func:`clean_block`, :func:`strip_html` …) turn a stretch of raw or
  masked text into the value stored in the model.

Only the standard library is used (``re``, ``html``, ``unicodedata``).
"""
from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

#: Cyrillic and Greek letters that print like Latin ones (OCR and copy-paste noise), mapped to
#: the Latin letter they imitate. One code point to one code point, so masking keeps offsets.
LOOKALIKES: dict[str, str] = {
    # Cyrillic capitals
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S",
    # Cyrillic small letters
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j",
    "ѕ": "s", "һ": "h", "ԁ": "d",
    # Greek capitals
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Greek small letters
    "ο": "o", "ν": "v",
}

#: Typographic punctuation mapped one to one onto its plain form (apostrophes, quotes, dashes, spaces).
PUNCTUATION: dict[str, str] = {
    "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"',
    "\u2013": "-", "\u2014": "-", "\u2011": "-", "\u2212": "-",
    "\u00a0": " ", "\u202f": " ", "\u2009": " ",
}

#: Bullets and check boxes that mark list items; the cleaners drop them.
MARKERS = "•▪◦●☐☑☒"

_TAG_RE = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)(?=[\s/>])[^<>]*>")
_BLOCK_TAGS = frozenset({"p", "br", "li", "ul", "ol", "div", "tr", "td", "th", "table",
                         "h1", "h2", "h3", "h4", "h5", "h6"})
_MD_HEADING_RE = re.compile(r"^[ \t]*#{1,6}[ \t]", re.M)
_MD_LINK_RE = re.compile(r"\[([^\[\]\n]*)\]\(([^()\s]*)\)")
_WORD_RE = re.compile(r"\w+")
_URL_LINE_RE = re.compile(r"^\s*<?https?://\S+>?\s*$")
URL_RE = re.compile(r"https?://[^\s<>()\[\]\"']+")
_LIST_LINE_RE = re.compile(r"^\s*(?:[-*•]|[AC]\d{1,2}\b|\d{1,2}\))")


# -- masking (same-length view) --------------------------------------------------------------

def _blank(s: str, lead: str = "") -> str:
    """*lead* followed by spaces, as long as *s* (keeps the newlines of *s* so line numbers hold)."""
    body = lead + " " * (len(s) - len(lead))
    return "".join("\n" if c == "\n" else b for c, b in zip(s, body))


def _mask_tag(m: re.Match) -> str:
    tag, name = m.group(0), m.group(1).lower()
    if name == "input" and "checkbox" in tag.lower():
        return _blank(tag, "☐")          # a check box starts a criterion: keep one marker
    if name in _BLOCK_TAGS and len(tag) >= 3:
        return _blank(tag, "\n\n")        # block tags end a paragraph
    return _blank(tag)


def repair_lookalikes(text: str) -> str:
    """Map Cyrillic/Greek look-alike letters to Latin inside otherwise-Latin words and lone marks.

    A word is repaired when all its non-ASCII letters are look-alikes (``"Оu"`` → ``"Ou"``, a lone
    ``"Х"`` → ``"X"``); a genuine Cyrillic or Greek word (with letters that have no Latin twin) is left
    alone. The result has the same length as *text*.
    """
    if not any(c in LOOKALIKES for c in text):
        return text

    def fix(m: re.Match) -> str:
        word = m.group(0)
        if not any(c in LOOKALIKES for c in word):
            return word
        foreign = [c for c in word if c.isalpha() and not _is_latin(c) and c not in LOOKALIKES]
        return word if foreign else "".join(LOOKALIKES.get(c, c) for c in word)

    return _WORD_RE.sub(fix, text)


def _is_latin(c: str) -> bool:
    return c.isascii() or "LATIN" in unicodedata.name(c, "")


def mask_markup(text: str) -> str:
    """Return a view of *text* with the same length, for pattern matching.

    HTML tags become spaces (block tags ``<p>``, ``<li>`` … start with ``"\\n\\n"`` so they end a
    paragraph; a check box ``<input type="checkbox"/>`` becomes ``"☐"``); Markdown ``**``, heading
    hashes and link brackets become spaces (a link keeps its text, its URL is blanked); look-alike
    letters, typographic apostrophes/dashes and no-break spaces get their plain form; bullets ``•``
    and carriage returns become spaces. ``view[i:j]`` therefore always describes ``text[i:j]``.
    """
    view = _TAG_RE.sub(_mask_tag, text)
    view = view.replace("**", "  ")
    view = _MD_HEADING_RE.sub(lambda m: _blank(m.group(0)), view)
    view = _MD_LINK_RE.sub(lambda m: " " + m.group(1) + _blank(m.group(0)[len(m.group(1)) + 1:]), view)
    view = repair_lookalikes(view)
    view = view.translate(str.maketrans({**PUNCTUATION, "•": " ", "\r": " "}))   # CRLF: "$" still works
    assert len(view) == len(text)
    return view


# -- cleaning ------------------------------------------------------------------------------------

def strip_html(text: str) -> str:
    """Remove HTML tags (block tags become line breaks) and decode entities (``&amp;`` → ``&``)."""
    out = _TAG_RE.sub(lambda m: "\n" if m.group(1).lower() in _BLOCK_TAGS else " ", text)
    return html.unescape(out)


_ELISION_I_RE = re.compile(r"(?<![\w'])I'(?=[A-ZÀ-Þ])")
_SPACED_ACRONYM_RE = re.compile(r"\b([A-Z])(?:[.,] ?([A-Z]))(?:[.,] ?([A-Z]))?(?:[.,] ?([A-Z]))?\b")
_ACRONYM_RE = re.compile(r"\b[A-Z]{2,5}\b")


def known_acronyms(text: str) -> set[str]:
    """Acronyms containing a ``Q`` that *text* uses at least twice, plain (``QSE``) or spaced
    (``Q, S, E``). They are the context in which :func:`repair_ocr` may read ``O`` as ``Q``."""
    counts = Counter(_ACRONYM_RE.findall(text))
    for m in _SPACED_ACRONYM_RE.finditer(text):
        counts["".join(g for g in m.groups() if g)] += 1
    return {a for a, n in counts.items() if n >= 2 and "Q" in a}


def _o_to_q(token: str, acronyms: set[str]) -> str | None:
    """The acronym *token* stands for when OCR read its ``Q`` as ``O``, or ``None``."""
    if "O" not in token or token in acronyms:
        return None
    for a in acronyms:
        if len(a) == len(token) and all(x == y or (x == "O" and y == "Q") for x, y in zip(token, a)):
            return a
    return None


def repair_ocr(text: str, acronyms: Iterable[str] = ()) -> str:
    """Repair OCR confusions that are unambiguous in French.

    * ``I'`` before a capitalised word is an ``l'`` (``"de I'UIMM"`` → ``"de l'UIMM"``; ``"L'"`` at
      the start of a sentence) - French has no ``I'`` elision.
    * an all-caps token or spaced initials differing from one of *acronyms* (see
      :func:`known_acronyms`) only by ``O`` for ``Q`` take that acronym (``"OSE"`` → ``"QSE"``,
      ``"O. S. E"`` → ``"Q, S, E"``). Without such context nothing is changed.
    """
    text = _ELISION_I_RE.sub(
        lambda m: "L'" if re.search(r"(^|[.!?:]\s*)$", text[:m.start()]) else "l'", text)
    acr = set(acronyms)
    if not acr:
        return text

    def spaced(m: re.Match) -> str:
        letters = [g for g in m.groups() if g]
        fixed = _o_to_q("".join(letters), acr)
        return ", ".join(fixed) if fixed else m.group(0)

    text = _SPACED_ACRONYM_RE.sub(spaced, text)
    return _ACRONYM_RE.sub(lambda m: _o_to_q(m.group(0), acr) or m.group(0), text)


def clean_inline(text: str, acronyms: Iterable[str] = ()) -> str:
    """One-line value: tags stripped, entities decoded, markers dropped, look-alikes and OCR repaired,
    typographic apostrophes made plain, every run of white space (line breaks included) one space."""
    text = strip_html(text)
    text = text.replace("**", "")
    text = _MD_LINK_RE.sub(lambda m: m.group(1), text)
    text = repair_lookalikes(text).translate(str.maketrans({**PUNCTUATION, **{c: " " for c in MARKERS}}))
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,)])", r"\1", text)
    text = re.sub(r"\(\s+", "(", text)
    return repair_ocr(text, acronyms)


def join_lines(lines: Iterable[str]) -> list[str]:
    """Re-join hard-wrapped lines: a line continues the previous one unless it starts a list item
    (``-``, ``•``, ``A1``, ``C1``, ``1)``) or the previous one is empty. Returns the logical lines."""
    out: list[str] = []
    prev_blank = True
    for line in lines:
        if not line.strip():
            prev_blank = True
            continue
        if prev_blank or not out or _LIST_LINE_RE.match(line):
            out.append(line.strip())
        else:
            out[-1] += " " + line.strip()
        prev_blank = False
    return out


def clean_block(text: str, acronyms: Iterable[str] = ()) -> str:
    """Multi-line prose: paragraphs (blank line or block tag apart) and list items each on one line,
    hard-wrapped lines joined, stray URL-only lines (PDF page footers) dropped, each line cleaned
    with :func:`clean_inline`."""
    text = _TAG_RE.sub(lambda m: "\n\n" if m.group(1).lower() in _BLOCK_TAGS else " ", text)
    text = text.replace("•", "\n")
    lines = [ln for ln in text.split("\n") if not _URL_LINE_RE.match(ln)]
    cleaned = (clean_inline(ln, acronyms) for ln in join_lines(lines))
    return "\n".join(ln for ln in cleaned if ln and ln not in "-*")


def strip_item_punctuation(text: str) -> str:
    """Drop list punctuation at the end of an item (``" ;"``, ``","``, ``"."``), keeping ``"..."``."""
    text = text.strip()
    while text and text[-1] in ";,." and not text.endswith("..."):
        text = text[:-1].rstrip()
    return text


def normalise_for_compare(text: str) -> str:
    """Key for comparing two wordings: ignores case, accents, punctuation, spacing, apostrophe style,
    ``œ``/``oe`` and look-alike letters (``"Mise en œuvre, Q.S.E."`` == ``"mise en oeuvre QSE"``
    up to spacing of initials)."""
    text = repair_lookalikes(text).translate(str.maketrans(PUNCTUATION))
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[^\w]+", " ", text)
    text = re.sub(r"\b(\w) (?=\w\b)", r"\1", text)   # "q s e" and "qse" compare equal
    return re.sub(r"\s+", " ", text).strip()


def find_urls(text: str) -> list[str]:
    """The ``http(s)://`` URLs in *text*, in order, trailing punctuation removed."""
    return [u.rstrip(".,;") for u in URL_RE.findall(text)]


def has_lookalikes(text: str) -> bool:
    """Whether *text* holds a look-alike letter inside a Latin word or as a lone mark."""
    return repair_lookalikes(text) != text


def line_number(text: str, pos: int) -> int:
    """1-based line number of offset *pos* in *text*."""
    return text.count("\n", 0, pos) + 1
