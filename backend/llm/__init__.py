"""The LLM: an OpenAI-compatible chat-completions client with cost tracking, a cache and a budget."""
