"""Ingest: source files into one row per top-level function, class method or script."""
