"""Judge (optional, LLM): each final pair scored against written criteria."""
