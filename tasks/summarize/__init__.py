"""Summarize: an instruction for each sample (its docstring, its comment, the LLM, or, for
code with no words of its own, examples written after execute)."""
