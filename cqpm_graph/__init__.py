"""cqpm-graph: the open knowledge graph of French professional certifications.

The data walks through the modules in this order, once:
``fiche`` (parse the RNCP / CQPM documents) → ``model`` (plain Python records) →
``rome`` / ``nsf`` (reference nomenclatures as SKOS) → ``mapping`` (records to RDF) →
``store`` (embedded pyoxigraph store, atomic builds) → ``shacl`` (validation) →
``queries`` (the named SPARQL catalogue) → ``webapp`` (explorer and SPARQL 1.1 Protocol).
"""
__version__ = "0.1.0"
