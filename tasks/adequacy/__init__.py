"""Adequacy: how well each verified row's tests judge (coverage, mutants killed, trivially
wrong programs rejected)."""
