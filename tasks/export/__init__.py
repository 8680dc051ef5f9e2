"""Export: the sink that writes the dataset (Parquet configs, the dataset card, provenance)."""
