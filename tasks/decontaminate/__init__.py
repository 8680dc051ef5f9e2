"""Decontaminate: rows that overlap a benchmark's prompts, solutions or tests are dropped."""
