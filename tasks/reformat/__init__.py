"""Reformat: each row into a proper, self-contained sample (methods with the class parts they
need, nested helpers lifted, free names resolved, trivial code dropped), and its helpers."""
