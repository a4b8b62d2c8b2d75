"""CPython host only: remote backends (Workers AI REST, OpenAI-compatible) over aiohttp."""
