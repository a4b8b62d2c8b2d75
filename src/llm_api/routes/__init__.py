"""Thin routers, one module per API family: map services' results to HTTP."""
