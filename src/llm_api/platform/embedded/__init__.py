"""CPython host only: the embedded llama.cpp model."""
