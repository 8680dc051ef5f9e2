"""Derive: the training rows of each final row, one kind at a time (generation,
summarization, repair, translation)."""
