"""The HTTP API front (`shopmate api`): FastAPI over the engine, storage and limits of Slack."""
