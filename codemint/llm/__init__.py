"""The LLM layer: an async client for a self-hosted OpenAI-compatible server (vLLM), a request
cache on disk, versioned prompts, and the strategies pipeline stages call.

- `client`: LLMClient (limits, retries, structured output, stats per stage)
- `cache`: RequestCache (SQLite, WAL) and request_key
- `prompts`: render(name, **vars), version(name); templates in prompt_templates/*.txt
- `strategies`: summarize, self_evaluate, propose_inputs, write_input_generator, regenerate, judge
- `health`: check_server(settings) before a run
- `errors`: LLMError and its machine-readable reasons
"""
