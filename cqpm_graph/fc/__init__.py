"""France Compétences open-data export (CSV and XML): read, map, import."""
