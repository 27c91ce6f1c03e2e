"""A synthetic France Compétences export at national scale, in the exact official formats — for benchmarks only.

:func:`generate_fiches` draws ``n`` fiches (default 25,000: ~70 % RNCP with 5-6 blocs each, ~30 % RS without
blocs; ~100,000 blocs and ~400,000 capacities in all) with ROME codes read from
``data/reference/rome-v347/metiers.csv`` and NSF codes from ``data/reference/nsf/nsf-specialites.csv``, both
drawn with Zipf-like frequencies (a few codes very common, a long tail), Formacodes and IDCC likewise, certifiers
from a pool of organisations with valid SIRETs, partners for RS fiches, lineage chains (older fiches inactive and
replaced, RNCP → RS included) and the real quirks (SIRET with a leading tab, doubled apostrophes in the CSV,
DD/MM/YYYY dates, REPRISE levels). :func:`write_csv_export` and :func:`write_xml_export` write them as
``export-fiches-csv-YYYY-MM-DD.zip`` and ``export-fiches-rncp-v4-1-YYYY-MM-DD.zip|.xml``.

Never shipped as data: write it to a temporary directory (``benchmarks/generate_export.py``).
"""
from __future__ import annotations

import bisect
import csv
import datetime
import itertools
import random
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

from ..model import ACCESS_ROUTES
from ..resources import data_dir
from .clean import ROUTE_XML_CODES
from .csv_export import CSV_FILES
from .model import FCAccess, FCBloc, FCFiche, FCOrganisation

ROUTE_WORDS = {
    "formation-initiale": "Après un parcours de formation sous statut d’élève ou d’étudiant",
    "apprentissage": "En contrat d’apprentissage",
    "formation-continue": "Après un parcours de formation continue",
    "contrat-professionnalisation": "En contrat de professionnalisation",
    "candidature-individuelle": "Par candidature individuelle",
    "vae": "Par expérience",
}
XML_CODE = {route: code for code, route in ROUTE_XML_CODES.items()}
VERBS = ["Analyser", "Concevoir", "Organiser", "Piloter", "Réaliser", "Contrôler", "Évaluer", "Planifier", "Conduire",
         "Assurer", "Mettre en œuvre", "Gérer", "Accompagner", "Animer", "Développer", "Identifier", "Rédiger", "Négocier"]
OBJECTS = ["l'activité de l'équipe", "un projet d'aménagement", "la maintenance préventive", "les risques professionnels",
           "la relation client", "un budget prévisionnel", "la qualité des produits", "un plan de formation",
           "les outils numériques", "la sécurité des installations", "un dossier technique", "la production",
           "les achats et approvisionnements", "une démarche commerciale", "la communication interne"]
CONTEXTS = ["dans le respect des règles de sécurité", "en tenant compte des contraintes économiques",
            "à partir d'un cahier des charges", "en lien avec les partenaires", "selon les procédures de l'entreprise", ""]
LEVELS = [("NIV3", 0.20), ("NIV4", 0.18), ("NIV5", 0.20), ("NIV6", 0.22), ("NIV7", 0.17), ("NIV8", 0.01), ("REPRISE", 0.02)]
REPRISE_LABEL = ("Sans niveau – le positionnement dans le cadre de national des certifications professionnelles "
                 "est non déterminé")
ABREGES = [("TP", "Titre professionnel"), ("BTS", "Brevet de technicien supérieur"), ("CAP", "Certificat d'aptitude professionnelle"),
           ("CQP", "Certificat de qualification professionnelle"), ("LP", "Licence Professionnelle"), ("MASTER", "Master"),
           ("TH", "Titre homologué"), ("", "")]


class Zipf:
    """Draw items with probability ∝ 1 / rank**s (rank 1 = first item): skewed like real code frequencies."""

    def __init__(self, items, s: float = 1.1, rng: random.Random | None = None):
        self.items = list(items)
        weights = [1 / (i + 1) ** s for i in range(len(self.items))]
        self.cum = list(itertools.accumulate(weights))
        self.rng = rng or random.Random(0)

    def draw(self, k: int = 1) -> list:
        out = []
        for _ in range(k * 3):
            item = self.items[bisect.bisect(self.cum, self.rng.random() * self.cum[-1])]
            if item not in out:
                out.append(item)
            if len(out) == k:
                break
        return out


def luhn_complete(digits13: str) -> str:
    """The 14-digit SIRET whose last (check) digit makes *digits13* pass Luhn."""
    for d in "0123456789":
        s = digits13 + d
        total = 0
        for i, ch in enumerate(reversed(s)):
            v = int(ch) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return s
    raise AssertionError


def _rome_codes() -> list[tuple[str, str]]:
    with open(data_dir() / "reference" / "rome-v347" / "metiers.csv", encoding="utf-8") as fh:
        return [(r["code_rome"], r["libelle_rome"]) for r in csv.DictReader(fh)]


def _nsf_codes() -> list[tuple[str, str]]:
    with open(data_dir() / "reference" / "nsf" / "nsf-specialites.csv", encoding="utf-8") as fh:
        return [(r["code"], r["libelle"]) for r in csv.DictReader(fh, delimiter=";")]


def generate_fiches(n: int = 25_000, seed: int = 42) -> list[FCFiche]:
    """*n* synthetic fiches (see the module doc); deterministic for a given *seed*."""
    rng = random.Random(seed)
    romes = Zipf(rng.sample(_rome_codes(), k=len(_rome_codes())), 1.05, rng)
    nsf_list = _nsf_codes()
    nsfs = Zipf(rng.sample(nsf_list, k=len(nsf_list)), 1.1, rng)
    formacodes = Zipf([(f"{rng.randint(10000, 99999)}", f"Domaine de formation {i}") for i in range(3000)], 1.05, rng)
    idccs = Zipf([(f"{rng.randint(1, 3250):04d}", f"Convention collective nationale {i}") for i in range(400)], 1.2, rng)
    orgs = [FCOrganisation(name=f"ORGANISME CERTIFICATEUR {i} D''EXEMPLE".replace("''", "'"),
                           siret=luhn_complete(f"{rng.randint(10**12, 10**13 - 1)}")) for i in range(4000)]
    certifiers = Zipf(orgs, 1.0, rng)
    partner_pool = Zipf([FCOrganisation(name=f"CENTRE DE FORMATION {i}", siret=luhn_complete(f"{rng.randint(10**12, 10**13 - 1)}"),
                                        habilitation=rng.choice(["HABILITATION_ORGA_FORM", "HABILITATION_FORMER_EVALUER"]))
                         for i in range(8000)], 0.9, rng)
    level_codes, level_weights = zip(*LEVELS)
    fiches: list[FCFiche] = []
    numbers = list(range(1, n + 1))
    for i in numbers:
        is_rs = rng.random() < 0.3
        number = f"RS{i}" if is_rs else f"RNCP{i}"
        decision = datetime.date(2015, 1, 1) + datetime.timedelta(days=rng.randint(0, 3000))
        years = rng.choice([2, 3, 5, 5, 5])
        f = FCFiche(number=number, registry="RS" if is_rs else "RNCP",
                    title=f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} ({'habilitation' if is_rs else 'titre'} {i})",
                    fiche_id=str(100000 + i), active=True, state="Publiée",
                    new_caledonia=rng.random() < 0.05, french_polynesia=rng.random() < 0.05,
                    journal_officiel_date=None if is_rs else decision + datetime.timedelta(days=rng.randint(5, 40)),
                    decision_date=decision, effective_date=decision + datetime.timedelta(days=rng.randint(0, 30)),
                    end_date=decision + datetime.timedelta(days=365 * years + 1),
                    registration_type=rng.choice(["Enregistrement sur demande", "Enregistrement de droit"]),
                    partial_validation=(rng.random() < 0.5) if is_rs else None, duration_years=years)
        if not is_rs:
            code = rng.choices(level_codes, level_weights)[0]
            f.level_code = code
            f.level = None if code == "REPRISE" else code
            f.level_label = REPRISE_LABEL if code == "REPRISE" else f"Niveau {code[3:]}"
            abrege = rng.choice(ABREGES)
            f.abbreviation, f.abbreviation_label = (abrege[0] or None), (abrege[1] or None)
            capacities = 0
            for b in range(1, rng.choices([3, 4, 5, 6, 7, 8], [5, 15, 25, 25, 20, 10])[0] + 1):
                caps = [f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(CONTEXTS)}".strip()
                        for _ in range(rng.choices([2, 3, 4, 5, 6, 7], [10, 20, 25, 20, 15, 10])[0])]
                capacities += len(caps)
                f.blocs.append(FCBloc(code=f"{number}BC{b:02d}", label=f"Bloc {b} : {rng.choice(VERBS)} {rng.choice(OBJECTS)}",
                                      capacities=caps, competences_text=_competence_html(caps, rng),
                                      evaluation="Mise en situation professionnelle et entretien avec le jury"))
        f.rome = romes.draw(rng.choice([1, 1, 2, 3]))
        for code, label in nsfs.draw(rng.choice([1, 1, 2])):
            if rng.random() < 0.15:
                f.nsf.append((code + rng.choice("nprstuvw"), label))  # a lettered sub-speciality
            else:
                f.nsf.append((code, label))
        f.formacodes = formacodes.draw(rng.choice([1, 2, 3]))
        if rng.random() < 0.15:
            f.idcc = idccs.draw(1)
        f.certifiers = certifiers.draw(rng.choice([1, 1, 1, 2]))
        if is_rs and rng.random() < 0.4:
            f.partners = partner_pool.draw(rng.randint(1, 5))
        open_routes = {r for r in ACCESS_ROUTES if rng.random() < 0.6} | {"vae"}
        f.access = [FCAccess(route=r, is_open=r in open_routes) for r in ACCESS_ROUTES]
        fiches.append(f)
    # lineage chains: ~20 % of the fiches, chains of 2–5, older ones inactive, some RNCP → RS
    pool = list(range(n))
    rng.shuffle(pool)
    pos = 0
    while pos < n * 0.2:
        length = rng.randint(2, 5)
        chain = sorted(pool[pos:pos + length])
        pos += length
        for older, newer in zip(chain, chain[1:]):
            a, b = fiches[older], fiches[newer]
            a.replaced_by.append(b.number)
            b.replaces.append(a.number)
            a.active = False
            if a.blocs and b.registry == "RS":
                pass  # RNCP → RS: allowed, the RS fiche simply has no blocs
    return fiches


def _competence_html(caps: list[str], rng: random.Random) -> str:
    style = rng.randrange(4)
    if style == 0:
        return "<ul>" + "".join(f"<li>{escape(c)}</li>" for c in caps) + "</ul>"
    if style == 1:
        return "<p>Le candidat est capable de :</p><ul>" + "".join(f"<li>{escape(c)} ;</li>" for c in caps) + "</ul>"
    if style == 2:
        return "\n".join(f"- {c}" for c in caps)
    return "<p>" + "<br>".join(f"• {escape(c)}" for c in caps) + "</p>"


def _fr(d: datetime.date | None) -> str:
    return d.strftime("%d/%m/%Y") if d else ""


def _row(values) -> str:
    # the export quotes every non-empty field and leaves empty ones bare; CRLF line ends
    return ";".join(f'"{v.replace(chr(34), chr(34) * 2)}"' if v else "" for v in values) + "\r\n"


def write_csv_export(fiches: list[FCFiche], folder: Path | str, date: str = "2024-02-22") -> Path:
    """Write ``export-fiches-csv-<date>.zip`` (the ten files) into *folder*; returns its path."""
    folder = Path(folder)
    stamp = date.replace("-", "_")
    path = folder / f"export-fiches-csv-{date}.zip"
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        files = {kind: open(Path(tmp) / kind, "w", encoding="utf-8", newline="") for kind in CSV_FILES}
        try:
            for kind, fh in files.items():
                fh.write(_row(CSV_FILES[kind]))
            for f in fiches:
                w = lambda kind, *vals: files[kind].write(_row(vals))  # noqa: E731
                w("Standard", f.fiche_id or "", f.number, f.title, f.abbreviation or "", f.abbreviation_label or "",
                  f.level_code or "", f.level_label or "", "Oui" if f.new_caledonia else "Non",
                  "Oui" if f.french_polynesia else "Non", _fr(f.journal_officiel_date), _fr(f.decision_date),
                  _fr(f.end_date), _fr(f.effective_date), f.registration_type or "",
                  "" if f.partial_validation is None else ("Oui" if f.partial_validation else "Non"),
                  "ACTIVE" if f.active else "INACTIVE")
                for b in f.blocs:
                    w("Blocs_De_Compétences", f.number, b.code, b.label)
                for code, label in f.rome:
                    w("Rome", f.number, code, label.replace("'", "''"))  # the export's doubled apostrophes
                for code, label in f.nsf:
                    w("Nsf", f.number, code, f"{code} : {label}")
                for code, label in f.formacodes:
                    w("Formacode", f.number, code, f"{code} : {label}")
                for o in f.certifiers:
                    w("Certificateurs", f.number, "\t" + o.siret, o.name)
                for o in f.partners:
                    w("Partenaires", f.number, o.name, "\t" + o.siret, o.habilitation or "")
                if f.idcc:
                    vals = [x for pair in f.idcc[:3] for x in pair] + [""] * (6 - 2 * len(f.idcc[:3]))
                    w("CCN", f.number, *vals)
                for a in f.access:
                    if a.is_open:
                        w("VoixdAccès", f.number, ROUTE_WORDS[a.route])
                for old in f.replaces:
                    w("Ancienne_Nouvelle_Certification", f.number, old, "")
                for new in f.replaced_by:
                    w("Ancienne_Nouvelle_Certification", f.number, "", new)
        finally:
            for fh in files.values():
                fh.close()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for kind in CSV_FILES:
                zf.write(Path(tmp) / kind, f"export_fiches_CSV_{kind}_{stamp}.csv")
    return path


def iter_xml(fiches: list[FCFiche]) -> Iterator[str]:
    """The XML export as text chunks (one per fiche)."""
    e = escape
    yield '<?xml version="1.0" encoding="UTF-8"?>\n<FICHES>\n'
    for f in fiches:
        x = [f"<FICHE><ID_FICHE>{f.fiche_id}</ID_FICHE><NUMERO_FICHE>{f.number}</NUMERO_FICHE>"
             f"<INTITULE>{e(f.title)}</INTITULE>"]
        if f.abbreviation:
            x.append(f"<ABREGE><CODE>{e(f.abbreviation)}</CODE><LIBELLE>{e(f.abbreviation_label or '')}</LIBELLE></ABREGE>")
        x.append(f"<ETAT_FICHE>{e(f.state or 'Publiée')}</ETAT_FICHE><ACTIF>{'Oui' if f.active else 'Non'}</ACTIF>")
        for tag, d in (("DATE_DERNIER_JO", f.journal_officiel_date), ("DATE_DECISION", f.decision_date),
                       ("DATE_FIN_ENREGISTREMENT", f.end_date), ("DATE_EFFET", f.effective_date)):
            if d:
                x.append(f"<{tag}>{_fr(d)}</{tag}>")
        x.append(f"<TYPE_ENREGISTREMENT>{e(f.registration_type or '')}</TYPE_ENREGISTREMENT>")
        if f.partial_validation is not None:
            x.append(f"<VALIDATION_PARTIELLE>{'Oui' if f.partial_validation else 'Non'}</VALIDATION_PARTIELLE>")
        if f.duration_years:
            x.append(f"<DUREE_ENREGISTREMENT>{f.duration_years}</DUREE_ENREGISTREMENT>")
        if f.level_code:
            x.append(f"<NOMENCLATURE_EUROPE><NIVEAU>{f.level_code}</NIVEAU><INTITULE>{e(f.level_label or '')}</INTITULE></NOMENCLATURE_EUROPE>")
        for container, item, label_tag, pairs, prefix in (("CODES_NSF", "NSF", "INTITULE", f.nsf, True),
                                                          ("FORMACODES", "FORMACODE", "LIBELLE", f.formacodes, True),
                                                          ("CODES_ROME", "ROME", "LIBELLE", f.rome, False)):
            if pairs:
                x.append(f"<{container}>" + "".join(
                    f"<{item}><CODE>{c}</CODE><{label_tag}>{e(f'{c} : {lab}' if prefix else lab)}</{label_tag}></{item}>"
                    for c, lab in pairs) + f"</{container}>")
        if f.certifiers:
            x.append("<CERTIFICATEURS>" + "".join(
                f"<CERTIFICATEUR><SIRET_CERTIFICATEUR>{o.siret}</SIRET_CERTIFICATEUR><NOM_CERTIFICATEUR>{e(o.name)}</NOM_CERTIFICATEUR></CERTIFICATEUR>"
                for o in f.certifiers) + "</CERTIFICATEURS>")
        if f.partners:
            x.append("<EXISTENCE_PARTENAIRES>Oui</EXISTENCE_PARTENAIRES><PARTENAIRES>" + "".join(
                f"<PARTENAIRE><NOM_PARTENAIRE>{e(o.name)}</NOM_PARTENAIRE><SIRET_PARTENAIRE>{o.siret}</SIRET_PARTENAIRE>"
                f"<HABILITATION_PARTENAIRE>{o.habilitation or ''}</HABILITATION_PARTENAIRE></PARTENAIRE>" for o in f.partners)
                + "</PARTENAIRES>")
        if f.blocs:
            x.append("<BLOCS_COMPETENCES>" + "".join(
                f"<BLOC_COMPETENCES><CODE>{b.code}</CODE><LIBELLE>{e(b.label)}</LIBELLE>"
                f"<LISTE_COMPETENCES>{e(b.competences_text or '')}</LISTE_COMPETENCES>"
                f"<MODALITES_EVALUATION>{e(b.evaluation or '')}</MODALITES_EVALUATION></BLOC_COMPETENCES>"
                for b in f.blocs) + "</BLOCS_COMPETENCES>")
        for a in f.access:
            x.append(f"<SI_JURY_{XML_CODE[a.route]}>{'Oui' if a.is_open else 'Non'}</SI_JURY_{XML_CODE[a.route]}>")
        x.append(f"<ACCESSIBLE_NOUVELLE_CALEDONIE>{'Oui' if f.new_caledonia else 'Non'}</ACCESSIBLE_NOUVELLE_CALEDONIE>"
                 f"<ACCESSIBLE_POLYNESIE_FRANCAISE>{'Oui' if f.french_polynesia else 'Non'}</ACCESSIBLE_POLYNESIE_FRANCAISE>")
        for i, (num, label) in enumerate(f.idcc[:3], start=1):
            x.append(f"<CCN_{i}><NUMERO>{num}</NUMERO><LIBELLE>{e(label)}</LIBELLE></CCN_{i}>")
        for container, item, nums in (("ANCIENNES_CERTIFICATIONS", "ANCIENNE_CERTIFICATION", f.replaces),
                                      ("NOUVELLES_CERTIFICATIONS", "NOUVELLE_CERTIFICATION", f.replaced_by)):
            if nums:
                x.append(f"<{container}>" + "".join(f"<{item}><ID_FICHE_{item}>{n}</ID_FICHE_{item}></{item}>" for n in nums)
                         + f"</{container}>")
        x.append("</FICHE>\n")
        yield "".join(x)
    yield "</FICHES>\n"


def write_xml_export(fiches: list[FCFiche], folder: Path | str, date: str = "2024-02-22", zipped: bool = True) -> Path:
    """Write ``export-fiches-rncp-v4-1-<date>.zip`` (or ``.xml``) into *folder*; returns its path."""
    folder = Path(folder)
    name = f"export-fiches-rncp-v4-1-{date}"
    if not zipped:
        path = folder / f"{name}.xml"
        with open(path, "w", encoding="utf-8") as fh:
            fh.writelines(iter_xml(fiches))
        return path
    path = folder / f"{name}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open(f"{name}.xml", "w") as out:
            for chunk in iter_xml(fiches):
                out.write(chunk.encode("utf-8"))
    return path
