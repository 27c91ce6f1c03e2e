"""A synthetic France Compétences export at national scale, in the exact official formats — for benchmarks only.

:func:`generate_fiches` draws ``n`` fiches (default 25,000: ~70 % RNCP with 3-8 blocs each, ~30 % RS without
blocs; ~100,000 blocs and ~430,000 capacities in all) with ROME codes read from
``data/reference/rome-v347/metiers.csv`` and NSF codes from ``data/reference/nsf/nsf-specialites.csv``, both
drawn with Zipf-like frequencies (a few codes common, a long tail; ROME with an offset so that the most frequent
code is on ~4 % of the fiches, as in the register), Formacodes and IDCC likewise, certifiers from a pool of
organisations with valid SIRETs, partners for RS fiches, lineage chains (older fiches inactive and replaced,
RNCP → RS included) and the real quirks (SIRET with a leading tab, doubled apostrophes in the CSV, DD/MM/YYYY
dates, REPRISE levels). :func:`write_csv_export` and :func:`write_xml_export` write them as
``export-fiches-csv-YYYY-MM-DD.zip`` and ``export-fiches-rncp-v4-1-YYYY-MM-DD.zip|.xml``.

Wordings are realistic for similarity (what the bridges of issue 4 compare), not drawn from a small pool:

* a **capacity** starts from a real ROME v347 savoir-faire label (``competences.csv`` type 2) of the fiche's
  own ROME codes (60 %), of their domaine professionnel (25 %) or of any fiche (15 %), and gets a context
  ("en respectant la réglementation en vigueur", "auprès d'une clientèle variée" …, 40 %) or a purpose
  ("afin de " + another savoir-faire of the fiche, 30 %); 4 % are common transversal wordings ("Communiquer
  en anglais dans un contexte professionnel", Zipf-drawn from 24);
* a **bloc title** is one or two savoir-faire of the fiche ("Réaliser des mesures et contrôler …"), sometimes
  with a ``Bloc 2 :`` prefix;
* **general blocs recur**: CAP and BTS fiches end with 2-4 general blocs whose titles and capacities are
  identical from one fiche to the next (UG "Prévention-santé-environnement", "Culture générale et
  expression" …);
* **lineage**: the newer fiche of a chain keeps 80 % of its predecessor's blocs (same title, 85 % of the
  capacities word for word, the others reworded) and its ROME codes.

Measured at 25,000 fiches, seed 42 (:func:`wording_stats`): 412,889 capacities with 281,769 distinct
wordings (0.68) and 99,300 blocs with 71,427 distinct titles (0.72), exact strings; the most repeated
capacity wording ("Communiquer en anglais dans un contexte professionnel") is in 3,561 fiches, the most
repeated bloc title (the BTS general bloc "Culture générale et expression") in 2,224. The previous generator
had 1,620 capacity wordings for 438,000 capacities (0.004) and 270 titles for 100,000 blocs (0.003).

Never shipped as data: write it to a temporary directory (``benchmarks/generate_export.py``).
"""
from __future__ import annotations

import bisect
import csv
import datetime
import itertools
import random
import re
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache
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
#: Contexts appended to a savoir-faire to make a capacity wording.
CONTEXTS = [f"{lead} {what}" for lead in ("en respectant", "dans le respect de", "en appliquant", "conformément à",
                                           "en tenant compte de", "en intégrant")
            for what in ("la réglementation en vigueur", "les règles de sécurité", "les procédures de l'entreprise",
                         "le cahier des charges", "les consignes de la hiérarchie", "les normes de qualité",
                         "les contraintes environnementales", "les délais impartis", "le budget alloué",
                         "les règles d'hygiène", "les besoins du client", "les contraintes techniques",
                         "la politique de l'entreprise", "les règles de l'art", "les objectifs de production",
                         "les attentes des usagers", "les normes en vigueur", "les contraintes de temps")] + [
    "à partir d'un cahier des charges", "en autonomie", "au sein d'une équipe", "auprès d'une clientèle variée",
    "sur un chantier", "en atelier", "en situation de travail", "à l'aide d'outils numériques",
    "dans un contexte international", "en lien avec les partenaires", "selon les procédures de l'entreprise",
    "en tenant compte des contraintes économiques", "pour un public en situation de handicap",
    "dans une démarche de développement durable", "en milieu hospitalier", "en collectivité territoriale"]
#: Transversal wordings found word for word in many fiches (drawn Zipf-like).
COMMON_CAPACITIES = [
    "Communiquer en anglais dans un contexte professionnel",
    "Appliquer les règles d'hygiène, de santé et de sécurité au travail",
    "Utiliser les outils numériques et bureautiques de l'entreprise",
    "Travailler en équipe et rendre compte de son activité",
    "Respecter la réglementation en vigueur et les procédures qualité",
    "Accueillir et renseigner le public",
    "Organiser son activité et gérer son temps",
    "Prévenir les risques professionnels liés à son activité",
    "Rédiger un compte rendu d'intervention",
    "Identifier les besoins du client",
    "Communiquer avec les interlocuteurs internes et externes",
    "Mettre en œuvre une démarche de développement durable",
    "Actualiser ses connaissances professionnelles",
    "Assurer une veille réglementaire et technique",
    "Gérer une situation conflictuelle",
    "Transmettre les informations à sa hiérarchie",
    "Appliquer les gestes et postures adaptés",
    "Adapter sa communication à son interlocuteur",
    "Planifier ses interventions",
    "Contrôler la qualité de son travail",
    "Renseigner les documents de suivi",
    "Analyser une situation professionnelle",
    "Participer à l'amélioration continue",
    "Intégrer les enjeux de la transition écologique dans son activité",
]
#: General blocs that CAP and BTS fiches share word for word (title, capacities), in order of frequency.
GENERAL_BLOCS = {
    "CAP": [
        ("Prévention-santé-environnement", ["Identifier les risques pour la santé et la sécurité au travail",
                                            "Proposer des mesures de prévention adaptées",
                                            "Appliquer les gestes de premiers secours"]),
        ("Français, histoire-géographie et enseignement moral et civique",
         ["Communiquer à l'écrit et à l'oral en français", "Situer un document dans son contexte historique",
          "Exercer son esprit critique"]),
        ("Mathématiques et physique-chimie", ["Résoudre un problème mathématique simple",
                                             "Mener une démarche expérimentale"]),
        ("Éducation physique et sportive", ["Réaliser une prestation corporelle",
                                           "Entretenir sa santé par une activité physique"]),
        ("Langue vivante étrangère", ["Comprendre un document écrit en langue étrangère",
                                     "S'exprimer à l'oral en langue étrangère"]),
    ],
    "BTS": [
        ("Culture générale et expression", ["Synthétiser des informations", "Communiquer par écrit",
                                           "Argumenter à l'oral"]),
        ("Langue vivante étrangère : anglais", ["Comprendre un document écrit en anglais",
                                               "Communiquer en anglais à l'oral dans un contexte professionnel"]),
        ("Mathématiques", ["Utiliser les outils mathématiques adaptés", "Modéliser une situation"]),
        ("Culture économique, juridique et managériale", ["Analyser une situation d'entreprise",
                                                         "Mobiliser les notions juridiques et économiques"]),
    ],
}
LEVELS = [("NIV3", 0.20), ("NIV4", 0.18), ("NIV5", 0.20), ("NIV6", 0.22), ("NIV7", 0.17), ("NIV8", 0.01), ("REPRISE", 0.02)]
REPRISE_LABEL = ("Sans niveau – le positionnement dans le cadre de national des certifications professionnelles "
                 "est non déterminé")
ABREGES = [("TP", "Titre professionnel"), ("BTS", "Brevet de technicien supérieur"), ("CAP", "Certificat d'aptitude professionnelle"),
           ("CQP", "Certificat de qualification professionnelle"), ("LP", "Licence Professionnelle"), ("MASTER", "Master"),
           ("TH", "Titre homologué"), ("", "")]


class Zipf:
    """Draw items with probability ∝ 1 / rank**s (rank 1 = first item): skewed like real code frequencies."""

    def __init__(self, items, s: float = 1.1, rng: random.Random | None = None, offset: int = 0):
        self.items = list(items)
        weights = [1 / (i + 1 + offset) ** s for i in range(len(self.items))]  # offset: Zipf-Mandelbrot
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


_ELLIPSIS_RE = re.compile(r",?\s*\.\.\.")
_DASH_RE = re.compile(r"\s+[-–—]\s+")


def _clean_label(label: str) -> str:
    """A savoir-faire label usable as a capacity (read back identically from LISTE_COMPETENCES)."""
    text = _DASH_RE.sub(", ", _ELLIPSIS_RE.sub("", label)).replace("( ", "(").replace(" )", ")")
    text = re.sub(r"\(\s*\)", "", text)
    return " ".join(text.split()).strip(" ;,.:")


@lru_cache(maxsize=1)
def _savoir_faire() -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    """ROME v347 savoir-faire labels, cleaned: ``({code ROME: [labels]}, {domaine (H29): [labels]}, [all])``."""
    folder = data_dir() / "reference" / "rome-v347"
    with open(folder / "competences.csv", encoding="utf-8") as fh:
        labels = {r["code_ogr"]: _clean_label(r["libelle"]) for r in csv.DictReader(fh)
                  if r["code_type_referentiel"] == "2"}
    by_rome: dict[str, list[str]] = {}
    with open(folder / "correspondances.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            label = labels.get(r["code_ogr"])
            if label:
                by_rome.setdefault(r["code_rome"], []).append(label)
    by_domain: dict[str, list[str]] = {}
    for code, found in by_rome.items():
        by_domain.setdefault(code[:3], []).extend(found)
    return by_rome, by_domain, sorted(set(labels.values()))


def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:] if len(text) > 1 and text[1].islower() else text


class _Wordings:
    """Capacity wordings and bloc titles of one fiche, from the savoir-faire of its ROME codes."""

    def __init__(self, rng: random.Random, romes: list[str], common: "Zipf"):
        by_rome, by_domain, everything = _savoir_faire()
        self.rng, self.common, self.everything = rng, common, everything
        self.own = [label for code in romes for label in by_rome.get(code, [])] or everything
        self.domain = [label for dom in dict.fromkeys(r[:3] for r in romes) for label in by_domain.get(dom, [])] \
            or everything

    def base(self) -> str:
        r = self.rng.random()
        return self.rng.choice(self.own if r < 0.6 else self.domain if r < 0.85 else self.everything)

    def capacity(self) -> str:
        rng = self.rng
        if rng.random() < 0.04:
            return self.common.draw(1)[0]
        base, u = self.base(), rng.random()
        if u < 0.06:
            return base
        if u < 0.45:
            return f"{base} {rng.choice(CONTEXTS)}"
        if u < 0.7:
            return f"{base} afin de {_lower_first(rng.choice(self.own))}"
        return f"{base} {rng.choice(CONTEXTS)} afin de {_lower_first(rng.choice(self.own))}"

    def title(self, number: int) -> str:
        rng = self.rng
        title, u = rng.choice(self.own), rng.random()
        if u < 0.7:
            title = f"{title} et {_lower_first(self.base())}"
        elif u < 0.9:
            title = f"{title} {rng.choice(CONTEXTS)}"
        return f"Bloc {number} : {title}" if rng.random() < 0.3 else title


def wording_stats(fiches: list[FCFiche]) -> dict:
    """How often wordings repeat: ``{"capacities", "distinct_capacities", "capacity_ratio", "blocs",
    "distinct_titles", "title_ratio", "top_capacity": (wording, fiches), "top_title": (title, fiches)}``."""
    caps, titles = Counter(), Counter()
    cap_fiches, title_fiches = Counter(), Counter()
    for f in fiches:
        seen_caps, seen_titles = set(), set()
        for b in f.blocs:
            titles[b.label] += 1
            seen_titles.add(b.label)
            for c in b.capacities:
                caps[c] += 1
                seen_caps.add(c)
        cap_fiches.update(seen_caps)
        title_fiches.update(seen_titles)
    n_caps, n_blocs = sum(caps.values()), sum(titles.values())
    return {"capacities": n_caps, "distinct_capacities": len(caps),
            "capacity_ratio": round(len(caps) / n_caps, 3) if n_caps else 0.0,
            "blocs": n_blocs, "distinct_titles": len(titles),
            "title_ratio": round(len(titles) / n_blocs, 3) if n_blocs else 0.0,
            "top_capacity": cap_fiches.most_common(1)[0] if cap_fiches else None,
            "top_title": title_fiches.most_common(1)[0] if title_fiches else None}


def _nsf_codes() -> list[tuple[str, str]]:
    with open(data_dir() / "reference" / "nsf" / "nsf-specialites.csv", encoding="utf-8") as fh:
        rows = csv.reader(fh, delimiter=";")
        next(rows)
        return [(r[0], ";".join(r[1:]).strip()) for r in rows]  # a label may hold a ";" (227)


def generate_fiches(n: int = 25_000, seed: int = 42) -> list[FCFiche]:
    """*n* synthetic fiches (see the module doc); deterministic for a given *seed*."""
    rng = random.Random(seed)
    romes = Zipf(rng.sample(_rome_codes(), k=len(_rome_codes())), 1.05, rng, offset=5)
    common = Zipf(COMMON_CAPACITIES, 1.0, rng)
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
        f.rome = romes.draw(rng.choice([1, 1, 2, 3]))
        if not is_rs:
            words = _Wordings(rng, [code for code, _label in f.rome], common)
            count = rng.choices([3, 4, 5, 6, 7, 8], [5, 15, 25, 25, 20, 10])[0]
            general = GENERAL_BLOCS.get(f.abbreviation or "", [])
            general = general[:min(rng.choice([2, 3, 3, 4]), count - 1)] if general else []
            for b in range(1, count + 1):
                if b > count - len(general):
                    title, caps = general[b - 1 - (count - len(general))]
                    caps = list(caps)
                else:
                    title = words.title(b)
                    caps = [words.capacity() for _ in range(rng.choices([2, 3, 4, 5, 6, 7], [10, 20, 25, 20, 15, 10])[0])]
                f.blocs.append(_bloc(number, b, title, caps, rng))
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
            if a.blocs and b.blocs:
                _revise(a, b, rng, common)  # RNCP → RS: allowed, the RS fiche simply has no blocs
    return fiches


def _bloc(number: str, b: int, title: str, caps: list[str], rng: random.Random) -> FCBloc:
    return FCBloc(code=f"{number}BC{b:02d}", label=title, capacities=caps,
                  competences_text=_competence_html(caps, rng),
                  evaluation="Mise en situation professionnelle et entretien avec le jury")


def _revise(older: FCFiche, newer: FCFiche, rng: random.Random, common: Zipf) -> None:
    """Make *newer* a new version of *older*: same ROME codes, most blocs and wordings kept."""
    newer.rome = list(older.rome)
    words = _Wordings(rng, [code for code, _label in newer.rome], common)
    for i, bloc in enumerate(newer.blocs):
        if i < len(older.blocs) and rng.random() < 0.8:
            kept = older.blocs[i]
            caps = [c if rng.random() < 0.85 else words.capacity() for c in kept.capacities]
            newer.blocs[i] = _bloc(newer.number, i + 1, kept.label, caps, rng)


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
