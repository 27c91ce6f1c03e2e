"""NQuadsStream: N-Quads text streamed to pyoxigraph's bulk loader in bounded batches, several at once;
drop_graph: a graph removed in bounded transactions."""
from __future__ import annotations

import pyoxigraph as ox
import pytest

from cqpm_graph.fc.mapping import FCMapper
from cqpm_graph.fc.xml_export import read_xml_export
from cqpm_graph.store import NQuadsStream, drop_graph
from test_fc_helpers import URIS, XML_EXPORT


def _texts():
    mapper = FCMapper(URIS, "https://w3id.org/cqpm/id/source/france-competences/x")
    return [mapper.map_nquads(f) for f in read_xml_export(XML_EXPORT)]


@pytest.mark.parametrize("on_disk", [True, False])
@pytest.mark.parametrize("batch, loaders", [(1, 1), (40, 2), (40, 3), (10**6, 2)])
def test_batches_load_the_same_quads_as_one_bulk_load(batch, loaders, on_disk, tmp_path):
    """On disk (RocksDB: concurrent loads ingest their files side by side) and in memory."""
    texts = _texts()
    reference = ox.Store()
    reference.bulk_load("".join(texts).encode(), format=ox.RdfFormat.N_QUADS)  # strict parsing
    store = ox.Store(str(tmp_path / "db")) if on_disk else ox.Store()
    with NQuadsStream(store, batch=batch, loaders=loaders) as stream:
        for text in texts:
            stream.write(text, text.count("\n"))
    assert stream.quads == len(reference) > 500
    assert sorted(map(str, store)) == sorted(map(str, reference))


@pytest.mark.parametrize("ramp, sizes", [(2, [10, 20, 40, 40, 40]), (0, [40] * 5)])
def test_the_first_batches_ramp_up_to_the_batch_size(ramp, sizes):
    """The loaders start on a quarter batch (ramp 2) while the producer writes the next, twice as large."""
    ended = []

    class Recording(NQuadsStream):
        def _end_batch(self):
            if self._out is not None:
                ended.append(self._in_batch)
            super()._end_batch()

    store = ox.Store()
    with Recording(store, batch=40, ramp=ramp) as stream:
        for i in range(sum(sizes)):
            stream.write(f"<http://a/{i}> <http://b> <http://c> <http://g> .\n", 1)
    assert ended == sizes
    assert len(store) == sum(sizes)


def test_a_rejected_text_is_reported_after_the_producer_finishes():
    store = ox.Store()
    with pytest.raises(RuntimeError, match="refusé par pyoxigraph"):
        with NQuadsStream(store, batch=1, lenient=False) as stream:
            stream.write("<http://a> <http://b> <not an iri> <http://g> .\n", 1)
            for _ in range(3):
                stream.write("<http://a> <http://b> <http://c> <http://g> .\n", 1)


def test_cut_lets_the_loads_finish_in_the_background():
    texts = _texts()
    store = ox.Store()
    stream = NQuadsStream(store, batch=100)
    for text in texts:
        stream.write(text, text.count("\n"))
    stream.cut()  # the producer may do something else here
    stream.close()
    assert len(store) == stream.quads


@pytest.mark.parametrize("chunk", [7, 100, 10**6])
def test_drop_graph_removes_exactly_one_graph_whatever_the_chunk(chunk, tmp_path):
    """The fiche graphs of the XML fixture (literals with language tags and datatypes) and blank nodes, on
    disk: the graph dropped is gone, quads and name, the others are untouched."""
    store = ox.Store(str(tmp_path / "db"))
    store.bulk_load("".join(_texts()).encode(), format=ox.RdfFormat.N_QUADS)
    graphs = sorted(store.named_graphs(), key=str)
    victim, kept = graphs[0], graphs[1:]
    for i in range(30):
        store.add(ox.Quad(ox.BlankNode(f"b{i}"), ox.NamedNode("http://example.org/p"), ox.Literal(str(i)), victim))
    expected = sorted(str(q) for q in store if q.graph_name != victim)
    size = sum(1 for _ in store.quads_for_pattern(None, None, None, victim))
    assert size > 7 * 3  # several chunks when chunk is 7
    drop_graph(store, victim, chunk=chunk)
    assert not store.contains_named_graph(victim)
    assert sorted(str(q) for q in store) == expected
    assert sorted(store.named_graphs(), key=str) == kept
    drop_graph(store, victim, chunk=chunk)  # already gone: nothing to do


def test_new_build_refuses_to_move_a_store_still_referenced(tmp_path):
    """RocksDB keeps compacting in the background: a build is moved in only once closed. A caller that keeps
    the store past the block gets a clear error, the half-written build is discarded and the live one kept;
    the real writers (build, import-fc) delete their references."""
    from cqpm_graph.store import live_path, new_build

    quad = ox.Quad(ox.NamedNode("https://example.org/s"), ox.NamedNode("https://example.org/p"),
                   ox.Literal("v"), ox.NamedNode("https://example.org/g"))
    with new_build(tmp_path) as store:
        store.add(quad)
        del store
    live = live_path(tmp_path)
    kept = []
    with pytest.raises(RuntimeError, match=r"\.build-.*still referenced"):
        with new_build(tmp_path, from_live=True) as store:
            store.remove(quad)
            kept.append(store)
    kept.clear()
    assert live_path(tmp_path) == live
    assert list(ox.Store.read_only(str(live))) == [quad]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".build-")] == []
