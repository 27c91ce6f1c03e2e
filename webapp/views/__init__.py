"""Explorer page views (placeholder)."""
