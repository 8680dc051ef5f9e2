"""The pipeline's stages, one package each, in pipeline order (flows/registry.py):

ingest, reformat, dedup, summarize, testgen, execute, verify, adequacy, decontaminate,
near_dedup, judge, select, derive, then export writes the dataset.

Each package holds `stage.py` (the Stage class and its Prefect tasks, `shard = shard_task(...)`)
and the helpers only that stage uses.
"""
