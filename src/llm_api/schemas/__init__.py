"""Wire schemas (pydantic only), one module per API family plus shared parts."""
