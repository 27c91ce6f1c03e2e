"""Plain records for what a fiche says, between parsing and RDF mapping.

The parser (:mod:`cqpm_graph.fiche`) fills these; the mapper (:mod:`cqpm_graph.mapping`) turns them into
triples. They hold cleaned values *and* where each came from: ``spans`` maps a field name to the
:class:`Span` of raw source text it was read from (character offsets into the decoded file).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

#: Access routes of the RNCP "conditions d'inscription" table, keyed as in the URI scheme
#: (``voie-acces/<key>``), with their official French wording.
ACCESS_ROUTES: dict[str, str] = {
    "formation-initiale": "Après un parcours de formation sous statut d'élève ou d'étudiant",
    "apprentissage": "En contrat d'apprentissage",
    "formation-continue": "Après un parcours de formation continue",
    "contrat-professionnalisation": "En contrat de professionnalisation",
    "candidature-individuelle": "Par candidature individuelle",
    "vae": "Par expérience (VAE)",
}


@dataclass(frozen=True)
class Span:
    """A stretch of raw source text: ``text == source[start:end]`` and ``line`` is 1-based."""

    start: int
    end: int
    text: str
    line: int = 0


@dataclass
class ParseWarning:
    """A value the parser could only partly read (never a silent guess).

    :ivar code: stable machine code, e.g. ``certifier-missing``, ``access-route-ambiguous``.
    :ivar message: French sentence for people, naming the file and what was seen.
    :ivar field: the model field concerned (``"certifier"``, ``"capacities[C6]"`` …).
    :ivar span: the raw text concerned, when there is one.
    """

    code: str
    message: str
    field: str = ""
    span: Span | None = None


@dataclass
class Activity:
    """An activité visée: ``code`` ``A1`` …, ``label`` cleaned French text."""

    code: str
    label: str
    spans: dict[str, Span] = field(default_factory=dict)


@dataclass
class Criterion:
    """An observable criterion of a capacity (CQPM référentiel), in document order."""

    label: str
    spans: dict[str, Span] = field(default_factory=dict)


@dataclass
class Capacity:
    """A capacité professionnelle.

    :ivar code: normalised code ``C1`` … whatever the source numbering (``1)``, ``1.``, ``- C1-``).
    :ivar label: the preferred wording (the summary list "capacités attestées" when there is one,
        else the bloc's or the référentiel's).
    :ivar alt_labels: other wordings of the same capacity found in the fiche (e.g. in its bloc) that
        differ from ``label`` beyond punctuation and spacing.
    :ivar bloc_code: code of the bloc listing it (``RNCP28229BC01``), ``None`` when the fiche has no blocs.
    :ivar condition: realisation condition (référentiel only).
    :ivar criteria: observable criteria (référentiel only).
    """

    code: str
    label: str
    alt_labels: list[str] = field(default_factory=list)
    bloc_code: str | None = None
    condition: str | None = None
    criteria: list[Criterion] = field(default_factory=list)
    spans: dict[str, Span] = field(default_factory=dict)


@dataclass
class Bloc:
    """A bloc de compétences: ``code`` ``RNCP28229BC01``, ``number`` 1, cleaned ``title``,
    the ``capacity_codes`` it lists (``["C1", "C2"]``) in order, and its evaluation text."""

    code: str
    number: int
    title: str
    capacity_codes: list[str] = field(default_factory=list)
    evaluation: str = ""
    spans: dict[str, Span] = field(default_factory=dict)


@dataclass
class AccessCondition:
    """One row of the "conditions d'inscription" table.

    :ivar route: key of :data:`ACCESS_ROUTES`.
    :ivar is_open: ``True`` (OUI), ``False`` (NON), ``None`` when the source lost the column.
    :ivar jury: composition du jury, if given.
    """

    route: str
    is_open: bool | None
    jury: str | None = None
    spans: dict[str, Span] = field(default_factory=dict)


@dataclass
class Registration:
    """Registration in the register (base légale).

    :ivar decision: wording of the act, e.g. ``"Arrêté du 07 avril 2017"``.
    :ivar decision_date: date of the arrêté; ``journal_officiel_date`` its JO publication date;
        ``effective_date`` / ``end_date`` the registration period.
    :ivar duration_years: declared duration ("pour cinq ans" → 5).
    :ivar registered_title: the title it is registered under.
    """

    decision: str | None = None
    decision_date: date | None = None
    journal_officiel_date: date | None = None
    effective_date: date | None = None
    end_date: date | None = None
    duration_years: int | None = None
    registered_title: str | None = None
    text: str = ""
    spans: dict[str, Span] = field(default_factory=dict)


@dataclass
class History:
    """Historique de la certification: CQPM number, validation, category.

    :ivar cqpm_number: ``"0251"``; ``gtp_number`` the Groupe Technique Paritaire number
        (``"2006 07 74 0251"``); ``validation_date`` full date when given, ``validation_year`` always
        when a year is given; ``revision_date`` a later validation of the current version;
        ``category`` ``"B"``, ``"C*"``; ``creation_year`` (``"créé en 1997"``).
    """

    cqpm_number: str | None = None
    gtp_number: str | None = None
    validation_date: date | None = None
    validation_year: int | None = None
    validation_body: str | None = None
    revision_date: date | None = None
    category: str | None = None
    creation_year: int | None = None
    text: str = ""
    spans: dict[str, Span] = field(default_factory=dict)


@dataclass
class Fiche:
    """Everything read from one certification document.

    :ivar source_path: the file read; ``source_name`` its file name; ``sha256`` of its bytes.
    :ivar layout: ``rncp-html`` | ``rncp-markdown`` | ``rncp-pdf`` | ``rncp-ocr`` | ``cqpm-referentiel``.
    :ivar registry: ``"RNCP"`` | ``"RS"`` | ``None`` (a référentiel without a register number).
    :ivar number: ``"RNCP28229"`` or ``None``.
    :ivar cert_id: ``number`` when there is one, else ``"CQPM-<slug of the title>"``.
    :ivar title: official intitulé (``prefLabel``); ``short_title`` without the "Certificat de
        qualification professionnelle … (CQPM)" frame; ``abbreviation`` ``"CQP"``; ``kind`` ``"CQPM"``.
    :ivar nsf: ``[(code, label as printed)]``; ``rome`` likewise; ``idcc`` ``[(number, label)]``.
    :ivar awards_per_year: average number of certificates awarded per year.
    :ivar validity: "Validité des composantes acquises" as printed (``"illimitée"``, ``"5 an(s)"``);
        ``validity_years`` its number of years, ``None`` when unlimited or absent.
    """

    source_path: Path
    source_name: str
    sha256: str
    layout: str
    cert_id: str
    title: str
    registry: str | None = None
    number: str | None = None
    short_title: str | None = None
    abbreviation: str | None = None
    kind: str | None = None
    certifier: str | None = None
    signatory: str | None = None
    idcc: list[tuple[str, str]] = field(default_factory=list)
    nsf: list[tuple[str, str]] = field(default_factory=list)
    formacodes: list[tuple[str, str]] = field(default_factory=list)
    summary: str = ""
    activities: list[Activity] = field(default_factory=list)
    capacities: list[Capacity] = field(default_factory=list)
    blocs: list[Bloc] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    sectors: str = ""
    rome: list[tuple[str, str]] = field(default_factory=list)
    access: list[AccessCondition] = field(default_factory=list)
    new_caledonia: bool | None = None
    french_polynesia: bool | None = None
    validity: str | None = None
    validity_years: int | None = None
    registration: Registration | None = None
    awards_per_year: int | None = None
    history: History | None = None
    other_sources: list[str] = field(default_factory=list)
    certification_places: list[str] = field(default_factory=list)
    warnings: list[ParseWarning] = field(default_factory=list)
    spans: dict[str, Span] = field(default_factory=dict)

    def capacity(self, code: str) -> Capacity | None:
        """The capacity with this code (``"C3"``), or ``None``."""
        return next((c for c in self.capacities if c.code == code), None)

    def bloc(self, code: str) -> Bloc | None:
        """The bloc with this code (``"RNCP28229BC01"``), or ``None``."""
        return next((b for b in self.blocs if b.code == code), None)


class FicheParseError(ValueError):
    """A fiche the parser cannot read: the message names the file and what was not found."""

    def __init__(self, path: Path | str, what: str):
        self.path = str(path)
        self.what = what
        super().__init__(f"{path}: {what}")
