"""Read the XML export of France Compétences: ``export-fiches-rncp-v4-x-YYYY-MM-DD`` (zip or plain XML).

Format (flux « v4 », one ``<FICHE>`` per certification under the root ``<FICHES>``)::

    <FICHES>
      <FICHE>
        <ID_FICHE>14791</ID_FICHE> <NUMERO_FICHE>RNCP509</NUMERO_FICHE> <INTITULE>…</INTITULE>
        <ABREGE><CODE>CAP</CODE><LIBELLE>Certificat d'aptitude professionnelle</LIBELLE></ABREGE>
        <ETAT_FICHE>Publiée</ETAT_FICHE> <ACTIF>Oui|Non</ACTIF>
        <DATE_DERNIER_JO>, <DATE_DECISION>, <DATE_FIN_ENREGISTREMENT>, <DATE_EFFET>   (JJ/MM/AAAA)
        <TYPE_ENREGISTREMENT>, <VALIDATION_PARTIELLE>Oui|Non, <DUREE_ENREGISTREMENT>
        <NOMENCLATURE_EUROPE><NIVEAU>NIV3</NIVEAU><INTITULE>Niveau 3</INTITULE></NOMENCLATURE_EUROPE>
        <CODES_NSF><NSF><CODE/><INTITULE/></NSF>…</CODES_NSF>
        <CODES_ROME><ROME><CODE/><LIBELLE/></ROME>…</CODES_ROME>
        <FORMACODES><FORMACODE><CODE/><LIBELLE/></FORMACODE>…</FORMACODES>
        <CERTIFICATEURS><CERTIFICATEUR><SIRET_CERTIFICATEUR/><NOM_CERTIFICATEUR/></CERTIFICATEUR>…
        <PARTENAIRES><PARTENAIRE><NOM_PARTENAIRE/><SIRET_PARTENAIRE/><HABILITATION_PARTENAIRE/></PARTENAIRE>…
        <BLOCS_COMPETENCES><BLOC_COMPETENCES><CODE/><LIBELLE/><LISTE_COMPETENCES/><MODALITES_EVALUATION/>…
        <SI_JURY_FI>Oui|Non</SI_JURY_FI> <JURY_FI>composition</JURY_FI>   (also CA, FC, CQ, CL, VAE)
        <ACCESSIBLE_NOUVELLE_CALEDONIE>, <ACCESSIBLE_POLYNESIE_FRANCAISE>
        <CCN_1><NUMERO/><LIBELLE/></CCN_1> … <CCN_3>,  <CODES_IDCC><IDCC><CODE/><LIBELLE/></IDCC>…
        <ANCIENNES_CERTIFICATIONS><ANCIENNE_CERTIFICATION>
            <ID_FICHE_ANCIENNE_CERTIFICATION>RNCP1197</ID_FICHE_ANCIENNE_CERTIFICATION>
        </ANCIENNE_CERTIFICATION></ANCIENNES_CERTIFICATIONS>          (NOUVELLES_… likewise)
      </FICHE>
    </FICHES>

Elements the importer does not use (ACTIVITES_VISEES, STATISTIQUES_PROMOTIONS …) are skipped. The file is
streamed with lxml's ``iterparse`` (libxml2: the tree of a fiche is built in C, and every element keeps its
``sourceline`` for error messages — the standard library's parsers give no line per element; on the
project's machine the 25,000 fiches of the national-scale synthetic export are read in ~4 s against ~11 s
with Python-level expat handlers); each ``<FICHE>`` is turned into an :class:`~cqpm_graph.fc.model.FCFiche`
and dropped as soon as it is closed: memory stays bounded by one fiche whatever the size of the export.
Entities are not resolved and nothing is fetched from the network (untrusted input).
"""
from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from .clean import (BLOC_CODE_RE, LEVEL_RE, NO_LEVEL, ROUTE_XML_CODES, clean_text, html_to_lines, parse_bool,
                    parse_date, parse_number, parse_siret, split_competences, strip_code_prefix)
from .csv_export import FORMACODE_RE, IDCC_RE, NSF_CODE_RE, ROME_CODE_RE, member_name
from .errors import FCExportError
from .model import FCAccess, FCBloc, FCFiche, FCOrganisation

def _raw(el) -> str:
    """Text content of *el*; child elements (unescaped HTML inside a text field) are serialised back, tags in
    lower case (``<p>``, ``<li>``), attributes as read."""
    if len(el) == 0:
        return el.text or ""
    out = [el.text or ""]
    for c in el:
        attrs = "".join(f' {k}="{v}"' for k, v in c.attrib.items())
        tag = c.tag.lower()
        out.append(f"<{tag}{attrs}>{_raw(c)}</{tag}>{c.tail or ''}")
    return "".join(out)


def _own_text(el) -> str:
    """The text directly inside *el* (its children's text left out)."""
    return (el.text or "") + "".join(c.tail or "" for c in el)


class Node:
    """One element of a ``<FICHE>`` (an lxml element): ``tag``, start ``line``; its children are looked up
    through a dict built on first use (a FICHE is asked for some forty of them)."""

    __slots__ = ("el", "_first")

    def __init__(self, el):
        self.el = el
        self._first = None

    @property
    def tag(self) -> str:
        return self.el.tag

    @property
    def line(self) -> int:
        return self.el.sourceline

    def _find(self, tag: str):
        first = self._first
        if first is None:
            first = self._first = {}
            for c in reversed(self.el):
                first[c.tag] = c
        return first.get(tag)

    def child(self, tag: str) -> "Node | None":
        """The first child element named *tag*, or ``None``."""
        found = self._find(tag)
        return None if found is None else Node(found)

    def all(self, tag: str) -> list["Node"]:
        return [Node(c) for c in self.el if c.tag == tag]

    def raw(self) -> str:
        return _raw(self.el)

    def own_text(self) -> str:
        return _own_text(self.el)

    def text(self, tag: str) -> str:
        found = self._find(tag)
        if found is None:
            return ""
        return clean_text(found.text if len(found) == 0 else _raw(found))


def _open(path: Path):
    """``(display name, binary stream)`` of the XML document (the first ``.xml`` member of a zip)."""
    if zipfile.is_zipfile(path):
        try:
            zf = zipfile.ZipFile(path)
            infos = [i for i in zf.infolist() if member_name(i).lower().endswith(".xml")]
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise FCExportError(path.name, None, None, f"archive zip tronquée ou corrompue : {exc}") from exc
        if not infos:
            raise FCExportError(path.name, None, None, "aucun fichier .xml dans l'archive")
        return member_name(infos[0]).rsplit("/", 1)[-1], zf.open(infos[0])
    return path.name, open(path, "rb")


def read_xml_export(path: Path | str) -> Iterator[FCFiche]:
    """Yield every ``<FICHE>`` of an XML export as an :class:`FCFiche`, streaming.

    :param path: ``export-fiches-rncp-v4-x-YYYY-MM-DD.zip`` or the ``.xml`` itself.
    :raises FCExportError: truncated or corrupt archive, malformed XML (with its line), root other than
        ``FICHES``, missing NUMERO_FICHE / INTITULE, malformed number, date, SIRET, level, code or
        Oui/Non value, a fiche present twice — naming the file, line and element.
    """
    from lxml import etree

    path = Path(path)
    name, stream = _open(path)
    seen: dict[str, int] = {}
    root = None
    try:
        with stream:
            events = etree.iterparse(stream, events=("end",), tag="FICHE", resolve_entities=False,
                                     no_network=True, remove_comments=True, remove_pis=True, huge_tree=True)
            try:
                for _event, el in events:
                    parent = el.getparent()
                    if root is None:
                        root = el.getroottree().getroot()
                        if root.tag != "FICHES":
                            raise FCExportError(name, root.sourceline, root.tag,
                                                "élément racine inattendu (attendu FICHES)")
                    if parent is not root:
                        continue  # a FICHE inside another element: not a fiche of the export
                    fiche = _fiche(name, Node(el))
                    if fiche.number in seen:
                        raise FCExportError(name, el.sourceline, "FICHE/NUMERO_FICHE",
                                            f"fiche {fiche.number} déjà lue ligne {seen[fiche.number]}")
                    seen[fiche.number] = el.sourceline
                    yield fiche
                    el.clear(keep_tail=False)
                    while el.getprevious() is not None:  # what precedes it is read: drop it too
                        del parent[0]
            except etree.XMLSyntaxError as exc:
                if root is None and not seen and not exc.lineno:  # libxml2: "no element found", line 0
                    raise FCExportError(name, None, None, "document XML vide ou tronqué") from exc
                raise FCExportError(name, exc.lineno, None, f"XML mal formé : {exc.msg}") from exc
            if root is None:
                root = events.root
                if root is not None and root.tag != "FICHES":
                    raise FCExportError(name, root.sourceline, root.tag, "élément racine inattendu (attendu FICHES)")
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise FCExportError(name, None, None, f"archive tronquée ou corrompue : {exc}") from exc


def _fiche(name: str, f: Node) -> FCFiche:
    def err(node: Node | None, path: str, reason: str):
        raise FCExportError(name, node.line if node is not None else f.line, f"FICHE/{path}", reason)

    def where(node: Node | None, path: str):
        return lambda reason: err(node, path, reason)

    def value(tag):
        return f.text(tag), f.child(tag)

    number_text, number_node = value("NUMERO_FICHE")
    if not number_text:
        err(number_node, "NUMERO_FICHE", "numéro de fiche absent")
    number = parse_number(number_text, where(number_node, "NUMERO_FICHE"))
    title = f.text("INTITULE")
    if not title:
        err(f.child("INTITULE"), "INTITULE", "intitulé absent")

    fiche = FCFiche(number=number, registry="RS" if number.startswith("RS") else "RNCP", title=title,
                    line=f.line, fiche_id=f.text("ID_FICHE") or None, state=f.text("ETAT_FICHE") or None,
                    registration_type=f.text("TYPE_ENREGISTREMENT") or None)
    abrege = f.child("ABREGE")
    if abrege is not None:
        fiche.abbreviation = abrege.text("CODE") or None
        fiche.abbreviation_label = abrege.text("LIBELLE") or None
    actif, node = value("ACTIF")
    if actif:
        fiche.active = parse_bool(actif, where(node, "ACTIF"), true=("Oui", "ACTIVE"), false=("Non", "INACTIVE"))
    for tag, attr in (("DATE_DERNIER_JO", "journal_officiel_date"), ("DATE_DECISION", "decision_date"),
                      ("DATE_FIN_ENREGISTREMENT", "end_date"), ("DATE_EFFET", "effective_date")):
        text, node = value(tag)
        setattr(fiche, attr, parse_date(text, where(node, tag)))
    for tag, attr in (("VALIDATION_PARTIELLE", "partial_validation"),
                      ("ACCESSIBLE_NOUVELLE_CALEDONIE", "new_caledonia"),
                      ("ACCESSIBLE_POLYNESIE_FRANCAISE", "french_polynesia")):
        text, node = value(tag)
        setattr(fiche, attr, parse_bool(text, where(node, tag)))
    text, node = value("DUREE_ENREGISTREMENT")
    if text:
        m = re.match(r"^(\d+)", text)
        if not m:
            err(node, "DUREE_ENREGISTREMENT", f"durée {text!r} illisible (nombre d'années attendu)")
        fiche.duration_years = int(m.group(1))
    level = f.child("NOMENCLATURE_EUROPE")
    if level is not None:
        code = level.text("NIVEAU").upper()
        if code and not (LEVEL_RE.match(code) or code == NO_LEVEL):
            err(level.child("NIVEAU"), "NOMENCLATURE_EUROPE/NIVEAU", f"niveau {code!r} inconnu (NIV1…NIV8 ou REPRISE)")
        fiche.level_code = code or None
        fiche.level = code if code and code != NO_LEVEL else None
        fiche.level_label = level.text("INTITULE") or level.text("LIBELLE") or None

    def coded(container, item, label_tags, pattern, what, strip=False):
        out = []
        box = f.child(container)
        for it in box.all(item) if box is not None else []:
            code = it.text("CODE")
            if not pattern.match(code):
                err(it.child("CODE") or it, f"{container}/{item}/CODE", f"{what} {code!r} malformé")
            label = next((it.text(t) for t in label_tags if it.text(t)), "")
            out.append((code, strip_code_prefix(code, label) if strip else label))
        return out

    fiche.nsf = coded("CODES_NSF", "NSF", ("INTITULE", "LIBELLE"), NSF_CODE_RE, "code NSF", strip=True)
    fiche.rome = coded("CODES_ROME", "ROME", ("LIBELLE", "INTITULE"), ROME_CODE_RE, "code ROME")
    fiche.formacodes = coded("FORMACODES", "FORMACODE", ("LIBELLE",), FORMACODE_RE, "Formacode", strip=True)
    for i in (1, 2, 3):
        ccn = f.child(f"CCN_{i}")
        if ccn is not None and ccn.text("NUMERO"):
            num = ccn.text("NUMERO")
            if not IDCC_RE.match(num):
                err(ccn.child("NUMERO"), f"CCN_{i}/NUMERO", f"numéro IDCC {num!r} malformé")
            fiche.idcc.append((num.zfill(4), ccn.text("LIBELLE")))
    for num, label in coded("CODES_IDCC", "IDCC", ("LIBELLE",), IDCC_RE, "numéro IDCC"):
        if all(n != num.zfill(4) for n, _ in fiche.idcc):
            fiche.idcc.append((num.zfill(4), label))

    box = f.child("CERTIFICATEURS")
    for it in box.all("CERTIFICATEUR") if box is not None else []:
        org = FCOrganisation(name=it.text("NOM_CERTIFICATEUR"),
                             siret=parse_siret(it.text("SIRET_CERTIFICATEUR"),
                                               where(it.child("SIRET_CERTIFICATEUR"), "CERTIFICATEURS/CERTIFICATEUR/SIRET_CERTIFICATEUR")))
        if not org.name:
            err(it, "CERTIFICATEURS/CERTIFICATEUR/NOM_CERTIFICATEUR", "nom du certificateur vide")
        fiche.certifiers.append(org)
    box = f.child("PARTENAIRES")
    for it in box.all("PARTENAIRE") if box is not None else []:
        org = FCOrganisation(name=it.text("NOM_PARTENAIRE"),
                             siret=parse_siret(it.text("SIRET_PARTENAIRE"),
                                               where(it.child("SIRET_PARTENAIRE"), "PARTENAIRES/PARTENAIRE/SIRET_PARTENAIRE")),
                             habilitation=it.text("HABILITATION_PARTENAIRE") or None)
        if not org.name:
            err(it, "PARTENAIRES/PARTENAIRE/NOM_PARTENAIRE", "nom du partenaire vide")
        fiche.partners.append(org)

    box = f.child("BLOCS_COMPETENCES")
    for it in box.all("BLOC_COMPETENCES") if box is not None else []:
        code = it.text("CODE").upper()
        m = BLOC_CODE_RE.match(code)
        if not m or m.group(1) != number:
            err(it.child("CODE") or it, "BLOCS_COMPETENCES/BLOC_COMPETENCES/CODE",
                f"code de bloc {code!r} malformé ou d'une autre fiche")
        raw = it.child("LISTE_COMPETENCES")
        raw_text = raw.raw().strip() if raw is not None else ""
        evaluation = it.child("MODALITES_EVALUATION")
        fiche.blocs.append(FCBloc(
            code=code, label=it.text("LIBELLE"), competences_text=raw_text or None,
            capacities=split_competences(raw_text),
            evaluation="\n".join(html_to_lines(evaluation.raw())) or None if evaluation is not None else None))
    fiche.blocs.sort(key=lambda b: b.code)

    for code, route in ROUTE_XML_CODES.items():
        text, node = value(f"SI_JURY_{code}")
        if text:
            is_open = parse_bool(text, where(node, f"SI_JURY_{code}"))
            jury = f.child(f"JURY_{code}")
            jury_text = "\n".join(html_to_lines(jury.raw())) if jury is not None else ""
            fiche.access.append(FCAccess(route=route, is_open=is_open, jury=jury_text or None))

    for container, item, inner, target in (
            ("ANCIENNES_CERTIFICATIONS", "ANCIENNE_CERTIFICATION", "ID_FICHE_ANCIENNE_CERTIFICATION", fiche.replaces),
            ("NOUVELLES_CERTIFICATIONS", "NOUVELLE_CERTIFICATION", "ID_FICHE_NOUVELLE_CERTIFICATION", fiche.replaced_by)):
        box = f.child(container)
        for it in box.all(item) if box is not None else []:
            text = it.text(inner) or it.text("NUMERO_FICHE") or clean_text(it.own_text())
            if text:
                other = parse_number(text, where(it, f"{container}/{item}"))
                if other not in target:
                    target.append(other)
    return fiche
