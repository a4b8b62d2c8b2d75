"""The remote backends of the local host, by the name the design gives them.

``WorkersAIRestBackend`` calls Workers AI over Cloudflare's REST API (or AI Gateway);
``OpenAICompatibleBackend`` calls any OpenAI-compatible chat completions server.
CPython host only: both use aiohttp (`remote_client`).
"""

from llm_api.platform.remote_openai import OpenAICompatibleBackend
from llm_api.platform.remote_workers_ai import WorkersAIRestBackend

__all__ = ["OpenAICompatibleBackend", "WorkersAIRestBackend"]
