"""Blueprints of the explorer, one module per kind of page: home (list, search), certification,
nomenclature (ROME, NSF) and sparql (page, stored queries, SPARQL 1.1 Protocol endpoint)."""
