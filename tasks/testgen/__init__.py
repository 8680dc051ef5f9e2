"""Testgen: test inputs for each sample, offline strategies, the LLM, and feedback rounds that
keep the inputs killing mutants."""
