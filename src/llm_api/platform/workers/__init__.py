"""workerd only: with src/entry.py the only code that touches js, pyodide or workers."""
