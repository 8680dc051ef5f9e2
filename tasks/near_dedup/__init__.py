"""Near-dedup: MinHash clusters of look-alike code keep one row, and near twins (wrappers,
same instruction over other code) keep one."""
