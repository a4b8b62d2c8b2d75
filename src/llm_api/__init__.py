"""llm-api: one ASGI app (FastAPI), two hosts (a Cloudflare Python Worker and `llm-api serve`)."""
