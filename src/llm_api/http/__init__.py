"""The ASGI edge: one middleware per module, error rendering, dependencies, OpenAPI."""
