"""CPython host only: `llm-api serve`'s state, server protocol and tuning."""
