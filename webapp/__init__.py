"""The Flask explorer (placeholder)."""
