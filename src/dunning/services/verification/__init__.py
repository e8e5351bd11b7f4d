"""Verification: per-message codes (codes) and the public authenticity lookup (lookup)."""
