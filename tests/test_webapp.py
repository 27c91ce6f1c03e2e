"""The Flask explorer's pages, on a hand-written store (tests/fixtures/web/sample.trig)."""
from __future__ import annotations

import html
import re
from pathlib import Path
from types import SimpleNamespace

import pyoxigraph as ox
import pytest

from cqpm_graph.config import Settings
from cqpm_graph.store import new_build, open_store
from cqpm_graph.webapp import create_app
from cqpm_graph.webapp.catalogue import Catalogue

FIXTURE = Path(__file__).parent / "fixtures" / "web" / "sample.trig"
BASE = "https://w3id.org/cqpm/id/"
CQPM_ID = "CQPM-management-d-equipe-s-autonome-s"


def build_sample_store(store_dir: Path, extra: str | None = None) -> Settings:
    """Build a live store in *store_dir* from the sample TriG (plus optional extra TriG text)."""
    with new_build(store_dir) as store:
        store.load(path=str(FIXTURE), format=ox.RdfFormat.TRIG)
        if extra:
            store.load(input=extra.encode(), format=ox.RdfFormat.TRIG)
        del store  # closed before new_build moves it in
    return Settings(store=store_dir)


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return build_sample_store(tmp_path_factory.mktemp("web-store"))


@pytest.fixture(scope="module")
def app(settings):
    app = create_app(settings)
    app.config.update(TESTING=True)
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


def text_of(response) -> str:
    """The page body with HTML entities decoded (for plain-text assertions)."""
    return html.unescape(response.get_data(as_text=True))


# -- factory --------------------------------------------------------------------------------------

def test_factory_keeps_one_store_on_extensions(app):
    explorer = app.extensions["cqpm_graph"]
    assert explorer.store is explorer.store
    assert explorer.uris.base == BASE


def test_factory_accepts_an_open_store(settings):
    app = create_app(Settings(store=settings.store / "nowhere"), store=open_store(settings))
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert "RNCP28229" in text_of(response)


def test_factory_without_a_build_raises(tmp_path):
    from cqpm_graph.store import StoreNotFoundError
    with pytest.raises(StoreNotFoundError):
        create_app(Settings(store=tmp_path))


def test_new_build_is_picked_up_without_restart(tmp_path):
    settings = build_sample_store(tmp_path / "store")
    client = create_app(settings).test_client()
    assert "RNCP99999" not in text_of(client.get("/"))
    build_sample_store(tmp_path / "store", extra="""
        PREFIX cqpm: <https://w3id.org/cqpm/ontology#>
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        PREFIX dcterms: <http://purl.org/dc/terms/>
        GRAPH <https://w3id.org/cqpm/id/graph/fiche/RNCP99999> {
          <https://w3id.org/cqpm/id/certification/RNCP99999> a cqpm:Certification ;
            skos:notation "RNCP99999" ; dcterms:identifier "RNCP99999" ; skos:prefLabel "Titre ajouté"@fr . }""")
    page = text_of(client.get("/"))
    assert "RNCP99999" in page and "Titre ajouté" in page


# -- home and search ------------------------------------------------------------------------------

def test_home_lists_certifications(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = text_of(response)
    for expected in ("RNCP28229", "RNCP19453", CQPM_ID, "Animateur (trice) d'équipe autonome de production",
                     "Pilote de systèmes de production automatisée", "Management d'équipe(s) autonome(s)"):
        assert expected in page
    assert 'href="/certification/RNCP28229"' in page
    assert 'action="/search"' in page
    assert 'href="/rome/"' in page and 'href="/nsf/"' in page
    row = re.search(r"RNCP28229</a></td>(.*?)</tr>", page, re.S).group(1)
    cells = re.findall(r'<td class="num">(\d+)</td>', row)
    assert cells == ["3", "6"]  # blocs, capacities


def test_home_json_twin(client):
    data = client.get("/certifications.json").get_json()
    by_id = {c["id"]: c for c in data["certifications"]}
    assert set(by_id) == {"RNCP28229", "RNCP19453", CQPM_ID}
    assert by_id["RNCP28229"]["blocs"] == 3 and by_id["RNCP28229"]["capacities"] == 6
    assert by_id["RNCP28229"]["type"] == "CQPM"
    assert by_id["RNCP19453"]["rome"] == ["H2504", "H2903", "H2906"]
    assert data["statistics"]["certifications"] == 3


def test_search_finds_job_titles_and_highlights(client):
    response = client.get("/search", query_string={"q": "chef ligne"})
    assert response.status_code == 200
    page = text_of(response)
    assert "RNCP28229" in page and "RNCP19453" not in page
    assert "<mark>Chef</mark> de <mark>ligne</mark>" in page
    assert "emploi accessible" in page


def test_search_ignores_accents_and_case(client):
    page = text_of(client.get("/search?q=EQUIPE+PRODUCTION"))
    assert "RNCP28229" in page  # "Chef d'équipe de production", bloc "… d'une équipe de production"
    assert "RNCP19453" in page  # bloc "L'animation technique d'une équipe de production"
    assert "bloc de compétences" in page


def test_search_capacities_and_numbers(client):
    page = text_of(client.get("/search?q=aléas"))
    assert CQPM_ID in page and "capacité professionnelle" in page
    assert "RNCP19453" in text_of(client.get("/search?q=19453"))


def test_search_without_results_and_escaping(client):
    response = client.get("/search", query_string={"q": "<script>alert(1)</script>"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body
    assert "Aucune certification" in text_of(response)


def test_search_json(client):
    data = client.get("/search.json?q=amélioration").get_json()
    ids = [r["id"] for r in data["results"]]
    assert set(ids) >= {"RNCP28229", "RNCP19453"}
    assert all("segments" not in m for r in data["results"] for m in r["matches"])


# -- certification page ---------------------------------------------------------------------------

def test_certification_page(client):
    response = client.get("/certification/RNCP28229")
    assert response.status_code == 200
    page = text_of(response)
    # title and identity
    assert "<h1>Animateur (trice) d'équipe autonome de production</h1>" in page
    assert "Certificat de qualification paritaire de la métallurgie" in page
    assert "Répertoire national des certifications professionnelles" in page
    assert "Commission paritaire nationale de l'emploi (CPNE) de la métallurgie" in page
    assert "Directeur emploi formation de l'UIMM" in page
    assert "3109" in page and "Métallurgie" in page
    assert "0251" in page and "2006 07 74 0251" in page and "15 mai 2007" in page
    # blocs → capacities, in order, with the other wording
    for bloc in ("L'animation technique d'une équipe de production",
                 "L'assurance du bon fonctionnement des postes de fabrication",
                 "La contribution à un projet d'amélioration"):
        assert bloc in page
    assert page.index("RNCP28229BC01") < page.index("RNCP28229BC02") < page.index("RNCP28229BC03")
    assert "Ordonner et optimiser l'activité du secteur" in page
    assert "autre libellé dans la fiche" in page and "Ordonnancer et optimiser" in page
    bloc3 = page[page.index('id="bloc-RNCP28229BC03"'):]
    assert bloc3.index("C10") < bloc3.index("C11")
    # activities, codes, jobs
    assert "Animation de la production dans sa zone de responsabilité" in page
    assert 'href="/rome/H2503"' in page
    assert "Pilotage d'unité élémentaire de production mécanique ou de travail des métaux" in page
    assert "Encadrement d'équipe en industrie de transformation" in page
    assert 'href="/nsf/200"' in page and "Technologies industrielles fondamentales (génie industriel" in page
    assert "Chef de ligne" in page and "Chef de chaîne" in page
    # access with OUI / NON badges, territories, validity
    assert "Par expérience (VAE)" in page
    assert '<span class="badge badge-oui">OUI</span>' in page
    assert '<span class="badge badge-non">NON</span>' in page
    assert "Jury paritaire" in page
    assert "Nouvelle-Calédonie" in page and "illimitée" in page
    # registration, statistics, history, provenance
    assert "Arrêté du 07 avril 2017" in page and "21 avril 2017" in page and "21 avril 2022" in page
    assert "168" in page and "par an" in page
    assert "L'UIMM Haute Savoie" in page
    assert BASE + "graph/fiche/RNCP28229" in page
    assert BASE + "graph/rome-v347" in page
    assert "000_49dbc97dca6e95ec.txt" in page
    assert "5f1d0c2d9a0e4f3b8c7a6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f" in page
    assert "capacity-wording-differs" in page
    assert "Cette qualification est délivrée en moyenne 168 fois par an" in page
    # sections named in French
    for heading in ("Blocs de compétences", "Activités visées", "Codes ROME", "NSF", "Emplois accessibles",
                    "Enregistrement", "Statistiques", "Provenance"):
        assert f">{heading}" in page
    assert "enregistrement échu" in page  # ended 2022-04-21


def test_referentiel_capacities_with_conditions_and_criteria(client):
    page = text_of(client.get(f"/certification/{CQPM_ID}"))
    assert "<h1>Management d'équipe(s) autonome(s)</h1>" in page
    assert "sans numéro RNCP" in page
    assert "Définir l'organisation de l'activité de son secteur" in page
    assert "A partir des prévisions et des objectifs d'activité du secteur" in page
    assert "Les ressources en équipements, personnels et matière, sont identifiées." in page
    assert page.index("Les ressources en équipements") < page.index("La capacité est comparée")
    assert "Critères observables" in page
    assert "Blocs de compétences" not in page
    assert "Nouvelle-Calédonie" not in page  # nothing known: not shown as "illisible"


def test_shared_bloc_titles_and_rome_across_certifications(client):
    page = text_of(client.get("/certification/RNCP19453"))
    assert "L'animation technique d'une équipe de production" in page
    assert "Conduire différents postes d'opérateurs" in page  # altLabel
    assert "5 an(s)" in page
    assert 'href="/rome/H2504"' in page
    # an access route whose OUI/NON column was lost
    row = page[page.index("Par candidature individuelle"):]
    assert row.index("illisible") < row.index("</tr>")
    assert page.index("Par candidature individuelle") < page.index("Par expérience (VAE)")  # fiche order


def test_unknown_certification_is_404(client):
    response = client.get("/certification/RNCP00000")
    assert response.status_code == 404
    assert "RNCP00000" in text_of(response)
    assert response.mimetype == "text/html"
    assert client.get("/certification/RNCP00000.json").status_code == 404


def test_other_spelling_redirects(client):
    response = client.get("/certification/rncp28229")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/certification/RNCP28229")


def test_certification_json_twin(client):
    response = client.get("/certification/RNCP28229.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert data["id"] == "RNCP28229" and data["uri"] == BASE + "certification/RNCP28229"
    assert [b["code"] for b in data["blocs"]] == ["RNCP28229BC01", "RNCP28229BC02", "RNCP28229BC03"]
    assert [k["code"] for k in data["blocs"][0]["capacities"]] == ["C1", "C2"]
    assert data["blocs"][0]["capacities"][0]["alt_labels"][0].startswith("Ordonnancer")
    assert [r["code"] for r in data["rome"]] == ["H2503", "H2504"]
    assert data["nsf"][0]["fiche_label"] == "Technologies industrielles fondamentales"
    assert {a["route"]["code"]: a["open"] for a in data["access"]} == {
        "formation-initiale": False, "formation-continue": True, "vae": True}
    assert data["registration"]["end_date"] == "2022-04-21"
    assert data["statistics"]["awards_per_year"] == 168
    assert data["territories"] == {"new_caledonia": False, "french_polynesia": False}
    assert data["provenance"]["sources"][0]["warnings"][0]["code"] == "capacity-wording-differs"
    fiche_graph = data["provenance"]["graphs"][0]
    assert fiche_graph["uri"] == BASE + "graph/fiche/RNCP28229" and fiche_graph["role"] == "fiche"
    assert fiche_graph["files"] == ["data/fiches/000_49dbc97dca6e95ec.txt"]
    referentiel = client.get(f"/certification/{CQPM_ID}.json").get_json()
    assert referentiel["referentiel"] is True and referentiel["notation"] is None
    assert [c["code"] for c in referentiel["capacities"][0]["criteria"]] == ["C1-1", "C1-2"]


# -- ROME and NSF ---------------------------------------------------------------------------------

def test_rome_fiche_page(client):
    response = client.get("/rome/H2503")
    assert response.status_code == 200
    page = text_of(response)
    assert "Pilotage d'unité élémentaire de production mécanique ou de travail des métaux" in page
    assert "Supervise et optimise la production" in page  # definition
    assert 'href="/rome/H25"' in page and 'href="/rome/H"' in page  # broader chain
    assert "RNCP28229" in page and "RNCP19453" not in page
    assert "Animateur / Animatrice de ligne de fabrication mécanique" in page  # appellation
    assert "Techniques de soudage" in page


def test_rome_domain_includes_certifications_via_narrower_codes(client):
    page = text_of(client.get("/rome/H25"))
    assert "Direction, encadrement et pilotage de fabrication et production industrielles" in page
    assert "RNCP28229" in page and "RNCP19453" in page
    assert 'href="/rome/H2503"' in page and 'href="/rome/H2504"' in page
    data = client.get("/rome/H.json").get_json()
    assert {c["id"] for c in data["certifications"]} == {"RNCP28229", "RNCP19453"}
    assert [n["code"] for n in data["narrower"]] == ["H25", "H29"]


def test_nsf_pages(client):
    page = text_of(client.get("/nsf/200"))
    assert "Technologies industrielles fondamentales (génie industriel" in page
    assert "RNCP28229" in page
    assert 'href="/nsf/20"' in page and 'href="/nsf/2"' in page and 'href="/nsf/200r"' in page
    page = text_of(client.get("/nsf/2"))
    assert "Domaines technico-professionnels de la production" in page
    assert "RNCP28229" in page and "RNCP19453" in page
    assert client.get("/nsf/200r").status_code == 200


def test_nomenclature_indexes(client):
    page = text_of(client.get("/rome/"))
    assert 'href="/rome/H2504"' in page and "Industrie" in page
    page = text_of(client.get("/nsf/"))
    assert 'href="/nsf/201"' in page and 'href="/nsf/2"' in page


def test_unknown_codes_are_404(client):
    assert client.get("/rome/Z9999").status_code == 404
    assert client.get("/rome/H9999").status_code == 404
    assert client.get("/nsf/999").status_code == 404
    assert client.get("/nsf/abc").status_code == 404


# -- SPARQL pages ---------------------------------------------------------------------------------

def test_sparql_page_for_browsers(client):
    response = client.get("/sparql", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = text_of(response)
    assert "<textarea" in page and "Requête libre" in page
    assert "Catalogue de requêtes" in page
    assert "Accept" in response.headers.get("Vary", "")


def test_free_query_results_table(client):
    query = "PREFIX dcterms: <http://purl.org/dc/terms/> SELECT ?c ?id WHERE { ?c dcterms:identifier ?id } ORDER BY ?id"
    response = client.get("/sparql/resultats", query_string={"query": query})
    assert response.status_code == 200
    page = text_of(response)
    assert "3 lignes" in page
    assert 'href="/certification/RNCP28229"' in page  # data IRIs link to their page
    assert "format=csv" in page


def test_free_query_error_is_shown(client):
    response = client.get("/sparql/resultats", query_string={"query": "SELECT WHERE {"})
    assert response.status_code == 400
    assert "Requête SPARQL invalide" in text_of(response)


class _FakeResult(SimpleNamespace):
    pass


def test_stored_query_page_with_a_catalogue(app):
    calls = []

    def runner(store, query, params):
        calls.append(params)
        if params.get("rome") == "bad":
            raise ValueError("rome : code ROME invalide")
        return _FakeResult(kind="select", variables=["id", "cert"], boolean=None,
                           rows=[{"id": "RNCP28229", "cert": BASE + "certification/RNCP28229"}],
                           terms=[{"id": ox.Literal("RNCP28229"), "cert": ox.NamedNode(BASE + "certification/RNCP28229")}])

    param = SimpleNamespace(name="rome", kind="literal", description="code ROME (H2503)", required=True, pattern=None)
    query = SimpleNamespace(name="certifications-by-rome", title="Certifications par code ROME",
                            description="Les certifications d'un code ROME.", params=[param],
                            text="SELECT ?id WHERE { }", render=lambda p: "SELECT ?id WHERE { }")
    explorer = app.extensions["cqpm_graph"]
    saved = explorer.catalogue
    explorer.catalogue = Catalogue(queries={"certifications-by-rome": query}, runner=runner)
    try:
        client = app.test_client()
        page = text_of(client.get("/sparql", headers={"Accept": "text/html"}))
        assert "Certifications par code ROME" in page and 'name="rome"' in page
        form = text_of(client.get("/sparql/requetes/certifications-by-rome"))
        assert "code ROME (H2503)" in form and calls == []
        result = client.get("/sparql/requetes/certifications-by-rome?rome=H25")
        assert result.status_code == 200 and calls == [{"rome": "H25"}]
        assert 'href="/certification/RNCP28229"' in text_of(result)
        bad = client.get("/sparql/requetes/certifications-by-rome?rome=bad")
        assert bad.status_code == 400 and "code ROME invalide" in text_of(bad)
        assert client.get("/sparql/requetes/nope").status_code == 404
    finally:
        explorer.catalogue = saved


def test_real_catalogue_runs_on_the_sample(client):
    pytest.importorskip("cqpm_graph.queries")
    page = text_of(client.get("/sparql", headers={"Accept": "text/html"}))
    assert "certification-blocs" in page
    response = client.get("/sparql/requetes/certification-blocs", query_string={"certification": "RNCP28229"})
    assert response.status_code == 200
    page = text_of(response)
    assert "L'assurance du bon fonctionnement des postes de fabrication" in page
    assert "6 lignes" in page


# -- on the real build (when tests/conftest.py provides it) ----------------------------------------

def test_every_page_of_the_real_build(request):
    try:
        settings = request.getfixturevalue("built_store")
    except pytest.FixtureLookupError:
        pytest.skip("no built_store fixture")
    except Exception as exc:  # the build is someone else's work in progress
        pytest.skip(f"the real build failed: {exc}")
    client = create_app(settings).test_client()
    home = client.get("/")
    assert home.status_code == 200
    listing = client.get("/certifications.json").get_json()["certifications"]
    assert len(listing) == 5
    for cert in listing:
        page = client.get(f"/certification/{cert['id']}")
        assert page.status_code == 200, cert["id"]
        data = client.get(f"/certification/{cert['id']}.json").get_json()
        for rome in data["rome"]:
            assert client.get(f"/rome/{rome['code']}").status_code == 200
        for nsf in data["nsf"]:
            assert client.get(f"/nsf/{nsf['code']}").status_code == 200
    assert client.get("/certification/RNCP28229").status_code == 200
    assert "Animateur" in text_of(client.get("/search?q=animateur"))


# -- at scale: the explorer index (list, filters, pagination, search) on the real data ----------------------
#
# The seed fiches plus the real France Compétences extract (tests/fixtures/fc): 14 certifications of the
# RNCP, the RS and the CQPM, with levels, types, active flags and registration end dates.

FC_EXPORT = Path(__file__).parent / "fixtures" / "fc" / "export-fiches-csv-2024-02-22.zip"
REGISTER_IDS = ["CQPM-management-d-equipe-s-autonome-s", "RNCP509", "RNCP1197", "RNCP4049", "RNCP19453",
                "RNCP19468", "RNCP22094", "RNCP28155", "RNCP28229", "RNCP28242", "RNCP28246", "RNCP30271",
                "RS5000", "RS6117"]  # natural identifier order: RNCP509 before RNCP1197


@pytest.fixture(scope="module")
def register_settings(tmp_path_factory) -> Settings:
    from cqpm_graph.build import build
    from cqpm_graph.fc.importer import import_export
    settings = Settings(store=tmp_path_factory.mktemp("register-store"), cache_dir=tmp_path_factory.mktemp("cache"))
    build(settings, validate=False)
    import_export(settings, FC_EXPORT, validate=False)
    return settings


@pytest.fixture(scope="module")
def register_app(register_settings):
    app = create_app(register_settings)
    app.config.update(TESTING=True)
    yield app
    app.extensions["cqpm_graph"].queries.close()


@pytest.fixture()
def rclient(register_app, monkeypatch):
    from cqpm_graph.webapp import directory
    monkeypatch.setattr(directory, "today", lambda: "2024-03-01")  # the states below are those of that day
    return register_app.test_client()


def ids_of(response) -> list[str]:
    return [c["id"] for c in response.get_json()["certifications"]]


def test_list_pages_follow_the_natural_order(rclient):
    first = rclient.get("/certifications.json?par_page=10")
    data = first.get_json()
    assert first.status_code == 200 and ids_of(first) == REGISTER_IDS[:10]
    assert set(data) >= {"certifications", "statistics", "pagination"}  # the first page keeps its shape
    assert data["statistics"]["certifications"] == 14
    p = data["pagination"]
    assert (p["page"], p["per_page"], p["total"], p["pages"]) == (1, 10, 14, 2)
    assert p["prev"] is None and p["next"] == "/certifications.json?par_page=10&page=2"
    assert '<http://localhost/certifications.json?par_page=10&page=2>; rel="next"' in first.headers["Link"]
    second = rclient.get(p["next"])
    assert ids_of(second) == REGISTER_IDS[10:]
    assert second.get_json()["pagination"]["next"] is None
    assert ids_of(rclient.get("/certifications.json?par_page=10&page=3")) == []
    assert ids_of(rclient.get("/certifications.json")) == REGISTER_IDS  # 50 a page by default
    by_title = ids_of(rclient.get("/certifications.json?tri=intitule&registre=RS"))
    assert by_title == ["RS6117", "RS5000"]  # « CQP Tourier » before « Exploiter la blockchain… »


def test_list_page_in_html(rclient):
    page = text_of(rclient.get("/?par_page=10&page=2"))
    assert "14 certifications — page 2 sur 2" in page
    assert 'href="/certification/RS6117"' in page and 'href="/certification/RNCP28229"' not in page
    assert '<a class="pager-step" href="/?par_page=10" rel="prev">' in page
    assert '<span aria-current="page">2</span>' in page
    first = text_of(rclient.get("/?par_page=10"))
    assert '<a href="/?par_page=10&page=2">2</a>' in first and "RS6117" not in first
    row = re.search(r"RNCP28229</a></td>(.*?)</tr>", first, re.S).group(1)
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["3", "11"]  # blocs, capacities
    assert "Pas de page 5" in text_of(rclient.get("/?par_page=10&page=5"))


def test_list_filters(rclient):
    assert ids_of(rclient.get("/certifications.json?registre=RS")) == ["RS5000", "RS6117"]
    assert ids_of(rclient.get("/certifications.json?registre=CQPM")) == [
        "CQPM-management-d-equipe-s-autonome-s", "RNCP19453", "RNCP28229", "RNCP28242", "RNCP28246"]
    assert ids_of(rclient.get("/certifications.json?niveau=NIV6")) == ["RNCP1197", "RNCP4049", "RNCP22094",
                                                                       "RNCP28155", "RNCP30271"]
    assert ids_of(rclient.get("/certifications.json?type=CAP")) == ["RNCP509"]
    # on 2024-03-01 the two RS fiches are active (France Compétences says so, registrations running)
    active = rclient.get("/certifications.json?etat=active").get_json()
    assert [c["id"] for c in active["certifications"]] == ["RS5000", "RS6117"]
    assert all(c["active"] is True and c["end_date"] >= "2024-03-01" for c in active["certifications"])
    inactive = ids_of(rclient.get("/certifications.json?etat=inactive&registre=RNCP"))
    assert "RNCP28229" in inactive and "RNCP509" in inactive  # ended 2022-04-21; withdrawn (false)
    assert ids_of(rclient.get("/certifications.json?registre=RS&niveau=NIV6")) == []
    data = rclient.get("/certifications.json?registre=RNCP").get_json()
    assert data["filters"] == {"registre": "RNCP"} and data["pagination"]["total"] == 11
    facets = data["facets"]
    # each filter's values are counted with the other filters applied
    assert {f["value"]: f["count"] for f in facets["registre"]} == {"RNCP": 11, "RS": 2, "CQPM": 5}
    assert {f["value"]: f["count"] for f in facets["niveau"]} == {"NIV3": 1, "NIV6": 5}
    assert {f["value"]: f["count"] for f in facets["etat"]} == {"inactive": 11}
    entry = next(c for c in data["certifications"] if c["id"] == "RNCP509")
    assert (entry["type"], entry["registry"], entry["level"], entry["level_label"]) == ("CAP", "RNCP", "NIV3", "Niveau 3")
    assert entry["rome"] == ["I1203"] and entry["nsf"] == ["251"] and entry["blocs"] == 6


def test_list_filter_form_and_bad_values(rclient):
    page = text_of(rclient.get("/?registre=RS"))
    assert '<option value="RS" selected>Répertoire spécifique (RS) (2)</option>' in page
    assert "2 certifications correspondent aux filtres." in page
    assert 'href="/certification/RS6117"' in page and 'href="/certification/RNCP28229"' not in page
    assert 'href="/certifications.json?registre=RS"' in page
    for bad in ("registre=XYZ", "etat=peut-etre", "page=0", "page=abc", "par_page=7", "tri=date", "niveau=%3Cx%3E"):
        assert rclient.get(f"/?{bad}").status_code == 400, bad
        response = rclient.get(f"/certifications.json?{bad}")
        assert response.status_code == 400 and response.get_json()["error"] == "bad request", bad


def test_search_on_the_register(rclient):
    data = rclient.get("/search.json?q=chef projet").get_json()
    assert data["total"] == 4 and [r["id"] for r in data["results"]] == ["RNCP4049", "RNCP22094", "RNCP28155",
                                                                         "RNCP30271"]
    assert data["results"][0]["matches"][0] == {"kind": "title", "kind_label": "intitulé", "code": None,
                                                "text": "Chef de projet commercial pour l'agroalimentaire"}
    # codes: ROME and NSF (new), the certification number
    assert [r["id"] for r in rclient.get("/search.json?q=H1102").get_json()["results"]] == [
        "RNCP4049", "RNCP22094", "RNCP28155", "RNCP30271"]
    nsf = rclient.get("/search.json?q=221w").get_json()
    assert nsf["total"] == 5 and nsf["results"][0]["matches"][0]["kind"] == "nsf"
    assert [r["id"] for r in rclient.get("/search.json?q=rs5000").get_json()["results"]] == ["RS5000"]
    # bloc wordings of an imported fiche, accents ignored
    assert [r["id"] for r in rclient.get("/search.json?q=EXTINCTEURS").get_json()["results"]] == ["RNCP509"]


def test_search_pages(rclient):
    first = rclient.get("/search.json?q=equipe&par_page=10").get_json()
    everything = [r["id"] for r in first["results"]]
    assert everything == ["RNCP28229", CQPM_ID, "RNCP19453", "RNCP28246", "RNCP28242"]  # best first
    assert [r["score"] for r in first["results"]] == sorted((r["score"] for r in first["results"]), reverse=True)
    many = rclient.get("/search.json?q=de&par_page=10")
    data = many.get_json()
    assert data["total"] == 11 and len(data["results"]) == 10 and data["pagination"]["pages"] == 2
    rest = rclient.get(data["pagination"]["next"]).get_json()["results"]
    assert len(rest) == 1 and rest[0]["id"] not in {r["id"] for r in data["results"]}
    assert 'rel="next"' in many.headers["Link"]
    page = text_of(rclient.get("/search?q=de&par_page=10"))
    assert "11 certifications pour « de »" in page and "page 1 sur 2" in page
    assert "numéros, intitulés et codes seulement" in page  # a word of two letters
    assert 'href="/search?q=de&amp;par_page=10&amp;page=2"' in rclient.get("/search?q=de&par_page=10").get_data(as_text=True)


def test_index_search_is_the_historic_search(register_app, register_settings):
    """The index answers what the SPARQL search of data.search answered (plus NSF codes, a new kind)."""
    from cqpm_graph.webapp import data, directory
    store = open_store(register_settings)
    uris = register_app.extensions["cqpm_graph"].uris
    with register_app.test_request_context("/"):
        for q in ("équipe production", "chef ligne", "aléas", "19453", "amélioration", "commercial", "qualité",
                  "agroalimentaire", "H2503", "blockchain", "conduire"):
            old = data.search(store, uris, q, limit=1000)["results"]
            new = directory.search(q, 1, 200)["results"]
            without_nsf = {}
            for hit in new:
                nsf = sum(1 for m in hit["matches"] if m["kind"] == "nsf")
                if hit["score"] - 3 * nsf:
                    without_nsf[hit["id"]] = hit["score"] - 3 * nsf
            assert without_nsf == {h["id"]: h["score"] for h in old}, q
            assert [h["id"] for h in new if h["id"] in without_nsf] == [h["id"] for h in old], q  # same order
            for hit, before in zip((h for h in new if h["id"] in without_nsf), old):
                assert sorted((m["kind"], m["code"] or "", m["text"]) for m in hit["matches"] if m["kind"] != "nsf") \
                    == sorted((m["kind"], m["code"] or "", m["text"]) for m in before["matches"]), q


def test_index_list_is_the_historic_list(register_app, register_settings):
    from cqpm_graph.webapp import data, directory
    from cqpm_graph.explorer_index import Filters
    store = open_store(register_settings)
    uris = register_app.extensions["cqpm_graph"].uris
    old = data.list_certifications(store, uris)
    with register_app.test_request_context("/"):
        new = directory.certification_list(Filters(), "numero", 1, 200)
        assert new.statistics == data.statistics(store)
    keys = ("id", "uri", "title", "short_title", "type", "type_label", "registry", "blocs", "capacities", "rome")
    assert [{k: c[k] for k in keys} for c in new.certifications] == [{k: c[k] for k in keys} for c in old]


@pytest.mark.parametrize("scheme, code", [("rome", "H"), ("rome", "H25"), ("rome", "D"), ("rome", "H1102"),
                                          ("nsf", "2"), ("nsf", "22"), ("nsf", "221w"), ("nsf", "200")])
def test_concept_pages_from_the_index(register_app, register_settings, rclient, scheme, code):
    from cqpm_graph.webapp import data
    store = open_store(register_settings)
    old = data.concept_page(store, register_app.extensions["cqpm_graph"].uris, scheme, code)
    new = rclient.get(f"/{scheme}/{code}.json").get_json()
    for c in old["certifications"]:  # the SPARQL path gives the codes in no particular order
        c["via"] = sorted(c["via"], key=data.natural_key)
    assert new["total"] == len(old["certifications"]) and new["certifications"] == old["certifications"]
    assert new["narrower"] == old["narrower"] and new["label"] == old["label"]
    assert new["pagination"]["total"] == new["total"]


def test_concept_index_counts(rclient, register_app, register_settings):
    from cqpm_graph.webapp import data
    old = data.concept_index(open_store(register_settings), register_app.extensions["cqpm_graph"].uris, "rome")
    page = text_of(rclient.get("/rome/"))
    for used in old["used"]:
        assert f'href="/rome/{used["code"]}">{used["code"]}</a></td><td>{used["label"] or ""}</td>' \
               f'<td class="num">{used["certifications"]}</td>' in page
    assert 'href="/rome/H"' in page  # grands domaines
    assert 'href="/nsf/221w"' in text_of(rclient.get("/nsf/"))


def test_concept_page_pagination(rclient):
    page = text_of(rclient.get("/rome/H?par_page=10"))
    assert "RNCP28229" in page and "Certifications qui y mènent" in page
    data = rclient.get("/rome/H.json?par_page=10&page=2").get_json()
    assert data["certifications"] == [] and data["total"] == 8 and data["pagination"]["prev"] == "/rome/H.json?par_page=10"
    assert rclient.get("/rome/H?page=0").status_code == 400


def test_fold_text_is_the_search_folding():
    from cqpm_graph.explorer_index import fold_text
    from cqpm_graph.webapp.data import fold
    for text in ("Équipe d’ŒUVRE", "Cœur de métier — Æther", "façade  Ñandú", "ﬁchier ² İstanbul", "RNCP28229BC01"):
        assert fold_text(text) == fold(text)[0], text


# -- where the index comes from --------------------------------------------------------------------------

def test_index_built_at_build_time_is_used(tmp_path):
    from cqpm_graph.explorer_index import INDEX_FILE, write_build_index
    from cqpm_graph.store import live_path
    from cqpm_graph.webapp import directory
    settings = build_sample_store(tmp_path / "store")
    settings = Settings(store=settings.store, cache_dir=tmp_path / "cache")
    write_build_index(open_store(settings), live_path(settings.store))
    app = create_app(settings)
    with app.test_request_context("/"):
        index = directory.manager().get()
    assert index.origin == str(live_path(settings.store) / INDEX_FILE)
    assert "RNCP28229" in text_of(app.test_client().get("/"))
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("explorer-index*"))


def test_large_graph_index_is_built_in_the_background(tmp_path, monkeypatch):
    """Above SMALL certifications the explorer builds the index into its cache in a thread and answers 503
    (with Retry-After) meanwhile; the next explorer on the same build reuses the file."""
    import threading

    from cqpm_graph.webapp import directory
    settings = build_sample_store(tmp_path / "store")
    settings = Settings(store=settings.store, cache_dir=tmp_path / "cache")
    monkeypatch.setattr(directory, "SMALL", 0)
    release = threading.Event()
    real_write = directory.write_index

    def slow_write(*args, **kwargs):
        release.wait(10)
        return real_write(*args, **kwargs)
    monkeypatch.setattr(directory, "write_index", slow_write)
    app = create_app(settings)
    client = app.test_client()
    busy = client.get("/")
    assert busy.status_code == 503 and busy.headers["Retry-After"] == str(directory.RETRY_AFTER)
    assert "en cours de construction" in text_of(busy) and '<meta http-equiv="refresh"' in busy.get_data(as_text=True)
    assert client.get("/search.json?q=equipe").status_code == 503
    assert client.get("/rome/H25").status_code == 200  # falls back to SPARQL
    assert client.get("/certification/RNCP28229").status_code == 200
    release.set()
    with app.test_request_context("/"):
        assert directory.manager().wait(20) is not None
    assert client.get("/").status_code == 200
    files = list((tmp_path / "cache").rglob("explorer-index-v*.sqlite"))
    assert len(files) == 1
    monkeypatch.setattr(directory, "write_index", lambda *a, **k: pytest.fail("rebuilt"))
    again = create_app(settings).test_client()
    assert "RNCP28229" in text_of(again.get("/"))
