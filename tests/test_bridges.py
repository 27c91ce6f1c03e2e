"""Bridges between certifications and gap analysis, on the real built graph (5 seed fiches, ROME, NSF)
and on the real France Compétences extract (lineage, levels, RS fiches)."""
from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from cqpm_graph.bridges import Bridges, HeldBlocksError, StoreRunner, UnknownCertificationError, WEIGHTS
from cqpm_graph.bridges import similarity as sim
from cqpm_graph.bridges.runner import render_with_lists
from cqpm_graph.config import Settings
from cqpm_graph.queries import QueryParameterError, load_catalogue
from cqpm_graph.store import new_build, open_store
from cqpm_graph.uris import URIScheme

REFERENTIEL = "CQPM-management-d-equipe-s-autonome-s"
SEEDS = ["RNCP28229", "RNCP19453", "RNCP28246", REFERENTIEL, "RNCP28242"]
HERE = Path(__file__).resolve().parent
FC_EXTRACT = next((p for p in (HERE / "fixtures" / "fc" / "export-fiches-csv-2024-02-22.zip",
                               HERE.parent.parent / "shared" / "reference" / "france-competences"
                               / "export-fiches-csv-2024-02-22.zip") if p.exists()), None)


def _with_bridges_graph(quads: list[ox.Quad], store: ox.Store, uris: URIScheme) -> None:
    store.bulk_extend(quads)
    if not store.contains_named_graph(ox.NamedNode(str(uris.graph("bridges")))):
        store.bulk_extend(sim.similarity_quads(store, uris))


@pytest.fixture(scope="module")
def bridges_settings(built_store, tmp_path_factory):
    """Settings of a store holding the real build plus ``graph/bridges`` (computed here while the build
    does not compute it yet)."""
    uris = URIScheme(built_store.base_uri)
    source = open_store(built_store)
    if source.contains_named_graph(ox.NamedNode(str(uris.graph("bridges")))):
        return built_store
    quads = list(source.quads_for_pattern(None, None, None, None))
    settings = Settings(store=tmp_path_factory.mktemp("bridges-store"), base_uri=built_store.base_uri)
    with new_build(settings.store) as store:
        _with_bridges_graph(quads, store, uris)
        del store  # closed before new_build moves it in
    return settings


@pytest.fixture(scope="module")
def bridges(bridges_settings):
    return Bridges.from_store(open_store(bridges_settings))


@pytest.fixture(scope="module")
def fc_bridges(built_store):
    """The seeds plus the 9 fiches of the real France Compétences extract, in memory."""
    if FC_EXTRACT is None:
        pytest.skip("France Compétences extract not found")
    from cqpm_graph.fc.importer import load_export

    uris = URIScheme(built_store.base_uri)
    store = ox.Store()
    store.bulk_extend(list(open_store(built_store).quads_for_pattern(None, None, None, None)))
    load_export(store, uris, FC_EXTRACT)
    for g in [g for g in store.named_graphs() if g.value == str(uris.graph("bridges"))]:
        store.remove_graph(g)  # recompute with the imported fiches
    store.bulk_extend(sim.similarity_quads(store, uris))
    return Bridges.from_store(store)


def _cli(command, *args, settings):
    return CliRunner().invoke(command, [*args, "--store", str(settings.store)], catch_exceptions=False)


# -- bridges -------------------------------------------------------------------------------------------

def test_rncp28229_ranks_rncp19453_first_with_both_identical_blocs(bridges):
    result = bridges.bridges("RNCP28229")
    first = result.bridges[0]
    assert first.certification == "RNCP19453"
    pairs = {(e["source"], e["target"]): e for e in first.evidence if e["kind"] == "block"}
    assert set(pairs) == {("RNCP28229BC01", "RNCP19453BC01"), ("RNCP28229BC03", "RNCP19453BC03")}
    assert pairs[("RNCP28229BC01", "RNCP19453BC01")]["targetTitle"] == "L'animation technique d'une équipe de production"
    assert "identical-title" in pairs[("RNCP28229BC03", "RNCP19453BC03")]["methods"]
    assert first.signals["block"] == pytest.approx(2 / 3, abs=1e-4)
    # the blocs dominate: the runner-up has no bloc in common
    assert all(b.signals["block"] == 0 for b in result.bridges[1:])
    assert first.score > 2 * result.bridges[1].score


def test_rome_evidence_as_applicable(bridges):
    # RNCP28229 is in domaine H25, RNCP19453 in H29: no shared fiche or domaine is claimed, only the
    # savoir-faire items their ROME fiches share
    first = bridges.bridges("RNCP28229").bridges[0]
    rome = [e for e in first.evidence if e["kind"] == "rome"]
    assert rome and {e["relation"] for e in rome} == {"shared-savoir-faire"}
    assert all(0 < e["shared"] <= e["of"] for e in rome)
    # RNCP28246 (H2903) and RNCP19453 (H2903 … H2907): same fiche, and same domaine H29
    to_19453 = next(b for b in bridges.bridges("RNCP28246").bridges if b.certification == "RNCP19453")
    rome = [e for e in to_19453.evidence if e["kind"] == "rome"]
    assert {"relation": "same-fiche", "source": "H2903", "target": "H2903"}.items() <= next(
        e for e in rome if e["relation"] == "same-fiche").items()
    assert any(e["relation"] == "same-domaine" and e["domaine"] == "H29" for e in rome)
    assert to_19453.signals["rome"] == 1.0


def test_nsf_evidence(bridges):
    result = bridges.bridges("RNCP28229")
    by_id = {b.certification: b for b in result.bridges}
    nsf = {(e["source"], e["target"]): e["relation"] for e in by_id["RNCP28246"].evidence if e["kind"] == "nsf"}
    assert nsf[("200", "200u")] == "narrower"      # 200 is the parent of 200u
    assert nsf[("200", "201")] == "same-group"     # both in group 20
    assert by_id["RNCP28246"].signals["nsf"] == 0.75


@pytest.mark.parametrize("cert", SEEDS)
def test_every_certification_gets_an_answer(bridges, cert):
    result = bridges.bridges(cert)
    assert result.certification == cert
    assert result.bridges, f"{cert} has no bridge"
    assert cert not in {b.certification for b in result.bridges}
    for b in result.bridges:
        assert 0.0 < b.score <= 1.0
        assert b.evidence and all(e["kind"] in WEIGHTS for e in b.evidence)


def test_referentiel_takes_part(bridges):
    # the référentiel has no RNCP number, no blocs: its capacities carry it
    result = bridges.bridges(REFERENTIEL)
    assert result.bridges[0].certification == "RNCP28229"
    caps = [e for e in result.bridges[0].evidence if e["kind"] == "capacity"]
    assert any(e["source"] == f"{REFERENTIEL}-C3" and e["target"] == "RNCP28229-C10"
               and e["predicate"] == "skos:closeMatch" for e in caps)
    assert REFERENTIEL in {b.certification for b in bridges.bridges("RNCP28229").bridges}


def test_ordering_is_deterministic(bridges):
    for cert in SEEDS:
        a, b = bridges.bridges(cert, top=None), bridges.bridges(cert, top=None)
        assert a.to_dict() == b.to_dict()
        keys = [(-x.score, x.certification) for x in a.bridges]
        assert keys == sorted(keys)


def test_top_and_identifier_case(bridges):
    assert [b.certification for b in bridges.bridges("rncp28229", top=1).bridges] == ["RNCP19453"]


def test_held_blocks_restrict_the_evidence(bridges):
    result = bridges.bridges("RNCP28229", held_blocks=["BC01"])
    first = result.bridges[0]
    assert {(e["source"], e["target"]) for e in first.evidence if e["kind"] == "block"} == {
        ("RNCP28229BC01", "RNCP19453BC01")}
    assert all(e["source"].startswith("RNCP28229-C") and int(e["source"].rsplit("C", 1)[1]) <= 5
               for e in first.evidence if e["kind"] == "capacity")
    with pytest.raises(HeldBlocksError, match="BC07"):
        bridges.bridges("RNCP28229", held_blocks=["BC07"])


def test_unknown_certification(bridges):
    with pytest.raises(UnknownCertificationError, match="RNCP99999"):
        bridges.bridges("RNCP99999")
    with pytest.raises(UnknownCertificationError, match="pas-un-code"):
        bridges.bridges("pas-un-code")


# -- gap -------------------------------------------------------------------------------------------------

def test_gap_rncp28229_to_rncp19453(bridges):
    report = bridges.gap("RNCP28229", "RNCP19453")
    status = {b.block: b for b in report.blocks}
    assert list(status) == ["RNCP19453BC01", "RNCP19453BC02", "RNCP19453BC03"]
    for code, held in (("RNCP19453BC01", "RNCP28229BC01"), ("RNCP19453BC03", "RNCP28229BC03")):
        assert status[code].status == "covered"
        assert any(e["kind"] == "block" and e["source"] == held for e in status[code].evidence)
        assert all(c["status"] == "covered" for c in status[code].capacities)
    maintenance = status["RNCP19453BC02"]
    assert maintenance.status in ("missing", "partial")
    assert [c["code"] for c in maintenance.capacities] == ["C4", "C5"]
    assert "maintenance" in maintenance.title


def test_gap_held_blocks_change_the_statuses(bridges):
    full = {b.block: b.status for b in bridges.gap("RNCP28229", "RNCP19453").blocks}
    only_bc01 = {b.block: b.status for b in bridges.gap("RNCP28229", "RNCP19453", held_blocks=["RNCP28229BC01"]).blocks}
    assert only_bc01["RNCP19453BC01"] == "covered"
    assert only_bc01["RNCP19453BC03"] != "covered" and full["RNCP19453BC03"] == "covered"
    only_bc03 = {b.block: b.status for b in bridges.gap("RNCP28229", "RNCP19453", held_blocks=["BC03"]).blocks}
    assert only_bc03["RNCP19453BC01"] != "covered" and only_bc03["RNCP19453BC03"] == "covered"


def test_gap_to_a_target_without_blocs_is_one_pseudo_bloc(bridges):
    report = bridges.gap("RNCP28229", REFERENTIEL)
    assert len(report.blocks) == 1
    pseudo = report.blocks[0]
    assert pseudo.block == REFERENTIEL and pseudo.pseudo
    assert len(pseudo.capacities) == 10
    by_code = {c["code"]: c["status"] for c in pseudo.capacities}
    assert by_code["C3"] == "covered"      # closeMatch with RNCP28229-C10
    assert by_code["C8"] == "partial"      # relatedMatch with RNCP28229-C4
    assert pseudo.status == "partial"
    assert any(e["kind"] == "capacity" and e["target"] == f"{REFERENTIEL}-C3" for e in pseudo.evidence)


def test_gap_from_the_referentiel(bridges):
    report = bridges.gap(REFERENTIEL, "RNCP28229")
    assert [b.block for b in report.blocks] == ["RNCP28229BC01", "RNCP28229BC02", "RNCP28229BC03"]
    with pytest.raises(HeldBlocksError):
        bridges.gap(REFERENTIEL, "RNCP28229", held_blocks=["BC01"])


def test_gap_names_every_unknown_certification(bridges):
    with pytest.raises(UnknownCertificationError) as info:
        bridges.gap("RNCP99998", "RNCP99999")
    assert info.value.identifiers == ["RNCP99998", "RNCP99999"]


# -- command line ------------------------------------------------------------------------------------------

def test_cli_bridges_json_shape(bridges_settings):
    from cqpm_graph.cli.bridges import command

    res = _cli(command, "RNCP28229", "--top", "2", "--format", "json", settings=bridges_settings)
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert set(data) == {"certification", "bridges"} and data["certification"] == "RNCP28229"
    assert len(data["bridges"]) == 2
    for b in data["bridges"]:
        assert set(b) == {"certification", "score", "evidence"}
        assert isinstance(b["score"], float) and 0 <= b["score"] <= 1
        assert all(e["kind"] in ("block", "capacity", "rome", "nsf", "lineage", "level") for e in b["evidence"])
    assert data["bridges"][0]["certification"] == "RNCP19453"


def test_cli_bridges_table(bridges_settings):
    from cqpm_graph.cli.bridges import command

    res = _cli(command, "RNCP28229", settings=bridges_settings)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("Passerelles depuis RNCP28229")
    assert lines[1].split()[:3] == ["rang", "certification", "score"]
    assert lines[3].split()[:2] == ["1", "RNCP19453"]
    assert "bloc RNCP28229BC01 ≡ RNCP19453BC01" in res.output


@pytest.mark.parametrize("cert", SEEDS)
def test_cli_bridges_for_every_certification(bridges_settings, cert):
    from cqpm_graph.cli.bridges import command

    res = _cli(command, cert, "--format", "json", settings=bridges_settings)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["certification"] == cert


def test_cli_unknown_certification_exits_2(bridges_settings):
    from cqpm_graph.cli.bridges import command
    from cqpm_graph.cli.gap import command as gap

    res = CliRunner().invoke(command, ["RNCP99999", "--store", str(bridges_settings.store)])
    assert res.exit_code == 2
    assert "RNCP99999" in res.output
    res = CliRunner().invoke(gap, ["--from", "RNCP28229", "--to", "RS424242", "--store", str(bridges_settings.store)])
    assert res.exit_code == 2
    assert "RS424242" in res.output and "RNCP28229" not in res.output.split("unknown certification:")[1]


def test_cli_bad_held_bloc_exits_2(bridges_settings):
    from cqpm_graph.cli.gap import command

    res = CliRunner().invoke(command, ["--from", "RNCP28229", "--to", "RNCP19453", "--blocks", "BC01,BC09",
                                       "--store", str(bridges_settings.store)])
    assert res.exit_code == 2
    assert "BC09" in res.output and "RNCP28229BC01" in res.output


def test_cli_without_a_store(tmp_path):
    from cqpm_graph.cli.bridges import command

    res = CliRunner().invoke(command, ["RNCP28229", "--store", str(tmp_path / "none")])
    assert res.exit_code == 1 and "cqpm-graph build" in res.output


def test_cli_gap_json_shape(bridges_settings):
    from cqpm_graph.cli.gap import command

    res = _cli(command, "--from", "RNCP28229", "--to", "RNCP19453", "--format", "json", settings=bridges_settings)
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert set(data) == {"from", "to", "blocks"} and (data["from"], data["to"]) == ("RNCP28229", "RNCP19453")
    for b in data["blocks"]:
        assert set(b) == {"block", "status", "capacities", "evidence"}
        assert b["status"] in ("covered", "partial", "missing")
    assert {b["block"]: b["status"] for b in data["blocks"]}["RNCP19453BC01"] == "covered"

    res = _cli(command, "--from", "RNCP28229", "--to", "RNCP19453", "--blocks", "BC01", "--format", "json",
               settings=bridges_settings)
    assert {b["block"]: b["status"] for b in json.loads(res.output)["blocks"]}["RNCP19453BC03"] != "covered"


def test_cli_gap_table(bridges_settings):
    from cqpm_graph.cli.gap import command

    res = _cli(command, "--from", "RNCP28229", "--to", "RNCP19453", settings=bridges_settings)
    assert res.exit_code == 0, res.output
    assert "RNCP19453BC01  [covered]" in res.output
    assert "RNCP19453BC02  [missing]" in res.output or "RNCP19453BC02  [partial]" in res.output


def test_cli_sssom_export_parses_with_sssom(bridges_settings, tmp_path):
    parsers = pytest.importorskip("sssom.parsers")
    from cqpm_graph.cli.bridges import command

    path = tmp_path / "bridges.sssom.tsv"
    res = _cli(command, "--sssom", str(path), settings=bridges_settings)
    assert res.exit_code == 0, res.output
    msdf = parsers.parse_sssom_table(str(path))
    df = msdf.df
    assert len(df) >= 3
    assert set(df["predicate_id"]) <= {"skos:exactMatch", "skos:closeMatch", "skos:relatedMatch"}
    # blocs titled identically are found in the fiches, not stored; the capacity mappings are, every column filled
    assert ("capacite:CQPM-management-d-equipe-s-autonome-s-C3", "capacite:RNCP28229-C10") in set(
        zip(df["subject_id"], df["object_id"]))
    assert df["similarity_score"].between(0, 1).all()
    assert set(df["mapping_justification"]) <= {"semapv:LexicalMatching", "semapv:LexicalSimilarityThresholdMatching"}
    assert set(df["similarity_measure"]) <= {"tfidf-cosine", "normalised-title", "same-capacities"}
    assert df["mapping_tool"].str.startswith("cqpm-graph").all()
    assert msdf.metadata["mapping_set_id"].endswith("/graph/bridges")
    assert msdf.metadata["license"].startswith("https://www.etalab.gouv.fr/")


# -- the France Compétences extract: lineage, levels, RS fiches ---------------------------------------------------

def test_lineage_chain(fc_bridges):
    result = fc_bridges.bridges("RNCP4049", top=None)
    by_id = {b.certification: b for b in result.bridges}
    assert set(by_id) >= {"RNCP1197", "RNCP22094", "RNCP28155", "RNCP30271"}
    lineage = {c: next(e for e in b.evidence if e["kind"] == "lineage") for c, b in by_id.items()
               if any(e["kind"] == "lineage" for e in b.evidence)}
    assert lineage["RNCP1197"] == {"kind": "lineage", "relation": "replaces", "distance": 1}
    assert lineage["RNCP22094"] == {"kind": "lineage", "relation": "is-replaced-by", "distance": 1}
    assert lineage["RNCP30271"]["distance"] == 3
    # direct successors rank above more distant ones; same ROME codes, same NSF, same level
    assert result.bridges[0].certification in ("RNCP1197", "RNCP22094")
    level = next(e for e in by_id["RNCP22094"].evidence if e["kind"] == "level")
    assert level == {"kind": "level", "move": "across", "source": "NIV6", "target": "NIV6"}


def test_rncp_to_rs_replacement(fc_bridges):
    result = fc_bridges.bridges("RNCP19468")
    assert result.bridges[0].certification == "RS6117"
    kinds = {e["kind"] for e in result.bridges[0].evidence}
    assert "lineage" in kinds and "nsf" in kinds
    # an RS fiche without blocs nor capacities: an empty but well-formed gap
    report = fc_bridges.gap("RNCP19468", "RS6117")
    assert report.to_dict() == {"from": "RNCP19468", "to": "RS6117", "blocks": []}


def test_fiche_with_nothing_in_common_gets_an_empty_answer(fc_bridges):
    result = fc_bridges.bridges("RS5000")
    assert result.to_dict() == {"certification": "RS5000", "bridges": []}


def test_gap_to_blocs_without_capacities(fc_bridges):
    report = fc_bridges.gap("RNCP28229", "RNCP509")
    assert len(report.blocks) == 6 and all(b.status == "missing" for b in report.blocks)


# -- build-time similarity ------------------------------------------------------------------------------------

def test_title_key():
    assert sim.title_key("L'animation technique d'une équipe de production") == \
        sim.title_key("Animation technique d’une EQUIPE de production") == "animation technique equipe production"
    assert sim.title_key("UP1 : Vérification d’une installation") == "verification installation"
    assert sim.title_key("Bloc 2 - La maintenance de niveau 2") == "maintenance niveau 2"
    assert sim.title_key("de la") == ""


def test_french_terms():
    assert sim.french_terms("Identifier les sources d'amélioration") == [
        "identifi", "sourc", "amelior", "identifi sourc", "sourc amelior"]
    assert sim.french_terms("améliorer") == sim.french_terms("amélioration")[:1]


def test_equivalent_blocs_by_title_and_by_capacities():
    blocs = {
        "b/A1": ("c/A", "L'audit QSE", {"k/A1"}),
        "b/B1": ("c/B", "Audit QSE", {"k/B9"}),
        "b/B2": ("c/B", "Autre intitulé", {"k/B1", "k/B2"}),
        "b/C1": ("c/C", "Encore un autre", {"k/C1", "k/C2"}),
        "b/A2": ("c/A", "L'audit QSE", {"k/A2"}),  # same certification as b/A1: not a bridge
    }
    labels = {"k/A1": "x", "k/B9": "y", "k/B1": "Réaliser un audit", "k/B2": "Rédiger le rapport",
              "k/C1": "rédiger le RAPPORT", "k/C2": "réaliser un audit", "k/A2": "z"}
    pairs = sim.equivalent_blocs(blocs, labels)
    assert pairs == {("b/A1", "b/B1"): "normalised-title", ("b/A2", "b/B1"): "normalised-title",
                     ("b/B2", "b/C1"): "same-capacities"}


def test_similarity_quads_on_the_seeds(bridges_settings):
    store = open_store(bridges_settings)
    uris = URIScheme(bridges_settings.base_uri)
    quads = sim.similarity_quads(store, uris)
    assert quads and all(q.graph_name.value == str(uris.graph("bridges")) for q in quads)
    skos = {(q.subject.value.rsplit("/", 1)[1], q.predicate.value.rsplit("#", 1)[1], q.object.value.rsplit("/", 1)[1])
            for q in quads if q.predicate.value.startswith(sim.SKOS)}
    # blocs titled identically (BC01, BC03) are not stored: bridge-blocks reads them in the fiches
    assert not any(p == "exactMatch" for _s, p, _o in skos)
    assert (f"{REFERENTIEL}-C3", "closeMatch", "RNCP28229-C10") in skos
    shortlists = {q.subject.value.rsplit("/", 1)[1] for q in quads if q.predicate.value == sim.CQPM + "shortlistOf"}
    assert set(SEEDS) <= shortlists
    assert all(p in ("exactMatch", "closeMatch", "relatedMatch") for _s, p, _o in skos)
    # reading a store that already has graph/bridges gives the same result
    assert sorted(map(str, quads)) == sorted(map(str, sim.similarity_quads(store, uris)))


def test_shortlists_give_the_same_answers_as_on_demand(bridges, fc_bridges):
    for engine, certs in ((bridges, SEEDS), (fc_bridges, SEEDS + ["RNCP4049", "RNCP19468", "RS6117", "RS5000"])):
        on_demand = Bridges(engine.run, use_shortlists=False)
        for cert in certs:
            assert engine.shortlist(cert) is not None, cert
            for top in (1, 3, 10, None):
                assert engine.shortlist(cert).answers(top), (cert, top)  # the shortlist path is taken
                assert engine.bridges(cert, top=top).to_dict() == on_demand.bridges(cert, top=top).to_dict(), (cert, top)


def test_shortlist_of_rncp28229(bridges):
    short = bridges.shortlist("RNCP28229")
    assert short.entries[0][0] == "RNCP19453" and short.entries[0][1] == pytest.approx(2 / 3, abs=1e-6)
    # few candidates: the ROME and NSF nominations are in the shortlist too, so any top is answered
    assert short.count < 10 and short.nominated is not None and len(short.entries) == short.nominated
    assert short.evidenced >= {"RNCP19453", REFERENTIEL} and short.answers(10) and short.answers(None)


def test_load_similarity_keeps_an_up_to_date_graph(built_store):
    uris = URIScheme(built_store.base_uri)
    store = ox.Store()
    store.bulk_extend(list(open_store(built_store).quads_for_pattern(None, None, None, None)))
    graph = ox.NamedNode(str(uris.graph("bridges")))
    # the build's graph/bridges is up to date although the build wrote graph/build after it
    assert sim.load_similarity(store, uris) == 0
    first = sim.load_similarity(store, uris, force=True)
    assert first > 0 and sim.stored_fingerprint(store, uris) == sim.input_fingerprint(store, uris)
    # graph/build (written after graph/bridges by a build) does not change it: an import and the build
    # after it compute the same fingerprint
    build_graph = ox.NamedNode(str(uris.graph("build")))
    fingerprint = sim.input_fingerprint(store, uris)
    store.remove_graph(build_graph)
    assert sim.input_fingerprint(store, uris) == fingerprint
    before = sorted(map(str, store.quads_for_pattern(None, None, None, graph)))
    assert sim.load_similarity(store, uris) == 0  # same input: kept as it is
    assert sorted(map(str, store.quads_for_pattern(None, None, None, graph))) == before
    # another source document (a changed fiche or export): computed again
    store.add(ox.Quad(ox.NamedNode(f"{uris.base}source/x"), ox.NamedNode(sim.CQPM + "sha256"), ox.Literal("0" * 64),
                      ox.NamedNode(f"{uris.base}graph/x")))
    assert sim.load_similarity(store, uris) == first
    assert sorted(map(str, store.quads_for_pattern(None, None, None, graph))) != before  # new fingerprint


def _corpus_key(corpus):
    return (corpus.certs, {b: (c, t, sorted(k)) for b, (c, t, k) in corpus.blocs.items()}, corpus.capacities,
            corpus.lineage, corpus.rome, corpus.rome_domains, corpus.nsf, corpus.nsf_ancestors)


def test_corpus_from_import_rows_is_the_corpus_read_from_the_store(built_store, tmp_path):
    """The similarity of an import reads the imported blocs and capacities from their records, the rest from
    the store: the same corpus as reading everything back — on the seeds with the real extract, and with a
    synthetic export whose fiche RNCP19453 is also a seed (two sources for one certification)."""
    from dataclasses import replace

    from cqpm_graph.bridges.corpus import CorpusRows, read_corpus
    from cqpm_graph.fc.importer import load_export
    from cqpm_graph.fc.synthetic import generate_fiches, write_xml_export

    if FC_EXTRACT is None:
        pytest.skip("France Compétences extract not found")
    uris = URIScheme(built_store.base_uri)
    fiches = generate_fiches(40, seed=3)
    first = next(f for f in fiches if f.blocs)
    fiches[fiches.index(first)] = replace(first, number="RNCP19453", blocs=[
        replace(b, code=f"RNCP19453BC{i:02d}") for i, b in enumerate(first.blocs, 1)], replaces=[], replaced_by=[])
    synthetic = write_xml_export(fiches, tmp_path)
    for exports in ([FC_EXTRACT], [FC_EXTRACT, synthetic]):
        store = ox.Store()
        store.bulk_extend(list(open_store(built_store).quads_for_pattern(None, None, None, None)))
        rows = CorpusRows()
        for export in exports:
            load_export(store, uris, export, rows=rows)
        assert len(rows.graphs) == sum(1 for g in store.named_graphs() if "/graph/france-competences/" in g.value)
        from_rows, from_store = read_corpus(store, uris, rows), read_corpus(store)
        assert _corpus_key(from_rows) == _corpus_key(from_store)
        assert len(from_store.blocs) > 11  # the extract's blocs (the CSV export lists no capacities)
    assert len(from_store.capacities) > 45 + 100  # the synthetic export's capacities
    c1 = f"{uris.base}capacite/RNCP19453-C1"
    prefs = {q.object.value for q in store.quads_for_pattern(ox.NamedNode(c1), ox.NamedNode(sim.SKOS + "prefLabel"), None)}
    words = from_store.capacities[c1][1]
    # the seed's wording and the export's are both kept, the smaller prefLabel first, the others sorted
    assert len(prefs) == 2 and prefs <= set(words) and words[0] == min(prefs) and words[1:] == sorted(words[1:])


def test_tfidf_matrix_is_scikit_learns():
    np = pytest.importorskip("numpy")
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["Identifier les sources d'amélioration", "Proposer des solutions d'amélioration",
             "Animer l'équipe de production et l'équipe de maintenance", "de la", "Réaliser la maintenance"]
    ours = sim.tfidf_matrix(texts)
    theirs = TfidfVectorizer(analyzer=sim.french_terms, sublinear_tf=True).fit_transform(texts)
    assert np.abs((ours @ ours.T).toarray() - (theirs @ theirs.T).toarray()).max() < 1e-12


# -- queries and runners -----------------------------------------------------------------------------------------

def test_bridge_queries_are_in_the_catalogue_with_headers():
    catalogue = load_catalogue()
    names = ["bridge-blocks", "bridge-capacities", "bridge-certifications", "bridge-level", "bridge-lineage",
             "bridge-mappings", "bridge-nsf", "bridge-nsf-neighbours", "bridge-pair-blocks", "bridge-pair-capacities",
             "bridge-pair-rome", "bridge-rome", "bridge-rome-items", "bridge-shortlist", "gap-blocks"]
    for name in names:
        q = catalogue[name]
        assert q.title and q.description and q.titles.get("en") and q.descriptions.get("en"), name
        if name != "bridge-mappings":
            assert q.param("certification") is not None, name


def test_lists_of_values_and_single_values_agree(bridges_settings):
    runner = StoreRunner(open_store(bridges_settings))
    single = runner("bridge-blocks", {"certification": "RNCP28229", "other": "RNCP19453"})
    listed = runner("bridge-blocks", {"certification": "RNCP28229", "other": ["RNCP19453", "RNCP28246"]})
    key = lambda rows: sorted((r["block"], r["otherBlock"], r["method"]) for r in rows)  # noqa: E731
    assert single and key(single) == key(listed)
    with pytest.raises(QueryParameterError):
        render_with_lists(runner.catalogue["bridge-blocks"], {"certification": "RNCP28229", "other": ["x\" }"]})


@pytest.mark.parametrize("distinct", [1, 2, 13, 1000])
def test_kth_largest_is_the_partition_value(distinct):
    """The shortlists' nomination threshold (walking distinct values from the top, partition after a few
    steps) equals numpy's partition, ties and continuous values alike."""
    import numpy as np
    rng = np.random.default_rng(distinct)
    for size in (1, 30, 200):
        values = np.round(rng.choice(rng.random(distinct), 4000), 6)
        assert sim._kth_largest(values, size) == np.partition(values, len(values) - size)[len(values) - size]


def test_shortlist_text_numbers_as_written_before_the_cache():
    values = [0.0, -0.0, 1, 1.0, 0.5, 2 / 3, 1e-7, 0.1234565, 123456.7]
    assert [sim._NUMS[v] for v in values] == [sim._num(v) for v in values]
    assert sim.Shortlist(1, [("RNCP1", 2 / 3, 0.0, 0, 1.0, 0.5)]).text() == "RNCP1 0.666667 0 0 1 0.5"
