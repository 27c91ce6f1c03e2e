"""Bridges between certifications and gap analysis."""
