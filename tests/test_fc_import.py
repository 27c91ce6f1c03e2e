"""`import-fc` into a store: RDF of the real extract, idempotence, newer export, rebuild, bad input (store unchanged)."""
from __future__ import annotations

import json
import zipfile

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from cqpm_graph.cli.import_fc import command
from cqpm_graph.fc.errors import FCExportError
from cqpm_graph.fc.importer import import_export, read_manifest, reapply_imports
from cqpm_graph.store import live_path, new_build
from test_fc_helpers import (BASE, CSV_EXPORT, STANDARD, URIS, checksum, copy_store, current_target, dump,
                        make_base_store, register_shapes, rewrite_zip, select)

FC = f"{BASE}graph/france-competences/"


@pytest.fixture(scope="module")
def base_store(tmp_path_factory):
    return make_base_store(tmp_path_factory.mktemp("fcbase") / "store")


@pytest.fixture(scope="module")
def imported(base_store, tmp_path_factory):
    settings = copy_store(base_store, tmp_path_factory.mktemp("fcimp") / "store")
    import_export(settings, CSV_EXPORT, validate=False)
    return settings


@pytest.fixture
def store(base_store, tmp_path):
    return copy_store(base_store, tmp_path / "store")


def one(settings, query):
    rows = [dict(t) for t in {tuple(sorted(r.items())) for r in select(settings, query)}]  # union graph repeats shared triples
    assert len(rows) == 1, rows
    return rows[0]


def test_certification_values(imported):
    row = one(imported, """SELECT ?title ?reg ?active ?level ?type ?end ?rtype WHERE {
        GRAPH <%sRNCP509> { id:certification/RNCP509 skos:prefLabel ?title ; cqpm:registry ?reg ; cqpm:active ?active ;
            cqpm:level ?level ; cqpm:certificationType ?type ; cqpm:registration ?r . ?r cqpm:endDate ?end ;
            cqpm:registrationType ?rtype } }""" % FC)
    assert row == {"title": "Agent vérificateur d'appareils extincteurs", "reg": "https://w3id.org/cqpm/ontology#RNCP",
                   "active": False, "level": f"{BASE}niveau/NIV3", "type": f"{BASE}type/CAP",
                   "end": __import__("datetime").date(2023, 8, 31), "rtype": "Enregistrement de droit"}
    assert one(imported, "SELECT ?l WHERE { id:niveau/NIV3 skos:prefLabel ?l ; skos:inScheme id:scheme/niveau }")["l"] == "Niveau 3"


def test_rs_fiches_registry_and_no_blocs(imported):
    rows = select(imported, "SELECT ?c WHERE { ?c cqpm:registry cqpm:RS } ORDER BY ?c")
    assert [r["c"] for r in rows] == [f"{BASE}certification/RS5000", f"{BASE}certification/RS6117"]
    assert select(imported, "SELECT ?b WHERE { ?c cqpm:registry cqpm:RS ; cqpm:hasBlock ?b }") == []
    assert one(imported, "SELECT ?d WHERE { id:certification/RS5000 cqpm:registration/cqpm:decisionDate ?d }")["d"].isoformat() == "2019-06-13"
    assert one(imported, "SELECT ?v WHERE { id:certification/RS5000 cqpm:partialValidation ?v }")["v"] is False


def test_reprise_has_note_not_level(imported):
    assert select(imported, "SELECT ?l WHERE { id:certification/RNCP19468 cqpm:level ?l }") == []
    note = one(imported, "SELECT ?n WHERE { id:certification/RNCP19468 cqpm:levelNote ?n }")["n"]
    assert note.startswith("Sans niveau")


def test_lineage_both_directions(imported):
    chain = ["RNCP1197", "RNCP4049", "RNCP22094", "RNCP28155", "RNCP30271"]
    for old, new in zip(chain, chain[1:]):
        for q in (f"ASK {{ id:certification/{new} cqpm:replaces id:certification/{old} }}",
                  f"ASK {{ id:certification/{old} cqpm:isReplacedBy id:certification/{new} }}"):
            assert _ask(imported, q), q
    assert _ask(imported, "ASK { id:certification/RS6117 cqpm:replaces id:certification/RNCP19468 . "
                          "id:certification/RNCP19468 cqpm:isReplacedBy id:certification/RS6117 }")
    rows = select(imported, "SELECT ?x WHERE { id:certification/RNCP1197 cqpm:isReplacedBy+ ?x }")
    assert len(rows) == 4


def _ask(settings, q):
    from cqpm_graph.store import live_path
    from test_fc_helpers import expand
    s = ox.Store.read_only(str(live_path(settings.store)))
    return bool(s.query("PREFIX cqpm: <https://w3id.org/cqpm/ontology#> " + expand(q),
                        use_default_graph_as_union=True))


def test_blocs_of_rncp509(imported):
    rows = select(imported, "SELECT ?code ?n ?label WHERE { id:certification/RNCP509 cqpm:hasBlock ?b . "
                            "?b skos:notation ?code ; cqpm:blockNumber ?n ; skos:prefLabel ?label ; cqpm:isBlockOf id:certification/RNCP509 } ORDER BY ?code")
    assert [(r["code"], r["n"]) for r in rows] == [(f"RNCP509BC0{i}", i) for i in range(1, 7)]
    assert rows[5]["label"] == "UG3 : Éducation physique et sportive"


def test_codes_organisations_partners_routes(imported):
    assert one(imported, "SELECT ?l WHERE { id:certification/RNCP4049 cqpm:romeCode id:rome/H1102 . id:rome/H1102 skos:altLabel ?l }")["l"] \
        == "Management et ingénierie d'affaires"
    assert one(imported, "SELECT ?l WHERE { id:certification/RS5000 cqpm:nsfCode id:nsf/114b . id:nsf/114b skos:prefLabel ?l }")["l"] \
        == "Modèles mathématiques ; Informatique mathématique"
    assert one(imported, "SELECT ?l WHERE { id:certification/RS6117 cqpm:formacode id:formacode/21528 . "
                         "id:formacode/21528 skos:prefLabel ?l ; skos:inScheme id:scheme/formacode }")["l"] == "Pâtisserie"
    assert one(imported, "SELECT ?l WHERE { id:certification/RNCP19468 cqpm:conventionCollective id:idcc/3117 . id:idcc/3117 skos:prefLabel ?l }")["l"] \
        == "Boulangerie-pâtisserie (Entreprises artisanales)"
    row = one(imported, "SELECT ?name ?siret WHERE { id:certification/RNCP30271 cqpm:certifier ?o . ?o skos:prefLabel ?name ; cqpm:siret ?siret }")
    assert row == {"name": "ESCAIA", "siret": "82948645500019"}
    rows = select(imported, "SELECT ?p ?org ?hab WHERE { id:certification/RS6117 cqpm:partnership ?p . "
                            "?p a cqpm:Partnership ; cqpm:partnerOrganisation ?org ; cqpm:habilitationType ?hab }")
    assert len(rows) == 6 and {r["hab"] for r in rows} == {f"{BASE}habilitation/HABILITATION_ORGA_FORM"}
    assert f"{BASE}partenariat/RS6117-31504294500032" in {r["p"] for r in rows}
    # the same organisation is certifier and partner of RS6117: one resource
    assert _ask(imported, "ASK { id:certification/RS6117 cqpm:certifier id:organisation/siret-31504294500032 ; "
                          "cqpm:partner id:organisation/siret-31504294500032 }")
    routes = select(imported, "SELECT ?r WHERE { id:certification/RS6117 cqpm:accessRoute ?r } ORDER BY ?r")
    assert [r["r"].rsplit("/", 1)[1] for r in routes] == ["contrat-professionnalisation", "formation-continue", "vae"]
    assert one(imported, "SELECT ?o WHERE { id:acces/RS6117-apprentissage cqpm:isOpen ?o }")["o"] is False


def test_graphs_and_provenance(imported):
    graphs = select(imported, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } FILTER STRSTARTS(STR(?g), '%s') }" % FC)
    assert len(graphs) == 9
    row = one(imported, """SELECT ?file ?sha ?date ?layout WHERE {
        GRAPH <%sRS6117> { <%sRS6117> prov:wasDerivedFrom ?src }
        ?src dcterms:title ?file ; cqpm:sha256 ?sha ; dcterms:issued ?date ; cqpm:layout ?layout }""" % (FC, FC))
    assert row["file"] == "export-fiches-csv-2024-02-22.zip" and row["date"].isoformat() == "2024-02-22"
    assert row["layout"] == "fc-export-csv" and len(row["sha"]) == 64
    manifest = read_manifest(imported.store)
    assert [(e["file"], e["kind"], e["date"], e["fiches"]) for e in manifest] == [
        ("imports/export-fiches-csv-2024-02-22.zip", "csv", "2024-02-22", 9)]
    assert (imported.store / "imports" / "export-fiches-csv-2024-02-22.zip").read_bytes() == CSV_EXPORT.read_bytes()
    assert "_:" not in dump(imported, FC)  # no blank node: re-imports are comparable


def test_reimport_is_idempotent(store):
    import_export(store, CSV_EXPORT, validate=False)
    before = dump(store)
    report = import_export(store, CSV_EXPORT, validate=False)
    assert (report.replaced, report.unchanged) == (0, 9)  # same content: every graph kept as it is
    assert dump(store) == before
    assert len(read_manifest(store.store)) == 1


def _newer_export(tmp_path):
    """The real CSV extract dated 2024-03-01 (file and members), with two fiches changed: RNCP509's title and
    RS5000's end date."""
    def edit(name, text):
        if name.endswith(STANDARD):
            text = text.replace('"Agent vérificateur d\'appareils extincteurs"', '"Agent vérificateur d\'extincteurs"')
            text = text.replace('"2";"RS5000";"Exploiter la blockchain dans le développement d’applications";;;;;"Non";"Non";;"13/06/2019";"24/05/2024"',
                                '"2";"RS5000";"Exploiter la blockchain dans le développement d’applications";;;;;"Non";"Non";;"13/06/2019";"24/05/2027"')
        return text.replace("_2024_02_22.csv", "_2024_03_01.csv")
    newer = rewrite_zip(CSV_EXPORT, tmp_path / "export-fiches-csv-2024-03-01.zip", edit)
    with zipfile.ZipFile(newer) as zf:  # members carry the new date too
        names = zf.namelist()
    newer2 = tmp_path / "b" / "export-fiches-csv-2024-03-01.zip"
    newer2.parent.mkdir()
    with zipfile.ZipFile(newer) as zin, zipfile.ZipFile(newer2, "w") as zout:
        for n in names:
            zout.writestr(n.replace("_2024_02_22", "_2024_03_01"), zin.read(n))
    return newer2


def test_newer_export_replaces_changed_values(store, tmp_path):
    import_export(store, CSV_EXPORT, validate=False)
    report = import_export(store, _newer_export(tmp_path), validate=False)
    assert (report.replaced, report.unchanged) == (2, 7)  # RNCP509 and RS5000 changed
    titles = select(store, "SELECT ?t WHERE { id:certification/RNCP509 skos:prefLabel ?t }")
    assert titles == [{"t": "Agent vérificateur d'extincteurs"}]
    ends = select(store, "SELECT ?e WHERE { id:certification/RS5000 cqpm:registration/cqpm:endDate ?e }")
    assert [r["e"].isoformat() for r in ends] == ["2027-05-24"]
    assert _ask(store, "ASK { id:certification/RNCP30271 cqpm:replaces id:certification/RNCP28155 }")
    src = select(store, "SELECT ?d WHERE { GRAPH <%sRNCP509> { <%sRNCP509> prov:wasDerivedFrom ?s } ?s dcterms:issued ?d }" % (FC, FC))
    assert [r["d"].isoformat() for r in src] == ["2024-03-01"]
    # an unchanged fiche is kept, and now said to come from the newer export (graph and certification)
    src = select(store, "SELECT ?d WHERE { GRAPH <%sRNCP4049> { ?x prov:wasDerivedFrom ?s } ?s dcterms:issued ?d }" % FC)
    assert [r["d"].isoformat() for r in src] == ["2024-03-01", "2024-03-01"]
    assert [e["date"] for e in read_manifest(store.store)] == ["2024-02-22", "2024-03-01"]
    # a rebuild replays both exports in order: the same graphs
    before = dump(store, FC)
    with new_build(store.store) as fresh:
        reapply_imports(fresh, URIS, store.store)
        del fresh  # closed before new_build moves it in
    assert dump(store, FC) == before


def test_reapply_after_rebuild_gives_the_same_graphs(store):
    import_export(store, CSV_EXPORT, validate=False)
    before = dump(store, FC)
    with new_build(store.store) as fresh:  # what `cqpm-graph build` does: a new store from scratch …
        reapply_imports(fresh, URIS, store.store)  # … then replays the imports
        del fresh  # closed before new_build moves it in
    assert dump(store, FC) == before


def _dump_without_build(settings) -> str:
    return "\n".join(line for line in dump(settings).split("\n") if f"<{BASE}graph/build>" not in line)


def test_build_after_import_keeps_the_imported_graphs(store, tmp_path):
    """`cqpm-graph build` after an import starts from the live store: nothing imported is reloaded, and the
    result is the graph a build from scratch (replaying the kept export) gives."""
    from cqpm_graph.build import build
    import_export(store, CSV_EXPORT, validate=False)
    scratch = copy_store(store, tmp_path / "scratch")
    messages = []
    build(store, validate=False, progress=messages.append)
    assert any("graphes importés conservés" in m for m in messages), messages
    assert any("rien à recharger" in m for m in messages), messages
    (scratch.store / "current").unlink()  # no live store: the build starts empty and replays the export
    messages = []
    build(scratch, validate=False, progress=messages.append)
    assert any("import France Compétences" in m for m in messages), messages
    assert _dump_without_build(store) == _dump_without_build(scratch)


def test_build_after_import_keeps_the_bridges_computed_by_the_import(built_store, tmp_path):
    """The seeds built, an export imported: the build that follows has the same sources and keeps the
    import's graph/bridges (at national scale its computation is most of an import)."""
    from cqpm_graph.build import build
    settings = copy_store(built_store, tmp_path / "store")
    messages = []
    import_export(settings, CSV_EXPORT, validate=False, progress=messages.append)
    assert any("graph/bridges :" in m for m in messages), messages  # computed with the imported fiches
    bridges = dump(settings, f"{BASE}graph/bridges")
    messages = []
    build(settings, validate=False, progress=messages.append)
    assert any("graph/bridges à jour" in m for m in messages), messages
    assert dump(settings, f"{BASE}graph/bridges") == bridges


def test_build_metadata_counts_every_graph_exactly(built_store, tmp_path):
    """graph/build's void:triples: the size an imported fiche graph states about itself, or a count; both
    the real number of triples of the graph."""
    from cqpm_graph.build import build
    settings = copy_store(built_store, tmp_path / "store")
    import_export(settings, CSV_EXPORT, validate=False)
    report = build(settings, validate=False)
    store = ox.Store.read_only(str(live_path(settings.store)))
    actual = {g.value: sum(1 for _ in store.quads_for_pattern(None, None, None, g)) for g in store.named_graphs()}
    build_graph = f"{BASE}graph/build"
    assert {g: n for g, n in report.graphs.items() if g != build_graph} == \
        {g: n for g, n in actual.items() if g != build_graph}
    stated = select(settings, "SELECT ?g ?n WHERE { GRAPH ?g { ?g <http://rdfs.org/ns/void#triples> ?n } }")
    assert len(stated) == 9 and all(actual[r["g"]] == r["n"] for r in stated)


def test_build_after_import_with_another_base_replays_the_export(store):
    from cqpm_graph.build import build
    from cqpm_graph.config import Settings
    import_export(store, CSV_EXPORT, validate=False)
    other = Settings(store=store.store, base_uri="https://example.org/certif/")
    messages = []
    build(other, validate=False, progress=messages.append)
    assert any("imports à recharger" in m for m in messages), messages
    graphs = {r["g"] for r in select(other, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")}
    assert "https://example.org/certif/graph/france-competences/RNCP509" in graphs
    assert not [g for g in graphs if g.startswith(BASE)]  # nothing left under the previous base


def test_reapply_refuses_an_altered_copy(store):
    import_export(store, CSV_EXPORT, validate=False)
    kept = store.store / "imports" / CSV_EXPORT.name
    kept.write_bytes(kept.read_bytes() + b"x")
    with pytest.raises(FCExportError, match="SHA-256"):
        with new_build(store.store) as fresh:
            reapply_imports(fresh, URIS, store.store)
            del fresh  # closed before new_build moves it in


def test_import_validates_with_register_shapes(store):
    report = import_export(store, CSV_EXPORT, shapes=register_shapes())
    assert report.validation.conforms
    infos = {(str(r.focus_node).rsplit("/", 1)[1], r.severity) for r in report.validation.results}
    assert infos == {("RS5000", "Info"), ("RS6117", "Info")}  # "active" fiches whose end date has passed


# -- bad input: clear error, non-zero exit, store exactly as it was -----------------------------------

def _refused(store, path, *needles):
    before, target = checksum(store), current_target(store)
    result = CliRunner().invoke(command, [str(path), "--store", str(store.store), "--no-validate"])
    assert result.exit_code != 0
    for needle in needles:
        assert needle in result.output, result.output
    assert checksum(store) == before and current_target(store) == target
    return result.output


def test_truncated_zip(store, tmp_path):
    import_export(store, CSV_EXPORT, validate=False)
    bad = tmp_path / "export-fiches-csv-2024-02-22.zip"
    bad.write_bytes(CSV_EXPORT.read_bytes()[:2000])
    _refused(store, bad, "export-fiches-csv-2024-02-22.zip", "tronquée ou corrompue")


def test_corrupt_member(store, tmp_path):
    data = bytearray(CSV_EXPORT.read_bytes())
    data[200:230] = b"\x00" * 30  # inside the first member's deflate stream
    bad = tmp_path / "export-fiches-csv-2024-02-22.zip"
    bad.write_bytes(bytes(data))
    _refused(store, bad, "import refusé", "corrompue")


def test_missing_file(store, tmp_path):
    bad = rewrite_zip(CSV_EXPORT, tmp_path / "export-fiches-csv-2024-02-22.zip",
                      lambda n, t: None if "Partenaires" in n else t)
    _refused(store, bad, "export-fiches-csv-2024-02-22.zip", "export_fiches_CSV_Partenaires_AAAA_MM_JJ.csv")


def test_unexpected_column(store, tmp_path):
    def edit(name, text):
        if "Certificateurs" in name:
            lines = text.split("\r\n")
            lines[0] += ';"Etat_Certificateur"'
            lines[1:] = [line + ';"Actif"' if line else line for line in lines[1:]]
            return "\r\n".join(lines)
        return text
    bad = rewrite_zip(CSV_EXPORT, tmp_path / "export-fiches-csv-2024-02-22.zip", edit)
    _refused(store, bad, "export_fiches_CSV_Certificateurs_2024_02_22.csv, ligne 1, champ Etat_Certificateur")


def test_bad_date(store, tmp_path):
    bad = rewrite_zip(CSV_EXPORT, tmp_path / "export-fiches-csv-2024-02-22.zip",
                      lambda n, t: t.replace('"21/04/2017"', '"2017-04-21"') if n.endswith(STANDARD) else t)
    _refused(store, bad, f"{STANDARD}, ligne 6, champ Date_dernier_jo", "2017-04-21")


def test_bad_siret(store, tmp_path):
    bad = rewrite_zip(CSV_EXPORT, tmp_path / "export-fiches-csv-2024-02-22.zip",
                      lambda n, t: t.replace("82948645500019", "82948645500018") if "Certificateurs" in n else t)
    _refused(store, bad, "export_fiches_CSV_Certificateurs_2024_02_22.csv, ligne 3, champ Siret_Certificateur",
             "82948645500018", "Luhn")


def test_not_an_export(store, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("bonjour")
    _refused(store, bad, "notes.txt")


def test_validation_violation_refuses_the_import(store, tmp_path):
    """A register-shape Violation (an RS fiche with a bloc) aborts the import; the store is unchanged."""
    def edit(name, text):
        if "Blocs" in name:
            return text + '"RS5000";"RS5000BC01";"Un bloc qui ne devrait pas exister"\r\n'
        return text
    bad = rewrite_zip(CSV_EXPORT, tmp_path / "export-fiches-csv-2024-02-22.zip", edit)
    before, target = checksum(store), current_target(store)
    from cqpm_graph.fc.importer import ImportValidationError
    with pytest.raises(ImportValidationError, match="Répertoire spécifique"):
        import_export(store, bad, shapes=register_shapes())
    assert checksum(store) == before and current_target(store) == target
    assert read_manifest(store.store) == []


def test_cli_success(store):
    result = CliRunner().invoke(command, [str(CSV_EXPORT), "--store", str(store.store), "--no-validate"])
    assert result.exit_code == 0, result.output
    assert "9 fiches" in result.output
    assert json.loads((store.store / "imports" / "manifest.json").read_text())["imports"][0]["kind"] == "csv"


def test_every_cqpm_term_written_or_queried_is_documented_in_the_ontology(imported):
    """Every ``cqpm:`` IRI of the graph (seeds, the real extract imported, graph/bridges), of the stored
    queries and of the shapes is defined in ``ontology/`` with a label and a comment in French and English."""
    import re

    import rdflib

    from cqpm_graph.resources import resource_dir
    ns = "https://w3id.org/cqpm/ontology#"
    used = {r["t"] for r in select(imported, f"""SELECT DISTINCT ?t WHERE {{
        {{ ?s ?t ?o }} UNION {{ ?s ?p ?t FILTER isIRI(?t) }} FILTER STRSTARTS(STR(?t), "{ns}") }}""")}
    assert f"{ns}candidates" in used and f"{ns}contentDigest" in used  # bridges and import seen
    for folder, suffix in (("queries", "*.rq"), ("shapes", "*.ttl")):
        for path in resource_dir(folder).glob(suffix):
            text = path.read_text(encoding="utf-8")
            used |= {ns + name for name in re.findall(r"\bcqpm:([A-Za-z][\w-]*)", text)}
            used |= {ns + name for name in re.findall(re.escape(ns) + r"([A-Za-z]\w*)", text)}
    ontology = rdflib.Graph()
    for path in resource_dir("ontology").glob("*.ttl"):
        ontology.parse(path, format="turtle")
    missing = []
    for term in sorted(used):
        node = rdflib.URIRef(term)
        langs = {(p, o.language) for p in (rdflib.RDFS.label, rdflib.RDFS.comment) for o in ontology.objects(node, p)}
        if not {(p, lang) for p in (rdflib.RDFS.label, rdflib.RDFS.comment) for lang in ("fr", "en")} <= langs:
            missing.append(term.removeprefix(ns))
    assert not missing, f"undocumented in ontology/: {missing}"


@pytest.mark.parametrize("case", ["spooled", "compacted"])
def test_an_import_that_changes_fiches_replaces_graph_bridges_exactly(built_store, tmp_path, monkeypatch, case):
    """The seeds' graph/bridges exists; an import adds fiches: the old graph is dropped in the background (in
    chunks: a tiny chunk here, so that the drop really takes many transactions); the result is exactly what a
    computation from scratch on the final store gives, both ways the job can go (a large import here, as a
    national one, compacted once its new graphs are loaded, while the similarities are computed — after the
    drop): "spooled", the drop still running when the mappings are done: the shortlists are computed
    meanwhile, the spooled mappings loaded once the drop is over; "compacted", the drop over before the
    similarities are computed: the store is compacted meanwhile, the mappings loaded while the shortlists
    are computed."""
    import threading

    import cqpm_graph.fc.importer as importer_mod
    import cqpm_graph.store as store_mod
    from cqpm_graph.bridges import similarity as sim
    dropped, listed = threading.Event(), threading.Event()
    drop, make_lists, similar = store_mod.drop_graph, sim.shortlists, sim.similar_capacities

    def slow_drop(store, graph, chunk=25):
        drop(store, graph, chunk)
        if case == "spooled":
            assert listed.wait(60)  # still "dropping" until the shortlists are made
        dropped.set()

    def lists(*args, **kwargs):
        out = make_lists(*args, **kwargs)
        listed.set()
        return out

    def capacities(*args, **kwargs):
        if case == "compacted":
            assert dropped.wait(60)
        return similar(*args, **kwargs)
    monkeypatch.setattr(store_mod, "drop_graph", slow_drop)
    monkeypatch.setattr(sim, "shortlists", lists)
    monkeypatch.setattr(sim, "similar_capacities", capacities)
    monkeypatch.setattr(importer_mod, "COMPACT_FROM", 1)
    settings = copy_store(built_store, tmp_path / "store")
    before = dump(settings, f"{BASE}graph/bridges")
    assert len(before) > 25 * 4
    said: list[str] = []
    import_export(settings, CSV_EXPORT, validate=False, progress=said.append)
    compactions = [m for m in said if "base compactée" in m]
    assert len(compactions) == 1 and "pendant le calcul des similarités" in compactions[0]
    monkeypatch.undo()  # the computation from scratch below, as it is
    after = dump(settings, f"{BASE}graph/bridges")
    store = ox.Store.read_only(str(live_path(settings.store)))
    scratch = ox.Store()
    scratch.bulk_extend(q for q in store if q.graph_name.value != f"{BASE}graph/bridges")
    expected = sim.similarity_quads(scratch, URIS)
    got = {q for q in store.quads_for_pattern(None, None, None, ox.NamedNode(f"{BASE}graph/bridges"))}
    assert {str(q) for q in got} == {str(q) for q in expected}, "graph/bridges differs from a computation from scratch"
    assert after != before


def test_a_newer_export_that_replaces_fiches_is_compacted_while_the_shortlists_are_computed(built_store, tmp_path,
                                                                                           monkeypatch):
    """Replaced fiche graphs are loaded after the old ones are dropped (ExportLoad.finish), so the store is not
    compacted early: the bridges job compacts it (a large import here) while it loads the new mappings and
    computes the shortlists; graph/bridges is exactly a computation from scratch."""
    import cqpm_graph.fc.importer as importer_mod
    from cqpm_graph.bridges import similarity as sim
    settings = copy_store(built_store, tmp_path / "store")
    import_export(settings, CSV_EXPORT, validate=False)
    monkeypatch.setattr(importer_mod, "COMPACT_FROM", 1)
    said: list[str] = []
    report = import_export(settings, _newer_export(tmp_path), validate=False, progress=said.append)
    assert (report.replaced, report.unchanged) == (2, 7)
    compactions = [m for m in said if "base compactée" in m]
    assert len(compactions) == 1 and "pendant les listes" in compactions[0]
    monkeypatch.undo()
    store = ox.Store.read_only(str(live_path(settings.store)))
    scratch = ox.Store()
    scratch.bulk_extend(q for q in store if q.graph_name.value != f"{BASE}graph/bridges")
    expected = sim.similarity_quads(scratch, URIS)
    got = store.quads_for_pattern(None, None, None, ox.NamedNode(f"{BASE}graph/bridges"))
    assert {str(q) for q in got} == {str(q) for q in expected}, "graph/bridges differs from a computation from scratch"
