"""Curation after verify: near-dedup (minhash), decontamination (decontam), diversity
selection (embed, kcenter) and the dataset export (export). The stages wrapping them live
in `codemint.tasks` (near_dedup, decontaminate, select, export)."""
