"""Exact dedup: rows whose normalized code was seen before, across every shard."""
