"""Select: a diverse subset of the final rows by k-center greedy over embeddings."""
