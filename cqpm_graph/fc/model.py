"""Plain records for one fiche of the France Compétences export, between reading and RDF mapping.

Both readers (:mod:`cqpm_graph.fc.csv_export`, :mod:`cqpm_graph.fc.xml_export`) fill an :class:`FCFiche`
with cleaned values (apostrophes undoubled, SIRET without its tab, dates as :class:`datetime.date`);
:mod:`cqpm_graph.fc.mapping` turns it into quads.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass
class FCOrganisation:
    """A certifier or partner: ``name`` as printed, ``siret`` 14 digits (checked) or ``None``;
    ``habilitation`` the partner's habilitation code (``HABILITATION_ORGA_FORM``), ``None`` for a certifier."""

    name: str
    siret: str | None = None
    habilitation: str | None = None


@dataclass
class FCBloc:
    """A bloc de compétences: ``code`` ``RNCP509BC01``, ``label``; from the XML export also the raw
    ``competences_text`` (LISTE_COMPETENCES, often HTML), the ``capacities`` split from it and the
    ``evaluation`` text (MODALITES_EVALUATION)."""

    code: str
    label: str
    competences_text: str | None = None
    capacities: list[str] = field(default_factory=list)
    evaluation: str | None = None


@dataclass
class FCAccess:
    """One access route (key of :data:`cqpm_graph.model.ACCESS_ROUTES`): open or not, jury composition."""

    route: str
    is_open: bool
    jury: str | None = None


@dataclass
class FCFiche:
    """Everything the export says about one certification.

    :ivar number: ``RNCP509`` / ``RS6117``; ``registry`` ``"RNCP"`` or ``"RS"``.
    :ivar fiche_id: the export's technical identifier (``Id_Fiche`` / ``ID_FICHE``).
    :ivar level: ``NIV1`` … ``NIV8`` or ``None``; ``level_label`` the export's wording
        (``"Niveau 3"``, or the "Sans niveau …" sentence of a ``REPRISE`` fiche);
        ``level_code`` the raw code (``REPRISE`` kept here).
    :ivar active: ``True`` for ACTIVE / Oui, ``False`` for INACTIVE / Non.
    :ivar replaces: numbers of the older certifications (Ancienne_Certification), ``replaced_by`` the newer.
    :ivar line: line of the fiche in its main file (Standard CSV, or the XML ``<FICHE>`` start tag).
    """

    number: str
    registry: str
    title: str
    fiche_id: str | None = None
    abbreviation: str | None = None
    abbreviation_label: str | None = None
    level: str | None = None
    level_code: str | None = None
    level_label: str | None = None
    active: bool | None = None
    state: str | None = None
    new_caledonia: bool | None = None
    french_polynesia: bool | None = None
    journal_officiel_date: date | None = None
    decision_date: date | None = None
    end_date: date | None = None
    effective_date: date | None = None
    registration_type: str | None = None
    duration_years: int | None = None
    partial_validation: bool | None = None
    rome: list[tuple[str, str]] = field(default_factory=list)
    nsf: list[tuple[str, str]] = field(default_factory=list)
    formacodes: list[tuple[str, str]] = field(default_factory=list)
    idcc: list[tuple[str, str]] = field(default_factory=list)
    certifiers: list[FCOrganisation] = field(default_factory=list)
    partners: list[FCOrganisation] = field(default_factory=list)
    access: list[FCAccess] = field(default_factory=list)
    blocs: list[FCBloc] = field(default_factory=list)
    replaces: list[str] = field(default_factory=list)
    replaced_by: list[str] = field(default_factory=list)
    line: int | None = None
