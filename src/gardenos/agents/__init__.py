"""AI agents: coroutine pools over a durable priority queue in PostgreSQL, LLM and embedding providers,
agent memory and semantic search."""
