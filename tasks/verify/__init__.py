"""Verify: candidates run against the tests; a row is kept when one passes."""
