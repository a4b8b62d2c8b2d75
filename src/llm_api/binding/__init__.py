"""Host-neutral: the AI binding protocol, its result shapes, and what wraps a binding."""
