"""Bridges between certifications and gap analysis.

* :class:`Bridges` ranks the certifications closest to one held and tells, bloc by bloc, what is left to
  acquire of another (:meth:`Bridges.bridges`, :meth:`Bridges.gap`); it runs the named queries
  ``queries/bridge-*.rq`` and ``queries/gap-blocks.rq`` through a runner (:mod:`.runner`), on the
  embedded store or on a remote SPARQL endpoint.
* :func:`similarity.load_similarity` computes, at build time, the bloc equivalences, capacity similarities
  and bridge shortlists of the named graph ``graph/bridges`` (kept when its input fingerprint is
  unchanged); :mod:`.sssom` exports the mappings as an SSSOM mapping set.

See ``docs/bridges.md`` for the signals, weights, thresholds and measured quality.
"""
from .core import (KINDS, STATUSES, WEIGHTS, BlockGap, Bridge, Bridges, BridgesResult, CertificationInfo,
                   GapReport, HeldBlocksError, UnknownCertificationError, normalise_id)
from .runner import BackendRunner, EndpointRunner, Runner, StoreRunner

__all__ = [
    "KINDS", "STATUSES", "WEIGHTS", "BlockGap", "Bridge", "Bridges", "BridgesResult", "CertificationInfo",
    "BackendRunner", "EndpointRunner", "GapReport", "HeldBlocksError", "Runner", "StoreRunner", "UnknownCertificationError",
    "normalise_id",
]
