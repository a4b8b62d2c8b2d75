"""Where things are in the checkout, for tests wherever they sit in tests/."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: documented Workers AI answers (README.md there names each file's source)
WORKERS_AI_FIXTURES = ROOT / "tests" / "support" / "fixtures" / "workers_ai"
